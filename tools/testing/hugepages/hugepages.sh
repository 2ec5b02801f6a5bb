#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The page tiers on this machine, read back from /proc/PID/smaps:
#   - with a hugetlb pool reserved here, the heap and a block of 8 MiB sit
#     on 2 MiB hugetlb pages, which maps names by tier and node;
#   - with a pool of a few pages and a heap of 300 MiB the program
#     completes, the fallback is counted and reported once;
#   - with the pool empty and THP in madvise mode the heap is AnonHugePages;
#   - HAKMEM_HUGEPAGES=off and =hugetlb on an empty pool behave;
#   - fork from a hugetlb heap (pool with spare pages) works;
#   - the API selftests pass on the hugetlb tier, also when the pool is dry,
#     api_fork included (threads allocating while the parent forks);
#   - forkwrite: with spare pages the children get copies of the heap
#     (HAKMEM_FORK_HUGETLB=copy, the default) or share its pages (auto);
#     with a pool of exactly the pages the parent's heap took (none free),
#     a parent with threads allocating and a FILE open forks 8 children
#     that write all over their heap and fork a grandchild each, while the
#     parent rewrites its own: nobody is killed, every heap is intact,
#     repeated 5 times.  The library from before the fork copy fails these.
#   - the same while the pool is shrunk to 0 and grown again without
#     pause: the kernel then loses reserved pages not yet faulted of a
#     process that forks (resvlost shows it without hakmem), so hugetlb
#     commits are populated at once; nobody may be killed.
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
echo "1..32"

