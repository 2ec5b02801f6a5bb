// SPDX-License-Identifier: MIT
/*
 * The back end (mm/superslab.c): page runs inside superslabs, superslabs
 * coming and going, run resizing, the chunk table.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#define CLS_A	5
#define CLS_B	7

static unsigned cpn(void)
{
	return unit_chunks_per_node();
}

/*
 * Runs are at most 256 pages (page_delta is one byte; large objects and
 * slabs stay below that), so a whole superslab takes two runs.
 */
#define HALF_SS		(HM_SS_USABLE_PAGES / 2)

static struct superslab *take_whole_ss(unsigned node, struct slab *run[2])
{
	run[0] = ss_alloc_pages(node, HALF_SS, 1, PAGE_CLS_LARGE);
	run[1] = ss_alloc_pages(node, HM_SS_USABLE_PAGES - HALF_SS, 1, PAGE_CLS_LARGE);
	ck_assert_ptr_nonnull(run[0]);
	ck_assert_ptr_nonnull(run[1]);
	ck_assert_ptr_eq(slab_ss(run[0]), slab_ss(run[1]));
	ck_assert_uint_eq(slab_ss(run[0])->state, SS_FULL);
	return slab_ss(run[0]);
}

static void give_whole_ss(struct slab *run[2])
{
	ss_free_pages(run[0]);
	ss_free_pages(run[1]);
}

static void check_run(const struct slab *s, unsigned npages, unsigned cls)
{
	const struct superslab *ss = slab_ss(s);
	unsigned first = slab_first_page(s);

	ck_assert_uint_eq(s->npages, npages);
	ck_assert_uint_eq(s->cls, cls);
	ck_assert_uint_eq(s->state, SLAB_UNUSED);
	ck_assert_uint_eq(s->used, 0);
	ck_assert_ptr_null(s->freelist);
	for (unsigned k = 0; k < npages; k++) {
		unit_assert(unit_page_used(ss, first + k), "page %u of the run is free", first + k);
		unit_assert(ss->page_cls[first + k] == cls, "page %u class %u, want %u",
			    first + k, ss->page_cls[first + k], cls);
		unit_assert(ss->page_delta[first + k] == k, "page %u delta %u, want %u",
			    first + k, ss->page_delta[first + k], k);
	}
}

START_TEST(runs_are_carved_best_fit)
{
	struct slab *a, *b, *c;
	struct superslab *ss;

	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 0);
	a = ss_alloc_pages(0, 3, 1, CLS_A);
	ck_assert_ptr_nonnull(a);
	ss = slab_ss(a);
	ck_assert_uint_eq(fake_os.calls.commit, 1);
	ck_assert_ptr_eq(fake_os.last_commit, ss);
	ck_assert_uint_eq(fake_os.last_commit_len, HM_SS_SIZE);
	ck_assert_int_eq(fake_os.last_commit_tier, HM_TIER_THP);
	ck_assert_uint_eq(ss->tier, HM_TIER_THP);
	ck_assert_uint_eq(ss->node, 0);
	ck_assert_uint_eq(ss->chunk, 0);
	ck_assert_uint_eq(unit_chunk_kind(0, 0), CHUNK_SS);
	ck_assert_ptr_eq(hm_heap.node[0].active, ss);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 1);
	ck_assert_int_eq(hm_gauge.committed, (int64_t)HM_SS_SIZE);
	ck_assert_uint_eq(slab_first_page(a), HM_SS_HDR_PAGES);
	check_run(a, 3, CLS_A);
	ck_assert_uint_eq(ss->nfree_pages, HM_SS_USABLE_PAGES - 3);
	unit_check_node(0);

	b = ss_alloc_pages(0, 2, 1, CLS_B);
	ck_assert_ptr_eq(slab_ss(b), ss);
	ck_assert_uint_eq(slab_first_page(b), HM_SS_HDR_PAGES + 3);
	check_run(b, 2, CLS_B);
	check_run(a, 3, CLS_A);
	ck_assert_uint_eq(ss->nfree_pages, HM_SS_USABLE_PAGES - 5);
	ck_assert_uint_eq(fake_os.calls.commit, 1);
	unit_check_node(0);

	/* A freed run's pages are free again and are the best fit. */
	ss_free_pages(a);
	for (unsigned p = HM_SS_HDR_PAGES; p < HM_SS_HDR_PAGES + 3; p++) {
		ck_assert(!unit_page_used(ss, p));
		ck_assert_uint_eq(ss->page_cls[p], PAGE_CLS_FREE);
	}
	ck_assert_uint_eq(ss->nfree_pages, HM_SS_USABLE_PAGES - 2);
	unit_check_node(0);
	c = ss_alloc_pages(0, 2, 1, CLS_B);
	ck_assert_uint_eq(slab_first_page(c), HM_SS_HDR_PAGES);
	c = ss_alloc_pages(0, 2, 1, CLS_B);	/* one page left in the hole: skip it */
	ck_assert_uint_eq(slab_first_page(c), HM_SS_HDR_PAGES + 5);
	c = ss_alloc_pages(0, 1, 1, CLS_A);
	ck_assert_uint_eq(slab_first_page(c), HM_SS_HDR_PAGES + 2);
	unit_check_node(0);
}
END_TEST

/* Best fit: the smallest hole that holds the run, wherever it is. */
START_TEST(runs_take_the_smallest_hole)
{
	struct slab *r[6], *s;
	struct superslab *ss;
	unsigned len[6] = { 5, 1, 4, 1, 3, 1 };

	for (unsigned i = 0; i < 6; i++)
		r[i] = ss_alloc_pages(0, len[i], 1, CLS_A);
	ss = slab_ss(r[0]);
	ss_free_pages(r[0]);		/* holes of 5, 4 and 3 pages, then the tail */
	ss_free_pages(r[2]);
	ss_free_pages(r[4]);
	unit_check_node(0);

	s = ss_alloc_pages(0, 4, 1, CLS_B);
	ck_assert_ptr_eq(slab_ss(s), ss);
	ck_assert_uint_eq(slab_first_page(s), slab_first_page(r[2]));
	s = ss_alloc_pages(0, 2, 1, CLS_B);
	ck_assert_uint_eq(slab_first_page(s), slab_first_page(r[4]));
	s = ss_alloc_pages(0, 5, 1, CLS_B);
	ck_assert_uint_eq(slab_first_page(s), slab_first_page(r[0]));
	s = ss_alloc_pages(0, 2, 1, CLS_B);	/* no hole left but the tail */
	ck_assert_uint_eq(slab_first_page(s), HM_SS_HDR_PAGES + 15);
	unit_check_node(0);
}
END_TEST

/*
 * Runs under HM_BIG_RUN_PAGES and the others go to superslabs of their
 * own kind once the node has one of that kind; a superslab that empties
 * takes the kind of its next run.
 */
START_TEST(small_and_big_runs_live_apart)
{
	struct hm_node *nd = &hm_heap.node[0];
	struct slab *a, *l, *fill[2], *big, *s;
	struct superslab *ss0, *ss1;

	ck_assert_uint_ge(HM_BIG_RUN_PAGES, 5);
	a = ss_alloc_pages(0, 4, 1, CLS_A);
	ss0 = slab_ss(a);
	ck_assert_uint_eq(ss0->kind, SS_KIND_SMALL);
	/* No big superslab yet: a large object shares the small one. */
	l = ss_alloc_pages(0, 20, 1, PAGE_CLS_LARGE);
	ck_assert_ptr_eq(slab_ss(l), ss0);
	ck_assert_uint_eq(ss0->kind, SS_KIND_SMALL);
	ck_assert_uint_eq(nd->nr_ss_kind[SS_KIND_BIG], 0);
	unit_check_node(0);

	/* Leave 26 pages: the next 100-page run takes a new superslab. */
	fill[0] = ss_alloc_pages(0, 256, 1, PAGE_CLS_LARGE);
	fill[1] = ss_alloc_pages(0, 200, 1, PAGE_CLS_LARGE);
	ck_assert_ptr_eq(slab_ss(fill[0]), ss0);
	ck_assert_ptr_eq(slab_ss(fill[1]), ss0);
	ck_assert_uint_eq(ss0->nfree_pages, 26);
	big = ss_alloc_pages(0, 100, 1, PAGE_CLS_LARGE);
	ss1 = slab_ss(big);
	ck_assert_ptr_ne(ss1, ss0);
	ck_assert_uint_eq(ss1->kind, SS_KIND_BIG);
	ck_assert_uint_eq(nd->nr_ss_kind[SS_KIND_SMALL], 1);
	ck_assert_uint_eq(nd->nr_ss_kind[SS_KIND_BIG], 1);
	unit_check_node(0);

	/* Now each kind keeps to its own, though the other has room. */
	s = ss_alloc_pages(0, 20, 1, PAGE_CLS_LARGE);
	ck_assert_ptr_eq(slab_ss(s), ss1);
	ss_free_pages(s);
	s = ss_alloc_pages(0, 4, 1, CLS_B);
	ck_assert_ptr_eq(slab_ss(s), ss0);
	ck_assert_uint_eq(ss0->nfree_pages, 22);
	unit_check_node(0);

	/* An emptied superslab has no kind, and the next run gives it one. */
	ss_free_pages(big);
	ck_assert_uint_eq(ss1->state, SS_EMPTY);
	ck_assert_uint_eq(ss1->kind, SS_KIND_NONE);
	ck_assert_uint_eq(nd->nr_ss_kind[SS_KIND_BIG], 0);
	unit_check_node(0);
	s = ss_alloc_pages(0, 4, 1, CLS_B);	/* its own kind first */
	ck_assert_ptr_eq(slab_ss(s), ss0);
	s = ss_alloc_pages(0, 24, 1, CLS_B);	/* an empty superslab before ss0 */
	ck_assert_ptr_eq(slab_ss(s), ss1);
	ck_assert_uint_eq(ss1->kind, SS_KIND_BIG);
	ck_assert_uint_eq(fake_os.calls.commit, 2);
	unit_check_node(0);
}
END_TEST

