#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run.sh - the hakmem comparison benchmark (what `make bench` runs).
#
# Runs every workload of workloads.sh under glibc, mimalloc, jemalloc,
# tcmalloc and hakmem, interleaved (for each workload and repetition the
# allocators run one after another), several times; reports the median of
# each figure, its ratio to hakmem and the peak RSS; counts the memory
# system calls hakmem makes per operation (strace, separate un-timed run);
# writes performance.md and performance.png into the output directory.
#
# usage: tools/bench/run.sh [--lib PATH] [--bindir DIR] [--quick] [--reps N]
#                           [--only NAME[,NAME...]] [--out DIR] [--work DIR]
#                           [--no-install] [--no-syscalls]
#
#   --lib PATH     libhakmem.so (default: build/libhakmem.so, libhakmem.so)
#   --bindir DIR   compiled workloads; missing ones are compiled there
#                  (default: a directory under --work)
#   --quick        a few seconds per run and 3 repetitions (default: full
#                  sizes and 5 repetitions)
#   --reps N       number of repetitions
#   --only NAMES   only these workloads (comma-separated ids)
#   --out DIR      where performance.md/.png go (default: Documentation/)
#   --work DIR     scratch directory, kept (default: a fresh /tmp directory)
#   --no-install   do not install missing Debian packages
#   --no-syscalls  skip the strace count
#
# Needs root on a fresh Debian 12 machine to install what is missing
# (apt-get update, only when something is missing, then apt-get install).
# Exit status: 0 if every run succeeded, 1 if any failed (a failed run,
# including one that used another allocator than the one named, is shown
# as FAIL, never as a figure), 2 on a usage or setup error.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=workloads.sh
. "$here/workloads.sh"

LIBDIR=/usr/lib/x86_64-linux-gnu
PEER_PATHS="mimalloc=$LIBDIR/libmimalloc.so.2 jemalloc=$LIBDIR/libjemalloc.so.2 tcmalloc=$LIBDIR/libtcmalloc_minimal.so.4"
PACKAGES="libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4 time strace gnuplot-nox
	redis-server redis-tools sqlite3 python3 gcc libc6-dev"
# Workloads that also run under mimalloc with large OS pages and under
# hakmem on the hugetlb tier; for those two a hugetlb pool of
# BENCH_HUGETLB_PAGES 2 MiB pages is reserved around each run (root only),
# and the pool size of the machine is restored afterwards.
LP_WORKLOADS="ptrchase"
# Workloads that also run hakmem's other per-CPU front ends.
FE_WORKLOADS="seed manythreads manythreads-2"
FE_LABELS="hakmem-mmcid hakmem-fallback"
LP_LABELS="mimalloc-lp hakmem-hugetlb"
BENCH_HUGETLB_PAGES=${BENCH_HUGETLB_PAGES:-256}
# Workloads that also run under each hakmem profile (HAKMEM_PROFILE).
PROFILE_WORKLOADS="seed freeheap"
PROFILES="hakmem-fast hakmem-balanced hakmem-lean"

lib=""
bindir=""
mode=full
reps=""
only=""
out="$root/Documentation"
work=""
install=1
syscalls=1

usage() {
	sed -n '/^# usage:/,/^# Needs root/p' "$0" | sed 's/^# \{0,1\}//' | sed '$d' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--lib) lib=$2; shift 2 ;;
	--lib=*) lib=${1#*=}; shift ;;
	--bindir) bindir=$2; shift 2 ;;
	--bindir=*) bindir=${1#*=}; shift ;;
	--quick) mode=quick; shift ;;
	--full) mode=full; shift ;;
	--reps) reps=$2; shift 2 ;;
	--reps=*) reps=${1#*=}; shift ;;
	--only) only=$2; shift 2 ;;
	--only=*) only=${1#*=}; shift ;;
	--out) out=$2; shift 2 ;;
	--out=*) out=${1#*=}; shift ;;
	--work) work=$2; shift 2 ;;
	--work=*) work=${1#*=}; shift ;;
	--no-install) install=0; shift ;;
	--no-syscalls) syscalls=0; shift ;;
	-h | --help) usage ;;
	*) echo "run.sh: unknown option '$1'" >&2; usage ;;
	esac
done

log() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 2; }

[ -n "$reps" ] || { [ "$mode" = quick ] && reps=3 || reps=5; }
case $reps in '' | *[!0-9]* | 0) die "--reps needs a positive number" ;; esac

# ---------------------------------------------------------------- setup

