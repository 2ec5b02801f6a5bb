#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The hakmem command (tools/hakmem): run and doctor, and the statistics
# formats they show (text, JSON).
#
#   tools/testing/command/hakmem.sh /abs/path/libhakmem.so OBJTREE
. "$(dirname "$0")/../preload/tap-lib.bash"
tap_init "$@" command
tap_plan 21

OBJ=${2:-$(dirname "$LIB")}
H=$OBJ/tools/hakmem/hakmem
[ -x "$H" ] || bail "the hakmem command is not built: $H"
unset HAKMEM_PROFILE HAKMEM_STATS HAKMEM_STATS_FILE LD_PRELOAD

# expect_status NAME WANT CMD...: CMD's exit status must be WANT.
expect_status() {
	local name=$1 want=$2 st
	shift 2
	timeout -k 5 120 "$@" >"$TMP/out" 2>"$TMP/err"
	st=$?
	if [ "$st" -eq "$want" ]; then
		ok "$name"
	else
		not_ok "$name" "exit status $st, want $want; stderr:"
		diag_file "$TMP/err"
	fi
}

# ---- bad arguments: a clear message and status 2
expect_status "no arguments: usage, status 2" 2 "$H"
grep -q '^usage: hakmem run' "$TMP/err" && ok "no arguments: the usage names run" ||
	not_ok "no arguments: the usage names run" "$(cat "$TMP/err")"
expect_status "unknown command: status 2" 2 "$H" frobnicate
expect_status "run without a command: status 2" 2 "$H" run --profile lean --
grep -q 'run needs a command' "$TMP/err" && ok "run without a command says so" ||
	not_ok "run without a command says so" "$(cat "$TMP/err")"
expect_status "unknown profile: status 2" 2 "$H" run --profile turbo -- /bin/true
grep -q "unknown profile 'turbo'" "$TMP/err" && ok "unknown profile is named in the error" ||
	not_ok "unknown profile is named in the error" "$(cat "$TMP/err")"
expect_status "bad --hugepages value: status 2" 2 "$H" run --hugepages lots -- /bin/true

# ---- run: library preloaded, profile passed, status forwarded
"$H" run --profile lean --stats off -- sh -c 'echo "$HAKMEM_PROFILE"; grep -c libhakmem /proc/self/maps' \
	>"$TMP/out" 2>"$TMP/err"
if [ "$(sed -n 1p "$TMP/out")" = lean ] && [ "$(sed -n 2p "$TMP/out")" -ge 1 ]; then
	ok "run preloads the library and passes the profile"
else
	not_ok "run preloads the library and passes the profile" "stdout: $(tr '\n' ' ' <"$TMP/out")"
	diag_file "$TMP/err"
fi
expect_status "run forwards the exit status (7)" 7 "$H" run -- sh -c 'exit 7'
expect_status "a command that does not exist: 127" 127 "$H" run -- /nonexistent/program
grep -q 'cannot run /nonexistent/program' "$TMP/err" && ok "... with a clear message" ||
	not_ok "... with a clear message" "$(cat "$TMP/err")"
expect_status "a child killed by SIGTERM: we die of SIGTERM too (143)" 143 \
	"$H" run -- sh -c 'kill -TERM $$'

# Signals sent to hakmem reach the child.
"$H" run --stats off -- sleep 30 >/dev/null 2>&1 &
hpid=$!
sleep 0.5
kill -TERM "$hpid"
t0=$(date +%s)
wait "$hpid"
st=$?
if [ "$st" -eq 143 ] && [ $(($(date +%s) - t0)) -lt 10 ] && ! pgrep -P "$hpid" >/dev/null; then
	ok "SIGTERM to hakmem is passed on to the child (status $st)"
else
	not_ok "SIGTERM to hakmem is passed on to the child" "status $st"
fi

# ---- the statistics at the end of a run: text and JSON
"$H" run --profile fast -- ls / >"$TMP/out" 2>"$TMP/err"
if grep -q '^hakmem: statistics for pid .* profile fast' "$TMP/err" &&
	grep -q '^hakmem: memory return:' "$TMP/err" && grep -q '^hakmem: caches:' "$TMP/err" &&
	grep -q '^hakmem: system calls:' "$TMP/err" && grep -q 'peak RSS' "$TMP/err" &&
	grep -q '^hakmem: class ' "$TMP/err" && [ -s "$TMP/out" ]; then
	ok "run prints the text summary after the command's own output"