START_TEST(runs_honour_alignment)
{
	static const struct { unsigned npages, align, want; } step[] = {
		{ 1, 1, HM_SS_HDR_PAGES },	/* 6 */
		{ 4, 8, 8 },
		{ 1, 1, HM_SS_HDR_PAGES + 1 },	/* the gap before 8 */
		{ 3, 4, 12 },
		{ 2, 16, 16 },
		{ 1, 256, 256 },
		{ 64, 64, 64 },
		{ 1, 2, 18 },
		{ 4, 128, 128 },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(step); i++) {
		struct slab *s = ss_alloc_pages(0, step[i].npages, step[i].align, CLS_A);
		unsigned first;

		ck_assert_ptr_nonnull(s);
		first = slab_first_page(s);
		ck_assert_msg(first == step[i].want, "step %u: run of %u aligned %u at page %u, want %u",
			      i, step[i].npages, step[i].align, first, step[i].want);
		ck_assert_uint_eq(slab_start(s) % (step[i].align * HM_PAGE_SIZE), 0);
		check_run(s, step[i].npages, CLS_A);
		unit_check_node(0);
	}
	ck_assert_uint_eq(fake_os.calls.commit, 1);
	/* Align 0 means 1. */
	ck_assert_uint_eq(slab_first_page(ss_alloc_pages(0, 1, 0, CLS_A)), 15);
}
END_TEST

START_TEST(full_superslab_then_a_new_one)
{
	struct superslab *ss = NULL;
	struct slab *s;
	unsigned n = 0;

	/* 506 usable pages = 46 runs of 11. */
	ck_assert_uint_eq(HM_SS_USABLE_PAGES % 11, 0);
	for (;;) {
		s = ss_alloc_pages(0, 11, 1, CLS_A);
		ck_assert_ptr_nonnull(s);
		if (!ss)
			ss = slab_ss(s);
		if (slab_ss(s) != ss)
			break;
		n++;
		ck_assert_uint_eq(fake_os.calls.commit, 1);
		unit_check_node(0);
	}
	ck_assert_uint_eq(n, HM_SS_USABLE_PAGES / 11);
	ck_assert_uint_eq(ss->nfree_pages, 0);
	ck_assert_uint_eq(ss->state, SS_FULL);
	ck_assert_uint_eq(fake_os.calls.commit, 2);
	ck_assert_ptr_eq(hm_heap.node[0].active, slab_ss(s));
	ck_assert_ptr_null(slab_ss(s)->next);
	ck_assert_uint_eq(slab_ss(s)->chunk, 1);
	ck_assert_uint_eq(slab_first_page(s), HM_SS_HDR_PAGES);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 2);
	unit_check_node(0);

	/* A run freed in the full one: back on the list, and used first-fit. */
	ss_free_pages(&ss->slab[HM_SS_HDR_PAGES + 11]);
	ck_assert_uint_eq(ss->state, SS_ACTIVE);
	unit_check_node(0);
	s = ss_alloc_pages(0, 11, 1, CLS_B);
	ck_assert_ptr_eq(slab_ss(s), ss);
	ck_assert_uint_eq(slab_first_page(s), HM_SS_HDR_PAGES + 11);
	ck_assert_uint_eq(ss->state, SS_FULL);
	unit_check_node(0);
}
END_TEST

/*
 * 506 usable pages hold 126 runs of 4 and leave 2: such a superslab serves
 * no run asked for so far and leaves the active list (TIGHT), until a page
 * comes back or a shorter run is asked for.
 */
START_TEST(tight_superslabs_leave_the_active_list)
{
	struct hm_node *nd = &hm_heap.node[0];
	struct slab *first = NULL, *s;
	struct superslab *ss;

	ck_assert_uint_eq(HM_SS_USABLE_PAGES % 4, 2);
	for (unsigned i = 0; i < HM_SS_USABLE_PAGES / 4; i++) {
		s = ss_alloc_pages(0, 4, 1, CLS_A);
		ck_assert_ptr_nonnull(s);
		if (!first)
			first = s;
		ck_assert_ptr_eq(slab_ss(s), slab_ss(first));
	}
	ss = slab_ss(first);
	ck_assert_uint_eq(nd->min_run, 4);
	ck_assert_uint_eq(ss->nfree_pages, 2);
	ck_assert_uint_eq(ss->state, SS_TIGHT);
	ck_assert_ptr_null(nd->active);
	ck_assert_ptr_eq(nd->tight, ss);
	unit_check_node(0);

	/* The next run takes a new superslab without looking at the tight one. */
	s = ss_alloc_pages(0, 4, 1, CLS_A);
	ck_assert_ptr_ne(slab_ss(s), ss);
	ck_assert_ptr_eq(nd->active, slab_ss(s));
	unit_check_node(0);

	/* A run given back: active again, and the fullest, so used first. */
	ss_free_pages(first);
	ck_assert_uint_eq(ss->state, SS_ACTIVE);
	ck_assert_ptr_null(nd->tight);
	unit_check_node(0);
	first = ss_alloc_pages(0, 4, 1, CLS_B);
	ck_assert_ptr_eq(slab_ss(first), ss);
	ck_assert_uint_eq(ss->state, SS_TIGHT);
	unit_check_node(0);

	/* A shorter run than any before: the tight one competes again, and wins. */
	s = ss_alloc_pages(0, 2, 1, CLS_B);
	ck_assert_uint_eq(nd->min_run, 2);
	ck_assert_ptr_eq(slab_ss(s), ss);
	ck_assert_uint_eq(ss->state, SS_FULL);
	ck_assert_ptr_null(nd->tight);
	unit_check_node(0);
}
END_TEST

START_TEST(empty_superslabs_beyond_the_reserve_are_released)
{
	struct slab *s[3][2];
	struct superslab *ss[3];
	size_t committed;

	ck_assert_int_eq(hm_opt.reserve_ss, 1);
	for (unsigned i = 0; i < 3; i++)
		ss[i] = take_whole_ss(0, s[i]);
	ck_assert_uint_eq(fake_os.calls.commit, 3);
	ck_assert_ptr_null(hm_heap.node[0].active);
	committed = (size_t)hm_gauge.committed;
	unit_check_node(0);

	give_whole_ss(s[0]);		/* kept: the one spare */
	ck_assert_uint_eq(fake_os.calls.decommit, 0);
	ck_assert_uint_eq(ss[0]->state, SS_EMPTY);
	ck_assert_uint_eq(hm_heap.node[0].nr_empty, 1);
	ck_assert_uint_eq(ss[0]->nfree_pages, HM_SS_USABLE_PAGES);
	unit_check_node(0);

	give_whole_ss(s[1]);		/* released */
	ck_assert_uint_eq(fake_os.calls.decommit, 1);
	ck_assert_ptr_eq(fake_os.last_decommit, ss[1]);
	ck_assert_uint_eq(fake_os.last_decommit_len, HM_SS_SIZE);
	ck_assert_uint_eq(unit_chunk_kind(0, 1), CHUNK_FREE);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 2);
	ck_assert_uint_le(hm_heap.node[0].lowest_free, 1);
	unit_check_node(0);

	give_whole_ss(s[2]);
	ck_assert_uint_eq(fake_os.calls.decommit, 2);
	ck_assert_ptr_eq(fake_os.last_decommit, ss[2]);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 1);
	ck_assert_uint_eq(hm_heap.node[0].nr_empty, 1);
	ck_assert_ptr_eq(hm_heap.node[0].active, ss[0]);
	ck_assert_int_eq(hm_gauge.committed, (int64_t)(committed - 2 * HM_SS_SIZE));
	unit_check_node(0);

	/* The spare serves the next run without a commit. */
	s[0][0] = ss_alloc_pages(0, 1, 1, CLS_A);
	ck_assert_ptr_eq(slab_ss(s[0][0]), ss[0]);
	ck_assert_uint_eq(fake_os.calls.commit, 3);
	ck_assert_uint_eq(ss[0]->state, SS_ACTIVE);
	ck_assert_uint_eq(hm_heap.node[0].nr_empty, 0);
	unit_check_node(0);
}
END_TEST

