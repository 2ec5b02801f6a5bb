// SPDX-License-Identifier: MIT
/*
 * The per-CPU front end (include/hakmem/percpu.h, mm/percpu.c) in its
 * generic mode, the one the unit tests run (the fake OS has no rseq):
 * HM_PCPU_WAYS trylocked caches per CPU, array-stacks per class that refill
 * in half-capacity batches (whole ones from fresh slabs) and drain in
 * half-capacity batches, per-class operation counts derived
 * from the header op counts, trim, fork, and the "off" mode.
 *
 * After every scenario check_caches() asserts the cache invariants for
 * every cache and class: lo <= top <= hi, the guard below lo is NULL, the
 * class ranges are disjoint and inside the cache, every cached object is a
 * live-looking object of the class homed on the cache's node, no object
 * sits in two caches or on a slab's free list as well, and
 * pcpu_cached_objects() is the sum of the stacks.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <asm/rseq-abi.h>

#include "unit.h"

#define NR_CACHES	(FAKE_NR_CPUS * HM_PCPU_WAYS)

/*
 * Most tests run twice (loop index _i): 0 with the CPU read from the
 * thread area (hm_fe.cpu_off, as with glibc's rseq cpu_id), 1 with the CPU
 * from getcpu.  The caches must behave the same either way.
 */
static int via_getcpu;

static void on_cpu(unsigned cpu)
{
	if (via_getcpu)
		unit_on_cpu_via_getcpu(cpu);
	else
		unit_on_cpu(cpu);
}

static void set_mode(int i)
{
	via_getcpu = i;
	on_cpu(0);
}

/* This thread's preferred way, and the cache it names on cpu. */
static unsigned my_way(void)
{
	return pcpu_way() & (HM_PCPU_WAYS - 1);
}

static struct pcpu_cache *mine(unsigned cpu)
{
	return unit_cache(cpu, my_way());
}

static struct pcpu_cache *next_way(unsigned cpu)
{
	return unit_cache(cpu, my_way() + 1);
}

static unsigned top_of(const struct pcpu_cache *c, unsigned cls)
{
	return pcpu_top(c->hdr[cls]);
}

static unsigned held(const struct pcpu_cache *c, unsigned cls)
{
	return top_of(c, cls) - c->lim[cls].lo;
}

static uint64_t ops_of(const struct pcpu_cache *c, unsigned cls)
{
	return c->hdr[cls] >> HM_PCPU_OPS_SHIFT;
}

static void *top_obj(struct pcpu_cache *c, unsigned cls)
{
	return pcpu_slots(c)[top_of(c, cls) - 1];
}

static unsigned half(unsigned cls)
{
	return MAX(1u, hm_class[cls].pcpu_cap / 2u);
}

/*
 * What an empty cache holds after a refill from fresh memory (a slab's
 * never-used tail): all of it.  Refills from free lists take half.
 */
static unsigned fill(unsigned cls)
{
	return hm_class[cls].pcpu_cap;
}

/* Objects of cls that slabs have handed out on node: in use or cached. */
static uint64_t slab_used(unsigned node, unsigned cls)
{
	uint64_t used = 0;

	for (uint32_t i = 0; i < unit_chunks_per_node(); i++) {
		const struct superslab *ss;

		if (unit_chunk_kind(node, i) != CHUNK_SS)
			continue;
		ss = unit_ss(node, i);
		for (unsigned p = HM_SS_HDR_PAGES; p < HM_SS_PAGES; p++)
			if (unit_page_used(ss, p) && !ss->page_delta[p] && ss->page_cls[p] == cls)
				used += ss->slab[p].used;
	}
	return used;
}

static uint64_t slab_used_all(unsigned cls)
{
	return slab_used(0, cls) + slab_used(1, cls);
}

static bool on_freelist(const struct slab *s, const void *p)
{
	unsigned n = 0;

	for (void *q = s->freelist; q && n <= s->capacity; q = *(void **)q, n++)
		if (q == p)
			return true;
	return false;
}

