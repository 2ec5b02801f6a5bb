// SPDX-License-Identifier: MIT
/*
 * Objects through the entry points of mm/heap.c: hm_malloc, hm_free,
 * hm_usable_size, hm_calloc, hm_realloc, hm_memalign, hm_trim.  How free()
 * finds what a pointer is, and that it stops the program for anything that
 * is not the start of a live-able object.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "unit.h"

#define MiB	(1UL << 20)

static const size_t sizes[] = {
	0, 1, 8, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 100, 127, 128, 129,
	160, 200, 255, 256, 257, 500, 512, 513, 1000, 1023, 1024, 1025, 1500,
	2048, 3000, 4095, 4096, 4097, 5000, 8192, 10000, 16383, 16384, 20000,
	32767, 32768,				/* small */
	32769, 40000, 65536, 100000, 500000, 1048575, 1048576,	/* large */
	1048577, 2 * 1048576, 3 * 1048576 + 5, 8 * 1048576,	/* huge */
};

START_TEST(usable_size_and_alignment)
{
	void *p[ARRAY_SIZE(sizes)];

	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t n = sizes[i], u;

		p[i] = hm_malloc(n);
		ck_assert_msg(p[i] != NULL, "malloc(%zu) failed", n);
		ck_assert_msg(((uintptr_t)p[i] & (HM_ALIGN - 1)) == 0, "malloc(%zu) = %p", n, p[i]);
		ck_assert_msg(hm_in_heap((uintptr_t)p[i]), "malloc(%zu) = %p outside the heap", n, p[i]);
		u = hm_usable_size(p[i]);
		ck_assert_msg(u >= n, "usable_size(malloc(%zu)) = %zu", n, u);
		if (n <= HM_SMALL_MAX)
			ck_assert_msg(u == hm_class[size_class(n)].size, "usable_size(malloc(%zu)) = %zu",
				      n, u);
		else
			ck_assert_msg(u < n + HM_PAGE_SIZE, "usable_size(malloc(%zu)) = %zu", n, u);
		if (n > HM_LARGE_MAX)
			ck_assert_msg(((uintptr_t)p[i] & HM_SS_MASK) == 0, "huge %p not chunk aligned", p[i]);
		else if (n > HM_SMALL_MAX)
			ck_assert_msg(((uintptr_t)p[i] & HM_PAGE_MASK) == 0, "large %p not page aligned", p[i]);
		memset(p[i], (int)i, u);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t u = hm_usable_size(p[i]);

		for (size_t k = 0; k < u; k += 61)
			unit_assert(((unsigned char *)p[i])[k] == (unsigned char)i,
				    "malloc(%zu) = %p overlaps another object", sizes[i], p[i]);
		hm_free(p[i]);
	}
	hm_free(NULL);
	ck_assert_uint_eq(hm_usable_size(NULL), 0);
	ck_assert_int_eq(hm_gauge.huge_count, 0);
	ck_assert_int_eq(hm_gauge.large_bytes, 0);
	unit_check_node(0);
}
END_TEST

START_TEST(many_small_objects_are_aligned_and_distinct)
{
	enum { N = 4000 };
	static void *p[N];

	unit_srand(99);
	for (unsigned i = 0; i < N; i++) {
		size_t n = 1 + unit_rand() % 2048;

		p[i] = hm_malloc(n);
		unit_assert(p[i] && ((uintptr_t)p[i] & 15) == 0, "malloc(%zu) = %p", n, p[i]);
		unit_assert(hm_usable_size(p[i]) >= n, "usable_size < %zu", n);
		*(uint32_t *)p[i] = i;
	}
	for (unsigned i = 0; i < N; i++) {
		unit_assert(*(uint32_t *)p[i] == i, "object %u at %p overwritten", i, p[i]);
		hm_free(p[i]);
	}
}
END_TEST

/* ---- invalid pointers: free() must stop the program ---- */

/* Fixture of the "invalid" case: the abort must come from the right check. */
static void expect_free_abort(void)
{
	fake_os.quiet = 1;
	fake_os.expect_abort = "free(): invalid pointer";
}

