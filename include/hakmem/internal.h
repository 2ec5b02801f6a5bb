/* SPDX-License-Identifier: MIT */
/*
 * Interfaces between the files of mm/.  Nothing here is exported from
 * libhakmem.so; the public API is include/hakmem.h.
 */
#ifndef _HAKMEM_INTERNAL_H
#define _HAKMEM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "hakmem/compiler.h"
#include "hakmem/config.h"
#include "hakmem/types.h"
#include "hakmem/lock.h"
#include "hakmem/stats.h"
#include "hakmem/sizeclass.h"
#include "hakmem/os.h"

extern struct hm_heap hm_heap __hidden;
extern unsigned hm_pcpu_slots __hidden;

/* ---- address arithmetic (no memory access beyond the chunk table) ---- */

static __always_inline bool hm_in_heap(uintptr_t p)
{
	return p - hm_heap.base < hm_heap.span;
}

static __always_inline uint32_t hm_chunk_index(uintptr_t p)
{
	return (uint32_t)((p - hm_heap.base) >> HM_SS_SHIFT);
}

static __always_inline uint32_t hm_chunk_entry(uintptr_t p)
{
	return READ_ONCE(hm_heap.chunk[hm_chunk_index(p)]);
}

static __always_inline unsigned hm_node_of(uintptr_t p)
{
	return (unsigned)((p - hm_heap.base) >> hm_heap.region_shift);
}

/* The page-table entry of heap address p (p inside the span). */
static __always_inline struct hm_pte *hm_pte_of(uintptr_t p)
{
	return &hm_heap.ptab[(p - hm_heap.base) >> HM_PAGE_SHIFT];
}

static __always_inline struct superslab *ss_of(uintptr_t p)
{
	return (struct superslab *)(p & ~HM_SS_MASK);
}

static __always_inline unsigned ss_page_of(uintptr_t p)
{
	return (unsigned)((p & HM_SS_MASK) >> HM_PAGE_SHIFT);
}

static inline uintptr_t ss_page_addr(const struct superslab *ss, unsigned page)
{
	return (uintptr_t)ss + ((uintptr_t)page << HM_PAGE_SHIFT);
}

static inline struct superslab *slab_ss(const struct slab *s)
{
	return ss_of((uintptr_t)s);
}

static inline unsigned slab_first_page(const struct slab *s)
{
	return (unsigned)(s - slab_ss(s)->slab);
}

static inline uintptr_t slab_start(const struct slab *s)
{
	return ss_page_addr(slab_ss(s), slab_first_page(s));
}

static inline uintptr_t chunk_addr(uint32_t idx)
{
	return hm_heap.base + ((uintptr_t)idx << HM_SS_SHIFT);
}

/* ---- start-up and options (mm/init.c, mm/options.c) ---- */

enum hm_init_state { HM_INIT_NONE, HM_INIT_RUNNING, HM_INIT_DONE, HM_INIT_FAILED };
extern int hm_init_state;
/* 0 when the heap is ready, -1 when the caller must use the boot arena. */
int hm_init_slow(void);
static __always_inline int hm_ensure_init(void)
{
	if (likely(READ_ONCE(hm_init_state) == HM_INIT_DONE))
		return 0;
	return hm_init_slow();
}

/* HAKMEM_HUGEPAGES: the first page tier superslabs and huge objects try. */
enum hm_hugepages {
	HM_HP_AUTO,		/* hugetlb where a pool is configured, else THP */
	HM_HP_HUGETLB,		/* always try the hugetlb pool first */
	HM_HP_THP,		/* transparent hugepages, never the pool */
	HM_HP_OFF,		/* plain 4 KiB pages */
};
/* HAKMEM_FORK_HUGETLB: what fork does with the heap's hugetlb chunks (mm/fork.c). */
enum hm_fork_hugetlb {
	HM_FORK_COPY,		/* always give the child copies: never SIGBUS */
	HM_FORK_AUTO,		/* share them while the pool has room for the copy-on-write */
};
/* HAKMEM_PROFILE values: the column of the defaults in mm/options.c. */
enum hm_profile { HM_PROFILE_FAST, HM_PROFILE_BALANCED, HM_PROFILE_LEAN, HM_NR_PROFILES };
/* HAKMEM_RESERVE_SS in the fast profile: keep every empty superslab. */
#define HM_RESERVE_ALL		65536

