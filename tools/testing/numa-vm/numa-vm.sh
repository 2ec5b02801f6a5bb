#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The NUMA test: boot a small two-node VM and check placement there.
#
#   numa-vm.sh LIBHAKMEM OBJTREE
#
# qemu (TCG, no KVM needed) with three CPUs on three NUMA nodes: node 0
# (CPU 0, 512 MiB), node 1 (CPU 1, 512 MiB) and node 2 (CPU 2, no memory).
# The guest runs Debian's 6.12 kernel from the package archive and an
# initramfs of busybox-static, libhakmem.so, the test program numa_vm and
# the shared libraries they need; /init runs the tests, prints TAP between
# two markers on the serial console and powers off.  This script numbers
# the lines and passes them on.
#
# Downloads: Debian packages only (qemu-system-x86 and busybox-static when
# missing, and the kernel image package with `apt-get download`), cached in
# $HAKMEM_VM_CACHE (default /var/cache/hakmem-numa-vm).  Without root it
# skips (it cannot install packages); any other failure is a failure.
set -u
lib=${1:?usage: numa-vm.sh LIBHAKMEM OBJTREE}
objtree=${2:?usage: numa-vm.sh LIBHAKMEM OBJTREE}
prog=$objtree/tools/testing/numa-vm/numa_vm
cache=${HAKMEM_VM_CACHE:-/var/cache/hakmem-numa-vm}
timeout=${HAKMEM_VM_TIMEOUT:-400}
log=$objtree/tools/testing/numa-vm/console.log

bail() { echo "1..1"; echo "not ok 1 - numa-vm: $*"; exit 1; }
. "$(dirname "$0")/vm.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP not root: installing qemu and the guest kernel needs root"
	exit 0
fi
[ -x "$prog" ] || bail "$prog is not built"

need=()
vm_need_tools
if [ ${#need[@]} -gt 0 ]; then
	vm_install "${need[@]}" || bail "cannot install ${need[*]} from Debian's archive"
fi

# The guest kernel: the newest linux-image-6.12.*-amd64-unsigned.
mkdir -p "$cache" || bail "cannot create $cache"
kernel=$(ls "$cache"/x/boot/vmlinuz-6.12.*-amd64 2>/dev/null | sort -V | tail -1)
if [ -z "$kernel" ]; then
	find_pkg() {
		apt-cache search --names-only '^linux-image-6\.12\.[0-9]+.*-amd64-unsigned$' |
			awk '{print $1}' | grep -v -e cloud -e '-rt-' | sort -V | tail -1
	}
	pkg=$(find_pkg)
	[ -n "$pkg" ] || { apt-get update -qq >/dev/null 2>&1; pkg=$(find_pkg); }
	[ -n "$pkg" ] || bail "no linux-image-6.12.*-amd64-unsigned in the package archive"
	echo "# downloading $pkg"
	(cd "$cache" && apt-get download -qq "$pkg" 2>/dev/null) ||
		bail "apt-get download $pkg failed"
	dpkg-deb -x "$cache/$pkg"_*.deb "$cache/x" || bail "cannot unpack $pkg"
	kernel=$(ls "$cache"/x/boot/vmlinuz-6.12.*-amd64 2>/dev/null | sort -V | tail -1)
	[ -n "$kernel" ] || bail "no vmlinuz in $pkg"
fi

# The initramfs.
work=$(mktemp -d /tmp/hakmem-numa-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,lib,lib64,proc,sys,dev,tmp,usr/lib/x86_64-linux-gnu}
cp /bin/busybox "$root/bin/busybox"
cp "$prog" "$root/bin/numa_vm"
cp "$lib" "$root/lib/libhakmem.so"
for f in "$prog" "$lib"; do
	ldd "$f" | awk '/=> \//{print $3} /^\t\/lib/{print $1}'
done | sort -u | while read -r so; do
	mkdir -p "$root$(dirname "$so")"
	cp -L "$so" "$root$so"
done
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
export PATH=/bin LD_PRELOAD=/lib/libhakmem.so
echo "== numa-vm tap begin"
echo "# kernel $(uname -r), nodes possible $(cat /sys/devices/system/node/possible), with memory $(cat /sys/devices/system/node/has_memory), CPUs $(cat /sys/devices/system/cpu/online)"
for n in 0 1 2; do
	[ -d /sys/devices/system/node/node$n ] &&
		echo "# node$n: CPUs $(cat /sys/devices/system/node/node$n/cpulist) mem $(grep MemTotal /sys/devices/system/node/node$n/meminfo | awk '{print $4, $5}')"
done
echo "# the heap's start-up report:"
HAKMEM_STATS=1 numa_vm local 2>&1 | grep -e '^ok' -e '^not ok' -e '^#' -e 'node\|front-end\|tier' |
	sed 's/^hakmem:/# hakmem:/'
numa_vm bind
numa_vm remote
HAKMEM_STATS=1 numa_vm remote 2>&1 | grep -q 'remote frees [1-9]' &&
	echo "ok - remote: the stats count the cross-node frees" ||
	echo "not ok - remote: the stats count the cross-node frees"
# A CPU outside the affinity mask at start-up, then one that was offline.
taskset -c 0 numa_vm late 1 "outside the affinity mask"
echo 0 > /sys/devices/system/cpu/cpu1/online
numa_vm late 1 "offline"
# A CPU of the memoryless node.
if [ -d /sys/devices/system/cpu/cpu2 ]; then numa_vm memless 2; fi
# NUMA off and interleave still run.
HAKMEM_NUMA=off HAKMEM_STATS=1 numa_vm local 2>&1 | grep -q 'NUMA placement off' &&
	echo "ok - HAKMEM_NUMA=off: one heap, no mbind" ||
	echo "not ok - HAKMEM_NUMA=off: one heap, no mbind"
HAKMEM_NUMA=interleave numa_vm interleave
# The hugetlb tier, per node: 8 pages reserved on each node, more than a
# thread's 3 MiB job takes (small slabs and large runs in superslabs of
# their own kind: up to 5 with the start-up superslab's node).  With too
# few, MPOL_PREFERRED rightly takes the other node's pages.
for n in 0 1; do
	echo 8 > /sys/devices/system/node/node$n/hugepages/hugepages-2048kB/nr_hugepages
done
echo "# hugetlb pool: node0 $(cat /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages), node1 $(cat /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages)"
numa_vm hugetlb
echo "== numa-vm tap end"
poweroff -f
INIT
chmod +x "$root/init"
vm_pack "$root" "$work/initrd.gz"

mapfile -t nodes < <(vm_numa_args 512)
vm_run numa-vm "$log" "$timeout" "$kernel" "$work/initrd.gz" -m 1G -smp 3 "${nodes[@]}" \
	-numa node,nodeid=2,cpus=2