/* Is p anywhere in a cache (any class)? */
static bool in_some_cache(const void *p)
{
	for (unsigned i = 0; i < NR_CACHES; i++) {
		struct pcpu_cache *c = pcpu_cache_at(i);

		for (unsigned cls = 0; cls < HM_NCLASS; cls++)
			for (unsigned k = c->lim[cls].lo; k < top_of(c, cls); k++)
				if (pcpu_slots(c)[k] == p)
					return true;
	}
	return false;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The invariants of every cache and class (see the top of the file).
 * locked: the caches the test itself holds (bit i = cache index i).
 */
static void check_caches_locked(uint32_t locked)
{
	static uintptr_t all[NR_CACHES * HM_PCPU_NSLOTS];
	size_t n = 0;

	unit_assert(hm_fe.mode == PCPU_GENERIC, "front end mode %u, want generic", hm_fe.mode);
	unit_assert(hm_fe.nr == NR_CACHES, "hm_fe.nr %u, want %u", hm_fe.nr, NR_CACHES);
	for (unsigned i = 0; i < NR_CACHES; i++) {
		struct pcpu_cache *c = pcpu_cache_at(i);
		unsigned prev_hi = HM_PCPU_FIRST_SLOT;

		unit_assert(c->node == hm_heap.cpu_node[i >> HM_PCPU_WAYS_SHIFT],
			    "cache %u: node %u, its CPU is on node %u", i, c->node,
			    hm_heap.cpu_node[i >> HM_PCPU_WAYS_SHIFT]);
		unit_assert((c->lock.v != 0) == !!(locked & (1u << i)),
			    "cache %u: lock word %d, the test %s it", i, c->lock.v,
			    locked & (1u << i) ? "holds" : "does not hold");
		for (unsigned cls = 0; cls < HM_NCLASS; cls++) {
			unsigned lo = c->lim[cls].lo, hi = c->lim[cls].hi, top = top_of(c, cls);

			unit_assert(lo > prev_hi || (cls == 0 && lo > HM_PCPU_FIRST_SLOT),
				    "cache %u class %u: lo %u overlaps the previous range (ends %u)",
				    i, cls, lo, prev_hi);
			unit_assert(lo - 1 >= HM_PCPU_FIRST_SLOT && hi <= HM_PCPU_NSLOTS,
				    "cache %u class %u: [%u, %u) outside the slots", i, cls, lo, hi);
			unit_assert(hi - lo == hm_class[cls].pcpu_cap,
				    "cache %u class %u: %u slots, capacity %u", i, cls, hi - lo,
				    hm_class[cls].pcpu_cap);
			unit_assert(lo <= top && top <= hi, "cache %u class %u: top %u outside [%u, %u]",
				    i, cls, top, lo, hi);
			unit_assert(pcpu_slots(c)[lo - 1] == NULL, "cache %u class %u: guard is %p",
				    i, cls, pcpu_slots(c)[lo - 1]);
			prev_hi = hi;
			for (unsigned k = lo; k < top; k++) {
				void *p = pcpu_slots(c)[k];
				const struct slab *s;
				uintptr_t off;

				unit_assert(p != NULL, "cache %u class %u slot %u: NULL", i, cls, k);
				unit_assert(hm_in_heap((uintptr_t)p), "cache %u class %u slot %u: %p not in the heap",
					    i, cls, k, p);
				unit_assert(hm_node_of((uintptr_t)p) == c->node,
					    "cache %u (node %u) class %u: %p is of node %u", i, c->node,
					    cls, p, hm_node_of((uintptr_t)p));
				s = unit_slab_of(p);
				unit_assert(s->cls == cls, "cache %u class %u: %p lies in a slab of class %u",
					    i, cls, p, s->cls);
				off = (uintptr_t)p - slab_start(s);
				unit_assert(off % hm_class[cls].size == 0 &&
					    off < (uintptr_t)s->carved * hm_class[cls].size,
					    "cache %u class %u: %p is not a carved object start", i, cls, p);
				unit_assert(!on_freelist(s, p), "cache %u class %u: %p is also on its slab's free list",
					    i, cls, p);
				all[n++] = (uintptr_t)p;
			}
		}
	}
	qsort(all, n, sizeof(all[0]), cmp_ptr);
	for (size_t k = 1; k < n; k++)
		unit_assert(all[k] != all[k - 1], "%p is cached twice", (void *)all[k]);
	for (unsigned cls = 0; cls < HM_NCLASS; cls++) {
		uint64_t sum = 0;

		for (unsigned i = 0; i < NR_CACHES; i++)
			sum += held(pcpu_cache_at(i), cls);
		unit_assert(pcpu_cached_objects(cls) == sum, "class %u: pcpu_cached_objects %lu, caches hold %lu",
			    cls, (unsigned long)pcpu_cached_objects(cls), (unsigned long)sum);
		unit_check_central(0, cls);
		unit_check_central(1, cls);
	}
}

static void check_caches(void)
{
	check_caches_locked(0);
}

/* Exact per-class counts. */
static void assert_counts(unsigned cls, uint64_t na, uint64_t nf)
{
	uint64_t a, f;

	pcpu_class_counts(cls, &a, &f);
	unit_assert(a == na && f == nf, "class %u: counts %lu allocs %lu frees, want %lu and %lu",
		    cls, (unsigned long)a, (unsigned long)f, (unsigned long)na, (unsigned long)nf);
}

static unsigned long all_os_calls(void)
{
	const struct fake_os_calls *k = &fake_os.calls;

	return k->probe + k->reserve + k->commit + k->map_meta + k->decommit + k->purge +
	       k->move + k->getcpu + k->write + k->abort;
}

/* ---- set-up ---- */

START_TEST(caches_are_set_up)
{
	static const unsigned node_of[FAKE_NR_CPUS] = { 0, 0, 1, 1 };

	ck_assert_uint_eq(hm_fe.mode, PCPU_GENERIC);
	ck_assert_uint_eq(hm_fe.nr, NR_CACHES);
	ck_assert_ptr_nonnull(strstr(pcpu_mode_name(), "fallback"));
	ck_assert_ptr_eq(strstr(pcpu_mode_name(), "fallback"), pcpu_mode_name());
	/* Without rseq the inline sections fail at their first test. */
	ck_assert_int_eq(hm_fe.cs_off, 0);
	/* Generic caches have no index guard: base is the caches. */
	ck_assert_ptr_eq(hm_fe.base, hm_fe.caches);
	for (unsigned i = 0; i < NR_CACHES; i++) {
		struct pcpu_cache *c = pcpu_cache_at(i);

		ck_assert_ptr_eq(c, unit_cache(i >> HM_PCPU_WAYS_SHIFT, i & (HM_PCPU_WAYS - 1)));
		ck_assert_ptr_eq((char *)c, hm_fe.caches + (size_t)i * HM_PCPU_SIZE);
		ck_assert_uint_eq((uintptr_t)c % 64, 0);
		ck_assert_uint_eq(c->node, node_of[i >> HM_PCPU_WAYS_SHIFT]);
		ck_assert_uint_eq(c->lim[0].lo, HM_PCPU_FIRST_SLOT + 1);
		for (unsigned cls = 0; cls < HM_NCLASS; cls++) {
			/* Empty, never used: top == lo and no operation counted. */
			ck_assert_uint_eq(c->hdr[cls], c->lim[cls].lo);
			if (cls)
				ck_assert_uint_eq(c->lim[cls].lo, c->lim[cls - 1].hi + 1);
		}
		ck_assert_uint_le(c->lim[HM_NCLASS - 1].hi, HM_PCPU_NSLOTS);
	}
	for (unsigned cpu = 0; cpu < FAKE_NR_CPUS; cpu++)
		ck_assert_uint_eq(hm_heap.cpu_node[cpu], node_of[cpu]);
	for (unsigned cls = 0; cls < HM_NCLASS; cls++) {
		ck_assert_uint_ge(hm_class[cls].pcpu_cap, HM_PCPU_MIN_OBJECTS);
		ck_assert_uint_le(hm_class[cls].pcpu_cap, HM_PCPU_MAX_OBJECTS);
		assert_counts(cls, 0, 0);
		ck_assert_uint_eq(pcpu_cached_objects(cls), 0);
	}
	check_caches();
}
END_TEST

START_TEST(current_cpu_follows_the_source)
{
	unit_on_cpu(3);
	ck_assert_uint_eq(pcpu_current_cpu(), 3);
	ck_assert_uint_eq(pcpu_current_node(), 1);
	ck_assert_uint_eq(fake_os.calls.getcpu, 0);
	unit_on_cpu(1);
	ck_assert_uint_eq(pcpu_current_cpu(), 1);
	ck_assert_uint_eq(pcpu_current_node(), 0);
	ck_assert_uint_eq(fake_os.calls.getcpu, 0);

	/* No CPU in the thread area: getcpu answers. */
	unit_on_cpu_via_getcpu(2);
	ck_assert_uint_ge(pcpu_cpu_raw(), FAKE_NR_CPUS);
	ck_assert_uint_eq(pcpu_current_cpu(), 2);
	ck_assert_uint_eq(fake_os.calls.getcpu, 1);
	ck_assert_uint_eq(pcpu_current_node(), 1);
	ck_assert_ptr_ne(strstr(pcpu_mode_name(), "fallback"), NULL);

	/* An impossible CPU is never used as an index. */
	unit_on_cpu(FAKE_NR_CPUS + 1);
	ck_assert_uint_lt(pcpu_current_cpu(), FAKE_NR_CPUS);
	fake_os.cpu = 1000;
	ck_assert_uint_lt(pcpu_current_cpu(), FAKE_NR_CPUS);
}
END_TEST

/*
 * In an rseq build running generic, the inline fast paths must never
 * touch a cache (they would do it without the lock); in a build without
 * the rseq asm they are the locked generic pop and push.
 */
START_TEST(inline_fast_path_matches_the_build)
{
	unsigned cls = size_class(64);
	struct pcpu_cache *c;
	void *p, *q;

	unit_on_cpu(1);
	p = hm_malloc(64);
	c = mine(1);
	ck_assert_uint_eq(held(c, cls), fill(cls) - 1);
#ifdef PCPU_INLINE_RSEQ
	ck_assert_ptr_null(pcpu_alloc(cls));
	ck_assert(!pcpu_free(cls, p, 0));
	ck_assert_uint_eq(held(c, cls), fill(cls) - 1);
	(void)q;
#else
	q = top_obj(c, cls);
	ck_assert_ptr_eq(pcpu_alloc(cls), q);
	ck_assert_uint_eq(held(c, cls), fill(cls) - 2);
	ck_assert(pcpu_free(cls, q, 0));
	ck_assert(!pcpu_free(cls, q, 0));		/* on top already */
	ck_assert(!pcpu_free(cls, p, 1));		/* wrong node */
	ck_assert_uint_eq(held(c, cls), fill(cls) - 1);
#endif
	hm_free(p);
	ck_assert_uint_eq(held(c, cls), fill(cls));
	check_caches();
}
END_TEST

/*
 * The pop and push every path uses, on a cache the test holds: LIFO,
 * the guard stops the pop, the capacity stops the push, so does the
 * object already on top (a double free), and each single operation adds
 * one to the header's op count.
 */
START_TEST(cache_push_pop_primitives)
{
	unsigned cls = size_class(HM_SMALL_MAX), cap = hm_class[cls].pcpu_cap;
	struct pcpu_cache *c = unit_cache(3, 2);
	void *p[HM_PCPU_MAX_OBJECTS + 1];
	uint64_t h0 = c->hdr[cls];

	ck_assert(hm_trylock(&c->lock));
	ck_assert_ptr_null(pcpu_cache_pop(c, cls));		/* empty: the guard */
	ck_assert_uint_eq(c->hdr[cls], h0);
	on_cpu(3);
	for (unsigned i = 0; i <= cap; i++)
		p[i] = hm_malloc(HM_SMALL_MAX);			/* from another way */
	for (unsigned i = 0; i < cap; i++) {
		ck_assert(pcpu_cache_push(c, cls, p[i]));
		ck_assert(!pcpu_cache_push(c, cls, p[i]));	/* on top already */
		ck_assert_uint_eq(held(c, cls), i + 1);
		ck_assert_uint_eq(ops_of(c, cls), i + 1);
	}
	ck_assert(!pcpu_cache_push(c, cls, p[cap]));		/* full */
	ck_assert_uint_eq(held(c, cls), cap);
	ck_assert_ptr_eq(top_obj(c, cls), p[cap - 1]);
	for (unsigned i = cap; i-- > 0;) {
		ck_assert_ptr_eq(pcpu_cache_pop(c, cls), p[i]);
		ck_assert_uint_eq(held(c, cls), i);
		ck_assert_uint_eq(ops_of(c, cls), 2 * cap - i);
	}
	ck_assert_ptr_null(pcpu_cache_pop(c, cls));
	ck_assert_uint_eq(ops_of(c, cls), 2 * cap);
	/* Neighbouring classes were not touched. */
	for (unsigned k = 0; k < HM_NCLASS; k++)
		if (k != cls)
			ck_assert_uint_eq(c->hdr[k], c->lim[k].lo);
	pcpu_unlock(c);
	for (unsigned i = 0; i <= cap; i++)
		hm_free(p[i]);
	assert_counts(cls, cap + 1 + cap, cap + 1 + cap);
	check_caches();
}
END_TEST

/* ---- slow paths ---- */

START_TEST(fast_paths_make_no_calls)
{
	unsigned cls = size_class(64);
	void *p[8];

	unit_on_cpu(1);
	hm_free(hm_malloc(64));			/* the refill may ask the OS */
	ck_assert_uint_eq(held(mine(1), cls), fill(cls));
	fake_os_reset_counts();
	for (unsigned i = 0; i < 8; i++)
		p[i] = hm_malloc(64);
	ck_assert_uint_eq(held(mine(1), cls), fill(cls) - 8);
	for (unsigned i = 0; i < 8; i++)
		hm_free(p[i]);
	ck_assert_uint_eq(all_os_calls(), 0);
	ck_assert_uint_eq(held(mine(1), cls), fill(cls));
	/* The refill is a batch (not an op), the first free one push, then 16. */
	ck_assert_uint_eq(ops_of(mine(1), cls), 1 + 16);

	/* Without a CPU in the thread area, each slow path asks getcpu once. */
	unit_on_cpu_via_getcpu(1);
	p[0] = hm_malloc(64);
	ck_assert_uint_eq(fake_os.calls.getcpu, 1);
	ck_assert_uint_eq(held(mine(1), cls), fill(cls) - 1);
	hm_free(p[0]);
	ck_assert_uint_eq(fake_os.calls.getcpu, 2);
	ck_assert_uint_eq(held(mine(1), cls), fill(cls));
	ck_assert_uint_eq(all_os_calls(), 2);
	check_caches();
}
END_TEST

START_TEST(refill_then_pop)
{
	unsigned cls = size_class(64), h = fill(cls);
	struct pcpu_cache *c;
	void *p[80];

	set_mode(_i);
	c = mine(0);

	p[0] = hm_malloc(64);
	/* The refill from a fresh slab filled the cache; one went out. */
	ck_assert_uint_eq(held(c, cls), h - 1);
	ck_assert_uint_eq(slab_used(0, cls), h);
	ck_assert_uint_eq(unit_stat(ST_REFILL), HM_STATS_ENABLED);
	ck_assert(!in_some_cache(p[0]));
	ck_assert_ptr_eq(p[0], (void *)slab_start(unit_slab_of(p[0])));	/* lowest first */
	for (unsigned i = 1; i < h; i++) {
		void *want = top_obj(c, cls);

		p[i] = hm_malloc(64);
		unit_assert(p[i] == want, "malloc %u: got %p, the top was %p", i, p[i], want);
		unit_assert(p[i] == (char *)p[0] + i * hm_class[cls].size,
			    "malloc %u: %p is not the next object", i, p[i]);
		unit_assert(held(c, cls) == h - 1 - i, "malloc %u: cache holds %u", i, held(c, cls));
	}
	ck_assert_uint_eq(held(c, cls), 0);
	ck_assert_uint_eq(slab_used(0, cls), h);
	p[h] = hm_malloc(64);				/* empty: refill again */
	ck_assert_uint_eq(held(c, cls), h - 1);
	ck_assert_uint_eq(slab_used(0, cls), 2 * h);
	ck_assert_uint_eq(unit_stat(ST_REFILL), 2 * HM_STATS_ENABLED);
	ck_assert_ptr_eq(p[h], (char *)p[0] + h * hm_class[cls].size);
	/* Other caches and classes are untouched. */
	for (unsigned i = 0; i < NR_CACHES; i++)
		if (pcpu_cache_at(i) != c)
			ck_assert_uint_eq(held(pcpu_cache_at(i), cls), 0);
	ck_assert_uint_eq(held(c, size_class(128)), 0);
	ck_assert_uint_eq(pcpu_cached_objects(cls), h - 1);
	ck_assert_uint_eq(slab_used_all(cls), (h + 1) + pcpu_cached_objects(cls));
	assert_counts(cls, h + 1, 0);
	check_caches();
}
END_TEST

START_TEST(free_pushes_and_drains_half)
{
	unsigned cls = size_class(64), cap = hm_class[cls].pcpu_cap, h = half(cls), f = fill(cls);
	void *p[200], *snap[HM_PCPU_MAX_OBJECTS];
	unsigned model = 0, n = 2 * cap + 10;
	uint64_t drains = 0;
	struct pcpu_cache *c;

	set_mode(_i);
	c = mine(0);

	ck_assert_uint_le(n, ARRAY_SIZE(p));
	/* A model of the cache, step by step. */
	for (unsigned i = 0; i < n; i++) {
		p[i] = hm_malloc(64);
		model = model ? model - 1 : f - 1;
		unit_assert(held(c, cls) == model, "malloc %u: cache holds %u, model %u",
			    i, held(c, cls), model);
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t before = slab_used(0, cls);
		unsigned lo = c->lim[cls].lo;

		memcpy(snap, pcpu_slots(c) + lo, model * sizeof(void *));
		hm_free(p[i]);
		if (model < cap) {
			model++;
			unit_assert(slab_used(0, cls) == before, "free %u: went past the cache", i);
			unit_assert(memcmp(snap, pcpu_slots(c) + lo, (model - 1) * sizeof(void *)) == 0,
				    "free %u: the objects below the top moved", i);
		} else {
			/* The oldest half went back; the rest moved down, in order. */
			model = model - h + 1;
			drains++;
			unit_assert(slab_used(0, cls) == before - h,
				    "free %u: drain gave back %lu, want %u", i,
				    (unsigned long)(before - slab_used(0, cls)), h);
			unit_assert(memcmp(snap + h, pcpu_slots(c) + lo, (cap - h) * sizeof(void *)) == 0,
				    "free %u: the drain did not keep the newest half in order", i);
			for (unsigned k = 0; k < h; k++)
				unit_assert(on_freelist(unit_slab_of(snap[k]), snap[k]),
					    "free %u: drained object %u (%p) is not on its slab's free list",
					    i, k, snap[k]);
		}
		unit_assert(held(c, cls) == model, "free %u: cache holds %u, model %u",
			    i, held(c, cls), model);
		unit_assert(top_obj(c, cls) == p[i], "free %u: %p is not on top of the cache", i, p[i]);
	}
	ck_assert_uint_ge(drains, 2);
	ck_assert_uint_eq(unit_stat(ST_DRAIN), drains * HM_STATS_ENABLED);
	ck_assert_uint_eq(slab_used(0, cls), held(c, cls));
	assert_counts(cls, n, n);
	check_caches();
	/* The cache holds the last freed, hottest objects: they come back first. */
	ck_assert_ptr_eq(hm_malloc(64), p[n - 1]);
	ck_assert_ptr_eq(hm_malloc(64), p[n - 2]);
	assert_counts(cls, n + 2, n);
	check_caches();
}
END_TEST

/* The smallest caches (4 objects) refill and drain the same way. */
START_TEST(small_capacity_class)
{
	unsigned cls = size_class(HM_SMALL_MAX), cap = hm_class[cls].pcpu_cap, h = fill(cls);
	struct pcpu_cache *c;
	void *p[12];

	set_mode(_i);
	c = mine(0);
	ck_assert_uint_eq(cap, HM_PCPU_MIN_OBJECTS);
	for (unsigned i = 0; i < ARRAY_SIZE(p); i++) {
		p[i] = hm_malloc(HM_SMALL_MAX);
		ck_assert_ptr_nonnull(p[i]);
		ck_assert_uint_eq(hm_usable_size(p[i]), hm_class[cls].size);
		ck_assert_uint_eq(held(c, cls), i % h == 0 ? h - 1 : h - 1 - i % h);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(p); i++) {
		hm_free(p[i]);
		ck_assert_uint_le(held(c, cls), cap);
		ck_assert_ptr_eq(top_obj(c, cls), p[i]);
		check_caches();
	}
	ck_assert_uint_eq(slab_used_all(cls), held(c, cls));
	assert_counts(cls, ARRAY_SIZE(p), ARRAY_SIZE(p));
}
END_TEST

START_TEST(each_cpu_has_its_cache)
{
	unsigned cls = size_class(200), h = fill(cls);
	void *a, *b, *c, *d;

	set_mode(_i);

	on_cpu(0);
	a = hm_malloc(200);
	on_cpu(1);
	b = hm_malloc(200);
	on_cpu(2);
	c = hm_malloc(200);
	on_cpu(3);
	d = hm_malloc(200);
	ck_assert_uint_eq(hm_node_of((uintptr_t)a), 0);
	ck_assert_uint_eq(hm_node_of((uintptr_t)b), 0);
	ck_assert_uint_eq(hm_node_of((uintptr_t)c), 1);
	ck_assert_uint_eq(hm_node_of((uintptr_t)d), 1);
	for (unsigned cpu = 0; cpu < FAKE_NR_CPUS; cpu++) {
		ck_assert_uint_eq(unit_cached(cpu, cls), h - 1);
		ck_assert_uint_eq(held(mine(cpu), cls), h - 1);
	}
	check_caches();

	/* CPU 1 frees CPU 0's object: same node, so into CPU 1's cache. */
	on_cpu(1);
	hm_free(a);
	ck_assert_uint_eq(unit_cached(1, cls), h);
	ck_assert_uint_eq(unit_cached(0, cls), h - 1);
	ck_assert_ptr_eq(top_obj(mine(1), cls), a);

	/* CPU 1 frees node 1's object: straight to node 1's central list. */
	hm_free(c);
	ck_assert_uint_eq(unit_cached(1, cls), h);
	ck_assert_uint_eq(unit_cached(2, cls), h - 1);
	ck_assert_uint_eq(unit_cached(3, cls), h - 1);
	ck_assert_ptr_eq(unit_slab_of(c)->freelist, c);
	ck_assert(!in_some_cache(c));
	ck_assert_uint_eq(unit_stat(ST_REMOTE_FREE), HM_STATS_ENABLED);

	/* CPU 3 frees node 0's object: remote too. */
	on_cpu(3);
	hm_free(b);
	ck_assert_uint_eq(unit_cached(3, cls), h - 1);
	ck_assert_ptr_eq(unit_slab_of(b)->freelist, b);
	ck_assert_uint_eq(unit_stat(ST_REMOTE_FREE), 2 * HM_STATS_ENABLED);
	/* And its own node's object goes to its own cache. */
	hm_free(d);
	ck_assert_uint_eq(unit_cached(3, cls), h);
	ck_assert_ptr_eq(top_obj(mine(3), cls), d);
	assert_counts(cls, 4, 4);
	ck_assert_uint_eq(slab_used_all(cls), pcpu_cached_objects(cls));
	check_caches();
}
END_TEST

START_TEST(busy_cache_uses_another_way)
{
	unsigned cls = size_class(64), h = fill(cls);
	void *p, *q, *r;

	set_mode(_i);

	p = hm_malloc(64);
	ck_assert_uint_eq(held(mine(0), cls), h - 1);
	ck_assert_uint_eq(held(next_way(0), cls), 0);
	ck_assert(hm_trylock(&mine(0)->lock));		/* someone holds our way */
	q = hm_malloc(64);				/* the next way refills */
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(held(mine(0), cls), h - 1);
	ck_assert_uint_eq(held(next_way(0), cls), h - 1);
	ck_assert_uint_eq(unit_stat(ST_PCPU_BUSY), 0);
	check_caches_locked(1u << pcpu_index(0, my_way()));
	hm_free(q);					/* back to the next way */
	ck_assert_uint_eq(held(next_way(0), cls), h);
	ck_assert_ptr_eq(top_obj(next_way(0), cls), q);
	r = hm_malloc(64);				/* and out of it again */
	ck_assert_ptr_eq(r, q);
	ck_assert_uint_eq(held(next_way(0), cls), h - 1);
	hm_unlock(&mine(0)->lock);
	hm_free(p);
	ck_assert_uint_eq(held(mine(0), cls), h);
	ck_assert_uint_eq(held(next_way(0), cls), h - 1);
	ck_assert_uint_eq(unit_stat(ST_PCPU_BUSY), 0);
	assert_counts(cls, 3, 2);
	check_caches();
}
END_TEST

START_TEST(all_ways_busy_goes_central)
{
	unsigned cls = size_class(64), h = fill(cls);
	uint32_t locked = 0;
	void *p, *q;

	set_mode(_i);
	on_cpu(2);					/* node 1 */

	p = hm_malloc(64);
	for (unsigned w = 0; w < HM_PCPU_WAYS; w++) {	/* every cache of CPU 2 held */
		ck_assert(hm_trylock(&unit_cache(2, w)->lock));
		locked |= 1u << pcpu_index(2, w);
	}
	q = hm_malloc(64);				/* served centrally */
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(hm_node_of((uintptr_t)q), 1);
	ck_assert(!in_some_cache(q));
	ck_assert_uint_eq(unit_cached(2, cls), h - 1);
	ck_assert_uint_eq(slab_used(1, cls), h + 1);
	ck_assert_uint_eq(unit_stat(ST_PCPU_BUSY), HM_STATS_ENABLED);
	assert_counts(cls, 2, 0);
	hm_free(q);					/* also central */
	ck_assert_uint_eq(unit_cached(2, cls), h - 1);
	ck_assert(on_freelist(unit_slab_of(q), q));
	ck_assert_uint_eq(slab_used(1, cls), h);
	ck_assert_uint_eq(unit_stat(ST_PCPU_BUSY), 2 * HM_STATS_ENABLED);
	assert_counts(cls, 2, 1);
	check_caches_locked(locked);
	for (unsigned w = 0; w < HM_PCPU_WAYS; w++) {
		ck_assert_uint_eq(held(unit_cache(2, w), cls), w == my_way() ? h - 1 : 0u);
		hm_unlock(&unit_cache(2, w)->lock);
	}
	/* Other CPUs' caches were never an option. */
	for (unsigned cpu = 0; cpu < FAKE_NR_CPUS; cpu++)
		if (cpu != 2)
			ck_assert_uint_eq(unit_cached(cpu, cls), 0);
	hm_free(p);
	ck_assert_uint_eq(held(mine(2), cls), h);
	assert_counts(cls, 2, 2);
	check_caches();
}
END_TEST

START_TEST(drain_all_empties_every_cache)
{
	static const size_t n[] = { 16, 64, 200, 1000, 4096, 30000 };
	void *p[FAKE_NR_CPUS][ARRAY_SIZE(n)][10];

	set_mode(_i);

	for (unsigned cpu = 0; cpu < FAKE_NR_CPUS; cpu++) {
		on_cpu(cpu);
		for (unsigned k = 0; k < ARRAY_SIZE(n); k++)
			for (unsigned i = 0; i < 10; i++)
				p[cpu][k][i] = hm_malloc(n[k]);
		for (unsigned k = 0; k < ARRAY_SIZE(n); k++)
			for (unsigned i = 0; i < 5; i++)
				hm_free(p[cpu][k][i]);
	}
	/* A second way holds something too. */
	on_cpu(1);
	ck_assert(hm_trylock(&mine(1)->lock));
	hm_free(hm_malloc(64));
	hm_unlock(&mine(1)->lock);
	ck_assert_uint_gt(held(next_way(1), size_class(64)), 0);
	check_caches();
	for (unsigned k = 0; k < ARRAY_SIZE(n); k++)
		ck_assert_uint_gt(pcpu_cached_objects(size_class(n[k])), 0);

	pcpu_drain_all();
	for (unsigned i = 0; i < NR_CACHES; i++)
		for (unsigned c = 0; c < HM_NCLASS; c++)
			unit_assert(held(pcpu_cache_at(i), c) == 0, "cache %u class %u holds %u",
				    i, c, held(pcpu_cache_at(i), c));
	check_caches();				/* also: every lock released */
	/* What the slabs count as handed out is exactly what is still live. */
	for (unsigned k = 0; k < ARRAY_SIZE(n); k++) {
		unsigned cls = size_class(n[k]);

		ck_assert_uint_eq(pcpu_cached_objects(cls), 0);
		ck_assert_uint_eq(slab_used(0, cls), 2 * 5);
		ck_assert_uint_eq(slab_used(1, cls), 2 * 5);
		/* Draining moves objects, it neither allocates nor frees. */
		assert_counts(cls, FAKE_NR_CPUS * 10 + (cls == size_class(64)),
			      FAKE_NR_CPUS * 5 + (cls == size_class(64)));
	}
	/* The caches work again afterwards. */
	on_cpu(0);
	hm_free(p[0][1][5]);
	ck_assert_ptr_eq(top_obj(mine(0), size_class(64)), p[0][1][5]);
	ck_assert_ptr_eq(hm_malloc(64), p[0][1][5]);
	for (unsigned cpu = 0; cpu < FAKE_NR_CPUS; cpu++) {
		on_cpu(cpu);
		for (unsigned k = 0; k < ARRAY_SIZE(n); k++)
			for (unsigned i = 5; i < 10; i++)
				hm_free(p[cpu][k][i]);
	}
	pcpu_drain_all();
	for (unsigned k = 0; k < ARRAY_SIZE(n); k++) {
		unsigned cls = size_class(n[k]);

		ck_assert_uint_eq(slab_used(0, cls), 0);
		ck_assert_uint_eq(slab_used(1, cls), 0);
		ck_assert_uint_eq(pcpu_cached_objects(cls), 0);
	}
	check_caches();
	unit_check_node(0);
	unit_check_node(1);
}
END_TEST

/*
 * pcpu_class_counts() over a scripted sequence: refills, pops, pushes,
 * drains, frees into another CPU's cache, remote frees, direct central
 * operations with every way busy, another way, trim.
 */
START_TEST(class_counts_match)
{
	unsigned a = size_class(100), b = size_class(3000), other = size_class(16);
	uint64_t na = 0, nf = 0;
	void *p[300], *q[50], *r, *s[3];

	set_mode(_i);
	ck_assert_uint_ne(a, b);
	ck_assert_uint_ne(a, other);

	for (unsigned i = 0; i < 300; i++)
		p[i] = hm_malloc(100);
	na = 300;
	assert_counts(a, na, nf);
	for (unsigned i = 0; i < 120; i++)
		hm_free(p[i]);
	nf = 120;
	assert_counts(a, na, nf);
	ck_assert_uint_ge(unit_stat(ST_DRAIN), HM_STATS_ENABLED);
	on_cpu(1);
	for (unsigned i = 0; i < 50; i++)
		q[i] = hm_malloc(3000);
	for (unsigned i = 120; i < 200; i++)
		hm_free(p[i]);
	nf = 200;
	assert_counts(a, na, nf);
	assert_counts(b, 50, 0);
	check_caches();
	ck_assert_uint_eq(slab_used_all(a), (na - nf) + pcpu_cached_objects(a));
	ck_assert_uint_eq(slab_used_all(b), 50 + pcpu_cached_objects(b));

	/* A remote free (node 1's object on node 0) is counted. */
	on_cpu(3);
	r = hm_malloc(100);
	na++;
	on_cpu(0);
	hm_free(r);
	nf++;
	assert_counts(a, na, nf);

	/* So are direct central operations with every way busy. */
	for (unsigned w = 0; w < HM_PCPU_WAYS; w++)
		ck_assert(hm_trylock(&unit_cache(0, w)->lock));
	s[0] = hm_malloc(100);
	na++;
	assert_counts(a, na, nf);
	hm_free(s[0]);
	nf++;
	assert_counts(a, na, nf);
	for (unsigned w = 0; w < HM_PCPU_WAYS; w++)
		hm_unlock(&unit_cache(0, w)->lock);

	/* And another way's refill, pops and pushes. */
	ck_assert(hm_trylock(&mine(0)->lock));
	s[1] = hm_malloc(100);
	s[2] = hm_malloc(100);
	na += 2;
	hm_free(s[1]);
	nf++;
	hm_unlock(&mine(0)->lock);
	assert_counts(a, na, nf);
	check_caches();

	/* Draining moves objects, it does not free them again. */
	pcpu_drain_all();
	assert_counts(a, na, nf);
	assert_counts(b, 50, 0);
	assert_counts(other, 0, 0);
	ck_assert_uint_eq(pcpu_cached_objects(a), 0);
	ck_assert_uint_eq(slab_used_all(a), na - nf);

	/* Free everything still live, from several CPUs. */
	for (unsigned i = 200; i < 300; i++) {
		on_cpu(i % FAKE_NR_CPUS);
		hm_free(p[i]);
	}
	hm_free(s[2]);
	nf += 101;
	assert_counts(a, na, nf);
	ck_assert_uint_eq(na, nf);
	for (unsigned i = 0; i < 50; i++)
		hm_free(q[i]);
	assert_counts(b, 50, 50);
	ck_assert_uint_eq(slab_used_all(a), pcpu_cached_objects(a));
	ck_assert_uint_eq(slab_used_all(b), pcpu_cached_objects(b));
	for (unsigned cls = 0; cls < HM_NCLASS; cls++)
		if (cls != a && cls != b)
			assert_counts(cls, 0, 0);
	check_caches();
}
END_TEST

/* A random walk against a simple model of the live objects. */
START_TEST(random_walk_keeps_the_invariants)
{
	static const size_t sizes[] = { 16, 48, 100, 640, 5000, HM_SMALL_MAX };
	enum { N = 600 };
	static void *live[N];
	static unsigned live_cls[N];
	uint64_t na[HM_NCLASS] = { 0 }, nf[HM_NCLASS] = { 0 };
	uint64_t outstanding[HM_NCLASS] = { 0 };
	uint32_t locked = 0;

	set_mode(_i);
	memset(live, 0, sizeof(live));
	unit_srand(0x1234u + (uint32_t)_i);
	for (unsigned step = 0; step < 20000; step++) {
		unsigned k = unit_rand() % N, r = unit_rand() % 100;

		if (r < 5) {
			on_cpu(unit_rand() % FAKE_NR_CPUS);
		} else if (r < 7) {
			unsigned i = unit_rand() % NR_CACHES;

			if (locked & (1u << i)) {
				hm_unlock(&pcpu_cache_at(i)->lock);
				locked &= ~(1u << i);
			} else {
				ck_assert(hm_trylock(&pcpu_cache_at(i)->lock));
				locked |= 1u << i;
			}
		} else if (live[k]) {
			unsigned cls = live_cls[k];

			unit_assert(*(uint32_t *)live[k] == k * 2654435761u,
				    "step %u: object %u at %p overwritten", step, k, live[k]);
			hm_free(live[k]);
			live[k] = NULL;
			nf[cls]++;
			outstanding[cls]--;
		} else {
			size_t n = sizes[unit_rand() % ARRAY_SIZE(sizes)];

			live[k] = hm_malloc(n);
			unit_assert(live[k] != NULL, "step %u: malloc(%zu) failed", step, n);
			live_cls[k] = size_class(n);
			*(uint32_t *)live[k] = k * 2654435761u;
			na[live_cls[k]]++;
			outstanding[live_cls[k]]++;
		}
		if (step % 1000 == 999) {
			check_caches_locked(locked);
			for (unsigned i = 0; i < N; i++)
				unit_assert(!live[i] || !in_some_cache(live[i]),
					    "step %u: live object %p is cached", step, live[i]);
			for (unsigned cls = 0; cls < HM_NCLASS; cls++) {
				assert_counts(cls, na[cls], nf[cls]);
				unit_assert(slab_used_all(cls) == outstanding[cls] + pcpu_cached_objects(cls),
					    "step %u class %u: slabs hand out %lu, %lu live + %lu cached",
					    step, cls, (unsigned long)slab_used_all(cls),
					    (unsigned long)outstanding[cls],
					    (unsigned long)pcpu_cached_objects(cls));
			}
		}
	}
	for (unsigned i = 0; i < NR_CACHES; i++)
		if (locked & (1u << i))
			hm_unlock(&pcpu_cache_at(i)->lock);
	for (unsigned i = 0; i < N; i++)
		if (live[i]) {
			nf[live_cls[i]]++;
			hm_free(live[i]);
		}
	pcpu_drain_all();
	check_caches();
	for (unsigned cls = 0; cls < HM_NCLASS; cls++) {
		assert_counts(cls, na[cls], nf[cls]);
		ck_assert_uint_eq(slab_used_all(cls), 0);
	}
	unit_check_node(0);
	unit_check_node(1);
}
END_TEST

START_TEST(memalign_uses_the_cache)
{
	int cls = size_class_aligned(100, 64);
	void *p, *q;

	set_mode(_i);

	ck_assert_int_ge(cls, 0);
	p = hm_memalign(64, 100);
	ck_assert_uint_eq((uintptr_t)p % 64, 0);
	ck_assert_uint_eq(held(mine(0), (unsigned)cls), fill((unsigned)cls) - 1);
	q = top_obj(mine(0), (unsigned)cls);
	ck_assert_ptr_eq(hm_memalign(64, 100), q);
	ck_assert_uint_eq((uintptr_t)q % 64, 0);
	hm_free(q);
	hm_free(p);
	ck_assert_uint_eq(held(mine(0), (unsigned)cls), fill((unsigned)cls));
	ck_assert_ptr_eq(top_obj(mine(0), (unsigned)cls), p);
	assert_counts((unsigned)cls, 2, 2);
	check_caches();
}
END_TEST

/* fork(): every cache lock is taken before, released or reset after. */
START_TEST(fork_locks_every_cache)
{
	void *p = hm_malloc(64);

	pcpu_fork_prepare();
	for (unsigned i = 0; i < NR_CACHES; i++)
		ck_assert_int_ne(pcpu_cache_at(i)->lock.v, 0);
	if (_i)
		pcpu_fork_child();
	else
		pcpu_fork_parent();
	check_caches();
	hm_free(p);
	ck_assert_ptr_eq(top_obj(mine(0), size_class(64)), p);
	check_caches();
}
END_TEST

/*
 * HAKMEM_PERCPU=off is chosen at start-up; the state it leaves is
 * hm_fe.mode == PCPU_OFF with no cache open (hm_fe.nr == 0).  Every
 * operation goes to the central lists and no cache is touched.
 */
START_TEST(caches_off_goes_central)
{
	unsigned cls = size_class(64);
	uint32_t saved_mode = hm_fe.mode, saved_nr = hm_fe.nr;
	static uint64_t hdr[NR_CACHES][HM_NCLASS];
	void *p[100];
	uint64_t na, nf;

	for (unsigned i = 0; i < NR_CACHES; i++)
		memcpy(hdr[i], pcpu_cache_at(i)->hdr, sizeof(hdr[i]));
	hm_fe.mode = PCPU_OFF;
	hm_fe.nr = 0;
	ck_assert_ptr_eq(strstr(pcpu_mode_name(), "off"), pcpu_mode_name());
	for (unsigned i = 0; i < 100; i++) {
		on_cpu(i % FAKE_NR_CPUS);
		p[i] = hm_malloc(64);
		ck_assert_ptr_nonnull(p[i]);
		ck_assert_uint_eq(hm_node_of((uintptr_t)p[i]), hm_heap.cpu_node[i % FAKE_NR_CPUS]);
	}
	ck_assert_uint_eq(slab_used_all(cls), 100);
	for (unsigned i = 0; i < 100; i += 2) {
		on_cpu(0);
		hm_free(p[i]);
		ck_assert(on_freelist(unit_slab_of(p[i]), p[i]));
	}
	/* Nothing is cached anywhere: the slabs count only the live objects. */
	ck_assert_uint_eq(slab_used_all(cls), 50);
	pcpu_class_counts(cls, &na, &nf);
	ck_assert_uint_eq(na, 100);
	ck_assert_uint_eq(nf, 50);
	pcpu_drain_all();				/* nothing to do */
	for (unsigned i = 1; i < 100; i += 2)
		hm_free(p[i]);
	ck_assert_uint_eq(slab_used_all(cls), 0);
	for (unsigned i = 0; i < NR_CACHES; i++)
		ck_assert_int_eq(memcmp(hdr[i], pcpu_cache_at(i)->hdr, sizeof(hdr[i])), 0);
	ck_assert_int_eq(hm_trim(0), 1);
	unit_check_node(0);
	unit_check_node(1);
	hm_fe.mode = saved_mode;
	hm_fe.nr = saved_nr;
	check_caches();
}
END_TEST

/* ---- double frees: free() must stop the program ---- */

static void expect_double_free_abort(void)
{
	fake_os.quiet = 1;
	fake_os.expect_abort = "double free detected";
}

START_TEST(double_free_on_top_aborts)
{
	void *p;

	set_mode(_i);
	p = hm_malloc(64);
	hm_free(p);
	ck_assert_ptr_eq(top_obj(mine(0), size_class(64)), p);
	hm_free(p);
	ck_abort_msg("the second free of %p returned", p);
}
END_TEST

/* The check comes before the drain of a full cache. */
START_TEST(double_free_on_full_cache_aborts)
{
	unsigned cls = size_class(64), cap = hm_class[cls].pcpu_cap;
	void *p[HM_PCPU_MAX_OBJECTS + 1];

	set_mode(_i);
	for (unsigned i = 0; i <= cap; i++)
		p[i] = hm_malloc(64);
	while (held(mine(0), cls) < cap)
		hm_free(p[cap - held(mine(0), cls)]);
	ck_assert_uint_eq(held(mine(0), cls), cap);
	hm_free(top_obj(mine(0), cls));
	ck_abort_msg("the second free of a full cache's top returned");
}
END_TEST

/* Not a double free: an empty class's guard never matches, nor another way's top. */
START_TEST(no_false_double_free)
{
	unsigned cls = size_class(64);
	void *p, *q;

	set_mode(_i);
	p = hm_malloc(64);
	q = hm_malloc(64);
	pcpu_drain_all();
	ck_assert_uint_eq(held(mine(0), cls), 0);
	hm_free(p);				/* onto an empty stack */
	ck_assert_ptr_eq(top_obj(mine(0), cls), p);
	hm_free(q);
	ck_assert_ptr_eq(top_obj(mine(0), cls), q);
	ck_assert_uint_eq(fake_os.calls.abort, 0);
	check_caches();
}
END_TEST

#ifdef PCPU_INLINE_RSEQ
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

/* A batch move on cache idx, retried while a preemption aborts it. */
static long batch(bool push, unsigned idx, unsigned cls, void **objs, unsigned n)
{
	for (int tries = 0; tries < 1000; tries++) {
		long k = push ? pcpu_push_batch(idx, cls, objs, n) : pcpu_pop_batch(idx, cls, objs, n);

		if (k >= 0)
			return k;
	}
	return -1;
}

/*
 * Pin the thread to the CPU it runs on and point the front end at glibc's
 * rseq area, so the rseq sections act on that CPU's cache: its index, or
 * -1 (and a note why) when glibc registered no area (valgrind).
 */
static int rseq_on_this_cpu(void)
{
	cpu_set_t set;
	int cpu;

	if (!&__rseq_offset || !&__rseq_size || !__rseq_size) {
		fprintf(stderr, "# skipped: glibc registered no rseq area\n");
		return -1;
	}
	cpu = *(volatile int *)((char *)__builtin_thread_pointer() + __rseq_offset +
				RSEQ_OFF_CPU_ID);
	if (cpu < 0 || (unsigned)cpu >= NR_CACHES) {
		fprintf(stderr, "# skipped: rseq cpu_id %d\n", cpu);
		return -1;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(set), &set), 0);
	hm_fe.idx_off = __rseq_offset + RSEQ_OFF_CPU_ID;
	hm_fe.cs_off = __rseq_offset + RSEQ_OFF_RSEQ_CS;
	return cpu;
}

