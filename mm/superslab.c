// SPDX-License-Identifier: MIT
/*
 * The back end: node regions, chunks and superslabs.
 *
 * At start-up one range of nr_nodes << region_shift bytes is reserved
 * (PROT_NONE, nothing committed); node n owns the n-th region_shift slice.
 * A region is cut into 2 MiB chunks, described by the chunk table
 * (hm_heap.chunk, one uint32_t per chunk: enum chunk_kind in the low bits).
 * Chunks are handed out first-fit from the lowest free one; a chunk becomes
 * either a superslab or part of a huge object (mm/large.c).
 *
 * A superslab is a committed chunk whose first HM_SS_HDR_PAGES pages hold
 * struct superslab.  Its other pages are handed out in runs: a slab of one
 * size class (mm/slab.c) or one large object (mm/large.c).  page_map has a
 * bit per page in a run; page_cls/page_delta let the slow paths find the
 * class and the start of the run of any address with one shift and one
 * table read.  free()'s fast path reads the page table instead
 * (hm_heap.ptab, struct hm_pte): one entry per page of the whole span,
 * written for the pages of slabs only, so one subtraction, one shift and
 * one load give it the class, the node and the slab of any heap address.
 * The table is mapped read-only (it reads as zero and costs nothing) and
 * opened read-write PTAB_OPEN_CHUNKS chunks at a time, before the first
 * superslab among them is committed.
 * Small runs (the slabs of the small classes) and big ones (big slabs,
 * large objects) live in superslabs of their own kind, each run in the
 * smallest hole that holds it (pick_ss()).
 *
 * Superslab kinds:   NONE (no run), SMALL or BIG (the kind of the run that
 *                    was placed first; back to NONE when it empties)
 * Sparse superslab:  taken while the node already had a superslab's worth
 *                    of free pages (for want of a hole, not of memory):
 *                    plain pages, purged at once, released when empty, in
 *                    every profile; the last choice of its kind; at most
 *                    half the node's superslabs
 *
 * Superslab states:  ACTIVE (on node->active, has free pages)
 *                    FULL   (no free page, on no list)
 *                    TIGHT  (on node->tight: free pages, but fewer than the
 *                            shortest run ever asked for on the node, and
 *                            none of them dirty; back to ACTIVE as soon
 *                            as a page is given back or a shorter run is
 *                            asked for)
 *                    EMPTY  (every page free; still on node->active and
 *                            counted in node->nr_empty while at most
 *                            HAKMEM_RESERVE_SS are kept, else released:
 *                            decommitted and its chunk freed)
 *
 * TIGHT exists for best_fit(), which walks node->active on every run taken
 * and reads each superslab's header on the way: 4-page slabs leave 2 of a
 * superslab's 506 usable pages over, so without it a heap of small objects
 * kept every superslab it ever filled on the list and each new slab cost
 * a cache and TLB miss per superslab (a quadratic walk: 2 ns of the 26 ns
 * per node of tools/bench/ptrchase.c on 256 MiB of 64-byte nodes).
 *
 * Page tiers and placement: a superslab is committed on hm_heap.tier
 * (hugetlb, thp or 4k, from HAKMEM_HUGEPAGES) and placed on its node by
 * os_commit() before anything touches it; a commit that gets a lower tier
 * (the hugetlb pool ran dry) is counted and the superslab simply lives on
 * that tier.  Superslabs are given back whole, so hugetlb pages are never
 * split.  node->nr_ss_tier[] counts the live ones per tier.
 *
 * Memory return.  A free page that was used since it was committed or last
 * purged is dirty (dirty_map): still resident.  Dirty pages are purged
 * (MADV_DONTNEED: they stay mapped and read back as zero) once they have
 * been idle for HAKMEM_PURGE_DELAY_MS: at once when it is 0 (lean), never
 * when it is -1 (fast: then only stale pages, see stale_delay()).  There
 * is no background thread: the age is judged
 * on slow-path events (ss_purge_tick(): page runs taken and given back,
 * central refills) with a coarse clock read only when something is dirty,
 * so a program that stops allocating keeps what it had until its next
 * slow path or malloc_trim().  A superslab is idle when none of its pages
 * was given back for the delay: then all its dirty pages go.  One still
 * churning loses only its stale pages: those free at one aging pass and
 * still free at the next, a delay later (aged_map); a page reused within
 * the delay is never purged, so a steady workload is not purged and
 * refaulted in a cycle.  Superslabs of the hugetlb tier are never purged in part:
 * their pages go back to the pool only whole, by releasing the superslab
 * (ss_release(), the one place that returns a superslab to the OS).
 *
 * Locking: node->lock guards the node's superslab list, the page maps of
 * its superslabs and its part of the chunk table.  It nests inside the
 * central locks (mm/slab.c) and never the other way round.  Chunk entries
 * and page_cls are read without the lock by free(): they are written
 * before the memory they describe is handed out, and not changed while an
 * object in it is live.
 *
 * fork(): the node locks are taken in node order before fork and released
 * (parent) or reset (child) after it; the child inherits a consistent heap
 * and gives up the hugetlb chunks committed ahead (ss_fork_child()).
 * With the locks held, mm/fork.c copies the chunks hm_heap.hugetlb_map
 * marks as committed on the hugetlb pool (heap_commit, heap_decommit,
 * heap_moved and the commits ahead keep it, under the node lock) and the
 * child adopts them.
 */
#include <stddef.h>
#include <string.h>
#include "hakmem/internal.h"

struct hm_heap hm_heap;
struct hm_gauges hm_gauge;

static uint32_t chunks_per_node(void)
{
	return 1u << (hm_heap.region_shift - HM_SS_SHIFT);
}

static struct hm_node *node_of_ss(const struct superslab *ss)
{
	return &hm_heap.node[ss->node];
}

/* The first tier to ask for, from HAKMEM_HUGEPAGES and what the OS has. */
static int first_tier(void)
{
	switch (hm_opt.hugepages) {
	case HM_HP_HUGETLB:
		return HM_TIER_HUGETLB;
	case HM_HP_AUTO:
		if (os_caps.hugetlb_pages)
			return HM_TIER_HUGETLB;
		/* fall through */
	case HM_HP_THP:
		return os_caps.thp ? HM_TIER_THP : HM_TIER_4K;
	default:
		return HM_TIER_4K;
	}
}

/*
 * HAKMEM_NUMA=off makes one heap of the whole machine (one region, every
 * CPU on "node" 0, no mbind); otherwise there is a region per possible
 * node, memoryless nodes included (their CPUs use the nearest node with
 * memory, so those regions stay untouched).
 */
