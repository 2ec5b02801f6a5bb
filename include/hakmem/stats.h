/* SPDX-License-Identifier: MIT */
/*
 * Event counters.  With CONFIG_STATS=n every hm_stat_*() call compiles to
 * nothing.  Per-class allocation counts are kept in the per-CPU caches
 * (pcpu_cache.nalloc/nfree) and summed when reported.
 */
#ifndef _HAKMEM_STATS_H
#define _HAKMEM_STATS_H

#include <stdint.h>
#include "hakmem/compiler.h"

enum hm_stat_item {
	ST_SS_HUGETLB,		/* superslabs committed on the hugetlb tier */
	ST_SS_THP,		/* ... on transparent hugepages */
	ST_SS_4K,		/* ... on plain pages */
	ST_SS_RELEASED,		/* superslabs given back to the OS */
	ST_TIER_FALLBACK,	/* commits that got a lower tier than asked */
	ST_HUGETLB_DRY,		/* ... of them: hugetlb asked, pool had no page */
	ST_SS_PURGED,		/* empty superslabs purged (kept mapped, not resident) */
	ST_PURGE,		/* purges of free page runs (MADV_DONTNEED) */
	ST_PURGED_PAGES,	/* 4 KiB pages purged */
	ST_TRIM,		/* malloc_trim calls */
	ST_SLAB_NEW,		/* slabs cut from a superslab */
	ST_SLAB_RELEASE,	/* empty slabs given back to their superslab */
	ST_REFILL,		/* pcpu cache refills from a central list */
	ST_DRAIN,		/* pcpu cache drains to central lists */
	ST_REMOTE_FREE,		/* frees sent straight to another node */
	ST_PCPU_BUSY,		/* no cache to use: went to the central list */
	ST_PCPU_RETRY,		/* a fast path failed, its retry did not (rseq abort) */
	ST_LARGE_ALLOC,		/* large objects (page runs) */
	ST_LARGE_FREE,
	ST_HUGE_ALLOC,		/* huge objects (chunk spans) */
	ST_HUGE_FREE,
	ST_REALLOC_INPLACE,	/* realloc that kept its block */
	ST_REALLOC_MOVE,	/* huge realloc moved by mremap, no copy */
	ST_FORK_COPY,		/* forks that copied the hugetlb chunks (mm/fork.c) */
	ST_FORK_COPY_CHUNKS,	/* 2 MiB chunks those forks copied */
	ST_SYS_MMAP,		/* system calls made by mm/os.c */
	ST_SYS_MUNMAP,
	ST_SYS_MADVISE,
	ST_SYS_MREMAP,
	ST_SYS_MPROTECT,
	ST_SYS_MBIND,
	ST_SYS_OTHER,
	NR_HM_STATS
};

#ifdef CONFIG_STATS
extern uint64_t hm_stats[NR_HM_STATS];

static __always_inline void hm_stat_add(enum hm_stat_item i, int64_t v)
{
	__atomic_fetch_add(&hm_stats[i], (uint64_t)v, __ATOMIC_RELAXED);
}
#define HM_STATS_ENABLED 1
#else
static __always_inline void hm_stat_add(enum hm_stat_item i, int64_t v)
{
	(void)i; (void)v;
}
#define HM_STATS_ENABLED 0
#endif

static __always_inline void hm_stat_inc(enum hm_stat_item i)
{
	hm_stat_add(i, 1);
}

#endif /* _HAKMEM_STATS_H */
