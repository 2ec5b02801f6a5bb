#!/bin/bash
# SPDX-License-Identifier: MIT
#
# smoke.sh - run every benchmark workload once, at a tiny size, under the
# given allocator library, so that the benchmark never rots.  Part of the
# test suite; the benchmark proper (run.sh) is not.
#
# usage: tools/bench/smoke.sh LIBHAKMEM.so [BINDIR]
#
# BINDIR holds the compiled workloads (tools/bench/<name>); without it, or
# when some are missing there, they are compiled into a temporary
# directory.  Output is TAP; the exit status
# is non-zero when any item failed.  Real programs whose tools are not
# installed are skipped ("# SKIP"), never installed from here.

set -u

# The test suite (tools/testing/tap-exec) passes both; HAKMEM_LIB and
# HAKMEM_OBJTREE are its fallbacks.
lib=${1:-${HAKMEM_LIB:-}}
bindir=${2:-}
if [ -z "$bindir" ] && [ -n "${HAKMEM_OBJTREE:-}" ]; then
	bindir=$HAKMEM_OBJTREE/tools/bench
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=workloads.sh
. "$here/workloads.sh"

if [ -z "$lib" ] || [ ! -f "$lib" ]; then
	echo "usage: $0 LIBHAKMEM.so [BINDIR]" >&2
	echo "1..0 # SKIP no allocator library given or found: '${lib}'"
	exit 1
fi
lib=$(readlink -f "$lib")

work=$(mktemp -d /tmp/hakmem-smoke.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT

# Use BINDIR only when it holds every program; otherwise compile them.
for p in $BENCH_PROGS; do
	[ -n "$bindir" ] && [ -x "$bindir/$p" ] || { bindir=""; break; }
done
if [ -z "$bindir" ]; then
	bindir="$work/bin"
	if ! bench_build "$bindir" >"$work/build.log" 2>&1; then
		echo "1..1"
		echo "not ok 1 build workloads"
		sed 's/^/# /' "$work/build.log"
		exit 1
	fi
fi

items="allocwho allocwho-negative standin usablepeak $BENCH_ALL"
total=$(echo "$items" | wc -w)
echo "1..$total"

n=0
failed=0

report() { # STATUS NAME [DETAIL-FILE]
	n=$((n + 1))
	case $1 in
	ok) echo "ok $n $2" ;;
	skip) echo "ok $n $2 # SKIP $3" ;;
	*)
		echo "not ok $n $2"
		failed=$((failed + 1))
		[ -n "${3:-}" ] && [ -f "$3" ] && tail -n 20 "$3" | sed 's/^/# /'
		;;
	esac
}

# 1. The allocator under test is the one malloc binds to.
alloc_env hakmem "$lib"
if out=$(env LD_PRELOAD="$A_PRELOAD" BENCH_EXPECT="$A_EXPECT" "$bindir/allocwho" 2>"$work/err"); then
	echo "# $out"
	report ok allocwho
else
	report fail allocwho "$work/err"
fi

# 2. The check refuses a run that silently used another malloc.
if env BENCH_EXPECT="$lib" "$bindir/allocwho" >/dev/null 2>&1; then
	echo "# allocwho accepted a run without $lib" >"$work/err"
	report fail allocwho-negative "$work/err"
else
	report ok allocwho-negative
fi

# 3. The stand-in allocators (standin/standin.sh) build and run seed, and
# so does the library beside them: eight result lines.
if "$here/standin/standin.sh" "$bindir/seed" 1 20000 "$lib" >"$work/standin" 2>&1 &&
	[ "$(grep -c '^[a-z][-a-z0-9._]* *[0-9.]* *[0-9]*$' "$work/standin")" -eq 8 ]; then
	sed 's/^/# /' "$work/standin"
	report ok standin
else
	report fail standin "$work/standin"
fi

# 4. usablepeak/usablepeak.sh sees seed's working set at its peak: 400
# blocks of 1024 bytes, in hakmem's 1024-byte class.
if "$here/usablepeak/usablepeak.sh" "$lib" "$bindir/seed" 20000 400 1 1024 1024 \
		>/dev/null 2>"$work/usablepeak" &&
	awk '/^usablepeak: peak [0-9]+ KiB/ { p = 1 }
	     /^usablepeak:   <= 1024 bytes: [0-9]+ KiB in [0-9]+ blocks$/ && $8 >= 400 && $8 <= 401 { c = 1 }
	     END { exit !(p && c) }' "$work/usablepeak"; then
	grep '^usablepeak: peak' "$work/usablepeak" | sed 's/^/# /'
	report ok usablepeak
else
	report fail usablepeak "$work/usablepeak"
fi

# 5. Every workload once, tiny.
for id in $BENCH_ALL; do
	missing=""
	for t in $(wl_tools "$id"); do
		command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
	done
	if [ -n "$missing" ]; then
		report skip "$id" "not installed:$missing"
		continue
	fi
	if line=$(wl_run "$id" tiny hakmem "$lib" "$bindir" "$work/$id" 2>"$work/$id.err"); then
		echo "# $line"
		report ok "$id"
	else
		report fail "$id" "$work/$id.err"
	fi
done

[ "$failed" -eq 0 ]
