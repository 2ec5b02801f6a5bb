/* SPDX-License-Identifier: MIT */
/*
 * hakmem core types.
 *
 * Glossary
 *   region      the virtual range reserved per NUMA node at start-up; cut
 *               into 2 MiB chunks.  Nothing in it is committed until used.
 *   chunk       one 2 MiB-aligned 2 MiB piece of a region.  The chunk table
 *               says what each chunk is (free, superslab, huge head, ...).
 *   superslab   a committed chunk that holds slabs and large objects.  Its
 *               header (struct superslab) sits in its first pages, so
 *               p & ~HM_SS_MASK finds it.
 *   page        4 KiB; the unit in which a superslab is handed out.
 *   slab        a run of pages serving one size class.
 *   large       an object above HM_SMALL_MAX: a run of pages of its own.
 *   huge        an object above HM_LARGE_MAX: a span of whole chunks with a
 *               mapping of its own, grown in place or moved with mremap.
 *   central     per node and size class: the list of slabs with free objects.
 *   pcpu cache  per CPU and size class: a small array-stack of free objects.
 */
#ifndef _HAKMEM_TYPES_H
#define _HAKMEM_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "hakmem/compiler.h"
#include "hakmem/config.h"
#include "hakmem/lock.h"

/* What a chunk of a region is.  Stored in the low bits of a chunk entry. */
enum chunk_kind {
	CHUNK_FREE	= 0,	/* reserved, PROT_NONE, available */
	CHUNK_SS	= 1,	/* a superslab; header at its start */
	CHUNK_HUGE	= 2,	/* first chunk of a huge object */
	CHUNK_CONT	= 3,	/* a following chunk of a huge object */
	CHUNK_LOST	= 4,	/* lost to a foreign mapping; never used again */
	CHUNK_READY	= 5,	/* committed ahead on hugetlb, not yet a superslab */
};
#define CHUNK_KIND_BITS		3
#define CHUNK_KIND_MASK		((1u << CHUNK_KIND_BITS) - 1)
/* For CHUNK_HUGE the upper bits hold the committed size in pages. */
#define CHUNK_HUGE_MAX_PAGES	((1u << (32 - CHUNK_KIND_BITS)) - 1)

/* Page tiers, in the order they are tried. */
enum hm_tier {
	HM_TIER_HUGETLB = 0,	/* 2 MiB pages of the reserved hugetlb pool */
	HM_TIER_THP	= 1,	/* madvise(MADV_HUGEPAGE) */
	HM_TIER_4K	= 2,	/* plain pages */
	HM_NR_TIERS
};

/* The tier's name in statistics and mapping names. */
static inline const char *hm_tier_name(int tier)
{
	static const char *const names[HM_NR_TIERS] = {
		[HM_TIER_HUGETLB] = "hugetlb", [HM_TIER_THP] = "thp", [HM_TIER_4K] = "4k",
	};

	return (unsigned)tier < HM_NR_TIERS ? names[tier] : "?";
}

/* Special values of superslab.page_cls[] (size classes are 0..HM_NCLASS-1). */
#define PAGE_CLS_LARGE		0xfd
#define PAGE_CLS_HDR		0xfe
#define PAGE_CLS_FREE		0xff

/* Slab states. */
enum slab_state {
	SLAB_UNUSED = 0,	/* the pages are not a slab */
	SLAB_PARTIAL,		/* on its central list: has free or uncarved objects */
	SLAB_FULL,		/* every object is out (in use or in a pcpu cache) */
	SLAB_LARGE,		/* one large object */
};

/*
 * struct slab - a run of pages serving one size class.
 *
 * Invariant:  used + |freelist| + (capacity - carved) == capacity
 * A slab is on its central partial list iff state == SLAB_PARTIAL, and then
 * used < capacity.  Guarded by the central lock of (node, cls).
 */
struct slab {
	void		*freelist;	/* freed objects, linked through word 0 */
	struct slab	*next, *prev;	/* central partial list */
	uint32_t	used;		/* objects handed out, incl. pcpu caches */
	uint32_t	capacity;	/* objects that fit */
	uint32_t	carved;		/* objects ever handed out from the bump */
	uint16_t	npages;		/* length of the run */
	uint8_t		cls;		/* size class, or PAGE_CLS_LARGE */
	uint8_t		state;		/* enum slab_state */
};

