// SPDX-License-Identifier: MIT
/*
 * The per-CPU front end: set-up, slow paths, statistics, trim and fork.
 *
 * Modes (include/hakmem/percpu.h, HAKMEM_PERCPU), fixed at start-up for the
 * whole process, because an rseq section and a locked section must never
 * work on the same cache:
 *
 *   rseq    one cache per possible CPU, indexed by the rseq area's cpu_id;
 *           push and pop are restartable sequences (arch/x86_64).
 *   mmcid   the same indexed by mm_cid, the kernel's concurrency id, which
 *           stays below the number of threads running at once: a process
 *           with 4 threads on a 256-CPU machine touches 4 caches, not 256.
 *           Single-node systems only (an mm_cid is not tied to a node).
 *   generic HM_PCPU_WAYS trylocked caches per CPU (valgrind, kernels
 *           without rseq, HAKMEM_PERCPU=fallback, CONFIG_PCPU_RSEQ=n).
 *   off     no caches.
 *
 * The rseq area is glibc's registration when it made one (__rseq_offset);
 * otherwise hakmem registers a thread-local area of its own for each thread
 * on that thread's first slow-path call.  A thread whose registration fails
 * uses the central lists directly.  hakmem writes only rseq_cs.
 *
 * Refill: the slow path takes half a class's capacity from the central
 * list of the cache's node (all of it when the objects are carved from a
 * slab's never-used tail: central_refill()), keeps one object for the
 * caller and pushes the rest with a batch section that only commits if
 * the thread still runs on that cache (so a cache only ever holds objects
 * of its own node).  Drain: a full class gives half its objects back (the
 * top half in rseq modes, the oldest half in generic mode).  Whatever a
 * section could not take goes back to the central lists.
 *
 * Counting: every single-object pop and push adds to the class header's op
 * count in its committing store; batch moves are tallied here.  Since
 * frees - allocs on a cache = (top - lo) - refilled + drained, the per-class
 * allocation and free counts follow exactly, with no counter on the fast
 * path (pcpu_class_counts()).
 *
 * malloc_trim (pcpu_drain_all): rseq caches belong to their CPUs, so they
 * are closed first (hm_fe.base to the index guard for the inline sections,
 * hm_fe.nr = 0 for the batch ones, both read inside every section), then a
 * membarrier(PRIVATE_EXPEDITED_RSEQ) aborts any section still running, and
 * only then are they emptied; generic caches are simply locked.
 *
 * Lock order: pcpu close lock -> pcpu cache (generic) -> central -> node.
 * fork(): the close lock (and in generic mode every cache lock) is taken
 * before fork and released or reset after it.  rseq caches need nothing:
 * every commit is one store, so the child sees each cache consistent; a
 * batch another thread held in its hands at the fork is lost to the child.
 * Thread exit needs nothing: caches are per CPU.
 */
#include <string.h>
#include "hakmem/internal.h"
#include "hakmem/percpu.h"
#include <asm/rseq-abi.h>

struct hm_front hm_fe;

/*
 * An rseq area of hakmem's own, for threads glibc did not register.  Laid
 * out as the kernel's struct rseq (with node_id and mm_cid); cpu_id and
 * mm_cid start at -1 so an unregistered thread never names a cache.
 */
struct own_rseq {
	uint32_t	cpu_id_start;
	uint32_t	cpu_id;
	uint64_t	rseq_cs;
	uint32_t	flags;
	uint32_t	node_id;
	uint32_t	mm_cid;
	uint32_t	pad;
} __attribute__((aligned(32)));

#define TLS_IE	__attribute__((tls_model("initial-exec")))

static __thread struct own_rseq own_rseq TLS_IE __attribute__((unused)) = {
	.cpu_id = (uint32_t)-1, .node_id = (uint32_t)-1, .mm_cid = (uint32_t)-1,
};
/* What the offsets in hm_fe point at when a thread has no cache index. */
static __thread int no_cpu TLS_IE = -1;

enum rseq_area { AREA_NONE, AREA_GLIBC, AREA_OWN };

static struct {
	enum rseq_area	area;
	long		area_off;	/* thread-pointer offset of the area */
	unsigned	nr_open;	/* hm_fe.nr while the caches are open */
	bool		node_id;	/* the kernel fills node_id and mm_cid */
	bool		fence;		/* membarrier RSEQ registered: trim can close */
	bool		fallback;	/* rseq was asked for and is not available */
} pc;

