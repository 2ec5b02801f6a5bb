# SPDX-License-Identifier: MIT
#
# What the qemu guests of numa-vm.sh and vmaname-vm.sh share; sourced,
# after the script has defined bail().
#
export DEBIAN_FRONTEND=noninteractive

# vm_install PKG...: install from Debian's archive, updating the package
# lists and trying once more if the first attempt fails.
vm_install() {
	echo "# installing $*"
	apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 &&
		  apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}

# vm_need_tools: add to the caller's array need what booting a guest takes
# and is missing: qemu, and a static busybox for the initramfs.
vm_need_tools() {
	command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
	[ -x /bin/busybox ] && ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' ||
		need+=(busybox-static)
}

# vm_pack ROOT OUT: ROOT as a gzip'd newc initramfs in OUT, packed with
# busybox's cpio (busybox-static is in the guest anyway).
vm_pack() {
	(set -o pipefail; cd "$1" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$2" ||
		bail "cannot build the initramfs"
}

# vm_numa_args MIB: qemu arguments for nodes 0 and 1, one CPU (0, 1) and
# MIB MiB of memory each; printed one to a line, for mapfile.
vm_numa_args() {
	local n
	for n in 0 1; do
		printf '%s\n' -object "memory-backend-ram,id=m$n,size=${1}M" \
			-numa "node,nodeid=$n,cpus=$n,memdev=m$n"
	done
}

# vm_run NAME LOG TIMEOUT KERNEL INITRD QEMU-ARGUMENTS...: boot KERNEL
# with INITRD under TCG (serial console, THP in madvise mode, no reboot),
# its console in LOG, for TIMEOUT seconds at most, and pass on as
# numbered TAP what its /init printed between "== NAME tap begin" and
# "== NAME tap end" ("ok - ..." lines and "#" comments).  A guest that
# never printed the end marker is a failure, with the end of its console
# shown.  Returns non-zero when any check failed.
vm_run() {
	local name=$1 log=$2 timeout=$3 kernel=$4 initrd=$5 start rc secs
	shift 5

	start=$(date +%s)
	timeout -k 5 "$timeout" qemu-system-x86_64 -accel tcg -cpu max "$@" \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1 transparent_hugepage=madvise" \
		-nographic -no-reboot -monitor none >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	tr -d '\r' <"$log" >"$log.tmp" && mv "$log.tmp" "$log"
	if ! grep -q "^== $name tap end" "$log"; then
		echo "# qemu exited with $rc after ${secs}s; the end of the console:"
		tail -30 "$log" | sed 's/^/#   /'
		bail "the VM did not finish its tests (console: $log)"
	fi
	sed -n "/== $name tap begin/,/^== $name tap end/p" "$log" | awk -v secs="$secs" '
		/^ok|^not ok/ { n++; sub(/^ok/, "ok " n); sub(/^not ok/, "not ok " n); print; next }
		/^#/ { print }
		END { print "# VM booted and tested in " secs " s"; print "1.." n }'
	! sed -n "/== $name tap begin/,/^== $name tap end/p" "$log" | grep -q '^not ok'
}