ensure_packages() {
	local missing="" p
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$install" = 0 ]; then
		log "not installed (--no-install):$missing"
		return 0
	fi
	[ "$(id -u)" = 0 ] || die "missing packages:$missing (run as root to install them)"
	log "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2 || die "apt-get update failed"
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing >&2 ||
		die "apt-get install failed"
}

ensure_packages

if [ -z "$lib" ]; then
	for p in "$root/build/libhakmem.so" "$root/libhakmem.so"; do
		[ -f "$p" ] && { lib=$p; break; }
	done
	[ -n "$lib" ] || die "libhakmem.so not found; pass --lib PATH"
fi
[ -f "$lib" ] || die "no such library: $lib"
lib=$(readlink -f "$lib")

if [ -z "$work" ]; then
	work=$(mktemp -d /tmp/hakmem-bench.XXXXXX) || die "mktemp failed"
fi
mkdir -p "$work" || die "cannot create $work"
work=$(readlink -f "$work")
# Measure a private copy: a rebuild during the run must not mix versions.
cp "$lib" "$work/libhakmem.so" || die "cannot copy $lib"
lib=$work/libhakmem.so
[ -n "$bindir" ] || bindir="$work/bin"
bench_build "$bindir" || die "building the workloads failed"
bindir=$(readlink -f "$bindir")
mkdir -p "$out" || die "cannot create $out"
out=$(readlink -f "$out")

# Allocators: label and library.
labels="glibc"
declare -A LIB
LIB[glibc]=$(bench_glibc_path)
for pp in $PEER_PATHS; do
	name=${pp%%=*}
	path=${pp#*=}
	if [ -f "$path" ]; then
		labels="$labels $name"
		LIB[$name]=$path
	else
		log "warning: $name not found at $path; left out"
	fi
done
labels="$labels hakmem"
LIB[hakmem]=$lib
[ -n "${LIB[mimalloc]:-}" ] && LIB[mimalloc-lp]=${LIB[mimalloc]}
for l in $FE_LABELS; do LIB[$l]=$lib; done
LIB[hakmem-hugetlb]=$lib
lp_labels=""
for a in $LP_LABELS; do
	[ -n "${LIB[$a]:-}" ] && lp_labels="$lp_labels $a"
done

# The hugetlb pool: only the large-page columns get one, only while they run.
pool_file=/proc/sys/vm/nr_hugepages
pool_saved=$(cat $pool_file 2>/dev/null || echo 0)
# pool_warm: fault every free page of a pool just made in, and give it back.
# In a virtual machine a page the pool takes from the guest's free memory
# may have been handed back to the host (free page reporting); its first
# fault then costs the host's fault and zeroing too, several times the
# guest's.  Without this the large-page column that runs first after the
# pool is made (mimalloc-lp) paid that for both, up to 5x its time.
pool_warm() {
	[ -x "$BENCH_PYTHON" ] || return 0
	"$BENCH_PYTHON" - <<-'PY' 2>/dev/null
	import mmap
	path = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
	n = int(open(path).read())
	while n > 0:
	    try:
	        m = mmap.mmap(-1, n << 21, flags=mmap.MAP_PRIVATE | 0x40000 | mmap.MAP_POPULATE)
	        m.close()
	        break
	    except OSError:
	        n -= 8    # another process took pages meanwhile
	PY
}
pool_set() {	# pool_set LABEL
	[ "$(id -u)" = 0 ] || return 0
	case " $LP_LABELS " in
	*" $1 "*)
		[ "$(cat $pool_file)" = "$BENCH_HUGETLB_PAGES" ] && return 0
		echo "$BENCH_HUGETLB_PAGES" >$pool_file && pool_warm ;;
	*) echo "$pool_saved" >$pool_file ;;
	esac 2>/dev/null
}
trap 'echo "$pool_saved" >$pool_file 2>/dev/null' EXIT
for p in $PROFILES; do
	LIB[$p]=$lib
done

# Workloads.
workloads=""
if [ -n "$only" ]; then
	for id in ${only//,/ }; do
		case " $BENCH_ALL " in
		*" $id "*) workloads="$workloads $id" ;;
		*) die "unknown workload '$id' (known: $BENCH_ALL)" ;;
		esac
	done
else
	workloads=$BENCH_ALL
fi
runnable=""
for id in $workloads; do
	miss=""
	for t in $(wl_tools "$id"); do
		command -v "$t" >/dev/null 2>&1 || miss="$miss $t"
	done
	if [ -n "$miss" ]; then
		log "warning: $id left out, not installed:$miss"
	else
		runnable="$runnable $id"
	fi
done
workloads=$runnable
[ -n "$workloads" ] || die "nothing to run"

