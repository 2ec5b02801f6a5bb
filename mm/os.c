// SPDX-License-Identifier: MIT
/*
 * The OS layer: the only file of hakmem that makes system calls.
 *
 * Contract (include/hakmem/os.h): negative errno returns, errno of the
 * caller preserved, no allocation, no stdio.  Capabilities are discovered
 * once by os_probe() from /sys and /proc with open/read, because libc's
 * sysconf() and opendir() may allocate, and so do libnuma's topology calls
 * and libhugetlbfs' pool helpers (gethugepagesizes, get_huge_pages): the
 * allocator reads the same sysfs files they read and makes the mbind and
 * MAP_HUGETLB calls itself.  The tests use both libraries to check it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/futex.h>
#include <linux/mempolicy.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <linux/membarrier.h>

#include "hakmem/internal.h"
#include <asm/rseq-abi.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA		0x53564d41
#define PR_SET_VMA_ANON_NAME	0
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT		26
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB		0x0004U
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL		0x0008U
#endif
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB		(21U << 26)
#endif

struct os_caps os_caps;

#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE	27
#endif
#ifndef MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ
#define MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ		(1 << 7)
#define MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ	(1 << 8)
#endif

/* glibc 2.35+ exports where it put the thread's rseq area. */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

/*
 * Parse a kernel cpu/node list ("0-3,8,10-11") and call fn for each
 * member.  Returns the highest member + 1, or 0 for an empty list.
 */
static unsigned parse_list(const char *s, void (*fn)(unsigned, void *), void *arg)
{
	unsigned top = 0;

	while (*s >= '0' && *s <= '9') {
		unsigned a = 0, b;

		while (*s >= '0' && *s <= '9')
			a = a * 10 + (unsigned)(*s++ - '0');
		b = a;
		if (*s == '-') {
			s++;
			b = 0;
			while (*s >= '0' && *s <= '9')
				b = b * 10 + (unsigned)(*s++ - '0');
		}
		for (unsigned i = a; i <= b && i < HM_MAX_CPUS; i++)
			if (fn)
				fn(i, arg);
		if (b + 1 > top)
			top = b + 1;
		if (*s == ',')
			s++;
	}
	return top;
}

#define NO_NODE		0xffff

static void set_cpu_node(unsigned cpu, void *arg)
{
	os_caps.cpu_node[cpu] = (unsigned short)(uintptr_t)arg;
}

static void set_node_mem(unsigned node, void *arg)
{
	(void)arg;
	if (node < HM_MAX_NODES)
		os_caps.node_mem |= 1ULL << node;
}

