#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The mapping-name test: boot a kernel that has CONFIG_ANON_VMA_NAME and
# read hakmem's mapping names back from /proc/self/smaps there.
#
#   vmaname-vm.sh LIBHAKMEM OBJTREE
#
# Debian's 6.12 kernels, and the one this machine runs, are built without
# CONFIG_ANON_VMA_NAME: PR_SET_VMA_ANON_NAME fails with EINVAL, so the
# names can only be seen on a kernel built here.  This script builds one
# from Debian's linux-source-6.12 (linux-source-6.1 where 6.12 is not in
# the archive): tinyconfig plus the options below, five to eight minutes
# of `make -j2` on two CPUs, at nice 19, once; the bzImage is cached under
# $HAKMEM_VM_CACHE/vmaname (default /var/cache/hakmem-numa-vm/vmaname),
# keyed by the source package's version and the option list.  qemu (TCG)
# boots it with two NUMA nodes of one CPU and 384 MiB each, and an
# initramfs of busybox-static and
# OBJTREE/tools/testing/numa-vm/vmaname_vm, which make links statically
# against OBJTREE/libhakmem.a (LIBHAKMEM, the shared library tap-exec
# passes, is not used: the guest has no shared libraries).  /init runs
# the program on the thp, 4k and hugetlb tiers (a thread pinned to each
# node's CPU allocates, and its blocks must lie in mappings named for
# its node, on its node's pages), prints TAP between two markers on the
# serial console and reboots, which ends qemu (-no-reboot); this script
# numbers the lines and passes them on.
#
# Downloads: Debian packages only, installed with apt-get when missing.
# Without root it skips (it cannot install packages); any other failure
# is a failure.
set -u
objtree=${2:?usage: vmaname-vm.sh LIBHAKMEM OBJTREE}
prog=$objtree/tools/testing/numa-vm/vmaname_vm
vmcache=${HAKMEM_VM_CACHE:-/var/cache/hakmem-numa-vm}
cache=$vmcache/vmaname
timeout=${HAKMEM_VM_TIMEOUT:-400}
jobs=${HAKMEM_VM_JOBS:-2}
log=$objtree/tools/testing/numa-vm/vmaname-console.log

bail() { echo "1..1"; echo "not ok 1 - vmaname-vm: $*"; exit 1; }
. "$(dirname "$0")/vm.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP not root: installing the kernel source and qemu needs root"
	exit 0
fi
[ -x "$prog" ] || bail "$prog is not built"

# The options on top of tinyconfig, all of which must come out =y: a
# 64-bit kernel with a serial console that unpacks a gzip'd initramfs and
# runs busybox (ELF and #! scripts, proc, sysfs, devtmpfs, tmpfs, users);
# what hakmem calls (futex, madvise, membarrier, rseq; mremap comes with
# the MMU; mbind and get_mempolicy with NUMA); both huge page tiers with
# THP in madvise mode; /proc/PID/smaps (PROC_PAGE_MONITOR); the option
# under test; and two nodes: SMP and NUMA, and the ACPI SRAT table, the
# only way qemu's -numa topology reaches an x86 kernel (X86_64_ACPI_NUMA,
# which depends on ACPI and PCI).  The last five add about 360 files to
# compile (ACPICA alone 156), yet `make -j2 bzImage` took 353 s and
# 314 s with them where it had taken 231 s and 333 s without (485 s in a
# build by hand: the time varies from run to run as much as with the
# options).  Turning off 26 options ACPI, PCI and SMP bring by default
# (cpufreq, cpuidle, thermal, the ACPI battery, fan and button drivers,
# the PCI serial ports, Intel MEI, ...) took 70 files off but no time
# that showed (545 s, by hand), so the list only enables.  With ACPI the
# guest could power off; it still reboots, which ends qemu with or
# without ACPI.
options="64BIT PRINTK EARLY_PRINTK BUG TTY SERIAL_8250 SERIAL_8250_CONSOLE
	BLK_DEV_INITRD RD_GZIP BINFMT_ELF BINFMT_SCRIPT PROC_FS PROC_SYSCTL
	PROC_PAGE_MONITOR SYSFS DEVTMPFS SHMEM TMPFS MULTIUSER FUTEX EPOLL
	SIGNALFD TIMERFD EVENTFD ADVISE_SYSCALLS MEMBARRIER RSEQ HUGETLBFS
	HUGETLB_PAGE TRANSPARENT_HUGEPAGE TRANSPARENT_HUGEPAGE_MADVISE
	ANON_VMA_NAME SMP NUMA ACPI PCI X86_64_ACPI_NUMA"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

# The kernel source: 6.12 if the archive has it, else 6.1.
src=
for v in 6.12 6.1; do
	if installed linux-source-$v || vm_install linux-source-$v 2>/dev/null; then
		src=linux-source-$v
		break
	fi
done
[ -n "$src" ] || bail "cannot install linux-source-6.12 or linux-source-6.1 from Debian's archive"
tarball=/usr/src/$src.tar.xz
[ -f "$tarball" ] || bail "$src has no $tarball"
srcver=$(dpkg-query -W -f='${Version}' "$src")
key=$src-$srcver-$(echo $options | md5sum | cut -c1-8)
kdir=$cache/$key
kernel=$kdir/bzImage

