#!/usr/bin/env bash
# TAP: start-up safety when other libraries that allocate in their own
# constructors are preloaded before and after hakmem (libnuma,
# libhugetlbfs), and when the first allocation comes from the loader.
#   startup.sh /abs/libhakmem.so [objtree]
set -u
lib=${1:?usage: startup.sh LIB [OBJTREE]}
objtree=${2:-$(cd "$(dirname "$0")/../../.." && pwd)}
libdir=/usr/lib/x86_64-linux-gnu
prog=$objtree/tools/testing/selftests/api_startup
n=0 fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $2 # SKIP $1"; }
echo "1..8"

orders=("$lib:$libdir/libnuma.so.1" "$libdir/libnuma.so.1:$lib"
	"$libdir/libhugetlbfs.so.0:$lib:$libdir/libnuma.so.1")
for pre in "${orders[@]}"; do
	name="api_startup with LD_PRELOAD=${pre//$libdir\//}"
	missing=
	IFS=: read -ra parts <<<"$pre"
	for f in "${parts[@]}"; do [ -e "$f" ] || missing=$f; done
	if [ -n "$missing" ]; then skip "$missing not installed" "$name"; continue; fi
	if [ ! -x "$prog" ]; then skip "$prog not built" "$name"; continue; fi
	out=$(HUGETLB_VERBOSE=0 LD_PRELOAD=$pre "$prog" 2>&1)
	if [ $? -eq 0 ] && grep -q '^# totals: pass:7 fail:0' <<<"$out"; then ok "$name"; else
		nok "$name"; sed 's/^/# /' <<<"$out" | tail -5; fi
done

py=/usr/bin/python3
if [ -x $py ]; then
	want=$($py -c 'import ctypes; n = ctypes.CDLL("libnuma.so.1"); print(n.numa_available() >= 0, n.numa_max_node() >= 0)' 2>&1)
	got=$(LD_PRELOAD="$libdir/libnuma.so.1:$lib" $py -c 'import ctypes; n = ctypes.CDLL("libnuma.so.1"); print(n.numa_available() >= 0, n.numa_max_node() >= 0)' 2>&1)
	if [ "$want" = "$got" ] && [ "$got" = "True True" ]; then ok "python3 + libnuma through ctypes"; else
		nok "python3 + libnuma through ctypes"; echo "# want '$want' got '$got'"; fi
else
	skip "no /usr/bin/python3" "python3 + libnuma through ctypes"
fi

# The first malloc may come from the loader itself (LD_BIND_NOW, audit-free).
out=$(LD_BIND_NOW=1 LD_PRELOAD=$lib /bin/ls -d / 2>&1)
if [ "$out" = "/" ]; then ok "ls with LD_BIND_NOW"; else nok "ls with LD_BIND_NOW"; echo "# $out"; fi

# A bad option value is reported, the default used, and the program runs.
out=$(HAKMEM_HUGEPAGES=maybe HAKMEM_REGION_GB=-5 LD_PRELOAD=$lib /bin/ls -d / 2>&1)
if grep -q '^hakmem: ignoring HAKMEM_HUGEPAGES=maybe' <<<"$out" &&
   grep -q '^hakmem: ignoring HAKMEM_REGION_GB=-5' <<<"$out" && grep -qx / <<<"$out"; then
	ok "invalid option values are reported and ignored"
else
	nok "invalid option values are reported and ignored"; sed 's/^/# /' <<<"$out"
fi
out=$(HAKMEM_PERCPU=off HAKMEM_HUGEPAGES=off HAKMEM_VERBOSE=no HAKMEM_STATS=text LD_PRELOAD=$lib /bin/ls -d / 2>&1)
if grep -q 'front-end: off' <<<"$out" && grep -q 'thp 0, 4k [1-9]' <<<"$out"; then
	ok "symbolic option values (off, no, text) take effect"
else
	nok "symbolic option values (off, no, text) take effect"; sed 's/^/# /' <<<"$out" | head -4
fi

# Options are read even when the first allocation is made before main().
if [ ! -x "$prog" ]; then
	skip "$prog not built" "HAKMEM_STATS honoured with allocations in constructors"
	[ $fails -eq 0 ]
	exit
fi
out=$(HAKMEM_STATS=1 LD_PRELOAD=$lib "$prog" 2>&1 >/dev/null | grep -c '^hakmem: front-end')
if [ "$out" = 1 ]; then ok "HAKMEM_STATS honoured with allocations in constructors"; else
	nok "HAKMEM_STATS honoured with allocations in constructors"; fi
[ $fails -eq 0 ]