struct hm_options {
	long	profile;	/* HAKMEM_PROFILE: enum hm_profile */
	long	stats;		/* HAKMEM_STATS: 0 off, 1 text summary at exit, 2 JSON */
	long	verbose;	/* HAKMEM_VERBOSE */
	long	hugepages;	/* HAKMEM_HUGEPAGES: enum hm_hugepages */
	long	numa;		/* HAKMEM_NUMA: enum os_numa */
	long	region_gb;	/* HAKMEM_REGION_GB: reservation per node */
	long	reserve_ss;	/* HAKMEM_RESERVE_SS: empty superslabs kept per node */
	long	percpu;		/* HAKMEM_PERCPU: enum hm_percpu_opt */
	long	purge_delay_ms;	/* HAKMEM_PURGE_DELAY_MS: -1 never, 0 at once */
	long	spare_slabs;	/* HAKMEM_SPARE_SLABS: empty slabs kept per class */
	long	pcpu_max;	/* HAKMEM_PCPU_MAX: objects per class per cache */
	long	slab_min_kb;	/* HAKMEM_SLAB_MIN_KB: smallest slab of a class */
	long	fork_hugetlb;	/* HAKMEM_FORK_HUGETLB: enum hm_fork_hugetlb */
};
extern struct hm_options hm_opt;

/* HAKMEM_PERCPU values, in the order of their names. */
enum hm_percpu_opt {
	HM_PERCPU_OFF,
	HM_PERCPU_FALLBACK,
	HM_PERCPU_RSEQ,
	HM_PERCPU_MMCID,
	HM_PERCPU_AUTO,
};
void options_init(void);
void options_print(int fd);
/* The options as JSON members ("NAME": value, ...); length or -1. */
int options_json(char *buf, size_t len);
/* HAKMEM_STATS_FILE, copied at start-up, or NULL. */
const char *options_stats_file(void);
const char *options_profile_name(void);
/* The variable's value from the environment, without allocating. */
const char *options_getenv(const char *name);

/* ---- the boot arena (mm/boot.c) ---- */
void *boot_alloc(size_t n, size_t align);
bool boot_owns(uintptr_t p);
size_t boot_usable_size(uintptr_t p);

/* ---- superslabs and chunks (mm/superslab.c) ---- */
int heap_setup(void);
/* Take npages contiguous pages (aligned to align_pages) on node; NULL if none. */
struct slab *ss_alloc_pages(unsigned node, unsigned npages, unsigned align_pages,
			    unsigned cls);
/* Give a run back; may release its superslab. */
void ss_free_pages(struct slab *s);
/* Try to grow/shrink a run in place to npages. */
bool ss_resize_pages(struct slab *s, unsigned npages);
/* Release every empty superslab and purge every free page (malloc_trim); bytes returned. */
size_t ss_trim(unsigned node);
/*
 * Memory return on slow-path events: purge the free pages of node that
 * stayed idle for HAKMEM_PURGE_DELAY_MS.  Cheap when nothing is due (no
 * clock read when nothing is dirty).  Call with no node lock held.
 */
void ss_purge_tick(unsigned node);
void ss_fork_prepare(void);
void ss_fork_parent(void);
void ss_fork_child(void);
/* Reserve n chunks aligned to align_chunks on node; returns index or -1. */
long chunk_alloc(unsigned node, uint32_t n, uint32_t align_chunks);
void chunk_free(uint32_t idx, uint32_t n);
/* Claim chunks [idx, idx+n) if all free (in-place growth of a huge object). */
bool chunk_claim(unsigned node, uint32_t idx, uint32_t n);
/* The NUMA node of the calling thread's CPU, as the heap numbers nodes. */
unsigned heap_current_node(void);
/* Commit memory and count it against the tier; returns tier or -errno. */
int heap_commit(void *addr, size_t len, int tier, unsigned node);
void committed_grow(size_t len) __hidden;
void heap_decommit(void *addr, size_t len);
/* Chunks [idx, idx+n) left the hugetlb pool for tier (a fork child's copies). */
void heap_unhuge(uint32_t idx, uint32_t n, int tier);
/* The hugetlb chunks of [from, from+len) now live at to (after os_move). */
void heap_moved(uintptr_t from, uintptr_t to, size_t len);
/* Is chunk idx committed on the hugetlb pool (hm_heap.hugetlb_map)? */
static inline bool chunk_hugetlb(uint32_t idx)
{
	return (__atomic_load_n(&hm_heap.hugetlb_map[idx / 64], __ATOMIC_RELAXED) >> (idx % 64)) & 1;
}
/*
 * A heap that may hold hugetlb chunks: its huge objects are committed,
 * decommitted and moved under their node lock, so that the chunk table
 * and hugetlb_map fork reads under every node lock match the mappings.
 */
