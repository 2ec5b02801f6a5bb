#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Python under the preloaded allocator:
#  - an allocation-heavy script (dicts, lists, strings, objects, json round
#    trips, threads) whose checksum must match the run without the library;
#  - python's malloc/free/realloc/calloc must bind to the library (LD_DEBUG);
#  - part of Python's own test suite (regrtest) must pass.
#
#   tools/testing/preload/python.sh /abs/path/libhakmem.so
. "$(dirname "$0")/tap-lib.bash"
tap_init "$@" python
tap_plan 7

check_loaded

# Debian's python3 for the script; for the test suite the first interpreter
# that has the "test" package (Debian ships it separately, pyenv builds
# include it).
PY=
for c in /usr/bin/python3 "$(command -v python3 2>/dev/null)"; do
	[ -n "$c" ] && [ -x "$c" ] && "$c" -c 'import json' 2>/dev/null && { PY=$c; break; }
done
[ -n "$PY" ] || bail "no python3 found"
PY=$("$PY" -c 'import sys; print(sys.executable)')
diag "script interpreter: $PY"

cat >"$TMP/heavy.py" <<'EOF'
import gc, hashlib, json, random, sys, threading

h = hashlib.sha256()
def mix(tag, obj):
    h.update(tag.encode())
    h.update(repr(obj).encode())

rnd = random.Random(12345)

# 1. A big dict of strings to lists, grown and shrunk.
d = {}
for i in range(200000):
    k = "key-%d-%s" % (i, "x" * (i % 37))
    d[k] = [i, str(i * 7), (i % 13) * "ab"]
for i in range(0, 200000, 3):
    del d["key-%d-%s" % (i, "x" * (i % 37))]
mix("dict", (len(d), sum(v[0] for v in d.values())))

# 2. Many small objects with and without __slots__, cycles for the GC.
class Node:
    def __init__(self, v, nxt=None):
        self.v, self.nxt, self.extra = v, nxt, {"v": v}

class Slim:
    __slots__ = ("a", "b")
    def __init__(self, a, b):
        self.a, self.b = a, b

head = None
for i in range(100000):
    head = Node(i, head)
total = 0
n = head
while n:
    total += n.v + len(n.extra)
    n = n.nxt
mix("nodes", total)
cyc = []
for i in range(20000):
    a, b = Node(i), Node(-i)
    a.nxt, b.nxt = b, a
    cyc.append(a)
del cyc, head
mix("gc", gc.collect() >= 0)
slims = [Slim(i, str(i)) for i in range(150000)]
mix("slots", sum(s.a for s in slims) + sum(len(s.b) for s in slims))
del slims

# 3. Strings: building, joining, splitting, growing in place.
parts = ["%08x" % rnd.getrandbits(32) for _ in range(100000)]
s = ",".join(parts)
back = s.split(",")
mix("split", (len(s), back == parts, back[12345]))
buf = bytearray()
for i in range(50000):
    buf += bytes([i & 255]) * (i % 61)
mix("bytearray", (len(buf), hashlib.md5(buf).hexdigest()))
u = "".join(chr(0x400 + (i % 500)) for i in range(100000))
mix("unicode", (len(u.encode("utf-8")), u.upper()[:50]))

# 4. JSON round trip of a nested structure.
doc = {"items": [{"id": i, "name": "n%d" % i, "tags": ["t%d" % (i % 7)] * (i % 5),
                  "score": (i * 37 % 1000) / 7.0} for i in range(40000)],
       "meta": {"count": 40000, "nested": [[j] * j for j in range(200)]}}
text = json.dumps(doc, sort_keys=True)
doc2 = json.loads(text)
mix("json", (len(text), doc2 == doc, hashlib.sha1(text.encode()).hexdigest()))

# 5. Sorting lists of tuples, sets, list growth and shrink.
tl = [(rnd.randint(0, 1000), "%x" % rnd.getrandbits(40)) for _ in range(200000)]
tl.sort()
mix("sort", (tl[0], tl[-1], tl[100000]))
st = set(x for _, x in tl)
mix("set", len(st))
lst = []
for i in range(300000):
    lst.append(i)