int heap_setup(void)
{
	unsigned nodes = os_caps.nr_nodes && hm_opt.numa != OS_NUMA_OFF ? os_caps.nr_nodes : 1;
	unsigned shift = HM_REGION_SHIFT_MAX;
	size_t want = (size_t)hm_opt.region_gb << 30;
	void *base = NULL, *meta, *meta2;
	size_t chunk_bytes, node_bytes, cpu_bytes, map_bytes;
	int err = -1;

	/* Under a finite RLIMIT_AS the reservation counts: take half of it. */
	if (os_caps.as_limit && want > os_caps.as_limit / 2 / nodes)
		want = os_caps.as_limit / 2 / nodes;
	while (shift > HM_REGION_SHIFT_MIN && (1UL << shift) > want)
		shift--;
	for (; shift >= HM_REGION_SHIFT_MIN; shift--) {
		err = os_reserve((size_t)nodes << shift, HM_SS_SIZE, &base);
		if (!err)
			break;
	}
	if (err)
		return err;

	hm_heap.base = (uintptr_t)base;
	hm_heap.region_shift = shift;
	hm_heap.span = (uintptr_t)nodes << shift;
	hm_heap.nr_nodes = nodes;

	chunk_bytes = ALIGN_UP((size_t)nodes * chunks_per_node() * sizeof(uint32_t), HM_PAGE_SIZE);
	node_bytes = ALIGN_UP(nodes * sizeof(struct hm_node), HM_PAGE_SIZE);
	cpu_bytes = ALIGN_UP(os_caps.nr_cpus * sizeof(uint16_t), HM_PAGE_SIZE);
	map_bytes = ALIGN_UP(((size_t)nodes * chunks_per_node() + 63) / 64 * sizeof(uint64_t),
			     HM_PAGE_SIZE);
	err = os_map_meta(chunk_bytes + node_bytes + cpu_bytes + map_bytes, &meta);
	if (err)
		return err;
	err = os_map_table((hm_heap.span >> HM_PAGE_SHIFT) * sizeof(struct hm_pte), &meta2);
	if (err)
		return err;
	hm_heap.ptab = meta2;
	hm_heap.chunk = meta;
	hm_heap.node = (struct hm_node *)((char *)meta + chunk_bytes);
	hm_heap.cpu_node = (uint16_t *)((char *)meta + chunk_bytes + node_bytes);
	hm_heap.hugetlb_map = (uint64_t *)((char *)meta + chunk_bytes + node_bytes + cpu_bytes);
	for (unsigned n = 0; n < nodes; n++)
		hm_heap.node[n].base = hm_heap.base + ((uintptr_t)n << shift);
	for (unsigned c = 0; c < os_caps.nr_cpus; c++)
		hm_heap.cpu_node[c] = os_caps.cpu_node[c] < nodes ? os_caps.cpu_node[c] : 0;
	hm_heap.tier = first_tier();
	os_numa_mode = nodes > 1 ? (int)hm_opt.numa : OS_NUMA_OFF;
	return 0;
}

/*
 * For slow paths that do not go through a per-CPU cache: the node of the
 * CPU this thread runs on now (getcpu), mapped like cpu_node[] (a CPU of
 * a memoryless node counts as the nearest node with memory).
 */
unsigned heap_current_node(void)
{
	unsigned n;

	if (hm_heap.nr_nodes == 1)
		return 0;
	n = (unsigned)os_getnode();
	n = n < os_caps.nr_nodes ? os_caps.node_home[n] : 0;
	return n < hm_heap.nr_nodes ? n : 0;
}

/* ---- commit accounting ---- */

/*
 * hugetlb_map: set the bits of the whole chunks of [a, a+len) (a hugetlb
 * commit is whole chunks), clear those of every chunk it meets.  Node
 * lock held (mm/large.c takes it for huge objects on a hugetlb heap).
 */
static void hugetlb_mark(uintptr_t a, size_t len, bool on)
{
	uint32_t first, last;

	if (!len || !heap_maps_locked())
		return;
	first = hm_chunk_index(on ? ALIGN_UP(a, HM_SS_SIZE) : a);
	last = hm_chunk_index(on ? ALIGN_DOWN(a + len, HM_SS_SIZE) : a + len + HM_SS_MASK);
	for (uint32_t i = first; i < last; i++) {
		uint64_t bit = 1UL << (i % 64);
		struct hm_node *nd = &hm_heap.node[hm_node_of(chunk_addr(i))];

		if (on == chunk_hugetlb(i))
			continue;
		if (on) {
			__atomic_fetch_or(&hm_heap.hugetlb_map[i / 64], bit, __ATOMIC_RELAXED);
			nd->nr_hugetlb++;
		} else {
			__atomic_fetch_and(&hm_heap.hugetlb_map[i / 64], ~bit, __ATOMIC_RELAXED);
			nd->nr_hugetlb--;
		}
	}
}

void heap_unhuge(uint32_t idx, uint32_t n, int tier)
{
	for (uint32_t i = idx; i < idx + n; i++) {
		uintptr_t a = chunk_addr(i);
		struct superslab *ss = (struct superslab *)a;

		hugetlb_mark(a, HM_SS_SIZE, false);
		if ((hm_heap.chunk[i] & CHUNK_KIND_MASK) == CHUNK_SS && ss->tier == HM_TIER_HUGETLB) {
			node_of_ss(ss)->nr_ss_tier[HM_TIER_HUGETLB]--;
			node_of_ss(ss)->nr_ss_tier[tier]++;
			ss->tier = (uint8_t)tier;
		}
	}
}

void heap_moved(uintptr_t from, uintptr_t to, size_t len)
{
	uint32_t n = (uint32_t)(len >> HM_SS_SHIFT);

	if (!heap_maps_locked())
		return;
	for (uint32_t i = 0; i < n; i++) {
		uintptr_t f = from + ((uintptr_t)i << HM_SS_SHIFT);

		if (chunk_hugetlb(hm_chunk_index(f))) {
			hugetlb_mark(f, HM_SS_SIZE, false);
			hugetlb_mark(to + ((uintptr_t)i << HM_SS_SHIFT), HM_SS_SIZE, true);
		}
	}
}

/* len bytes more are committed: count them, and the peak (a racy max is fine). */
void committed_grow(size_t len)
{
	int64_t now = __atomic_add_fetch(&hm_gauge.committed, (int64_t)len, __ATOMIC_RELAXED);

	if (now > READ_ONCE(hm_gauge.committed_peak))
		WRITE_ONCE(hm_gauge.committed_peak, now);
}

