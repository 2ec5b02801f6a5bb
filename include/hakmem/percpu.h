/* SPDX-License-Identifier: MIT */
/*
 * The per-CPU front end: the generic interface used by mm/.
 *
 * Each possible CPU owns a struct pcpu_cache: for every size class a small
 * array-stack of free objects.  mm/ calls only:
 *
 *   pcpu_alloc(cls)      pop an object of class cls, or NULL: take the slow path
 *   pcpu_free(cls, p)    push p, or false: take the slow path
 *
 * This generic implementation finds the CPU (from the rseq area glibc
 * registered, else getcpu) and guards the cache with a trylock, so a thread
 * preempted or migrated inside the critical section only makes another
 * thread on that CPU fall through to the central lists; it never blocks.
 * An architecture may provide <asm/percpu.h> defining HAVE_ARCH_PCPU and
 * its own arch_pcpu_alloc/arch_pcpu_free (restartable sequences) instead.
 */
#ifndef _HAKMEM_PERCPU_H
#define _HAKMEM_PERCPU_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include "hakmem/internal.h"
#ifdef __x86_64__
#include <asm/percpu.h>
#endif

/*
 * struct pcpu_cache - the free objects one CPU keeps, per size class.
 * Invariant: count[c] <= hm_class[c].pcpu_cap, and slot[pcpu_off(c) + i]
 * for i < count[c] are free objects of class c homed on node.
 */
struct pcpu_cache {
	struct hm_lock	lock;		/* trylock only on the fast path */
	uint16_t	node;		/* NUMA node of this CPU */
	uint16_t	count[HM_NCLASS];
#ifdef CONFIG_STATS
	uint64_t	nalloc[HM_NCLASS];	/* objects handed out here */
	uint64_t	nfree[HM_NCLASS];	/* objects taken back here */
#endif
	void		*slot[];	/* per-class stacks, see size_class.pcpu_off */
} __cacheline_aligned;

extern const ptrdiff_t __rseq_offset __attribute__((weak));

#ifdef HAVE_ARCH_RSEQ_CPU_ID
#define pcpu_rseq_cpu_id()	arch_rseq_cpu_id(__rseq_offset)
#else
#include <linux/rseq.h>
#define pcpu_rseq_cpu_id()	\
	READ_ONCE(((struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset))->cpu_id)
#endif

/* The CPU from getcpu, clamped to the possible CPUs (0 before start-up). */
unsigned pcpu_cpu_slow(void);

/*
 * The CPU the calling thread runs on (it may migrate right after; that is
 * harmless, the cache is locked).  glibc keeps cpu_id current in the rseq
 * area it registered; without registration the id is negative.
 */
static __always_inline unsigned pcpu_current_cpu(void)
{
	int cpu = -1;

	if (likely(hm_heap.rseq_cpu))
		cpu = pcpu_rseq_cpu_id();
	if (unlikely((unsigned)cpu >= hm_heap.nr_cpus))
		cpu = (int)pcpu_cpu_slow();
	return (unsigned)cpu;
}

static __always_inline struct pcpu_cache *pcpu_this(void)
{
	return hm_heap.pcpu[pcpu_current_cpu()];
}

#ifdef CONFIG_STATS
#define pcpu_count(c, field, cls)	((c)->field[cls]++)
#else
#define pcpu_count(c, field, cls)	do { } while (0)
#endif

/*
 * Fast paths.  Before start-up every CPU maps to a dummy cache whose lock
 * is held forever, so these fail and the slow path initialises the heap.
 */
static __always_inline void *pcpu_alloc(unsigned cls)
{
	struct pcpu_cache *c = pcpu_this();
	void *p = NULL;

	if (likely(hm_trylock(&c->lock))) {
		unsigned n = c->count[cls];

		if (likely(n)) {
			p = c->slot[hm_class[cls].pcpu_off + n - 1];
			c->count[cls] = (uint16_t)(n - 1);
			pcpu_count(c, nalloc, cls);
		}
		hm_unlock(&c->lock);
	}
	return p;
}

static __always_inline bool pcpu_free(unsigned cls, void *p, unsigned node)
{
	struct pcpu_cache *c = pcpu_this();
	bool done = false;

	if (likely(hm_trylock(&c->lock))) {
		unsigned n = c->count[cls];

		if (likely(n < hm_class[cls].pcpu_cap && node == c->node)) {
			c->slot[hm_class[cls].pcpu_off + n] = p;
			c->count[cls] = (uint16_t)(n + 1);
			pcpu_count(c, nfree, cls);
			done = true;
		}
		hm_unlock(&c->lock);
	}
	return done;
}

/* Slow paths, mm/percpu.c. */
int pcpu_setup(void);
void *pcpu_alloc_slow(unsigned cls);
void pcpu_free_slow(unsigned cls, void *p, unsigned node);
/* Per-class live objects (allocations minus frees), for statistics. */
void pcpu_class_counts(unsigned cls, uint64_t *nalloc, uint64_t *nfree);
/* Empty every CPU's cache into the central lists (malloc_trim). */
void pcpu_drain_all(void);
/* fork(): take every cache lock / release them in the parent / reset in the child. */
void pcpu_fork_prepare(void);
void pcpu_fork_parent(void);
void pcpu_fork_child(void);

#endif /* _HAKMEM_PERCPU_H */
