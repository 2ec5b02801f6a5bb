#!/usr/bin/env bash
# The test suite: everything `make check` runs, in one prove(1) session per
# part, so each part's TAP is summed up and the last lines say PASS or FAIL.
#
#   tools/testing/run-tests.sh OBJTREE [--only PART]
#
# Parts: build (the build system), unit, selftests, selftests-central (the
# same selftests with the per-CPU caches off), selftests-norseq and
# selftests-fallback (selftests, stress and real programs again, with
# glibc's rseq registration off so hakmem registers its own, and with the
# locked fallback forced), stress (with a short soak), percpu (every
# front-end configuration: modes, race injection, the generic-only build,
# valgrind), hugepages (the page tiers read back from smaps, with a hugetlb
# pool reserved and restored), numa-vm (a two-node qemu guest), preload
# (real programs), command (the hakmem command and the statistics
# formats), bench-smoke.
#
# One part runs only when asked for: vmaname-vm (the mapping names on a
# two-node guest whose kernel, built with CONFIG_ANON_VMA_NAME, it builds
# first: six to nine minutes the first time), with --only vmaname-vm, or
# in the whole run with HAKMEM_VMANAME_VM=1.
set -u
objtree=$(cd "${1:?usage: run-tests.sh OBJTREE}" && pwd)
shift
srctree=$(cd "$(dirname "$0")/../.." && pwd)
only=
while [ $# -gt 0 ]; do
	case "$1" in
	--only) only=$2; shift ;;
	*) echo "run-tests.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

export HAKMEM_LIB=$objtree/libhakmem.so
export HAKMEM_OBJTREE=$objtree
[ -f "$HAKMEM_LIB" ] || { echo "run-tests.sh: $HAKMEM_LIB not built" >&2; exit 2; }
exec_helper=$srctree/tools/testing/tap-exec

failed=()
passed=()

part() {
	local name=$1; shift
	[ -n "$only" ] && [ "$only" != "$name" ] && return 0
	if [ $# -eq 0 ]; then
		echo "== $name: nothing to run"
		return 0
	fi
	echo "== $name"
	if prove --timer -e "$exec_helper" "$@"; then
		passed+=("$name")
	else
		failed+=("$name")
	fi
}

list() {	# list DIR PATTERN: the matching files, sorted
	local d=$1 pat=$2
	[ -d "$d" ] || return 0
	find "$d" -maxdepth 1 -type f -name "$pat" ! -name '*.*' -perm -u+x | sort
}

part build "$srctree/tools/testing/build/build.sh"
part unit $(list "$objtree/tools/testing/unit" 'test_*')
part selftests $(list "$objtree/tools/testing/selftests" '*')
HAKMEM_PERCPU=off part selftests-central $(list "$objtree/tools/testing/selftests" '*')
# The library-level suite (selftests, stress, real programs) again with
# hakmem's own rseq registration, and with the locked front end.
suite() {
	list "$objtree/tools/testing/selftests" '*'
	list "$objtree/tools/testing/stress" '*'
	find "$srctree/tools/testing/preload" -maxdepth 1 -name '*.sh' 2>/dev/null | sort
}
GLIBC_TUNABLES=glibc.pthread.rseq=0 part selftests-norseq $(suite)
HAKMEM_PERCPU=fallback part selftests-fallback $(suite)
part stress $(list "$objtree/tools/testing/stress" '*')
part percpu "$srctree/tools/testing/stress/percpu-modes.sh"
part hugepages "$srctree/tools/testing/hugepages/hugepages.sh"
part numa-vm "$srctree/tools/testing/numa-vm/numa-vm.sh"
if [ "$only" = vmaname-vm ] || [ "${HAKMEM_VMANAME_VM:-0}" = 1 ]; then
	# The kernel build alone may outlast the usual limit of a test.
	HAKMEM_TEST_TIMEOUT=${HAKMEM_TEST_TIMEOUT:-1800} \
		part vmaname-vm "$srctree/tools/testing/numa-vm/vmaname-vm.sh"
fi
part preload $(find "$srctree/tools/testing/preload" -maxdepth 1 -name '*.sh' 2>/dev/null | sort)
part command $(find "$srctree/tools/testing/command" -maxdepth 1 -name '*.sh' 2>/dev/null | sort)
if [ -x "$srctree/tools/bench/smoke.sh" ]; then
	part bench-smoke "$srctree/tools/bench/smoke.sh"
fi

echo
echo "parts passed: ${passed[*]:-none}"
echo "parts failed: ${failed[*]:-none}"
echo "${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
