// SPDX-License-Identifier: MIT
/*
 * The middle layer (mm/slab.c): slabs carved into objects, the per-node
 * central lists, giving empty slabs back, remote frees.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

static struct central *central(unsigned node, unsigned cls)
{
	return &hm_heap.node[node].central[cls];
}

START_TEST(objects_are_distinct_and_spaced)
{
	unsigned cls = size_class(64);
	const struct size_class *sc = &hm_class[cls];
	void *out[16], *sorted[16];
	struct slab *s;
	uintptr_t start;

	ck_assert_uint_eq(central_alloc(0, cls, out, 10), 10);
	s = unit_slab_of(out[0]);
	start = slab_start(s);
	ck_assert_uint_eq(s->cls, cls);
	ck_assert_uint_eq(s->capacity, sc->capacity);
	ck_assert_uint_eq(s->npages, sc->npages);
	ck_assert_uint_eq(s->used, 10);
	ck_assert_uint_eq(s->carved, 10);
	ck_assert_uint_eq(s->state, SLAB_PARTIAL);
	ck_assert_ptr_eq(central(0, cls)->partial, s);
	ck_assert_uint_eq(central(0, cls)->nr_partial, 1);
	ck_assert_uint_eq(unit_stat(ST_SLAB_NEW), HM_STATS_ENABLED);
	/* The lowest address last, so a stack pops it first. */
	ck_assert_ptr_eq(out[9], (void *)start);
	memcpy(sorted, out, sizeof(out));
	qsort(sorted, 10, sizeof(void *), cmp_ptr);
	for (unsigned i = 0; i < 10; i++) {
		ck_assert_ptr_eq(sorted[i], (void *)(start + (uintptr_t)i * sc->size));
		ck_assert_ptr_eq(unit_slab_of(out[i]), s);
		memset(out[i], 0xa0 + i, sc->size);		/* real, writable memory */
	}
	for (unsigned i = 0; i < 10; i++)
		ck_assert(((unsigned char *)out[i])[sc->size - 1] == 0xa0 + i);
	unit_check_central(0, cls);

	ck_assert_uint_eq(central_alloc(0, cls, out, 5), 5);
	qsort(out, 5, sizeof(void *), cmp_ptr);
	for (unsigned i = 0; i < 5; i++)
		ck_assert_ptr_eq(out[i], (void *)(start + (uintptr_t)(10 + i) * sc->size));
	ck_assert_uint_eq(s->used, 15);
	unit_check_central(0, cls);
	unit_check_node(0);
}
END_TEST

/*
 * central_refill() takes want objects, and up to max when they are carved
 * from a slab's never-used tail; from a free list it stops at want.
 */
START_TEST(refill_takes_more_only_from_the_fresh_tail)
{
	unsigned cls = size_class(64), cap = hm_class[cls].capacity;
	void *out[1024];
	struct slab *s;

	ck_assert_uint_ge(cap, 70);
	ck_assert_uint_le(cap, ARRAY_SIZE(out));
	ck_assert_uint_eq(central_refill(0, cls, out, 8, 32), 32);
	s = unit_slab_of(out[0]);
	ck_assert_uint_eq(s->carved, 32);
	ck_assert_uint_eq(s->used, 32);
	ck_assert_ptr_eq(out[31], (void *)slab_start(s));
	unit_check_central(0, cls);

	/* Ten back on the free list: want comes from it, nothing is carved. */
	central_free(cls, out, 10);
	ck_assert_uint_eq(central_refill(0, cls, out, 8, 32), 8);
	ck_assert_uint_eq(s->carved, 32);
	ck_assert_uint_eq(s->used, 30);
	/* Two left on the free list, then the tail: up to max in all. */
	ck_assert_uint_eq(central_refill(0, cls, out, 8, 32), 32);
	ck_assert_uint_eq(s->carved, 62);
	ck_assert_uint_eq(s->used, 62);
	unit_check_central(0, cls);

	/* The tail ends the slab: a refill stops there once it has want. */
	ck_assert_uint_eq(central_alloc(0, cls, out, cap - 62 - 4), cap - 62 - 4);
	ck_assert_uint_eq(central_refill(0, cls, out, 2, 32), 4);
	ck_assert_uint_eq(s->carved, cap);
	ck_assert_uint_eq(s->state, SLAB_FULL);
	unit_check_central(0, cls);
}
END_TEST

