// SPDX-License-Identifier: MIT
/*
 * The fake OS layer for the unit tests: see fake_os.h.
 *
 * Like the real one it never allocates and preserves errno, so the heap
 * under test sees the same contract (include/hakmem/os.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "hakmem/internal.h"
#include "fake_os.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif

struct os_caps os_caps;
int os_numa_mode;

struct fake_os fake_os = {
	.tier = HM_TIER_THP,
	.reserve_exact_align = 1,
};

void fake_os_reset_counts(void)
{
	memset(&fake_os.calls, 0, sizeof(fake_os.calls));
	fake_os.commit_bytes = fake_os.decommit_bytes = 0;
	fake_os.last_commit = fake_os.last_decommit = NULL;
	fake_os.last_commit_len = fake_os.last_decommit_len = 0;
	fake_os.last_commit_tier = -1;
	fake_os.last_commit_node = 0;
	fake_os.last_commit_fault = 0;
	fake_os.last_fault = NULL;
	fake_os.last_fault_len = 0;
	fake_os.last_move_from = fake_os.last_move_to = NULL;
	fake_os.last_move_old_len = fake_os.last_move_new_len = 0;
	fake_os.last_write[0] = '\0';
}

void fake_os_reset(void)
{
	fake_os.cpu = 0;
	fake_os.tier = HM_TIER_THP;
	fake_os.reserve_exact_align = 1;
	fake_os.fail_reserve = fake_os.fail_commit = fake_os.fail_move = 0;
	fake_os.fail_decommit = fake_os.fail_map_meta = fake_os.lose_move = 0;
	fake_os.fail_map_table = fake_os.fail_open_table = 0;
	fake_os.fail_reserve_all = 0;
	fake_os.pool_free = fake_os.pool_resv = 0;
	fake_os.absent = 0;
	fake_os.fail_map_copy = fake_os.fail_adopt = fake_os.fail_fault = 0;
	fake_os.hook = NULL;
	fake_os.quiet = 0;
	fake_os.expect_abort = NULL;
	fake_os_reset_counts();
}

/* Count down an injected failure: true when this call is the one to fail. */
static int injected(unsigned *n)
{
	if (!*n)
		return 0;
	return --*n == 0;
}

void os_probe(void)
{
	static const unsigned short node_of_cpu[FAKE_NR_CPUS] = { 0, 0, 1, 1 };

	fake_os.calls.probe++;
	memset(&os_caps, 0, sizeof(os_caps));
	os_caps.nr_cpus = FAKE_NR_CPUS;
	os_caps.cpu_ids_bounded = 1;
	os_caps.nr_nodes = FAKE_NR_NODES;
	os_caps.thp = 1;
	os_caps.vma_names = 0;
	os_caps.node_mem = (1ULL << FAKE_NR_NODES) - 1;
	for (unsigned n = 0; n < FAKE_NR_NODES; n++)
		os_caps.node_home[n] = (unsigned short)n;
	for (unsigned c = 0; c < FAKE_NR_CPUS; c++)
		os_caps.cpu_node[c] = node_of_cpu[c];
}

int os_reserve(size_t len, size_t align, void **out)
{
	int saved = errno, err;
	size_t extra = 2 * align;
	uintptr_t p, a;
	void *m;

	fake_os.calls.reserve++;
	if (injected(&fake_os.fail_reserve) || fake_os.fail_reserve_all)
		return -ENOMEM;
	m = mmap(NULL, len + extra, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		err = -errno;
		errno = saved;
		return err;
	}
	p = (uintptr_t)m;
	a = ALIGN_UP(p, align);
	if (fake_os.reserve_exact_align && align >= HM_PAGE_SIZE && !(a & (2 * align - 1)))
		a += align;		/* aligned to align, never to 2 * align */
	if (a > p)
		munmap(m, a - p);
	if (p + len + extra > a + len)
		munmap((void *)(a + len), p + len + extra - (a + len));
	*out = (void *)a;
	errno = saved;
	return 0;
}