int heap_commit(void *addr, size_t len, int tier, unsigned node)
{
	static int fallback_reported;
	int got;

	got = os_commit(addr, len, tier, node);
	if (got < 0)
		return got;
	if (got == HM_TIER_HUGETLB)
		hugetlb_mark((uintptr_t)addr, len, true);
	committed_grow(len);
	if (got > tier) {
		hm_stat_inc(ST_TIER_FALLBACK);
		if (tier == HM_TIER_HUGETLB)
			hm_stat_inc(ST_HUGETLB_DRY);
		if (hm_opt.verbose && !__atomic_exchange_n(&fallback_reported, 1, __ATOMIC_RELAXED))
			hm_warn(tier == HM_TIER_HUGETLB ?
				(got == HM_TIER_THP ?
				 "hugetlb pool has no free page: falling back to transparent hugepages" :
				 "hugetlb pool has no free page: falling back to 4 KiB pages") :
				"transparent hugepages unavailable: falling back to 4 KiB pages");
	}
	return got;
}

void heap_decommit(void *addr, size_t len)
{
	if (os_decommit(addr, len) == 0) {
		hugetlb_mark((uintptr_t)addr, len, false);
		gauge_add(&hm_gauge.committed, -(int64_t)len);
	}
}

/* ---- chunks (node lock held) ---- */

static uint32_t *node_chunks(unsigned node)
{
	return hm_heap.chunk + (size_t)node * chunks_per_node();
}

/* Chunks an occupied entry covers, so scans can skip whole huge objects. */
static uint32_t entry_span(uint32_t e)
{
	if ((e & CHUNK_KIND_MASK) == CHUNK_HUGE) {
		size_t bytes = (size_t)(e >> CHUNK_KIND_BITS) << HM_PAGE_SHIFT;
		return (uint32_t)MAX(1, (bytes + HM_SS_MASK) >> HM_SS_SHIFT);
	}
	return 1;
}

long chunk_alloc(unsigned node, uint32_t n, uint32_t align)
{
	struct hm_node *nd = &hm_heap.node[node];
	uint32_t *tab = node_chunks(node);
	uint32_t limit = chunks_per_node();
	uint32_t i, first_free = UINT32_MAX, found = UINT32_MAX;
	uint32_t old_next = nd->next_chunk;
	/* Alignment is of the address: node regions are only 2 MiB aligned. */
	uint32_t phase = (uint32_t)((nd->base >> HM_SS_SHIFT) % align);

	if (!n || n > limit)
		return -1;
	for (i = nd->lowest_free; i < nd->next_chunk;) {
		uint32_t e = tab[i], j;

		if ((e & CHUNK_KIND_MASK) != CHUNK_FREE) {
			i += entry_span(e);
			continue;
		}
		if (first_free == UINT32_MAX)
			first_free = i;
		if ((i + phase) % align) {
			i++;
			continue;
		}
		for (j = 0; j < n && i + j < nd->next_chunk; j++)
			if ((tab[i + j] & CHUNK_KIND_MASK) != CHUNK_FREE)
				break;
		if (j == n || i + j == nd->next_chunk) {
			found = i;	/* may run past next_chunk into untouched space */
			break;
		}
		i += j + 1;
	}
	if (found == UINT32_MAX)
		found = ALIGN_UP(nd->next_chunk + phase, align) - phase;
	if (found >= limit || n > limit - found)
		return -1;
	for (i = 0; i < n; i++)
		tab[found + i] = CHUNK_CONT;
	if (found + n > nd->next_chunk)
		nd->next_chunk = found + n;
	/* Keep "no free chunk below lowest_free" true, alignment gaps included. */
	if (first_free != UINT32_MAX && first_free != found)
		nd->lowest_free = first_free;
	else if (found > old_next)
		nd->lowest_free = old_next;
	else
		nd->lowest_free = found + n;
	return (long)node * chunks_per_node() + found;
}

void chunk_free(uint32_t idx, uint32_t n)
{
	unsigned node = idx / chunks_per_node();
	uint32_t local = idx % chunks_per_node();
	struct hm_node *nd = &hm_heap.node[node];

	for (uint32_t i = 0; i < n; i++)
		WRITE_ONCE(hm_heap.chunk[idx + i], CHUNK_FREE);
	if (local < nd->lowest_free)
		nd->lowest_free = local;
}

bool chunk_claim(unsigned node, uint32_t idx, uint32_t n)
{
	uint32_t local = idx % chunks_per_node();
	struct hm_node *nd = &hm_heap.node[node];

	if (idx / chunks_per_node() != node || local + n > chunks_per_node())
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (local + i < nd->next_chunk &&
		    (hm_heap.chunk[idx + i] & CHUNK_KIND_MASK) != CHUNK_FREE)
			return false;
	for (uint32_t i = 0; i < n; i++)
		hm_heap.chunk[idx + i] = CHUNK_CONT;
	if (local + n > nd->next_chunk)
		nd->next_chunk = local + n;
	return true;
}

/* ---- superslabs (node lock held) ---- */

static void ss_list_add(struct superslab **head, struct superslab *ss)
{
	ss->prev = NULL;
	ss->next = *head;
	if (*head)
		(*head)->prev = ss;
	*head = ss;
}

static void ss_list_del(struct superslab **head, struct superslab *ss)
{
	if (ss->prev)
		ss->prev->next = ss->next;
	else
		*head = ss->next;
	if (ss->next)
		ss->next->prev = ss->prev;
	ss->next = ss->prev = NULL;
}

/*
 * Make the page table writable for the groups of PTAB_OPEN_CHUNKS chunks
 * around chunks [idx, idx + n) (whole groups keep the mapping in few
 * pieces) and clear those chunks' entries.  The call is cheap to repeat:
 * it is made for every commit of superslabs, which is rare next to the
 * objects they serve.
 */
#define PTAB_OPEN_CHUNKS	64u
#define PTES_PER_CHUNK		(1u << (HM_SS_SHIFT - HM_PAGE_SHIFT))

static int ptab_open(uint32_t idx, uint32_t n)
{
	size_t first = (size_t)(idx & ~(PTAB_OPEN_CHUNKS - 1)) * PTES_PER_CHUNK;
	size_t end = (size_t)ALIGN_UP(idx + n, PTAB_OPEN_CHUNKS) * PTES_PER_CHUNK;
	size_t total = hm_heap.span >> HM_PAGE_SHIFT;
	int err;

	end = MIN(end, total);
	err = os_open_table(hm_heap.ptab + first, (end - first) * sizeof(struct hm_pte));
	if (err)
		return err;
	memset(hm_heap.ptab + (size_t)idx * PTES_PER_CHUNK, 0,
	       (size_t)n * PTES_PER_CHUNK * sizeof(struct hm_pte));
	return 0;
}