START_TEST(exhausted_slab_leaves_the_list)
{
	unsigned cls = size_class(1024);
	unsigned cap = hm_class[cls].capacity;
	void **out = calloc(cap + 1, sizeof(void *));
	struct slab *s, *t;

	ck_assert_uint_eq(central_alloc(0, cls, out, cap), cap);
	s = unit_slab_of(out[0]);
	for (unsigned i = 0; i < cap; i++)
		ck_assert_ptr_eq(unit_slab_of(out[i]), s);
	ck_assert_uint_eq(s->state, SLAB_FULL);
	ck_assert_uint_eq(s->used, cap);
	ck_assert_uint_eq(s->carved, cap);
	ck_assert_ptr_null(central(0, cls)->partial);
	ck_assert_uint_eq(central(0, cls)->nr_partial, 0);
	unit_check_slab(s);

	ck_assert_uint_eq(central_alloc(0, cls, &out[cap], 1), 1);
	t = unit_slab_of(out[cap]);
	ck_assert_ptr_ne(t, s);
	ck_assert_ptr_eq(central(0, cls)->partial, t);
	ck_assert_uint_eq(unit_stat(ST_SLAB_NEW), 2 * HM_STATS_ENABLED);
	unit_check_central(0, cls);
	unit_check_node(0);

	/* A batch bigger than a slab spans slabs. */
	free(out);
	out = calloc(3 * cap, sizeof(void *));
	ck_assert_uint_eq(central_alloc(0, cls, out, 3 * cap), 3 * cap);
	unit_check_central(0, cls);
	ck_assert_uint_eq(central(0, cls)->nr_partial, 1);	/* t's successor */
	free(out);
}
END_TEST

START_TEST(free_is_lifo_and_makes_partial)
{
	unsigned cls = size_class(1024);
	unsigned cap = hm_class[cls].capacity;
	void *out[64], *got[4];
	struct slab *s;

	ck_assert_uint_le(cap, 64);
	ck_assert_uint_eq(central_alloc(0, cls, out, cap), cap);
	s = unit_slab_of(out[0]);
	ck_assert_uint_eq(s->state, SLAB_FULL);

	central_free(cls, &out[5], 1);
	ck_assert_uint_eq(s->state, SLAB_PARTIAL);
	ck_assert_ptr_eq(central(0, cls)->partial, s);
	ck_assert_uint_eq(s->used, cap - 1);
	ck_assert_ptr_eq(s->freelist, out[5]);
	unit_check_central(0, cls);

	ck_assert_uint_eq(central_alloc(0, cls, got, 1), 1);
	ck_assert_ptr_eq(got[0], out[5]);
	ck_assert_uint_eq(s->state, SLAB_FULL);
	ck_assert_uint_eq(central(0, cls)->nr_partial, 0);

	central_free(cls, &out[1], 1);
	central_free(cls, &out[2], 1);
	central_free(cls, &out[7], 1);
	ck_assert_uint_eq(s->used, cap - 3);
	unit_check_central(0, cls);
	ck_assert_uint_eq(central_alloc(0, cls, got, 3), 3);
	ck_assert_ptr_eq(got[0], out[7]);
	ck_assert_ptr_eq(got[1], out[2]);
	ck_assert_ptr_eq(got[2], out[1]);
	ck_assert_uint_eq(s->state, SLAB_FULL);
	unit_check_node(0);
}
END_TEST

static void free_all(unsigned cls, void **objs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		central_free(cls, &objs[i], 1);
}

static bool pages_free(const struct superslab *ss, unsigned first, unsigned n)
{
	for (unsigned p = first; p < first + n; p++)
		if (unit_page_used(ss, p) || ss->page_cls[p] != PAGE_CLS_FREE)
			return false;
	return true;
}

START_TEST(third_empty_slab_is_given_back)
{
	unsigned cls = size_class(1024);
	unsigned cap = hm_class[cls].capacity, npages = hm_class[cls].npages;
	void *a[64], *b[64], *c[64];
	struct slab *sa, *sb, *sc;
	struct superslab *ss;
	unsigned first;

	central_alloc(0, cls, a, cap);
	central_alloc(0, cls, b, cap);
	central_alloc(0, cls, c, cap);
	sa = unit_slab_of(a[0]);
	sb = unit_slab_of(b[0]);
	sc = unit_slab_of(c[0]);
	ck_assert(sa != sb && sb != sc && sa != sc);
	ss = slab_ss(sc);
	first = slab_first_page(sc);

	free_all(cls, a, cap);
	ck_assert_uint_eq(sa->state, SLAB_PARTIAL);
	ck_assert_uint_eq(sa->used, 0);
	free_all(cls, b, cap);
	ck_assert_uint_eq(sb->state, SLAB_PARTIAL);
	ck_assert_uint_eq(central(0, cls)->nr_partial, 2);
	ck_assert(!pages_free(ss, first, npages));
	ck_assert_uint_eq(unit_stat(ST_SLAB_RELEASE), 0);
	unit_check_central(0, cls);

	free_all(cls, c, cap);
	ck_assert_uint_eq(central(0, cls)->nr_partial, 2);
	ck_assert(!unit_on_partial(0, cls, sc));
	ck_assert(unit_on_partial(0, cls, sa));
	ck_assert(unit_on_partial(0, cls, sb));
	ck_assert_msg(pages_free(ss, first, npages), "the third empty slab's pages are still used");
	ck_assert_uint_eq(unit_stat(ST_SLAB_RELEASE), HM_STATS_ENABLED);
	unit_check_central(0, cls);
	unit_check_node(0);

	/* malloc_trim gives the spares back too. */
	central_trim();
	ck_assert_uint_eq(central(0, cls)->nr_partial, 0);
	ck_assert(pages_free(slab_ss(sa), slab_first_page(sa), npages));
	ck_assert(pages_free(slab_ss(sb), slab_first_page(sb), npages));
	unit_check_node(0);
}
END_TEST