static struct hm_lock close_lock = HM_LOCK_INIT;

/* Operations that did not go through a cache's pop or push. */
static uint64_t direct_alloc[HM_NCLASS], direct_free[HM_NCLASS];
/* Objects moved into (refill) and out of (drain, trim) the caches. */
static uint64_t batch_in[HM_NCLASS], batch_out[HM_NCLASS];

static void add(uint64_t *v, uint64_t n)
{
	__atomic_fetch_add(v, n, __ATOMIC_RELAXED);
}

static long tp_off(const void *p)
{
	return (const char *)p - (const char *)__builtin_thread_pointer();
}

/* What an alloc slow path returns when the thread has no cache to use. */
#define NO_CACHE	((void *)1)

static unsigned half_cap(unsigned cls)
{
	return MAX(1u, (unsigned)hm_class[cls].pcpu_cap / 2u);
}

static bool rseq_mode(void)
{
	return hm_fe.mode == PCPU_RSEQ_CPU || hm_fe.mode == PCPU_RSEQ_MMCID;
}

/* ---- where the CPU comes from ---- */

void pcpu_set_cpu_source(bool rseq)
{
	if (rseq && pc.area != AREA_NONE)
		hm_fe.cpu_off = pc.area_off + RSEQ_OFF_CPU_ID;
	else if (rseq && os_caps.rseq_glibc)
		hm_fe.cpu_off = os_caps.rseq_glibc_off + RSEQ_OFF_CPU_ID;
	else
		hm_fe.cpu_off = tp_off(&no_cpu);
}

/* The CPU from hm_fe.cpu_off (the rseq area in use, if any), else getcpu. */
unsigned pcpu_current_cpu(void)
{
	unsigned n = hm_heap.nr_cpus, cpu;

	if (!n)
		return 0;
	cpu = pcpu_cpu_raw();
	if (cpu < n)
		return cpu;
	return (unsigned)os_getcpu() % n;
}

unsigned pcpu_current_node(void)
{
	if (hm_heap.nr_nodes == 1)
		return 0;
	if (pc.area != AREA_NONE && pc.node_id) {
		/* rseq's node_id is the raw node: map it like cpu_node[]. */
		unsigned node = (unsigned)pcpu_tp_read_int(pc.area_off + RSEQ_OFF_NODE_ID);

		if (node < os_caps.nr_nodes) {
			node = os_caps.node_home[node];
			if (node < hm_heap.nr_nodes)
				return node;
		}
	}
	return hm_heap.cpu_node[pcpu_current_cpu()];
}

#ifdef PCPU_INLINE_RSEQ
/*
 * This thread's cache index in the rseq modes, registering the thread's
 * own area on its first call when that is the source; -1 when it has none.
 */
static int rseq_index(void)
{
	int idx = pcpu_tp_read_int(hm_fe.idx_off);

	if (idx >= 0 || pc.area != AREA_OWN || own_rseq.cpu_id != (uint32_t)-1)
		return idx;
	if (os_rseq_register(&own_rseq, sizeof(own_rseq))) {
		own_rseq.cpu_id = (uint32_t)-2;	/* not registered: ours to write */
		return -1;
	}
	return pcpu_tp_read_int(hm_fe.idx_off);
}
#endif

/* ---- set-up ---- */

const char *pcpu_mode_name(void)
{
	switch (hm_fe.mode) {
	case PCPU_RSEQ_CPU:
		return pc.area == AREA_GLIBC ? "rseq (per-CPU caches by cpu_id, glibc's registration)" :
					       "rseq (per-CPU caches by cpu_id, hakmem's registration)";
	case PCPU_RSEQ_MMCID:
		return pc.area == AREA_GLIBC ? "mmcid (caches by rseq mm_cid, glibc's registration)" :
					       "mmcid (caches by rseq mm_cid, hakmem's registration)";
	case PCPU_GENERIC:
		if (pc.fallback)
			return "fallback (trylocked per-CPU caches: rseq unavailable)";
		return hm_fe.cpu_off == tp_off(&no_cpu) ?
			"fallback (trylocked per-CPU caches, CPU from getcpu)" :
			"fallback (trylocked per-CPU caches, CPU from rseq cpu_id)";
	default:
		return "off (central lists only)";
	}
}