/*
 * Hugetlb superslabs are committed ahead, several per mmap, once a node
 * has a few.  Each hugetlb mmap sets up a hugetlbfs file and a VMA of its
 * own: 25 us for 2 MiB against 80 us for 32 MiB here, so one per
 * superslab was 3 ms of the 85 ms ptrchase takes to allocate 256 MiB of
 * nodes, where mimalloc maps 32 MiB at a time.  A batch is half the node's
 * hugetlb superslabs, at most SS_AHEAD_MAX, so the pool pages reserved and
 * not yet used stay a fraction of those in use; the chunks wait as
 * CHUNK_READY in [ready, ready_end) and ss_trim() gives them back.  A
 * batch the pool cannot reserve leaves its range untouched
 * (os_commit_hugetlb()) and turns batching off for the node: its
 * superslabs are then committed one by one, each falling back on its own.
 * A batch is reserved whole but faulted a superslab at a time, as each is
 * taken (os_fault_hugetlb()): the last batch of a heap that stops growing
 * costs no zeroing for the superslabs it never uses, and each superslab's
 * first pages are still in the cache when its first objects are written
 * (the kernel clears the faulting end of a huge page last).  A ready chunk
 * whose pages the pool lost (see os.c) is given back with the rest of its
 * batch, and batching stops.  Ready chunks are not in the fork copy's map
 * (nothing of theirs is in use); the child gives them up.
 * Only on a one-node heap: a batch's reservation is not bound to a node,
 * and where this node's pool is short its pages would come from another
 * node for superslabs nobody asked for yet (the NUMA guest saw a thread
 * on node 0 take a page of node 1 that way).
 */
#define SS_AHEAD_MIN	4	/* hugetlb superslabs a node has before it batches */
#define SS_AHEAD_MAX	16	/* chunks per batch: 32 MiB */

static void drop_ready(struct hm_node *nd);

static long ss_chunk_ahead(struct hm_node *nd, unsigned node)
{
	uint32_t have = nd->nr_ss_tier[HM_TIER_HUGETLB], n;
	size_t len;
	void *addr;
	long idx;

	if (nd->ready < nd->ready_end) {
		addr = (void *)chunk_addr(nd->ready);
		if (os_fault_hugetlb(addr, HM_SS_SIZE) == 0) {
			hugetlb_mark((uintptr_t)addr, HM_SS_SIZE, true);
			return nd->ready++;
		}
		/* The pool lost the pages it held for the batch: give it up. */
		drop_ready(nd);
		nd->ahead_off = true;
		return -1;
	}
	if (hm_heap.tier != HM_TIER_HUGETLB || nd->ahead_off || have < SS_AHEAD_MIN ||
	    hm_heap.nr_nodes > 1)
		return -1;
	n = MIN(have / 2, SS_AHEAD_MAX);
	len = (size_t)n << HM_SS_SHIFT;
	idx = chunk_alloc(node, n, 1);
	if (idx < 0)
		return -1;
	addr = (void *)chunk_addr((uint32_t)idx);
	if (ptab_open((uint32_t)idx, n)) {
		chunk_free((uint32_t)idx, n);
		return -1;
	}
	if (os_commit_hugetlb(addr, len, HM_SS_SIZE, node) < 0) {
		chunk_free((uint32_t)idx, n);
		nd->ahead_off = true;
		return -1;
	}
	hugetlb_mark((uintptr_t)addr, HM_SS_SIZE, true);	/* fork copies it */
	committed_grow(len);
	for (uint32_t i = 1; i < n; i++)
		hm_heap.chunk[idx + i] = CHUNK_READY;
	nd->ready = (uint32_t)idx + 1;
	nd->ready_end = (uint32_t)idx + n;
	return idx;
}

static struct superslab *ss_new(unsigned node, int want)
{
	struct hm_node *nd = &hm_heap.node[node];
	struct superslab *ss;
	long idx;
	int tier;

	idx = want == HM_TIER_HUGETLB ? ss_chunk_ahead(nd, node) : -1;
	if (idx >= 0) {
		ss = (struct superslab *)chunk_addr((uint32_t)idx);
		tier = HM_TIER_HUGETLB;
	} else {
		idx = chunk_alloc(node, 1, 1);
		if (idx < 0)
			return NULL;
		ss = (struct superslab *)chunk_addr((uint32_t)idx);
		/* The page table first: a commit is harder to undo. */
		tier = ptab_open((uint32_t)idx, 1) ?:
		       heap_commit(ss, HM_SS_SIZE, want, node);
		if (tier < 0) {
			chunk_free((uint32_t)idx, 1);
			return NULL;
		}
	}
	hm_stat_inc(tier == HM_TIER_HUGETLB ? ST_SS_HUGETLB :
		    tier == HM_TIER_THP ? ST_SS_THP : ST_SS_4K);
	/* Fresh memory is zero: only the non-zero fields need writing. */
	ss->magic = HM_SS_MAGIC;
	ss->node = (uint16_t)node;
	ss->tier = (uint8_t)tier;
	ss->state = SS_ACTIVE;
	ss->chunk = (uint32_t)idx;
	ss->nfree_pages = HM_SS_USABLE_PAGES;
	for (unsigned p = 0; p < HM_SS_HDR_PAGES; p++)
		ss->page_map[p / 64] |= 1UL << (p % 64);
	memset(ss->page_cls, PAGE_CLS_HDR, HM_SS_HDR_PAGES);
	memset(ss->page_cls + HM_SS_HDR_PAGES, PAGE_CLS_FREE, HM_SS_USABLE_PAGES);
	__atomic_store_n(&hm_heap.chunk[idx], CHUNK_SS, __ATOMIC_RELEASE);
	ss_list_add(&nd->active, ss);
	nd->nr_ss++;
	nd->nr_ss_tier[tier]++;
	nd->nr_ss_kind[SS_KIND_NONE]++;
	return ss;
}

/*
 * ACTIVE -> TIGHT when ss can serve no run this node has been asked for.
 * Dirty free pages keep it on active, where the purge looks for them.
 */
static void ss_park_if_tight(struct hm_node *nd, struct superslab *ss)
{
	if (ss->state != SS_ACTIVE || !ss->nfree_pages || ss->nfree_pages >= nd->min_run ||
	    ss->nr_dirty)
		return;
	ss_list_del(&nd->active, ss);
	ss_list_add(&nd->tight, ss);
	ss->state = SS_TIGHT;
}