START_TEST(free_interior_pointer)
{
	char *p = hm_malloc(64);

	ck_assert_uint_eq(hm_usable_size(p), 64);
	hm_free(p + 16);
}
END_TEST

START_TEST(free_slab_tail_waste)
{
	unsigned cls;
	struct slab *s;
	char *p;

	/* A class whose slab ends in at least 16 bytes of waste. */
	for (cls = 0; cls < HM_NCLASS; cls++)
		if ((size_t)hm_class[cls].npages * HM_PAGE_SIZE - hm_class[cls].span >= HM_ALIGN)
			break;
	ck_assert_uint_lt(cls, HM_NCLASS);
	p = hm_malloc(hm_class[cls].size);
	s = unit_slab_of(p);
	ck_assert_uint_eq(s->cls, cls);
	hm_free((void *)(slab_start(s) + hm_class[cls].span));
}
END_TEST

START_TEST(free_free_page)
{
	char *p = hm_malloc(64);
	struct superslab *ss = ss_of((uintptr_t)p);
	unsigned page = HM_SS_PAGES - 1;

	ck_assert(!unit_page_used(ss, page));
	ck_assert_uint_eq(ss->page_cls[page], PAGE_CLS_FREE);
	hm_free((void *)ss_page_addr(ss, page));
}
END_TEST

START_TEST(free_superslab_header)
{
	char *p = hm_malloc(64);

	hm_free((void *)ss_of((uintptr_t)p));
}
END_TEST

START_TEST(free_superslab_header_page)
{
	char *p = hm_malloc(64);

	ck_assert_uint_ge(HM_SS_HDR_PAGES, 2);
	hm_free((void *)(ss_page_addr(ss_of((uintptr_t)p), 1) + 64));
}
END_TEST

START_TEST(free_huge_plus_page)
{
	char *p = hm_malloc(8 * MiB);

	ck_assert_uint_eq((hm_chunk_entry((uintptr_t)p) & CHUNK_KIND_MASK), CHUNK_HUGE);
	hm_free(p + HM_PAGE_SIZE);
}
END_TEST

START_TEST(free_huge_second_chunk)
{
	char *p = hm_malloc(8 * MiB);

	ck_assert_uint_eq((hm_chunk_entry((uintptr_t)p + HM_SS_SIZE) & CHUNK_KIND_MASK), CHUNK_CONT);
	hm_free(p + HM_SS_SIZE);
}
END_TEST

START_TEST(free_large_second_page)
{
	char *p = hm_malloc(100000);

	ck_assert_uint_eq(ss_of((uintptr_t)p)->page_cls[ss_page_of((uintptr_t)p)], PAGE_CLS_LARGE);
	hm_free(p + HM_PAGE_SIZE);
}
END_TEST

START_TEST(free_large_interior)
{
	char *p = hm_malloc(100000);

	hm_free(p + 16);
}
END_TEST

START_TEST(free_stack_address)
{
	char buf[64] __aligned(16);

	hm_malloc(64);
	hm_free(buf);
}
END_TEST

START_TEST(free_free_chunk)
{
	char *p = hm_malloc(8 * MiB);

	hm_free(p);
	ck_assert_uint_eq((hm_chunk_entry((uintptr_t)p) & CHUNK_KIND_MASK), CHUNK_FREE);
	hm_free(p);				/* a double free of a huge object */
}
END_TEST

START_TEST(free_misaligned)
{
	char *p = hm_malloc(64);

	hm_free(p + 8);
}
END_TEST

START_TEST(usable_size_of_interior)
{
	char *p = hm_malloc(256);

	fake_os.expect_abort = "malloc_usable_size(): invalid pointer";
	hm_usable_size(p + 16);
}
END_TEST

START_TEST(realloc_of_interior)
{
	char *p = hm_malloc(256);

	fake_os.expect_abort = "realloc(): invalid pointer";
	hm_realloc(p + 32, 1000);
}
END_TEST

