// SPDX-License-Identifier: MIT
/*
 * api_realloc - realloc / reallocarray contract.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "hk_util.h"

#include <stddef.h>

static void test_null(void)
{
	size_t sizes[] = { 0, 1, 17, 100, 4096, 100 * KiB, MiB, 16 * MiB };
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		unsigned char *p = hk_realloc(NULL, n);

		if (!p || !hk_aligned(p, 16) || hk_usable(p) < n) {
			tap_diag("realloc(NULL, %zu) = %p usable %zu", n,
				 (void *)p, p ? hk_usable(p) : 0);
			ok = 0;
			hk_free(p);
			continue;
		}
		hk_fill(p, hk_usable(p), 3);
		if (hk_check(p, hk_usable(p), 3) != HK_INTACT)
			ok = 0;
		hk_free(p);
	}
	tap_ok(ok, "realloc(NULL, n) behaves like malloc(n)");
}

/* realloc p (holding 'have' patterned bytes, seed) to n; check prefix */
static unsigned char *grow_check(unsigned char *p, size_t have, size_t n,
				 uint32_t seed, int *ok, const char *what)
{
	unsigned char *q = hk_realloc(p, n);
	size_t keep = have < n ? have : n, off;

	if (!q) {
		tap_diag("%s: realloc(%p, %zu) = NULL", what, (void *)p, n);
		*ok = 0;
		return p;
	}
	if (!hk_aligned(q, 16) || hk_usable(q) < n) {
		tap_diag("%s: realloc(.., %zu) = %p, usable %zu", what, n,
			 (void *)q, hk_usable(q));
		*ok = 0;
	}
	off = hk_check(q, keep, seed);
	if (off != HK_INTACT) {
		tap_diag("%s: realloc %zu -> %zu lost contents at offset %zu",
			 what, have, n, off);
		*ok = 0;
	}
	/* pattern the whole new block */
	hk_fill(q, n, seed);
	return q;
}

static void test_chain(void)
{
	size_t steps[] = { 64, 100 * KiB, 16 * MiB, 64, 8 * MiB, 200, 1,
			   300 * KiB, 5000, 64 * MiB, 4096 };
	size_t i, have;
	unsigned char *p;
	int ok = 1;

	p = hk_malloc(steps[0]);
	if (!p) {
		tap_ok(0, "realloc chain 64 B -> 100 KiB -> 16 MiB -> 64 B ...");
		return;
	}
	hk_fill(p, steps[0], 9);
	have = steps[0];
	for (i = 1; i < sizeof(steps) / sizeof(steps[0]); i++) {
		p = grow_check(p, have, steps[i], 9, &ok, "chain");
		if (!ok)
			break;
		have = steps[i];
	}
	hk_free(p);
	tap_ok(ok, "realloc chain 64 B -> 100 KiB -> 16 MiB -> 64 B -> ... "
	       "preserves contents");
}

static size_t size_class(struct hk_rng *r, int cls)
{
	switch (cls) {
	case 0: return 1 + hk_rng_below(r, 1024);              /* small */
	case 1: return 1024 + hk_rng_below(r, 64 * KiB);       /* medium */
	case 2: return 64 * KiB + hk_rng_below(r, 2 * MiB);    /* large */
	default: return 2 * MiB + hk_rng_below(r, 30 * MiB);   /* huge */
	}
}

static void test_pairs(void)
{
	static const char *const names[] = { "small", "medium", "large",
					      "huge" };
	struct hk_rng r;
	int from, to;

	hk_rng_seed(&r, 77);
	for (from = 0; from < 4; from++) {
		int ok = 1, k, iters = from == 3 ? 8 : 200;

		for (to = 0; to < 4; to++) {
			for (k = 0; k < (to == 3 ? 8 : iters) && ok; k++) {
				size_t a = size_class(&r, from);
				size_t b = size_class(&r, to);
				uint32_t seed = (uint32_t)hk_rng_next(&r);
				unsigned char *p = hk_malloc(a);

				if (!p) {
					ok = 0;
					break;
				}
				hk_fill(p, a, seed);
				p = grow_check(p, a, b, seed, &ok, "pairs");
				hk_free(p);
			}
		}
		tap_ok(ok, "realloc %s -> small/medium/large/huge keeps "
		       "contents", names[from]);
	}
}