need=()
vm_need_tools
if [ ! -f "$kernel" ]; then
	# What building a tinyconfig bzImage takes: objtool wants libelf,
	# KERNEL_XZ (tinyconfig's) xz, timeconst.h bc.
	for p in gcc make libc6-dev flex bison bc libelf-dev xz-utils; do
		installed $p || need+=($p)
	done
fi
if [ ${#need[@]} -gt 0 ]; then
	vm_install "${need[@]}" || bail "cannot install ${need[*]} from Debian's archive"
fi

# The kernel, built once per source version and option list.  One build
# at a time: a second run waits for the first and takes its bzImage.
mkdir -p "$cache" || bail "cannot create $cache"
exec 9>"$cache/.lock"
flock 9
if [ ! -f "$kernel" ]; then
	build=$(mktemp -d "$cache/build.XXXXXX") || bail "cannot create a build directory in $cache"
	trap 'rm -rf "$build"' EXIT
	blog=$cache/$key.build.log
	t0=$(date +%s)
	echo "# building $src $srcver (tinyconfig + ANON_VMA_NAME) in $build; log $blog"
	nice -n 19 tar -xJf "$tarball" -C "$build" || bail "cannot unpack $tarball"
	t1=$(date +%s)
	ksrc=$build/$src
	(
		set -e
		cd "$ksrc"
		make ARCH=x86_64 tinyconfig
		./scripts/config $(printf -- '--enable %s ' $options)
		make ARCH=x86_64 olddefconfig
	) >"$blog" 2>&1 || { tail -20 "$blog" | sed 's/^/#   /'; bail "cannot configure $src"; }
	missing=
	for o in $options; do
		[ "$("$ksrc/scripts/config" --file "$ksrc/.config" -s "$o")" = y ] || missing="$missing $o"
	done
	[ -z "$missing" ] || bail "olddefconfig dropped:$missing"
	t2=$(date +%s)
	(cd "$ksrc" && nice -n 19 make ARCH=x86_64 -j"$jobs" bzImage) >>"$blog" 2>&1 ||
		{ tail -30 "$blog" | sed 's/^/#   /'; bail "the kernel build failed (log: $blog)"; }
	t3=$(date +%s)
	mkdir -p "$kdir.new" &&
		cp "$ksrc/arch/x86/boot/bzImage" "$ksrc/.config" "$kdir.new/" &&
		echo "$((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $((t3 - t0)) $(date -u +%F)" >"$kdir.new/build-time" &&
		rm -rf "$kdir" && mv "$kdir.new" "$kdir" || bail "cannot store the kernel in $kdir"
	rm -rf "$build"
	trap - EXIT
	echo "# kernel built in $((t3 - t0)) s: unpack $((t1 - t0)) s, configure $((t2 - t1)) s, make -j$jobs bzImage $((t3 - t2)) s"
else
	read -r _ _ _ secs day <"$kdir/build-time" 2>/dev/null
	echo "# kernel from the cache: $kdir (built in ${secs:-?} s on ${day:-?})"
fi
flock -u 9

# The initramfs: busybox, the static test program and /init.
work=$(mktemp -d /tmp/hakmem-vmaname-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,proc,sys,dev,tmp}
cp /bin/busybox "$root/bin/busybox"
cp "$prog" "$root/bin/vmaname_vm"
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
export PATH=/bin
# One run per tier; a run that dies (not just fails a check) is a failure.
run() {
	vmaname_vm "$1"
	rc=$?
	[ $rc -le 1 ] && echo "ok - $1: vmaname_vm ran to the end" ||
		echo "not ok - $1: vmaname_vm ran to the end (exit status $rc)"
}
echo "== vmaname-vm tap begin"
echo "# kernel $(uname -r) $(uname -v), $(grep MemTotal /proc/meminfo | tr -s ' '), CPUs $(cat /sys/devices/system/cpu/online)"
for n in 0 1; do
	[ -d /sys/devices/system/node/node$n ] &&
		echo "# node$n: CPUs $(cat /sys/devices/system/node/node$n/cpulist), $(grep MemTotal /sys/devices/system/node/node$n/meminfo | awk '{print $4, $5}')"
done
echo "# THP $(cat /sys/kernel/mm/transparent_hugepage/enabled), hugetlb pool $(cat /proc/sys/vm/nr_hugepages)"
HAKMEM_HUGEPAGES=thp run thp
HAKMEM_HUGEPAGES=off run 4k
# 10 pages of 2 MiB on each node: a node's thread takes about 5 (its
# superslab and the 8 MiB block), the start-up superslab one more; a
# 64 MiB block (32 pages) is more than the whole pool.
hp=hugepages/hugepages-2048kB/nr_hugepages
for n in 0 1; do echo 10 > /sys/devices/system/node/node$n/$hp; done
echo "# hugetlb pool: $(cat /proc/sys/vm/nr_hugepages) pages (node0 $(cat /sys/devices/system/node/node0/$hp), node1 $(cat /sys/devices/system/node/node1/$hp))"
HAKMEM_HUGEPAGES=hugetlb run hugetlb
echo "== vmaname-vm tap end"
reboot -f
INIT
chmod +x "$root/init"
vm_pack "$root" "$work/initrd.gz"

# Two nodes of one CPU and 384 MiB each.  768 MiB in all: below 512 MiB
# of RAM (all nodes together) the kernel starts with THP off.
mapfile -t nodes < <(vm_numa_args 384)
vm_run vmaname-vm "$log" "$timeout" "$kernel" "$work/initrd.gz" -m 768M -smp 2 "${nodes[@]}"
