// SPDX-License-Identifier: MIT
/*
 * Large and huge objects.
 *
 * Large (HM_SMALL_MAX < n <= HM_LARGE_MAX, or smaller with an alignment
 * above a page): a run of pages inside a superslab, marked PAGE_CLS_LARGE
 * in its page map.  realloc grows or shrinks the run in place when the
 * neighbouring pages allow.
 *
 * Huge (n > HM_LARGE_MAX, or an alignment of 2 MiB or more): a span of
 * whole chunks of the node region with a mapping of its own.  Only the
 * bytes asked for, rounded to pages, are committed; the chunk entry of the
 * first chunk holds that page count, the others are CHUNK_CONT.  The user
 * pointer is always the start of the first chunk, so anything else is not
 * a huge object.  realloc commits the following chunks in place when they
 * are free, else moves the pages with mremap (no copy) into a new span.
 *
 * Locking: the node lock guards the chunk table (mm/superslab.c); the
 * system calls that commit and decommit run outside it, on chunks that are
 * already reserved in the table and so belong to the caller alone.  On a
 * heap that may use the hugetlb pool (heap_maps_locked()) they run inside
 * it: fork copies the hugetlb chunks with every node lock held
 * (mm/fork.c), and the chunk table, hugetlb_map and the mappings must
 * agree while it does.
 */
#include <errno.h>
#include <string.h>
#include "hakmem/internal.h"
#include "hakmem/percpu.h"

static unsigned current_node(void)
{
	return pcpu_current_node();
}

static size_t pages_for(size_t n)
{
	return (n + HM_PAGE_MASK) >> HM_PAGE_SHIFT;
}

/*
 * The node lock around a huge object's system calls (see Locking above):
 * table_unlock() when done with the chunk table before a system call
 * keeps the lock on a hugetlb heap; table_lock() after it takes the lock
 * back only where it was dropped; maps_lock()/maps_unlock() bracket a
 * system call made with the lock not held.
 */
static void table_unlock(struct hm_node *nd)
{
	if (!heap_maps_locked())
		hm_unlock(&nd->lock);
}

static void table_lock(struct hm_node *nd)
{
	if (!heap_maps_locked())
		hm_lock(&nd->lock);
}

static void maps_lock(struct hm_node *nd)
{
	if (heap_maps_locked())
		hm_lock(&nd->lock);
}

static void maps_unlock(struct hm_node *nd)
{
	if (heap_maps_locked())
		hm_unlock(&nd->lock);
}

void *large_alloc(size_t n, size_t align, bool zero)
{
	unsigned npages = (unsigned)pages_for(n ? n : 1);
	unsigned align_pages = align > HM_PAGE_SIZE ? (unsigned)(align >> HM_PAGE_SHIFT) : 1;
	struct slab *s;
	void *p;

	s = ss_alloc_pages(current_node(), npages, align_pages, PAGE_CLS_LARGE);
	if (!s)
		return NULL;
	s->state = SLAB_LARGE;
	s->used = 1;
	gauge_add(&hm_gauge.large_bytes, (int64_t)npages << HM_PAGE_SHIFT);
	hm_stat_inc(ST_LARGE_ALLOC);
	p = (void *)slab_start(s);
	if (zero)
		memset(p, 0, (size_t)npages << HM_PAGE_SHIFT);
	return p;
}

void large_free(struct slab *s, uintptr_t p)
{
	(void)p;
	gauge_add(&hm_gauge.large_bytes, -((int64_t)s->npages << HM_PAGE_SHIFT));
	hm_stat_inc(ST_LARGE_FREE);
	ss_free_pages(s);
}

void *large_realloc(struct slab *s, void *p, size_t n)
{
	unsigned old = s->npages, want = (unsigned)pages_for(n);

	if (n > HM_LARGE_MAX || n <= HM_SMALL_MAX / 2)
		return NULL;
	if (want == old)
		return p;
	if (!ss_resize_pages(s, want))
		return NULL;
	gauge_add(&hm_gauge.large_bytes, ((int64_t)want - old) << HM_PAGE_SHIFT);
	hm_stat_inc(ST_REALLOC_INPLACE);
	return p;
}

/* ---- huge ---- */

static uint32_t chunks_for(size_t pages)
{
	return (uint32_t)(((pages << HM_PAGE_SHIFT) + HM_SS_MASK) >> HM_SS_SHIFT);
}