/* Find an rseq area for this process: glibc's, else one of our own. */
static bool rseq_area_setup(void)
{
#ifdef PCPU_INLINE_RSEQ
	if (os_caps.rseq_glibc) {
		pc.area = AREA_GLIBC;
		pc.area_off = os_caps.rseq_glibc_off;
	} else if (os_rseq_register(&own_rseq, sizeof(own_rseq)) == 0) {
		pc.area = AREA_OWN;
		pc.area_off = tp_off(&own_rseq);
	} else {
		return false;
	}
	pc.node_id = os_caps.rseq_feature_size >= RSEQ_FEATURE_MM_CID;
	return true;
#else
	return false;
#endif
}

static enum pcpu_mode choose_mode(void)
{
	long want = hm_opt.percpu;

	if (want == HM_PERCPU_OFF)
		return PCPU_OFF;
	if (want == HM_PERCPU_FALLBACK)
		return PCPU_GENERIC;
	/* The inline sections trust a CPU number to be below the caches. */
	if (!os_caps.cpu_ids_bounded || !rseq_area_setup()) {
		if (want != HM_PERCPU_AUTO)
			hm_warn(os_caps.cpu_ids_bounded ?
				"rseq is not available here: per-CPU caches fall back to locks" :
				"the possible CPUs are unknown or too many: per-CPU caches fall back to locks");
		pc.fallback = true;
		return PCPU_GENERIC;
	}
	if (want == HM_PERCPU_MMCID) {
		if (pc.node_id && os_caps.nr_nodes == 1)
			return PCPU_RSEQ_MMCID;
		hm_warn(pc.node_id ? "HAKMEM_PERCPU=mmcid needs a single NUMA node: using rseq cpu_id" :
				     "this kernel has no rseq mm_cid: using rseq cpu_id");
	}
	return PCPU_RSEQ_CPU;
}

static void cache_init(struct pcpu_cache *c, unsigned node)
{
	unsigned slot = HM_PCPU_FIRST_SLOT;

	for (unsigned cls = 0; cls < HM_NCLASS; cls++) {
		slot++;				/* the guard, always NULL */
		c->lim[cls].lo = (uint16_t)slot;
		c->lim[cls].hi = (uint16_t)(slot + hm_class[cls].pcpu_cap);
		c->hdr[cls] = slot;
		slot += hm_class[cls].pcpu_cap;
	}
	c->node = node;
}

/* Where the inline sections look while the caches are closed. */
static char *pcpu_guard(void)
{
	return hm_fe.caches + ((size_t)(pc.nr_open + HM_PCPU_BELOW) << HM_PCPU_SHIFT);
}

/*
 * rseq modes: n caches inside the index guard (include/hakmem/pcpu-abi.h),
 * HM_PCPU_BELOW zero caches below them and n + HM_PCPU_BELOW above, all
 * reserved read-only, then the caches opened for writing.
 */
static int map_rseq_caches(unsigned n, char **out)
{
	size_t len = (size_t)n << HM_PCPU_SHIFT;
	size_t below = (size_t)HM_PCPU_BELOW << HM_PCPU_SHIFT;
	size_t total = below + len + len + below;
	void *m;
	int err;

	err = os_map_table(total, &m);
	if (err)
		return err;
	err = os_open_table((char *)m + below, len);
	if (err) {
		os_unmap(m, total);
		return err;
	}
	*out = (char *)m + below;
	return 0;
}

