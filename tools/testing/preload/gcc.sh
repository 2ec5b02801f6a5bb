#!/bin/bash
# SPDX-License-Identifier: MIT
#
# gcc under the preloaded allocator (driver, cc1, as, collect2, ld all
# inherit LD_PRELOAD): compile a generated multi-file C program, link it,
# run it (also preloaded) and check its output.  The object files must be
# identical to the ones compiled without the library.
#
#   tools/testing/preload/gcc.sh /abs/path/libhakmem.so
. "$(dirname "$0")/tap-lib.bash"
tap_init "$@" gcc
tap_plan 8

check_loaded
CC=gcc
command -v $CC >/dev/null || CC=cc
command -v $CC >/dev/null || bail "no C compiler"

src=$TMP/src
mkdir -p "$src" "$TMP/pre" "$TMP/base"

cat >"$src/prog.h" <<'EOF'
#ifndef PROG_H
#define PROG_H
#include <stddef.h>
#include <stdint.h>

struct list {
	struct list *next;
	long value;
	char *label;
};

struct list *list_build(long n);
long list_sum(const struct list *l);
size_t list_label_bytes(const struct list *l);
void list_free(struct list *l);

struct table;
struct table *table_new(size_t buckets);
void table_add(struct table *t, const char *key, long delta);
long table_get(const struct table *t, const char *key);
size_t table_count(const struct table *t);
void table_free(struct table *t);

long gen_sum(void);
char *str_reverse(const char *s);
char *str_repeat(const char *s, int times);
uint32_t str_hash(const char *s);

#define GREETING "hello from a multi-file program"
#endif
EOF

cat >"$src/list.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "prog.h"

struct list *list_build(long n)
{
	struct list *head = NULL;
	char buf[32];

	for (long i = 1; i <= n; i++) {
		struct list *e = malloc(sizeof(*e));

		if (!e)
			abort();
		e->value = i;
		snprintf(buf, sizeof(buf), "item-%ld", i);
		e->label = strdup(buf);
		e->next = head;
		head = e;
	}
	return head;
}

long list_sum(const struct list *l)
{
	long s = 0;

	for (; l; l = l->next)
		s += l->value;
	return s;
}

size_t list_label_bytes(const struct list *l)
{
	size_t n = 0;

	for (; l; l = l->next)
		n += strlen(l->label);
	return n;
}

void list_free(struct list *l)
{
	while (l) {
		struct list *next = l->next;

		free(l->label);
		free(l);
		l = next;
	}
}
EOF

cat >"$src/table.c" <<'EOF'
#include <stdlib.h>
#include <string.h>
#include "prog.h"

struct entry {
	struct entry *next;
	char *key;
	long value;
};

struct table {
	size_t nb, count;
	struct entry **b;
};

struct table *table_new(size_t buckets)
{
	struct table *t = calloc(1, sizeof(*t));

	t->nb = buckets;
	t->b = calloc(buckets, sizeof(*t->b));
	return t;
}

static void grow(struct table *t)
{
	size_t nb = t->nb * 2;
	struct entry **b = calloc(nb, sizeof(*b));

	for (size_t i = 0; i < t->nb; i++) {
		struct entry *e = t->b[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[str_hash(e->key) % nb];
			b[str_hash(e->key) % nb] = e;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

void table_add(struct table *t, const char *key, long delta)
{
	struct entry **pp = &t->b[str_hash(key) % t->nb];

	for (struct entry *e = *pp; e; e = e->next)
		if (!strcmp(e->key, key)) {
			e->value += delta;
			return;
		}
	struct entry *e = malloc(sizeof(*e));
	e->key = strdup(key);
	e->value = delta;
	e->next = *pp;
	*pp = e;
	if (++t->count > t->nb * 2)
		grow(t);
}

long table_get(const struct table *t, const char *key)
{
	for (struct entry *e = t->b[str_hash(key) % t->nb]; e; e = e->next)
		if (!strcmp(e->key, key))
			return e->value;
	return -1;
}

size_t table_count(const struct table *t)
{
	return t->count;
}

void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nb; i++) {
		struct entry *e = t->b[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e->key);
			free(e);
		}
	}
	free(t->b);
	free(t);
}
EOF

cat >"$src/strutil.c" <<'EOF'
#include <stdlib.h>
#include <string.h>
#include "prog.h"

char *str_reverse(const char *s)
{
	size_t n = strlen(s);
	char *r = malloc(n + 1);

	for (size_t i = 0; i < n; i++)
		r[i] = s[n - 1 - i];
	r[n] = 0;
	return r;
}

char *str_repeat(const char *s, int times)
{
	size_t n = strlen(s), cap = 1, len = 0;
	char *r = malloc(cap);

	for (int i = 0; i < times; i++) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 3 / 2;
			r = realloc(r, cap);
		}
		memcpy(r + len, s, n);
		len += n;
	}
	r[len] = 0;
	return r;
}

uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}
EOF

# A large generated file keeps cc1 busy: 2000 functions and a table.
awk 'BEGIN {
	print "#include \"prog.h\""
	for (i = 0; i < 2000; i++)
		printf "static long f%d(long x) { long s = x; for (int k = 0; k < %d; k++) s += (s ^ k) & 7; return s - s + %d * 3 + 1; }\n", i, i % 5 + 1, i
	print "static long (*const tab[])(long) = {"
	for (i = 0; i < 2000; i++) printf "\tf%d,\n", i
	print "};"
	print "long gen_sum(void) { long s = 0; for (unsigned i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) s += tab[i]((long)i); return s; }"
}' >"$src/gen.c"