static inline bool heap_maps_locked(void)
{
	return hm_heap.tier == HM_TIER_HUGETLB;
}

/* ---- fork from a heap on hugetlb pages (mm/fork.c), node locks held ---- */
void hugetlb_fork_prepare(void);
void hugetlb_fork_parent(void);
void hugetlb_fork_child(void);

/* ---- slabs and central lists (mm/slab.c) ---- */
/* Fill out[] with up to want objects of cls from node; returns how many. */
unsigned central_alloc(unsigned node, unsigned cls, void **out, unsigned want);
/* central_alloc(), and up to max objects when they come from fresh memory. */
unsigned central_refill(unsigned node, unsigned cls, void **out, unsigned want, unsigned max);
/* Return n objects of cls; they may belong to any node. */
void central_free(unsigned cls, void **objs, unsigned n);
void central_trim(void);
/* Free objects (free list and never carved) in node's partial slabs of cls. */
uint64_t central_free_objects(unsigned node, unsigned cls);
/* Slabs of class cls that exist now (all nodes). */
uint64_t slab_count(unsigned cls);
void central_fork_prepare(void);
void central_fork_parent(void);
void central_fork_child(void);

/* ---- objects (mm/heap.c) ---- */
void *hm_malloc(size_t n);
void hm_free(void *p);
void *hm_calloc(size_t n, size_t size);
void *hm_realloc(void *p, size_t n);
void *hm_memalign(size_t align, size_t n);
size_t hm_usable_size(const void *p);
int hm_trim(size_t pad);

/* Large and huge objects (mm/large.c). */
void *large_alloc(size_t n, size_t align, bool zero);
void large_free(struct slab *s, uintptr_t p);
void *large_realloc(struct slab *s, void *p, size_t n);
void *huge_alloc(size_t n, size_t align, bool zero);
void huge_free(uintptr_t p, uint32_t entry);
void *huge_realloc(void *p, uint32_t entry, size_t n);
size_t huge_size(uint32_t entry);

/* Gauges, always kept (mallinfo, malloc_trim, stats). */
struct hm_gauges {
	int64_t	committed;	/* bytes committed from the OS */
	int64_t	committed_peak;
	int64_t	large_bytes;	/* bytes in live large objects */
	int64_t	huge_bytes;	/* bytes in live huge objects */
	int64_t	huge_count;
};
extern struct hm_gauges hm_gauge;
static inline void gauge_add(int64_t *g, int64_t v)
{
	__atomic_fetch_add(g, v, __ATOMIC_RELAXED);
}

/* ---- reporting (mm/stats.c, mm/fmt.c) ---- */
__noreturn __cold void hm_fatal(const char *what, const void *p);
void hm_warn(const char *msg);
void stats_print(int fd);
void stats_json(int fd);
struct hakmem_stats;
void stats_collect(struct hakmem_stats *st);
/* hakmem_stats_get() behind mm/malloc.c: bytes filled or -1. */
int hakmem_stats_get_impl(struct hakmem_stats *st, size_t size);
/* The exit report: HAKMEM_STATS's format to HAKMEM_STATS_FILE or fd. */
void stats_exit_report(int fd);
struct mallinfo2;
void stats_mallinfo(struct mallinfo2 *mi);
/* malloc_info()'s XML into buf; returns its length or -1. */
int stats_xml(char *buf, size_t len);
/* Tiny formatter: %s %d %u %ld %lu %zu %x %lx %p, no allocation. */
int hm_snprintf(char *buf, size_t len, const char *fmt, ...) __printf_like(3, 4);

#endif /* _HAKMEM_INTERNAL_H */