START_TEST(valid_pointers_do_not_abort)
{
	/* The same kinds of objects as above, freed properly. */
	char *a = hm_malloc(64), *b = hm_malloc(100000), *c = hm_malloc(8 * MiB);
	unsigned cls = size_class(48);
	char *d = hm_malloc(hm_class[cls].size);

	hm_free(a);
	hm_free(b);
	hm_free(c);
	hm_free(d);
	ck_assert_uint_eq(fake_os.calls.abort, 0);
}
END_TEST

/* ---- calloc ---- */

START_TEST(calloc_zeroes_reused_memory)
{
	static const size_t n[] = { 16, 64, 1000, 4096, 32768, 40000, 300000, 3 * MiB };

	for (unsigned i = 0; i < ARRAY_SIZE(n); i++) {
		char *p = hm_malloc(n[i]), *q;

		memset(p, 0xff, hm_usable_size(p));
		hm_free(p);
		q = hm_calloc(1, n[i]);
		ck_assert_ptr_nonnull(q);
		if (n[i] <= HM_LARGE_MAX)	/* the dirty block itself comes back */
			ck_assert_msg(q == p, "calloc(%zu) did not reuse the freed block", n[i]);
		ck_assert_msg(unit_is_zero(q, n[i]), "calloc(%zu) returned dirty memory", n[i]);
		hm_free(q);
	}
	errno = 0;
	ck_assert_ptr_null(hm_calloc(SIZE_MAX / 2, 3));
	ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

START_TEST(calloc_count_times_size)
{
	char *p = hm_malloc(600);

	memset(p, 0x5a, 600);
	hm_free(p);
	p = hm_calloc(30, 20);
	ck_assert(unit_is_zero(p, 600));
	ck_assert_uint_ge(hm_usable_size(p), 600);
	hm_free(p);
}
END_TEST

/* ---- realloc ---- */

START_TEST(realloc_preserves_contents)
{
	static const size_t steps[] = { 100, 50000, 3 * MiB, 200, 20, 700000, 40000, 100, 5 * MiB + 3, 1 };
	size_t prev = 0;
	char *p = NULL;

	for (unsigned i = 0; i < ARRAY_SIZE(steps); i++) {
		size_t n = steps[i], keep = MIN(prev, n), bad;

		p = hm_realloc(p, n);
		ck_assert_msg(p != NULL, "realloc to %zu failed", n);
		ck_assert_uint_ge(hm_usable_size(p), n);
		bad = unit_check_fill(p, keep, (uint32_t)i);
		ck_assert_msg(bad == keep, "realloc %zu -> %zu: byte %zu lost", prev, n, bad);
		unit_fill(p, n, (uint32_t)i + 1);
		prev = n;
	}
	ck_assert_ptr_null(hm_realloc(p, 0));		/* frees, as glibc */
	unit_check_node(0);
}
END_TEST

START_TEST(realloc_in_place)
{
	char *p = hm_malloc(64), *q;

	ck_assert_ptr_eq(hm_realloc(p, 40), p);		/* fits, not too small */
	ck_assert_ptr_eq(hm_realloc(p, 64), p);
	q = hm_realloc(p, 20);				/* under half: moves */
	ck_assert_ptr_ne(q, p);
	ck_assert_uint_eq(hm_usable_size(q), 32);
	hm_free(q);

	/* A large object grows into the free pages after it. */
	p = hm_malloc(40000);
	unit_fill(p, 40000, 3);
	q = hm_realloc(p, 60000);
	ck_assert_ptr_eq(q, p);
	ck_assert_uint_eq(hm_usable_size(q), 15 * HM_PAGE_SIZE);
	ck_assert_uint_eq(unit_check_fill(q, 40000, 3), 40000);
	q = hm_realloc(p, 20000);			/* shrinks in place */
	ck_assert_ptr_eq(q, p);
	ck_assert_uint_eq(hm_usable_size(q), 5 * HM_PAGE_SIZE);
	ck_assert_uint_eq(unit_check_fill(q, 20000, 3), 20000);
	unit_check_node(0);
	p = hm_realloc(q, 100);				/* small enough to be small */
	ck_assert_ptr_ne(p, q);
	ck_assert_uint_eq(hm_usable_size(p), hm_class[size_class(100)].size);
	ck_assert_uint_eq(unit_check_fill(p, 100, 3), 100);
	ck_assert_int_eq(hm_gauge.large_bytes, 0);
	hm_free(p);
}
END_TEST

START_TEST(huge_realloc_grows_in_place)
{
	char *p = hm_malloc(3 * MiB), *q;
	uint32_t idx = hm_chunk_index((uintptr_t)p);

	unit_fill(p, 3 * MiB, 7);
	/* A growing block takes the rest of its last chunk at once. */
	q = hm_realloc(p, 7 * MiB);
	ck_assert_ptr_eq(q, p);
	ck_assert_uint_eq(fake_os.calls.move, 0);
	ck_assert_uint_eq(hm_usable_size(q), 8 * MiB);
	ck_assert_uint_eq(unit_check_fill(q, 3 * MiB, 7), 3 * MiB);
	ck_assert(unit_is_zero(q + 3 * MiB, 5 * MiB));
	for (uint32_t i = 1; i < 4; i++)
		ck_assert_uint_eq(hm_heap.chunk[idx + i] & CHUNK_KIND_MASK, CHUNK_CONT);
	memset(q + 3 * MiB, 1, 5 * MiB);
	unit_check_node(0);

	/* So growing within that chunk asks the OS for nothing. */
	fake_os_reset_counts();
	ck_assert_ptr_eq(hm_realloc(q, 7 * MiB + 100000), q);
	ck_assert_ptr_eq(hm_realloc(q, 8 * MiB), q);
	ck_assert_uint_eq(hm_usable_size(q), 8 * MiB);
	ck_assert_uint_eq(fake_os.calls.move + fake_os.calls.commit, 0);

	/* Shrinking by less than a chunk keeps the block as it is... */
	ck_assert_ptr_eq(hm_realloc(q, 7 * MiB - 5), q);
	ck_assert_uint_eq(hm_usable_size(q), 8 * MiB);
	ck_assert_uint_eq(fake_os.calls.decommit, 0);

	/* ...shrinking by more gives the whole chunks beyond it back. */
	ck_assert_ptr_eq(hm_realloc(q, 3 * MiB + 5), q);
	ck_assert_uint_eq(hm_usable_size(q), 4 * MiB);
	ck_assert_uint_eq(fake_os.calls.decommit, 1);
	ck_assert_uint_eq(hm_heap.chunk[idx + 1] & CHUNK_KIND_MASK, CHUNK_CONT);
	ck_assert_uint_eq(hm_heap.chunk[idx + 2] & CHUNK_KIND_MASK, CHUNK_FREE);
	ck_assert_uint_eq(hm_heap.chunk[idx + 3] & CHUNK_KIND_MASK, CHUNK_FREE);
	ck_assert_uint_eq(unit_check_fill(q, 3 * MiB, 7), 3 * MiB);
	unit_check_node(0);
	hm_free(q);
	ck_assert_int_eq(hm_gauge.huge_bytes, 0);
	unit_check_node(0);
}
END_TEST

START_TEST(huge_realloc_moves_when_blocked)
{
	char *p = hm_malloc(3 * MiB), *blocker = hm_malloc(3 * MiB), *q;
	uint32_t idx = hm_chunk_index((uintptr_t)p);

	ck_assert_uint_eq(hm_chunk_index((uintptr_t)blocker), idx + 2);
	unit_fill(p, 3 * MiB, 11);
	q = hm_realloc(p, 5 * MiB);
	ck_assert_ptr_nonnull(q);
	ck_assert_ptr_ne(q, p);
	ck_assert_uint_eq(fake_os.calls.move, 1);
	ck_assert_ptr_eq(fake_os.last_move_from, p);
	ck_assert_ptr_eq(fake_os.last_move_to, q);
	ck_assert_uint_eq(hm_usable_size(q), 6 * MiB);		/* whole chunks */
	ck_assert_uint_eq(unit_check_fill(q, 3 * MiB, 11), 3 * MiB);
	ck_assert_uint_eq(hm_heap.chunk[idx] & CHUNK_KIND_MASK, CHUNK_FREE);
	ck_assert_uint_eq(hm_heap.chunk[idx + 1] & CHUNK_KIND_MASK, CHUNK_FREE);
	ck_assert_uint_eq(hm_chunk_entry((uintptr_t)q) & CHUNK_KIND_MASK, CHUNK_HUGE);
	memset(q + 3 * MiB, 2, 2 * MiB);
	unit_check_node(0);
	hm_free(q);
	hm_free(blocker);
	ck_assert_int_eq(hm_gauge.huge_count, 0);
	unit_check_node(0);
}
END_TEST

START_TEST(huge_realloc_move_failure_copies)
{
	char *p = hm_malloc(3 * MiB), *blocker = hm_malloc(3 * MiB), *q;

	unit_fill(p, 3 * MiB, 13);
	fake_os.fail_move = 1;
	q = hm_realloc(p, 5 * MiB);
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(fake_os.calls.move, 1);
	ck_assert_uint_eq(unit_check_fill(q, 3 * MiB, 13), 3 * MiB);
	ck_assert_uint_ge(hm_usable_size(q), 5 * MiB);
	unit_check_node(0);
	hm_free(q);
	hm_free(blocker);
	ck_assert_int_eq(hm_gauge.huge_count, 0);
	unit_check_node(0);
}
END_TEST

START_TEST(huge_realloc_lost_range_is_never_reused)
{
	char *p = hm_malloc(3 * MiB), *blocker = hm_malloc(3 * MiB), *q, *r;
	uint32_t idx = hm_chunk_index((uintptr_t)p);

	unit_fill(p, 3 * MiB, 17);
	fake_os.lose_move = 1;
	q = hm_realloc(p, 5 * MiB);
	ck_assert_ptr_nonnull(q);
	ck_assert_ptr_ne(q, p);
	ck_assert_uint_eq(unit_check_fill(q, 3 * MiB, 17), 3 * MiB);
	ck_assert_uint_eq(hm_heap.chunk[idx] & CHUNK_KIND_MASK, CHUNK_LOST);
	ck_assert_uint_eq(hm_heap.chunk[idx + 1] & CHUNK_KIND_MASK, CHUNK_LOST);
	r = hm_malloc(3 * MiB);
	ck_assert_uint_ge(hm_chunk_index((uintptr_t)r), idx + 2);
	r = hm_malloc(64);
	ck_assert_uint_ne(hm_chunk_index((uintptr_t)r), idx);
	ck_assert_uint_ne(hm_chunk_index((uintptr_t)r), idx + 1);
	hm_free(q);
	hm_free(blocker);
	unit_check_node(0);
}
END_TEST

/* ---- memalign ---- */

START_TEST(memalign_power_of_two)
{
	size_t align = (size_t)1 << _i;
	const size_t n[] = { 1, 24, 100, align / 2, align, align + 16, 3 * align + 5, 40000 };
	void *p[ARRAY_SIZE(n)];

	for (unsigned i = 0; i < ARRAY_SIZE(n); i++) {
		p[i] = hm_memalign(align, n[i]);
		ck_assert_msg(p[i] != NULL, "memalign(%zu, %zu) failed", align, n[i]);
		ck_assert_msg(((uintptr_t)p[i] & (align - 1)) == 0, "memalign(%zu, %zu) = %p",
			      align, n[i], p[i]);
		ck_assert_msg(hm_usable_size(p[i]) >= n[i], "memalign(%zu, %zu): usable %zu",
			      align, n[i], hm_usable_size(p[i]));
		memset(p[i], 0x33, n[i]);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(n); i++)
		hm_free(p[i]);
	/* Freed cleanly: once the caches are emptied, nothing is in use. */
	pcpu_drain_all();
	central_trim();
	ck_assert_int_eq(hm_gauge.large_bytes, 0);
	ck_assert_int_eq(hm_gauge.huge_count, 0);
	for (uint32_t i = 0; i < unit_chunks_per_node(); i++) {
		unsigned k = unit_chunk_kind(0, i);

		unit_assert(k == CHUNK_FREE || k == CHUNK_SS, "chunk %u still in use (kind %u)", i, k);
		if (k == CHUNK_SS)
			ck_assert_uint_eq(unit_ss(0, i)->nfree_pages, HM_SS_USABLE_PAGES);
	}
	unit_check_node(0);
}
END_TEST

START_TEST(memalign_odd_alignment)
{
	void *p = hm_memalign(48, 100);		/* rounded up to 64 */

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % 64, 0);
	hm_free(p);
	p = hm_memalign(8, 100);
	ck_assert_uint_eq((uintptr_t)p % 16, 0);
	hm_free(p);
}
END_TEST

