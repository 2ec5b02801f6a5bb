// SPDX-License-Identifier: MIT
/*
 * fork from a heap on hugetlb pages.
 *
 * The hugetlb tier maps the pool MAP_PRIVATE with a reservation, which
 * belongs to the process that mapped it.  After fork the parent and the
 * child share those pages copy-on-write, and the child has no reservation:
 * a child that writes a shared page needs a free pool page for its copy
 * and is killed with SIGBUS when there is none; a parent that writes one
 * first with the pool dry keeps it by unmapping it from the child, which
 * is killed with SIGBUS on its next touch.  Nothing the allocator does
 * after fork can prevent either: the parent's other threads write the
 * heap whenever they like, and the pool is shared with every process.
 *
 * So the child never gets to touch a shared hugetlb page.  fork_prepare
 * (ss_fork_prepare, every lock of the heap held: no superslab, slab or
 * huge object can change its mapping or its metadata meanwhile) copies
 * every hugetlb chunk (hm_heap.hugetlb_map) into one fresh anonymous
 * mapping, advised MADV_HUGEPAGE and placed on each chunk's node before
 * it is touched.  Only pages in the page table are read (mincore; a huge
 * object's pages never written are not: reading them would take pool
 * pages for nothing, and the copy reads back as zero just the same).
 * The child's fork handler, the first code of the heap to run in the
 * child, moves each run of adjacent chunks of the copy over its range
 * (mremap: the child's hugetlb mapping goes away in the same step, so the
 * child never faults a pool page, whatever the parent does to it) and
 * records the new tier (hugetlb_map, ss->tier, nr_ss_tier[]).  Pages the
 * child already maps alone (pagemap) are read back into the copy first.
 * The parent unmaps its copy after fork and keeps its pool pages; the
 * child's later superslabs come from the pool again, with reservations of
 * its own.
 *
 * glibc runs before any fork handler in the child, and in a threaded
 * process writes the heap: it resets the lock of every FILE, which fopen
 * malloc'd.  That write can be the SIGBUS above, so from prepare to the
 * parent's or child's handler a SIGBUS hook is installed (mm/os.c): in
 * the child, a fault on a hugetlb chunk adopts the copies at once and the
 * write is retried on them; anything else meets the previous action.  And
 * where the write succeeded (the pool had a page), the page read back
 * keeps it.
 *
 * Cost (only where the heap holds hugetlb chunks; any other fork pays one
 * test of hm_heap.tier): the parent copies the heap's resident hugetlb
 * memory on every fork, holding the heap locks (other threads that need a
 * slow path wait; their per-CPU fast paths run on), and holds the copy
 * until fork returns; the child holds it as private anonymous memory.
 * vfork, posix_spawn and system() run no fork handler and copy nothing:
 * their child shares the parent's memory until it execs.
 *
 * Snapshot: the child sees the heap as it was when prepare copied it,
 * except the pages it maps alone, which are as fork left them plus the
 * child's own writes.  Everything written before fork() was called is
 * there, and the heap's own metadata is consistent (its locks are held
 * from the copy to the fork).  A write another thread makes to an object
 * while fork runs may or may not be there, as with any fork, but per
 * 2 MiB chunk rather than per page.
 *
 * HAKMEM_FORK_HUGETLB=auto shares instead while the pool's unreserved
 * free pages cover twice the hugetlb chunks plus FORK_POOL_SLACK (the
 * child's copy-on-write, the parent's own, some growth): a cheap fork,
 * but a child still sharing is killed if someone drains the pool later.
 */
#include <string.h>
#include "hakmem/internal.h"

#define FORK_POOL_SLACK		8

static struct {
	char	*buf;		/* the copies, runs back to back in chunk order; NULL: none */
	size_t	len;
	int	tier;		/* HM_TIER_THP or HM_TIER_4K */
	int	pid;		/* of the parent */
	int	pagemap;	/* the child's /proc/self/pagemap, or -1 */
} fork_copy;

static bool fork_fault(void *addr);

typedef void (*run_fn)(uint32_t idx, uint32_t n, size_t off, unsigned node);

/*
 * fn(first chunk, chunks, offset in the copy, node) for each run of
 * adjacent hugetlb chunks of one node, in chunk order.  fn may clear the
 * run's bits.
 */
static void for_each_run(run_fn fn)
{
	uint32_t per_node = 1u << (hm_heap.region_shift - HM_SS_SHIFT);
	size_t off = 0;

	for (unsigned node = 0; node < hm_heap.nr_nodes; node++) {
		uint32_t i = node * per_node, end = i + hm_heap.node[node].next_chunk;

		while (i < end) {
			uint32_t n = 0;

			if (!(i % 64) && !READ_ONCE(hm_heap.hugetlb_map[i / 64])) {
				i += 64;
				continue;
			}
			while (i + n < end && chunk_hugetlb(i + n))
				n++;
			if (!n) {
				i++;
				continue;
			}
			fn(i, n, off, node);
			off += (size_t)n << HM_SS_SHIFT;
			i += n;
		}
	}
}