/*
 * One pop and one push, each in a function of its own as in malloc() and
 * free().  (gcc 12, inlining the pop into a retry loop like the one
 * below, put the asm goto output's register copy on the failure edge only,
 * and the loop returned a stale register; tools/testing/build/build.sh
 * checks the library's own pops for that.)
 */
static __attribute__((noinline)) void *pop_once(unsigned cls)
{
	return arch_pcpu_pop(cls);
}

static __attribute__((noinline)) int push_once(unsigned cls, void *p, unsigned node)
{
	return arch_pcpu_push(cls, p, node);
}

/* An inline push (or, with p NULL, pop), retried while preemption aborts it. */
static void *single(unsigned cls, void *p, unsigned node)
{
	for (int tries = 0; tries < 1000; tries++) {
		if (!p) {
			void *q = pop_once(cls);

			if (q)
				return q;
		} else if (push_once(cls, p, node)) {
			return p;
		}
	}
	return NULL;
}

/*
 * The inline pop and push (arch/x86_64/include/asm/percpu.h) on glibc's
 * rseq registration: a push puts the object in the slot at the top and
 * commits the header one higher with one operation more, a pop hands the
 * top object back and commits it one lower, last in first out.  A pop of
 * an empty stack, a push on a full one, a push of the object on top (a
 * double free) and one of another node's object fail and change nothing;
 * the other classes are never touched.
 */
