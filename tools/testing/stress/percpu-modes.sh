#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The per-CPU front end in each of its configurations (TAP).
#
#   tools/testing/stress/percpu-modes.sh     (HAKMEM_OBJTREE, HAKMEM_LIB set by run-tests.sh)
#
#  1. every HAKMEM_PERCPU mode is chosen as asked and says so in the stats;
#  2. the migration and preemption stress (stress/migrate) in each mode,
#     under glibc's rseq registration and under hakmem's own;
#  3. a process started under taskset keeps working on the other CPUs;
#  4. a race-injection build (HM_RSEQ_RACE: a busy wait inside every
#     critical section) passes the stress, and its sections really were
#     interrupted (the "fast-path retries" counter is not zero);
#  5. the generic-only build (CONFIG_PCPU_RSEQ=n) has no rseq code and
#     passes the selftests and the stress;
#  6. under valgrind (no rseq there) the fallback is chosen and the
#     selftests pass.
set -u
src=$(cd "$(dirname "$0")/../../.." && pwd)
obj=${HAKMEM_OBJTREE:?run from tools/testing/run-tests.sh}
lib=${HAKMEM_LIB:?}
migrate=$obj/tools/testing/stress/migrate
selftests=$obj/tools/testing/selftests
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fails=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
show() { sed 's/^/#   /' "$1" | tail -n "${2:-12}"; }

# front LOG: the front-end line of a HAKMEM_STATS summary
front() { sed -n 's/^hakmem: front-end: //p' "$1" | head -1; }
retries() { sed -n 's/.*fast-path retries \([0-9]*\).*/\1/p' "$1" | head -1; }

# stress NAME LIB [VAR=VALUE...] -- [migrate options]: run migrate, check TAP and exit
stress() {
	local name=$1 l=$2; shift 2
	local envs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	if env "${envs[@]}" HAKMEM_STATS=1 LD_PRELOAD="$l" "$migrate" seconds=2 "$@" \
		>"$tmp/out" 2>"$tmp/err" && ! grep -q '^not ok' "$tmp/out"; then
		ok "$name: migrate passes ($(front "$tmp/err" | cut -d' ' -f1), $(grep -c '^ok' "$tmp/out") checks)"
	else
		nok "$name: migrate passes"
		show "$tmp/out"; show "$tmp/err" 4
	fi
}

echo "1..20"

# 1. modes
for m in auto rseq mmcid fallback off; do
	HAKMEM_PERCPU=$m HAKMEM_STATS=1 LD_PRELOAD=$lib /bin/true 2>"$tmp/err"
	got=$(front "$tmp/err")
	case "$m" in
	auto|rseq) want=rseq ;;
	*) want=$m ;;
	esac
	if [ "${got%% *}" = "$want" ]; then
		ok "HAKMEM_PERCPU=$m runs the $want front end"
	elif [ $m = mmcid ] && [ "${got%% *}" = rseq ] && grep -q "mm_cid" "$tmp/err"; then
		ok "HAKMEM_PERCPU=mmcid falls back to rseq with a reason (this kernel has no mm_cid)"
	else
		nok "HAKMEM_PERCPU=$m runs the $want front end (got: $got)"
	fi
done

# 2. stress in each mode, with glibc's registration and with our own
stress "rseq, glibc's registration" "$lib"
stress "rseq, hakmem's registration" "$lib" GLIBC_TUNABLES=glibc.pthread.rseq=0
if grep -q "hakmem's registration" "$tmp/err"; then
	ok "without glibc's registration hakmem registers its own area"
else
	nok "without glibc's registration hakmem registers its own area"; show "$tmp/err" 3
fi
stress "mmcid" "$lib" HAKMEM_PERCPU=mmcid
stress "fallback" "$lib" HAKMEM_PERCPU=fallback
stress "off" "$lib" HAKMEM_PERCPU=off

# 3. started under taskset, moved everywhere
if [ "$(nproc --all)" -gt 1 ]; then
	if HAKMEM_STATS=1 LD_PRELOAD=$lib taskset -c 0 "$migrate" seconds=2 widen=1 \
		>"$tmp/out" 2>"$tmp/err" && ! grep -q '^not ok' "$tmp/out"; then
		ok "started under taskset -c 0, then run on every CPU"
	else
		nok "started under taskset -c 0, then run on every CPU"; show "$tmp/out"
	fi
else
	skip "started under taskset -c 0, then run on every CPU" "one CPU"
fi

# 4. race injection
race=$obj/percpu-race
if make -s -C "$src" O="$race" lib EXTRA_CFLAGS="-DHM_RSEQ_RACE=40" >"$tmp/build" 2>&1; then
	ok "race-injection build (HM_RSEQ_RACE=40)"
else
	nok "race-injection build (HM_RSEQ_RACE=40)"; show "$tmp/build"
fi
stress "race build, rseq" "$race/libhakmem.so"
r=$(retries "$tmp/err")
if [ "${r:-0}" -gt 100 ]; then
	ok "race build: $r critical sections were interrupted and retried"
else
	nok "race build: critical sections were interrupted and retried (${r:-none})"
fi
stress "race build, fallback" "$race/libhakmem.so" HAKMEM_PERCPU=fallback

# 5. the generic-only configuration
gen=$obj/percpu-generic
if make -s -C "$src" O="$gen" lib CONFIG_PCPU_RSEQ=n >"$tmp/build" 2>&1 &&
   ! nm -D --defined-only "$gen/libhakmem.so" | grep -q rseq &&
   ! objdump -h "$gen/libhakmem.so" | grep -q hm_rseq; then
	ok "CONFIG_PCPU_RSEQ=n builds without rseq sections"
else
	nok "CONFIG_PCPU_RSEQ=n builds without rseq sections"; show "$tmp/build"
fi
stress "CONFIG_PCPU_RSEQ=n" "$gen/libhakmem.so"
bad=0
for t in "$selftests"/api_*; do
	[ -x "$t" ] || continue
	if ! LD_PRELOAD=$gen/libhakmem.so "$t" >"$tmp/st" 2>&1 || grep -q '^not ok' "$tmp/st"; then
		bad=$((bad + 1)); echo "# $(basename "$t") failed"; show "$tmp/st" 5
	fi
done
[ $bad -eq 0 ] && ok "CONFIG_PCPU_RSEQ=n: every selftest passes" ||
	nok "CONFIG_PCPU_RSEQ=n: every selftest passes ($bad failed)"

# 6. valgrind: rseq is not available there
if command -v valgrind >/dev/null; then
	HAKMEM_STATS=1 LD_PRELOAD=$lib valgrind --tool=none -q "$selftests/api_threads" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq 0 ] && ! grep -q '^not ok' "$tmp/out" && grep -q '^ok' "$tmp/out" &&
	   front "$tmp/err" | grep -q "^fallback.*rseq unavailable"; then
		ok "valgrind: the fallback is chosen and api_threads passes"
	else
		nok "valgrind: the fallback is chosen and api_threads passes (exit $rc, $(front "$tmp/err"))"
		show "$tmp/out" 5; show "$tmp/err" 5
	fi
else
	nok "valgrind: not installed (scripts/install-deps.sh installs it)"
fi
[ $fails -eq 0 ]
