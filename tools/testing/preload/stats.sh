#!/bin/bash
# SPDX-License-Identifier: MIT
#
# HAKMEM_STATS=1 makes the library print its statistics on stderr at exit,
# as lines starting with "hakmem: "; among them a front-end line and the
# peak RSS.  Without the variable it prints nothing of the kind.  The
# program's own output must be unaffected either way.
#
#   tools/testing/preload/stats.sh /abs/path/libhakmem.so
. "$(dirname "$0")/tap-lib.bash"
tap_init "$@" stats
tap_plan 9

check_loaded

mkdir -p "$TMP/d"
touch "$TMP/d/alpha" "$TMP/d/beta" "$TMP/d/gamma"
printf 'alpha\nbeta\ngamma\n' >"$TMP/ls.want"

# A C-level program: ls.
HAKMEM_STATS=1 run_pre ls "$TMP/d" >"$TMP/ls.out" 2>"$TMP/ls.err"
st=$?
if [ $st -eq 0 ] && cmp -s "$TMP/ls.want" "$TMP/ls.out"; then
	ok "ls with HAKMEM_STATS=1 exits 0 and lists the directory"
else
	not_ok "ls with HAKMEM_STATS=1 exits 0 and lists the directory" "$(describe_status $st); stdout: $(tr '\n' ' ' <"$TMP/ls.out")"
fi
n=$(grep -c '^hakmem: ' "$TMP/ls.err")
if [ "$n" -ge 1 ]; then
	ok "stderr has statistics lines starting with 'hakmem: ' ($n lines)"
else
	not_ok "stderr has statistics lines starting with 'hakmem: '" "stderr was:"
	diag_file "$TMP/ls.err"
fi
if grep '^hakmem: ' "$TMP/ls.err" | grep -q 'front-end'; then
	ok "one of them is about the front-end"
else
	not_ok "one of them is about the front-end"
	diag_file "$TMP/ls.err"
fi
if grep '^hakmem: ' "$TMP/ls.err" | grep -q 'peak RSS'; then
	ok "one of them gives the peak RSS"
else
	not_ok "one of them gives the peak RSS"
fi
if ! grep -q '^hakmem' "$TMP/ls.out"; then
	ok "nothing of it on stdout"
else
	not_ok "nothing of it on stdout" "$(grep '^hakmem' "$TMP/ls.out" | head -n 3)"
fi

# Without the variable: silence.
(unset HAKMEM_STATS; run_pre ls "$TMP/d") >"$TMP/q.out" 2>"$TMP/q.err"
st=$?
if [ $st -eq 0 ] && cmp -s "$TMP/ls.want" "$TMP/q.out" && ! grep -q '^hakmem:' "$TMP/q.err"; then
	ok "without HAKMEM_STATS no 'hakmem:' line is printed"
else
	not_ok "without HAKMEM_STATS no 'hakmem:' line is printed" "$(describe_status $st); stderr:"
	diag_file "$TMP/q.err"
fi

# A small threaded python program; stats once per process.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
cat >"$TMP/t.py" <<'EOF'
import threading
out = [0] * 4
def w(i):
    d = {}
    for k in range(50000):
        d[k] = str(k) * (k % 5)
    out[i] = sum(len(v) for v in d.values())
ts = [threading.Thread(target=w, args=(i,)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(out[0] == out[3], out[0])
EOF
want=$(python3 -c 'print(True, sum(len(str(k) * (k % 5)) for k in range(50000)))')
HAKMEM_STATS=1 run_pre "$PY" "$TMP/t.py" >"$TMP/py.out" 2>"$TMP/py.err"
st=$?
if [ $st -eq 0 ] && [ "$(cat "$TMP/py.out")" = "$want" ]; then
	ok "threaded python with HAKMEM_STATS=1 gives the right answer"
else
	not_ok "threaded python with HAKMEM_STATS=1 gives the right answer" \
		"$(describe_status $st); want '$want', got '$(cat "$TMP/py.out")'"
	diag_file "$TMP/py.err"
fi
if grep '^hakmem: ' "$TMP/py.err" | grep -q 'front-end' &&
	grep '^hakmem: ' "$TMP/py.err" | grep -q 'peak RSS'; then
	ok "python's stderr has the front-end and peak RSS statistics"
else
	not_ok "python's stderr has the front-end and peak RSS statistics" "stderr:"
	diag_file "$TMP/py.err"
fi
diag "statistics printed for ls:"
grep '^hakmem: ' "$TMP/ls.err" | head -n 8 | sed 's/^/  /' | while IFS= read -r l; do diag "$l"; done
tap_done