START_TEST(rseq_single_moves_commit_one_header)
{
	unsigned cls = size_class(64), cap, lo, node;
	void *obj[HM_PCPU_MAX_OBJECTS + 1];
	uint64_t other, before;
	struct pcpu_cache *c;
	int cpu = rseq_on_this_cpu();

	if (cpu < 0)
		return;
	c = pcpu_cache_at((unsigned)cpu);
	node = c->node;
	cap = c->lim[cls].hi - c->lim[cls].lo;
	lo = c->lim[cls].lo;
	other = c->hdr[cls + 1];
	c->hdr[cls] = lo;
	for (unsigned i = 0; i <= cap; i++)
		obj[i] = (void *)(uintptr_t)(0x10000 * (i + 1));
	ck_assert_ptr_null(single(cls, NULL, node));		/* empty */
	ck_assert_uint_eq(c->hdr[cls], lo);
	for (unsigned i = 0; i < cap; i++) {
		ck_assert_ptr_eq(single(cls, obj[i], node), obj[i]);
		ck_assert_ptr_eq(pcpu_slots(c)[lo + i], obj[i]);
		ck_assert_uint_eq(pcpu_top(c->hdr[cls]), lo + i + 1);
		ck_assert_uint_eq(c->hdr[cls] >> HM_PCPU_OPS_SHIFT, i + 1);
	}
	before = c->hdr[cls];
	ck_assert_ptr_null(single(cls, obj[cap], node));	/* full */
	ck_assert_uint_eq(c->hdr[cls], before);
	ck_assert_ptr_eq(single(cls, NULL, node), obj[cap - 1]);
	before = c->hdr[cls];
	ck_assert_ptr_null(single(cls, obj[cap - 2], node));	/* on top: a double free */
	ck_assert_ptr_null(single(cls, obj[cap], node + 1));	/* another node's */
	ck_assert_uint_eq(c->hdr[cls], before);
	for (unsigned i = cap - 1; i-- > 0;) {
		ck_assert_ptr_eq(single(cls, NULL, node), obj[i]);
		ck_assert_uint_eq(pcpu_top(c->hdr[cls]), lo + i);
	}
	ck_assert_ptr_null(single(cls, NULL, node));
	ck_assert_uint_eq(c->hdr[cls], lo + ((uint64_t)2 * cap << HM_PCPU_OPS_SHIFT));
	ck_assert_uint_eq(c->hdr[cls + 1], other);
	ck_assert_ptr_null(pcpu_slots(c)[lo - 1]);		/* the guard */
}
END_TEST