START_TEST(no_reserve_releases_every_empty_superslab)
{
	struct slab *a, *b;

	hm_opt.reserve_ss = 0;
	a = ss_alloc_pages(0, 100, 1, CLS_A);
	b = ss_alloc_pages(0, 100, 1, CLS_A);
	ss_free_pages(a);
	ck_assert_uint_eq(fake_os.calls.decommit, 0);
	ss_free_pages(b);
	ck_assert_uint_eq(fake_os.calls.decommit, 1);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 0);
	ck_assert_ptr_null(hm_heap.node[0].active);
	ck_assert_uint_eq(unit_chunk_kind(0, 0), CHUNK_FREE);
	unit_check_node(0);
}
END_TEST

START_TEST(resize_grows_into_free_neighbours_only)
{
	struct slab *a, *b, *c;
	struct superslab *ss;
	unsigned first;

	a = ss_alloc_pages(0, 4, 1, CLS_A);
	b = ss_alloc_pages(0, 4, 1, CLS_B);
	c = ss_alloc_pages(0, 4, 1, CLS_B);
	ss = slab_ss(a);
	first = slab_first_page(a);
	ss_free_pages(b);
	unit_check_node(0);

	ck_assert(ss_resize_pages(a, 8));
	check_run(a, 8, CLS_A);
	ck_assert_uint_eq(ss->nfree_pages, HM_SS_USABLE_PAGES - 12);
	unit_check_node(0);

	ck_assert(!ss_resize_pages(a, 9));		/* c is in the way */
	ck_assert_uint_eq(a->npages, 8);
	check_run(a, 8, CLS_A);
	check_run(c, 4, CLS_B);
	ck_assert_uint_eq(ss->nfree_pages, HM_SS_USABLE_PAGES - 12);
	unit_check_node(0);

	ck_assert(ss_resize_pages(a, 2));		/* shrink */
	check_run(a, 2, CLS_A);
	for (unsigned p = first + 2; p < first + 8; p++)
		ck_assert(!unit_page_used(ss, p));
	ck_assert_uint_eq(ss->nfree_pages, HM_SS_USABLE_PAGES - 6);
	unit_check_node(0);

	ck_assert(ss_resize_pages(a, 2));		/* same size */
	ck_assert(!ss_resize_pages(c, HM_SS_PAGES));	/* past the end */
	check_run(c, 4, CLS_B);
	unit_check_node(0);
}
END_TEST

START_TEST(resize_to_full_and_back)
{
	struct slab *a, *b, *c;
	struct superslab *ss;

	a = ss_alloc_pages(0, 10, 1, PAGE_CLS_LARGE);
	b = ss_alloc_pages(0, 250, 1, PAGE_CLS_LARGE);
	c = ss_alloc_pages(0, 200, 1, PAGE_CLS_LARGE);
	ss = slab_ss(a);
	ck_assert_ptr_eq(slab_ss(b), ss);
	ck_assert_uint_eq(slab_first_page(c), HM_SS_HDR_PAGES + 260);
	ck_assert(ss_resize_pages(c, HM_SS_USABLE_PAGES - 260));	/* to the end */
	ck_assert_uint_eq(ss->nfree_pages, 0);
	ck_assert_uint_eq(ss->state, SS_FULL);
	ck_assert_ptr_null(hm_heap.node[0].active);
	unit_check_node(0);
	ck_assert(ss_resize_pages(a, 3));
	ck_assert_uint_eq(ss->state, SS_ACTIVE);
	ck_assert_ptr_eq(hm_heap.node[0].active, ss);
	unit_check_node(0);
}
END_TEST

/*
 * The reference: first fit over the node's chunks, an aligned request
 * aligned by address (a node region is only 2 MiB aligned, and the fake
 * OS makes sure it is not more).
 */
static long model_alloc(const uint8_t *used, unsigned node, uint32_t n, uint32_t align)
{
	uintptr_t first = hm_heap.node[node].base >> HM_SS_SHIFT;

	for (uint32_t i = 0; i + n <= cpn(); i++) {
		uint32_t j;

		if ((first + i) % align)
			continue;
		for (j = 0; j < n && !used[i + j]; j++)
			;
		if (j == n)
			return (long)i;
	}
	return -1;
}

static long alloc_both(uint8_t *used, unsigned node, uint32_t n, uint32_t align)
{
	long want = model_alloc(used, node, n, align);
	long got = chunk_alloc(node, n, align);

	ck_assert_msg(got == (want < 0 ? -1 : (long)node * cpn() + want),
		      "chunk_alloc(%u, %u, %u) = %ld, first fit is %ld", node, n, align, got, want);
	if (got >= 0) {
		ck_assert_uint_eq(chunk_addr((uint32_t)got) % ((uintptr_t)align << HM_SS_SHIFT), 0);
		for (uint32_t k = 0; k < n; k++) {
			used[want + k] = 1;
			ck_assert_uint_eq(unit_chunk_kind(node, (uint32_t)want + k), CHUNK_CONT);
		}
	}
	unit_check_node(node);
	return want;
}

static void free_both(uint8_t *used, unsigned node, uint32_t local, uint32_t n)
{
	chunk_free(node * cpn() + local, n);
	for (uint32_t k = 0; k < n; k++) {
		used[local + k] = 0;
		ck_assert_uint_eq(unit_chunk_kind(node, local + k), CHUNK_FREE);
	}
	unit_check_node(node);
}

START_TEST(chunks_first_fit_and_aligned)
{
	struct hm_node *nd = &hm_heap.node[0];
	uint8_t *used = calloc(cpn(), 1);
	uint32_t c = cpn();

	/* The fake reserved the heap 2 MiB aligned, never 4 MiB aligned. */
	ck_assert_uint_eq(hm_heap.base % HM_SS_SIZE, 0);
	ck_assert_uint_ne(hm_heap.base % (2 * HM_SS_SIZE), 0);

	hm_lock(&nd->lock);
	ck_assert_int_eq(alloc_both(used, 0, 1, 1), 0);
	ck_assert_int_eq(alloc_both(used, 0, 2, 1), 1);
	alloc_both(used, 0, 1, 4);			/* may leave a gap at 3 */
	alloc_both(used, 0, 1, 1);			/* first fit: the gap if any */
	free_both(used, 0, 1, 2);
	ck_assert_uint_le(nd->lowest_free, 1);
	alloc_both(used, 0, 3, 1);			/* the hole is too small */
	alloc_both(used, 0, 2, 2);
	alloc_both(used, 0, 1, 2);
	alloc_both(used, 0, 1, 1);
	alloc_both(used, 0, 4, 8);
	alloc_both(used, 0, 6, 1);
	ck_assert_int_eq(chunk_alloc(0, 0, 1), -1);
	ck_assert_int_eq(chunk_alloc(0, c + 1, 1), -1);
	/* Fill the node to the last chunk, then nothing fits. */
	while (model_alloc(used, 0, 1, 1) >= 0)
		alloc_both(used, 0, 1, 1);
	ck_assert_int_eq(chunk_alloc(0, 1, 1), -1);
	hm_unlock(&nd->lock);

	/* Node 1 has its own chunks, numbered after node 0's. */
	memset(used, 0, c);
	hm_lock(&hm_heap.node[1].lock);
	ck_assert_int_eq(alloc_both(used, 1, 1, 1), 0);
	alloc_both(used, 1, 2, 2);
	hm_unlock(&hm_heap.node[1].lock);
	free(used);
}
END_TEST

