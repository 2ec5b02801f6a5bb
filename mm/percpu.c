// SPDX-License-Identifier: MIT
/*
 * The generic per-CPU front end: slow paths.
 *
 * Every possible CPU has HM_PCPU_WAYS struct pcpu_cache (include/hakmem/
 * percpu.h), each guarded by a lock that is only ever tried: a thread that
 * finds its preferred cache busy (its holder was preempted or migrated, or
 * another thread got there first) tries the other caches of its CPU; when
 * all are busy it yields the CPU once and tries them again, and only then
 * goes to the central lists; it never sleeps on a cache.  Without rseq a
 * thread preempted inside its critical section holds its cache until it
 * runs again; with 32 threads a CPU and one cache per CPU, 98 % of the
 * calls went to the central lists.  So preemption and migration inside the
 * critical section cost a detour, never a wrong result or a stall.
 *
 * Refill takes half a cache's capacity from the node's central list in one
 * locked batch; a full cache drains its oldest half in one batch.  Objects
 * in a cache always belong to the cache's node: a free of an object from
 * another node goes straight to that node's central list.
 *
 * Lock order: pcpu cache -> central (node, class) -> node.
 * fork(): every cache lock is taken before fork and released (parent) or
 * reset (child) after it.  Thread exit needs nothing: caches are per CPU.
 */
#include <string.h>
#include "hakmem/internal.h"
#include "hakmem/percpu.h"
#include <asm/rseq-abi.h>

/* Before start-up, and with HAKMEM_PCPU=0: a cache that is always busy. */
static struct pcpu_cache busy_cache = { .lock = { 1 } };

static uint64_t direct_alloc[HM_NCLASS], direct_free[HM_NCLASS];

extern const ptrdiff_t __rseq_offset __attribute__((weak));
/* What cpu_off points at when the CPU must come from getcpu. */
static __thread int no_cpu __attribute__((tls_model("initial-exec"))) = -1;

void pcpu_set_cpu_source(bool rseq)
{
	char *tp = __builtin_thread_pointer();

	if (rseq && &__rseq_offset != NULL &&
	    (int)pcpu_tp_read_int(__rseq_offset + RSEQ_OFF_CPU_ID) >= 0) {
		hm_heap.cpu_off = __rseq_offset + RSEQ_OFF_CPU_ID;
		hm_heap.rseq_cpu = 1;
	} else {
		hm_heap.cpu_off = (char *)&no_cpu - tp;
		hm_heap.rseq_cpu = 0;
	}
}

void pcpu_lock_wait(struct pcpu_cache *c)
{
	while (!pcpu_trylock(c))
		os_yield();
}

unsigned pcpu_current_cpu(void)
{
	unsigned cpu = pcpu_cpu_raw(), n = hm_heap.nr_cpus;

	if (likely(cpu < n))
		return cpu;
	if (!n)
		return 0;
	return (unsigned)os_getcpu() % n;
}

static unsigned nr_caches(void)
{
	return hm_heap.nr_cpus << HM_PCPU_WAYS_SHIFT;
}

int pcpu_setup(void)
{
	unsigned n = os_caps.nr_cpus << HM_PCPU_WAYS_SHIFT;
	size_t one = ALIGN_UP(sizeof(struct pcpu_cache) + hm_pcpu_slots * sizeof(void *),
			      HM_CACHELINE);
	size_t table = ALIGN_UP(n * sizeof(void *), HM_CACHELINE);
	char *mem;
	void *m;
	int err;

	if (!hm_opt.pcpu) {
		/* Every CPU shares the busy cache: all traffic goes central. */
		err = os_map_meta(ALIGN_UP(table, HM_PAGE_SIZE), &m);
		if (err)
			return err;
		hm_heap.pcpu = m;
		for (unsigned i = 0; i < n; i++)
			hm_heap.pcpu[i] = &busy_cache;
		return 0;
	}
	err = os_map_meta(ALIGN_UP(table + one * n, HM_PAGE_SIZE), &m);
	if (err)
		return err;
	mem = m;
	hm_heap.pcpu = m;
	for (unsigned i = 0; i < n; i++) {
		struct pcpu_cache *pc = (struct pcpu_cache *)(mem + table + one * i);

		pc->node = hm_heap.cpu_node[i >> HM_PCPU_WAYS_SHIFT];
		hm_heap.pcpu[i] = pc;
	}
	return 0;
}

/*
 * This thread's preferred cache on cpu if free, else another way of cpu.
 * When every way is busy their holders were most likely preempted inside
 * their critical sections and wait on this CPU's run queue: yield once so
 * they can finish, then try again before falling back to the central lists.
 */
static struct pcpu_cache *lock_some_way(unsigned cpu)
{
	unsigned way = pcpu_way();

	if (!hm_opt.pcpu)
		return NULL;		/* caches off: every cache is the busy one */
	for (int round = 0; round < 2; round++) {
		if (round)
			os_yield();
		for (unsigned k = 0; k < HM_PCPU_WAYS; k++) {
			struct pcpu_cache *c = hm_heap.pcpu[pcpu_index(cpu, way + k)];

			if (pcpu_trylock(c))
				return c;
		}
	}
	return NULL;
}