/* TIGHT -> ACTIVE: it got pages back, or shorter runs are wanted now. */
static void ss_unpark(struct hm_node *nd, struct superslab *ss)
{
	ss_list_del(&nd->tight, ss);
	ss_list_add(&nd->active, ss);
	ss->state = SS_ACTIVE;
}

/* A run of npages is asked for: lower min_run, and let everything compete again. */
static void ss_note_run(struct hm_node *nd, unsigned npages)
{
	if (nd->min_run && npages >= nd->min_run)
		return;
	while (nd->tight)
		ss_unpark(nd, nd->tight);
	nd->min_run = npages;
}

/*
 * Give a superslab back to the OS whole: the one seam for every tier.
 * The chunk is mapped PROT_NONE again, which drops its pages; for the
 * hugetlb tier that returns the huge page to the pool.
 */
static void ss_release(struct superslab *ss)
{
	struct hm_node *nd = node_of_ss(ss);
	uint32_t idx = ss->chunk;

	ss_list_del(&nd->active, ss);
	nd->nr_ss--;
	nd->nr_ss_tier[ss->tier]--;
	nd->nr_ss_kind[ss->kind]--;
	nd->nr_sparse -= ss->sparse;
	nd->dirty_pages -= ss->nr_dirty;
	heap_decommit(ss, HM_SS_SIZE);
	chunk_free(idx, 1);
	hm_stat_inc(ST_SS_RELEASED);
}

static unsigned run_kind(unsigned npages)
{
	return npages >= HM_BIG_RUN_PAGES ? SS_KIND_BIG : SS_KIND_SMALL;
}

static void ss_set_kind(struct superslab *ss, unsigned kind)
{
	struct hm_node *nd = node_of_ss(ss);

	nd->nr_ss_kind[ss->kind]--;
	nd->nr_ss_kind[kind]++;
	ss->kind = (uint8_t)kind;
}

/* First used page in [from, to), or to. */
static unsigned next_used(const struct superslab *ss, unsigned from, unsigned to)
{
	while (from < to) {
		uint64_t w = ss->page_map[from / 64] >> (from % 64);

		if (w)
			return MIN(to, from + (unsigned)__builtin_ctzl(w));
		from = ALIGN_DOWN(from, 64) + 64;
	}
	return to;
}

/* First free page in [from, to), or to. */
static unsigned next_free(const struct superslab *ss, unsigned from, unsigned to)
{
	while (from < to) {
		uint64_t w = ~ss->page_map[from / 64] >> (from % 64);

		if (w)
			return MIN(to, from + (unsigned)__builtin_ctzl(w));
		from = ALIGN_DOWN(from, 64) + 64;
	}
	return to;
}

/*
 * First run of n free pages starting at a multiple of align.  Skips whole
 * words of used pages at a time: a superslab filled with small slabs is
 * crossed in a few word reads, not one step per used page.
 */
static int find_run(const struct superslab *ss, unsigned n, unsigned align)
{
	unsigned i = HM_SS_HDR_PAGES;

	if (ss->nfree_pages < n)
		return -1;
	for (;;) {
		unsigned u;

		i = ALIGN_UP(next_free(ss, i, HM_SS_PAGES), align);
		if (i + n > HM_SS_PAGES)
			return -1;
		u = next_used(ss, i, i + n);
		if (u == i + n)
			return (int)i;
		i = u + 1;
	}
}

/*
 * The age after which a free page of a churning superslab is purged
 * (ss_purge_stale()): the purge delay, or HM_STALE_NEVER_MS where idle
 * superslabs are never purged (fast).  fast keeps its free pages so as to
 * make no system call in a steady state, but a hole no run has fitted for
 * half a minute is not steady state: in a two-minute soak those holes grew
 * by 1 MiB, half the drift of fast's resident set.  A page reused within
 * that time is never purged, and with nothing stale no system call is
 * made; the cost is a read of the coarse clock on the slow paths while
 * free pages are dirty.
 */
#define HM_STALE_NEVER_MS	30000

static uint32_t stale_delay(void)
{
	return hm_opt.purge_delay_ms >= 0 ? (uint32_t)hm_opt.purge_delay_ms : HM_STALE_NEVER_MS;
}

/* Pages [first, first + n) are taken: they are no longer dirty free pages. */
static void undirty(struct superslab *ss, unsigned first, unsigned n)
{
	unsigned cleared = 0;

	if (!ss->nr_dirty)
		return;
	for (unsigned p = first; p < first + n; p++) {
		uint64_t bit = 1UL << (p % 64);

		if (ss->dirty_map[p / 64] & bit) {
			ss->dirty_map[p / 64] &= ~bit;
			ss->aged_map[p / 64] &= ~bit;
			cleared++;
		}
	}
	ss->nr_dirty -= cleared;
	node_of_ss(ss)->dirty_pages -= cleared;
}

/* Pages [from, to) of the run at page first take the run's page-table entry. */
static void set_ptes(struct superslab *ss, unsigned first, unsigned from, unsigned to,
		     unsigned cls)
{
	uintptr_t start = ss_page_addr(ss, first);
	struct hm_pte e = { .code = (uint8_t)obj_code(cls), .node = ss->node,
			    .slab = (uint32_t)start };
	struct hm_pte *pte = hm_pte_of(ss_page_addr(ss, from));

	if (cls >= HM_NCLASS)
		return;			/* only slabs have entries */
	for (unsigned i = 0; i < to - from; i++)
		pte[i] = e;
}

static void mark_run(struct superslab *ss, unsigned first, unsigned n, unsigned cls)
{
	undirty(ss, first, n);
	for (unsigned p = first; p < first + n; p++) {
		ss->page_map[p / 64] |= 1UL << (p % 64);
		ss->page_cls[p] = (uint8_t)cls;
		ss->page_delta[p] = (uint8_t)(p - first);
	}
	set_ptes(ss, first, first, first + n, cls);
}

static void clear_run(struct superslab *ss, unsigned first, unsigned n)
{
	struct hm_node *nd = node_of_ss(ss);

	for (unsigned p = first; p < first + n; p++) {
		ss->page_map[p / 64] &= ~(1UL << (p % 64));
		ss->page_cls[p] = PAGE_CLS_FREE;
		ss->page_delta[p] = 0;
	}
	memset(hm_pte_of(ss_page_addr(ss, first)), 0, n * sizeof(struct hm_pte));
	/*
	 * Hugetlb pages go back whole only.  Dirty pages are tracked in every
	 * profile (malloc_trim purges them); the clock is read only when a
	 * delay is to be judged.
	 */
	if (ss->tier == HM_TIER_HUGETLB)
		return;
	ss->dirty_since = hm_opt.purge_delay_ms > 0 ? os_now_ms() : 0;
	if (!nd->dirty_pages)
		nd->purge_due = ss->dirty_since + stale_delay();
	for (unsigned p = first; p < first + n; p++)
		ss->dirty_map[p / 64] |= 1UL << (p % 64);
	ss->nr_dirty += n;
	nd->dirty_pages += n;
}