START_TEST(chunks_random_against_first_fit)
{
	struct { uint32_t at, n; } span[64];
	uint8_t *used = calloc(cpn(), 1);
	unsigned nspan = 0;

	unit_srand(4242);
	hm_lock(&hm_heap.node[0].lock);
	for (unsigned step = 0; step < 3000; step++) {
		uint32_t r = unit_rand();

		if (nspan < ARRAY_SIZE(span) && (r % 100 < 55 || !nspan)) {
			uint32_t n = 1 + (r >> 8) % 9, align = 1u << ((r >> 16) % 4);
			long at = alloc_both(used, 0, n, align);

			ck_assert_int_ge(at, 0);
			span[nspan].at = (uint32_t)at;
			span[nspan++].n = n;
		} else {
			unsigned i = (r >> 8) % nspan;

			free_both(used, 0, span[i].at, span[i].n);
			span[i] = span[--nspan];
		}
	}
	hm_unlock(&hm_heap.node[0].lock);
	free(used);
}
END_TEST

START_TEST(chunk_claim_all_or_nothing)
{
	struct hm_node *nd = &hm_heap.node[0];
	uint32_t c = cpn();

	hm_lock(&nd->lock);
	ck_assert_int_eq(chunk_alloc(0, 2, 1), 0);
	ck_assert(chunk_claim(0, 2, 3));
	for (uint32_t i = 2; i < 5; i++)
		ck_assert_uint_eq(unit_chunk_kind(0, i), CHUNK_CONT);
	ck_assert_uint_eq(nd->next_chunk, 5);
	unit_check_node(0);
	ck_assert(!chunk_claim(0, 4, 2));			/* 4 is taken */
	ck_assert_uint_eq(unit_chunk_kind(0, 5), CHUNK_FREE);
	ck_assert(!chunk_claim(0, c - 1, 2));			/* past the node's end */
	ck_assert_uint_eq(unit_chunk_kind(0, c - 1), CHUNK_FREE);
	ck_assert(!chunk_claim(1, 6, 1));			/* node 0's chunk */
	ck_assert_uint_eq(unit_chunk_kind(0, 6), CHUNK_FREE);
	ck_assert(chunk_claim(0, 10, 2));			/* beyond next_chunk */
	ck_assert_uint_eq(nd->next_chunk, 12);
	unit_check_node(0);
	ck_assert(!chunk_claim(0, 8, 3));			/* only its last is taken */
	ck_assert_uint_eq(unit_chunk_kind(0, 8), CHUNK_FREE);
	ck_assert_uint_eq(unit_chunk_kind(0, 9), CHUNK_FREE);
	ck_assert_int_eq(chunk_alloc(0, 6, 1), 12);		/* 5..9 is too short */
	ck_assert_int_eq(chunk_alloc(0, 5, 1), 5);
	unit_check_node(0);
	hm_unlock(&nd->lock);
}
END_TEST

/*
 * The page table is opened before the commit: when that fails nothing is
 * committed and the chunk is free again; a freed slab's entries are gone.
 */
START_TEST(page_table_follows_slabs)
{
	struct slab *s;
	struct hm_pte *e;

	fake_os.fail_open_table = 1;
	ck_assert_ptr_null(ss_alloc_pages(0, 1, 1, CLS_A));
	ck_assert_uint_eq(fake_os.calls.open_table, 1);
	ck_assert_uint_eq(fake_os.calls.commit, 0);
	ck_assert_uint_eq(unit_chunk_kind(0, 0), CHUNK_FREE);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 0);
	unit_check_node(0);

	s = ss_alloc_pages(0, 3, 1, CLS_A);
	ck_assert_ptr_nonnull(s);
	e = hm_pte_of(slab_start(s) + 2 * HM_PAGE_SIZE + 100);
	ck_assert_uint_eq(e->code, CLS_A + 1);
	ck_assert_uint_eq(e->slab, (uint32_t)slab_start(s));
	ck_assert_uint_eq((uint32_t)(slab_start(s) + 2 * HM_PAGE_SIZE + 100) - e->slab,
			  2 * HM_PAGE_SIZE + 100);
	/* Pages of large objects and headers have none. */
	ck_assert_uint_eq(hm_pte_of((uintptr_t)slab_ss(s))->code, 0);
	unit_check_node(0);
	ss_free_pages(s);
	ck_assert_uint_eq(e->code, 0);
	unit_check_node(0);
}
END_TEST

START_TEST(commit_failure_leaks_nothing)
{
	struct slab *s;
	int64_t committed = hm_gauge.committed;

	fake_os.fail_commit = 1;
	s = ss_alloc_pages(0, 1, 1, CLS_A);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(fake_os.calls.commit, 1);
	ck_assert_uint_eq(unit_chunk_kind(0, 0), CHUNK_FREE);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 0);
	ck_assert_ptr_null(hm_heap.node[0].active);
	ck_assert_int_eq(hm_gauge.committed, committed);
	unit_check_node(0);

	s = ss_alloc_pages(0, 1, 1, CLS_A);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(slab_ss(s)->chunk, 0);		/* the same chunk, reused */
	ck_assert_uint_eq(fake_os.calls.commit, 2);
	unit_check_node(0);

	/* A later failure: the first superslab is full, the second fails. */
	ck_assert_ptr_nonnull(ss_alloc_pages(0, HALF_SS, 1, CLS_A));
	ck_assert_ptr_nonnull(ss_alloc_pages(0, HM_SS_USABLE_PAGES - HALF_SS - 1, 1, CLS_A));
	ck_assert_uint_eq(slab_ss(s)->state, SS_FULL);
	fake_os.fail_commit = 1;
	ck_assert_ptr_null(ss_alloc_pages(0, 1, 1, CLS_A));
	ck_assert_uint_eq(unit_chunk_kind(0, 1), CHUNK_FREE);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 1);
	unit_check_node(0);
}
END_TEST

START_TEST(trim_releases_empty_superslabs)
{
	struct slab *s[3][2], *keep;

	hm_opt.reserve_ss = 3;
	keep = ss_alloc_pages(0, 256, 1, CLS_A);	/* no room left for HALF_SS */
	for (unsigned i = 0; i < 3; i++)
		take_whole_ss(0, s[i]);
	for (unsigned i = 0; i < 3; i++)
		give_whole_ss(s[i]);
	ck_assert_uint_eq(hm_heap.node[0].nr_empty, 3);
	ck_assert_uint_eq(fake_os.calls.decommit, 0);
	unit_check_node(0);

	ck_assert_uint_eq(ss_trim(0), 3 * HM_SS_SIZE);
	ck_assert_uint_eq(fake_os.calls.decommit, 3);
	ck_assert_uint_eq(hm_heap.node[0].nr_empty, 0);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 1);
	ck_assert_ptr_eq(hm_heap.node[0].active, slab_ss(keep));
	unit_check_node(0);
	ck_assert_uint_eq(ss_trim(0), 0);
	ck_assert_uint_eq(ss_trim(1), 0);

	ss_free_pages(keep);
	ck_assert_uint_eq(hm_heap.node[0].nr_empty, 1);
	ck_assert_uint_eq(ss_trim(0), HM_SS_SIZE);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 0);
	ck_assert_uint_eq(fake_os.calls.decommit, 4);
	unit_check_node(0);
}
END_TEST

START_TEST(node1_runs_live_in_node1)
{
	struct slab *s;
	uintptr_t a;

	s = ss_alloc_pages(1, 4, 1, CLS_A);
	ck_assert_ptr_nonnull(s);
	a = slab_start(s);
	ck_assert_uint_eq(hm_node_of(a), 1);
	ck_assert_uint_ge(a, hm_heap.node[1].base);
	ck_assert_uint_lt(a, hm_heap.node[1].base + (1UL << hm_heap.region_shift));
	ck_assert_uint_eq(slab_ss(s)->node, 1);
	ck_assert_uint_eq(slab_ss(s)->chunk, cpn());
	ck_assert_uint_eq(fake_os.last_commit_node, 1);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 0);
	ck_assert_ptr_null(hm_heap.node[0].active);
	ck_assert_uint_eq(hm_heap.node[1].nr_ss, 1);
	unit_check_node(0);
	unit_check_node(1);
	ss_free_pages(s);
	ck_assert_uint_eq(hm_heap.node[1].nr_empty, 1);
	unit_check_node(1);
}
END_TEST

