// SPDX-License-Identifier: MIT
/*
 * The per-CPU front end (include/hakmem/percpu.h, mm/percpu.c): with the
 * CPU chosen by the fake getcpu, small objects go through that CPU's cache,
 * refill and drain in half-cache batches, and are counted per class.
 */
#include "unit.h"

static struct pcpu_cache *cache(unsigned cpu)
{
	return pcpu_cache_for(cpu);
}

/*
 * Most tests run twice (loop index _i): 0 with the CPU where the fast paths
 * read it, 1 in the heap's "no rseq" mode, where only the slow paths run
 * and ask getcpu.  The caches must behave the same either way.
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

/* Objects of cls that slabs have handed out, on node: in use or cached. */
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

START_TEST(caches_are_set_up)
{
	for (unsigned i = 1; i < FAKE_NR_CPUS * HM_PCPU_WAYS; i++)
		ck_assert_ptr_ne(hm_heap.pcpu[i - 1], hm_heap.pcpu[i]);
	for (unsigned cpu = 0; cpu < FAKE_NR_CPUS; cpu++) {
		ck_assert_uint_eq(cache(cpu)->node, hm_heap.cpu_node[cpu]);
		ck_assert_uint_eq((uintptr_t)cache(cpu) % HM_CACHELINE, 0);
		for (unsigned c = 0; c < HM_NCLASS; c++)
			ck_assert_uint_eq(cache(cpu)->count[c], 0);
	}
	on_cpu(3);
	ck_assert_uint_eq(pcpu_current_cpu(), 3);
	ck_assert_ptr_eq(pcpu_this(), cache(3));
	on_cpu(FAKE_NR_CPUS + 1);			/* clamped to a possible CPU */
	ck_assert_uint_lt(pcpu_current_cpu(), FAKE_NR_CPUS);
}
END_TEST

START_TEST(fast_paths_make_no_calls)
{
	unsigned long before;
	void *p[8];

	unit_on_cpu(1);
	hm_free(hm_malloc(64));			/* the refill may ask the OS */
	fake_os_reset_counts();
	for (unsigned i = 0; i < 8; i++)
		p[i] = hm_malloc(64);
	for (unsigned i = 0; i < 8; i++)
		hm_free(p[i]);
	ck_assert_uint_eq(fake_os.calls.getcpu, 0);
	ck_assert_uint_eq(cache(1)->count[size_class(64)], hm_class[size_class(64)].pcpu_cap / 2);

	/* Without a CPU in the thread area, every call asks getcpu. */
	unit_on_cpu_via_getcpu(1);
	ck_assert_uint_ge(pcpu_cpu_raw(), hm_heap.nr_cpus);
	before = fake_os.calls.getcpu;
	p[0] = hm_malloc(64);
	ck_assert_uint_gt(fake_os.calls.getcpu, before);
	ck_assert_uint_eq(cache(1)->count[size_class(64)], hm_class[size_class(64)].pcpu_cap / 2 - 1);
	hm_free(p[0]);
	ck_assert_uint_eq(cache(1)->count[size_class(64)], hm_class[size_class(64)].pcpu_cap / 2);
}
END_TEST

START_TEST(refill_then_pop)
{
	unsigned cls = size_class(64), half = hm_class[cls].pcpu_cap / 2;
	void *p[80];

	set_mode(_i);

	p[0] = hm_malloc(64);
	/* The refill took half a cache; one went out. */
	ck_assert_uint_eq(cache(0)->count[cls], half - 1);
	ck_assert_uint_eq(slab_used(0, cls), half);
	ck_assert_uint_eq(unit_stat(ST_REFILL), HM_STATS_ENABLED);
	ck_assert_ptr_eq(p[0], (void *)slab_start(unit_slab_of(p[0])));	/* lowest first */
	for (unsigned i = 1; i < half; i++) {
		p[i] = hm_malloc(64);
		ck_assert_ptr_eq(p[i], (char *)p[0] + i * hm_class[cls].size);
		ck_assert_uint_eq(cache(0)->count[cls], half - 1 - i);
	}
	ck_assert_uint_eq(slab_used(0, cls), half);
	p[half] = hm_malloc(64);				/* empty: refill again */
	ck_assert_uint_eq(cache(0)->count[cls], half - 1);
	ck_assert_uint_eq(slab_used(0, cls), 2 * half);
	ck_assert_uint_eq(unit_stat(ST_REFILL), 2 * HM_STATS_ENABLED);
	/* Other CPUs and classes are untouched. */
	for (unsigned cpu = 1; cpu < FAKE_NR_CPUS; cpu++)
		ck_assert_uint_eq(cache(cpu)->count[cls], 0);
	ck_assert_uint_eq(cache(0)->count[size_class(128)], 0);
}
END_TEST

