# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# workloads.sh - the workloads of the hakmem comparison benchmark: their
# parameters at each size, the figures they report, and how one run of one
# workload under one allocator is carried out and checked.
#
# Sourced by run.sh (the benchmark) and smoke.sh (the test-suite check).
# Sizes ("modes"):  full  - the figures published in performance.md
#                   quick - a few seconds per run
#                   tiny  - well under a second; only proves it still works
#
# One run prints one line "NAME key=value ..." on stdout; it always has
# maxrss_kb (peak resident set of the measured process) and, for the real
# programs, checksum (their output, identical under every allocator).

BENCH_SRC=${BENCH_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}

# Synthetic workloads (C programs of this directory) and real programs.
BENCH_SYNTH="seed seed-ws8k seed-32k larson prodcons manythreads manythreads-2 ptrchase realloc_growth churn freeheap"
BENCH_REAL="redis python sqlite gcc"
BENCH_ALL="$BENCH_SYNTH $BENCH_REAL"
# Programs to compile (tools/bench/<name>.c); keep in step with Makefile.
BENCH_PROGS="seed larson prodcons manythreads ptrchase realloc_growth churn freeheap allocwho"

BENCH_CFLAGS="-O2 -g -Wall -Wextra -pthread -I$BENCH_SRC/../include -I$BENCH_SRC/../../include"
BENCH_LDLIBS="-lpthread -ldl -lm"

# Interpreter of the python workload: Debian's, never a private install.
BENCH_PYTHON=${BENCH_PYTHON:-/usr/bin/python3}

# wl_bin ID: the program a synthetic workload runs.
wl_bin() {
	case $1 in
	seed*) echo seed ;;
	manythreads*) echo manythreads ;;
	*) echo "$1" ;;
	esac
}

# wl_args ID MODE: command-line arguments of a synthetic workload, or the
# size parameters of a real program.
wl_args() {
	case $1:$2 in
	seed:full) echo "20000000 400 1" ;;
	seed:quick) echo "4000000 400 1" ;;
	seed:tiny) echo "20000 400 1" ;;
	seed-ws8k:full) echo "10000000 8192 1" ;;
	seed-ws8k:quick) echo "4000000 8192 1" ;;
	seed-ws8k:tiny) echo "20000 8192 1" ;;
	seed-32k:full) echo "5000000 400 1 16 32768" ;;
	seed-32k:quick) echo "1000000 400 1 16 32768" ;;
	seed-32k:tiny) echo "20000 400 1 16 32768" ;;
	larson:full) echo "3 4 1000 16 512 10000 1" ;;
	larson:quick) echo "1 4 1000 16 512 10000 1" ;;
	larson:tiny) echo "0.1 4 1000 16 512 1000 1" ;;
	prodcons:full) echo "3000000 2 2 16 512 256 1" ;;
	prodcons:quick) echo "1000000 2 2 16 512 256 1" ;;
	prodcons:tiny) echo "20000 2 2 16 512 256 1" ;;
	# 600000 a thread: a repetition of 150000 lasted 0.1-0.3 s, about a
	# scheduler time slice per thread, and the allocators' order changed
	# from run to run (Documentation/percpu.rst)
	manythreads:full) echo "600000 64 256 16 512 16 1" ;;
	manythreads:quick) echo "50000 64 256 16 512 16 1" ;;
	manythreads:tiny) echo "1000 64 64 16 512 16 1" ;;
	# the same work and the same live heap on 2 threads (32 times the
	# working set each): how RSS grows with the thread count
	manythreads-2:full) echo "19200000 2 8192 16 512 16 1" ;;
	manythreads-2:quick) echo "1600000 2 8192 16 512 16 1" ;;
	manythreads-2:tiny) echo "32000 2 2048 16 512 16 1" ;;
	ptrchase:full) echo "4000000 64 1 1" ;;
	ptrchase:quick) echo "2000000 64 1 1" ;;
	ptrchase:tiny) echo "20000 64 1 1" ;;
	realloc_growth:full) echo "64 4194304 2 1" ;;
	realloc_growth:quick) echo "32 4194304 1 1" ;;
	realloc_growth:tiny) echo "4 262144 1 1" ;;
	churn:full) echo "2000 4 1000 16 2048 16 1" ;;
	churn:quick) echo "800 4 1000 16 2048 16 1" ;;
	churn:tiny) echo "20 4 100 16 2048 16 1" ;;
	freeheap:full) echo "1024 16 256 1000 1" ;;
	freeheap:quick) echo "256 16 256 1000 1" ;;
	freeheap:tiny) echo "16 16 256 100 1" ;;
	# redis: requests per redis-benchmark test
	redis:full) echo 50000 ;;
	redis:quick) echo 20000 ;;
	redis:tiny) echo 1000 ;;
	# python: rounds records
	python:full) echo "2 30000" ;;
	python:quick) echo "1 15000" ;;
	python:tiny) echo "1 500" ;;
	# sqlite: rows of the generated database
	sqlite:full) echo 150000 ;;
	sqlite:quick) echo 50000 ;;
	sqlite:tiny) echo 2000 ;;
	# gcc: functions in the generated source file
	gcc:full) echo 150 ;;
	gcc:quick) echo 50 ;;
	gcc:tiny) echo 4 ;;
	*) return 1 ;;
	esac
}