START_TEST(commit_tier_is_recorded)
{
	struct slab *s;

	fake_os.tier = HM_TIER_4K;
	s = ss_alloc_pages(0, 1, 1, CLS_A);
	ck_assert_uint_eq(slab_ss(s)->tier, HM_TIER_4K);
	ck_assert_int_eq(fake_os.last_commit_tier, HM_TIER_THP);
	ck_assert_uint_eq(unit_stat(ST_TIER_FALLBACK), HM_STATS_ENABLED);
	ck_assert_uint_eq(unit_stat(ST_SS_4K), HM_STATS_ENABLED);

	hm_heap.tier = HM_TIER_4K;	/* HAKMEM_HUGEPAGES=off */
	ck_assert_ptr_nonnull(ss_alloc_pages(0, 256, 1, CLS_A));
	ck_assert_uint_eq(fake_os.calls.commit, 1);
	ck_assert_ptr_nonnull(ss_alloc_pages(0, 256, 1, CLS_A));	/* does not fit: new */
	ck_assert_uint_eq(fake_os.calls.commit, 2);
	ck_assert_int_eq(fake_os.last_commit_tier, HM_TIER_4K);
	ck_assert_uint_eq(unit_stat(ST_TIER_FALLBACK), HM_STATS_ENABLED);
}
END_TEST

/*
 * A superslab taken while the node has a superslab's worth of free pages,
 * none in a hole that fits, is sparse: plain pages instead of a hugepage,
 * its free pages purged at once, released when it empties (in fast too).
 */
START_TEST(superslab_taken_for_a_hole_is_sparse)
{
	enum { RUNS = HM_SS_USABLE_PAGES / 4, PROBE = 5 };
	static struct slab *r0[RUNS], *r1[RUNS];
	struct slab *s;

	ck_assert_int_eq(hm_heap.tier, HM_TIER_THP);
	for (unsigned i = 0; i < RUNS; i++)
		r0[i] = ss_alloc_pages(0, 4, 1, CLS_A);
	ck_assert_uint_eq(slab_ss(r0[0])->nfree_pages, HM_SS_USABLE_PAGES % 4);
	r1[0] = ss_alloc_pages(0, 4, 1, CLS_A);	/* 2 pages free: a heap that grows */
	ck_assert_ptr_ne(slab_ss(r1[0]), slab_ss(r0[0]));
	ck_assert_int_eq(fake_os.last_commit_tier, HM_TIER_THP);
	ck_assert(!slab_ss(r1[0])->sparse);
	for (unsigned i = 1; i < RUNS; i++) {
		r1[i] = ss_alloc_pages(0, 4, 1, CLS_A);
		ck_assert_ptr_eq(slab_ss(r1[i]), slab_ss(r1[0]));
	}
	/* Every other run back: 4-page holes, a superslab's worth in all. */
	for (unsigned i = 0; i < RUNS; i += 2) {
		ss_free_pages(r0[i]);
		ss_free_pages(r1[i]);
	}
	ck_assert_uint_ge(slab_ss(r0[1])->nfree_pages + slab_ss(r1[1])->nfree_pages,
			  HM_SS_USABLE_PAGES);
	unit_check_node(0);
	s = ss_alloc_pages(0, PROBE, 1, CLS_B);
	ck_assert_uint_eq(fake_os.calls.commit, 3);
	ck_assert_int_eq(fake_os.last_commit_tier, HM_TIER_4K);
	ck_assert_uint_eq(slab_ss(s)->tier, HM_TIER_4K);
	ck_assert(slab_ss(s)->sparse);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss_tier[HM_TIER_4K], 1);
	ck_assert_uint_eq(unit_stat(ST_TIER_FALLBACK), 0);
	unit_check_node(0);

	/* The fast profile keeps free pages and empty superslabs, not these. */
	hm_opt.purge_delay_ms = -1;
	hm_opt.reserve_ss = HM_RESERVE_ALL;
	{
		struct slab *t = ss_alloc_pages(0, PROBE, 1, CLS_B);
		unsigned purges = fake_os.calls.purge;

		ck_assert_ptr_eq(slab_ss(t), slab_ss(s));
		ss_free_pages(t);
		ck_assert_uint_gt(fake_os.calls.purge, purges);
		ck_assert_uint_eq(slab_ss(s)->nr_dirty, 0);
		unit_check_node(0);
	}
	ss_free_pages(s);
	ck_assert_uint_eq(fake_os.calls.decommit, 1);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 2);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss_tier[HM_TIER_4K], 0);
	ck_assert_uint_eq(hm_heap.node[0].nr_sparse, 0);
	unit_check_node(0);

	/* Half the superslabs sparse at most: then the heap grows on hugepages. */
	s = ss_alloc_pages(0, PROBE, 1, CLS_B);
	ck_assert(slab_ss(s)->sparse);
	while (slab_ss(ss_alloc_pages(0, PROBE, 1, CLS_B))->sparse)
		;
	ck_assert_int_eq(fake_os.last_commit_tier, HM_TIER_THP);
	ck_assert_uint_eq(hm_heap.node[0].nr_sparse, 3);	/* 3 of 6 */
	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 6);
	unit_check_node(0);
}
END_TEST

START_TEST(random_runs_keep_the_invariants)
{
	enum { MAXRUNS = 600 };
	static struct slab *run[MAXRUNS];
	static unsigned char tag[MAXRUNS];
	unsigned nrun = 0;

	unit_srand(12345);
	for (unsigned step = 0; step < 4000; step++) {
		uint32_t r = unit_rand();

		if (nrun < MAXRUNS && (r % 100 < 45 || !nrun)) {
			unsigned npages = 1 + (r >> 8) % 64, align = 1u << ((r >> 16) % 5);
			struct slab *s = ss_alloc_pages((r >> 24) & 1, npages, align, (r >> 20) % HM_NCLASS);

			ck_assert_ptr_nonnull(s);
			ck_assert_uint_eq(slab_first_page(s) % align, 0);
			ck_assert_uint_eq(s->npages, npages);
			tag[nrun] = (unsigned char)(step & 0xff);
			memset((void *)slab_start(s), tag[nrun], (size_t)npages << HM_PAGE_SHIFT);
			run[nrun++] = s;
		} else if (r % 100 < 60) {
			unsigned i = (r >> 8) % nrun, want = 1 + (r >> 16) % 64, old = run[i]->npages;

			if (ss_resize_pages(run[i], want) && want > old)
				memset((void *)(slab_start(run[i]) + ((size_t)old << HM_PAGE_SHIFT)),
				       tag[i], (size_t)(want - old) << HM_PAGE_SHIFT);
		} else {
			unsigned i = (r >> 8) % nrun;
			const unsigned char *p = (const unsigned char *)slab_start(run[i]);

			/* Nobody else wrote into this run while it was ours. */
			for (size_t k = 0; k < ((size_t)run[i]->npages << HM_PAGE_SHIFT); k += 512)
				unit_assert(p[k] == tag[i], "run %p byte %zu overwritten", (void *)p, k);
			ss_free_pages(run[i]);
			run[i] = run[--nrun];
			tag[i] = tag[nrun];
		}
		if (step % 50 == 0) {
			unit_check_node(0);
			unit_check_node(1);
		}
	}
	while (nrun)
		ss_free_pages(run[--nrun]);
	unit_check_node(0);
	unit_check_node(1);
	for (unsigned n = 0; n < 2; n++) {
		ck_assert_uint_eq(hm_heap.node[n].nr_ss, 1);
		ck_assert_uint_eq(hm_heap.node[n].nr_empty, 1);
	}
}
END_TEST

/*
 * Start-up again (in this test's own process): the region shrinks while
 * the reservation fails and follows a finite address-space limit.
 */
START_TEST(setup_halves_the_region_while_reserve_fails)
{
	unsigned shift = hm_heap.region_shift;
	void *p;

	fake_os.fail_reserve = 1;
	ck_assert_int_eq(heap_setup(), 0);
	ck_assert_uint_eq(fake_os.calls.reserve, 2);
	ck_assert_uint_eq(hm_heap.region_shift, shift - 1);
	ck_assert_uint_eq(hm_heap.span, (uintptr_t)FAKE_NR_NODES << (shift - 1));
	ck_assert_uint_eq(hm_heap.node[1].base, hm_heap.base + (1UL << (shift - 1)));
	ck_assert_uint_eq(hm_heap.base % HM_SS_SIZE, 0);
	p = hm_malloc(100);
	ck_assert(hm_in_heap((uintptr_t)p));
	hm_free(p);
	unit_check_node(0);

	fake_os_reset_counts();
	fake_os.fail_reserve_all = 1;
	ck_assert_int_lt(heap_setup(), 0);
	ck_assert_uint_eq(fake_os.calls.reserve, shift - HM_REGION_SHIFT_MIN + 1);
}
END_TEST

