# SPDX-License-Identifier: MIT
#
# Shared helpers for the preload tests (tools/testing/preload/*.sh).  Sourced,
# not run; named .bash so the test runner does not take it for a test.
#
# A test script does:
#	. "$(dirname "$0")/tap-lib.bash"
#	tap_init "$@" NAME      # checks $1, makes $TMP, sets $LIB / $LIB_REAL
#	tap_plan N
#	...  ok / not_ok / skip / check_cmd / run_pre ...
#	tap_done
#
# Only the program under test is run with LD_PRELOAD (through run_pre or an
# explicit "LD_PRELOAD=$LIB prog"); the checks around it use the system
# allocator.

set -u

TAP_N=0
TAP_FAILED=0
TAP_PLAN=0
TAP_NAME=preload

# Seconds a single preloaded command may run before it counts as hung.
PRELOAD_TIMEOUT=${PRELOAD_TIMEOUT:-240}

diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

# diag_file FILE [LINES]: the last LINES (default 15) lines of FILE.
diag_file() {
	local f=$1 n=${2:-15}
	[ -s "$f" ] || return 0
	tail -n "$n" "$f" | sed 's/^/#   /'
}

ok() {
	TAP_N=$((TAP_N + 1))
	printf 'ok %d - %s\n' "$TAP_N" "$1"
}

not_ok() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	printf 'not ok %d - %s\n' "$TAP_N" "$1"
	shift
	[ $# -gt 0 ] && diag "$*"
	return 0
}

skip() {	# skip NAME REASON
	TAP_N=$((TAP_N + 1))
	printf 'ok %d - %s # SKIP %s\n' "$TAP_N" "$1" "$2"
}

# result NAME STATUS [DIAG...]: ok if STATUS is 0.
result() {
	local name=$1 st=$2
	shift 2
	if [ "$st" -eq 0 ]; then
		ok "$name"
	else
		not_ok "$name" "$@"
	fi
}

tap_plan() {
	TAP_PLAN=$1
	echo "1..$1"
}

tap_done() {
	while [ "$TAP_N" -lt "$TAP_PLAN" ]; do
		not_ok "test never ran (script stopped early)"
	done
	if [ "$TAP_N" -gt "$TAP_PLAN" ]; then
		diag "ran $TAP_N tests but planned $TAP_PLAN"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
	[ "$TAP_FAILED" -eq 0 ] && exit 0
	diag "$TAP_NAME: $TAP_FAILED of $TAP_PLAN failed"
	exit 1
}

bail() {
	echo "Bail out! $*"
	exit 2
}

tap_init() {	# tap_init LIB [OBJTREE] NAME  (NAME is always last)
	local name=${!#}
	TAP_NAME=$name
	if [ $# -lt 2 ]; then
		echo "usage: $0 /absolute/path/to/libhakmem.so" >&2
		echo "1..0 # SKIP no library given"
		exit 2
	fi
	LIB=$1
	case "$LIB" in
	/*) ;;
	*) bail "library path must be absolute: $LIB" ;;
	esac
	[ -f "$LIB" ] || bail "no such library: $LIB"
	# /proc/PID/maps shows the resolved path.
	LIB_REAL=$(readlink -f "$LIB")
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-$name.XXXXXX") ||
		bail "mktemp failed"
	trap 'rm -rf "$TMP"' EXIT
	trap 'exit 130' INT TERM
	# Keep the environment of the programs predictable.
	export LC_ALL=C
	unset MALLOC_CHECK_ MALLOC_PERTURB_
}

# run_pre CMD...: CMD with the library preloaded, bounded in time.  The
# exit status is CMD's (124 if it was killed for running too long).
run_pre() {
	timeout -k 10 "$PRELOAD_TIMEOUT" env LD_PRELOAD="$LIB" "$@"
}

# The dynamic loader says so on stderr when it cannot preload an object.
# preload_error FILE: true if FILE contains such a complaint.
preload_error() {
	grep -qE "ld\.so: object .* cannot be preloaded|error while loading shared libraries" "$1" 2>/dev/null
}

# maps_has_lib PID|self: true if the library is mapped in that process.
maps_has_lib() {
	grep -qF "$LIB_REAL" "/proc/$1/maps" 2>/dev/null
}

# Test: the library is really loaded into a preloaded process.
check_loaded() {
	local out=$TMP/.maps err=$TMP/.maps.err
	# env execs cat, so /proc/self is cat, the preloaded process.
	timeout -k 5 60 env LD_PRELOAD="$LIB" cat /proc/self/maps >"$out" 2>"$err"
	local st=$?
	if [ $st -eq 0 ] && grep -qF "$LIB_REAL" "$out" && ! preload_error "$err"; then
		ok "library is mapped into a preloaded process ($LIB_REAL)"
	else
		not_ok "library is mapped into a preloaded process ($LIB_REAL)" \
			"cat exited $st; stderr:"
		diag_file "$err"
	fi
}

# Describe how a command ended, for diagnostics.
describe_status() {
	local st=$1
	if [ "$st" -eq 124 ] || [ "$st" -eq 137 ]; then
		echo "timed out after ${PRELOAD_TIMEOUT}s (exit $st)"
	elif [ "$st" -gt 128 ]; then
		echo "killed by signal $((st - 128)) ($(kill -l $((st - 128)) 2>/dev/null))"
	else
		echo "exit status $st"
	fi
}

# same_output NAME EXPECTED_FILE GOT_FILE: compare and show a short diff.
same_output() {
	if cmp -s "$2" "$3"; then
		ok "$1"
	else
		not_ok "$1" "output differs from the run without the library:"
		diff "$2" "$3" | head -n 20 | sed 's/^/#   /'
	fi
}
