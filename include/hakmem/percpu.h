/* SPDX-License-Identifier: MIT */
/*
 * The per-CPU front end: the generic interface used by mm/.
 *
 * Every possible CPU owns a struct pcpu_cache (the layout is in
 * hakmem/pcpu-abi.h): for every size class a small array-stack of free
 * objects of the CPU's node.  mm/ calls only:
 *
 *   pcpu_alloc(cls)          pop an object of class cls, or NULL: slow path
 *   pcpu_free(cls, p, node)  push p, or false: slow path
 *   pcpu_free_code(k, ...)   the same with object code k = cls + 1
 *
 * and the slow paths in mm/percpu.c.  There are two implementations of the
 * pop and push, chosen once at start-up for the whole process (enum
 * pcpu_mode; HAKMEM_PERCPU):
 *
 * rseq (arch/x86_64/include/asm/percpu.h): restartable sequences on the
 *   cache named by the rseq area's cpu_id (or mm_cid).  No lock, no atomic
 *   instruction; preemption, migration or a signal inside the section
 *   aborts it before its single committing store.  The area is glibc's
 *   registration (__rseq_offset) or, when glibc has none, one hakmem
 *   registers per thread.
 *
 * generic (this file, plus the slow paths): a cache per CPU and "way",
 *   HM_PCPU_WAYS of them per CPU, each guarded by a lock that is only ever
 *   tried; the CPU from glibc's rseq cpu_id when it has one, else getcpu.
 *   A thread preempted inside holds the cache until it runs again; other
 *   threads of the CPU use the other ways.  It is what runs under valgrind
 *   and on kernels without rseq, and it is the whole front end of a build
 *   with CONFIG_PCPU_RSEQ=n (or an architecture without the asm).
 *
 * In an rseq build running generic, the inline rseq pop/push always fail
 * (hm_fe.cs_off is 0: they stop at their first test) and the slow paths do
 * the generic work: one out-of-line call more per operation.
 */
#ifndef _HAKMEM_PERCPU_H
#define _HAKMEM_PERCPU_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include "hakmem/internal.h"
#include "hakmem/pcpu-abi.h"
#ifdef __x86_64__
#include <asm/percpu.h>
#endif

#if defined(CONFIG_PCPU_RSEQ) && defined(HAVE_ARCH_PCPU_RSEQ)
#define PCPU_INLINE_RSEQ 1
#endif

enum pcpu_mode {
	PCPU_OFF,		/* no caches: every operation goes to the central lists */
	PCPU_GENERIC,		/* trylocked caches, per CPU and way */
	PCPU_RSEQ_CPU,		/* rseq, a cache per CPU (cpu_id) */
	PCPU_RSEQ_MMCID,	/* rseq, a cache per concurrency id (mm_cid) */
};

/*
 * struct pcpu_cache - the free objects one CPU keeps, per size class.
 * Invariant (per class c):  lim[c].lo <= top(c) <= lim[c].hi, slot[lo, top)
 * are free objects of class c homed on node, slot[lo - 1] == NULL.
 */
struct pcpu_cache {
	uint64_t	hdr[HM_NCLASS];		/* top | ops << HM_PCPU_OPS_SHIFT */
	struct {
		uint16_t lo, hi;		/* slot indexes of the class's stack */
	}		lim[HM_NCLASS];
	uint32_t	node;			/* NUMA node of this cache's CPU */
	struct hm_lock	lock;			/* generic mode: only ever tried */
};

_Static_assert(offsetof(struct pcpu_cache, hdr) == HM_PCPU_HDR, "pcpu layout");
_Static_assert(offsetof(struct pcpu_cache, lim) == HM_PCPU_LIM, "pcpu layout");
_Static_assert(offsetof(struct pcpu_cache, node) == HM_PCPU_NODE, "pcpu layout");
_Static_assert(offsetof(struct pcpu_cache, lock) == HM_PCPU_LOCK, "pcpu layout");
_Static_assert(sizeof(struct pcpu_cache) <= HM_PCPU_FIRST_SLOT * 8, "pcpu layout");