void *pcpu_alloc_slow(unsigned cls)
{
	const struct size_class *sc = &hm_class[cls];
	unsigned cpu = pcpu_current_cpu();
	struct pcpu_cache *c = lock_some_way(cpu);
	void *p = NULL;

	if (c) {
		void **stack = &c->slot[sc->pcpu_off];
		unsigned n = c->count[cls], got;

		if (n) {		/* refilled by someone else meanwhile */
			p = stack[n - 1];
			c->count[cls] = (uint16_t)(n - 1);
		} else {
			got = central_alloc(c->node, cls, stack, MAX(1u, sc->pcpu_cap / 2u));
			hm_stat_inc(ST_REFILL);
			if (got) {
				p = stack[got - 1];
				c->count[cls] = (uint16_t)(got - 1);
			}
		}
		if (p)
			pcpu_count(c, nalloc, cls);
		pcpu_unlock(c);
		return p;
	}
	hm_stat_inc(ST_PCPU_BUSY);
	if (central_alloc(hm_heap.cpu_node[cpu], cls, &p, 1) == 1) {
		__atomic_fetch_add(&direct_alloc[cls], 1, __ATOMIC_RELAXED);
		return p;
	}
	return NULL;
}

void pcpu_free_slow(unsigned cls, void *p, unsigned node)
{
	const struct size_class *sc = &hm_class[cls];
	unsigned cpu = pcpu_current_cpu();
	struct pcpu_cache *c = NULL;

	if (node == hm_heap.cpu_node[cpu])
		c = lock_some_way(cpu);
	if (c) {
		void **stack = &c->slot[sc->pcpu_off];
		unsigned n = c->count[cls], half = MAX(1u, sc->pcpu_cap / 2u);

		if (n && stack[n - 1] == p) {
			pcpu_unlock(c);
			hm_fatal("free(): double free detected", p);
		}
		if (n >= sc->pcpu_cap) {
			/* Drain the oldest half; the hottest objects stay. */
			central_free(cls, stack, half);
			memmove(stack, stack + half, (n - half) * sizeof(void *));
			n -= half;
			hm_stat_inc(ST_DRAIN);
		}
		stack[n] = p;
		c->count[cls] = (uint16_t)(n + 1);
		pcpu_count(c, nfree, cls);
		pcpu_unlock(c);
		return;
	}
	hm_stat_inc(node == hm_heap.cpu_node[cpu] ? ST_PCPU_BUSY : ST_REMOTE_FREE);
	__atomic_fetch_add(&direct_free[cls], 1, __ATOMIC_RELAXED);
	central_free(cls, &p, 1);
}

void pcpu_drain_all(void)
{
	if (!hm_opt.pcpu)
		return;
	for (unsigned i = 0; i < nr_caches(); i++) {
		struct pcpu_cache *c = hm_heap.pcpu[i];

		pcpu_lock_wait(c);
		for (unsigned cls = 0; cls < HM_NCLASS; cls++) {
			if (c->count[cls])
				central_free(cls, &c->slot[hm_class[cls].pcpu_off], c->count[cls]);
			c->count[cls] = 0;
		}
		pcpu_unlock(c);
	}
}

void pcpu_class_counts(unsigned cls, uint64_t *nalloc, uint64_t *nfree)
{
	uint64_t a = READ_ONCE(direct_alloc[cls]), f = READ_ONCE(direct_free[cls]);

#ifdef CONFIG_STATS
	if (hm_opt.pcpu) {
		for (unsigned i = 0; i < nr_caches(); i++) {
			a += READ_ONCE(hm_heap.pcpu[i]->nalloc[cls]);
			f += READ_ONCE(hm_heap.pcpu[i]->nfree[cls]);
		}
	}
#endif
	*nalloc = a;
	*nfree = f;
}

void pcpu_fork_prepare(void)
{
	if (!hm_opt.pcpu)
		return;
	for (unsigned i = 0; i < nr_caches(); i++)
		pcpu_lock_wait(hm_heap.pcpu[i]);
}

void pcpu_fork_parent(void)
{
	if (!hm_opt.pcpu)
		return;
	for (unsigned i = nr_caches(); i-- > 0;)
		pcpu_unlock(hm_heap.pcpu[i]);
}

void pcpu_fork_child(void)
{
	if (!hm_opt.pcpu)
		return;
	for (unsigned i = 0; i < nr_caches(); i++)
		hm_lock_reset(&hm_heap.pcpu[i]->lock);
}

/*
 * ==== Cache occupancy and trimming helpers ====
 * Added for memory return and the statistics; kept to plain signatures so
 * that any front end (this generic one, the rseq one) can provide them.
 * Declared in include/hakmem/internal.h.
 */

/*
 * pcpu_cached_objects() - free objects of class cls sitting in the per-CPU
 * caches of every CPU now.  An unlocked snapshot: counts may move while
 * they are read.  0 when the caches are off.
 */
uint64_t pcpu_cached_objects(unsigned cls)
{
	uint64_t n = 0;

	if (!hm_opt.pcpu || cls >= HM_NCLASS)
		return 0;
	for (unsigned i = 0; i < nr_caches(); i++)
		n += READ_ONCE(hm_heap.pcpu[i]->count[cls]);
	return n;
}