/*
 * The header's slab[] array takes five of its six pages.  An entry means
 * something only while its page starts a run, so a header page whose
 * entries all belong to free pages can be purged too: a superslab pinned
 * by one slab then keeps two header pages resident instead of six.
 * Entries are written in full when a run is made, so reading back zeros
 * is harmless.  Page 0 (the fixed fields, the page maps) is never purged.
 */
#define SLAB_ENTRY_OFF(i)	(offsetof(struct superslab, slab) + (size_t)(i) * sizeof(struct slab))

static unsigned purge_header(struct superslab *ss)
{
	const size_t base = offsetof(struct superslab, slab);
	unsigned done = 0;

	for (unsigned h = 1; h < HM_SS_HDR_PAGES; h++) {
		size_t lo = (size_t)h << HM_PAGE_SHIFT, hi = lo + HM_PAGE_SIZE;
		unsigned first, last;

		if ((ss->hdr_purged & (1u << h)) || lo < base)
			continue;
		first = (unsigned)((lo - base) / sizeof(struct slab));
		last = (unsigned)MIN((hi - base + sizeof(struct slab) - 1) / sizeof(struct slab),
				     (size_t)HM_SS_PAGES);
		if (first >= last || next_used(ss, first, last) != last)
			continue;
		os_purge((void *)((uintptr_t)ss + lo), HM_PAGE_SIZE);
		hm_stat_inc(ST_PURGE);
		ss->hdr_purged |= 1u << h;
		done++;
	}
	return done;
}

/* A run starts at page first: the header pages holding its entry are in use. */
static void header_in_use(struct superslab *ss, unsigned first)
{
	size_t off = SLAB_ENTRY_OFF(first);

	ss->hdr_purged &= ~(1u << (off >> HM_PAGE_SHIFT));
	ss->hdr_purged &= ~(1u << ((off + sizeof(struct slab) - 1) >> HM_PAGE_SHIFT));
}

/* Purge every dirty page of ss (node lock held); returns pages purged. */
static unsigned ss_purge(struct superslab *ss)
{
	struct hm_node *nd = node_of_ss(ss);
	unsigned done = 0, p = HM_SS_HDR_PAGES;

	while (ss->nr_dirty && p < HM_SS_PAGES) {
		unsigned q;

		if (!(ss->dirty_map[p / 64] >> (p % 64))) {
			p = ALIGN_DOWN(p, 64) + 64;
			continue;
		}
		if (!(ss->dirty_map[p / 64] & (1UL << (p % 64)))) {
			p++;
			continue;
		}
		for (q = p; q < HM_SS_PAGES && (ss->dirty_map[q / 64] & (1UL << (q % 64))); q++)
			ss->dirty_map[q / 64] &= ~(1UL << (q % 64));
		os_purge((void *)ss_page_addr(ss, p), (size_t)(q - p) << HM_PAGE_SHIFT);
		hm_stat_inc(ST_PURGE);
		done += q - p;
		ss->nr_dirty -= q - p;
		p = q;
	}
	nd->dirty_pages -= done;
	memset(ss->aged_map, 0, sizeof(ss->aged_map));
	if (done)
		done += purge_header(ss);
	hm_stat_add(ST_PURGED_PAGES, done);
	if (done && ss->state == SS_EMPTY)
		hm_stat_inc(ST_SS_PURGED);
	return done;
}

/*
 * Purge the free pages of ss that were dirty at the node's last aging
 * pass and still are (free for one to two delays, whatever else the
 * superslab did), then mark the dirty pages left as seen by this pass.
 */
static void ss_purge_stale(struct superslab *ss)
{
	struct hm_node *nd = node_of_ss(ss);
	unsigned done = 0, p = HM_SS_HDR_PAGES;

	while (p < HM_SS_PAGES) {
		uint64_t w = ss->aged_map[p / 64] >> (p % 64);
		unsigned q;

		if (!w) {
			p = ALIGN_DOWN(p, 64) + 64;
			continue;
		}
		p += (unsigned)__builtin_ctzl(w);
		for (q = p; q < HM_SS_PAGES && (ss->aged_map[q / 64] & (1UL << (q % 64))); q++) {
			ss->aged_map[q / 64] &= ~(1UL << (q % 64));
			ss->dirty_map[q / 64] &= ~(1UL << (q % 64));
		}
		os_purge((void *)ss_page_addr(ss, p), (size_t)(q - p) << HM_PAGE_SHIFT);
		hm_stat_inc(ST_PURGE);
		done += q - p;
		p = q;
	}
	ss->nr_dirty -= done;
	nd->dirty_pages -= done;
	hm_stat_add(ST_PURGED_PAGES, done);
	memcpy(ss->aged_map, ss->dirty_map, sizeof(ss->aged_map));
}

/*
 * Purge what is due on node (node lock held): every dirty page of a
 * superslab that gave nothing back for the delay, and, once per delay,
 * the pages that stayed free since the last such pass in the others.
 * The second rule is for the superslabs that keep churning: a hole no
 * run fits stays free for good, and in a long soak those holes were a
 * slowly growing part of the resident set.  A page reused within the
 * delay is never purged, so a steady workload does not purge and refault
 * in a cycle.
 */
static void purge_due_locked(struct hm_node *nd, uint32_t now)
{
	bool idle_rule = hm_opt.purge_delay_ms >= 0;
	uint32_t delay = stale_delay(), next = now + delay;
	bool age = (int32_t)(now - nd->aged_at) >= (int32_t)delay;

	if (age)
		nd->aged_at = now;
	for (struct superslab *ss = nd->active; ss && nd->dirty_pages; ss = ss->next) {
		if (!ss->nr_dirty)
			continue;
		if (idle_rule && (int32_t)(now - ss->dirty_since) >= (int32_t)delay)
			ss_purge(ss);
		else if (age)
			ss_purge_stale(ss);
		if (idle_rule && ss->nr_dirty && (int32_t)(ss->dirty_since + delay - next) < 0)
			next = ss->dirty_since + delay;
	}
	if ((int32_t)(nd->aged_at + delay - next) < 0 && nd->dirty_pages)
		next = nd->aged_at + delay;
	nd->purge_due = next;
}

