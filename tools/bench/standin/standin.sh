#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# standin.sh - what the shape of a size class's free objects costs on the
# seed workload, measured on bare stand-in allocators (standin.c).
#
#   tools/bench/standin/standin.sh SEED_BINARY [ROUNDS [OPS [LIB...]]]
#
# Builds the seven variants of standin.c, then runs SEED_BINARY OPS under
# each of them (and under every LIB given, hakmem for instance) in ROUNDS
# rounds, the runs of a round one after another.  Each run is pinned to
# CPU 1 at real-time priority when that is allowed (chrt -f 50), else only
# pinned.  Prints, per variant, the median over the rounds of its
# throughput divided by the first variant's in the same round, and the
# median throughput.  Defaults: 15 rounds of 10M operations.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
seed=${1:?usage: standin.sh SEED_BINARY [ROUNDS [OPS [LIB...]]]}
rounds=${2:-15}
ops=${3:-10000000}
shift $(( $# < 3 ? $# : 3 ))
[ -x "$seed" ] || { echo "standin.sh: $seed is not an executable" >&2; exit 2; }
case $rounds$ops in *[!0-9]*) echo "standin.sh: ROUNDS and OPS are numbers" >&2; exit 2 ;; esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
names=(array array-top list chain-array chain-array-top array-fine list-fine)
flags=("-DSTANDIN_ARRAY" "-DSTANDIN_ARRAY_TOP" "-DSTANDIN_LIST"
       "-DSTANDIN_ARRAY -DSTANDIN_CHAIN" "-DSTANDIN_ARRAY_TOP -DSTANDIN_CHAIN"
       "-DSTANDIN_ARRAY -DSTANDIN_FINE" "-DSTANDIN_LIST -DSTANDIN_FINE")
libs=()
for i in "${!names[@]}"; do
	# -fno-builtin: gcc would turn malloc + memset in calloc into a call
	# to calloc, itself.
	gcc -O2 -fPIC -shared -fno-builtin -ftls-model=initial-exec ${flags[$i]} \
		-o "$tmp/${names[$i]}.so" "$here/standin.c"
	libs+=("$tmp/${names[$i]}.so")
done
for l in "$@"; do
	[ -f "$l" ] || { echo "standin.sh: no library $l" >&2; exit 2; }
	names+=("$(basename "$l")")
	libs+=("$l")
done

pin="chrt -f 50 taskset -c 1"
$pin true 2>/dev/null || pin="taskset -c 1"
run() {	# run LIB: ops per second of one seed run
	$pin env LD_PRELOAD="$1" "$seed" "$ops" |
		sed -n 's/.*ops_per_sec=\([0-9.]*\).*/\1/p'
}
for r in $(seq "$rounds"); do
	line=
	for l in "${libs[@]}"; do
		v=$(run "$l")
		[ -n "$v" ] || { echo "standin.sh: seed failed under $l" >&2; exit 1; }
		line="$line $v"
	done
	echo "$line" >>"$tmp/rounds"
done
echo "# seed $ops operations, $rounds rounds: ratio to ${names[0]} (median of the per-round ratios), median op/s"
med() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for j in "${!libs[@]}"; do
	ratio=$(awk -v j=$((j + 1)) '{ print $j / $1 }' "$tmp/rounds" | med)
	value=$(awk -v j=$((j + 1)) '{ print $j }' "$tmp/rounds" | med)
	printf '%-20s %.3f  %.0f\n' "${names[$j]}" "$ratio" "$value"
done