static __always_inline struct pcpu_cache *pcpu_cache_at(unsigned idx)
{
	return (struct pcpu_cache *)(hm_fe.caches + ((size_t)idx << HM_PCPU_SHIFT));
}

static __always_inline void **pcpu_slots(struct pcpu_cache *c)
{
	return (void **)c;
}

static __always_inline unsigned pcpu_top(uint64_t hdr)
{
	return (unsigned)(hdr & HM_PCPU_TOP_MASK);
}

#ifdef HAVE_ARCH_TP_READ_INT
#define pcpu_tp_read_int(off)	arch_tp_read_int(off)
#else
#define pcpu_tp_read_int(off)	\
	(*(volatile int *)((char *)__builtin_thread_pointer() + (off)))
#endif

/*
 * Generic mode: the CPU the calling thread runs on, as a raw value read
 * from hm_fe.cpu_off (glibc's rseq cpu_id, kept current by the kernel, or
 * a thread-local -1 meaning "ask getcpu").  The thread may migrate right
 * after the read; that is harmless, the cache is locked.
 */
static __always_inline unsigned pcpu_cpu_raw(void)
{
	return (unsigned)pcpu_tp_read_int(hm_fe.cpu_off);
}

/*
 * Which of its CPU's caches this thread prefers (generic mode): a hash of
 * the thread pointer, so threads sharing a CPU spread over the ways.
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

/*
 * HM_RSEQ_RACE=N (a stress build, never a release one) puts a busy wait of
 * N pauses inside every cache critical section, between its reads and its
 * commit, so preemption, migration and signals land there often.
 */
static __always_inline void pcpu_race_delay(void)
{
#ifdef HM_RSEQ_RACE
	for (volatile unsigned i = 0; i < HM_RSEQ_RACE; i++)
		__builtin_ia32_pause();
#endif
}

/*
 * Pop and push on a cache the caller owns (generic mode with its lock
 * held, or any mode while the caches are closed).  The stores are the
 * same as the rseq sections': one header store commits.
 */
static __always_inline void *pcpu_cache_pop(struct pcpu_cache *c, unsigned cls)
{
	uint64_t h = c->hdr[cls];
	unsigned top = pcpu_top(h);
	void *p;

	if (top == c->lim[cls].lo)
		return NULL;
	pcpu_race_delay();
	p = pcpu_slots(c)[top - 1];
	WRITE_ONCE(c->hdr[cls], h + HM_PCPU_POP_ADD);
	return p;
}

/*
 * Is p the object on top of the stack whose header is h?  (The commonest
 * double free; an empty stack's top is its NULL guard slot.)
 */
static __always_inline bool pcpu_on_top(struct pcpu_cache *c, uint64_t h, const void *p)
{
	return pcpu_slots(c)[pcpu_top(h) - 1] == p;
}

/* False when full or when p is on top already (a double free). */
static __always_inline bool pcpu_cache_push(struct pcpu_cache *c, unsigned long cls, void *p)
{
	uint64_t h = c->hdr[cls];
	unsigned top = pcpu_top(h);

	if (top == c->lim[cls].hi || pcpu_on_top(c, h, p))
		return false;
	pcpu_race_delay();
	pcpu_slots(c)[top] = p;
	WRITE_ONCE(c->hdr[cls], h + HM_PCPU_PUSH_ADD);
	return true;
}

/*
 * The cache lock is only ever tried by the fast and slow paths, never slept
 * on, so there is no waiter to wake: the release is a plain store.  The
 * rare callers that must have a particular cache (malloc_trim, fork) spin
 * on pcpu_lock_wait().
 */
static __always_inline bool pcpu_trylock(struct pcpu_cache *c)
{
	return hm_trylock(&c->lock);
}

static __always_inline void pcpu_unlock(struct pcpu_cache *c)
{
	__atomic_store_n(&c->lock.v, 0, __ATOMIC_RELEASE);
}

