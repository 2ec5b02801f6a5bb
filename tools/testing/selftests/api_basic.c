// SPDX-License-Identifier: MIT
/*
 * api_basic - malloc / free / malloc_usable_size contract.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "hk_util.h"

#include <stddef.h>

#define NSMALL 8193   /* sizes 0..8192 */

static void *small_ptr[NSMALL];

static void test_small_sizes(void)
{
	size_t n, bad_align = 0, bad_null = 0, bad_usable = 0, bad_pat = 0;

	for (n = 0; n < NSMALL; n++) {
		void *p = hk_malloc(n);

		small_ptr[n] = p;
		if (!p) {
			if (bad_null++ < 4)
				tap_diag("malloc(%zu) returned NULL", n);
			continue;
		}
		if (!hk_aligned(p, 16) && bad_align++ < 4)
			tap_diag("malloc(%zu) = %p not 16-byte aligned", n, p);
		if (hk_usable(p) < n && bad_usable++ < 4)
			tap_diag("malloc_usable_size(malloc(%zu)) = %zu",
				 n, hk_usable(p));
		/* write the whole usable area, every block stays live */
		hk_fill(p, hk_usable(p), (uint32_t)n);
	}
	for (n = 0; n < NSMALL; n++) {
		void *p = small_ptr[n];
		size_t off;

		if (!p)
			continue;
		off = hk_check(p, hk_usable(p), (uint32_t)n);
		if (off != HK_INTACT && bad_pat++ < 4)
			tap_diag("block malloc(%zu)=%p corrupted at offset %zu "
				 "(another live block overlaps it?)", n, p, off);
	}
	for (n = 0; n < NSMALL; n++)
		hk_free(small_ptr[n]);

	tap_ok(bad_null == 0, "malloc(n) != NULL for n = 0..8192");
	tap_ok(bad_align == 0 && bad_null == 0,
	       "malloc(n) is 16-byte aligned for n = 0..8192");
	tap_ok(bad_usable == 0 && bad_null == 0,
	       "malloc_usable_size >= n for n = 0..8192");
	tap_ok(bad_pat == 0 && bad_null == 0,
	       "usable bytes of 8193 live blocks writable, no overlap");
}

static const size_t large_sizes[] = {
	8193, 12288, 16383, 16384, 16385, 32767, 32768, 32769,
	65535, 65536, 65537, 100000, 131071, 131072, 131073,
	262144, 500000, MiB - 1, MiB, MiB + 1, 2 * MiB - 1, 2 * MiB,
	2 * MiB + 1, 4 * MiB + 12345, 8 * MiB, 16 * MiB - 1, 16 * MiB + 1,
	32 * MiB, 64 * MiB - 1, 64 * MiB,
};
#define NLARGE (sizeof(large_sizes) / sizeof(large_sizes[0]))

static void test_large_sizes(void)
{
	void *p[NLARGE];
	size_t i, bad_null = 0, bad_align = 0, bad_usable = 0, bad_pat = 0;

	for (i = 0; i < NLARGE; i++) {
		size_t n = large_sizes[i];

		p[i] = hk_malloc(n);
		if (!p[i]) {
			bad_null++;
			tap_diag("malloc(%zu) returned NULL", n);
			continue;
		}
		if (!hk_aligned(p[i], 16) && bad_align++ < 4)
			tap_diag("malloc(%zu) = %p not 16-byte aligned",
				 n, p[i]);
		if (hk_usable(p[i]) < n && bad_usable++ < 4)
			tap_diag("malloc_usable_size(malloc(%zu)) = %zu",
				 n, hk_usable(p[i]));
		hk_fill(p[i], hk_usable(p[i]), (uint32_t)i + 77);
	}
	for (i = 0; i < NLARGE; i++) {
		size_t off;

		if (!p[i])
			continue;
		off = hk_check(p[i], hk_usable(p[i]), (uint32_t)i + 77);
		if (off != HK_INTACT && bad_pat++ < 4)
			tap_diag("block malloc(%zu)=%p corrupted at offset %zu",
				 large_sizes[i], p[i], off);
	}
	for (i = 0; i < NLARGE; i++)
		hk_free(p[i]);

	tap_ok(bad_null == 0 && bad_align == 0,
	       "malloc(n) non-NULL and 16-byte aligned for %zu sizes 8193..64MiB",
	       NLARGE);
	tap_ok(bad_null == 0 && bad_usable == 0 && bad_pat == 0,
	       "large blocks: usable >= n, writable across usable size, no overlap");
}