size_t huge_size(uint32_t entry)
{
	return (size_t)(entry >> CHUNK_KIND_BITS) << HM_PAGE_SHIFT;
}

static uint32_t huge_entry(size_t pages)
{
	return (uint32_t)(pages << CHUNK_KIND_BITS) | CHUNK_HUGE;
}

/*
 * The tier to ask for when committing [a, a+len) of a huge object: the
 * hugetlb pool only for whole aligned 2 MiB pages (objects of 2 MiB and
 * more are committed in whole chunks when the heap uses the pool), else
 * transparent hugepages if the heap uses them.
 */
static int huge_tier(uintptr_t a, size_t len)
{
	int t = hm_heap.tier;

	if (t == HM_TIER_HUGETLB && ((a | len) & HM_SS_MASK))
		t = os_caps.thp && hm_opt.hugepages != HM_HP_OFF ? HM_TIER_THP : HM_TIER_4K;
	return t;
}

/* Pages to commit for a request of pages: whole chunks on the pool. */
static size_t huge_commit_pages(size_t pages)
{
	if (hm_heap.tier == HM_TIER_HUGETLB && pages >= HM_SS_PAGES)
		return ALIGN_UP(pages, (size_t)HM_SS_PAGES);
	return pages;
}

void *huge_alloc(size_t n, size_t align, bool zero)
{
	size_t pages = pages_for(n);
	uint32_t nch, align_chunks = align > HM_SS_SIZE ? (uint32_t)(align >> HM_SS_SHIFT) : 1;
	unsigned node = current_node();
	struct hm_node *nd = &hm_heap.node[node];
	uintptr_t a;
	long idx;

	(void)zero;			/* fresh mappings are zero */
	if (pages > CHUNK_HUGE_MAX_PAGES || align > ((size_t)1 << hm_heap.region_shift))
		return NULL;
	pages = MIN(huge_commit_pages(pages), (size_t)CHUNK_HUGE_MAX_PAGES);
	nch = chunks_for(pages);
	hm_lock(&nd->lock);
	idx = chunk_alloc(node, nch, align_chunks);
	if (idx < 0) {
		hm_unlock(&nd->lock);
		return NULL;
	}
	table_unlock(nd);
	a = chunk_addr((uint32_t)idx);
	if (heap_commit((void *)a, pages << HM_PAGE_SHIFT,
			huge_tier(a, pages << HM_PAGE_SHIFT), node) < 0) {
		table_lock(nd);
		chunk_free((uint32_t)idx, nch);
		hm_unlock(&nd->lock);
		return NULL;
	}
	__atomic_store_n(&hm_heap.chunk[idx], huge_entry(pages), __ATOMIC_RELEASE);
	maps_unlock(nd);
	gauge_add(&hm_gauge.huge_bytes, (int64_t)(pages << HM_PAGE_SHIFT));
	gauge_add(&hm_gauge.huge_count, 1);
	hm_stat_inc(ST_HUGE_ALLOC);
	return (void *)a;
}

void huge_free(uintptr_t p, uint32_t entry)
{
	size_t len = huge_size(entry);
	uint32_t idx = hm_chunk_index(p);
	struct hm_node *nd = &hm_heap.node[hm_node_of(p)];

	maps_lock(nd);
	heap_decommit((void *)p, len);
	table_lock(nd);
	chunk_free(idx, chunks_for(len >> HM_PAGE_SHIFT));
	hm_unlock(&nd->lock);
	gauge_add(&hm_gauge.huge_bytes, -(int64_t)len);
	gauge_add(&hm_gauge.huge_count, -1);
	hm_stat_inc(ST_HUGE_FREE);
}