START_TEST(free_pushes_and_drains_half)
{
	unsigned cls = size_class(64), cap = hm_class[cls].pcpu_cap, half = cap / 2;
	void *p[200];
	unsigned model = 0, n = 2 * cap + 10;
	uint64_t drains = 0;

	set_mode(_i);

	ck_assert_uint_le(n, ARRAY_SIZE(p));
	/* A model of the cache, step by step. */
	for (unsigned i = 0; i < n; i++) {
		p[i] = hm_malloc(64);
		model = model ? model - 1 : half - 1;
		unit_assert(cache(0)->count[cls] == model, "malloc %u: cache holds %u, model %u",
			    i, cache(0)->count[cls], model);
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t before = slab_used(0, cls);

		hm_free(p[i]);
		if (model < cap) {
			model++;
			unit_assert(slab_used(0, cls) == before, "free %u: went past the cache", i);
			/* The freed object is on top of the stack. */
			unit_assert(cache(0)->slot[hm_class[cls].pcpu_off + model - 1] == p[i],
				    "free %u: not on top of the cache", i);
		} else {
			model = model - half + 1;
			drains++;
			unit_assert(slab_used(0, cls) == before - half,
				    "free %u: drain gave back %lu, want %u", i,
				    (unsigned long)(before - slab_used(0, cls)), half);
		}
		unit_assert(cache(0)->count[cls] == model, "free %u: cache holds %u, model %u",
			    i, cache(0)->count[cls], model);
	}
	ck_assert_uint_ge(drains, 1);
	ck_assert_uint_eq(unit_stat(ST_DRAIN), drains * HM_STATS_ENABLED);
	/* The cache holds the last freed, hottest objects: they come back first. */
	ck_assert_ptr_eq(hm_malloc(64), p[n - 1]);
	ck_assert_ptr_eq(hm_malloc(64), p[n - 2]);
	unit_check_central(0, cls);
}
END_TEST

START_TEST(each_cpu_has_its_cache)
{
	unsigned cls = size_class(200);
	void *a, *b, *c;

	set_mode(_i);

	on_cpu(0);
	a = hm_malloc(200);
	on_cpu(1);
	b = hm_malloc(200);
	on_cpu(2);
	c = hm_malloc(200);
	ck_assert_uint_eq(hm_node_of((uintptr_t)a), 0);
	ck_assert_uint_eq(hm_node_of((uintptr_t)b), 0);
	ck_assert_uint_eq(hm_node_of((uintptr_t)c), 1);
	for (unsigned cpu = 0; cpu < 3; cpu++)
		ck_assert_uint_eq(cache(cpu)->count[cls], hm_class[cls].pcpu_cap / 2 - 1);
	ck_assert_uint_eq(cache(3)->count[cls], 0);

	/* CPU 1 frees CPU 0's object: same node, so into CPU 1's cache. */
	on_cpu(1);
	hm_free(a);
	ck_assert_uint_eq(cache(1)->count[cls], hm_class[cls].pcpu_cap / 2);
	ck_assert_uint_eq(cache(0)->count[cls], hm_class[cls].pcpu_cap / 2 - 1);

	/* CPU 1 frees node 1's object: straight to node 1's central list. */
	hm_free(c);
	ck_assert_uint_eq(cache(1)->count[cls], hm_class[cls].pcpu_cap / 2);
	ck_assert_uint_eq(cache(2)->count[cls], hm_class[cls].pcpu_cap / 2 - 1);
	ck_assert_ptr_eq(unit_slab_of(c)->freelist, c);
	ck_assert_uint_eq(unit_stat(ST_REMOTE_FREE), HM_STATS_ENABLED);
	hm_free(b);
}
END_TEST

/* The way after this thread's preferred one on cpu. */
static struct pcpu_cache *next_way(unsigned cpu)
{
	return hm_heap.pcpu[pcpu_index(cpu, pcpu_way() + 1)];
}

