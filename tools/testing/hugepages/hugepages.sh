#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The page tiers on this machine, read back from /proc/PID/smaps:
#   - with a hugetlb pool reserved here, the heap and a block of 8 MiB sit
#     on 2 MiB hugetlb pages;
#   - with a pool of a few pages and a heap of 300 MiB the program
#     completes, the fallback is counted and reported once;
#   - with the pool empty and THP in madvise mode the heap is AnonHugePages;
#   - HAKMEM_HUGEPAGES=off and =hugetlb on an empty pool behave;
#   - fork from a hugetlb heap (pool with spare pages) works;
#   - the API selftests pass on the hugetlb tier, also when the pool is dry.
# The pool size is restored on exit, whatever happens (trap).
#
#   hugepages.sh LIBHAKMEM OBJTREE
set -u
lib=${1:?usage: hugepages.sh LIBHAKMEM OBJTREE}
objtree=${2:?usage: hugepages.sh LIBHAKMEM OBJTREE}
probe=$objtree/tools/testing/hugepages/hugeprobe
pool=/proc/sys/vm/nr_hugepages
thp=/sys/kernel/mm/transparent_hugepage/enabled

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }
val() { sed -n "s/^$1=//p" <<<"$2" | head -1; }

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP not root: reserving a hugetlb pool needs root"
	exit 0
fi
[ -x "$probe" ] || { echo "1..0 # hugeprobe not built ($probe)"; exit 1; }
echo "1..19"

saved_pool=$(cat $pool)
saved_thp=$(sed 's/.*\[\(.*\)\].*/\1/' $thp)
restore() {
	echo "$saved_pool" > $pool
	echo "$saved_thp" > $thp 2>/dev/null
}
trap restore EXIT

set_pool() {		# set_pool N: exactly N free pages, or fail loudly
	echo 0 > $pool
	echo "$1" > $pool
	local got
	got=$(cat $pool)
	if [ "$got" -ne "$1" ]; then
		echo "# asked for $1 hugetlb pages, the kernel gave $got"
		return 1
	fi
}

# 1. A pool of 24 pages: 16 MiB of 64-byte objects (9 superslabs) and an
#    8 MiB block (4 pages) fit.
if set_pool 24; then
	out=$(LD_PRELOAD=$lib HAKMEM_STATS=1 "$probe" 16 64 2>&1)
	check "heap on 2 MiB pages (KernelPageSize 2048 kB)" [ "$(val heap_page_kb "$out")" = 2048 ]
	check "every heap mapping is hugetlb (Private_Hugetlb = mapping size)" \
		[ "$(val heap_hugetlb_kb "$out")" = "$(val heap_kb "$out")" -a "$(val heap_kb "$out")" -gt 0 ]
	check "an 8 MiB block is on 2 MiB hugetlb pages too" \
		[ "$(val big_hugetlb_kb "$out")" = 8192 -a "$(val big_page_kb "$out")" = 2048 ]
	check "the stats count hugetlb superslabs and no fallback" \
		grep -q 'hugetlb [1-9][0-9]*, thp 0, 4k 0;.* tier fallbacks 0' <<<"$out"
	[ $failed -eq 0 ] || sed 's/^/# /' <<<"$out" | grep -v 'hakmem:  '
else
	for t in 1 2 3 4; do nok "could not reserve the hugetlb pool"; done
fi

# 2. A pool of 4 pages under a heap of 300 MiB: it runs dry mid-run.
if set_pool 4; then
	out=$(LD_PRELOAD=$lib HAKMEM_STATS=1 HAKMEM_VERBOSE=1 "$probe" 300 64 2>&1)
	rc=$?
	check "300 MiB heap on a 4-page pool completes" [ $rc -eq 0 -a "$(val objects "$out")" = 4915200 ]
	check "the fallback is counted (hugetlb pool dry > 0)" \
		grep -q 'hugetlb pool dry [1-9]' <<<"$out"
	check "the pool's pages were used first (hugetlb superslabs > 0)" \
		grep -q 'by page tier: hugetlb [1-9]' <<<"$out"
	check "the fallback is reported once when verbose" \
		[ "$(grep -c 'hugetlb pool has no free page' <<<"$out")" = 1 ]
	[ $failed -eq 0 ] || sed 's/^/# /' <<<"$out" | grep -v 'hakmem:  ' | head -20
else
	for t in 1 2 3 4; do nok "could not reserve the hugetlb pool"; done
fi

# 3. Pool empty, THP in madvise mode: auto takes transparent hugepages.
set_pool 0
if echo madvise > $thp 2>/dev/null; then
	out=$(LD_PRELOAD=$lib HAKMEM_STATS=1 "$probe" 32 64 2>&1)
	check "pool empty, THP madvise: the heap shows AnonHugePages" \
		[ "$(val heap_anonhuge_kb "$out")" -gt 0 ]
	check "auto chose THP and made no hugetlb attempt" \
		grep -q 'first tried thp' <<<"$out"
	[ $failed -eq 0 ] || sed 's/^/# /' <<<"$out" | grep -v 'hakmem:  ' | head -20