cat >"$src/main.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "prog.h"

int main(int argc, char **argv)
{
	struct list *l = list_build(10000);
	struct table *t = table_new(8);
	char key[32], *rev, *rep;
	Dl_info info;
	void *fn;

	printf("%s\n", GREETING);
	printf("gen %ld\n", gen_sum());
	printf("list sum %ld labels %zu\n", list_sum(l), list_label_bytes(l));
	list_free(l);

	for (long i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "k%ld", i % 5003);
		table_add(t, key, i % 7);
	}
	printf("table count %zu k42 %ld k5002 %ld\n", table_count(t),
	       table_get(t, "k42"), table_get(t, "k5002"));
	table_free(t);

	rev = str_reverse(GREETING);
	rep = str_repeat("abc", 20000);
	printf("reverse %s\nrepeat %zu hash %08x\n", rev, strlen(rep), str_hash(rep));
	free(rev);
	free(rep);

	/* Where this program's malloc comes from (argv[1]: file to write it to). */
	fn = dlsym(RTLD_DEFAULT, "malloc");
	if (argc > 1) {
		FILE *f = fopen(argv[1], "w");

		if (f) {
			fprintf(f, "%s\n", fn && dladdr(fn, &info) && info.dli_fname ?
				info.dli_fname : "unknown");
			fclose(f);
		}
	}
	return 0;
}
EOF

# Compile each file separately and link (-ldl for dladdr on older glibc).
build() {	# build OUTDIR [preload]
	local out=$1 pre=${2:-} f rc=0
	for f in main list table strutil gen; do
		if [ -n "$pre" ]; then
			run_pre $CC -O2 -Wall -Wextra -c "$src/$f.c" -o "$out/$f.o" || rc=1
		else
			$CC -O2 -Wall -Wextra -c "$src/$f.c" -o "$out/$f.o" || rc=1
		fi
	done
	if [ -n "$pre" ]; then
		run_pre $CC -o "$out/prog" "$out"/main.o "$out"/list.o "$out"/table.o "$out"/strutil.o "$out"/gen.o -ldl || rc=1
	else
		$CC -o "$out/prog" "$out"/main.o "$out"/list.o "$out"/table.o "$out"/strutil.o "$out"/gen.o -ldl || rc=1
	fi
	return $rc
}

build "$TMP/base" >"$TMP/base.log" 2>&1 || bail "build without the library fails: $(tail -n 5 "$TMP/base.log")"

build "$TMP/pre" pre >"$TMP/pre.log" 2>&1
st=$?
if [ $st -eq 0 ] && [ -x "$TMP/pre/prog" ]; then
	ok "gcc compiles 5 files and links them"
else
	not_ok "gcc compiles 5 files and links them" "build log:"
	diag_file "$TMP/pre.log"
fi
if [ -s "$TMP/pre.log" ]; then
	not_ok "no compiler diagnostics" "output:"
	diag_file "$TMP/pre.log"
else
	ok "no compiler diagnostics"
fi
same=0
for f in main list table strutil gen; do
	cmp -s "$TMP/base/$f.o" "$TMP/pre/$f.o" || { same=1; diag "$f.o differs"; }
done
result "object files identical to those built without the library" $same

# Expected output, computed here.
labels=0
for i in $(seq 1 10000); do labels=$((labels + 5 + ${#i})); done
k42=0; k5002=0
for ((i = 42; i < 100000; i += 5003)); do k42=$((k42 + i % 7)); done
for ((i = 5002; i < 100000; i += 5003)); do k5002=$((k5002 + i % 7)); done
rev=$(echo "hello from a multi-file program" | rev)
h=2166136261
for ((r = 0; r < 20000; r++)); do
	for c in 97 98 99; do h=$(( ((h ^ c) * 16777619) & 0xffffffff )); done
done
hash=$(printf '%08x' $h)
cat >"$TMP/expected" <<EOF
hello from a multi-file program
gen $((3 * 1999 * 2000 / 2 + 2000))
list sum $((10000 * 10001 / 2)) labels $labels
table count 5003 k42 $k42 k5002 $k5002
reverse $rev
repeat 60000 hash $hash
EOF

if [ -x "$TMP/pre/prog" ]; then
	run_pre "$TMP/pre/prog" "$TMP/origin" >"$TMP/run.out" 2>"$TMP/run.err"
	st=$?
else
	st=127
fi
result "the program runs under the library" $st "$(describe_status $st); $(tail -n 3 "$TMP/run.err" 2>/dev/null)"
if cmp -s "$TMP/expected" "$TMP/run.out"; then
	ok "its output is the expected one"
else
	not_ok "its output is the expected one" "diff expected got:"
	diff "$TMP/expected" "$TMP/run.out" | head -n 20 | sed 's/^/#   /'
fi
if [ "$(cat "$TMP/origin" 2>/dev/null)" = "$LIB_REAL" ] ||
	[ "$(cat "$TMP/origin" 2>/dev/null)" = "$LIB" ]; then
	ok "the program's malloc is the library's"
else
	not_ok "the program's malloc is the library's" "dladdr(malloc): $(cat "$TMP/origin" 2>/dev/null)"
fi
# The program built without the library, run without it, agrees.
"$TMP/base/prog" >"$TMP/base.out" 2>&1
same_output "same output as the program built and run without the library" "$TMP/base.out" "$TMP/run.out"
tap_done