START_TEST(setup_follows_the_address_space_limit)
{
	os_caps.as_limit = 2UL << 30;		/* half of it, split over 2 nodes */
	ck_assert_int_eq(heap_setup(), 0);
	ck_assert_uint_eq(hm_heap.region_shift, 29);
	hm_opt.region_gb = 1;			/* the smaller of the two wins */
	os_caps.as_limit = 64UL << 30;
	ck_assert_int_eq(heap_setup(), 0);
	ck_assert_uint_eq(hm_heap.region_shift, 30);
	os_caps.as_limit = 0;
	hm_opt.region_gb = UNIT_REGION_GB;
	ck_assert_int_eq(heap_setup(), 0);
	ck_assert_uint_eq(hm_heap.region_shift, 32);
	ck_assert_ptr_nonnull(ss_alloc_pages(1, 1, 1, CLS_A));
	unit_check_node(1);
}
END_TEST

START_TEST(setup_picks_the_first_tier)
{
	static const struct { long opt; unsigned long pool; int thp, want; } cases[] = {
		{ HM_HP_AUTO, 0, 1, HM_TIER_THP },	/* no pool: THP */
		{ HM_HP_AUTO, 8, 1, HM_TIER_HUGETLB },	/* a pool: use it */
		{ HM_HP_AUTO, 0, 0, HM_TIER_4K },	/* THP never: plain pages */
		{ HM_HP_HUGETLB, 0, 1, HM_TIER_HUGETLB },	/* asked: try even so */
		{ HM_HP_THP, 8, 1, HM_TIER_THP },	/* never the pool */
		{ HM_HP_OFF, 8, 1, HM_TIER_4K },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		hm_opt.hugepages = cases[i].opt;
		os_caps.hugetlb_pages = cases[i].pool;
		os_caps.thp = cases[i].thp;
		ck_assert_int_eq(heap_setup(), 0);
		ck_assert_int_eq(hm_heap.tier, cases[i].want);
		ck_assert_ptr_nonnull(ss_alloc_pages(0, 1, 1, CLS_A));
		ck_assert_int_eq(fake_os.last_commit_tier, cases[i].want);
	}
}
END_TEST

START_TEST(pool_dry_falls_back_and_counts)
{
	struct slab *s;

	hm_heap.tier = HM_TIER_HUGETLB;
	fake_os.tier = HM_TIER_THP;		/* the pool has no page */
	s = ss_alloc_pages(0, 1, 1, CLS_A);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(slab_ss(s)->tier, HM_TIER_THP);
	ck_assert_uint_eq(unit_stat(ST_TIER_FALLBACK), HM_STATS_ENABLED);
	ck_assert_uint_eq(unit_stat(ST_HUGETLB_DRY), HM_STATS_ENABLED);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss_tier[HM_TIER_THP], 1);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss_tier[HM_TIER_HUGETLB], 0);
	fake_os.tier = HM_TIER_HUGETLB;		/* pages back in the pool */
	ck_assert_ptr_nonnull(ss_alloc_pages(0, 256, 1, CLS_A));
	ck_assert_ptr_nonnull(ss_alloc_pages(0, 256, 1, CLS_A));
	ck_assert_uint_eq(hm_heap.node[0].nr_ss_tier[HM_TIER_HUGETLB], 1);
	ck_assert_uint_eq(unit_stat(ST_HUGETLB_DRY), HM_STATS_ENABLED);
}
END_TEST

/*
 * On the hugetlb tier a node with SS_AHEAD_MIN (4) superslabs commits the
 * next ones in batches of half its count; they wait as CHUNK_READY until
 * used, malloc_trim gives the unused ones back, and a batch the pool
 * cannot hold turns batching off.
 */
static struct superslab *take_ss_whole(void)
{
	struct slab *s = ss_alloc_pages(0, 256, 1, CLS_A);

	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(ss_alloc_pages(0, HM_SS_USABLE_PAGES - 256, 1, CLS_A));
	return slab_ss(s);
}

/* On a heap of two nodes the fifth is committed alone too. */
START_TEST(hugetlb_batches_need_one_node)
{
	hm_heap.tier = HM_TIER_HUGETLB;
	fake_os.tier = HM_TIER_HUGETLB;
	ck_assert_uint_eq(hm_heap.nr_nodes, 2);
	for (unsigned i = 0; i < 6; i++)
		take_ss_whole();
	ck_assert_uint_eq(fake_os.calls.commit, 6);
	ck_assert_uint_eq(fake_os.last_commit_len, HM_SS_SIZE);
	ck_assert_uint_eq(hm_heap.node[0].ready_end - hm_heap.node[0].ready, 0);
	unit_check_node(0);
}
END_TEST

START_TEST(hugetlb_superslabs_are_committed_ahead)
{
	struct hm_node *nd;
	struct superslab *ss;
	size_t committed;

	/* Batches are for one-node heaps (see ss_chunk_ahead()). */
	hm_opt.numa = OS_NUMA_OFF;
	ck_assert_int_eq(heap_setup(), 0);
	ck_assert_uint_eq(hm_heap.nr_nodes, 1);
	nd = &hm_heap.node[0];
	hm_heap.tier = HM_TIER_HUGETLB;
	fake_os.tier = HM_TIER_HUGETLB;
	for (unsigned i = 0; i < 4; i++)
		take_ss_whole();
	ck_assert_uint_eq(fake_os.calls.commit, 4);
	ck_assert_uint_eq(fake_os.last_commit_len, HM_SS_SIZE);

	/* The fifth: a batch of two, one for now and one ready. */
	ss = take_ss_whole();
	ck_assert_uint_eq(fake_os.calls.commit, 5);
	ck_assert_uint_eq(fake_os.last_commit_len, 2 * HM_SS_SIZE);
	ck_assert_ptr_eq(fake_os.last_commit, ss);
	/* Only the superslab taken now is faulted in. */
	ck_assert_uint_eq(fake_os.last_commit_fault, HM_SS_SIZE);
	ck_assert_uint_eq(fake_os.calls.fault, 0);
	ck_assert_uint_eq(ss->tier, HM_TIER_HUGETLB);
	ck_assert_uint_eq(nd->ready_end - nd->ready, 1);
	ck_assert_uint_eq(unit_chunk_kind(0, ss->chunk + 1), CHUNK_READY);
	committed = (size_t)hm_gauge.committed;
	unit_check_node(0);

	/* The sixth takes the ready chunk: no commit, one fault. */
	ss = take_ss_whole();
	ck_assert_uint_eq(fake_os.calls.commit, 5);
	ck_assert_uint_eq(fake_os.calls.fault, 1);
	ck_assert_ptr_eq(fake_os.last_fault, ss);
	ck_assert_uint_eq(fake_os.last_fault_len, HM_SS_SIZE);
	ck_assert_uint_eq(ss->tier, HM_TIER_HUGETLB);
	ck_assert_uint_eq(nd->ready, nd->ready_end);
	ck_assert_uint_eq((size_t)hm_gauge.committed, committed);

	/* The seventh: a batch of three; trim gives the two unused back. */
	ss = take_ss_whole();
	ck_assert_uint_eq(fake_os.calls.commit, 6);
	ck_assert_uint_eq(fake_os.last_commit_len, 3 * HM_SS_SIZE);
	ck_assert_uint_eq(nd->nr_ss_tier[HM_TIER_HUGETLB], 7);
	ck_assert_uint_eq(ss_trim(0), 2 * HM_SS_SIZE);
	ck_assert_uint_eq(nd->ready, nd->ready_end);
	ck_assert_uint_eq(unit_chunk_kind(0, ss->chunk + 1), CHUNK_FREE);
	ck_assert_uint_eq((size_t)hm_gauge.committed, committed + HM_SS_SIZE);
	unit_check_node(0);

	/* A batch the pool cannot hold: one by one from then on. */
	fake_os.tier = HM_TIER_THP;
	ss = take_ss_whole();
	ck_assert(nd->ahead_off);
	ck_assert_uint_eq(ss->tier, HM_TIER_THP);
	ck_assert_uint_eq(fake_os.last_commit_len, HM_SS_SIZE);
	fake_os.tier = HM_TIER_HUGETLB;
	ss = take_ss_whole();
	ck_assert_uint_eq(ss->tier, HM_TIER_HUGETLB);
	ck_assert_uint_eq(fake_os.last_commit_len, HM_SS_SIZE);
	ck_assert_uint_eq(nd->ready, nd->ready_end);
	unit_check_node(0);
}
END_TEST

/*
 * A ready chunk whose pool pages are gone (the pool was shrunk under a
 * forking process): nothing of it is touched, the batch is given back,
 * batching stops, and the superslab comes from the one-by-one path.
 */