/*
 * The index guard (include/hakmem/pcpu-abi.h), laid out as pcpu_setup()
 * lays it out in the rseq modes: HM_PCPU_BELOW read-only zero caches, the
 * caches (here a copy of the unit's), then NR_CACHES + HM_PCPU_BELOW more
 * zero caches.  The inline sections compare the index with nothing, so the
 * index of a thread without a registration (-1, -2) must fail pop and push
 * on the zero caches below; so must every index while hm_fe.base points
 * HM_PCPU_BELOW caches into the upper ones (closed).  The guard is
 * read-only: a section that stored into it would fault, and one that read
 * the index without its sign would run 64 TiB past the mapping.
 */
static __thread int32_t stray_idx;

/* With cache index v: pop, and push of b for node and for node 0, fail. */
static void sections_fail_at(int32_t v, unsigned cls, void *b, unsigned node, const char *when)
{
	stray_idx = v;
	unit_assert(!pop_once(cls), "%sindex %d: pop", when, v);
	unit_assert(!push_once(cls, b, node), "%sindex %d: push", when, v);
	unit_assert(!push_once(cls, b, 0), "%sindex %d: push, node 0", when, v);
}

START_TEST(rseq_index_guard_fails_unregistered_and_closed)
{
	size_t one = (size_t)1 << HM_PCPU_SHIFT, clen = NR_CACHES * one;
	size_t below = HM_PCPU_BELOW * one, len = below + clen + clen + below;
	unsigned cls = size_class(64), node;
	void *a = (void *)0x10000, *b = (void *)0x20000;
	char *m, *caches, *saved = hm_fe.base;
	struct pcpu_cache *c;
	long saved_idx;
	uint64_t h;
	int cpu = rseq_on_this_cpu();

	if (cpu < 0)
		return;
	saved_idx = hm_fe.idx_off;
	m = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	caches = m + below;
	ck_assert_int_eq(mprotect(caches, clen, PROT_READ | PROT_WRITE), 0);
	memcpy(caches, hm_fe.caches, clen);
	c = (struct pcpu_cache *)(caches + (size_t)cpu * one);
	node = c->node;
	c->hdr[cls] = c->lim[cls].lo;
	WRITE_ONCE(hm_fe.base, caches);
	/* Open, on this CPU's cache: the sections work. */
	ck_assert_ptr_eq(single(cls, a, node), a);
	ck_assert_ptr_eq(single(cls, NULL, node), a);
	ck_assert_ptr_eq(single(cls, a, node), a);
	h = c->hdr[cls];
	/* No registration: every section fails, whatever node it names. */
	hm_fe.idx_off = (char *)&stray_idx - (char *)__builtin_thread_pointer();
	for (int32_t v = -HM_PCPU_BELOW; v < 0; v++)
		sections_fail_at(v, cls, b, node, "");
	/* This CPU's number works through the same variable. */
	stray_idx = cpu;
	ck_assert_ptr_eq(single(cls, NULL, node), a);
	ck_assert_ptr_eq(single(cls, a, node), a);
	ck_assert_uint_eq(c->hdr[cls], h + ((uint64_t)2 << HM_PCPU_OPS_SHIFT));
	/* Closed: every index a thread can hold fails, the caches untouched. */
	h = c->hdr[cls];
	WRITE_ONCE(hm_fe.base, caches + clen + below);
	for (int32_t v = -HM_PCPU_BELOW; v < (int32_t)NR_CACHES; v++)
		sections_fail_at(v, cls, b, node, "closed, ");
	hm_fe.idx_off = saved_idx;
	for (int k = 0; k < 100; k++) {
		ck_assert_ptr_null(pop_once(cls));
		ck_assert(!push_once(cls, b, node));
	}
	ck_assert_uint_eq(c->hdr[cls], h);
	/* Open again: the object pushed before the close is still on top. */
	WRITE_ONCE(hm_fe.base, caches);
	ck_assert_ptr_eq(single(cls, NULL, node), a);
	WRITE_ONCE(hm_fe.base, saved);
	ck_assert_int_eq(munmap(m, len), 0);
}
END_TEST