static void test_many_steps(void)
{
	unsigned char *p = NULL;
	size_t have = 0, n;
	struct hk_rng r;
	int ok = 1, steps = 0;

	hk_rng_seed(&r, 5);
	/* geometric-ish growth to 12 MiB */
	for (n = 1; n < 12 * MiB && ok; n += n / 8 + 1 + hk_rng_below(&r, 64)) {
		p = grow_check(p, have, n, 21, &ok, "grow");
		have = n;
		steps++;
	}
	/* and back down */
	while (have > 1 && ok) {
		n = have - have / 6 - 1;
		p = grow_check(p, have, n, 21, &ok, "shrink");
		have = n;
		steps++;
	}
	hk_free(p);
	tap_ok(ok, "realloc grow to 12 MiB and shrink to 1 B in %d steps",
	       steps);

	/* byte-by-byte growth exercises in-place extension */
	ok = 1;
	p = NULL;
	have = 0;
	for (n = 1; n <= 6000 && ok; n++) {
		unsigned char *q = hk_realloc(p, n);

		if (!q) {
			ok = 0;
			break;
		}
		p = q;
		p[n - 1] = hk_pat(33, n - 1);
		if ((n & 63) == 0 && hk_check(p, n, 33) != HK_INTACT) {
			tap_diag("1-byte growth: contents lost at size %zu", n);
			ok = 0;
		}
	}
	hk_free(p);
	tap_ok(ok, "realloc growing 1 byte at a time to 6000 keeps contents");
}

struct live {
	unsigned char *p;
	size_t n;
	uint32_t seed;
};

static void test_neighbours(void)
{
	enum { N = 600 };
	static struct live b[N];
	struct hk_rng r;
	int i, k, ok = 1;

	hk_rng_seed(&r, 99);
	for (i = 0; i < N; i++) {
		b[i].n = 1 + hk_rng_below(&r, (i % 10) ? 600 : 200 * KiB);
		b[i].p = hk_malloc(b[i].n);
		b[i].seed = (uint32_t)i;
		if (!b[i].p) {
			ok = 0;
			b[i].n = 0;
			continue;
		}
		hk_fill(b[i].p, b[i].n, b[i].seed);
	}
	for (k = 0; k < 20000 && ok; k++) {
		i = (int)hk_rng_below(&r, N);
		size_t n = 1 + hk_rng_below(&r, (k % 16) ? 1200 : 400 * KiB);
		unsigned char *q = hk_realloc(b[i].p, n);

		if (!q) {
			ok = 0;
			break;
		}
		if (hk_check(q, b[i].n < n ? b[i].n : n, b[i].seed) !=
		    HK_INTACT) {
			tap_diag("realloc %zu -> %zu lost contents", b[i].n, n);
			ok = 0;
		}
		b[i].p = q;
		b[i].n = n;
		b[i].seed = (uint32_t)k * 7 + 1;
		hk_fill(q, n, b[i].seed);
		if (k % 2000 == 1999) {
			int j;

			for (j = 0; j < N; j++)
				if (hk_check(b[j].p, b[j].n, b[j].seed) !=
				    HK_INTACT) {
					tap_diag("neighbour block %d (%zu B) "
						 "corrupted after realloc of "
						 "another", j, b[j].n);
					ok = 0;
					break;
				}
		}
	}
	for (i = 0; i < N; i++)
		hk_free(b[i].p);
	tap_ok(ok, "random reallocs never corrupt other live blocks");
}

static void test_same_size(void)
{
	size_t sizes[] = { 1, 24, 500, 5000, 200 * KiB, 3 * MiB };
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *p = hk_malloc(sizes[i]), *q;
		size_t u;

		if (!p) {
			ok = 0;
			continue;
		}
		u = hk_usable(p);
		hk_fill(p, u, 4);
		q = hk_realloc(p, sizes[i]);
		if (!q || hk_check(q, sizes[i], 4) != HK_INTACT) {
			ok = 0;
			hk_free(q ? q : p);
			continue;
		}
		p = hk_realloc(q, u);
		if (!p || hk_check(p, sizes[i], 4) != HK_INTACT) {
			tap_diag("realloc to usable size %zu failed/lost data",
				 u);
			ok = 0;
		}
		hk_free(p ? p : q);
	}
	tap_ok(ok, "realloc to the same size / to malloc_usable_size keeps "
	       "contents");
}

static void test_zero(void)
{
	size_t sizes[] = { 1, 100, 100 * KiB, 16 * MiB };
	size_t i;
	int nulls = 0, ptrs = 0;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *p = hk_malloc(sizes[i]);
		void *q = hk_realloc(p, hk_sz(0));

		/* p must not be used from here on */
		if (q) {
			ptrs++;
			hk_free(q);
		} else {
			nulls++;
		}
	}
	tap_diag("realloc(p, 0): %d NULL (block freed), %d freeable pointers",
		 nulls, ptrs);
	tap_ok(1, "realloc(p, 0) returns NULL or a freeable pointer");
}

