#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build the allocation API selftests by hand and run them with
# LD_PRELOAD=<lib>.
#
#   tools/testing/selftests/run_selftests.sh [path/to/libhakmem.so]
#
# Without a library argument (or with "none") the programs run against
# the system allocator with HAKMEM_SELFTEST_ALLOW_OTHER=1.
# OUT=<dir> selects the build directory (default /tmp/st-build).
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/st-build}
lib=${1:-none}
cc=${CC:-cc}
cflags="-O2 -g -Wall -Wextra -Wno-deprecated-declarations -fno-builtin -pthread -I $here"

progs=$(sed -n 's/^selftests-y[[:space:]]*+=[[:space:]]*//p' "$here/Makefile")
mkdir -p "$out" || exit 1

fail=0
for p in $progs; do
	if ! $cc $cflags -o "$out/$p" "$here/$p.c" -ldl -lpthread; then
		echo "not ok - build $p"
		fail=1
	fi
done

for p in $progs; do
	[ -x "$out/$p" ] || continue
	echo "# ==== $p"
	if [ "$lib" = none ]; then
		HAKMEM_SELFTEST_ALLOW_OTHER=1 "$out/$p"
	else
		LD_PRELOAD="$lib" "$out/$p"
	fi
	rc=$?
	echo "# ==== $p: exit $rc"
	[ $rc -eq 0 ] || fail=1
done
exit $fail