/*
 * The x86_64 batch moves (arch/x86_64/mm/pcpu-rseq.S) on glibc's rseq
 * registration, for every count from 0 to past the capacity: the copy
 * moves four objects a turn and the rest one by one, so each count mod 4
 * must land every object in its slot and in order, move min(n, room) or
 * min(n, held), leave the op count and the other classes alone, and touch
 * nothing past the objects it moved.  The front end is pointed at the
 * thread's rseq area and this CPU's cache by hand (the heap runs generic
 * here); a thread glibc did not register (valgrind) skips.
 */
START_TEST(rseq_batch_moves_every_count)
{
	unsigned cls = size_class(64), cap, idx, lo;
	void *in[HM_PCPU_MAX_OBJECTS + 8], *out[HM_PCPU_MAX_OBJECTS + 8], *first[8];
	struct pcpu_cache *c;
	uint64_t h0, other;
	int cpu = rseq_on_this_cpu();

	if (cpu < 0)
		return;
	idx = (unsigned)cpu;
	c = pcpu_cache_at(idx);
	cap = c->lim[cls].hi - c->lim[cls].lo;
	lo = c->lim[cls].lo;
	other = c->hdr[cls + 1];
	ck_assert_uint_ge(cap, 8);
	for (unsigned i = 0; i < ARRAY_SIZE(in); i++)
		in[i] = (void *)(uintptr_t)(0x1000 * (i + 1));
	for (unsigned i = 0; i < ARRAY_SIZE(first); i++)
		first[i] = (void *)(uintptr_t)(0x100000 * (i + 1));
	for (unsigned pre = 0; pre <= 5; pre++) {
		for (unsigned n = 0; n <= cap + 3; n++) {
			unsigned room, want, top;

			/* pre objects first, so the copy starts at every alignment. */
			c->hdr[cls] = lo;
			ck_assert_int_eq(batch(true, idx, cls, first, pre), pre);
			h0 = c->hdr[cls];
			room = cap - pre;
			want = MIN(n, room);
			pcpu_slots(c)[lo + pre + want] = (void *)0x5a5a;	/* past the move */
			ck_assert_int_eq(batch(true, idx, cls, in, n), want);
			top = pcpu_top(c->hdr[cls]);
			ck_assert_uint_eq(top, lo + pre + want);
			ck_assert_uint_eq(c->hdr[cls] >> HM_PCPU_OPS_SHIFT, h0 >> HM_PCPU_OPS_SHIFT);
			for (unsigned i = 0; i < want; i++)
				unit_assert(pcpu_slots(c)[lo + pre + i] == in[i],
					    "pre %u n %u: slot %u holds %p", pre, n, i,
					    pcpu_slots(c)[lo + pre + i]);
			if (want < room)
				ck_assert_ptr_eq(pcpu_slots(c)[top], (void *)0x5a5a);
			/* Pop them back: the top ones, lowest slot first. */
			memset(out, 0xee, sizeof(out));
			ck_assert_int_eq(batch(false, idx, cls, out, n), MIN(n, pre + want));
			for (unsigned i = 0; i < MIN(n, pre + want); i++)
				unit_assert(out[i] == pcpu_slots(c)[top - MIN(n, pre + want) + i],
					    "pre %u n %u: out[%u] %p", pre, n, i, out[i]);
			ck_assert_ptr_eq(out[MIN(n, pre + want)], (void *)(uintptr_t)0xeeeeeeeeeeeeeeeeULL);
			ck_assert_uint_eq(pcpu_top(c->hdr[cls]), top - MIN(n, pre + want));
			ck_assert_uint_eq(c->hdr[cls + 1], other);
		}
	}
	c->hdr[cls] = lo;
	ck_assert_ptr_null(pcpu_slots(c)[lo - 1]);		/* the guard */
}
END_TEST
#endif