else
	not_ok "run prints the text summary after the command's own output"
	diag_file "$TMP/err" 30
fi
"$H" run --stats json --profile balanced -- ls / >/dev/null 2>"$TMP/json"
if python3 - "$TMP/json" <<'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert len(objs) == 1, "want one JSON object, got %d" % len(objs)
d = objs[0]
for k in ("profile", "front_end", "superslabs", "memory_return", "caches", "fallbacks",
          "syscalls", "memory", "classes", "options"):
    assert k in d, "missing " + k
assert d["profile"] == "balanced"
assert d["superslabs"]["by_node"][0]["node"] == 0
assert d["memory"]["peak_rss_bytes"] > 0
assert sum(c["allocs"] for c in d["classes"]) > 0 or not d["counters"]
for c in d["classes"]:
    assert c["live"] == c["allocs"] - c["frees"], c
assert d["options"]["HAKMEM_PROFILE"] == "balanced"
PY
then
	ok "HAKMEM_STATS=json gives one valid JSON object with every section"
else
	not_ok "HAKMEM_STATS=json gives one valid JSON object with every section"
	diag_file "$TMP/json" 5
fi
# malloc_stats() prints the same summary.
env LD_PRELOAD="$LIB" HAKMEM_PROFILE=lean python3 -c 'import ctypes; ctypes.CDLL(None).malloc_stats()' \
	>/dev/null 2>"$TMP/ms"
if grep -q '^hakmem: statistics for pid .* profile lean' "$TMP/ms" && grep -q '^hakmem: caches:' "$TMP/ms"; then
	ok "malloc_stats() prints the same summary"
else
	not_ok "malloc_stats() prints the same summary"
	diag_file "$TMP/ms"
fi

# ---- hugepages reserved for the run and given back
if [ "$(id -u)" -ne 0 ] || [ ! -w /proc/sys/vm/nr_hugepages ]; then
	skip "--hugepages raises the pool for the run" "not root"
	skip "--hugepages restores the pool after a failing command" "not root"
else
	old=$(cat /proc/sys/vm/nr_hugepages)
	during=$("$H" run --stats off --hugepages 2 -- cat /proc/sys/vm/nr_hugepages 2>"$TMP/err")
	after=$(cat /proc/sys/vm/nr_hugepages)
	if [ "$during" -gt "$old" ] && [ "$after" -eq "$old" ]; then
		ok "--hugepages raises the pool for the run ($old -> $during -> $after)"
	else
		not_ok "--hugepages raises the pool for the run" "$old -> $during -> $after"
		diag_file "$TMP/err"
	fi
	"$H" run --stats off --hugepages 2 -- sh -c 'exit 3' 2>"$TMP/err"
	st=$?
	after=$(cat /proc/sys/vm/nr_hugepages)
	if [ "$st" -eq 3 ] && [ "$after" -eq "$old" ]; then
		ok "--hugepages restores the pool after a failing command"
	else
		not_ok "--hugepages restores the pool after a failing command" "status $st, pool $old -> $after"
	fi
fi

# ---- doctor
"$H" doctor >"$TMP/doc" 2>"$TMP/err"
st=$?
missing=""
for w in "hugetlb pool" "node 0" "THP:" "NUMA nodes" "rseq (kernel)" "rseq (glibc)" "Recommendations"; do
	grep -qF "$w" "$TMP/doc" || missing="$missing '$w'"
done
if [ "$st" -eq 0 ] && [ -z "$missing" ]; then
	ok "doctor reports hugetlb, THP, NUMA and rseq, with recommendations"
else
	not_ok "doctor reports hugetlb, THP, NUMA and rseq, with recommendations" "status $st, missing:$missing"
	diag_file "$TMP/doc" 30
fi
GLIBC_TUNABLES=glibc.pthread.rseq=0 "$H" doctor >"$TMP/doc2" 2>&1
if grep -q 'rseq (glibc):  not registered' "$TMP/doc2" && grep -q 'glibc.pthread.rseq=0' "$TMP/doc2"; then
	ok "doctor notices glibc's rseq registration turned off and says what to change"
else
	not_ok "doctor notices glibc's rseq registration turned off and says what to change"
	diag_file "$TMP/doc2" 30
fi
tap_done