static bool purge_is_due(struct hm_node *nd, uint32_t *now)
{
	if (!READ_ONCE(nd->dirty_pages))
		return false;
	*now = os_now_ms();
	return (int32_t)(*now - READ_ONCE(nd->purge_due)) >= 0;
}

/*
 * Only with a trylock: this runs at the top of every central refill, where
 * nothing else needs the node lock.  Waiting for it there would make a
 * refill depend on the node lock after all, and a signal handler that
 * allocates while its thread holds that lock (in a purge's madvise, say)
 * would wait for itself (tools/testing/stress/migrate hung that way).  A
 * purge that is due and finds the lock taken waits for the next tick.
 */
void ss_purge_tick(unsigned node)
{
	struct hm_node *nd = &hm_heap.node[node];
	uint32_t now;

	if (!purge_is_due(nd, &now) || !hm_trylock(&nd->lock))
		return;
	purge_due_locked(nd, now);
	hm_unlock(&nd->lock);
}

/*
 * The best fit for a run of n pages aligned to align in ss: the start of
 * the run in the smallest free hole that holds it, -1 if none does; *hole
 * gets that hole's length.  An exact fit ends the search.
 */
static int best_hole(const struct superslab *ss, unsigned n, unsigned align, unsigned *hole)
{
	unsigned i = HM_SS_HDR_PAGES, best_len = UINT32_MAX;
	int best = -1;

	while (i < HM_SS_PAGES) {
		unsigned a = next_free(ss, i, HM_SS_PAGES), b, at;

		if (a == HM_SS_PAGES)
			break;
		b = next_used(ss, a, HM_SS_PAGES);
		at = ALIGN_UP(a, align);
		if (at + n <= b && b - a < best_len) {
			best = (int)at;
			best_len = b - a;
			if (best_len == n)
				break;
		}
		i = b;
	}
	*hole = best_len;
	return best;
}

/*
 * Run placement.  A run goes to a superslab of its kind (enum ss_kind:
 * under HM_BIG_RUN_PAGES pages or not), into the smallest hole that holds
 * it, in the fullest such superslab when holes tie; failing that to an
 * empty superslab, which takes its kind; failing that to a new one.  A
 * superslab of the other kind is used only while the node has none of
 * the run's kind, so a small heap is not split in two for one large
 * object.
 *
 * Why: with both in one superslab (and the first fit in the fullest
 * superslab), small slabs took the pages a large object left and big
 * holes were cut into small ones; the soak kept 1000-2000 free pages but
 * no 32-page hole, and took a new superslab for a large object every few
 * tens of seconds.  Apart, a freed slab's hole fits the next slab of its
 * size, the 1-3 page slivers between small slabs are not in the way of
 * big runs, and best fit keeps the big holes for the big runs.
 *
 * A sparse superslab (see want_sparse()) is the last resort of its kind,
 * after every other hole: it only takes what fits nowhere else, so it
 * empties and is released once the other superslabs have holes again.
 */
static struct superslab *pick_ss(struct hm_node *nd, unsigned npages, unsigned align,
				 int *first, uint32_t *free_pages)
{
	unsigned kind = run_kind(npages), best_rank = UINT32_MAX, best_len = UINT32_MAX;
	bool mix = !nd->nr_ss_kind[kind];
	struct superslab *best = NULL;
	uint32_t best_free = UINT32_MAX;

	*free_pages = 0;
	for (struct superslab *ss = nd->active; ss; ss = ss->next) {
		unsigned rank, len;
		int at;

		*free_pages += ss->nfree_pages;
		if (ss->nfree_pages < npages)
			continue;
		if (ss->kind == kind)
			rank = ss->sparse ? 3 : 0;
		else if (ss->kind == SS_KIND_NONE)
			rank = 1;
		else if (mix)
			rank = 2;
		else
			continue;
		if (rank > best_rank)
			continue;
		at = best_hole(ss, npages, align, &len);
		if (at < 0)
			continue;
		if (rank < best_rank || len < best_len ||
		    (len == best_len && ss->nfree_pages < best_free)) {
			best = ss;
			best_rank = rank;
			best_len = len;
			best_free = ss->nfree_pages;
			*first = at;
			if (!rank && len == npages)
				break;		/* an exact fit: no better hole */
		}
	}
	return best;
}

/*
 * A sparse superslab.  One taken while the node's superslabs still have a
 * superslab's worth of free pages between their runs is taken for want of
 * a hole, not of memory: it holds a few runs until holes come back
 * elsewhere, then empties.  On transparent hugepages its first touch
 * would make all 2 MiB resident for those few runs, and the pages they
 * leave would stay (in a soak, each such superslab added 0.85 % to the
 * resident set for good).  So it gets plain pages, its free pages are
 * purged at once and it is released as soon as it empties, whatever the
 * profile: it costs what it holds.  At most half the superslabs of a
 * node are sparse (one in a small heap): beyond that a new superslab is
 * an ordinary one, so a heap that grows still grows on hugepages, and
 * the system calls of purging stay bounded to a part of the runs.  The
 * soak ends up with about 30 sparse superslabs next to 88 on hugepages:
 * the holes churn leaves after the first fill; with one sparse superslab
 * at most, or a quarter, it went on taking hugepage superslabs.
 */
static bool want_sparse(const struct hm_node *nd, uint32_t free_pages)
{
	return hm_heap.tier == HM_TIER_THP && free_pages >= HM_SS_USABLE_PAGES &&
	       nd->nr_sparse <= nd->nr_ss / 2;
}

struct slab *ss_alloc_pages(unsigned node, unsigned npages, unsigned align, unsigned cls)
{
	struct hm_node *nd = &hm_heap.node[node];
	struct superslab *ss;
	struct slab *s = NULL;
	uint32_t free_pages;
	int first = -1;