START_TEST(emptied_while_three_are_partial)
{
	unsigned cls = size_class(1024);
	unsigned cap = hm_class[cls].capacity;
	void *a[64], *b[64], *c[64];
	struct slab *sa, *sb, *sc;

	central_alloc(0, cls, a, cap);
	central_alloc(0, cls, b, cap);
	central_alloc(0, cls, c, cap);
	sa = unit_slab_of(a[0]);
	sb = unit_slab_of(b[0]);
	sc = unit_slab_of(c[0]);
	/* One object back from each: three partial slabs. */
	central_free(cls, &a[0], 1);
	central_free(cls, &b[0], 1);
	central_free(cls, &c[0], 1);
	ck_assert_uint_eq(central(0, cls)->nr_partial, 3);
	free_all(cls, a + 1, cap - 1);		/* a empty, two others partial: a goes */
	ck_assert(!unit_on_partial(0, cls, sa));
	ck_assert_uint_eq(sa->state, SLAB_UNUSED);
	free_all(cls, b + 1, cap - 1);
	free_all(cls, c + 1, cap - 1);
	ck_assert(unit_on_partial(0, cls, sb));
	ck_assert(unit_on_partial(0, cls, sc));
	ck_assert_uint_eq(sb->used + sc->used, 0);
	unit_check_central(0, cls);
	unit_check_node(0);
}
END_TEST

START_TEST(remote_objects_go_home)
{
	unsigned cls = size_class(48);
	void *n1[20], *n0[20], *mix[40];
	struct slab *s1, *s0;

	ck_assert_uint_eq(central_alloc(1, cls, n1, 20), 20);
	ck_assert_uint_eq(central_alloc(0, cls, n0, 20), 20);
	s1 = unit_slab_of(n1[0]);
	s0 = unit_slab_of(n0[0]);
	ck_assert_uint_eq(hm_node_of((uintptr_t)n1[0]), 1);
	ck_assert_uint_eq(hm_node_of((uintptr_t)n0[0]), 0);

	/* Running on node 0, free node 1's objects. */
	unit_on_cpu(0);
	central_free(cls, n1, 10);
	ck_assert_uint_eq(s1->used, 10);
	ck_assert_ptr_eq(central(1, cls)->partial, s1);
	ck_assert_ptr_eq(central(0, cls)->partial, s0);
	ck_assert_uint_eq(central(0, cls)->nr_partial, 1);
	ck_assert_uint_eq(s0->used, 20);
	unit_check_central(0, cls);
	unit_check_central(1, cls);

	/* A batch mixing both nodes. */
	for (unsigned i = 0; i < 10; i++) {
		mix[2 * i] = n1[10 + i];
		mix[2 * i + 1] = n0[i];
	}
	central_free(cls, mix, 20);
	ck_assert_uint_eq(s1->used, 0);
	ck_assert_uint_eq(s0->used, 10);
	unit_check_central(0, cls);
	unit_check_central(1, cls);

	/* Node 1 hands out what it got back; node 0 only its own. */
	ck_assert_uint_eq(central_alloc(1, cls, mix, 20), 20);
	for (unsigned i = 0; i < 20; i++)
		ck_assert_uint_eq(hm_node_of((uintptr_t)mix[i]), 1);
	ck_assert_uint_eq(central_alloc(0, cls, mix, 10), 10);
	for (unsigned i = 0; i < 10; i++)
		ck_assert_ptr_eq(unit_slab_of(mix[i]), s0);
	unit_check_node(0);
	unit_check_node(1);
}
END_TEST

START_TEST(remote_free_through_hm_free)
{
	unsigned cls = size_class(64);
	struct slab *s;
	void *p;
	uint32_t used;

	unit_on_cpu(2);
	p = hm_malloc(64);
	ck_assert_uint_eq(hm_node_of((uintptr_t)p), 1);
	s = unit_slab_of(p);
	used = s->used;
	unit_on_cpu(0);
	hm_free(p);
	ck_assert_uint_eq(s->used, used - 1);
	ck_assert_ptr_eq(s->freelist, p);
	ck_assert_uint_eq(unit_cached(0, cls), 0);
	ck_assert_uint_eq(unit_stat(ST_REMOTE_FREE), HM_STATS_ENABLED);
	unit_check_central(1, cls);
}
END_TEST