# Extra columns (large pages, hakmem's other front ends, its profiles) run
# only on their own workloads.
extras_for() { # ID: the extra allocator labels that run workload ID
	local a=""
	case " $LP_WORKLOADS " in *" $1 "*) a="$a$lp_labels" ;; esac
	case " $FE_WORKLOADS " in *" $1 "*) a="$a $FE_LABELS" ;; esac
	case " $PROFILE_WORKLOADS " in *" $1 "*) a="$a $PROFILES" ;; esac
	echo "$a"
}

allocs_for() { # ID: allocator labels that run workload ID
	echo "$labels $(extras_for "$1")"
}

# An extra column appears when one of its workloads runs.
columns="$labels"
for l in $lp_labels $FE_LABELS $PROFILES; do
	for id in $workloads; do
		case " $(extras_for "$id") " in *" $l "*) columns="$columns $l"; break ;; esac
	done
done
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# Interrupted: stop a redis-server of ours that may still run, and leave.
on_signal() {
	trap - INT TERM
	[ -s "$work/run/redis.pid" ] && kill "$(cat "$work/run/redis.pid")" 2>/dev/null
	log "interrupted; partial results in $work"
	exit 130
}
trap on_signal INT TERM

raw="$work/raw.tsv"
: >"$raw"
logf="$work/log"
: >"$logf"
status=0

log "mode=$mode reps=$reps lib=$lib"
log "bindir=$bindir work=$work out=$out"

# Pre-flight: each allocator must really be the malloc of a process.
declare -A VERSION
for a in $columns; do
	alloc_env "$a" "${LIB[$a]}"
	# shellcheck disable=SC2086
	if line=$(env LD_PRELOAD="$A_PRELOAD" BENCH_EXPECT="$A_EXPECT" $A_ENV "$bindir/allocwho" 2>>"$logf"); then
		log "$a: $line"
		VERSION[$a]=$line
	else
		log "$a: FAILED the allocator check (see $logf)"
		VERSION[$a]="FAILED"
		status=1
	fi
done

# ------------------------------------------------------------- the runs


total=0
for id in $workloads; do
	total=$((total + reps * $(allocs_for "$id" | wc -w)))
done
count=0
t_start=$(date +%s)
for id in $workloads; do
	for rep in $(seq 1 "$reps"); do
		for a in $(allocs_for "$id"); do
			count=$((count + 1))
			{
				echo "=== $id $a rep $rep"
			} >>"$logf"
			pool_set "$a"
			if line=$(wl_run "$id" "$mode" "$a" "${LIB[$a]}" "$bindir" "$work/run" 2>>"$logf"); then
				printf '%s\t%s\t%s\tok\t%s\n' "$id" "$a" "$rep" "$line" >>"$raw"
				log "[$count/$total] $id $a #$rep: $(echo "$line" | cut -d' ' -f2- | tr ' ' '\n' |
					grep -E '^(ops_per_sec|walk_ns_per_node|alloc_ns_per_node|faults_per_mib|secs|rps|threads_per_sec|maxrss_kb)=' | tr '\n' ' ')"
			else
				printf '%s\t%s\t%s\tFAIL\t\n' "$id" "$a" "$rep" >>"$raw"
				log "[$count/$total] $id $a #$rep: FAILED (see $logf)"
				status=1
			fi
		done
	done
done
t_end=$(date +%s)
pool_set none

# ----------------------------------------------- hakmem's system calls

sysfile="$work/syscalls.md"
: >"$sysfile"
SYSCALLS="mmap munmap madvise mbind mprotect mremap brk"
if [ "$syscalls" = 1 ] && command -v strace >/dev/null 2>&1; then
	alloc_env hakmem "$lib"
	{
		printf '| workload | ops |'
		for s in $SYSCALLS; do printf ' %s |' "$s"; done
		printf ' total | per 1000 ops |\n|---|---:|'
		for s in $SYSCALLS; do printf -- '---:|'; done
		printf -- '---:|---:|\n'
	} >>"$sysfile"
	# First row: what a trivial program (allocwho: one malloc) makes,
	# i.e. the dynamic loader's and the library's start-up share.
	for id in start-up $workloads; do
		wl_is_real "$id" && continue
		if [ "$id" = start-up ]; then
			bin=allocwho
			args=""
		else
			bin=$(wl_bin "$id")
			args=$(wl_args "$id" "$mode")
		fi
		# shellcheck disable=SC2086
		if ! strace -f -qq -c -o "$work/strace.$id" \
			-e trace="$(echo $SYSCALLS | tr ' ' ',')" \
			env LD_PRELOAD="$A_PRELOAD" BENCH_EXPECT="$A_EXPECT" "$bindir/$bin" $args \
			>"$work/strace.$id.out" 2>>"$logf"; then
			log "strace run of $id FAILED"
			status=1
			continue
		fi
		ops=$(tr ' ' '\n' <"$work/strace.$id.out" | awk -F= '$1 == "ops" { print $2 }' | tail -n 1)
		[ "$id" = start-up ] && ops=0
		awk -v id="$id" -v ops="${ops:-0}" -v list="$SYSCALLS" '
			BEGIN { n = split(list, S, " ") }
			NF >= 5 && $4 ~ /^[0-9]+$/ { c[$NF] = $4 }
			END {
				printf "| %s | %s |", id, (ops > 0) ? ops : "-"
				for (i = 1; i <= n; i++) { printf " %d |", c[S[i]]; t += c[S[i]] }
				per = (ops > 0) ? sprintf("%.3g", t * 1000 / ops) : "-"
				printf " %d | %s |\n", t, per
			}' "$work/strace.$id" >>"$sysfile"
	done
	log "system calls counted"