static unsigned long read_ulong(const char *path)
{
	char buf[32];
	unsigned long v = 0;

	if (os_read_file(path, buf, sizeof(buf)) <= 0)
		return 0;
	for (const char *s = buf; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (unsigned long)(*s - '0');
	return v;
}

static int path_exists(const char *path)
{
	int saved = errno, r = access(path, F_OK) == 0;

	errno = saved;
	return r;
}

/*
 * The node with memory nearest to node (by the SLIT distances in sysfs),
 * itself when it has memory.  A memoryless node's CPUs allocate there.
 */
static unsigned nearest_mem_node(unsigned node)
{
	char path[64], buf[1024];
	const char *s = buf;
	unsigned best = 0, best_d = ~0u;

	if (os_caps.node_mem & (1ULL << node))
		return node;
	for (unsigned n = 0; n < os_caps.nr_nodes; n++)
		if (os_caps.node_mem & (1ULL << n)) {
			best = n;	/* the lowest node with memory, if no distances */
			break;
		}
	hm_snprintf(path, sizeof(path), "/sys/devices/system/node/node%u/distance", node);
	if (os_read_file(path, buf, sizeof(buf)) <= 0)
		return best;
	for (unsigned n = 0; *s && n < os_caps.nr_nodes; n++) {
		unsigned d = 0;

		while (*s == ' ')
			s++;
		while (*s >= '0' && *s <= '9')
			d = d * 10 + (unsigned)(*s++ - '0');
		if ((os_caps.node_mem & (1ULL << n)) && d < best_d) {
			best = n;
			best_d = d;
		}
	}
	return best;
}

/*
 * Topology from sysfs, as libnuma itself reads it, but with open/read
 * only: libnuma's calls allocate, and this runs inside malloc's start-up.
 * A node's cpulist holds its online CPUs only, so an offline CPU is found
 * through its cpuN/nodeM link, and a CPU with no node at all gets the
 * first node with memory: every possible CPU has an entry.
 */
static void probe_topology(void)
{
	char buf[4096], path[96];
	unsigned n;

	n = 0;
	if (os_read_file("/sys/devices/system/node/possible", buf, sizeof(buf)) > 0)
		n = parse_list(buf, NULL, NULL);
	os_caps.nr_nodes = n ? MIN(n, HM_MAX_NODES) : 1;

	os_caps.node_mem = 0;
	if (os_read_file("/sys/devices/system/node/has_memory", buf, sizeof(buf)) > 0)
		parse_list(buf, set_node_mem, NULL);
	if (os_caps.nr_nodes < 64)
		os_caps.node_mem &= (1ULL << os_caps.nr_nodes) - 1;
	if (!os_caps.node_mem)
		os_caps.node_mem = 1;	/* no NUMA in sysfs: one node, node 0 */

	for (unsigned c = 0; c < HM_MAX_CPUS; c++)
		os_caps.cpu_node[c] = NO_NODE;
	for (unsigned node = 0; node < os_caps.nr_nodes; node++) {
		hm_snprintf(path, sizeof(path), "/sys/devices/system/node/node%u/cpulist", node);
		if (os_read_file(path, buf, sizeof(buf)) > 0)
			parse_list(buf, set_cpu_node, (void *)(uintptr_t)node);
		os_caps.node_home[node] = (unsigned short)nearest_mem_node(node);
	}
	for (unsigned c = 0; c < os_caps.nr_cpus; c++) {
		unsigned raw = os_caps.cpu_node[c];

		for (unsigned node = 0; raw == NO_NODE && node < os_caps.nr_nodes; node++) {
			hm_snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%u/node%u", c, node);
			if (path_exists(path))
				raw = node;
		}
		if (raw == NO_NODE || raw >= os_caps.nr_nodes)
			raw = 0;
		os_caps.cpu_node[c] = os_caps.node_home[raw];
	}
}

void os_probe(void)
{
	char buf[4096];
	unsigned n;

	n = 0;
	if (os_read_file("/sys/devices/system/cpu/possible", buf, sizeof(buf)) > 0)
		n = parse_list(buf, NULL, NULL);
	/* The highest possible CPU's number + 1, when it fits the tables. */
	os_caps.cpu_ids_bounded = n && n <= HM_MAX_CPUS;
	if (!n) {
		long c = sysconf(_SC_NPROCESSORS_CONF);	/* last resort: a count */
		n = c > 0 ? (unsigned)c : 1;
	}
	os_caps.nr_cpus = MIN(n, HM_MAX_CPUS);
	probe_topology();

	os_caps.thp = 0;
	if (os_read_file("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf)) > 0)
		os_caps.thp = !strstr(buf, "[never]");
	os_caps.vma_names = 1;		/* until the kernel says otherwise */
	os_caps.memfd_flags = MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB | MFD_NOEXEC_SEAL;
	os_caps.mbind = 1;		/* likewise */
	/*
	 * The 2 MiB hugetlb pool, from sysfs rather than libhugetlbfs:
	 * gethugepagesizes() and its pool helpers allocate.
	 */
	os_caps.hugetlb_pages =
		read_ulong("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages") +
		read_ulong("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_overcommit_hugepages");

	/*
	 * glibc's rseq registration: __rseq_size is 0 when it registered
	 * nothing (glibc.pthread.rseq=0, or the kernel refused, as under
	 * valgrind); cpu_id then reads negative too.
	 */
	os_caps.rseq_glibc = 0;
	if (&__rseq_offset && &__rseq_size && __rseq_size > 0) {
		volatile int *cpu = (volatile int *)((char *)__builtin_thread_pointer() +
						     __rseq_offset + RSEQ_OFF_CPU_ID);

		if (*cpu >= 0) {
			os_caps.rseq_glibc = 1;
			os_caps.rseq_glibc_off = __rseq_offset;
		}
	}
	os_caps.rseq_feature_size = (unsigned)getauxval(AT_RSEQ_FEATURE_SIZE);

	{
		struct rlimit rl;

		os_caps.as_limit = 0;
		if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			os_caps.as_limit = rl.rlim_cur;
	}
}

int os_reserve(size_t len, size_t align, void **out)
{
	int saved = errno, err;
	uintptr_t p, a;
	void *m;

	m = mmap(NULL, len + align, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	hm_stat_inc(ST_SYS_MMAP);
	if (m == MAP_FAILED) {
		err = -errno;
		errno = saved;
		return err;
	}
	p = (uintptr_t)m;
	a = ALIGN_UP(p, align);
	if (a > p) {
		munmap(m, a - p);
		hm_stat_inc(ST_SYS_MUNMAP);
	}
	if (p + align > a) {
		munmap((void *)(a + len), p + align - a);
		hm_stat_inc(ST_SYS_MUNMAP);
	}
	*out = (void *)a;
	errno = saved;
	return 0;
}

/*
 * Name a mapping for /proc/PID/smaps; committed heap ranges are named by
 * tier and node (name_range()), metadata "hakmem-meta".  EINVAL means the
 * kernel has no CONFIG_ANON_VMA_NAME (or no PR_SET_VMA at all): stop
 * trying.  A kernel with the option gives EINVAL only for an unaligned
 * range or a bad name, which hakmem never passes; its other refusals are
 * about one range or one moment (EBADF: not anonymous memory; ENOMEM,
 * EAGAIN: a hole in the range, or no kernel memory now), so that range
 * stays unnamed and the next one is asked for as usual.  Only anonymous
 * memory can carry such a name: hugetlb mappings are files (EBADF, 6.12,
 * tools/testing/numa-vm/vmaname-vm.sh), so name_range() does not ask for
 * them; they are named by their file instead (hugetlb_file()).
 */
static void name_vma(void *addr, size_t len, const char *name)
{
	if (!READ_ONCE(os_caps.vma_names))
		return;
	hm_stat_inc(ST_SYS_OTHER);
	if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)addr, len,
		  (unsigned long)name) != 0 && errno == EINVAL)
		WRITE_ONCE(os_caps.vma_names, 0);
}

/* Fresh anonymous memory, named name (NULL: unnamed). */
static int map_anon(size_t len, int prot, int flags, const char *name, void **out)
{
	int saved = errno, err;
	void *m;

	m = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
	hm_stat_inc(ST_SYS_MMAP);
	if (m == MAP_FAILED) {
		err = -errno;
		errno = saved;
		return err;
	}
	if (name)
		name_vma(m, len, name);
	*out = m;
	errno = saved;
	return 0;
}

static void name_range(void *addr, size_t len, int tier, unsigned node)
{
	char name[48];

	if (!READ_ONCE(os_caps.vma_names) || tier == HM_TIER_HUGETLB)
		return;
	hm_snprintf(name, sizeof(name), "hakmem-%s-n%u", hm_tier_name(tier), node);
	name_vma(addr, len, name);
}

int os_numa_mode = OS_NUMA_LOCAL;

/*
 * Set the NUMA policy of a fresh mapping before its first touch.
 * LOCAL is MPOL_PREFERRED, not MPOL_BIND: the pages come from the node
 * while it has memory, and from another node (not the OOM killer) when it
 * runs out; for hugetlb pages, whose reservation is not per node, BIND
 * could even turn a reserved page into SIGBUS.  A raw system call: libnuma's
 * wrappers are not needed for one call, and its library state allocates.
 */
static void numa_place(void *addr, size_t len, unsigned node)
{
	unsigned long mask;
	int mode;

	if (os_numa_mode == OS_NUMA_OFF || !READ_ONCE(os_caps.mbind))
		return;
	if (os_numa_mode == OS_NUMA_INTERLEAVE) {
		mode = MPOL_INTERLEAVE;
		mask = (unsigned long)os_caps.node_mem;
		if (!(mask & (mask - 1)))
			return;		/* one node with memory: nothing to spread */
	} else {
		if (node >= 64 || !(os_caps.node_mem & (1ULL << node)))
			return;
		if (os_caps.node_mem == (1ULL << node))
			return;		/* the only node: no call needed */
		mode = MPOL_PREFERRED;
		mask = 1UL << node;
	}
	hm_stat_inc(ST_SYS_MBIND);
	/* maxnode counts one bit past the mask, as the kernel expects. */
	if (syscall(SYS_mbind, addr, len, mode, &mask, 65UL, 0UL) != 0 &&
	    (errno == ENOSYS || errno == EPERM))
		WRITE_ONCE(os_caps.mbind, 0);
}

static void *map_fixed(void *addr, size_t len)
{
	return mmap(addr, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

/*
 * Put 2 MiB pool pages, with their reservation, over the reserved range
 * [addr, addr+len), placed on node and faulted in, or leave the range as
 * it was: 0 or a negative errno.
 *
 * Not a MAP_FIXED hugetlb mmap straight over it: when the pool is short
 * that call fails *after* unmapping the range (Linux 6.18 does), and until
 * the next tier is mapped there another thread's mmap can land in the hole
 * (the 64 KiB thread stacks of tools/testing/stress/churn did, and so did
 * the copy buffer of a forking parent; the next tier's MAP_FIXED then
 * replaced a live mapping: SIGSEGV).  So the pages are mapped where the
 * kernel likes (which reserves them, or fails touching nothing) and moved
 * over the range by one mremap, which replaces it atomically.  Kernels
 * before 5.16 cannot move hugetlb mappings: there the pages are given back
 * and mapped MAP_FIXED, the pool having just shown it has them.
 *
 * The first fault bytes are faulted in (MADV_POPULATE_WRITE, after the
 * NUMA policy is set so they come from node), the rest by os_fault_hugetlb
 * before hakmem touches them: no page is ever touched reserved but not yet
 * faulted.  On 6.18 such a page of a process that forks can be lost when
 * the pool is shrunk meanwhile (nr_hugepages lowered), and its first touch
 * is then a SIGBUS (tools/testing/hugepages/resvlost.c reproduces it
 * without hakmem); MADV_POPULATE_WRITE fails instead.  A range that cannot
 * be filled is given up for the next tier.  Kernels without
 * MADV_POPULATE_WRITE (before 5.14) fault on first touch.
 */
static int populate(void *h, size_t len)
{
	hm_stat_inc(ST_SYS_MADVISE);
	if (madvise(h, len, MADV_POPULATE_WRITE) == 0 || errno == EINVAL)
		return 0;
	return -ENOMEM;
}

/*
 * A file for the 2 MiB pages of node, so that smaps names them: mapped
 * MAP_PRIVATE, a hugetlb memfd is what MAP_ANONYMOUS | MAP_HUGETLB makes
 * anyway (an unlinked file of the kernel's internal hugetlbfs mount, with
 * the same reservation, fork and NUMA rules), except that its name is
 * ours: "/memfd:hakmem-hugetlb-n0 (deleted)" rather than
 * "/anon_hugepage (deleted)", on any kernel since 4.14, without
 * CONFIG_ANON_VMA_NAME.  Private writes never reach the file, which stays
 * empty; mmap sizes it.  The descriptor is closed as soon as the range is
 * mapped (close-on-exec meanwhile).  MFD_NOEXEC_SEAL keeps 6.3+ quiet
 * about executable memfds and is needed where vm.memfd_noexec is 2;
 * older kernels refuse the flag (EINVAL) and get the call without it.
 * Any other failure (ENOSYS, EPERM under seccomp, EMFILE) leaves the pages
 * anonymous, and a kernel that refuses memfds outright is not asked again.
 * -1: map anonymously.
 */
static int hugetlb_file(unsigned node)
{
	unsigned flags = READ_ONCE(os_caps.memfd_flags);
	char name[32];
	int fd;

	if (!flags)
		return -1;
	hm_snprintf(name, sizeof(name), "hakmem-%s-n%u", hm_tier_name(HM_TIER_HUGETLB), node);
	for (;;) {
		fd = memfd_create(name, flags);
		hm_stat_inc(ST_SYS_OTHER);
		if (fd >= 0)
			return fd;
		if (errno == EINVAL && (flags & MFD_NOEXEC_SEAL))
			flags &= ~MFD_NOEXEC_SEAL;
		else if (errno == ENOSYS || errno == EPERM || errno == EINVAL)
			flags = 0;
		else
			return -1;
		WRITE_ONCE(os_caps.memfd_flags, flags);
		if (!flags)
			return -1;
	}
}

static void *hugetlb_map(void *addr, size_t len, int fd)
{
	int fixed = addr ? MAP_FIXED : 0;

	hm_stat_inc(ST_SYS_MMAP);
	if (fd >= 0)
		return mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | fixed, fd, 0);
	return mmap(addr, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (21 << MAP_HUGE_SHIFT) | fixed,
		    -1, 0);
}

static int __hugetlb_over(void *addr, size_t len, size_t fault, unsigned node, int fd)
{
	void *m, *r;
	int err;

	m = hugetlb_map(NULL, len, fd);
	if (m == MAP_FAILED)
		return -errno;
	numa_place(m, len, node);
	if (populate(m, fault) == 0) {
		r = mremap(m, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, addr);
		hm_stat_inc(ST_SYS_MREMAP);
		if (r != MAP_FAILED)
			return 0;
		err = errno == EINVAL ? 0 : -ENOMEM;	/* EINVAL: cannot move hugetlb */
	} else {
		err = -ENOMEM;
	}
	munmap(m, len);
	hm_stat_inc(ST_SYS_MUNMAP);
	if (err)
		return err;
	r = hugetlb_map(addr, len, fd);
	if (r != MAP_FAILED) {
		numa_place(addr, len, node);
		if (populate(addr, fault) == 0)
			return 0;
		err = -ENOMEM;
	} else {
		err = -errno;
	}
	/* The range may be a hole now: reserve it again, never over a stranger. */
	mmap(addr, len, PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	hm_stat_inc(ST_SYS_MMAP);
	return err;
}

static int hugetlb_over(void *addr, size_t len, size_t fault, unsigned node)
{
	int fd = hugetlb_file(node), err;

	err = __hugetlb_over(addr, len, fault, node, fd);
	if (fd >= 0) {
		close(fd);
		hm_stat_inc(ST_SYS_OTHER);
	}
	return err;
}

int os_commit(void *addr, size_t len, int tier, unsigned node)
{
	int saved = errno, got = HM_TIER_4K, err;
	void *m = MAP_FAILED;

	if (tier == HM_TIER_HUGETLB && !((uintptr_t)addr & HM_SS_MASK) && !(len & HM_SS_MASK)) {
		/*
		 * Without MAP_NORESERVE: the pool pages are reserved now or
		 * the call fails with ENOMEM, leaving the reservation in place.
		 */
		if (hugetlb_over(addr, len, len, node) == 0) {
			m = addr;
			got = HM_TIER_HUGETLB;
		}
	}
	if (m == MAP_FAILED) {
		m = map_fixed(addr, len);
		hm_stat_inc(ST_SYS_MMAP);
		if (m == MAP_FAILED) {
			err = -errno;
			errno = saved;
			return err;
		}
	}
	numa_place(addr, len, node);
	if (got != HM_TIER_HUGETLB && tier <= HM_TIER_THP && os_caps.thp) {
		hm_stat_inc(ST_SYS_MADVISE);
		if (madvise(addr, len, MADV_HUGEPAGE) == 0)
			got = HM_TIER_THP;
	}
	name_range(addr, len, got, node);
	errno = saved;
	return got;
}

int os_commit_hugetlb(void *addr, size_t len, size_t fault, unsigned node)
{
	int saved = errno, err;

	if (((uintptr_t)addr & HM_SS_MASK) || (len & HM_SS_MASK) || (fault & HM_SS_MASK) ||
	    fault > len)
		return -EINVAL;
	err = hugetlb_over(addr, len, fault, node);
	errno = saved;
	return err;
}

int os_fault_hugetlb(void *addr, size_t len)
{
	int saved = errno, err;

	err = populate(addr, len);
	errno = saved;
	return err;
}

/* ---- fork from a hugetlb heap ---- */

int os_hugetlb_pool(unsigned long *free_pages, unsigned long *resv_pages)
{
	int saved = errno;

	*free_pages = read_ulong("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
	*resv_pages = read_ulong("/sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages");
	hm_stat_add(ST_SYS_OTHER, 2);
	errno = saved;
	return 0;
}

int os_map_copy(size_t len, int tier, void **out)
{
	int saved = errno, err;

	err = map_anon(len, PROT_READ | PROT_WRITE, 0, NULL, out);
	if (!err && tier == HM_TIER_THP) {
		madvise(*out, len, MADV_HUGEPAGE);
		hm_stat_inc(ST_SYS_MADVISE);
	}
	errno = saved;
	return err;
}

void os_place(void *addr, size_t len, unsigned node)
{
	int saved = errno;

	numa_place(addr, len, node);
	errno = saved;
}

int os_resident(const void *addr)
{
	int saved = errno, r;
	unsigned char v = 0;

	r = mincore((void *)ALIGN_DOWN((uintptr_t)addr, HM_PAGE_SIZE), HM_PAGE_SIZE, &v);
	hm_stat_inc(ST_SYS_OTHER);
	r = r ? -errno : (v & 1);
	errno = saved;
	return r;
}

int os_adopt(void *from, void *to, size_t len, int tier, unsigned node)
{
	int saved = errno;
	void *m;

	m = mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	hm_stat_inc(ST_SYS_MREMAP);
	if (m == MAP_FAILED) {
		/* Out of mappings, say: commit the range anew (named) and copy. */
		tier = os_commit(to, len, tier, node);
		if (tier >= 0)
			memcpy(to, from, len);
		return tier;
	}
	name_range(to, len, tier, node);
	errno = saved;
	return tier;
}

int os_unmap(void *addr, size_t len)
{
	int saved = errno, err = 0;

	if (munmap(addr, len) != 0)
		err = -errno;
	hm_stat_inc(ST_SYS_MUNMAP);
	errno = saved;
	return err;
}

int os_pagemap_open(void)
{
	int saved = errno, fd;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	hm_stat_inc(ST_SYS_OTHER);
	if (fd < 0)
		fd = -errno;
	errno = saved;
	return fd;
}

#define PM_PRESENT		(1ULL << 63)
#define PM_MMAP_EXCLUSIVE	(1ULL << 56)

int os_page_private(int fd, const void *addr)
{
	int saved = errno, r;
	uint64_t e = 0;

	hm_stat_inc(ST_SYS_OTHER);
	if (pread(fd, &e, sizeof(e), (off_t)((uintptr_t)addr >> HM_PAGE_SHIFT) * 8) != sizeof(e))
		r = -EIO;
	else
		r = (e & PM_PRESENT) && (e & PM_MMAP_EXCLUSIVE);
	errno = saved;
	return r;
}

static bool (*fault_fn)(void *addr);
static struct sigaction fault_old;
static int fault_set;		/* fault_old holds the previous action */

static void fault_handler(int sig, siginfo_t *si, void *uc)
{
	bool (*fn)(void *addr) = READ_ONCE(fault_fn);
	int saved = errno;

	(void)uc;
	if (fn && fn(si->si_addr)) {
		errno = saved;
		return;
	}
	/* Not ours: the previous action meets the retried fault. */
	sigaction(SIGBUS, &fault_old, NULL);
	if (si->si_code <= 0)		/* sent, not a fault: send it again */
		syscall(SYS_tgkill, os_getpid(), os_gettid(), sig);
	errno = saved;
}

int os_fault_hook_set(bool (*fn)(void *addr))
{
	struct sigaction sa;
	int saved = errno, err = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fault_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	WRITE_ONCE(fault_fn, fn);
	if (sigaction(SIGBUS, &sa, &fault_old) != 0)
		err = -errno;
	else
		fault_set = 1;
	hm_stat_inc(ST_SYS_OTHER);
	errno = saved;
	return err;
}

void os_fault_hook_clear(void)
{
	int saved = errno;

	if (fault_set) {
		sigaction(SIGBUS, &fault_old, NULL);
		hm_stat_inc(ST_SYS_OTHER);
	}
	fault_set = 0;
	WRITE_ONCE(fault_fn, NULL);
	errno = saved;
}

int os_map_meta(size_t len, void **out)
{
	return map_anon(len, PROT_READ | PROT_WRITE, 0, "hakmem-meta", out);
}

/*
 * Read-only and unreserved: the untouched table costs neither memory nor
 * commit charge, whatever the overcommit policy; only the pieces opened
 * for committed superslabs count.
 */
int os_map_table(size_t len, void **out)
{
	return map_anon(len, PROT_READ, MAP_NORESERVE, "hakmem-meta", out);
}

int os_open_table(void *addr, size_t len)
{
	int saved = errno, err = 0;

	if (mprotect(addr, len, PROT_READ | PROT_WRITE) != 0)
		err = -errno;
	hm_stat_inc(ST_SYS_OTHER);
	errno = saved;
	return err;
}

int os_decommit(void *addr, size_t len)
{
	int saved = errno, err = 0;

	if (mmap(addr, len, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
		 -1, 0) == MAP_FAILED)
		err = -errno;
	hm_stat_inc(ST_SYS_MMAP);
	errno = saved;
	return err;
}

/* On hugetlb memory only whole 2 MiB pages can be dropped (else EINVAL). */
int os_purge(void *addr, size_t len)
{
	int saved = errno, err = 0;

	if (madvise(addr, len, MADV_DONTNEED) != 0)
		err = -errno;
	hm_stat_inc(ST_SYS_MADVISE);
	errno = saved;
	return err;
}

int os_move(void *old_addr, size_t old_len, void *new_addr, size_t new_len)
{
	int saved = errno, err = 0;
	void *m;

	m = mremap(old_addr, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED, new_addr);
	hm_stat_inc(ST_SYS_MREMAP);
	if (m == MAP_FAILED) {
		err = -errno;
		errno = saved;
		return err;
	}
	/* The old range is a hole now: reserve it again, never over a stranger. */
	m = mmap(old_addr, old_len, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	hm_stat_inc(ST_SYS_MMAP);
	if (m != old_addr) {
		if (m != MAP_FAILED) {
			munmap(m, old_len);
			hm_stat_inc(ST_SYS_MUNMAP);
		}
		err = -EEXIST;
	}
	errno = saved;
	return err;
}

int os_rseq_register(void *area, unsigned len)
{
	int saved = errno;
	long r = syscall(SYS_rseq, area, len, 0, RSEQ_SIG);
	int err = r ? -errno : 0;

	hm_stat_inc(ST_SYS_OTHER);
	errno = saved;
	return err;
}

static int os_membarrier(int cmd)
{
	int saved = errno;
	long r = syscall(SYS_membarrier, cmd, 0, 0);
	int err = r ? -errno : 0;

	hm_stat_inc(ST_SYS_OTHER);
	errno = saved;
	return err;
}

int os_rseq_fence_setup(void)
{
	return os_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ);
}

int os_rseq_fence(void)
{
	return os_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ);
}

int os_getcpu(void)
{
	int saved = errno;
	int cpu = sched_getcpu();

	errno = saved;
	return cpu < 0 ? 0 : cpu;
}

int os_getnode(void)
{
	int saved = errno;
	unsigned cpu = 0, node = 0;

	if (syscall(SYS_getcpu, &cpu, &node, NULL) != 0)
		node = 0;
	errno = saved;
	return (int)node;
}

long os_write(int fd, const void *buf, size_t len)
{
	return os_write_all(fd, buf, len);
}

void os_abort(void)
{
	abort();
}