START_TEST(busy_cache_uses_another_way)
{
	unsigned cls = size_class(64);
	void *p, *q;

	set_mode(_i);

	p = hm_malloc(64);
	ck_assert_uint_eq(next_way(0)->count[cls], 0);
	ck_assert(hm_trylock(&cache(0)->lock));		/* someone holds our way */
	q = hm_malloc(64);				/* the next way refills */
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(cache(0)->count[cls], hm_class[cls].pcpu_cap / 2 - 1);
	ck_assert_uint_eq(next_way(0)->count[cls], hm_class[cls].pcpu_cap / 2 - 1);
	ck_assert_uint_eq(unit_stat(ST_PCPU_BUSY), 0);
	hm_free(q);					/* back to the next way */
	ck_assert_uint_eq(next_way(0)->count[cls], hm_class[cls].pcpu_cap / 2);
	hm_unlock(&cache(0)->lock);
	hm_free(p);
	ck_assert_uint_eq(cache(0)->count[cls], hm_class[cls].pcpu_cap / 2);
}
END_TEST

START_TEST(all_ways_busy_goes_central)
{
	unsigned cls = size_class(64);
	void *p, *q;

	set_mode(_i);

	p = hm_malloc(64);
	for (unsigned w = 0; w < HM_PCPU_WAYS; w++)	/* every cache of CPU 0 held */
		ck_assert(hm_trylock(&hm_heap.pcpu[pcpu_index(0, w)]->lock));
	q = hm_malloc(64);				/* served centrally */
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(cache(0)->count[cls], hm_class[cls].pcpu_cap / 2 - 1);
	ck_assert_uint_eq(unit_stat(ST_PCPU_BUSY), HM_STATS_ENABLED);
	hm_free(q);					/* also central */
	ck_assert_uint_eq(cache(0)->count[cls], hm_class[cls].pcpu_cap / 2 - 1);
	ck_assert_uint_eq(unit_stat(ST_PCPU_BUSY), 2 * HM_STATS_ENABLED);
	for (unsigned w = 0; w < HM_PCPU_WAYS; w++) {
		ck_assert_uint_eq(hm_heap.pcpu[pcpu_index(0, w)]->count[cls],
				  w == (pcpu_way() & (HM_PCPU_WAYS - 1)) ?
				  hm_class[cls].pcpu_cap / 2u - 1 : 0u);
		hm_unlock(&hm_heap.pcpu[pcpu_index(0, w)]->lock);
	}
	hm_free(p);
	ck_assert_uint_eq(cache(0)->count[cls], hm_class[cls].pcpu_cap / 2);
	unit_check_central(0, cls);
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
	pcpu_drain_all();
	for (unsigned cpu = 0; cpu < FAKE_NR_CPUS; cpu++)
		for (unsigned c = 0; c < HM_NCLASS; c++)
			ck_assert_msg(cache(cpu)->count[c] == 0, "cpu %u class %u holds %u",
				      cpu, c, cache(cpu)->count[c]);
	/* What the slabs count as handed out is exactly what is still live. */
	for (unsigned k = 0; k < ARRAY_SIZE(n); k++) {
		unsigned cls = size_class(n[k]);

		ck_assert_uint_eq(slab_used(0, cls), 2 * 5);
		ck_assert_uint_eq(slab_used(1, cls), 2 * 5);
		unit_check_central(0, cls);
		unit_check_central(1, cls);
	}
	for (unsigned cpu = 0; cpu < FAKE_NR_CPUS; cpu++)
		for (unsigned k = 0; k < ARRAY_SIZE(n); k++)
			for (unsigned i = 5; i < 10; i++)
				hm_free(p[cpu][k][i]);
	pcpu_drain_all();
	for (unsigned k = 0; k < ARRAY_SIZE(n); k++) {
		ck_assert_uint_eq(slab_used(0, size_class(n[k])), 0);
		ck_assert_uint_eq(slab_used(1, size_class(n[k])), 0);
	}
	unit_check_node(0);
	unit_check_node(1);
}
END_TEST