int pcpu_setup(void)
{
	enum pcpu_mode mode = choose_mode();
	unsigned n;
	char *c;
	void *m;
	int err;

	/* One guard slot per class, then the stacks: they must fit. */
	if (HM_PCPU_FIRST_SLOT + HM_NCLASS + hm_pcpu_slots > HM_PCPU_NSLOTS)
		hm_fatal("per-CPU cache layout overflows", NULL);
	hm_fe.mode = mode;
	pcpu_set_cpu_source(true);
	/*
	 * cs_off stays 0 (the inline sections fail at once) unless and until
	 * the rseq modes set it below, after base (the guard: closed until
	 * pcpu_open()) and idx_off: a section that finds it set finds them set
	 * too (asm/percpu.h).
	 */
	hm_fe.idx_off = tp_off(&no_cpu);
	if (mode == PCPU_OFF)
		return 0;
	n = os_caps.nr_cpus;
	if (mode == PCPU_GENERIC) {
		n <<= HM_PCPU_WAYS_SHIFT;
		err = os_map_meta((size_t)n << HM_PCPU_SHIFT, &m);
		if (err)
			return err;
		hm_fe.base = hm_fe.caches = m;
	} else {
		err = map_rseq_caches(n, &c);
		if (err)
			return err;
		hm_fe.caches = c;
	}
	pc.nr_open = n;
	for (unsigned i = 0; i < n; i++) {
		unsigned node = 0;

		if (mode == PCPU_RSEQ_CPU)
			node = hm_heap.cpu_node[i];
		else if (mode == PCPU_GENERIC)
			node = hm_heap.cpu_node[i >> HM_PCPU_WAYS_SHIFT];
		cache_init(pcpu_cache_at(i), node);
	}
	if (rseq_mode()) {
		/* Closed (the guard) until pcpu_open(). */
		WRITE_ONCE(hm_fe.base, pcpu_guard());
		WRITE_ONCE(hm_fe.idx_off, pc.area_off + (mode == PCPU_RSEQ_MMCID ?
							 RSEQ_OFF_MM_CID : RSEQ_OFF_CPU_ID));
		WRITE_ONCE(hm_fe.cs_off, pc.area_off + RSEQ_OFF_RSEQ_CS);
		pc.fence = os_rseq_fence_setup() == 0;
	}
	return 0;
}

/* Open the fast paths (start-up's last step). */
void pcpu_open(void)
{
	if (rseq_mode())
		__atomic_store_n(&hm_fe.base, hm_fe.caches, __ATOMIC_RELEASE);
	__atomic_store_n(&hm_fe.nr, pc.nr_open, __ATOMIC_RELEASE);
}

/* ---- slow paths: rseq modes ---- */

#ifdef PCPU_INLINE_RSEQ
static void *rseq_alloc_slow(unsigned cls)
{
	void *buf[HM_PCPU_MAX_OBJECTS];

	for (int tries = 0; tries < 2; tries++) {
		struct pcpu_cache *c;
		unsigned got;
		long k;
		void *p;
		int idx;

		p = pcpu_alloc(cls);		/* the fast path may have been aborted */
		if (p) {
			hm_stat_inc(ST_PCPU_RETRY);
			return p;
		}
		idx = rseq_index();
		if (idx < 0 || (unsigned)idx >= READ_ONCE(hm_fe.nr))
			break;
		c = pcpu_cache_at((unsigned)idx);
		got = central_refill(c->node, cls, buf, half_cap(cls), hm_class[cls].pcpu_cap);
		hm_stat_inc(ST_REFILL);
		if (!got)
			return NULL;
		p = buf[--got];
		k = got ? pcpu_push_batch((unsigned)idx, cls, buf, got) : 0;
		if (k > 0)
			add(&batch_in[cls], (uint64_t)k);
		else
			k = 0;
		if ((unsigned)k < got)
			central_free(cls, buf + k, got - (unsigned)k);
		add(&direct_alloc[cls], 1);
		return p;
	}
	return NO_CACHE;
}

/* Returns true when p found a home in a cache. */
static bool rseq_free_slow(unsigned cls, void *p, unsigned node)
{
	void *buf[HM_PCPU_MAX_OBJECTS];

	for (int tries = 0; tries < 3; tries++) {
		struct pcpu_cache *c;
		uint64_t h;
		long k;
		int idx;

		if (pcpu_free(cls, p, node)) {
			hm_stat_inc(ST_PCPU_RETRY);
			return true;
		}
		idx = rseq_index();
		if (idx < 0 || (unsigned)idx >= READ_ONCE(hm_fe.nr))
			return false;
		c = pcpu_cache_at((unsigned)idx);
		if (c->node != node) {
			hm_stat_inc(ST_REMOTE_FREE);
			return false;
		}
		h = READ_ONCE(c->hdr[cls]);
		if (pcpu_on_top(c, h, p))
			hm_fatal("free(): double free detected", p);
		if (pcpu_top(h) < c->lim[cls].hi)
			continue;		/* not full: the push was aborted */
		k = pcpu_pop_batch((unsigned)idx, cls, buf, half_cap(cls));
		if (k > 0) {
			central_free(cls, buf, (unsigned)k);
			add(&batch_out[cls], (uint64_t)k);
			hm_stat_inc(ST_DRAIN);
		}
	}
	return false;
}
#endif

