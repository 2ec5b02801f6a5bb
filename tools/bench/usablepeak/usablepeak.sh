#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# usablepeak.sh - the bytes an allocator hands a program at its peak
# (usablepeak.c): the sum of malloc_usable_size over the live blocks when
# it was largest, and that peak's make-up by usable size.
#
#   tools/bench/usablepeak/usablepeak.sh LIB|glibc COMMAND [ARG...]
#
# Builds the wrapper, runs COMMAND with it preloaded in front of LIB (alone
# for glibc), and passes COMMAND's exit status on.  The report goes to
# standard error at exit, lines starting "usablepeak:".
set -eu

here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: usablepeak.sh LIB|glibc COMMAND [ARG...]" >&2; exit 2; }
lib=$1
shift
if [ "$lib" != glibc ] && [ ! -f "$lib" ]; then
	echo "usablepeak.sh: no library $lib" >&2
	exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -fPIC -shared -o "$tmp/usablepeak.so" "$here/usablepeak.c" -ldl
preload=$tmp/usablepeak.so
[ "$lib" = glibc ] || preload="$preload $lib"
rc=0
env LD_PRELOAD="$preload" "$@" || rc=$?
exit $rc