/* A random walk over three classes and both nodes. */
#define RW_MAX		3000

struct rw_obj {
	void		*p;
	unsigned	cls;
	uint64_t	id;
};

static struct rw_obj live[RW_MAX];
static unsigned nlive;

static uint64_t *tag_of(void *p, unsigned cls)
{
	return (uint64_t *)((char *)p + hm_class[cls].size - sizeof(uint64_t));
}

static void rw_check_all(const unsigned *cls, unsigned ncls)
{
	static struct slab *slab[RW_MAX];

	for (unsigned n = 0; n < 2; n++)
		for (unsigned k = 0; k < ncls; k++)
			unit_check_central(n, cls[k]);
	/* Every slab's used count is the number of live objects in it. */
	for (unsigned i = 0; i < nlive; i++) {
		slab[i] = unit_slab_of(live[i].p);
		unit_assert(*tag_of(live[i].p, live[i].cls) == live[i].id,
			    "object %p overwritten", live[i].p);
	}
	qsort(slab, nlive, sizeof(slab[0]), cmp_ptr);
	for (unsigned i = 0, j; i < nlive; i = j) {
		for (j = i; j < nlive && slab[j] == slab[i]; j++)
			;
		unit_check_slab(slab[i]);
		unit_assert(slab[i]->used == j - i, "slab %p: used %u, %u objects live",
			    (void *)slab[i], slab[i]->used, j - i);
	}
}

START_TEST(random_walk_keeps_slab_invariant)
{
	static const unsigned classes[] = { 0, 13, 27 };	/* 16, 384, 4096 bytes */
	uint64_t next_id = 1;
	void *batch[64];

	unit_srand(777);
	nlive = 0;
	for (unsigned step = 0; step < 1500; step++) {
		uint32_t r = unit_rand();
		unsigned cls = classes[(r >> 4) % ARRAY_SIZE(classes)];
		unsigned want = 1 + (r >> 8) % 48, got;

		if ((r % 100 < 52 || !nlive) && nlive + want <= RW_MAX) {
			got = central_alloc((r >> 20) & 1, cls, batch, want);
			ck_assert_uint_eq(got, want);
			for (unsigned i = 0; i < got; i++) {
				ck_assert_uint_eq(hm_node_of((uintptr_t)batch[i]), (r >> 20) & 1);
				live[nlive].p = batch[i];
				live[nlive].cls = cls;
				live[nlive].id = next_id++;
				*tag_of(batch[i], cls) = live[nlive].id;
				nlive++;
			}
		} else {
			/* Free up to want random live objects of one class, any node. */
			unsigned n = 0;

			for (unsigned tries = 0; tries < 4 * want && n < want && nlive; tries++) {
				unsigned i = unit_rand() % nlive;

				if (live[i].cls != cls)
					continue;
				ck_assert_uint_eq(*tag_of(live[i].p, cls), live[i].id);
				batch[n++] = live[i].p;
				live[i] = live[--nlive];
			}
			central_free(cls, batch, n);
		}
		if (step % 25 == 0)
			rw_check_all(classes, ARRAY_SIZE(classes));
	}
	rw_check_all(classes, ARRAY_SIZE(classes));
	while (nlive) {
		unsigned cls = live[nlive - 1].cls;

		central_free(cls, &live[--nlive].p, 1);
	}
	rw_check_all(classes, ARRAY_SIZE(classes));
	for (unsigned n = 0; n < 2; n++) {
		for (unsigned k = 0; k < ARRAY_SIZE(classes); k++) {
			const struct central *c = central(n, classes[k]);

			ck_assert_uint_le(c->nr_partial, 2);
			for (const struct slab *s = c->partial; s; s = s->next)
				ck_assert_uint_eq(s->used, 0);
		}
		unit_check_node(n);
	}
}
END_TEST

static Suite *slab_suite(void)
{
	Suite *s = suite_create("slab");
	TCase *tc = unit_tcase("central");

	tcase_add_test(tc, objects_are_distinct_and_spaced);
	tcase_add_test(tc, refill_takes_more_only_from_the_fresh_tail);
	tcase_add_test(tc, exhausted_slab_leaves_the_list);
	tcase_add_test(tc, free_is_lifo_and_makes_partial);
	tcase_add_test(tc, third_empty_slab_is_given_back);
	tcase_add_test(tc, emptied_while_three_are_partial);
	tcase_add_test(tc, remote_objects_go_home);
	tcase_add_test(tc, remote_free_through_hm_free);
	tcase_add_test(tc, random_walk_keeps_slab_invariant);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(slab_suite)