fi

# -------------------------------------------------------------- report

spec="$work/spec"
: >"$spec"
for id in $workloads; do
	wl_figures "$id" | sed "s/^/$id|/" >>"$spec"
done
chartdata="$work/chart.dat"
tables=$("$here/report.sh" "$columns" hakmem glibc "$chartdata" "$spec" "$raw")

png="$out/performance.png"
if command -v gnuplot >/dev/null 2>&1; then
	ncol=$(echo "$columns" | wc -w)
	gnuplot 2>>"$logf" <<EOF || { log "gnuplot FAILED"; status=1; }
set terminal pngcairo size 1400,720 font "sans,10"
set output "$png"
set title "hakmem comparison benchmark ($mode, median of $reps) - speed relative to glibc, higher is better"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set datafile missing "-"
set datafile separator "\t"
set xtics rotate by -35 scale 0 noenhanced
set key top left noenhanced
set grid ytics
set yrange [0:*]
set ylabel "speed / glibc speed"
array C[6] = ["#9a9a9a", "#2c7fb8", "#d95f02", "#7570b3", "#e7298a", "#66c2a5"]
plot for [i=2:$((ncol + 1))] "$chartdata" using i:xtic(1) title columnheader(i) lc rgb C[(i - 2) % 6 + 1]
EOF
fi

# Machine and versions.
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
glibc_ver=$(dpkg-query -W -f='${Version}' libc6 2>/dev/null)
pkgs=$(for p in libc6 libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4 redis-server redis-tools sqlite3 python3.11 gcc-12 gnuplot-nox strace; do
	v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null) && echo "| $p | $v |"
done)
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)
hk_ver=$(echo "${VERSION[hakmem]:-}" | tr ' ' '\n' | awk -F= '$1 == "hakmem" { print $2 }')
hk_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "no commit")
cmdline="tools/bench/run.sh$([ "$mode" = quick ] && echo " --quick") --reps $reps${only:+ --only $only}"
mins=$(((t_end - t_start + 59) / 60))

page="$out/performance.md"
# Sections below this marker are written by hand (with the commands that
# produced their figures) and kept when the page is written again.
keep_marker="<!-- run.sh keeps everything below this line -->"
kept=""
if [ -f "$page" ] && grep -qxF "$keep_marker" "$page"; then
	kept=$(awk -v m="$keep_marker" '$0 == m { on = 1 } on' "$page")
