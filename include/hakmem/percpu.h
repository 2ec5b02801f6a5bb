/* SPDX-License-Identifier: MIT */
/*
 * The per-CPU front end: the generic interface used by mm/.
 *
 * Each possible CPU owns HM_PCPU_WAYS struct pcpu_cache: for every size
 * class a small array-stack of free objects.  mm/ calls only:
 *
 *   pcpu_alloc(cls)      pop an object of class cls, or NULL: take the slow path
 *   pcpu_free(cls, p)    push p, or false: take the slow path
 *
 * This generic implementation finds the CPU (cpu_id of the rseq area glibc
 * registered, else getcpu) and guards each cache with a trylock, so a
 * thread preempted or migrated inside the critical section only sends the
 * other threads of that CPU to its other caches (or, when all are busy,
 * after one yield, to the central lists); nobody sleeps on a cache.
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
	struct hm_lock	lock;		/* only tried: see pcpu_trylock() */
	uint16_t	node;		/* NUMA node of this CPU */
	uint16_t	count[HM_NCLASS];
#ifdef CONFIG_STATS
	uint64_t	nalloc[HM_NCLASS];	/* objects handed out here */
	uint64_t	nfree[HM_NCLASS];	/* objects taken back here */
#endif
	void		*slot[];	/* per-class stacks, see size_class.pcpu_off */
} __cacheline_aligned;

#ifdef HAVE_ARCH_TP_READ_INT
#define pcpu_tp_read_int(off)	arch_tp_read_int(off)
#else
#define pcpu_tp_read_int(off)	\
	(*(volatile int *)((char *)__builtin_thread_pointer() + (off)))
#endif

/*
 * The CPU the calling thread runs on, as a raw value: hm_heap.cpu_off
 * points either at cpu_id in the rseq area glibc registered (kept current
 * by the kernel) or at a thread-local -1.  Anything >= nr_cpus (also before
 * start-up, when nr_cpus is 0) means "unknown": take the slow path.  The
 * thread may migrate right after the read; that is harmless, the cache is
 * locked.
 */
static __always_inline unsigned pcpu_cpu_raw(void)
{
	return (unsigned)pcpu_tp_read_int(hm_heap.cpu_off);
}

/*
 * Which of its CPU's caches this thread prefers: a hash of the thread
 * pointer, so threads sharing a CPU spread over its HM_PCPU_WAYS caches.
 * A thread preempted inside its critical section keeps its cache locked
 * until it runs again (a whole timeslice on a busy machine); the other
 * threads of that CPU then use the other ways instead of the central lists.
 */
static __always_inline unsigned pcpu_way(void)
{
	uintptr_t tp = (uintptr_t)__builtin_thread_pointer();

	return (unsigned)(((tp >> 12) * 0x9e3779b97f4a7c15ull) >> (64 - HM_PCPU_WAYS_SHIFT));
}

static __always_inline unsigned pcpu_index(unsigned cpu, unsigned way)
{
	return (cpu << HM_PCPU_WAYS_SHIFT) | (way & (HM_PCPU_WAYS - 1));
}

/* The CPU for the slow paths: never fails (getcpu when rseq has none). */
unsigned pcpu_current_cpu(void);
/* Take the CPU from glibc's rseq area (true) or from getcpu (false). */
void pcpu_set_cpu_source(bool rseq);

/* The cache this thread prefers on a given CPU. */
static __always_inline struct pcpu_cache *pcpu_cache_for(unsigned cpu)
{
	return hm_heap.pcpu[pcpu_index(cpu, pcpu_way())];
}

static __always_inline struct pcpu_cache *pcpu_this(void)
{
	return pcpu_cache_for(pcpu_current_cpu());
}

/*
 * The cache lock is only ever tried by the fast and slow paths, never slept
 * on, so there is no waiter to wake: the release is a plain store (one
 * atomic per operation instead of two).  The rare callers that must have a
 * particular cache (malloc_trim, fork) spin on pcpu_lock_wait().
 */
static __always_inline bool pcpu_trylock(struct pcpu_cache *c)
{
	return hm_trylock(&c->lock);
}

static __always_inline void pcpu_unlock(struct pcpu_cache *c)
{
	__atomic_store_n(&c->lock.v, 0, __ATOMIC_RELEASE);
}

void pcpu_lock_wait(struct pcpu_cache *c);

#ifdef CONFIG_STATS
#define pcpu_count(c, field, cls)	((c)->field[cls]++)
#else
#define pcpu_count(c, field, cls)	do { } while (0)
#endif

/*
 * Fast paths.  Before start-up nr_cpus is 0, so these fail and the slow
 * path initialises the heap.  With HAKMEM_PCPU=0 every CPU maps to a cache
 * whose lock is held forever, so they always fail.
 */
static __always_inline void *pcpu_alloc(unsigned cls)
{
	unsigned cpu = pcpu_cpu_raw();
	struct pcpu_cache *c;
	void *p = NULL;

	if (unlikely(cpu >= hm_heap.nr_cpus))
		return NULL;
	c = pcpu_cache_for(cpu);
	if (likely(pcpu_trylock(c))) {
		unsigned n = c->count[cls];

		if (likely(n)) {
			p = c->slot[hm_class[cls].pcpu_off + n - 1];
			c->count[cls] = (uint16_t)(n - 1);
			pcpu_count(c, nalloc, cls);
		}
		pcpu_unlock(c);
	}
	return p;
}

static __always_inline bool pcpu_free(unsigned cls, void *p, unsigned node)
{
	unsigned cpu = pcpu_cpu_raw();
	struct pcpu_cache *c;
	bool done = false;

	if (unlikely(cpu >= hm_heap.nr_cpus))
		return false;
	c = pcpu_cache_for(cpu);
	if (likely(pcpu_trylock(c))) {
		unsigned n = c->count[cls];
		void **top = &c->slot[hm_class[cls].pcpu_off + n];

		/*
		 * The last object pushed being p again is the commonest double
		 * free; the slow path reports it.
		 */
		if (likely(n < hm_class[cls].pcpu_cap && node == c->node &&
			   (!n || top[-1] != p))) {
			*top = p;
			c->count[cls] = (uint16_t)(n + 1);
			pcpu_count(c, nfree, cls);
			done = true;
		}
		pcpu_unlock(c);
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
