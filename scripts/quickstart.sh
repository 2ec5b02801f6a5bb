#!/usr/bin/env bash
# Quick start on a fresh machine: install what is missing, build hakmem,
# and run the main job: a real program (python3 on an allocation-heavy
# script) under glibc's malloc and under hakmem, with a short report of what
# hakmem did (page tiers, front-end mode, peak RSS).
#
#   scripts/quickstart.sh [rounds]
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -j"$(nproc)" lib
lib=$PWD/libhakmem.so
rounds=${1:-8}
job=(/usr/bin/python3 tools/demo/alloc_heavy.py "$rounds")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() {	# run NAME PRELOAD: time and peak RSS of the job
	local name=$1 pre=$2
	/usr/bin/time -f '%e %M' -o "$tmp/$name.time" \
		env ${pre:+LD_PRELOAD=$pre} HAKMEM_STATS=1 "${job[@]}" \
		>"$tmp/$name.out" 2>"$tmp/$name.err"
}

echo "main job: ${job[*]}"
run glibc ""
run hakmem "$lib"
if ! cmp -s "$tmp/glibc.out" "$tmp/hakmem.out"; then
	echo "quickstart: output differs between glibc and hakmem" >&2
	diff "$tmp/glibc.out" "$tmp/hakmem.out" >&2 || true
	exit 1
fi
grep -q '^hakmem: front-end' "$tmp/hakmem.err" || {
	echo "quickstart: hakmem was not loaded (no statistics printed)" >&2
	exit 1
}
printf '\n%-8s %10s %16s\n' allocator 'time (s)' 'peak RSS (KiB)'
for n in glibc hakmem; do
	read -r secs rss < "$tmp/$n.time"
	printf '%-8s %10s %16s\n' "$n" "$secs" "$rss"
done
echo
echo "output (identical under both): $(cat "$tmp/hakmem.out")"
echo "what hakmem did:"
grep -E '^hakmem: (front-end|superslabs|committed|huge|large)' "$tmp/hakmem.err" | sed 's/^hakmem: /  /'
echo
echo "use it:  LD_PRELOAD=$lib your-program"