else
	ok "# SKIP cannot set THP to madvise"
	ok "# SKIP cannot set THP to madvise"
fi

# 4. HAKMEM_HUGEPAGES=hugetlb on an empty pool: every superslab falls back.
out=$(LD_PRELOAD=$lib HAKMEM_STATS=1 HAKMEM_HUGEPAGES=hugetlb "$probe" 16 64 2>&1)
rc=$?
check "HAKMEM_HUGEPAGES=hugetlb with no pool completes on the next tier" \
	[ $rc -eq 0 -a "$(val heap_hugetlb_kb "$out")" = 0 ]
check "... and counts each superslab as a dry-pool fallback" \
	eval 'grep -q "hugetlb 0, thp [1-9]" <<<"$out" && grep -q "hugetlb pool dry [1-9]" <<<"$out"'

# 5. HAKMEM_HUGEPAGES=off with a pool: plain pages only.
if set_pool 24; then
	out=$(LD_PRELOAD=$lib HAKMEM_STATS=1 HAKMEM_HUGEPAGES=off "$probe" 16 64 2>&1)
	check "HAKMEM_HUGEPAGES=off: no hugetlb, no AnonHugePages" \
		[ "$(val heap_hugetlb_kb "$out")" = 0 -a "$(val heap_anonhuge_kb "$out")" = 0 ]
	free_after=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)
	check "... and the pool is left untouched" [ "$free_after" = 24 ]
else
	nok "could not reserve the hugetlb pool"; nok "could not reserve the hugetlb pool"
fi
# 6. fork from a heap on hugetlb pages, with spare pages in the pool for
#    the children's copies (design.rst says what happens without them).
if set_pool 64; then
	out=$(LD_PRELOAD=$lib HAKMEM_HUGEPAGES=hugetlb timeout 120 \
		"$objtree/tools/testing/selftests/api_fork" 2>&1)
	check "fork from a hugetlb heap: children allocate, parent intact (api_fork)" \
		[ $? -eq 0 -a "$(grep -c '^ok' <<<"$out")" -ge 5 ]
	out=$(LD_PRELOAD=$lib HAKMEM_HUGEPAGES=hugetlb timeout 180 \
		"$objtree/tools/testing/stress/forkstorm" forks=100 2>&1)
	check "fork storm on a hugetlb heap (100 forks while threads allocate)" \
		[ $? -eq 0 -a "$(grep -c '^not ok' <<<"$out")" = 0 ]
	[ $failed -eq 0 ] || sed 's/^/# /' <<<"$out" | tail -8
else
	nok "could not reserve the hugetlb pool"; nok "could not reserve the hugetlb pool"
fi
# 7. Every API selftest on the hugetlb tier: with a pool large enough, and
#    with one of 3 pages that runs dry (huge blocks then span tiers, and
#    realloc moves them across).  api_fork is left out of the dry run: a
#    child that writes an inherited hugetlb page needs a pool page for its
#    copy, and without one the kernel kills it with SIGBUS (the known
#    limitation in design.rst, checked as a TODO below).
for pages in 256 3; do
	if ! set_pool $pages; then
		nok "could not reserve the hugetlb pool"
		continue
	fi
	bad=""
	for t in "$objtree"/tools/testing/selftests/api_*; do
		[ -x "$t" ] || continue
		[ $pages = 3 ] && [ "${t##*/}" = api_fork ] && continue
		out=$(LD_PRELOAD=$lib HAKMEM_HUGEPAGES=hugetlb timeout 180 "$t" 2>&1)
		if [ $? -ne 0 ] || grep -q '^not ok' <<<"$out"; then
			bad="$bad ${t##*/}"
		fi
	done
	check "every API selftest passes on the hugetlb tier, pool of $pages pages${bad:+ (failed:$bad)}" \
		[ -z "$bad" ]
done
out=$(LD_PRELOAD=$lib HAKMEM_HUGEPAGES=hugetlb timeout 180 \
	"$objtree/tools/testing/selftests/api_fork" 2>&1)
killed=$(grep -c 'killed by signal 7' <<<"$out")
n=$((n + 1))
if [ "$killed" = 0 ]; then
	echo "ok $n - fork children survive on a hugetlb heap with a dry pool # TODO private hugetlb COW"
else
	echo "not ok $n - fork children survive on a hugetlb heap with a dry pool (children killed by SIGBUS) # TODO private hugetlb COW needs spare pool pages"
fi
exit $((failed > 0))
