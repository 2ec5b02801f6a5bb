/* SPDX-License-Identifier: MIT */
/*
 * hakmem public API.
 *
 * libhakmem.so replaces the whole glibc allocation API when preloaded
 * (LD_PRELOAD) or linked (libhakmem.a); those functions keep their usual
 * declarations in <stdlib.h> and <malloc.h>.  This header declares what
 * hakmem adds.
 */
#ifndef _HAKMEM_H
#define _HAKMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * hakmem_version() - the library's version string, e.g. "0.1.0".
 *
 * Also the way to tell that hakmem is the allocator in use:
 * dlsym(RTLD_DEFAULT, "hakmem_version") is non-NULL only then.
 */
const char *hakmem_version(void);

/**
 * hakmem_stats_print() - write the statistics summary to a file descriptor.
 * @fd: where to write (2 for stderr).
 *
 * The same summary HAKMEM_STATS=1 prints at exit.  Never allocates.
 */
void hakmem_stats_print(int fd);

#define HAKMEM_STATS_VERSION	1
#define HAKMEM_STATS_CLASSES	40	/* size classes reported */
#define HAKMEM_STATS_NODES	8	/* nodes reported one by one */
#define HAKMEM_STATS_TIERS	3	/* hugetlb, thp, 4k */

/* One size class: counts of objects, not bytes, unless said. */
struct hakmem_stats_class {
	uint64_t	size;		/* object size in bytes */
	uint64_t	allocs;		/* objects handed out (0 without counters) */
	uint64_t	frees;		/* objects taken back */
	uint64_t	live;		/* allocs - frees */
	uint64_t	slabs;		/* slabs of this class now */
	uint64_t	pcpu_objects;	/* free objects in the per-CPU caches */
	uint64_t	central_objects; /* free objects in the central lists' slabs */
};

/*
 * struct hakmem_stats - a snapshot of the heap, filled by hakmem_stats_get().
 *
 * Versioned: the library sets @version to the HAKMEM_STATS_VERSION it was
 * built with and @size to the bytes it filled.  Later versions only append
 * fields, so a program built against an older header keeps working.
 * Event counters (allocs, frees, purges, system calls, ...) are 0 when the
 * library was built with CONFIG_STATS=n; @counters says which.
 */
struct hakmem_stats {
	uint32_t	version;
	uint32_t	size;
	char		profile[16];	/* "fast", "balanced" or "lean" */
	char		front_end[96];	/* the front-end mode, in words */
	uint32_t	nr_cpus;	/* possible CPUs */
	uint32_t	nr_nodes;	/* NUMA nodes of the heap */
	uint32_t	nr_classes;	/* entries of @cls in use */
	uint32_t	counters;	/* 1: event counters built in */
	/* Superslabs (2 MiB) */
	uint64_t	ss_live;	/* committed now, all nodes */
	uint64_t	ss_node_tier[HAKMEM_STATS_NODES][HAKMEM_STATS_TIERS]; /* live */
	uint64_t	ss_committed[HAKMEM_STATS_TIERS];	/* ever, per tier */
	uint64_t	ss_released;	/* given back to the OS whole */
	uint64_t	ss_empty;	/* empty and kept now */
	/* Memory return */
	uint64_t	ss_purged;	/* empty superslabs purged */
	uint64_t	purges;		/* runs of free pages purged */
	uint64_t	purged_bytes;
	uint64_t	trims;		/* malloc_trim() calls */
	uint64_t	dirty_bytes;	/* free pages still resident now */
	/* Caches */
	uint64_t	pcpu_bytes;	/* free objects in per-CPU caches */
	uint64_t	central_bytes;	/* free objects in central lists' slabs */
	uint64_t	refills;	/* per-CPU refills from the central lists */
	uint64_t	drains;		/* per-CPU drains to the central lists */
	/* Fallbacks */
	uint64_t	tier_fallbacks;	/* commits that got a lower page tier */
	uint64_t	busy_fallbacks;	/* per-CPU cache busy: went central */
	uint64_t	remote_frees;	/* frees sent to another node */
	uint64_t	hugetlb_dry;	/* hugetlb asked, the pool had no page */
	uint64_t	fastpath_retries; /* per-CPU fast paths interrupted, retried */
	/* Page tiers and NUMA */
	char		first_tier[8];	/* "hugetlb", "thp" or "4k" */
	char		numa[24];	/* placement: "local", "interleave", ... */
	uint64_t	sys_mbind;	/* mbind calls (also in @syscalls) */
	/* Slabs, large and huge objects */
	uint64_t	slabs_made;
	uint64_t	slabs_released;
	uint64_t	large_allocs, large_frees, large_bytes;
	uint64_t	huge_allocs, huge_frees, huge_bytes;
	/* System calls made by the allocator (not by the program) */
	uint64_t	syscalls;
	uint64_t	sys_mmap, sys_munmap, sys_madvise, sys_mremap, sys_mprotect, sys_other;
	/* Memory */
	uint64_t	committed_bytes;	/* mapped read-write for the heap now */
	uint64_t	committed_peak_bytes;
	uint64_t	rss_bytes;		/* resident set of the process now */
	uint64_t	peak_rss_bytes;
	struct hakmem_stats_class cls[HAKMEM_STATS_CLASSES];
};

/**
 * hakmem_stats_get() - fill a snapshot of the heap's statistics.
 * @st:   where to write.
 * @size: sizeof(*st) as the caller knows it.
 *
 * Fills at most @size bytes (the struct of the caller's header version)
 * and sets st->version and st->size.  Returns the bytes filled, or -1 with
 * errno EINVAL when @st is NULL or @size cannot hold version and size.
 * Never allocates; takes the heap's locks briefly (not signal safe).
 */
int hakmem_stats_get(struct hakmem_stats *st, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* _HAKMEM_H */
