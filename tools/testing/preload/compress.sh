#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Archivers and compressors under the preloaded allocator: tar piped through
# xz (two threads, large dictionary), gzip and bzip2, and back.  The
# extracted tree must equal the original byte for byte, and the compressed
# streams must equal those made without the library.
#
#   tools/testing/preload/compress.sh /abs/path/libhakmem.so
. "$(dirname "$0")/tap-lib.bash"
tap_init "$@" compress
tap_plan 6

check_loaded
for t in tar xz gzip bzip2; do
	command -v $t >/dev/null || bail "$t not found"
done

# A tree of text, repetitive and incompressible files.
src=$TMP/tree
mkdir -p "$src/a/b" "$src/c"
seq 1 200000 >"$src/a/numbers.txt"
awk 'BEGIN { for (i = 0; i < 50000; i++) printf "%s line %d of some repetitive text\n", (i % 3 ? "the" : "a"), i }' >"$src/a/b/text.txt"
head -c 3000000 /dev/urandom >"$src/c/random.bin"
for i in $(seq 1 200); do printf 'small file %d\n' $i >"$src/c/small.$i"; done
(cd "$src" && find . -type f | sort | xargs md5sum) >"$TMP/sums"

archive() {	# archive OUTDIR [pre]
	local out=$1 P=
	[ -n "${2:-}" ] && P="env LD_PRELOAD=$LIB"
	mkdir -p "$out"
	( cd "$TMP" && $P tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - tree ) >"$out/t.tar" || return 1
	$P xz -T2 -6 -c "$out/t.tar" >"$out/t.tar.xz" || return 1
	$P gzip -9 -n -c "$out/t.tar" >"$out/t.tar.gz" || return 1
	$P bzip2 -9 -c "$out/t.tar" >"$out/t.tar.bz2" || return 1
}
archive "$TMP/base" >"$TMP/base.log" 2>&1 || bail "archiving fails without the library: $(tail -n 3 "$TMP/base.log")"

timeout -k 10 "$PRELOAD_TIMEOUT" bash -c "$(declare -f archive); LIB='$LIB' TMP='$TMP' archive '$TMP/pre' pre" >"$TMP/pre.log" 2>&1
st=$?
result "tar, xz -T2, gzip and bzip2 compress the tree" $st "$(describe_status $st): $(tail -n 3 "$TMP/pre.log")"

same=0
for f in t.tar t.tar.xz t.tar.gz t.tar.bz2; do
	cmp -s "$TMP/base/$f" "$TMP/pre/$f" || { same=1; diag "$f differs"; }
done
result "archive and compressed streams equal those made without the library" $same

# Decompress each stream (preloaded) and unpack (preloaded); compare trees.
rt=0
for z in "xz -d -T2" "gzip -d" "bzip2 -d"; do
	d=$TMP/x.${z%% *}
	mkdir -p "$d"
	ext=${z%% *}; ext=${ext/gzip/gz}; ext=${ext/bzip2/bz2}
	if ! run_pre $z -c "$TMP/pre/t.tar.$ext" | (cd "$d" && run_pre tar -xf -) 2>>"$TMP/x.log"; then
		rt=1
		diag "$z | tar -x failed"
		continue
	fi
	(cd "$d/tree" && find . -type f | sort | xargs md5sum) | cmp -s - "$TMP/sums" ||
		{ rt=1; diag "tree extracted through '$z' differs"; }
done
result "xz, gzip and bzip2 streams decompress and unpack to the original tree" $rt

run_pre xz -t "$TMP/pre/t.tar.xz" && run_pre gzip -t "$TMP/pre/t.tar.gz" &&
	run_pre bzip2 -t "$TMP/pre/t.tar.bz2"
result "integrity tests of the three streams pass" $?

# A large in-memory dictionary: xz -9 asks for ~ 700 MiB of heap at once.
head -c 3000000 /dev/urandom | od -An -tx1 -v | head -c 6000000 >"$TMP/hex.txt"
run_pre xz -9 -T1 -c "$TMP/hex.txt" 2>"$TMP/xz9.err" | run_pre xz -d -c | cmp -s - "$TMP/hex.txt"
st=$?
result "xz -9 (64 MiB dictionary) round-trips 6 MB" $st "$(tail -n 3 "$TMP/xz9.err")"
tap_done