/* Superslab states. */
enum ss_state {
	SS_ACTIVE = 0,		/* on its node's list; has free pages */
	SS_FULL,		/* no free page; off the list */
	SS_EMPTY,		/* every page free; on active, counted in nr_empty */
	SS_TIGHT,		/* 0 < nfree_pages < node's min_run, none dirty: on tight */
};

/*
 * What a superslab holds (see "Run placement" in mm/superslab.c): runs of
 * fewer than HM_BIG_RUN_PAGES pages, or of that many and more.  Keeping the
 * two apart keeps the holes small slabs leave out of the way of big runs.
 */
enum ss_kind {
	SS_KIND_NONE = 0,	/* no run yet (new or empty): takes the kind of its first run */
	SS_KIND_SMALL,		/* slabs of the small classes */
	SS_KIND_BIG,		/* big slabs and large objects */
	HM_NR_SS_KINDS
};

/*
 * struct superslab - header of a committed 2 MiB chunk.
 *
 * Invariant:  nfree_pages + popcount(page_map) == HM_SS_PAGES
 *             dirty_map & page_map == 0, nr_dirty == popcount(dirty_map)
 *             aged_map & ~dirty_map == 0
 * page_cls[i] and page_delta[i] describe page i: its class and how many
 * pages back the run that holds it starts.  slab[i] is meaningful only for
 * the first page of a run.  Header pages are always marked used.
 * Guarded by the node lock, except page_cls/page_delta of pages inside a
 * live slab, which are written before the slab is published and read
 * without a lock by free().
 */
struct superslab {
	uint32_t	magic;		/* HM_SS_MAGIC while committed */
	uint16_t	node;		/* home node */
	uint8_t		tier;		/* enum hm_tier backing it */
	uint8_t		state;		/* enum ss_state */
	uint32_t	nfree_pages;	/* pages not in any run */
	uint32_t	chunk;		/* index in the chunk table */
	struct superslab *next, *prev;	/* node's active list */
	uint32_t	nr_dirty;	/* popcount(dirty_map) */
	uint32_t	hdr_purged;	/* bit h: header page h purged (its slab[] entries all free) */
	uint32_t	dirty_since;	/* os_now_ms() when a page was last given back */
	uint8_t		kind;		/* enum ss_kind; SS_KIND_NONE iff no page is in a run */
	uint8_t		sparse;		/* taken for want of a hole: 4 KiB pages, purged at once */
	uint64_t	page_map[HM_SS_PAGES / 64];	/* bit set: page in a run */
	/* bit set: free page that was used since its last purge (still resident) */
	uint64_t	dirty_map[HM_SS_PAGES / 64];
	/* bit set: dirty page that was dirty already at the node's last aging pass */
	uint64_t	aged_map[HM_SS_PAGES / 64];
	uint8_t		page_cls[HM_SS_PAGES];
	uint8_t		page_delta[HM_SS_PAGES];
	struct slab	slab[HM_SS_PAGES];
};
#define HM_SS_MAGIC		0x484b5353u	/* "HKSS" */
#define HM_SS_HDR_PAGES		((sizeof(struct superslab) + HM_PAGE_SIZE - 1) >> HM_PAGE_SHIFT)
#define HM_SS_USABLE_PAGES	(HM_SS_PAGES - HM_SS_HDR_PAGES)

/*
 * struct class_start - the object-start test of every size class, packed
 * so the free fast path reaches it from one base address:
 *   (u64)off * mul[k] < lim[k]
 * holds exactly when the 32-bit offset off is j * size with j < capacity.
 * With mul = floor(2^64 / size) + 1 and e = size * mul - 2^64 (1..size),
 * j * size gives j * e, below lim = capacity * e exactly for j < capacity,
 * and any offset that is not a multiple of size gives at least mul, far
 * above lim (mm/sizeclass.c).  Indexed by object code k: class c has code
 * c + 1, and every other code (0, what an unused page-table entry holds)
 * has lim 0, so one test also says "this page holds small objects".
 */
struct class_start {
	uint64_t	mul[256];	/* floor(2^64 / size) + 1 */
	uint64_t	lim[256];	/* capacity * (size * mul - 2^64); 0 for non-class codes */
};

/*
 * struct hm_pte - what free() needs of a heap page, in one 8-byte entry of
 * hm_heap.ptab (one per page of the reserved span).  Only pages of slabs
 * have one: code is the object code of the slab's class (class + 1), node
 * its superslab's node, slab the low 32 bits of the slab's first address,
 * so (uint32_t)p - slab is p's offset in the slab.  Every other page reads
 * as zero: code 0 fails the object-start test and sends free() to its slow
 * path.  Written (whole, one store) under the node lock before the slab's
 * first object is handed out and cleared when its pages are given back.
 */
