#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Shell pipelines whose every stage (seq, awk, sort, uniq, ...) runs with the
# library preloaded.  The results are compared with the same pipelines
# without it and with counts known from the data's construction.
#
#   tools/testing/preload/pipeline.sh /abs/path/libhakmem.so
. "$(dirname "$0")/tap-lib.bash"
tap_init "$@" pipeline
tap_plan 10

check_loaded

N=200000
P=10007		# prime; (i * 7919) % P takes every value 0..P-1
# The pipelines, written to run in a subshell with or without LD_PRELOAD.
pipes() {
	local out=$1
	gen() { seq 1 $N | awk -v p=$P '{ print ($1 * 7919) % p }'; }
	gen | sort | uniq -c | sort -n | tail -n 5 >"$out/top" || return 1
	gen | sort -u | wc -l >"$out/uniq" || return 1
	gen | sort | uniq -c | awk '{ print $1 }' | sort -n | uniq -c >"$out/hist" || return 1
	# External merge sort with temporary files, two threads.
	gen | awk '{ printf "%s %08d %s\n", $1 % 97, $1, substr("qwertyuiopasdfghjklzxcvbnm", 1 + $1 % 26) }' |
		sort -S 256K --parallel=2 -T "$out" -k1,1n -k3,3 -k2,2r | md5sum >"$out/extsort" || return 1
	gen | sort -n -r | head -n 3 | tr '\n' ' ' >"$out/head" || return 1
	# Long lines through cut/tr/rev/grep.
	seq 1 20000 | awk '{ s = ""; for (i = 0; i < $1 % 200; i++) s = s "x" $1; print s }' |
		rev | tr 'x' 'y' | cut -c 1-300 | grep -c 'y' >"$out/long" || return 1
}

mkdir -p "$TMP/base" "$TMP/pre"
( pipes "$TMP/base" ) 2>"$TMP/base.err" || bail "pipelines fail without the library: $(tail -n 3 "$TMP/base.err")"
(
	export LD_PRELOAD=$LIB
	pipes "$TMP/pre"
) 2>"$TMP/pre.err"
st=$?
if [ $st -eq 0 ] && [ ! -s "$TMP/pre.err" ]; then
	ok "all preloaded pipelines succeed without messages"
else
	not_ok "all preloaded pipelines succeed without messages" "$(describe_status $st); stderr:"
	diag_file "$TMP/pre.err"
fi

same_output "sort | uniq -c | sort -n | tail equals the run without the library" "$TMP/base/top" "$TMP/pre/top"
if [ "$(tr -d ' ' <"$TMP/pre/uniq")" = "$P" ]; then
	ok "sort -u | wc -l gives $P distinct values"
else
	not_ok "sort -u | wc -l gives $P distinct values" "got '$(cat "$TMP/pre/uniq")'"
fi
# N = q * P + r: r values occur q+1 times, the others q times.
q=$((N / P)) r=$((N % P))
printf '%7d %d\n%7d %d\n' $((P - r)) $q $r $((q + 1)) >"$TMP/hist.want"
if diff -bq "$TMP/hist.want" "$TMP/pre/hist" >/dev/null; then
	ok "histogram of counts: $((P - r)) values $q times, $r values $((q + 1)) times"
else
	not_ok "histogram of counts" "want: $(tr '\n' ' ' <"$TMP/hist.want")" "got: $(tr '\n' ' ' <"$TMP/pre/hist")"
fi
same_output "external merge sort (-S 256K --parallel=2) equals the run without the library" "$TMP/base/extsort" "$TMP/pre/extsort"
if [ "$(cat "$TMP/pre/head")" = "$((P - 1)) $((P - 1)) $((P - 1)) " ]; then
	ok "sort -n -r | head gives the maximum $((P - 1))"
else
	not_ok "sort -n -r | head gives the maximum $((P - 1))" "got '$(cat "$TMP/pre/head")'"
fi
# Lines with i % 200 == 0 are empty: 100 of the 20000.
if [ "$(cat "$TMP/pre/long")" = "19900" ]; then
	ok "long lines through rev | tr | cut | grep -c"
else
	not_ok "long lines through rev | tr | cut | grep -c" "got '$(cat "$TMP/pre/long")', want 19900"
fi

# A long-running sort: it blocks reading a FIFO while we look at its maps,
# then gets its input.
mkfifo "$TMP/fifo"
LD_PRELOAD=$LIB sort -n <"$TMP/fifo" >"$TMP/fifo.out" 2>"$TMP/fifo.err" &
pid=$!
exec 3>"$TMP/fifo"	# opening the write end lets sort's open return
mapped=1
for i in $(seq 1 50); do
	if maps_has_lib $pid; then mapped=0; break; fi
	sleep 0.1
done
seq $N -1 1 >&3
exec 3>&-
wait $pid
st=$?
result "the library is in a running sort's /proc/PID/maps" $mapped
if [ $st -eq 0 ] && [ "$(head -n 1 "$TMP/fifo.out")" = 1 ] &&
	[ "$(tail -n 1 "$TMP/fifo.out")" = $N ] && [ "$(wc -l <"$TMP/fifo.out")" -eq $N ]; then
	ok "that sort then orders $N lines"
else
	not_ok "that sort then orders $N lines" "$(describe_status $st); $(tail -n 3 "$TMP/fifo.err")"
fi
tap_done