# wl_figures ID: the figures a workload contributes to the tables, one per
# line as "key|label|unit|dir" (dir: hi = higher is better, lo = lower).
wl_figures() {
	case $1 in
	seed)
		echo "ops_per_sec|$1|ops/s|hi"
		echo "syscalls_per_op|seed: allocator syscalls per op (timed loop)|calls/op|lo" ;;
	seed-ws8k | seed-32k | larson | prodcons | manythreads | manythreads-2)
		echo "ops_per_sec|$1|ops/s|hi" ;;
	freeheap)
		echo "excess_mb|freeheap: RSS kept 1 s after freeing it all|MiB|lo"
		echo "free_secs|freeheap: time to free|s|lo" ;;
	ptrchase)
		echo "alloc_ns_per_node|ptrchase alloc|ns/node|lo"
		echo "walk_ns_per_node|ptrchase walk|ns/node|lo"
		echo "faults_per_mib|ptrchase page faults|per MiB|lo" ;;
	realloc_growth) echo "secs|realloc_growth|s|lo" ;;
	churn) echo "threads_per_sec|churn|threads/s|hi" ;;
	redis) echo "rps|redis|requests/s|hi" ;;
	python | sqlite | gcc) echo "secs|$1|s|lo" ;;
	esac
}

# wl_tools ID: commands a real program needs (empty for synthetic ones).
wl_tools() {
	case $1 in
	redis) echo "redis-server redis-benchmark redis-cli" ;;
	python) echo "$BENCH_PYTHON" ;;
	sqlite) echo "sqlite3" ;;
	gcc) echo "gcc" ;;
	esac
}

wl_is_real() {
	case " $BENCH_REAL " in *" $1 "*) return 0 ;; esac
	return 1
}

# ------------------------------------------------------------------------
# Allocator environment.  alloc_env LABEL LIB sets:
#   A_PRELOAD  what goes into LD_PRELOAD
#   A_EXPECT   what BENCH_EXPECT says ("glibc" or the library path)
#   A_ENV      extra variables (NAME=value ...)
# glibc is preloaded explicitly (libc.so.6), so that programs linked
# against another allocator (Debian's redis-server links jemalloc) really
# use glibc's malloc in the glibc column.

bench_glibc_path() {
	local p
	for p in /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc.so.6; do
		[ -e "$p" ] && { echo "$p"; return 0; }
	done
	ldd /bin/sh | awk '/libc\.so/ { print $3; exit }'
}

alloc_env() {
	A_ENV=""
	case $1 in
	glibc)
		A_PRELOAD=$(bench_glibc_path)
		A_EXPECT=glibc ;;
	mimalloc-lp)
		A_PRELOAD=$2
		A_EXPECT=$2
		A_ENV="MIMALLOC_LARGE_OS_PAGES=1" ;;
	hakmem-hugetlb)
		A_PRELOAD=$2
		A_EXPECT=$2
		A_ENV="HAKMEM_HUGEPAGES=hugetlb" ;;
	hakmem-fast | hakmem-balanced | hakmem-lean)
		A_PRELOAD=$2
		A_EXPECT=$2
		A_ENV="HAKMEM_PROFILE=${1#hakmem-}" ;;
	hakmem-*)
		# hakmem with another per-CPU front end: hakmem-mmcid, hakmem-fallback
		A_PRELOAD=$2
		A_EXPECT=$2
		A_ENV="HAKMEM_PERCPU=${1#hakmem-}" ;;
	*)
		A_PRELOAD=$2
		A_EXPECT=$2 ;;
	esac
}