START_TEST(lost_ready_chunk_gives_the_batch_back)
{
	struct hm_node *nd;
	struct superslab *ss;
	size_t committed;
	uint32_t ready;

	hm_opt.numa = OS_NUMA_OFF;
	ck_assert_int_eq(heap_setup(), 0);
	nd = &hm_heap.node[0];
	hm_heap.tier = HM_TIER_HUGETLB;
	fake_os.tier = HM_TIER_HUGETLB;
	for (unsigned i = 0; i < 7; i++)
		take_ss_whole();
	/* The seventh made a batch of three: two wait. */
	ck_assert_uint_eq(nd->ready_end - nd->ready, 2);
	ready = nd->ready;
	committed = (size_t)hm_gauge.committed;
	fake_os_reset_counts();
	fake_os.fail_fault = 1;
	ss = take_ss_whole();
	ck_assert_uint_eq(fake_os.calls.fault, 1);
	ck_assert(nd->ahead_off);
	ck_assert_uint_eq(nd->ready, nd->ready_end);
	/* Both chunks went back; the new superslab may reuse the first. */
	ck_assert_uint_eq(unit_chunk_kind(0, ready + 1), CHUNK_FREE);
	ck_assert(ss->chunk == ready || unit_chunk_kind(0, ready) == CHUNK_FREE);
	ck_assert_uint_eq(fake_os.decommit_bytes, 2 * HM_SS_SIZE);
	/* One superslab, committed on its own (and on hugetlb: the pool has it). */
	ck_assert_uint_eq(fake_os.calls.commit, 1);
	ck_assert_uint_eq(fake_os.last_commit_len, HM_SS_SIZE);
	ck_assert_uint_eq(ss->tier, HM_TIER_HUGETLB);
	ck_assert_uint_eq((size_t)hm_gauge.committed, committed - HM_SS_SIZE);
	unit_check_node(0);
}
END_TEST

START_TEST(numa_off_is_one_heap)
{
	hm_opt.numa = OS_NUMA_OFF;
	ck_assert_int_eq(heap_setup(), 0);
	ck_assert_uint_eq(hm_heap.nr_nodes, 1);
	ck_assert_int_eq(os_numa_mode, OS_NUMA_OFF);
	for (unsigned c = 0; c < FAKE_NR_CPUS; c++)
		ck_assert_uint_eq(hm_heap.cpu_node[c], 0);
	fake_os.cpu = 3;
	ck_assert_uint_eq(heap_current_node(), 0);
	hm_opt.numa = OS_NUMA_LOCAL;
	ck_assert_int_eq(heap_setup(), 0);
	ck_assert_uint_eq(hm_heap.nr_nodes, FAKE_NR_NODES);
	ck_assert_int_eq(os_numa_mode, OS_NUMA_LOCAL);
}
END_TEST

START_TEST(current_node_follows_the_cpu)
{
	for (unsigned c = 0; c < FAKE_NR_CPUS; c++) {
		fake_os.cpu = c;
		ck_assert_uint_eq(heap_current_node(), c < 2 ? 0 : 1);
		ck_assert_uint_eq(hm_heap.cpu_node[c], c < 2 ? 0 : 1);
	}
	/* Node 1 without memory: its CPUs count as node 0, both ways. */
	os_caps.node_home[1] = 0;
	os_caps.cpu_node[2] = os_caps.cpu_node[3] = 0;
	ck_assert_int_eq(heap_setup(), 0);
	fake_os.cpu = 3;
	ck_assert_uint_eq(heap_current_node(), 0);
	ck_assert_uint_eq(hm_heap.cpu_node[3], 0);
}
END_TEST

/* ---- memory return (profiles) ---- */

#define HDR_ALL_BUT_0	(((1u << HM_SS_HDR_PAGES) - 1) & ~1u)

/* The header page holding the slab entry of page p. */
static unsigned hdr_page_of(unsigned p)
{
	return (unsigned)((offsetof(struct superslab, slab) + p * sizeof(struct slab)) >>
			  HM_PAGE_SHIFT);
}

START_TEST(balanced_marks_freed_pages_dirty_and_waits)
{
	struct slab *a, *b;
	struct superslab *ss;

	ck_assert_int_eq(hm_opt.purge_delay_ms, 2000);
	a = ss_alloc_pages(0, 10, 1, CLS_A);
	b = ss_alloc_pages(0, 10, 1, CLS_A);
	ss = slab_ss(a);
	ss_free_pages(a);
	ck_assert_uint_eq(ss->nr_dirty, 10);
	ck_assert_uint_eq(hm_heap.node[0].dirty_pages, 10);
	ss_purge_tick(0);			/* not idle long enough */
	ck_assert_uint_eq(fake_os.calls.purge, 0);
	/* Taking the pages again makes them clean (in use). */
	a = ss_alloc_pages(0, 4, 1, CLS_A);
	ck_assert_ptr_eq(slab_ss(a), ss);
	ck_assert_uint_eq(ss->nr_dirty, 6);
	unit_check_node(0);
	ss_free_pages(a);
	ss_free_pages(b);
	unit_check_node(0);
}
END_TEST

START_TEST(lean_purges_at_once_and_releases_empty_superslabs)
{
	struct slab *a, *b;
	struct superslab *ss;

	hm_opt.purge_delay_ms = 0;
	hm_opt.reserve_ss = 0;
	a = ss_alloc_pages(0, 10, 1, CLS_A);
	b = ss_alloc_pages(0, 20, 1, CLS_A);
	ss = slab_ss(a);
	ss_free_pages(a);
	/* The run, and the header pages whose slab entries are all free. */
	ck_assert_uint_eq(ss->hdr_purged, HDR_ALL_BUT_0);
	ck_assert_uint_eq(fake_os.calls.purge, 1 + HM_SS_HDR_PAGES - 1);
	ck_assert_uint_eq(ss->nr_dirty, 0);
	ck_assert_uint_eq(unit_stat(ST_PURGED_PAGES), HM_STATS_ENABLED ? 10 + HM_SS_HDR_PAGES - 1 : 0);
	unit_check_node(0);
	ss_free_pages(b);			/* empty: released whole, no purge */
	ck_assert_uint_eq(fake_os.calls.purge, HM_SS_HDR_PAGES);
	ck_assert_uint_eq(fake_os.calls.decommit, 1);
	ck_assert_ptr_eq(fake_os.last_decommit, ss);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 0);
	ck_assert_uint_eq(hm_heap.node[0].dirty_pages, 0);
	unit_check_node(0);
}
END_TEST

START_TEST(delayed_purge_happens_on_a_later_slow_path)
{
	struct slab *a, *b;
	struct superslab *ss;

	hm_opt.purge_delay_ms = 30;
	a = ss_alloc_pages(0, 10, 1, CLS_A);
	b = ss_alloc_pages(0, 10, 1, CLS_A);
	ss = slab_ss(a);
	ss_free_pages(a);
	ss_purge_tick(0);
	ck_assert_uint_eq(fake_os.calls.purge, 0);
	usleep(60 * 1000);			/* the coarse clock ticks every few ms */
	ss_purge_tick(0);
	ck_assert_uint_eq(fake_os.calls.purge, 1 + HM_SS_HDR_PAGES - 1);
	ck_assert_uint_eq(ss->nr_dirty, 0);
	unit_check_node(0);
	ss_free_pages(b);
}
END_TEST

/*
 * A due purge never waits for the node lock: a thread interrupted by a
 * signal while it holds it (in a purge's madvise) must be able to allocate
 * from the handler.  ss_purge_tick() runs at the top of every refill; with
 * a blocking lock this test never returns (Check's timeout fails it).
 */
START_TEST(purge_tick_never_waits_for_the_node_lock)
{
	struct hm_node *nd = &hm_heap.node[0];
	struct slab *a, *b;

	hm_opt.purge_delay_ms = 30;
	a = ss_alloc_pages(0, 10, 1, CLS_A);
	b = ss_alloc_pages(0, 10, 1, CLS_A);
	ss_free_pages(a);
	usleep(60 * 1000);
	hm_lock(&nd->lock);			/* the interrupted holder */
	ss_purge_tick(0);
	ck_assert_uint_eq(fake_os.calls.purge, 0);
	hm_unlock(&nd->lock);
	ss_purge_tick(0);			/* the next tick does it */
	ck_assert_uint_eq(fake_os.calls.purge, 1 + HM_SS_HDR_PAGES - 1);
	unit_check_node(0);
	ss_free_pages(b);
}
END_TEST

/*
 * A superslab that keeps churning is never idle, but a page of it that
 * stays free from one aging pass to the next (a delay apart) is purged;
 * one that was taken in between is not.
 */