/* ---- failures ---- */

START_TEST(commit_failure_is_enomem)
{
	char *p;

	fake_os.fail_commit = 1;
	errno = 0;
	ck_assert_ptr_null(hm_malloc(8 * MiB));
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_uint_eq(fake_os.calls.commit, 1);
	ck_assert_int_eq(hm_gauge.huge_count, 0);
	for (uint32_t i = 0; i < 8; i++)
		ck_assert_uint_eq(unit_chunk_kind(0, i), CHUNK_FREE);
	unit_check_node(0);

	/* The heap keeps working, and reuses the chunks. */
	p = hm_malloc(8 * MiB);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(hm_chunk_index((uintptr_t)p), 0);
	memset(p, 1, 8 * MiB);
	hm_free(p);

	/* Small and large requests fail the same way when a superslab is needed. */
	fake_os.fail_commit = 1;
	errno = 0;
	ck_assert_ptr_null(hm_malloc(64));
	ck_assert_int_eq(errno, ENOMEM);
	fake_os.fail_commit = 1;
	errno = 0;
	ck_assert_ptr_null(hm_malloc(100000));
	ck_assert_int_eq(errno, ENOMEM);
	p = hm_malloc(64);
	ck_assert_ptr_nonnull(p);
	hm_free(p);
	ck_assert_ptr_nonnull(hm_malloc(100000));
	unit_check_node(0);
}
END_TEST