static void copy_run(uint32_t idx, uint32_t n, size_t off, unsigned node)
{
	char *dst = fork_copy.buf + off;

	os_place(dst, (size_t)n << HM_SS_SHIFT, node);
	for (uint32_t k = 0; k < n; k++) {
		uintptr_t a = chunk_addr(idx + k);

		/* A superslab's header page is always written. */
		if ((hm_heap.chunk[idx + k] & CHUNK_KIND_MASK) == CHUNK_SS ||
		    os_resident((void *)a) != 0)
			memcpy(dst + ((size_t)k << HM_SS_SHIFT), (void *)a, HM_SS_SIZE);
	}
}

static void adopt_run(uint32_t idx, uint32_t n, size_t off, unsigned node)
{
	void *a = (void *)chunk_addr(idx);
	int tier;

	/*
	 * A page the child maps alone holds the heap as fork left it, and
	 * whatever the child wrote since: glibc's fork resets the locks of
	 * the FILEs (malloc'd) before any fork handler runs.  Keep it rather
	 * than the older copy.  A shared page is as it was at fork too and
	 * reading it is safe, but the copy is as good for everything written
	 * before fork() was called; a page the parent took back is gone.
	 */
	for (uint32_t k = 0; fork_copy.pagemap >= 0 && k < n; k++) {
		size_t o = (size_t)k << HM_SS_SHIFT;

		if (os_page_private(fork_copy.pagemap, (char *)a + o) == 1)
			memcpy(fork_copy.buf + off + o, (char *)a + o, HM_SS_SIZE);
	}
	tier = os_adopt(fork_copy.buf + off, a, (size_t)n << HM_SS_SHIFT, fork_copy.tier, node);
	if (tier < 0)
		hm_fatal("fork: cannot map the copy of the hugetlb heap at", a);
	heap_unhuge(idx, n, tier);
}

/* Pool pages nobody reserved cover the copy-on-write of chunks, twice? */
static bool pool_has_room(size_t chunks)
{
	unsigned long free_pages, resv;

	if (os_hugetlb_pool(&free_pages, &resv) < 0 || free_pages <= resv)
		return false;
	return free_pages - resv >= 2 * chunks + FORK_POOL_SLACK;
}

void hugetlb_fork_prepare(void)
{
	static int failure_reported;
	size_t chunks = 0;
	void *buf;

	fork_copy.buf = NULL;
	if (!heap_maps_locked())
		return;
	for (unsigned n = 0; n < hm_heap.nr_nodes; n++)
		chunks += hm_heap.node[n].nr_hugetlb;
	if (!chunks)
		return;
	if (hm_opt.fork_hugetlb == HM_FORK_AUTO && pool_has_room(chunks))
		return;
	fork_copy.tier = os_caps.thp && hm_opt.hugepages != HM_HP_OFF ? HM_TIER_THP : HM_TIER_4K;
	if (os_map_copy(chunks << HM_SS_SHIFT, fork_copy.tier, &buf)) {
		/* No memory for the copy: the child shares, as without it. */
		if (!__atomic_exchange_n(&failure_reported, 1, __ATOMIC_RELAXED))
			hm_warn("fork: no memory to copy the hugetlb heap: the child shares its pages");
		return;
	}
	fork_copy.buf = buf;
	fork_copy.len = chunks << HM_SS_SHIFT;
	fork_copy.pid = os_getpid();
	for_each_run(copy_run);
	os_fault_hook_set(fork_fault);
	hm_stat_inc(ST_FORK_COPY);
	hm_stat_add(ST_FORK_COPY_CHUNKS, (int64_t)chunks);
}

void hugetlb_fork_parent(void)
{
	if (!fork_copy.buf)
		return;
	os_fault_hook_clear();
	os_unmap(fork_copy.buf, fork_copy.len);
	fork_copy.buf = NULL;
}

/* The child's half: the copies replace the hugetlb ranges. */
static void adopt_all(void)
{
	fork_copy.pagemap = os_pagemap_open();
	for_each_run(adopt_run);
	if (fork_copy.pagemap >= 0)
		os_close(fork_copy.pagemap);
	/* What is left of the copy: the child runs alone, nothing mapped in its holes. */
	os_unmap(fork_copy.buf, fork_copy.len);
	fork_copy.buf = NULL;
}

/*
 * SIGBUS between fork and the child's handler: code that runs in the
 * child before any fork handler (glibc's, resetting the FILE locks)
 * wrote a shared hugetlb page with the pool dry, or one the parent took
 * back.  Adopt the copies now; the write is retried on them.
 */
static bool fork_fault(void *addr)
{
	uintptr_t a = (uintptr_t)addr;

	if (!fork_copy.buf || os_getpid() == fork_copy.pid || !hm_in_heap(a) ||
	    !chunk_hugetlb(hm_chunk_index(a)))
		return false;
	adopt_all();
	if (hm_opt.verbose)
		hm_warn("fork child: SIGBUS on the hugetlb heap before the fork handler: copies taken early");
	return true;
}

void hugetlb_fork_child(void)
{
	if (fork_copy.buf)
		adopt_all();
	os_fault_hook_clear();
}