START_TEST(stale_pages_of_a_churning_superslab_are_purged)
{
	struct slab *a, *b, *c, *d;
	struct superslab *ss;

	hm_opt.purge_delay_ms = 30;
	a = ss_alloc_pages(0, 3, 1, CLS_A);	/* its hole fits no 10-page run */
	b = ss_alloc_pages(0, 10, 1, CLS_A);
	c = ss_alloc_pages(0, 10, 1, CLS_A);
	ss = slab_ss(a);
	ss_free_pages(a);			/* stays free */
	ss_purge_tick(0);
	ck_assert_uint_eq(fake_os.calls.purge, 0);
	for (unsigned i = 0; i < 6; i++) {	/* churn: never idle for 30 ms */
		usleep(20 * 1000);
		d = ss_alloc_pages(0, 10, 1, CLS_B);
		ss_free_pages(d);
		ss_purge_tick(0);
	}
	ck_assert_ptr_eq(slab_ss(d), ss);
	ck_assert_uint_ge(fake_os.calls.purge, 1);
	for (unsigned p = HM_SS_HDR_PAGES; p < HM_SS_HDR_PAGES + 3; p++)
		ck_assert(!(ss->dirty_map[p / 64] & (1UL << (p % 64))));
	ck_assert_uint_gt(ss->nr_dirty, 0);	/* d's pages, freed just now */
	unit_check_node(0);
	ss_free_pages(b);
	ss_free_pages(c);
}
END_TEST

START_TEST(fast_keeps_everything_but_trim_returns_it)
{
	struct slab *s[3][2], *a, *b;

	hm_opt.purge_delay_ms = -1;
	hm_opt.reserve_ss = HM_RESERVE_ALL;
	for (unsigned i = 0; i < 3; i++)
		take_whole_ss(0, s[i]);
	for (unsigned i = 0; i < 3; i++)
		give_whole_ss(s[i]);
	ck_assert_uint_eq(hm_heap.node[0].nr_empty, 3);
	ck_assert_uint_eq(fake_os.calls.decommit, 0);
	ck_assert_uint_eq(fake_os.calls.purge, 0);
	a = ss_alloc_pages(0, 10, 1, CLS_A);
	b = ss_alloc_pages(0, 10, 1, CLS_A);
	ss_free_pages(a);
	ss_purge_tick(0);
	ck_assert_uint_eq(fake_os.calls.purge, 0);
	unit_check_node(0);
	/* malloc_trim: every empty superslab released, the dirty pages purged. */
	ck_assert_uint_gt(ss_trim(0), 2 * HM_SS_SIZE);
	ck_assert_uint_eq(fake_os.calls.decommit, 2);
	/* Two runs (a's pages, the tail the other runs left) and header pages. */
	ck_assert_uint_eq(fake_os.calls.purge, 2 + HM_SS_HDR_PAGES - 1);
	ck_assert_uint_eq(hm_heap.node[0].dirty_pages, 0);
	unit_check_node(0);
	ss_free_pages(b);
}
END_TEST

START_TEST(header_pages_of_live_slab_entries_are_never_purged)
{
	struct slab *fill, *live, *gone, *again;
	struct superslab *ss;
	unsigned h;

	hm_opt.purge_delay_ms = 0;
	fill = ss_alloc_pages(0, 200, 1, CLS_A);	/* pages 6..205 */
	live = ss_alloc_pages(0, 3, 1, CLS_A);		/* 206..208 */
	gone = ss_alloc_pages(0, 4, 1, CLS_A);
	ss = slab_ss(live);
	h = hdr_page_of(slab_first_page(live));
	ck_assert_uint_gt(h, 0);
	ss_free_pages(fill);
	ss_free_pages(gone);
	ck_assert_uint_eq(ss->hdr_purged & (1u << h), 0);
	ck_assert_uint_ne(ss->hdr_purged, 0);
	ck_assert_uint_eq(live->npages, 3);		/* its entry survived */
	unit_check_node(0);
	/* A new run whose entry lies on a purged header page takes it back. */
	ck_assert_uint_ne(ss->hdr_purged & (1u << hdr_page_of(128)), 0);
	again = ss_alloc_pages(0, 1, 128, CLS_B);
	ck_assert_uint_eq(slab_first_page(again), 128);
	ck_assert_uint_eq(ss->hdr_purged & (1u << hdr_page_of(128)), 0);
	ck_assert_uint_eq(again->npages, 1);
	ck_assert_uint_eq(again->cls, CLS_B);
	unit_check_node(0);
	ss_free_pages(again);
	ss_free_pages(live);
}
END_TEST

START_TEST(growing_a_run_over_dirty_pages_cleans_them)
{
	struct slab *a, *b;

	a = ss_alloc_pages(0, 4, 1, PAGE_CLS_LARGE);
	b = ss_alloc_pages(0, 8, 1, PAGE_CLS_LARGE);
	ck_assert_uint_eq(slab_first_page(b), slab_first_page(a) + 4);
	ss_free_pages(b);
	ck_assert_uint_eq(slab_ss(a)->nr_dirty, 8);
	ck_assert(ss_resize_pages(a, 10));	/* over six dirty pages */
	ck_assert_uint_eq(slab_ss(a)->nr_dirty, 2);
	unit_check_node(0);
	ck_assert(ss_resize_pages(a, 3));	/* shrinking dirties the tail */
	ck_assert_uint_eq(slab_ss(a)->nr_dirty, 9);
	unit_check_node(0);
	hm_opt.purge_delay_ms = 0;		/* lean: the tail goes at once */
	ck_assert(ss_resize_pages(a, 2));
	ck_assert_uint_eq(slab_ss(a)->nr_dirty, 0);
	ck_assert_uint_eq(fake_os.calls.purge, 1 + HM_SS_HDR_PAGES - 1);
	unit_check_node(0);
	ss_free_pages(a);
}
END_TEST

static Suite *superslab_suite(void)
{
	Suite *s = suite_create("superslab");
	TCase *runs = unit_tcase("runs");
	TCase *chunks = unit_tcase("chunks");
	TCase *setup = unit_tcase("setup");

	tcase_add_test(runs, runs_are_carved_best_fit);
	tcase_add_test(runs, runs_take_the_smallest_hole);
	tcase_add_test(runs, small_and_big_runs_live_apart);
	tcase_add_test(runs, runs_honour_alignment);
	tcase_add_test(runs, full_superslab_then_a_new_one);
	tcase_add_test(runs, tight_superslabs_leave_the_active_list);
	tcase_add_test(runs, empty_superslabs_beyond_the_reserve_are_released);
	tcase_add_test(runs, no_reserve_releases_every_empty_superslab);
	tcase_add_test(runs, resize_grows_into_free_neighbours_only);
	tcase_add_test(runs, resize_to_full_and_back);
	tcase_add_test(runs, commit_failure_leaks_nothing);
	tcase_add_test(runs, trim_releases_empty_superslabs);
	tcase_add_test(runs, node1_runs_live_in_node1);
	tcase_add_test(runs, commit_tier_is_recorded);
	tcase_add_test(runs, superslab_taken_for_a_hole_is_sparse);
	tcase_add_test(runs, random_runs_keep_the_invariants);
	tcase_add_test(runs, page_table_follows_slabs);
	tcase_add_test(runs, balanced_marks_freed_pages_dirty_and_waits);
	tcase_add_test(runs, lean_purges_at_once_and_releases_empty_superslabs);
	tcase_add_test(runs, delayed_purge_happens_on_a_later_slow_path);
	tcase_add_test(runs, purge_tick_never_waits_for_the_node_lock);
	tcase_add_test(runs, stale_pages_of_a_churning_superslab_are_purged);
	tcase_add_test(runs, fast_keeps_everything_but_trim_returns_it);
	tcase_add_test(runs, growing_a_run_over_dirty_pages_cleans_them);
	tcase_add_test(runs, header_pages_of_live_slab_entries_are_never_purged);
	tcase_add_test(chunks, chunks_first_fit_and_aligned);
	tcase_add_test(chunks, chunks_random_against_first_fit);
	tcase_add_test(chunks, chunk_claim_all_or_nothing);
	suite_add_tcase(s, runs);
	tcase_add_test(setup, setup_halves_the_region_while_reserve_fails);
	tcase_add_test(setup, setup_follows_the_address_space_limit);
	tcase_add_test(setup, setup_picks_the_first_tier);
	tcase_add_test(setup, numa_off_is_one_heap);
	tcase_add_test(setup, current_node_follows_the_cpu);
	tcase_add_test(runs, pool_dry_falls_back_and_counts);
	tcase_add_test(runs, hugetlb_superslabs_are_committed_ahead);
	tcase_add_test(runs, hugetlb_batches_need_one_node);
	tcase_add_test(runs, lost_ready_chunk_gives_the_batch_back);
	suite_add_tcase(s, chunks);
	suite_add_tcase(s, setup);
	return s;
}

UNIT_MAIN(superslab_suite)