static void test_malloc_zero(void)
{
	enum { N = 128 };
	void *p[N];
	int i, j, nulls = 0, dups = 0;

	for (i = 0; i < N; i++) {
		p[i] = hk_malloc(hk_sz(0));
		if (!p[i])
			nulls++;
	}
	tap_ok(nulls == 0, "malloc(0) returns non-NULL (%d/%d NULL)",
	       nulls, N);
	for (i = 0; i < N; i++)
		for (j = i + 1; j < N; j++)
			if (p[i] && p[i] == p[j])
				dups++;
	for (i = 0; i < N; i++)
		hk_free(p[i]);
	tap_ok(dups == 0, "malloc(0) pointers are unique and freeable "
	       "(%d duplicates)", dups);
}

static int expect_enomem(size_t n, const char *what)
{
	void *p;
	int e;

	errno = 0;
	p = hk_malloc(hk_sz(n));
	e = errno;
	if (p) {
		tap_diag("malloc(%s = %zu) returned %p", what, n, p);
		hk_free(p);
		return 0;
	}
	if (e != ENOMEM) {
		tap_diag("malloc(%s) returned NULL, errno %d (%s), want ENOMEM",
			 what, e, strerror(e));
		return 0;
	}
	return 1;
}

static void test_enomem(void)
{
	const size_t pmax = (size_t)PTRDIFF_MAX;
	int ok;

	tap_ok(expect_enomem(SIZE_MAX, "SIZE_MAX"),
	       "malloc(SIZE_MAX) = NULL, errno ENOMEM");
	tap_ok(expect_enomem(pmax + 1, "PTRDIFF_MAX+1"),
	       "malloc(PTRDIFF_MAX+1) = NULL, errno ENOMEM");
	tap_ok(expect_enomem(pmax, "PTRDIFF_MAX"),
	       "malloc(PTRDIFF_MAX) = NULL, errno ENOMEM");
	tap_ok(expect_enomem((size_t)1 << 47, "2^47"),
	       "malloc(2^47) = NULL, errno ENOMEM");

	ok = expect_enomem(SIZE_MAX - 1, "SIZE_MAX-1");
	ok &= expect_enomem(SIZE_MAX - 15, "SIZE_MAX-15");
	ok &= expect_enomem(SIZE_MAX - 4095, "SIZE_MAX-4095");
	ok &= expect_enomem(SIZE_MAX - 2 * MiB, "SIZE_MAX-2MiB");
	ok &= expect_enomem(pmax - 4095, "PTRDIFF_MAX-4095");
	ok &= expect_enomem(((size_t)1 << 47) + 4096, "2^47+4096");
	ok &= expect_enomem((size_t)1 << 62, "2^62");
	tap_ok(ok, "malloc of near-SIZE_MAX sizes (rounding overflow) = NULL, ENOMEM");
}

static void test_after_failure(void)
{
	void *a, *b;
	int ok;

	/* failures must not have damaged any allocator state */
	a = hk_malloc(100);
	b = hk_malloc(300 * KiB);
	ok = a && b;
	if (ok) {
		hk_fill(a, 100, 1);
		hk_fill(b, 300 * KiB, 2);
		ok = hk_check(a, 100, 1) == HK_INTACT &&
		     hk_check(b, 300 * KiB, 2) == HK_INTACT;
	}
	hk_free(a);
	hk_free(b);
	tap_ok(ok, "allocator works after failed allocations");
}

struct blk {
	unsigned char *p;
	size_t n;
	size_t usable;
	uint32_t seed;
};

static int blk_cmp(const void *a, const void *b)
{
	const struct blk *x = a, *y = b;

	return (uintptr_t)x->p < (uintptr_t)y->p ? -1 :
	       (uintptr_t)x->p > (uintptr_t)y->p;
}

static size_t rand_size(struct hk_rng *r)
{
	unsigned int k = (unsigned int)hk_rng_below(r, 100);

	if (k < 70)
		return hk_rng_below(r, 257);
	if (k < 90)
		return 257 + hk_rng_below(r, 4096 - 256);
	if (k < 98)
		return 4097 + hk_rng_below(r, 65536 - 4096);
	return 65537 + hk_rng_below(r, MiB - 65536);
}

#define NBLK 4000

static struct blk blks[NBLK];
static struct blk sorted[NBLK];