void *huge_realloc(void *p, uint32_t entry, size_t n)
{
	uintptr_t a = (uintptr_t)p;
	size_t old_pages = entry >> CHUNK_KIND_BITS, pages = pages_for(n);
	size_t old_len = old_pages << HM_PAGE_SHIFT, len = pages << HM_PAGE_SHIFT;
	uint32_t idx = hm_chunk_index(a), old_nch = chunks_for(old_pages), nch;
	unsigned node = hm_node_of(a);
	struct hm_node *nd = &hm_heap.node[node];
	bool tail_done = false;
	long nidx;
	int err;

	if (pages > CHUNK_HUGE_MAX_PAGES)
		return NULL;
	if (pages <= old_pages) {
		/*
		 * Shrink in place, giving back whole chunks only: a tail under
		 * 2 MiB stays, so a buffer that shrinks and grows again does
		 * not pay a system call each way.
		 */
		if (old_len - len < HM_SS_SIZE)
			return p;
		len = ALIGN_UP(len, HM_SS_SIZE);
		pages = len >> HM_PAGE_SHIFT;
		nch = chunks_for(pages);
		maps_lock(nd);
		heap_decommit((void *)(a + len), old_len - len);
		table_lock(nd);
		if (nch < old_nch)
			chunk_free(idx + nch, old_nch - nch);
		WRITE_ONCE(hm_heap.chunk[idx], huge_entry(pages));
		hm_unlock(&nd->lock);
		gauge_add(&hm_gauge.huge_bytes, (int64_t)len - (int64_t)old_len);
		hm_stat_inc(ST_REALLOC_INPLACE);
		return p;
	}
	/*
	 * Growing: a buffer that grew once usually grows again, so take the
	 * rest of its last chunk now (untouched pages cost no memory); the
	 * next steps inside that chunk make no system call.
	 */
	len = MIN(ALIGN_UP(len, HM_SS_SIZE), (size_t)CHUNK_HUGE_MAX_PAGES << HM_PAGE_SHIFT);
	pages = len >> HM_PAGE_SHIFT;
	nch = chunks_for(pages);
	/* Grow in place if the chunks after it are free. */
	hm_lock(&nd->lock);
	if (nch == old_nch || chunk_claim(node, idx + old_nch, nch - old_nch)) {
		table_unlock(nd);
		if (heap_commit((void *)(a + old_len), len - old_len,
				huge_tier(a + old_len, len - old_len), node) >= 0) {
			WRITE_ONCE(hm_heap.chunk[idx], huge_entry(pages));
			maps_unlock(nd);
			gauge_add(&hm_gauge.huge_bytes, (int64_t)(len - old_len));
			hm_stat_inc(ST_REALLOC_INPLACE);
			return p;
		}
		table_lock(nd);
		if (nch > old_nch)
			chunk_free(idx + old_nch, nch - old_nch);
		hm_unlock(&nd->lock);
		return NULL;
	}
	/* Move: the kernel carries the pages over to a new span. */
	nidx = chunk_alloc(node, nch, 1);
	if (nidx < 0) {
		hm_unlock(&nd->lock);
		return NULL;
	}
	table_unlock(nd);
	if (hm_heap.tier == HM_TIER_HUGETLB) {
		/*
		 * A hugetlb mapping cannot grow in mremap (its reservation
		 * cannot be split): commit the new tail first, then move the
		 * old pages in front of it.  A span made of several mappings
		 * cannot be moved at all: then the caller copies.
		 */
		uintptr_t na = chunk_addr((uint32_t)nidx);

		err = heap_commit((void *)(na + old_len), len - old_len,
				  huge_tier(na + old_len, len - old_len), node);
		if (err >= 0) {
			tail_done = true;
			err = os_move(p, old_len, (void *)na, old_len);
			if (err && err != -EEXIST)
				heap_decommit((void *)(na + old_len), len - old_len);
		}
	} else {
		err = os_move(p, old_len, (void *)chunk_addr((uint32_t)nidx), len);
	}
	if (!err || err == -EEXIST)
		heap_moved(a, chunk_addr((uint32_t)nidx), ALIGN_UP(old_len, HM_SS_SIZE));
	if (err && err != -EEXIST) {
		table_lock(nd);
		chunk_free((uint32_t)nidx, nch);
		hm_unlock(&nd->lock);
		return NULL;
	}
	__atomic_store_n(&hm_heap.chunk[nidx], huge_entry(pages), __ATOMIC_RELEASE);
	table_lock(nd);
	if (err == -EEXIST) {
		for (uint32_t i = 0; i < old_nch; i++)
			WRITE_ONCE(hm_heap.chunk[idx + i], CHUNK_LOST);
	} else {
		chunk_free(idx, old_nch);
	}
	hm_unlock(&nd->lock);
	if (!tail_done)
		committed_grow(len - old_len);	/* mremap grew the span itself */
	gauge_add(&hm_gauge.huge_bytes, (int64_t)(len - old_len));
	hm_stat_inc(ST_REALLOC_MOVE);
	return (void *)chunk_addr((uint32_t)nidx);
}