	if (!align)
		align = 1;
	/* page_delta is one byte: runs are at most 256 pages. */
	if (!npages || npages > 256 || npages > HM_SS_USABLE_PAGES)
		return NULL;
	hm_lock(&nd->lock);
	ss_note_run(nd, npages);
	ss = pick_ss(nd, npages, align, &first, &free_pages);
	if (!ss) {
		bool sparse = want_sparse(nd, free_pages);

		ss = ss_new(node, sparse ? HM_TIER_4K : hm_heap.tier);
		if (ss && sparse) {
			ss->sparse = 1;
			nd->nr_sparse++;
		}
		if (ss) {
			first = find_run(ss, npages, align);
			if (first < 0) {
				/* Cannot fit even here (alignment): an empty one. */
				ss->state = SS_EMPTY;
				nd->nr_empty++;
				if (nd->nr_empty > (uint32_t)hm_opt.reserve_ss || ss->sparse) {
					nd->nr_empty--;
					ss_release(ss);
				}
				ss = NULL;
			}
		}
	}
	if (ss && first >= 0) {
		if (ss->state == SS_EMPTY)
			nd->nr_empty--;
		if (ss->kind == SS_KIND_NONE)
			ss_set_kind(ss, run_kind(npages));
		mark_run(ss, (unsigned)first, npages, cls);
		header_in_use(ss, (unsigned)first);
		ss->nfree_pages -= npages;
		ss->state = SS_ACTIVE;
		if (!ss->nfree_pages) {
			ss_list_del(&nd->active, ss);
			ss->state = SS_FULL;
		}
		ss_park_if_tight(nd, ss);
		s = &ss->slab[first];
		s->npages = (uint16_t)npages;
		s->cls = (uint8_t)cls;
		s->freelist = NULL;
		s->next = s->prev = NULL;
		s->used = s->capacity = s->carved = 0;
		s->state = SLAB_UNUSED;
	}
	{
		uint32_t now;

		if (purge_is_due(nd, &now))
			purge_due_locked(nd, now);
	}
	hm_unlock(&nd->lock);
	return s;
}

void ss_free_pages(struct slab *s)
{
	struct superslab *ss = slab_ss(s);
	struct hm_node *nd = node_of_ss(ss);
	unsigned first = slab_first_page(s);

	hm_lock(&nd->lock);
	clear_run(ss, first, s->npages);
	s->state = SLAB_UNUSED;
	if (ss->state == SS_FULL) {
		ss->state = SS_ACTIVE;
		ss_list_add(&nd->active, ss);
	} else if (ss->state == SS_TIGHT) {
		ss_unpark(nd, ss);
	}
	ss->nfree_pages += s->npages;
	if (ss->nfree_pages == HM_SS_USABLE_PAGES &&
	    (nd->nr_empty >= (uint32_t)hm_opt.reserve_ss || ss->sparse)) {
		ss_release(ss);
		ss = NULL;
	} else if (ss->nfree_pages == HM_SS_USABLE_PAGES) {
		ss_set_kind(ss, SS_KIND_NONE);
		ss->state = SS_EMPTY;
		nd->nr_empty++;
	}
	if (ss && ss->nr_dirty && (hm_opt.purge_delay_ms == 0 || ss->sparse)) {
		ss_purge(ss);		/* lean, sparse: give the pages back at once */
	} else {
		uint32_t now;

		if (purge_is_due(nd, &now))
			purge_due_locked(nd, now);
	}
	hm_unlock(&nd->lock);
}

bool ss_resize_pages(struct slab *s, unsigned npages)
{
	struct superslab *ss = slab_ss(s);
	struct hm_node *nd = node_of_ss(ss);
	unsigned first = slab_first_page(s), old = s->npages;
	bool ok = true;

	if (!npages || npages > 256)
		return false;
	hm_lock(&nd->lock);
	if (npages > old) {
		if (first + npages > HM_SS_PAGES ||
		    next_used(ss, first + old, first + npages) != first + npages) {
			ok = false;
		} else {
			undirty(ss, first + old, npages - old);
			for (unsigned p = first + old; p < first + npages; p++) {
				ss->page_map[p / 64] |= 1UL << (p % 64);
				ss->page_delta[p] = (uint8_t)(p - first);
				ss->page_cls[p] = s->cls;
			}
			set_ptes(ss, first, first + old, first + npages, s->cls);
			ss->nfree_pages -= npages - old;
			if (!ss->nfree_pages && ss->state != SS_FULL) {
				ss_list_del(ss->state == SS_TIGHT ? &nd->tight : &nd->active, ss);
				ss->state = SS_FULL;
			}
			ss_park_if_tight(nd, ss);
		}
	} else if (npages < old) {
		clear_run(ss, first + npages, old - npages);
		ss->nfree_pages += old - npages;
		if (ss->state == SS_FULL) {
			ss->state = SS_ACTIVE;
			ss_list_add(&nd->active, ss);
		} else if (ss->state == SS_TIGHT) {
			ss_unpark(nd, ss);
		}
		if (hm_opt.purge_delay_ms == 0 || ss->sparse)
			ss_purge(ss);
	}
	if (ok)
		s->npages = (uint16_t)npages;
	hm_unlock(&nd->lock);
	return ok;
}

/* Give the node's ready chunks back (node lock held, or the fork child). */
static void drop_ready(struct hm_node *nd)
{
	uint32_t n = nd->ready_end - nd->ready;

	if (!n)
		return;
	heap_decommit((void *)chunk_addr(nd->ready), (size_t)n << HM_SS_SHIFT);
	chunk_free(nd->ready, n);
	nd->ready = nd->ready_end = 0;
}

size_t ss_trim(unsigned node)
{
	struct hm_node *nd = &hm_heap.node[node];
	struct superslab *ss, *next;
	size_t released = 0;

	hm_lock(&nd->lock);
	released += (size_t)(nd->ready_end - nd->ready) << HM_SS_SHIFT;
	drop_ready(nd);
	for (ss = nd->active; ss; ss = next) {
		next = ss->next;
		if (ss->nfree_pages == HM_SS_USABLE_PAGES) {
			if (ss->state == SS_EMPTY)
				nd->nr_empty--;
			ss_release(ss);
			released += HM_SS_SIZE;
		} else if (ss->nr_dirty) {
			released += (size_t)ss_purge(ss) << HM_PAGE_SHIFT;
		}
	}
	hm_unlock(&nd->lock);
	return released;
}

void ss_fork_prepare(void)
{
	for (unsigned n = 0; n < hm_heap.nr_nodes; n++)
		hm_lock(&hm_heap.node[n].lock);
	hugetlb_fork_prepare();
}

void ss_fork_parent(void)
{
	hugetlb_fork_parent();
	for (unsigned n = hm_heap.nr_nodes; n-- > 0;)
		hm_unlock(&hm_heap.node[n].lock);
}

/*
 * The child gives up the ready chunks: hugetlb reservations of private
 * mappings stay with the parent, so a ready chunk would fault in the child
 * on whatever the pool has left, and die of SIGBUS when that is nothing.
 * Superslabs that exist were faulted whole when they were made.
 */
void ss_fork_child(void)
{
	hugetlb_fork_child();
	for (unsigned n = 0; n < hm_heap.nr_nodes; n++) {
		hm_lock_reset(&hm_heap.node[n].lock);
		drop_ready(&hm_heap.node[n]);
	}
}