static int fail_realloc(size_t have, size_t n, const char *what)
{
	unsigned char *p = hk_malloc(have), *q;
	int e, ok = 1;

	if (!p) {
		tap_diag("malloc(%zu) failed", have);
		return 0;
	}
	hk_fill(p, have, 55);
	errno = 0;
	q = hk_realloc(p, hk_sz(n));
	e = errno;
	if (q) {
		tap_diag("realloc(%zu-byte block, %s) returned %p", have,
			 what, (void *)q);
		hk_free(q);
		return 0;
	}
	if (e != ENOMEM) {
		tap_diag("realloc(%zu-byte block, %s) = NULL, errno %d (%s)",
			 have, what, e, strerror(e));
		ok = 0;
	}
	if (hk_check(p, have, 55) != HK_INTACT) {
		tap_diag("realloc(%zu-byte block, %s) failed but damaged the "
			 "block", have, what);
		ok = 0;
	}
	/* the old block must still be fully usable */
	q = hk_realloc(p, have * 2 + 10);
	if (!q || hk_check(q, have, 55) != HK_INTACT) {
		tap_diag("block unusable after failed realloc(%s)", what);
		ok = 0;
		hk_free(q ? q : p);
		return ok;
	}
	hk_free(q);
	return ok;
}

static void test_fail(void)
{
	size_t haves[] = { 100, 300 * KiB, 16 * MiB };
	size_t i;
	int ok1 = 1, ok2 = 1, ok3 = 1;

	for (i = 0; i < 3; i++) {
		ok1 &= fail_realloc(haves[i], SIZE_MAX, "SIZE_MAX");
		ok2 &= fail_realloc(haves[i], PTRDIFF_MAX, "PTRDIFF_MAX");
		ok3 &= fail_realloc(haves[i], (size_t)PTRDIFF_MAX + 1,
				    "PTRDIFF_MAX+1");
		ok3 &= fail_realloc(haves[i], SIZE_MAX - 4095, "SIZE_MAX-4095");
		ok3 &= fail_realloc(haves[i], (size_t)1 << 47, "2^47");
	}
	tap_ok(ok1, "realloc(p, SIZE_MAX) = NULL, ENOMEM, p intact "
	       "(small/large/huge p)");
	tap_ok(ok2, "realloc(p, PTRDIFF_MAX) = NULL, ENOMEM, p intact");
	tap_ok(ok3, "realloc(p, PTRDIFF_MAX+1 / SIZE_MAX-4095 / 2^47) = NULL, "
	       "ENOMEM, p intact");
}

static void test_reallocarray(void)
{
	unsigned char *p, *q;
	int ok, e;

	p = hk_reallocarray(NULL, 10, 10);
	ok = p && hk_usable(p) >= 100 && hk_aligned(p, 16);
	if (p)
		hk_fill(p, 100, 8);
	tap_ok(ok, "reallocarray(NULL, 10, 10) acts as malloc(100)");
	if (!p)
		return;

	q = hk_reallocarray(p, 1000, 20);
	ok = q && hk_usable(q) >= 20000 && hk_check(q, 100, 8) == HK_INTACT;
	if (q) {
		p = q;
		hk_fill(p, 20000, 8);
		q = hk_reallocarray(p, 3, 10);
		ok &= q && hk_check(q, 30, 8) == HK_INTACT;
		if (q)
			p = q;
		else
			ok = 0;
	}
	tap_ok(ok, "reallocarray grows and shrinks preserving contents");

	hk_fill(p, 30, 12);
	ok = 1;
	{
		size_t bad[][2] = {
			{ SIZE_MAX / 2 + 1, 2 },
			{ (size_t)1 << 33, (size_t)1 << 33 },
			{ 2, SIZE_MAX / 2 + 1 },
			{ SIZE_MAX, SIZE_MAX },
		};
		size_t i;

		for (i = 0; i < 4; i++) {
			errno = 0;
			q = hk_reallocarray(p, hk_sz(bad[i][0]),
					    hk_sz(bad[i][1]));
			e = errno;
			if (q || e != ENOMEM) {
				tap_diag("reallocarray(p, %#zx, %#zx) = %p, "
					 "errno %d", bad[i][0], bad[i][1],
					 (void *)q, e);
				ok = 0;
				if (q)
					p = q;
			}
			if (hk_check(p, 30, 12) != HK_INTACT) {
				tap_diag("old block damaged by failed "
					 "reallocarray");
				ok = 0;
			}
		}
	}
	tap_ok(ok, "reallocarray overflow = NULL, ENOMEM, old block intact");

	errno = 0;
	q = hk_reallocarray(p, 1, hk_sz(SIZE_MAX));
	e = errno;
	ok = !q && e == ENOMEM && hk_check(p, 30, 12) == HK_INTACT;
	if (q)
		p = q;
	tap_ok(ok, "reallocarray(p, 1, SIZE_MAX) = NULL, ENOMEM, old block "
	       "intact");
	hk_free(p);
}

int main(void)
{
	tap_watchdog(120);
	tap_init(19);
	tap_check_hakmem();

	test_null();            /* 1 */
	test_chain();           /* 1 */
	test_pairs();           /* 4 */
	test_many_steps();      /* 2 */
	test_neighbours();      /* 1 */
	test_same_size();       /* 1 */
	test_zero();            /* 1 */
	test_fail();            /* 3 */
	test_reallocarray();    /* 4 */
	return tap_finish();
}