/* Record a commit of [addr, addr+len) asked at tier; map it, or fail. */
static int fake_commit(void *addr, size_t len, int tier, unsigned node, bool fail)
{
	int saved = errno, err;
	void *m;

	fake_os.calls.commit++;
	fake_os.last_commit_tier = tier;
	fake_os.last_commit_node = node;
	if (injected(&fake_os.fail_commit) || fail)
		return -ENOMEM;
	m = mmap(addr, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (m == MAP_FAILED) {
		err = -errno;
		errno = saved;
		return err;
	}
	fake_os.last_commit = addr;
	fake_os.last_commit_len = len;
	fake_os.commit_bytes += len;
	errno = saved;
	return 0;
}

int os_commit(void *addr, size_t len, int tier, unsigned node)
{
	int err = fake_commit(addr, len, tier, node, false);

	return err ? err : fake_os.tier > tier ? fake_os.tier : tier;
}

/* The pool has pages when os_commit would obtain the hugetlb tier. */
int os_commit_hugetlb(void *addr, size_t len, size_t fault, unsigned node)
{
	if (fault > len || (fault & HM_SS_MASK))
		return -EINVAL;
	fake_os.last_commit_fault = fault;
	return fake_commit(addr, len, HM_TIER_HUGETLB, node, fake_os.tier != HM_TIER_HUGETLB);
}

/* Lost pool pages: fake_os.fail_fault, or a pool gone to another tier. */
int os_fault_hugetlb(void *addr, size_t len)
{
	fake_os.calls.fault++;
	if (injected(&fake_os.fail_fault) || fake_os.tier != HM_TIER_HUGETLB)
		return -ENOMEM;
	fake_os.last_fault = addr;
	fake_os.last_fault_len = len;
	return 0;
}

static int fake_map(size_t len, int prot, int flags, void **out)
{
	int saved = errno, err;
	void *m;

	m = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
	if (m == MAP_FAILED) {
		err = -errno;
		errno = saved;
		return err;
	}
	*out = m;
	errno = saved;
	return 0;
}

int os_map_meta(size_t len, void **out)
{
	fake_os.calls.map_meta++;
	if (injected(&fake_os.fail_map_meta))
		return -ENOMEM;
	return fake_map(len, PROT_READ | PROT_WRITE, 0, out);
}

/* As the real one: read-only until opened, so a stray write faults. */
int os_map_table(size_t len, void **out)
{
	fake_os.calls.map_table++;
	if (injected(&fake_os.fail_map_table))
		return -ENOMEM;
	return fake_map(len, PROT_READ, MAP_NORESERVE, out);
}

int os_open_table(void *addr, size_t len)
{
	fake_os.calls.open_table++;
	if (injected(&fake_os.fail_open_table))
		return -ENOMEM;
	return mprotect(addr, len, PROT_READ | PROT_WRITE) ? -errno : 0;
}

int os_decommit(void *addr, size_t len)
{
	int saved = errno, err = 0;

	fake_os.calls.decommit++;
	if (injected(&fake_os.fail_decommit))
		return -ENOMEM;
	if (mmap(addr, len, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED)
		err = -errno;
	if (!err) {
		fake_os.last_decommit = addr;
		fake_os.last_decommit_len = len;
		fake_os.decommit_bytes += len;
	}
	errno = saved;
	return err;
}

int os_purge(void *addr, size_t len)
{
	int saved = errno, err = 0;

	fake_os.calls.purge++;
	if (madvise(addr, len, MADV_DONTNEED) != 0)
		err = -errno;
	errno = saved;
	return err;
}

int os_move(void *old_addr, size_t old_len, void *new_addr, size_t new_len)
{
	int saved = errno, err = 0;
	void *m;

	fake_os.calls.move++;
	if (injected(&fake_os.fail_move))
		return -ENOMEM;
	m = mremap(old_addr, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED, new_addr);
	if (m == MAP_FAILED) {
		err = -errno;
		errno = saved;
		return err;
	}
	fake_os.last_move_from = old_addr;
	fake_os.last_move_to = new_addr;
	fake_os.last_move_old_len = old_len;
	fake_os.last_move_new_len = new_len;
	m = mmap(old_addr, old_len, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (m != old_addr) {
		if (m != MAP_FAILED)
			munmap(m, old_len);
		err = -EEXIST;
	}
	if (injected(&fake_os.lose_move))
		err = -EEXIST;		/* as if a stranger had taken the old range */
	errno = saved;
	return err;
}

int os_hugetlb_pool(unsigned long *free_pages, unsigned long *resv_pages)
{
	fake_os.calls.pool++;
	*free_pages = fake_os.pool_free;
	*resv_pages = fake_os.pool_resv;
	return 0;
}

int os_map_copy(size_t len, int tier, void **out)
{
	(void)tier;
	fake_os.calls.map_copy++;
	if (injected(&fake_os.fail_map_copy))
		return -ENOMEM;
	return fake_map(len, PROT_READ | PROT_WRITE, 0, out);
}

void os_place(void *addr, size_t len, unsigned node)
{
	(void)addr;
	(void)len;
	(void)node;
	fake_os.calls.place++;
}

int os_resident(const void *addr)
{
	(void)addr;
	fake_os.calls.resident++;
	return !fake_os.absent;
}

int os_adopt(void *from, void *to, size_t len, int tier, unsigned node)
{
	int saved = errno, err;

	(void)node;
	fake_os.calls.adopt++;
	if (injected(&fake_os.fail_adopt))
		return -ENOMEM;
	if (mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to) == MAP_FAILED) {
		err = -errno;
		errno = saved;
		return err;
	}
	errno = saved;
	return tier;
}

int os_unmap(void *addr, size_t len)
{
	int saved = errno, err = 0;

	fake_os.calls.unmap++;
	if (munmap(addr, len) != 0)
		err = -errno;
	errno = saved;
	return err;
}

int os_pagemap_open(void)
{
	return -ENOSYS;
}

int os_page_private(int fd, const void *addr)
{
	(void)fd;
	(void)addr;
	return 0;
}

int os_fault_hook_set(bool (*fn)(void *addr))
{
	fake_os.calls.hook_set++;
	fake_os.hook = fn;
	return 0;
}

void os_fault_hook_clear(void)
{
	fake_os.calls.hook_clear++;
	fake_os.hook = NULL;
}

/* No rseq in the fake: the heap runs its generic front end. */
int os_rseq_register(void *area, unsigned len)
{
	return -ENOSYS;
}

int os_rseq_fence_setup(void)
{
	return -ENOSYS;
}

int os_rseq_fence(void)
{
	return -ENOSYS;
}

int os_getcpu(void)
{
	fake_os.calls.getcpu++;
	return (int)fake_os.cpu;
}

int os_getnode(void)
{
	static const unsigned short node_of_cpu[FAKE_NR_CPUS] = { 0, 0, 1, 1 };

	fake_os.calls.getnode++;
	return node_of_cpu[fake_os.cpu % FAKE_NR_CPUS];
}

long os_write(int fd, const void *buf, size_t len)
{
	size_t keep;

	fake_os.calls.write++;
	keep = MIN(len, sizeof(fake_os.last_write) - 1);
	memcpy(fake_os.last_write, buf, keep);
	fake_os.last_write[keep] = '\0';
	if (fake_os.quiet)
		return (long)len;
	/* stdout is the TAP stream: messages go to stderr. */
	return os_write_all(fd == 1 ? 2 : fd, buf, len);
}

void os_abort(void)
{
	fake_os.calls.abort++;
	if (fake_os.expect_abort && !strstr(fake_os.last_write, fake_os.expect_abort))
		_exit(99);
	abort();
}
