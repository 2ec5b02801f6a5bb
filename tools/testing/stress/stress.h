/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the stress programs: TAP output, a small PRNG, content
 * patterns for heap blocks, a watchdog and argument parsing.
 *
 * Everything is static inline so each program is a single translation unit
 * built with "cc -O2 -g -Wall -Wextra -pthread prog.c -lpthread -ldl".
 */
#ifndef _HAKMEM_STRESS_H
#define _HAKMEM_STRESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include "xorshift.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KiB (1024UL)
#define MiB (1024UL * 1024UL)

#define ST_UNUSED __attribute__((unused))

/* ------------------------------------------------------------------ TAP */

static int tap_count;
static int tap_failures;

static ST_UNUSED void tap_plan(int n)
{
	printf("1..%d\n", n);
	fflush(stdout);
}

/* A diagnostic line; safe to call from any thread (stdio locks the FILE). */
static ST_UNUSED __attribute__((format(printf, 1, 2)))
void tap_diag(const char *fmt, ...)
{
	va_list ap;

	flockfile(stdout);
	fputs("# ", stdout);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	funlockfile(stdout);
}

static ST_UNUSED __attribute__((format(printf, 2, 3)))
int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	if (!cond)
		tap_failures++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return cond;
}

static ST_UNUSED int tap_exit(void)
{
	fflush(stdout);
	return tap_failures ? 1 : 0;
}

/*
 * Error reporting from worker threads: count every error, print the first
 * few as diagnostics so a broken allocator does not flood the output.
 */
static atomic_long st_errors;

#define ST_MAX_REPORTS 20
#define st_error(...)							\
	do {								\
		if (atomic_fetch_add(&st_errors, 1) < ST_MAX_REPORTS)	\
			tap_diag(__VA_ARGS__);				\
	} while (0)

/* ----------------------------------------------------------------- PRNG */

static inline uint64_t st_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

struct st_rng {
	uint64_t s;
};

static inline void st_rng_seed(struct st_rng *r, uint64_t seed)
{
	r->s = st_mix64(seed) | 1;
}

static inline uint64_t st_rand(struct st_rng *r)
{
	return xorshift64s_next(&r->s);
}

/* Uniform in [0, n). n > 0. */
static inline uint64_t st_below(struct st_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)st_rand(r) * n) >> 64);
}

/* Uniform in [lo, hi]. */
static inline uint64_t st_range(struct st_rng *r, uint64_t lo, uint64_t hi)
{
	return lo + st_below(r, hi - lo + 1);
}

/* True with probability num/den. */
static inline int st_chance(struct st_rng *r, unsigned num, unsigned den)
{
	return st_below(r, den) < num;
}

/*
 * A size from the usual mix: mostly small (8..2048, skewed toward the low
 * end), some medium up to 256 KiB, and - if huge_permille > 0 - a few of
 * 1..8 MiB.
 */
static ST_UNUSED size_t st_size_mix(struct st_rng *r, unsigned huge_permille)
{
	uint64_t p = st_below(r, 1000);

	if (p < huge_permille)
		return st_range(r, 1 * MiB, 8 * MiB);
	if (p < huge_permille + 30)
		return st_range(r, 2049, 256 * KiB);
	if (p < 500)
		return st_range(r, 8, 128);
	if (p < 800)
		return st_range(r, 129, 512);
	return st_range(r, 513, 2048);
}

/* -------------------------------------------------------------- Pattern */

/*
 * A block of n bytes is filled with bytes derived from a 64-bit seed (the
 * programs build it from the address, owner and sequence number).  Blocks
 * up to ST_DENSE bytes are filled completely; larger blocks get their first
 * and last ST_EDGE bytes plus one word every ST_STRIDE bytes, which keeps
 * huge blocks cheap while still catching overlaps and stray writes.
 *
 * The positions written depend on the fill size only, so a block that was
 * filled with size n can be checked over a prefix (after realloc) by passing
 * the same n and a smaller limit.
 */
#define ST_DENSE	(8 * KiB)
#define ST_EDGE		256
#define ST_STRIDE	512

