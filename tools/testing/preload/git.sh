#!/bin/bash
# SPDX-License-Identifier: MIT
#
# git under the preloaded allocator: init, add, several commits, log, gc,
# fsck, and files round-tripping through the object store.  With fixed
# dates and identities the commit ids must equal those of the same history
# made without the library.
#
#   tools/testing/preload/git.sh /abs/path/libhakmem.so
. "$(dirname "$0")/tap-lib.bash"
tap_init "$@" git
tap_plan 11

check_loaded
command -v git >/dev/null || bail "git not found"

# Isolate git from the user's and system configuration.
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="Test Author" GIT_AUTHOR_EMAIL=author@example.invalid
export GIT_COMMITTER_NAME="Test Committer" GIT_COMMITTER_EMAIL=committer@example.invalid
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE
mkdir -p "$HOME"

# Input files: text, a large generated file, a binary blob.
mkdir -p "$TMP/files"
seq 1 20000 | awk '{ printf "line %d %x\n", $1, $1 * 2654435761 % 4294967296 }' >"$TMP/files/big.txt"
awk 'BEGIN { srand(7); for (i = 0; i < 300000; i++) printf "%c", int(rand() * 256) }' >"$TMP/files/blob.bin"
printf 'hello\n' >"$TMP/files/hello.txt"

NCOMMITS=6
# make_history REPO [preload]: the same history each time.
make_history() {
	local repo=$1 pre=${2:-} i
	g() {
		if [ -n "$pre" ]; then
			run_pre git -C "$repo" "$@"
		else
			git -C "$repo" "$@"
		fi
	}
	mkdir -p "$repo" || return 1
	g init -q -b main . || return 1
	g config core.autocrlf false || return 1
	for i in $(seq 1 $NCOMMITS); do
		export GIT_AUTHOR_DATE="2020-01-0$i 12:00:00 +0000"
		export GIT_COMMITTER_DATE="$GIT_AUTHOR_DATE"
		case $i in
		1) cp "$TMP/files/hello.txt" "$repo/" ;;
		2) cp "$TMP/files/big.txt" "$repo/" ;;
		3) cp "$TMP/files/blob.bin" "$repo/" ;;
		4) mkdir -p "$repo/dir/sub" && seq 1 500 >"$repo/dir/sub/n.txt" ;;
		5) sed -i 's/^line 1\([0-9]*\) /LINE 1\1 /' "$repo/big.txt" ;;
		6) rm -f "$repo/hello.txt"
		   printf 'bye\n' >"$repo/bye.txt" ;;
		esac
		g add -A . || return 1
		g commit -q -m "commit number $i" -m "body of commit $i" || return 1
	done
	g tag -a v1 -m "tag message" HEAD~2 || return 1
	g gc -q --aggressive --prune=now || return 1
}

make_history "$TMP/base" >"$TMP/base.log" 2>&1 || bail "git fails without the library: $(tail -n 5 "$TMP/base.log")"

make_history "$TMP/repo" pre >"$TMP/pre.log" 2>&1
st=$?
result "init, add, $NCOMMITS commits, tag and gc --aggressive succeed" $st \
	"$(describe_status $st); log: $(tail -n 5 "$TMP/pre.log")"

R=$TMP/repo
run_pre git -C "$R" log --format=%s >"$TMP/log.out" 2>"$TMP/log.err"
st=$?
seq 1 $NCOMMITS | sort -rn | sed 's/^/commit number /' >"$TMP/log.want"
if [ $st -eq 0 ] && cmp -s "$TMP/log.want" "$TMP/log.out"; then
	ok "git log lists the $NCOMMITS commit messages in order"
else
	not_ok "git log lists the $NCOMMITS commit messages in order" "$(describe_status $st); got:"
	diag_file "$TMP/log.out"
fi

run_pre git -C "$R" log --format='%H %T %B' >"$TMP/ids.pre" 2>&1
git -C "$TMP/base" log --format='%H %T %B' >"$TMP/ids.base" 2>&1
same_output "commit and tree ids equal those made without the library" "$TMP/ids.base" "$TMP/ids.pre"

run_pre git -C "$R" fsck --full --strict >"$TMP/fsck.out" 2>&1
st=$?
if [ $st -eq 0 ] && ! grep -qiE '^(error|fatal|missing|broken)' "$TMP/fsck.out"; then
	ok "git fsck --full --strict is clean"
else
	not_ok "git fsck --full --strict is clean" "$(describe_status $st):"
	diag_file "$TMP/fsck.out"
fi

# Round trips through the (packed) object store.
rt=0
run_pre git -C "$R" show HEAD:big.txt >"$TMP/big.out" 2>/dev/null || rt=1
sed 's/^line 1\([0-9]*\) /LINE 1\1 /' "$TMP/files/big.txt" | cmp -s - "$TMP/big.out" || rt=1
result "git show HEAD:big.txt round-trips (edited 20000-line file)" $rt
rt=0
run_pre git -C "$R" show HEAD:blob.bin >"$TMP/blob.out" 2>/dev/null || rt=1
cmp -s "$TMP/files/blob.bin" "$TMP/blob.out" || rt=1
run_pre git -C "$R" show v1:hello.txt >"$TMP/hello.out" 2>/dev/null || rt=1
cmp -s "$TMP/files/hello.txt" "$TMP/hello.out" || rt=1
result "binary blob and a file from the tagged commit round-trip" $rt

run_pre git -C "$R" diff --stat HEAD~5 HEAD >"$TMP/diff.out" 2>&1
st=$?
if [ $st -eq 0 ] && grep -q '5 files changed' "$TMP/diff.out" &&
	grep -q 'big.txt' "$TMP/diff.out" && grep -q 'dir/sub/n.txt' "$TMP/diff.out"; then
	ok "git diff --stat across the history"
else
	not_ok "git diff --stat across the history" "$(describe_status $st):"
	diag_file "$TMP/diff.out"
fi

# After gc everything is in one pack; verify-pack reads it all back.
pack=$(ls "$R"/.git/objects/pack/*.idx 2>/dev/null | head -n 1)
if [ -n "$pack" ]; then
	run_pre git -C "$R" verify-pack -v "$pack" >"$TMP/vp.out" 2>&1
	st=$?
	n=$(grep -cE '^[0-9a-f]{40} (commit|tree|blob|tag) ' "$TMP/vp.out")
	if [ $st -eq 0 ] && [ "$n" -ge $((NCOMMITS * 2)) ]; then
		ok "verify-pack reads the pack ($n objects)"
	else
		not_ok "verify-pack reads the pack" "$(describe_status $st); $n objects"
		diag_file "$TMP/vp.out"
	fi
else
	not_ok "verify-pack reads the pack" "no pack after gc"
fi

run_pre git -C "$R" status --porcelain >"$TMP/status.out" 2>&1
st=$?
if [ $st -eq 0 ] && [ ! -s "$TMP/status.out" ]; then
	ok "work tree clean after the commits"
else
	not_ok "work tree clean after the commits" "$(describe_status $st):"
	diag_file "$TMP/status.out"
fi
# A shell alias runs as a child of git: let it read git's own maps.
run_pre git -C "$R" -c alias.maps="!grep -cF '$LIB_REAL' /proc/\$PPID/maps" maps >"$TMP/gmaps.out" 2>&1
if [ "$(head -n 1 "$TMP/gmaps.out")" -ge 1 ] 2>/dev/null; then
	ok "the git process had the library mapped (read from its /proc/PID/maps)"
else
	not_ok "the git process had the library mapped" "got: $(head -n 3 "$TMP/gmaps.out")"
fi
tap_done