static int verify_blocks(int round)
{
	size_t i, bad = 0;

	for (i = 0; i < NBLK; i++) {
		size_t off = hk_check(blks[i].p, blks[i].usable, blks[i].seed);

		if (off != HK_INTACT && bad++ < 4)
			tap_diag("round %d: block %p (malloc(%zu), usable %zu) "
				 "corrupted at offset %zu", round, blks[i].p,
				 blks[i].n, blks[i].usable, off);
	}
	memcpy(sorted, blks, sizeof(blks));
	qsort(sorted, NBLK, sizeof(sorted[0]), blk_cmp);
	for (i = 0; i + 1 < NBLK; i++) {
		if ((uintptr_t)sorted[i].p + sorted[i].usable >
		    (uintptr_t)sorted[i + 1].p && bad++ < 8)
			tap_diag("round %d: [%p,+%zu) overlaps block at %p",
				 round, sorted[i].p, sorted[i].usable,
				 sorted[i + 1].p);
	}
	return bad == 0;
}

static void test_no_overlap(void)
{
	struct hk_rng r;
	size_t i;
	int round, ok = 1, nulls = 0;

	hk_rng_seed(&r, 12345);
	for (i = 0; i < NBLK; i++) {
		blks[i].n = rand_size(&r);
		blks[i].p = hk_malloc(blks[i].n);
		if (!blks[i].p) {
			nulls++;
			blks[i].n = 0;
			blks[i].usable = 0;
			continue;
		}
		blks[i].usable = hk_usable(blks[i].p);
		blks[i].seed = (uint32_t)hk_rng_next(&r);
		hk_fill(blks[i].p, blks[i].usable, blks[i].seed);
	}
	ok = nulls == 0 && verify_blocks(0);
	for (round = 1; round <= 3 && ok; round++) {
		/* replace a random half, then check everything again */
		for (i = 0; i < NBLK; i++) {
			if (hk_rng_below(&r, 2))
				continue;
			hk_free(blks[i].p);
			blks[i].n = rand_size(&r);
			blks[i].p = hk_malloc(blks[i].n);
			if (!blks[i].p) {
				nulls++;
				blks[i].usable = 0;
				continue;
			}
			blks[i].usable = hk_usable(blks[i].p);
			blks[i].seed = (uint32_t)hk_rng_next(&r);
			hk_fill(blks[i].p, blks[i].usable, blks[i].seed);
		}
		ok = nulls == 0 && verify_blocks(round);
	}
	for (i = 0; i < NBLK; i++)
		hk_free(blks[i].p);
	tap_ok(ok, "%d live random-size blocks never overlap, contents "
	       "survive churn", NBLK);
}

static void test_free(void)
{
	void *a, *b;
	int ok;

	errno = 0;
	hk_free(NULL);
	hk_free(hk_ptr(NULL));
	tap_ok(errno == 0, "free(NULL) is a no-op");

	a = hk_malloc(48);
	b = hk_malloc(4 * MiB);
	errno = EILSEQ;
	hk_free(a);
	ok = errno == EILSEQ;
	hk_free(b);
	ok &= errno == EILSEQ;
	hk_free(NULL);
	ok &= errno == EILSEQ;
	if (!ok)
		tap_diag("errno after free() is %d", errno);
	tap_ok(ok, "free() preserves errno");

	tap_ok(hk_usable(NULL) == 0, "malloc_usable_size(NULL) == 0");
}

static void test_reuse_cycles(void)
{
	/* repeated malloc/free of the same size must stay correct */
	size_t sizes[] = { 1, 16, 24, 100, 1000, 5000, 70000, 300000, 3 * MiB };
	size_t i;
	int k, ok = 1;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]) && ok; i++) {
		for (k = 0; k < 200 && ok; k++) {
			unsigned char *p = hk_malloc(sizes[i]);

			if (!p) {
				ok = 0;
				tap_diag("malloc(%zu) = NULL on cycle %d",
					 sizes[i], k);
				break;
			}
			hk_fill_sparse(p, sizes[i], (uint32_t)k);
			ok = hk_check_sparse(p, sizes[i], (uint32_t)k);
			hk_free(p);
		}
	}
	tap_ok(ok, "repeated malloc/free cycles of one size");
}

int main(void)
{
	tap_watchdog(120);
	tap_init(20);
	tap_check_hakmem();

	test_small_sizes();          /* 4 */
	test_large_sizes();          /* 2 */
	test_malloc_zero();          /* 2 */
	test_enomem();               /* 5 */
	test_after_failure();        /* 1 */
	test_no_overlap();           /* 1 */
	test_free();                 /* 3 */
	test_reuse_cycles();         /* 1 */
	return tap_finish();
}