struct hm_pte {
	uint8_t		code;
	uint8_t		rsvd;
	uint16_t	node;
	uint32_t	slab;
};

/*
 * struct size_class - one row of the class table (mm/sizeclass.c).
 *
 * Invariant:  capacity * size <= npages * HM_PAGE_SIZE
 */
struct size_class {
	uint32_t	size;		/* object size in bytes */
	uint16_t	npages;		/* pages per slab */
	uint16_t	capacity;	/* objects per slab */
	uint32_t	span;		/* capacity * size: bytes of objects in a slab */
	uint8_t		pcpu_cap;	/* per-CPU cache capacity */
	uint16_t	pcpu_off;	/* slot offset in struct pcpu_cache */
};

/*
 * struct central - free objects of one class on one node.
 * Invariant: every slab on partial has state SLAB_PARTIAL; nr_partial counts them.
 */
struct central {
	struct hm_lock	lock;
	struct slab	*partial;
	uint32_t	nr_partial;
} __cacheline_aligned;

/*
 * struct hm_node - one NUMA node's share of the heap.
 * Invariant: every superslab on active has state SS_ACTIVE or SS_EMPTY and
 * nfree_pages > 0; nr_empty counts those in SS_EMPTY.  Every superslab on
 * tight has state SS_TIGHT, 0 < nfree_pages < min_run and nr_dirty == 0.
 * sum(nr_ss_kind) == nr_ss; nr_ss_kind[k] counts the superslabs with kind k;
 * nr_sparse <= nr_ss / 2 + 1 counts those with sparse set.
 */
struct hm_node {
	struct hm_lock	lock;		/* superslab lists and the chunk table */
	struct superslab *active;	/* superslabs with free pages */
	struct superslab *tight;	/* free pages too few for any run asked for */
	uint32_t	min_run;	/* shortest run ever asked for here; 0: none yet */
	uint32_t	ready, ready_end;	/* CHUNK_READY chunks: [ready, ready_end) */
	bool		ahead_off;	/* a batch did not fit the pool: one by one */
	uint32_t	nr_empty;	/* superslabs on active with every page free */
	uintptr_t	base;		/* start of the region */
	uint32_t	next_chunk;	/* chunks [0, next_chunk) were ever used */
	uint32_t	lowest_free;	/* no free chunk below this one */
	uint32_t	nr_ss;		/* committed superslabs */
	uint32_t	nr_ss_tier[HM_NR_TIERS];	/* of which on each enum hm_tier */
	uint32_t	nr_ss_kind[HM_NR_SS_KINDS];	/* of which of each enum ss_kind */
	uint32_t	nr_sparse;	/* of which sparse */
	uint32_t	dirty_pages;	/* sum of nr_dirty over the node's superslabs */
	uint32_t	nr_hugetlb;	/* chunks on the hugetlb pool (bits in hugetlb_map) */
	uint32_t	purge_due;	/* os_now_ms() of the next purge worth a look */
	uint32_t	aged_at;	/* os_now_ms() of the last aging pass */
	struct central	central[HM_NCLASS];
} __cacheline_aligned;

/*
 * Global state, written during start-up only.  The fields read by the fast
 * paths come first and share a cache line.
 */
struct hm_heap {
	uintptr_t	base;		/* start of node 0's region */
	uintptr_t	span;		/* nr_nodes << region_shift */
	unsigned	region_shift;
	unsigned	nr_nodes;
	unsigned	nr_cpus;	/* possible CPUs; 0 until start-up is done */
	uint32_t	*chunk;		/* chunk table, all nodes back to back */
	struct hm_pte	*ptab;		/* page table: an entry per page of span */
	struct hm_node	*node;		/* nr_nodes entries */
	uint16_t	*cpu_node;	/* nr_cpus entries */
	int		tier;		/* enum hm_tier superslabs try first */
	/*
	 * One bit per chunk, all nodes back to back: the chunk is committed on
	 * the hugetlb pool (a superslab or 2 MiB of a huge object).  Written
	 * under the node lock; fork reads it (mm/fork.c).
	 */
	uint64_t	*hugetlb_map;
};

#endif /* _HAKMEM_TYPES_H */