saved_pool=$(cat $pool)
saved_thp=$(sed 's/.*\[\(.*\)\].*/\1/' $thp)
churner=
restore() {
	[ -z "$churner" ] || kill "$churner" 2>/dev/null
	wait 2>/dev/null
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
	check "maps names the heap's hugetlb mappings by tier and node ($(val heap_name "$out"))" \
		[ "$(val heap_name "$out")" = "/memfd:hakmem-hugetlb-n0 (deleted)" ]
	check "... and the 8 MiB block's ($(val big_name "$out"))" \
		[ "$(val big_name "$out")" = "/memfd:hakmem-hugetlb-n0 (deleted)" ]
	# No descriptor free for the memfd: the block is hugetlb all the same.
	out=$(ulimit -n 64; LD_PRELOAD=$lib "$probe" 4 64 nofd 2>&1)
	check "with no descriptor free, an 8 MiB block still lands on hugetlb pages" \
		[ "$(val big_hugetlb_kb "$out")" = 8192 -a "$(val nofd_dups "$out")" -gt 0 ]
	check "... mapped anonymously ($(val big_name "$out"))" \
		[ "$(val big_name "$out")" = "/anon_hugepage (deleted)" ]
	[ $failed -eq 0 ] || sed 's/^/# /' <<<"$out" | grep -v 'hakmem:  '
else
	for t in 1 2 3 4 5 6 7 8; do nok "could not reserve the hugetlb pool"; done
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
#    realloc moves them across).  api_fork's children write what they
#    inherit while background threads of the parent allocate.
for pages in 256 3; do
	if ! set_pool $pages; then
		nok "could not reserve the hugetlb pool"
		continue
	fi
	bad=""
	for t in "$objtree"/tools/testing/selftests/api_*; do
		[ -x "$t" ] || continue
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
rc=$?
check "fork children survive on a hugetlb heap with a dry pool (api_fork, threads allocating)" \
	[ $rc -eq 0 -a "$(grep -c '^not ok' <<<"$out")" = 0 -a "$(grep -c '^ok' <<<"$out")" -ge 5 ]
[ $rc -eq 0 ] || sed 's/^/# /' <<<"$out" | tail -8
out=$(LD_PRELOAD=$lib HAKMEM_HUGEPAGES=hugetlb timeout 180 \
	"$objtree/tools/testing/stress/forkstorm" forks=100 2>&1)
check "fork storm on a hugetlb heap with a dry pool (100 forks while threads allocate)" \
	[ $? -eq 0 -a "$(grep -c '^not ok' <<<"$out")" = 0 ]

# 8. forkwrite: 16 MiB of 64-byte objects, a 6 MiB block and a FILE.
fw=$objtree/tools/testing/hugepages/forkwrite
used=0
if set_pool 64; then
	out=$(LD_PRELOAD=$lib HAKMEM_HUGEPAGES=hugetlb timeout 120 "$fw" 16 4 keep 2>&1)
	used=$((64 - $(val pool_free "$out")))
	check "spare pool: every child wrote its heap and exited 0, the parent's is intact" \
		[ "$(val children_ok "$out")" = 4 -a "$(val parent_ok "$out")" = 1 ]
	check "spare pool, HAKMEM_FORK_HUGETLB=copy: the children's heap is off the pool" \
		[ "$(grep -c '^child_heap_hugetlb_kb=0$' <<<"$out")" = 4 ]
	[ $failed -eq 0 ] || sed 's/^/# /' <<<"$out" | tail -12
	out=$(LD_PRELOAD=$lib HAKMEM_HUGEPAGES=hugetlb HAKMEM_FORK_HUGETLB=auto timeout 120 \
		"$fw" 16 4 keep 2>&1)
	# auto shares when free - reserved covers twice the heap's pages + 8.
	if [ "$(val pool_free "$out")" -ge $((2 * used + 8)) ]; then
		check "spare pool, HAKMEM_FORK_HUGETLB=auto: children share the hugetlb pages, all exit 0" \
			[ "$(grep -c '^child_heap_page_kb=2048$' <<<"$out")" = 4 -a \
			  "$(val children_ok "$out")" = 4 -a "$(val parent_ok "$out")" = 1 ]
		[ $failed -eq 0 ] || sed 's/^/# /' <<<"$out" | tail -12
	else
		ok "# SKIP another process took the pool ($(val pool_free "$out") pages free)"
	fi
else
	for t in 1 2 3; do nok "could not reserve the hugetlb pool"; done
fi
#    Then a pool of exactly those pages: none left once the parent has
#    allocated.  Formerly every child died of SIGBUS here, and with threads
#    the first copying version lost children to glibc's FILE lock reset.
if [ "$used" -gt 0 ] && set_pool "$used"; then
	out=$(LD_PRELOAD=$lib HAKMEM_HUGEPAGES=hugetlb timeout 120 \
		"$fw" 16 8 threads=2 nested keep 2>&1)
	if [ "$(val pool_free "$out")" = 0 ]; then
		check "exact pool ($used pages, 0 free after the parent allocated, $(val parent_heap_hugetlb_kb "$out") KiB of the heap on it): 8 children of a threaded parent write and fork, none killed" \
			[ "$(val parent_heap_hugetlb_kb "$out")" -gt 0 -a \
			  "$(val children_ok "$out")" = 8 -a "$(val children_signalled "$out")" = 0 ]
	else
		ok "# SKIP another process resized the pool ($(val pool_free "$out") pages free)"
	fi
	check "exact pool: children's heap off the pool, parent's heap and threads' blocks intact" \
		[ "$(grep -c '^child_heap_hugetlb_kb=0$' <<<"$out")" = 8 -a \
		  "$(val parent_ok "$out")" = 1 -a "$(val threads_bad "$out")" = 0 ]
	[ $failed -eq 0 ] || sed 's/^/# /' <<<"$out" | tail -12
	bad=0
	for r in 1 2 3 4 5; do
		out=$(LD_PRELOAD=$lib HAKMEM_HUGEPAGES=hugetlb timeout 120 \
			"$fw" 16 8 threads=2 nested 2>&1)
		rc=$?
		if [ $rc -ne 0 -o "$(val children_ok "$out")" != 8 -o \
		     "$(val parent_heap_hugetlb_kb "$out")" = 0 -o \
		     "$(val parent_ok "$out")" != 1 -o "$(val threads_bad "$out")" != 0 ]; then
			bad=$((bad + 1))
			echo "# run $r: exit $rc" $(tail -6 <<<"$out")
		fi
	done
	check "exact pool, 5 more runs of 8 forks: parent and children never killed ($bad bad)" \
		[ $bad = 0 ]
else
	for t in 1 2 3; do nok "could not reserve an exact hugetlb pool"; done
fi
# 9. Forks while the pool is shrunk and grown again.  resvlost, without
#    hakmem, is only reported: whether this kernel loses the reservations.
churn() {	# churn N: shrink the pool to 0 and back to N until killed
	while :; do echo 0 > $pool; echo "$1" > $pool; sleep 0.02; done
}
churn 12 & churner=$!
out=$(timeout 60 "$objtree/tools/testing/hugepages/resvlost" 2>&1)
echo "# resvlost without MAP_POPULATE under pool churn: exit $? (135: this kernel lost a reserved page)"
bad=0
for r in 1 2 3; do
	out=$(LD_PRELOAD=$lib HAKMEM_HUGEPAGES=hugetlb timeout 120 \
		"$objtree/tools/testing/selftests/api_fork" 2>&1)
	rc=$?
	[ $rc -eq 0 ] && ! grep -q '^not ok' <<<"$out" || { bad=$((bad + 1)); echo "# api_fork run $r: exit $rc"; }
done
check "api_fork while the pool is shrunk to 0 and regrown: 3 runs, parent and children never killed ($bad bad)" \
	[ $bad = 0 ]
out=$(LD_PRELOAD=$lib HAKMEM_HUGEPAGES=hugetlb timeout 120 "$fw" 16 8 threads=2 nested 2>&1)
rc=$?
check "forkwrite (threads, nested forks) while the pool is shrunk and regrown: nobody killed" \
	[ $rc -eq 0 -a "$(val children_ok "$out")" = 8 -a "$(val parent_ok "$out")" = 1 -a \
	  "$(val threads_bad "$out")" = 0 ]
[ $rc -eq 0 ] || sed 's/^/# /' <<<"$out" | tail -8
kill "$churner"
wait "$churner" 2>/dev/null
churner=
exit $((failed > 0))