START_TEST(absurd_sizes_fail)
{
	errno = 0;
	ck_assert_ptr_null(hm_malloc(SIZE_MAX));
	ck_assert_int_eq(errno, ENOMEM);
	errno = 0;
	ck_assert_ptr_null(hm_malloc((size_t)8 << 30));	/* beyond the region */
	ck_assert_int_eq(errno, ENOMEM);
	unit_check_node(0);
}
END_TEST

/* ---- trim ---- */

START_TEST(trim_gives_memory_back)
{
	enum { N = 4000 };
	static void *p[N];
	void *big[8];

	for (unsigned i = 0; i < N; i++)
		p[i] = hm_malloc(16 + (i % 64) * 16);
	for (unsigned i = 0; i < ARRAY_SIZE(big); i++)
		big[i] = hm_malloc(200000 + i * 100000);
	ck_assert_uint_ge(hm_heap.node[0].nr_ss, 2);
	for (unsigned i = 0; i < N; i++)
		hm_free(p[i]);
	for (unsigned i = 0; i < ARRAY_SIZE(big); i++)
		hm_free(big[i]);
	fake_os_reset_counts();
	ck_assert_int_eq(hm_trim(0), 1);
	ck_assert_uint_ge(fake_os.calls.decommit, 1);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss, 0);
	ck_assert_int_eq(hm_gauge.committed, 0);
	for (unsigned c = 0; c < HM_NCLASS; c++)
		ck_assert_uint_eq(unit_cached(0, c), 0);
	unit_check_node(0);
	ck_assert_int_eq(hm_trim(0), 0);		/* nothing left to give */

	/* Still works afterwards. */
	p[0] = hm_malloc(100);
	ck_assert_ptr_nonnull(p[0]);
	hm_free(p[0]);
}
END_TEST