/* ---- slow paths: generic mode ---- */

void pcpu_lock_wait(struct pcpu_cache *c)
{
	while (!pcpu_trylock(c))
		os_yield();
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

	if (!READ_ONCE(hm_fe.nr))
		return NULL;
	for (int round = 0; round < 2; round++) {
		if (round)
			os_yield();
		for (unsigned k = 0; k < HM_PCPU_WAYS; k++) {
			struct pcpu_cache *c = pcpu_cache_at(pcpu_index(cpu, way + k));

			if (pcpu_trylock(c))
				return c;
		}
	}
	return NULL;
}

static void *generic_alloc_slow(unsigned cls, unsigned cpu)
{
	struct pcpu_cache *c = lock_some_way(cpu);
	void *p;

	if (!c)
		return NO_CACHE;
	p = pcpu_cache_pop(c, cls);
	if (!p) {
		void **slot = pcpu_slots(c) + c->lim[cls].lo;
		unsigned got = central_refill(c->node, cls, slot, half_cap(cls),
					      c->lim[cls].hi - c->lim[cls].lo);

		hm_stat_inc(ST_REFILL);
		if (got) {
			p = slot[--got];
			c->hdr[cls] += got;
			add(&batch_in[cls], got);
			add(&direct_alloc[cls], 1);
		}
	}
	pcpu_unlock(c);
	return p;
}

static bool generic_free_slow(unsigned cls, void *p, unsigned cpu)
{
	struct pcpu_cache *c = lock_some_way(cpu);
	void **slot;
	unsigned top, lo, half;

	if (!c)
		return false;
	slot = pcpu_slots(c);
	top = pcpu_top(c->hdr[cls]);
	if (pcpu_on_top(c, c->hdr[cls], p)) {
		pcpu_unlock(c);
		hm_fatal("free(): double free detected", p);
	}
	if (top == c->lim[cls].hi) {
		/* Drain the oldest half; the hottest objects stay. */
		lo = c->lim[cls].lo;
		half = half_cap(cls);
		central_free(cls, slot + lo, half);
		memmove(slot + lo, slot + lo + half, (top - lo - half) * sizeof(void *));
		c->hdr[cls] -= half;
		add(&batch_out[cls], half);
		hm_stat_inc(ST_DRAIN);
	}
	pcpu_cache_push(c, cls, p);
	pcpu_unlock(c);
	return true;
}

/* ---- slow paths: entry points ---- */

void *pcpu_alloc_slow(unsigned cls)
{
	void *p = NO_CACHE;

	switch (hm_fe.mode) {
#ifdef PCPU_INLINE_RSEQ
	case PCPU_RSEQ_CPU:
	case PCPU_RSEQ_MMCID:
		p = rseq_alloc_slow(cls);
		break;
#endif
	case PCPU_GENERIC:
		p = generic_alloc_slow(cls, pcpu_current_cpu());
		break;
	default:
		break;
	}
	if (p != NO_CACHE)
		return p;
	/* No cache to use: straight from the central list. */
	hm_stat_inc(ST_PCPU_BUSY);
	if (central_alloc(pcpu_current_node(), cls, &p, 1) == 1) {
		add(&direct_alloc[cls], 1);
		return p;
	}
	return NULL;
}

void pcpu_free_slow(unsigned cls, void *p, unsigned node)
{
	switch (hm_fe.mode) {
#ifdef PCPU_INLINE_RSEQ
	case PCPU_RSEQ_CPU:
	case PCPU_RSEQ_MMCID:
		if (rseq_free_slow(cls, p, node))
			return;
		break;
#endif
	case PCPU_GENERIC: {
		unsigned cpu = pcpu_current_cpu();

		if (node != hm_heap.cpu_node[cpu]) {
			hm_stat_inc(ST_REMOTE_FREE);
			break;
		}
		if (generic_free_slow(cls, p, cpu))
			return;
		hm_stat_inc(ST_PCPU_BUSY);
		break;
	}
	default:
		break;
	}
	add(&direct_free[cls], 1);
	central_free(cls, &p, 1);
}