fi
{
	cat <<EOF
# Performance

How hakmem compares with glibc's malloc and the allocators most often
preloaded in its place (mimalloc, jemalloc, tcmalloc), on the workloads of
\`tools/bench/\`.  This page and \`performance.png\` are written by
\`$cmdline\` (\`make bench\`); do not edit them by hand.

## Machine

| | |
|---|---|
| CPUs (nproc) | $(nproc) |
| CPU model | $cpu |
| kernel | $(uname -r) |
| glibc | $glibc_ver |
| transparent huge pages | $thp |
| hakmem | ${hk_ver:-unknown} (tree at $hk_rev) |
| run | $(date -u '+%Y-%m-%d %H:%M UTC'), $mode sizes, $reps repetition(s), $mins min |
| load average (1/5/15 min) | $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end |

Packages (\`dpkg-query\`):

| package | version |
|---|---|
$pkgs

## Results

Each cell is the median over $reps run(s); in brackets, that median divided
by hakmem's (so above 1 means more throughput for ↑ figures, more time for
↓ ones).  The allocators run interleaved: for each workload and repetition,
one run of each in turn.  \`mimalloc-lp\` is mimalloc with
\`MIMALLOC_LARGE_OS_PAGES=1\` and \`hakmem-hugetlb\` is hakmem with
\`HAKMEM_HUGEPAGES=hugetlb\`, both run on the pointer-chasing walk only,
with a pool of $BENCH_HUGETLB_PAGES hugetlb pages reserved around each of
their runs (and no pool for the other columns): both see the same pool,
whose pages are faulted once when it is made, so that neither pays a
virtual machine's first touch of them;
\`hakmem-mmcid\` and \`hakmem-fallback\` are hakmem with
\`HAKMEM_PERCPU=mmcid\` (caches by rseq mm_cid) and \`=fallback\` (the
locked front end), run on seed and the many-threads rows; the default
\`hakmem\` column is \`HAKMEM_PERCPU=auto\` (rseq by cpu_id).
**FAIL** marks a run that crashed, failed its own data check, or was found
not to use the allocator named.

$tables

![speed relative to glibc](performance.png)

EOF
	if [ -s "$sysfile" ]; then
		cat <<EOF
### System calls of hakmem

Counted with \`strace -f -c\` in a separate, un-timed run of each synthetic
workload at the same size (memory-management calls only).  Counts include
the process start-up (the dynamic loader mapping the libraries); the
\`start-up\` row, a program that makes one malloc, shows that share.

$(cat "$sysfile")

EOF
	fi
	cat <<'EOF'
## Workloads

| workload | what it does (full sizes) |
|---|---|
| seed | working set of 400 blocks; a random slot is freed and refilled with 16..1024 bytes (20M operations) |
| seed-ws8k | the same with a working set of 8192 (10M operations) |
| seed-32k | the same with sizes 16 bytes..32 KiB (5M operations) |
| larson | server-style: 4 threads replace random blocks of 1000-block arrays (16..512 bytes) and hand the arrays to each other; 3 s |
| prodcons | 2 producer threads allocate (16..512 bytes), 2 consumer threads verify and free; batches of 256 through a queue; 3M blocks |
| manythreads | 64 threads on the machine's CPUs, 256-block working set each, 600000 operations each; every 16th block goes to a shared inbox that every thread empties, so another thread frees it |
| manythreads-2 | the same total work (38.4M operations) and the same live heap (2 threads with 8192-block working sets) on 2 threads, to compare peak RSS at 2 and 64 threads |
| ptrchase | 4M nodes of 64 bytes allocated one by one, linked in random order and walked once; allocation and walk timed apart (the walk is where 2 MiB pages show); page faults per MiB of nodes counted over the allocation (getrusage minflt) |
| realloc_growth | 64 buffers grown by realloc in random steps (up to a quarter of their size) to 4 MiB, in random interleaving; 2 rounds |
| churn | 2000 short-lived threads, 4 at a time, 1000 allocations each; 16 blocks of each freed by the main thread after it exits |
| freeheap | 1 GiB of 16..256-byte blocks allocated, freed in random order, then the RSS sampled every 10 ms for a second: what the allocator keeps above the starting RSS (the live heap is empty) |
| redis | Debian's redis-server, driven over 127.0.0.1 by redis-benchmark (-c 50 -P 16 -r 100000 -d 256; set, get, lpush, lpop, sadd, hset, mset; 50000 requests each); peak RSS is the server's |
| python | Debian's python3 with PYTHONMALLOC=malloc on tools/bench/alloc_heavy.py (30000 records built, sorted, JSON round-trip, indexed; 2 rounds) |
| sqlite | the sqlite3 shell: group-by, distinct, sort, temp table, index, join and update queries on a generated 150000-row database |
| gcc | gcc -O2 -c on a generated 150-function C file |

Quick mode (\`--quick\`) uses smaller sizes (see \`tools/bench/workloads.sh\`).
Every synthetic workload writes a pattern into each block and verifies it
before free; the real programs' outputs are compared by checksum across
allocators.  Each run checks which object its malloc binds to (dladdr of
malloc for the workloads, the dynamic loader's binding trace and
/proc/PID/maps for the real programs); for glibc, libc.so.6 itself is
preloaded, since Debian's redis-server otherwise uses the jemalloc it links.
The hakmem-fast, hakmem-balanced and hakmem-lean columns are hakmem with
\`HAKMEM_PROFILE\` set, on the seed and freeheap workloads only.
EOF
	if [ -n "$kept" ]; then
		echo
		echo "$kept"
	fi
} >"$page"

echo
echo "$tables"
if [ -s "$sysfile" ]; then
	echo
	echo "hakmem system calls:"
	echo
	cat "$sysfile"
fi
echo
log "wrote $page and $png (raw results and log in $work)"
[ "$status" = 0 ] || log "some runs FAILED; see $logf"
exit "$status"