static inline uint64_t st_word(uint64_t seed, size_t idx)
{
	return st_mix64(seed ^ (idx * 0xd6e8feb86659fd93ULL));
}

/*
 * Visit the pattern positions of a block of fill size n below limit.
 * check=0 writes; check=1 compares and returns the offset of the first
 * mismatch plus one (0 if all match).
 */
static ST_UNUSED size_t st_pattern_op(unsigned char *p, size_t n, uint64_t seed,
				      size_t limit, int check)
{
	size_t nw = n / 8, i, lo, hi;

	if (limit > n)
		limit = n;

#define ST_VISIT_WORD(i_)						\
	do {								\
		size_t off_ = (i_) * 8;					\
		if (off_ + 8 <= limit) {				\
			uint64_t w_ = st_word(seed, (i_));		\
			if (check) {					\
				uint64_t g_;				\
				memcpy(&g_, p + off_, 8);		\
				if (g_ != w_) {				\
					size_t b_;			\
					for (b_ = 0; b_ < 8; b_++)	\
						if (((g_ ^ w_) >> (8 * b_)) & 0xff) \
							break;		\
					return off_ + b_ + 1;		\
				}					\
			} else {					\
				memcpy(p + off_, &w_, 8);		\
			}						\
		}							\
	} while (0)

	if (n <= ST_DENSE) {
		for (i = 0; i < nw; i++)
			ST_VISIT_WORD(i);
	} else {
		lo = ST_EDGE / 8;
		hi = nw - ST_EDGE / 8;
		for (i = 0; i < lo; i++)
			ST_VISIT_WORD(i);
		for (i = lo; i < hi; i += ST_STRIDE / 8)
			ST_VISIT_WORD(i);
		for (i = hi; i < nw; i++)
			ST_VISIT_WORD(i);
	}
	/* Trailing bytes of a size that is not a multiple of 8. */
	if (n % 8) {
		uint64_t w = st_word(seed, nw);

		for (i = nw * 8; i < limit; i++) {
			unsigned char b = (unsigned char)(w >> (8 * (i % 8)));

			if (check) {
				if (p[i] != b)
					return i + 1;
			} else {
				p[i] = b;
			}
		}
	}
#undef ST_VISIT_WORD
	return 0;
}

static inline void st_fill(void *p, size_t n, uint64_t seed)
{
	st_pattern_op(p, n, seed, n, 0);
}

/* Returns 0 if intact, else offset of first bad byte + 1. */
static inline size_t st_check(const void *p, size_t n, uint64_t seed)
{
	return st_pattern_op((unsigned char *)p, n, seed, n, 1);
}

static inline size_t st_check_prefix(const void *p, size_t n, uint64_t seed,
				     size_t limit)
{
	return st_pattern_op((unsigned char *)p, n, seed, limit, 1);
}

/* Seed of a block: derived from its address, owner and sequence number. */
static inline uint64_t st_seed(const void *p, unsigned owner, uint64_t seq)
{
	return st_mix64((uint64_t)(uintptr_t)p ^ ((uint64_t)owner << 48) ^
			st_mix64(seq));
}

/*
 * calloc'ed memory must read as zero: all of it up to ST_DENSE, then the
 * same sampled positions as the pattern.  Returns offset+1 of a non-zero
 * byte or 0.
 */
static ST_UNUSED size_t st_check_zero(const void *vp, size_t n)
{
	const unsigned char *p = vp;
	size_t i;

	if (n <= ST_DENSE) {
		for (i = 0; i < n; i++)
			if (p[i])
				return i + 1;
		return 0;
	}
	for (i = 0; i < ST_EDGE; i++)
		if (p[i] || p[n - 1 - i])
			return (p[i] ? i : n - 1 - i) + 1;
	for (i = 0; i < n; i += ST_STRIDE / 2)
		if (p[i])
			return i + 1;
	return 0;
}

/* Minimum alignment malloc must give for a request of n bytes. */
static inline size_t st_min_align(size_t n)
{
	if (n >= 16)
		return 16;
	if (n >= 8)
		return 8;
	return 1;
}