while len(lst) > 1000:
    del lst[len(lst) // 2:]
mix("shrink", len(lst))

# 6. Threads allocating at the same time; results combined in order.
results = [None] * 8
def work(t):
    r = random.Random(t)
    local = {}
    for i in range(30000):
        local[r.getrandbits(20)] = "v" * r.randint(1, 200)
    results[t] = (len(local), sum(len(v) for v in local.values()))
threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
for t in threads: t.start()
for t in threads: t.join()
mix("threads", results)

print("checksum", h.hexdigest())
print("dict", len(d))
EOF

# Baseline without the library, then the same under it.
PYTHONHASHSEED=0 "$PY" "$TMP/heavy.py" >"$TMP/base.out" 2>"$TMP/base.err"
st=$?
if [ $st -ne 0 ] || ! grep -q '^checksum ' "$TMP/base.out"; then
	bail "the script fails without the library ($(describe_status $st)): $(tail -n 3 "$TMP/base.err")"
fi
PYTHONHASHSEED=0 run_pre "$PY" "$TMP/heavy.py" >"$TMP/pre.out" 2>"$TMP/pre.err"
st=$?
if [ $st -eq 0 ] && grep -q '^checksum ' "$TMP/pre.out"; then
	ok "allocation-heavy script runs to completion"
else
	not_ok "allocation-heavy script runs to completion" "$(describe_status $st); stderr:"
	diag_file "$TMP/pre.err"
fi
same_output "its checksum matches the run without the library" "$TMP/base.out" "$TMP/pre.out"
# The dynamic linker's own account of where python's malloc/free calls go.
LD_DEBUG=bindings LD_DEBUG_OUTPUT=$TMP/bind run_pre "$PY" -c 'import json; json.loads(json.dumps([str(i) for i in range(10000)]))' >/dev/null 2>"$TMP/bind.err"
st=$?
nb=0
for sym in malloc free realloc calloc; do
	cat "$TMP"/bind.* 2>/dev/null |
		grep -E " to ($LIB|$LIB_REAL) \[0\]: normal symbol .$sym'" >/dev/null && nb=$((nb + 1))
done
if [ $st -eq 0 ] && [ $nb -eq 4 ]; then
	ok "python's malloc, free, realloc and calloc bind to the library"
else
	not_ok "python's malloc, free, realloc and calloc bind to the library" \
		"$(describe_status $st); $nb of 4 symbols bound to it; bindings of malloc:"
	cat "$TMP"/bind.* 2>/dev/null | grep -E "symbol .malloc'" | head -n 5 | sed 's/^/#   /'
fi

# Python's regression tests.
TESTS="test_json test_dict test_list test_set test_unicode test_re test_collections test_heapq test_bisect test_itertools"
TPY=
for c in /usr/bin/python3 "$(command -v python3 2>/dev/null)" "$PY"; do
	[ -n "$c" ] && [ -x "$c" ] || continue
	c=$("$c" -c 'import sys; print(sys.executable)' 2>/dev/null) || continue
	if "$c" -c 'import test.libregrtest, test.test_json' 2>/dev/null; then
		TPY=$c
		break
	fi
done
if [ -z "$TPY" ]; then
	skip "regrtest passes without the library" "no python3 with the test package (Debian: libpython3-testsuite)"
	skip "regrtest passes under the library" "no python3 with the test package"
	skip "regrtest workers had the library" "no python3 with the test package"
	tap_done
fi
avail=
for t in $TESTS; do
	"$TPY" -c "import test.$t" 2>/dev/null && avail="$avail $t"
done
diag "regrtest interpreter: $TPY; tests:$avail"

cd "$TMP" || bail "cd $TMP"
"$TPY" -m test -j0 $avail >"$TMP/rt.base" 2>&1
st=$?
if [ $st -eq 0 ] && grep -qE '(Tests result|Result): SUCCESS' "$TMP/rt.base"; then
	ok "regrtest passes without the library"
	# Each worker process records whether the library is mapped in it.
	cat >"$TMP/sitecustomize.py" <<EOF
import os
try:
    with open("/proc/self/maps") as f:
        if "$LIB_REAL" in f.read():
            open(os.path.join("$TMP", "mapped.%d" % os.getpid()), "w").close()
except OSError:
    pass
EOF
	PYTHONPATH=$TMP run_pre "$TPY" -m test -j0 $avail >"$TMP/rt.pre" 2>&1
	st=$?
	if [ $st -eq 0 ] && grep -qE '(Tests result|Result): SUCCESS' "$TMP/rt.pre"; then
		ok "regrtest passes under the library ($(grep -E '^Total tests:' "$TMP/rt.pre" | head -n 1))"
	else
		not_ok "regrtest passes under the library" "$(describe_status $st); last lines:"
		diag_file "$TMP/rt.pre" 25
	fi
	n=$(ls "$TMP" | grep -c '^mapped\.')
	if [ "$n" -ge 2 ]; then
		ok "regrtest processes had the library mapped ($n processes)"
	else
		not_ok "regrtest processes had the library mapped" "only $n processes reported it"
	fi
else
	# Not the library's fault, but worth a look.
	skip "regrtest passes without the library" "it fails here without the library: $(describe_status $st)"
	diag_file "$TMP/rt.base" 10
	skip "regrtest passes under the library" "fails without the library too"
	skip "regrtest processes had the library mapped" "fails without the library too"
fi
tap_done