START_TEST(allocations_follow_the_cpu_node)
{
	static const size_t n[] = { 16, 1000, 32768, 40000, 1048576, 3 * MiB };

	for (unsigned cpu = 0; cpu < FAKE_NR_CPUS; cpu++) {
		unit_on_cpu(cpu);
		for (unsigned i = 0; i < ARRAY_SIZE(n); i++) {
			void *p = hm_malloc(n[i]);

			ck_assert_msg(hm_node_of((uintptr_t)p) == hm_heap.cpu_node[cpu],
				      "cpu %u: malloc(%zu) = %p on node %u", cpu, n[i], p,
				      hm_node_of((uintptr_t)p));
			hm_free(p);
		}
	}
	unit_check_node(0);
	unit_check_node(1);
}
END_TEST

static Suite *lookup_suite(void)
{
	Suite *s = suite_create("lookup");
	TCase *basic = unit_tcase("basic");
	TCase *invalid = unit_tcase("invalid");

	tcase_add_checked_fixture(invalid, expect_free_abort, NULL);
	TCase *calloc_tc = unit_tcase("calloc");
	TCase *realloc_tc = unit_tcase("realloc");
	TCase *memalign = unit_tcase("memalign");
	TCase *fail = unit_tcase("failure");

	tcase_add_test(basic, usable_size_and_alignment);
	tcase_add_test(basic, many_small_objects_are_aligned_and_distinct);
	tcase_add_test(basic, allocations_follow_the_cpu_node);
	tcase_add_test(basic, trim_gives_memory_back);

	tcase_add_test_raise_signal(invalid, free_interior_pointer, SIGABRT);
	tcase_add_test_raise_signal(invalid, free_slab_tail_waste, SIGABRT);
	tcase_add_test_raise_signal(invalid, free_free_page, SIGABRT);
	tcase_add_test_raise_signal(invalid, free_superslab_header, SIGABRT);
	tcase_add_test_raise_signal(invalid, free_superslab_header_page, SIGABRT);
	tcase_add_test_raise_signal(invalid, free_huge_plus_page, SIGABRT);
	tcase_add_test_raise_signal(invalid, free_huge_second_chunk, SIGABRT);
	tcase_add_test_raise_signal(invalid, free_large_second_page, SIGABRT);
	tcase_add_test_raise_signal(invalid, free_large_interior, SIGABRT);
	tcase_add_test_raise_signal(invalid, free_stack_address, SIGABRT);
	tcase_add_test_raise_signal(invalid, free_free_chunk, SIGABRT);
	tcase_add_test_raise_signal(invalid, free_misaligned, SIGABRT);
	tcase_add_test_raise_signal(invalid, usable_size_of_interior, SIGABRT);
	tcase_add_test_raise_signal(invalid, realloc_of_interior, SIGABRT);
	tcase_add_test(invalid, valid_pointers_do_not_abort);

	tcase_add_test(calloc_tc, calloc_zeroes_reused_memory);
	tcase_add_test(calloc_tc, calloc_count_times_size);

	tcase_add_test(realloc_tc, realloc_preserves_contents);
	tcase_add_test(realloc_tc, realloc_in_place);
	tcase_add_test(realloc_tc, huge_realloc_grows_in_place);
	tcase_add_test(realloc_tc, huge_realloc_moves_when_blocked);
	tcase_add_test(realloc_tc, huge_realloc_move_failure_copies);
	tcase_add_test(realloc_tc, huge_realloc_lost_range_is_never_reused);

	/* Every power of two from 16 bytes to 4 MiB. */
	tcase_add_loop_test(memalign, memalign_power_of_two, 4, 23);
	tcase_add_test(memalign, memalign_odd_alignment);

	tcase_add_test(fail, commit_failure_is_enomem);
	tcase_add_test(fail, absurd_sizes_fail);

	suite_add_tcase(s, basic);
	suite_add_tcase(s, invalid);
	suite_add_tcase(s, calloc_tc);
	suite_add_tcase(s, realloc_tc);
	suite_add_tcase(s, memalign);
	suite_add_tcase(s, fail);
	return s;
}

UNIT_MAIN(lookup_suite)