# bench_preload_failed FILE: did the dynamic loader refuse the preload?
bench_preload_failed() {
	grep -q "cannot be preloaded" "$1" 2>/dev/null
}

# bench_bind_check PROG [ARGS]: with the allocator environment set by
# alloc_env, ask the dynamic loader which object every reference to the
# malloc family in PROG (and all its libraries) binds to; all must go to
# the expected allocator.  Runs PROG ARGS (a --version call), un-timed.
bench_bind_check() {
	local dir want got bad prog obj
	dir=$(mktemp -d) || return 1
	# shellcheck disable=SC2086
	env LD_PRELOAD="$A_PRELOAD" LD_BIND_NOW=1 LD_DEBUG=bindings \
		LD_DEBUG_OUTPUT="$dir/ld" $A_ENV "$@" >/dev/null 2>"$dir/err" </dev/null
	if bench_preload_failed "$dir/err"; then
		echo "allocator check: $A_PRELOAD cannot be preloaded into $1" >&2
		rm -rf "$dir"
		return 1
	fi
	if [ "$A_EXPECT" = glibc ]; then
		want=$(readlink -f "$(bench_glibc_path)")
	else
		want=$(readlink -f "$A_EXPECT")
	fi
	# A program that takes the address of malloc gets a canonical PLT
	# entry that the libraries bind to ("to PROG"); those entries only
	# jump on, so bindings to the program itself are left out.
	prog=$(readlink -f "$(command -v "$1")")
	got=$(cat "$dir"/ld.* 2>/dev/null |
		awk '/normal symbol `(malloc|free|calloc|realloc)'"'"'/ { print $7 }' |
		sort -u | while read -r obj; do
			[ "$(readlink -f "$obj")" = "$prog" ] || echo "$obj"
		done)
	rm -rf "$dir"
	if [ -z "$got" ]; then
		echo "allocator check: no malloc binding seen for $1" >&2
		return 1
	fi
	bad=""
	while read -r obj; do
		[ "$(readlink -f "$obj")" = "$want" ] || bad="$bad $obj"
	done <<<"$got"
	if [ -n "$bad" ]; then
		echo "allocator check: $1 binds malloc to$bad, expected $want" >&2
		return 1
	fi
	return 0
}

# bench_maps_check PID: the running process must have the expected
# library mapped (for glibc: no replacement allocator is mapped; jemalloc
# may be, as Debian's redis-server links it).
bench_maps_check() {
	local want
	if [ "$A_EXPECT" = glibc ]; then
		# Which malloc the program binds to is settled by bench_bind_check;
		# here only: no replacement allocator was slipped in besides.
		if grep -qE 'libhakmem|libmimalloc|libtcmalloc' "/proc/$1/maps" 2>/dev/null; then
			echo "allocator check: glibc run of process $1 has another allocator mapped" >&2
			return 1
		fi
		return 0
	fi
	want=$(readlink -f "$A_EXPECT")
	grep -qF "$want" "/proc/$1/maps" 2>/dev/null && return 0
	echo "allocator check: $want is not mapped in process $1" >&2
	return 1
}

bench_ns() { date +%s%N; }

# bench_timed RSSFILE CMD...: run CMD, writing its peak RSS (KiB) to
# RSSFILE; /usr/bin/time measures it (wait4 rusage), or 0 without it.
bench_timed() {
	local rssfile=$1
	shift
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%M' -o "$rssfile" "$@"
	else
		echo 0 >"$rssfile"
		"$@"
	fi
}
bench_secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'; }

# ------------------------------------------------------------------------
# wl_run ID MODE LABEL LIB BINDIR WORK
# Runs workload ID once under allocator LABEL (library LIB), prints its
# result line on stdout, diagnostics on stderr; non-zero status on any
# failure (crash, failed self-check, wrong allocator).
wl_run() {
	local id=$1 mode=$2 label=$3 lib=$4 bindir=$5 work=$6
	alloc_env "$label" "$lib"
	mkdir -p "$work" || return 1
	case $id in
	redis) wl_run_redis "$mode" "$work" ;;
	python) wl_run_python "$mode" "$work" ;;
	sqlite) wl_run_sqlite "$mode" "$work" ;;
	gcc) wl_run_gcc "$mode" "$work" ;;
	*) wl_run_synth "$id" "$mode" "$bindir" "$work" ;;
	esac
}