static Suite *pcpu_suite(void)
{
	Suite *s = suite_create("pcpu");
	TCase *tc = unit_tcase("cache");
	TCase *df = unit_tcase("double_free");

	tcase_add_test(tc, caches_are_set_up);
	tcase_add_test(tc, current_cpu_follows_the_source);
	tcase_add_test(tc, inline_fast_path_matches_the_build);
	tcase_add_test(tc, cache_push_pop_primitives);
	tcase_add_test(tc, fast_paths_make_no_calls);
	tcase_add_loop_test(tc, refill_then_pop, 0, 2);
	tcase_add_loop_test(tc, free_pushes_and_drains_half, 0, 2);
	tcase_add_loop_test(tc, small_capacity_class, 0, 2);
	tcase_add_loop_test(tc, each_cpu_has_its_cache, 0, 2);
	tcase_add_loop_test(tc, busy_cache_uses_another_way, 0, 2);
	tcase_add_loop_test(tc, all_ways_busy_goes_central, 0, 2);
	tcase_add_loop_test(tc, drain_all_empties_every_cache, 0, 2);
	tcase_add_loop_test(tc, class_counts_match, 0, 2);
	tcase_add_loop_test(tc, random_walk_keeps_the_invariants, 0, 2);
	tcase_add_loop_test(tc, memalign_uses_the_cache, 0, 2);
	tcase_add_loop_test(tc, fork_locks_every_cache, 0, 2);
	tcase_add_test(tc, caches_off_goes_central);
#ifdef PCPU_INLINE_RSEQ
	tcase_add_test(tc, rseq_single_moves_commit_one_header);
	tcase_add_test(tc, rseq_index_guard_fails_unregistered_and_closed);
	tcase_add_test(tc, rseq_batch_moves_every_count);
#endif

	tcase_add_checked_fixture(df, expect_double_free_abort, NULL);
	tcase_add_loop_test_raise_signal(df, double_free_on_top_aborts, SIGABRT, 0, 2);
	tcase_add_loop_test_raise_signal(df, double_free_on_full_cache_aborts, SIGABRT, 0, 2);
	tcase_add_loop_test(df, no_false_double_free, 0, 2);

	suite_add_tcase(s, tc);
	suite_add_tcase(s, df);
	return s;
}

UNIT_MAIN(pcpu_suite)