START_TEST(class_counts_match)
{
#ifdef CONFIG_STATS
	unsigned a = size_class(100), b = size_class(3000);
	uint64_t na, nf;
	void *p[300], *q[50], *r;

	set_mode(_i);

	for (unsigned i = 0; i < 300; i++)
		p[i] = hm_malloc(100);
	for (unsigned i = 0; i < 120; i++)
		hm_free(p[i]);
	on_cpu(1);
	for (unsigned i = 0; i < 50; i++)
		q[i] = hm_malloc(3000);
	for (unsigned i = 120; i < 200; i++)
		hm_free(p[i]);
	pcpu_class_counts(a, &na, &nf);
	ck_assert_uint_eq(na, 300);
	ck_assert_uint_eq(nf, 200);
	pcpu_class_counts(b, &na, &nf);
	ck_assert_uint_eq(na, 50);
	ck_assert_uint_eq(nf, 0);

	/* Remote frees and busy-cache allocations are counted too. */
	on_cpu(3);
	r = hm_malloc(100);
	on_cpu(0);
	hm_free(r);
	ck_assert(hm_trylock(&cache(0)->lock));
	r = hm_malloc(100);
	hm_unlock(&cache(0)->lock);
	pcpu_class_counts(a, &na, &nf);
	ck_assert_uint_eq(na, 302);
	ck_assert_uint_eq(nf, 201);

	/* Draining moves objects, it does not free them again. */
	pcpu_drain_all();
	pcpu_class_counts(a, &na, &nf);
	ck_assert_uint_eq(na, 302);
	ck_assert_uint_eq(nf, 201);
	pcpu_class_counts(size_class(16), &na, &nf);
	ck_assert_uint_eq(na, 0);
	ck_assert_uint_eq(nf, 0);
	for (unsigned i = 0; i < 50; i++)
		hm_free(q[i]);
	pcpu_class_counts(b, &na, &nf);
	ck_assert_uint_eq(na, 50);
	ck_assert_uint_eq(nf, 50);
#else
	/* Built without CONFIG_STATS: only the direct counts exist. */
	uint64_t na, nf;

	pcpu_class_counts(0, &na, &nf);
	ck_assert_uint_eq(na, 0);
	ck_assert_uint_eq(nf, 0);
#endif
}
END_TEST

START_TEST(memalign_uses_the_cache)
{
	unsigned cls = size_class_aligned(100, 64);
	void *p;

	set_mode(_i);

	ck_assert_int_ge((int)cls, 0);
	p = hm_memalign(64, 100);
	ck_assert_uint_eq((uintptr_t)p % 64, 0);
	ck_assert_uint_eq(cache(0)->count[cls], hm_class[cls].pcpu_cap / 2 - 1);
	hm_free(p);
	ck_assert_uint_eq(cache(0)->count[cls], hm_class[cls].pcpu_cap / 2);
}
END_TEST

/* HAKMEM_PCPU=0: every CPU shares one always-busy cache; all goes central. */
START_TEST(caches_off_goes_central)
{
	unsigned cls = size_class(64);
	void *p[100];
	uint64_t na, nf;

	hm_opt.pcpu = 0;
	ck_assert_int_eq(pcpu_setup(), 0);
	ck_assert_ptr_eq(hm_heap.pcpu[0], hm_heap.pcpu[3]);
	for (unsigned i = 0; i < 100; i++) {
		on_cpu(i % FAKE_NR_CPUS);
		p[i] = hm_malloc(64);
		ck_assert_ptr_nonnull(p[i]);
		ck_assert_uint_eq(hm_node_of((uintptr_t)p[i]), hm_heap.cpu_node[i % FAKE_NR_CPUS]);
	}
	ck_assert_uint_eq(slab_used(0, cls) + slab_used(1, cls), 100);
	for (unsigned i = 0; i < 100; i += 2) {
		on_cpu(0);
		hm_free(p[i]);
	}
	/* Nothing is cached anywhere: the slabs count only the live objects. */
	ck_assert_uint_eq(slab_used(0, cls) + slab_used(1, cls), 50);
	pcpu_class_counts(cls, &na, &nf);
	ck_assert_uint_eq(na, 100);
	ck_assert_uint_eq(nf, 50);
	pcpu_drain_all();				/* nothing to do */
	for (unsigned i = 1; i < 100; i += 2)
		hm_free(p[i]);
	ck_assert_uint_eq(slab_used(0, cls) + slab_used(1, cls), 0);
	ck_assert_int_eq(hm_trim(0), 1);
	unit_check_node(0);
	unit_check_node(1);
}
END_TEST

static Suite *pcpu_suite(void)
{
	Suite *s = suite_create("pcpu");
	TCase *tc = unit_tcase("cache");

	tcase_add_test(tc, caches_are_set_up);
	tcase_add_test(tc, fast_paths_make_no_calls);
	tcase_add_loop_test(tc, refill_then_pop, 0, 2);
	tcase_add_loop_test(tc, free_pushes_and_drains_half, 0, 2);
	tcase_add_loop_test(tc, each_cpu_has_its_cache, 0, 2);
	tcase_add_loop_test(tc, all_ways_busy_goes_central, 0, 2);
	tcase_add_loop_test(tc, busy_cache_uses_another_way, 0, 2);
	tcase_add_loop_test(tc, drain_all_empties_every_cache, 0, 2);
	tcase_add_loop_test(tc, class_counts_match, 0, 2);
	tcase_add_loop_test(tc, memalign_uses_the_cache, 0, 2);
	tcase_add_test(tc, caches_off_goes_central);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(pcpu_suite)