wl_run_synth() {
	local id=$1 mode=$2 bindir=$3 work=$4 bin args rc line rss
	bin=$(wl_bin "$id")
	args=$(wl_args "$id" "$mode") || { echo "unknown workload $id/$mode" >&2; return 1; }
	if [ ! -x "$bindir/$bin" ]; then
		echo "$bindir/$bin: not built" >&2
		return 1
	fi
	# shellcheck disable=SC2086
	bench_timed "$work/time" \
		env LD_PRELOAD="$A_PRELOAD" BENCH_EXPECT="$A_EXPECT" $A_ENV \
		"$bindir/$bin" $args >"$work/out" 2>"$work/err"
	rc=$?
	cat "$work/err" >&2
	if bench_preload_failed "$work/err"; then
		echo "$id: allocator $A_PRELOAD was not loaded" >&2
		return 1
	fi
	line=$(grep "^$bin " "$work/out" | tail -n 1)
	if [ $rc -ne 0 ] || [ -z "$line" ]; then
		echo "$id: failed (exit status $rc)" >&2
		return 1
	fi
	rss=$(tail -n 1 "$work/time")
	echo "${line/#$bin/$id} maxrss_kb=$rss"
}

# redis-server under the allocator, driven by redis-benchmark over
# loopback (the client itself runs with the default allocator).
wl_run_redis() {
	local mode=$1 work=$2 n port pid i attempt rc=0 t0 t1 hwm secs rps tests
	n=$(wl_args redis "$mode")
	tests="set,get,lpush,lpop,sadd,hset,mset"
	bench_bind_check redis-server --version || return 1
	# A random port may turn out to be taken (bind fails and the server
	# exits at once): then try another one, a few times.
	for attempt in 1 2 3 4 5; do
		for i in 1 2 3 4 5 6 7 8 9 10; do
			port=$((20000 + (RANDOM % 20000)))
			redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 || break
		done
		: >"$work/redis.log"
		# shellcheck disable=SC2086
		env LD_PRELOAD="$A_PRELOAD" BENCH_EXPECT="$A_EXPECT" $A_ENV \
			redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes \
			--save '' --appendonly no --daemonize no --loglevel warning \
			--dir "$work" --logfile "$work/redis.log" >/dev/null 2>"$work/err" &
		pid=$!
		echo "$pid" >"$work/redis.pid"	# for run.sh, should it be interrupted
		for i in $(seq 1 100); do
			[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && break
		if ! grep -q 'Address already in use' "$work/redis.log" 2>/dev/null; then
			break
		fi
		wait "$pid" 2>/dev/null
	done
	if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" != PONG ]; then
		echo "redis: server did not start" >&2
		cat "$work/err" "$work/redis.log" >&2 2>/dev/null
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rm -f "$work/redis.pid"
		return 1
	fi
	if ! bench_maps_check "$pid"; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rm -f "$work/redis.pid"
		return 1
	fi
	t0=$(bench_ns)
	timeout 600 redis-benchmark -h 127.0.0.1 -p "$port" -n "$n" -c 50 -P 16 \
		-r 100000 -d 256 -t "$tests" -q --csv >"$work/out" 2>"$work/bench.err" || rc=1
	t1=$(bench_ns)
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "redis: server died during the benchmark" >&2
		rc=1
	fi
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	[ "$(redis-cli -h 127.0.0.1 -p "$port" dbsize 2>/dev/null)" -gt 0 ] 2>/dev/null || rc=1
	redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1
	wait "$pid" || { echo "redis: server exited with status $?" >&2; rc=1; }
	rm -f "$work/redis.pid"
	bench_preload_failed "$work/err" && rc=1
	if [ $rc -ne 0 ]; then
		cat "$work/err" "$work/bench.err" "$work/redis.log" >&2 2>/dev/null
		return 1
	fi
	secs=$(bench_secs "$t0" "$t1")
	# --csv: "test","rps",... ; total requests over the whole wall time.
	rps=$(awk -F'"' -v n="$n" -v s="$secs" '
		NR > 1 && $2 != "" { k++ }
		END { if (k == 0 || s <= 0) exit 1; printf "%.0f", k * n / s }' "$work/out") || {
		echo "redis: no results from redis-benchmark" >&2
		return 1
	}
	echo "redis requests=$n tests=$tests secs=$secs rps=$rps maxrss_kb=${hwm:-0}$(
		awk -F'"' 'NR > 1 && $2 != "" {
			t = tolower($2); gsub(/[^a-z0-9]+/, "_", t); sub(/_+$/, "", t)
			printf " %s_rps=%.0f", t, $4 }' "$work/out")"
}