/*
 * Fast paths.  Before start-up, while the caches are closed and with
 * HAKMEM_PERCPU=off they fail and the slow path decides: the generic ones
 * because hm_fe.nr is 0, the rseq sections on hm_fe.cs_off (0 unless the
 * mode is rseq) or on the index guard (asm/percpu.h).
 */
static __always_inline void *pcpu_alloc(unsigned cls)
{
#ifdef PCPU_INLINE_RSEQ
	return arch_pcpu_pop(cls);
#else
	unsigned cpu = pcpu_cpu_raw();
	struct pcpu_cache *c;
	void *p = NULL;

	if (unlikely(cpu >= (hm_fe.nr >> HM_PCPU_WAYS_SHIFT)))
		return NULL;
	c = pcpu_cache_at(pcpu_index(cpu, pcpu_way()));
	if (likely(pcpu_trylock(c))) {
		p = pcpu_cache_pop(c, cls);
		pcpu_unlock(c);
	}
	return p;
#endif
}

static __always_inline bool pcpu_free(unsigned long cls, void *p, unsigned node)
{
#ifdef PCPU_INLINE_RSEQ
	return arch_pcpu_push(cls, p, node);
#else
	unsigned cpu = pcpu_cpu_raw();
	struct pcpu_cache *c;
	bool done = false;

	if (unlikely(cpu >= (hm_fe.nr >> HM_PCPU_WAYS_SHIFT)))
		return false;
	c = pcpu_cache_at(pcpu_index(cpu, pcpu_way()));
	if (likely(pcpu_trylock(c))) {
		if (likely(node == c->node))
			done = pcpu_cache_push(c, cls, p);
		pcpu_unlock(c);
	}
	return done;
#endif
}

/* pcpu_free() with the object code (class + 1) of free()'s page table. */
static __always_inline bool pcpu_free_code(unsigned long code, void *p, unsigned node)
{
#ifdef PCPU_INLINE_RSEQ
	return arch_pcpu_push_code(code, p, node);
#else
	return pcpu_free(code - 1, p, node);
#endif
}

/*
 * Batch moves for the slow paths' refill and drain (rseq builds): act only
 * when the thread runs on cache idx; the number moved, or -1.
 */
static inline long pcpu_push_batch(unsigned idx, unsigned cls, void *const *objs, unsigned n)
{
#ifdef PCPU_INLINE_RSEQ
	return arch_pcpu_push_batch(idx, cls, objs, n);
#else
	return -1;
#endif
}

static inline long pcpu_pop_batch(unsigned idx, unsigned cls, void **objs, unsigned n)
{
#ifdef PCPU_INLINE_RSEQ
	return arch_pcpu_pop_batch(idx, cls, objs, n);
#else
	return -1;
#endif
}

/* Slow paths and management, mm/percpu.c. */
int pcpu_setup(void);
/* Open the fast paths: the last step of start-up. */
void pcpu_open(void);
void *pcpu_alloc_slow(unsigned cls);
void pcpu_free_slow(unsigned cls, void *p, unsigned node);
/* The CPU for the slow paths: never fails (getcpu when rseq has none). */
unsigned pcpu_current_cpu(void);
/* The NUMA node the calling thread runs on (rseq node_id, else the CPU's). */
unsigned pcpu_current_node(void);
/* Generic mode: take the CPU from glibc's rseq area (true) or getcpu (false). */
void pcpu_set_cpu_source(bool rseq);
void pcpu_lock_wait(struct pcpu_cache *c);
/* Name of the mode in use, and where its rseq area comes from. */
const char *pcpu_mode_name(void);
/* Per-class operations served (allocations and frees), for statistics. */
void pcpu_class_counts(unsigned cls, uint64_t *nalloc, uint64_t *nfree);
/* Objects of class cls sitting in the caches right now. */
uint64_t pcpu_cached_objects(unsigned cls);
/* Empty every cache into the central lists (malloc_trim). */
void pcpu_drain_all(void);
/* fork(): quiesce the caches / release them in the parent / reset in the child. */
void pcpu_fork_prepare(void);
void pcpu_fork_parent(void);
void pcpu_fork_child(void);

#endif /* _HAKMEM_PERCPU_H */