static inline int st_aligned(const void *p, size_t a)
{
	return ((uintptr_t)p & (a - 1)) == 0;
}

/* ----------------------------------------------------------------- Time */

static inline double st_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------- Watchdog */

/*
 * A thread that ends the process with a TAP bail-out if the test has not
 * finished in time.  It uses neither signals nor the heap once started, so
 * it still fires when the allocator is deadlocked.
 */
static unsigned st_watchdog_secs;
static char st_watchdog_msg[128];

static void *st_watchdog_thread(void *arg)
{
	struct timespec ts = { .tv_sec = st_watchdog_secs, .tv_nsec = 0 };
	ssize_t ignored;

	(void)arg;
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	ignored = write(STDOUT_FILENO, st_watchdog_msg, strlen(st_watchdog_msg));
	(void)ignored;
	_exit(3);
}

static ST_UNUSED void st_watchdog(unsigned secs, const char *what)
{
	pthread_t t;
	pthread_attr_t a;

	st_watchdog_secs = secs;
	snprintf(st_watchdog_msg, sizeof(st_watchdog_msg),
		 "Bail out! %s: watchdog fired after %u s (deadlock or far too slow)\n",
		 what, secs);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 64 * 1024);
	if (pthread_create(&t, &a, st_watchdog_thread, NULL)) {
		fprintf(stderr, "cannot start watchdog thread\n");
		exit(2);
	}
	pthread_attr_destroy(&a);
}

/* Resident set size (VmRSS) or its peak (VmHWM) in KiB, from /proc. */
static ST_UNUSED long st_rss_kib(const char *field)
{
	char line[256];
	long v = -1;
	size_t len = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':') {
			v = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* ------------------------------------------------------------ Arguments */

/*
 * Options are "name=value" words (or "-h").  Every program knows "scale",
 * a factor on its amount of work, "seed" and "timeout" (watchdog seconds).
 */
struct st_opt {
	const char *name;
	double *val;
	const char *help;
};

static ST_UNUSED void st_usage(const char *prog, const struct st_opt *o)
{
	fprintf(stderr, "usage: %s [name=value ...]\n", prog);
	for (; o->name; o++)
		fprintf(stderr, "  %-10s %s (default %g)\n", o->name, o->help,
			*o->val);
}

static ST_UNUSED void st_parse(int argc, char **argv, const struct st_opt *opts)
{
	int i;

	for (i = 1; i < argc; i++) {
		const struct st_opt *o;
		char *eq = strchr(argv[i], '='), *end;
		size_t len;

		if (!eq) {
			st_usage(argv[0], opts);
			exit(strcmp(argv[i], "-h") && strcmp(argv[i], "--help") ? 2 : 0);
		}
		len = (size_t)(eq - argv[i]);
		for (o = opts; o->name; o++)
			if (strlen(o->name) == len && !strncmp(o->name, argv[i], len))
				break;
		if (!o->name) {
			fprintf(stderr, "%s: unknown option '%.*s'\n", argv[0],
				(int)len, argv[i]);
			st_usage(argv[0], opts);
			exit(2);
		}
		*o->val = strtod(eq + 1, &end);
		if (end == eq + 1 || *end) {
			fprintf(stderr, "%s: bad value '%s'\n", argv[0], eq + 1);
			exit(2);
		}
	}
}

/* Tell which object the process's malloc comes from (LD_PRELOAD or libc). */
static ST_UNUSED void st_print_malloc_origin(void)
{
	void *fn = dlsym(RTLD_DEFAULT, "malloc");
	Dl_info info;

	if (fn && dladdr(fn, &info) && info.dli_fname)
		tap_diag("malloc from %s", info.dli_fname);
	else
		tap_diag("malloc from: unknown");
}

static ST_UNUSED void st_print_opts(const struct st_opt *o)
{
	char buf[512];
	int len = 0;

	for (; o->name && len < (int)sizeof(buf) - 40; o++)
		len += snprintf(buf + len, sizeof(buf) - len, " %s=%g", o->name,
				*o->val);
	tap_diag("options:%s", buf);
	st_print_malloc_origin();
}

#endif /* _HAKMEM_STRESS_H */