wl_run_python() {
	local mode=$1 work=$2 args rc line rss
	args=$(wl_args python "$mode")
	bench_bind_check "$BENCH_PYTHON" --version || return 1
	# shellcheck disable=SC2086
	bench_timed "$work/time" \
		env LD_PRELOAD="$A_PRELOAD" BENCH_EXPECT="$A_EXPECT" PYTHONMALLOC=malloc \
		PYTHONDONTWRITEBYTECODE=1 $A_ENV \
		"$BENCH_PYTHON" "$BENCH_SRC/alloc_heavy.py" $args >"$work/out" 2>"$work/err"
	rc=$?
	cat "$work/err" >&2
	bench_preload_failed "$work/err" && rc=1
	line=$(grep '^python ' "$work/out" | tail -n 1)
	if [ $rc -ne 0 ] || [ -z "$line" ]; then
		echo "python: failed (exit status $rc)" >&2
		return 1
	fi
	rss=$(tail -n 1 "$work/time")
	echo "$line maxrss_kb=$rss"
}

# The database is generated once per size (with the default allocator,
# un-timed); the timed part is a query script run by the sqlite3 shell.
wl_sqlite_prepare() {
	local rows=$1 db=$2
	[ -s "$db" ] && return 0
	rm -f "$db.tmp"
	sqlite3 "$db.tmp" >/dev/null <<EOF || return 1
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, name TEXT, val REAL, note TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $rows)
INSERT INTO t SELECT x, (x * 7919) % 1000,
  printf('name-%08x', (x * 2654435761) % 4294967296),
  ((x * 40503) % 100000) / 100.0,
  substr('lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor',
         1 + x % 40, 10 + x % 37)
FROM c;
CREATE INDEX t_k ON t(k);
EOF
	mv "$db.tmp" "$db"
}

wl_sqlite_queries() {
	cat <<'EOF'
PRAGMA cache_size=-131072;
PRAGMA temp_store=MEMORY;
SELECT k, count(*), round(sum(val), 2), max(name) FROM t GROUP BY k ORDER BY 2 DESC, 1 LIMIT 3;
SELECT count(DISTINCT name), count(DISTINCT note) FROM t;
SELECT name, note FROM t ORDER BY note DESC, name LIMIT 3 OFFSET 500;
CREATE TEMP TABLE s AS SELECT id, name || '/' || note AS n2, k, val * 2 AS v FROM t;
CREATE INDEX temp.s_n2 ON s(n2);
SELECT count(*), round(sum(s.v), 2) FROM s JOIN t ON t.id = s.id WHERE t.k < 200;
SELECT substr(n2, 1, 12), count(*) FROM s GROUP BY substr(n2, 6, 3) ORDER BY 2 DESC, 1 LIMIT 3;
BEGIN;
UPDATE t SET note = note || '-' || name WHERE k % 3 = 0;
SELECT count(*), max(length(note)) FROM t;
ROLLBACK;
SELECT length(json_group_array(json_object('k', k, 'n', name)))
  FROM (SELECT k, name FROM t WHERE id % 10 = 0);
DROP TABLE s;
EOF
}