/* ---- trim, statistics, fork ---- */

static void empty_cache(struct pcpu_cache *c)
{
	for (unsigned cls = 0; cls < HM_NCLASS; cls++) {
		unsigned lo = c->lim[cls].lo, top = pcpu_top(c->hdr[cls]);

		if (top == lo)
			continue;
		central_free(cls, pcpu_slots(c) + lo, top - lo);
		add(&batch_out[cls], top - lo);
		c->hdr[cls] -= top - lo;
	}
}

void pcpu_drain_all(void)
{
	if (hm_fe.mode == PCPU_OFF || !pc.nr_open)
		return;
	if (hm_fe.mode == PCPU_GENERIC) {
		for (unsigned i = 0; i < pc.nr_open; i++) {
			struct pcpu_cache *c = pcpu_cache_at(i);

			pcpu_lock_wait(c);
			empty_cache(c);
			pcpu_unlock(c);
		}
		return;
	}
	/* rseq: close, fence off running sections, empty, reopen. */
	if (!pc.fence)
		return;
	hm_lock(&close_lock);
	__atomic_store_n(&hm_fe.nr, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&hm_fe.base, pcpu_guard(), __ATOMIC_SEQ_CST);
	if (os_rseq_fence() == 0) {
		for (unsigned i = 0; i < pc.nr_open; i++)
			empty_cache(pcpu_cache_at(i));
	}
	__atomic_store_n(&hm_fe.base, hm_fe.caches, __ATOMIC_RELEASE);
	__atomic_store_n(&hm_fe.nr, pc.nr_open, __ATOMIC_RELEASE);
	hm_unlock(&close_lock);
}

/* Sum of (ops, top - lo) over the caches for one class. */
static void cache_sums(unsigned cls, uint64_t *ops, uint64_t *held)
{
	uint64_t o = 0, h = 0;

	for (unsigned i = 0; i < pc.nr_open; i++) {
		struct pcpu_cache *c = pcpu_cache_at(i);
		uint64_t hdr = READ_ONCE(c->hdr[cls]);

		o += hdr >> HM_PCPU_OPS_SHIFT;
		h += pcpu_top(hdr) - c->lim[cls].lo;
	}
	*ops = o;
	*held = h;
}

uint64_t pcpu_cached_objects(unsigned cls)
{
	uint64_t ops, held;

	cache_sums(cls, &ops, &held);
	return held;
}

void pcpu_class_counts(unsigned cls, uint64_t *nalloc, uint64_t *nfree)
{
	uint64_t ops, held, in = READ_ONCE(batch_in[cls]), out = READ_ONCE(batch_out[cls]);
	int64_t d;

	cache_sums(cls, &ops, &held);
	/*
	 * Frees minus allocations made by single pushes and pops.  Exact when
	 * the caches are quiet; while other threads run a batch may be in a
	 * header and not yet in its tally, so keep both counts in range.
	 */
	d = (int64_t)held - (int64_t)in + (int64_t)out;
	d = MAX(-(int64_t)ops, MIN(d, (int64_t)ops));
	*nalloc = (uint64_t)(((int64_t)ops - d) / 2) + READ_ONCE(direct_alloc[cls]);
	*nfree = (uint64_t)(((int64_t)ops + d) / 2) + READ_ONCE(direct_free[cls]);
}

void pcpu_fork_prepare(void)
{
	hm_lock(&close_lock);
	if (hm_fe.mode == PCPU_GENERIC)
		for (unsigned i = 0; i < pc.nr_open; i++)
			pcpu_lock_wait(pcpu_cache_at(i));
}

void pcpu_fork_parent(void)
{
	if (hm_fe.mode == PCPU_GENERIC)
		for (unsigned i = pc.nr_open; i-- > 0;)
			pcpu_unlock(pcpu_cache_at(i));
	hm_unlock(&close_lock);
}

void pcpu_fork_child(void)
{
	if (hm_fe.mode == PCPU_GENERIC)
		for (unsigned i = 0; i < pc.nr_open; i++)
			hm_lock_reset(&pcpu_cache_at(i)->lock);
	hm_lock_reset(&close_lock);
}