wl_run_sqlite() {
	local mode=$1 work=$2 rows db rc t0 t1 rss sum
	rows=$(wl_args sqlite "$mode")
	db="$work/../sqlite-$rows.db"
	wl_sqlite_prepare "$rows" "$db" || { echo "sqlite: cannot generate the database" >&2; return 1; }
	wl_sqlite_queries >"$work/q.sql"
	bench_bind_check sqlite3 --version || return 1
	t0=$(bench_ns)
	# shellcheck disable=SC2086
	bench_timed "$work/time" \
		env LD_PRELOAD="$A_PRELOAD" $A_ENV \
		sqlite3 -bail "$db" <"$work/q.sql" >"$work/out" 2>"$work/err"
	rc=$?
	t1=$(bench_ns)
	cat "$work/err" >&2
	bench_preload_failed "$work/err" && rc=1
	if [ $rc -ne 0 ] || [ -s "$work/err" ] || [ ! -s "$work/out" ]; then
		echo "sqlite: failed (exit status $rc)" >&2
		return 1
	fi
	rss=$(tail -n 1 "$work/time")
	sum=$(md5sum <"$work/out" | cut -c1-16)
	echo "sqlite rows=$rows secs=$(bench_secs "$t0" "$t1") checksum=$sum maxrss_kb=$rss"
}

# A generated C file of N functions (switches, loops, a call chain) for
# gcc -O2.
wl_gcc_source() {
	awk -v n="$1" 'BEGIN {
	print "/* generated by tools/bench/workloads.sh */"
	print "struct rec { long a, b; double c; char name[16]; struct rec *next; };"
	for (i = 0; i < n; i++) {
		printf "static long helper%d(const long *v, unsigned long n, long s)\n{\n\tlong acc = s;\n", i
		printf "\tfor (unsigned long j = 0; j < n; j++) {\n\t\tswitch ((v[j] + %d) %% 8) {\n", i
		for (c = 0; c < 8; c++)
			printf "\t\tcase %d: acc = acc * %d + v[j] - %d; break;\n", c, (i + c) % 13 + 3, c * i
		printf "\t\tdefault: acc ^= v[j];\n\t\t}\n\t\tif (acc > %d)\n\t\t\tacc /= 3;\n\t}\n\treturn acc;\n}\n", 1000000 + i
		printf "long func%d(struct rec *r, const long *v, unsigned long n)\n{\n\tlong t = 0;\n", i
		printf "\tfor (; r; r = r->next) {\n\t\tt += helper%d(v, n, r->a) * r->b;\n", i
		printf "\t\tr->c = (double)t / %d.0;\n", i + 1
		printf "\t\tfor (int k = 0; k < 16; k++)\n\t\t\tr->name[k] = (char)(t >> (k %% 8));\n\t}\n"
		if (i > 0)
			printf "\tt += func%d(r, v, n / 2);\n", i - 1
		print "\treturn t;\n}"
	}
	}'
}

wl_run_gcc() {
	local mode=$1 work=$2 n src rc t0 t1 rss sum cc1
	n=$(wl_args gcc "$mode")
	src="$work/../gcc-$n.c"
	[ -s "$src" ] || wl_gcc_source "$n" >"$src" || return 1
	bench_bind_check gcc --version || return 1
	cc1=$(gcc -print-prog-name=cc1)
	if [ -x "$cc1" ]; then
		bench_bind_check "$cc1" --version || return 1
	fi
	rm -f "$work/gcc.o"
	t0=$(bench_ns)
	# shellcheck disable=SC2086
	bench_timed "$work/time" \
		env LD_PRELOAD="$A_PRELOAD" $A_ENV \
		gcc -O2 -c "$src" -o "$work/gcc.o" >"$work/out" 2>"$work/err"
	rc=$?
	t1=$(bench_ns)
	cat "$work/err" >&2
	bench_preload_failed "$work/err" && rc=1
	if [ $rc -ne 0 ] || [ ! -s "$work/gcc.o" ]; then
		echo "gcc: failed (exit status $rc)" >&2
		return 1
	fi
	rss=$(tail -n 1 "$work/time")
	sum=$(md5sum <"$work/gcc.o" | cut -c1-16)
	echo "gcc functions=$n secs=$(bench_secs "$t0" "$t1") checksum=$sum maxrss_kb=$rss"
}

# bench_build BINDIR: compile any workload program missing from BINDIR.
bench_build() {
	local bindir=$1 p
	mkdir -p "$bindir" || return 1
	for p in $BENCH_PROGS; do
		if [ ! -x "$bindir/$p" ] || [ "$BENCH_SRC/$p.c" -nt "$bindir/$p" ] ||
			[ "$BENCH_SRC/bench.h" -nt "$bindir/$p" ]; then
			# shellcheck disable=SC2086
			cc $BENCH_CFLAGS -o "$bindir/$p" "$BENCH_SRC/$p.c" $BENCH_LDLIBS || return 1
		fi
	done
}
