// SPDX-License-Identifier: MIT
/*
 * api_align - posix_memalign / aligned_alloc / memalign / valloc /
 * pvalloc contract.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "hk_util.h"

#include <stddef.h>

#define MAX_ALIGN (4 * MiB)

/* validate one aligned block: aligned, usable >= n, writable */
static int check_block(const char *fn, void *p, size_t align, size_t n,
		       int *rep)
{
	size_t u;

	if (!p) {
		if ((*rep)++ < 6)
			tap_diag("%s(align %zu, size %zu) = NULL", fn, align, n);
		return 0;
	}
	if (!hk_aligned(p, align)) {
		if ((*rep)++ < 6)
			tap_diag("%s(align %zu, size %zu) = %p misaligned",
				 fn, align, n, p);
		return 0;
	}
	u = hk_usable(p);
	if (u < n) {
		if ((*rep)++ < 6)
			tap_diag("%s(align %zu, size %zu): usable size %zu",
				 fn, align, n, u);
		return 0;
	}
	return 1;
}

enum { F_POSIX, F_ALIGNED, F_MEMALIGN };
static const char *const fname[] = { "posix_memalign", "aligned_alloc",
				     "memalign" };

static void *do_alloc(int f, size_t a, size_t n, int *ret)
{
	void *p = NULL;

	*ret = 0;
	switch (f) {
	case F_POSIX:
		*ret = hk_posix_memalign(&p, a, n);
		if (*ret)
			p = NULL;
		return p;
	case F_ALIGNED:
		return hk_aligned_alloc(a, n);
	default:
		return hk_memalign(a, n);
	}
}

/* all sizes for one alignment live at once, patterned, then verified */
static int one_alignment(int f, size_t a, int *rep)
{
	size_t sizes[8];
	void *p[8];
	int filled[8] = { 0 };
	int ns = 0, i, ok = 1, ret;

	if (f == F_ALIGNED) {
		/* C11: size is a multiple of the alignment */
		sizes[ns++] = a;
		sizes[ns++] = 2 * a;
		sizes[ns++] = 5 * a;
		sizes[ns++] = (100 * KiB + a - 1) / a * a;
	} else {
		sizes[ns++] = 1;
		if (a > 1)
			sizes[ns++] = a - 1;
		sizes[ns++] = a;
		sizes[ns++] = a + 1;
		sizes[ns++] = 3 * a;
		sizes[ns++] = 100 * KiB;
	}
	for (i = 0; i < ns; i++) {
		p[i] = do_alloc(f, a, sizes[i], &ret);
		if (ret) {
			if ((*rep)++ < 6)
				tap_diag("posix_memalign(align %zu, size %zu) "
					 "returned %d", a, sizes[i], ret);
			ok = 0;
			continue;
		}
		if (!check_block(fname[f], p[i], a, sizes[i], rep)) {
			ok = 0;
			continue;
		}
		hk_fill(p[i], hk_usable(p[i]), (uint32_t)(a + (size_t)i));
		filled[i] = 1;
	}
	for (i = 0; i < ns; i++) {
		size_t off;

		if (!filled[i])
			continue;
		off = hk_check(p[i], hk_usable(p[i]), (uint32_t)(a + (size_t)i));
		if (off != HK_INTACT) {
			if ((*rep)++ < 6)
				tap_diag("%s(align %zu, size %zu) block "
					 "corrupted at %zu", fname[f], a,
					 sizes[i], off);
			ok = 0;
		}
	}
	for (i = 0; i < ns; i++)
		hk_free(p[i]);
	return ok;
}

static void test_powers(int f, size_t lo)
{
	size_t a;
	int ok = 1, rep = 0;

	for (a = lo; a <= 4096; a <<= 1)
		ok &= one_alignment(f, a, &rep);
	tap_ok(ok, "%s: every power of two alignment %zu..4096, several "
	       "sizes", fname[f], lo);
	ok = 1;
	rep = 0;
	for (a = 8192; a <= MAX_ALIGN; a <<= 1)
		ok &= one_alignment(f, a, &rep);
	tap_ok(ok, "%s: every power of two alignment 8192..4 MiB, several "
	       "sizes", fname[f]);
}

/*
 * Alignments from 2 MiB up to 1 GiB (any power of two is valid), from all
 * three functions, with every block of one alignment kept live so the
 * results cannot all land on lucky addresses.  Only the first and last
 * bytes are touched.
 */
static void test_big_alignments(void)
{
	size_t sizes[] = { 1, 4096, 100 * KiB };
	unsigned char *live[16];
	size_t a;
	int f, ok = 1, rep = 0, bad_al = 0, total = 0;
	char badlist[160] = "";
	void *shift = hk_malloc(3 * MiB);   /* perturb the address space */

	for (a = 2 * MiB; a <= GiB; a <<= 1) {
		int nl = 0, i, before = bad_al;

		for (f = F_POSIX; f <= F_MEMALIGN; f++) {
			size_t k, nk = f == F_ALIGNED ? 1 :
				sizeof(sizes) / sizeof(sizes[0]);

			for (k = 0; k < nk; k++) {
				size_t n = f == F_ALIGNED ? a : sizes[k];
				unsigned char *p;
				int ret;

				total++;
				p = do_alloc(f, a, n, &ret);
				if (ret || !check_block(fname[f], p, a, n,
							&rep)) {
					if (ret || p)
						bad_al++;
					ok = 0;
					if (!ret)
						hk_free(p);
					continue;
				}
				p[0] = 1;
				p[n - 1] = 2;
				live[nl++] = p;
			}
		}
		for (i = 0; i < nl; i++)
			hk_free(live[i]);
		if (bad_al != before && strlen(badlist) < sizeof(badlist) - 8)
			snprintf(badlist + strlen(badlist),
				 sizeof(badlist) - strlen(badlist), " %zuM",
				 a >> 20);
	}
	hk_free(shift);
	if (bad_al)
		tap_diag("%d of %d blocks failed; bad alignments:%s", bad_al,
			 total, badlist);
	tap_ok(ok, "posix_memalign/aligned_alloc/memalign: alignments 2 MiB.."
	       "1 GiB, several live at once");
}

static void test_posix_einval(void)
{
	size_t brief[] = { 0, 3, 24, sizeof(void *) / 2 };
	size_t more[] = { 1, 2, 12, 40, 48, 100, 4097, 12288, MiB + 8,
			  SIZE_MAX, SIZE_MAX / 2, SIZE_MAX - 7 };
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof(brief) / sizeof(brief[0]); i++) {
		void *p = NULL;
		int r = hk_posix_memalign(&p, hk_sz(brief[i]), 64);

		if (r != EINVAL) {
			tap_diag("posix_memalign(align %zu) returned %d", brief[i], r);
			ok = 0;
			if (r == 0)
				hk_free(p);
		}
	}
	tap_ok(ok, "posix_memalign returns EINVAL for alignment 0, 3, 24, "
	       "sizeof(void*)/2");
	ok = 1;
	for (i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
		void *p = NULL;
		int r = hk_posix_memalign(&p, hk_sz(more[i]), 64);

		if (r != EINVAL) {
			tap_diag("posix_memalign(align %#zx) returned %d",
				 more[i], r);
			ok = 0;
			if (r == 0)
				hk_free(p);
		}
	}
	tap_ok(ok, "posix_memalign returns EINVAL for other non-power-of-two "
	       "or too small alignments");
}

static void test_posix_enomem(void)
{
	struct { size_t a, n; } c[] = {
		{ 64, SIZE_MAX }, { 64, PTRDIFF_MAX },
		{ 4096, (size_t)1 << 47 }, { 2 * MiB, SIZE_MAX - 4096 },
		{ 8, SIZE_MAX - 7 }, { 16, (size_t)PTRDIFF_MAX + 1 },
		{ MAX_ALIGN, SIZE_MAX - MAX_ALIGN },
	};
	size_t i;
	int ok = 1, r;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		void *p = NULL;

		r = hk_posix_memalign(&p, c[i].a, hk_sz(c[i].n));
		if (r != ENOMEM) {
			tap_diag("posix_memalign(align %zu, size %#zx) "
				 "returned %d", c[i].a, c[i].n, r);
			ok = 0;
			if (r == 0)
				hk_free(p);
		}
	}
	tap_ok(ok, "posix_memalign returns ENOMEM for huge sizes");

	ok = 1;
	{
		size_t al[] = { (size_t)1 << 62, (size_t)1 << 63,
				(size_t)1 << 47 };

		for (i = 0; i < 3; i++) {
			void *p = NULL;

			r = hk_posix_memalign(&p, hk_sz(al[i]), 1);
			if (r != ENOMEM && r != EINVAL) {
				tap_diag("posix_memalign(align %#zx, 1) "
					 "returned %d", al[i], r);
				ok = 0;
				if (r == 0)
					hk_free(p);
			}
		}
	}
	tap_ok(ok, "posix_memalign with impossible alignment fails "
	       "(ENOMEM or EINVAL)");
}

static void test_memalign_npot(void)
{
	size_t al[] = { 3, 5, 6, 7, 12, 24, 48, 100, 1000, 4097, 12345,
			3 * MiB };
	size_t i;
	int ok = 1, nulls = 0, rep = 0;

	for (i = 0; i < sizeof(al) / sizeof(al[0]); i++) {
		void *p;
		int e;

		errno = 0;
		p = hk_memalign(hk_sz(al[i]), 100);
		e = errno;
		if (!p) {
			nulls++;
			if (e != EINVAL) {
				tap_diag("memalign(%zu, 100) = NULL, errno %d",
					 al[i], e);
				ok = 0;
			}
			continue;
		}
		if (!check_block("memalign", p, hk_next_pow2(al[i]), 100,
				 &rep))
			ok = 0;
		else
			hk_fill(p, 100, 1);
		hk_free(p);
	}
	tap_diag("memalign with non-power-of-two alignment: %d of %zu "
		 "rejected with EINVAL, the rest rounded up", nulls,
		 sizeof(al) / sizeof(al[0]));
	tap_ok(ok, "memalign(non-power-of-two) is aligned to the next power "
	       "of two or NULL+EINVAL");
}

static int expect_null(const char *fn, void *p, int e, size_t a, size_t n)
{
	if (p) {
		tap_diag("%s(%#zx, %#zx) returned %p", fn, a, n, p);
		hk_free(p);
		return 0;
	}
	if (e != ENOMEM && e != EINVAL) {
		tap_diag("%s(%#zx, %#zx) = NULL, errno %d (%s)", fn, a, n, e,
			 strerror(e));
		return 0;
	}
	return 1;
}

static void test_huge(void)
{
	struct { size_t a, n; } c[] = {
		{ SIZE_MAX / 2 + 2, 1 }, { (size_t)1 << 62, 1 },
		{ (size_t)1 << 63, 1 }, { 64, SIZE_MAX },
		{ 4096, (size_t)1 << 47 }, { 64, SIZE_MAX - 63 },
		{ (size_t)1 << 62, (size_t)1 << 62 }, { 16, PTRDIFF_MAX },
	};
	size_t i;
	int ok = 1, e;
	void *p;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		errno = 0;
		p = hk_memalign(hk_sz(c[i].a), hk_sz(c[i].n));
		e = errno;
		ok &= expect_null("memalign", p, e, c[i].a, c[i].n);
	}
	tap_ok(ok, "memalign with huge alignment/size = NULL, ENOMEM/EINVAL");
	ok = 1;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		errno = 0;
		p = hk_aligned_alloc(hk_sz(c[i].a), hk_sz(c[i].n));
		e = errno;
		ok &= expect_null("aligned_alloc", p, e, c[i].a, c[i].n);
	}
	tap_ok(ok, "aligned_alloc with huge alignment/size = NULL, "
	       "ENOMEM/EINVAL");
}

static void test_valloc(void)
{
	size_t ps = hk_pagesize();
	size_t sizes[] = { 1, 100, 4095, 4096, 4097, 100 * KiB, MiB,
			   8 * MiB + 1 };
	size_t i;
	int ok = 1, rep = 0, e;
	void *p;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		p = hk_valloc(sizes[i]);
		if (check_block("valloc", p, ps, sizes[i], &rep)) {
			hk_fill(p, hk_usable(p), 7);
			if (hk_check(p, hk_usable(p), 7) != HK_INTACT)
				ok = 0;
		} else {
			ok = 0;
		}
		hk_free(p);
	}
	tap_ok(ok, "valloc returns page-aligned writable blocks");

	errno = 0;
	p = hk_valloc(hk_sz(SIZE_MAX));
	e = errno;
	ok = !p && e == ENOMEM;
	if (p)
		hk_free(p);
	errno = 0;
	p = hk_valloc(hk_sz(SIZE_MAX - 4000));
	ok &= !p && errno == ENOMEM;
	if (p)
		hk_free(p);
	tap_ok(ok, "valloc(SIZE_MAX), valloc(SIZE_MAX-4000) = NULL, ENOMEM");
}

static void test_pvalloc(void)
{
	size_t ps = hk_pagesize();
	size_t sizes[] = { 1, 100, 4095, 4096, 4097, 100 * KiB + 1, MiB + 1,
			   8 * MiB + 1 };
	size_t i;
	int ok = 1, rep = 0;
	void *p;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t r = (sizes[i] + ps - 1) / ps * ps;

		p = hk_pvalloc(sizes[i]);
		if (check_block("pvalloc", p, ps, r, &rep)) {
			hk_fill(p, r, 8);
			if (hk_check(p, r, 8) != HK_INTACT)
				ok = 0;
		} else {
			ok = 0;
		}
		hk_free(p);
	}
	tap_ok(ok, "pvalloc: page-aligned, usable >= size rounded up to a "
	       "page, writable");

	p = hk_pvalloc(hk_sz(0));
	ok = p && hk_aligned(p, ps);
	hk_free(p);
	tap_ok(ok, "pvalloc(0) returns a page-aligned freeable block");

	errno = 0;
	p = hk_pvalloc(hk_sz(SIZE_MAX));
	ok = !p && errno == ENOMEM;
	if (p)
		hk_free(p);
	errno = 0;
	p = hk_pvalloc(hk_sz(SIZE_MAX - 100));
	ok &= !p && errno == ENOMEM;
	if (p)
		hk_free(p);
	tap_ok(ok, "pvalloc(SIZE_MAX), pvalloc(SIZE_MAX-100) = NULL, ENOMEM");
}

struct ablk {
	unsigned char *p;
	size_t n, a;
	uint32_t seed;
};

/*
 * Aligned and plain blocks mixed, freed/realloc'ed in random order:
 * catches bookkeeping errors for interior (aligned) pointers.
 */
static void test_mixed(void)
{
	enum { N = 1500 };
	static struct ablk b[N];
	struct hk_rng r;
	int i, k, ok = 1, rep = 0, realloc_ok = 1;

	hk_rng_seed(&r, 4242);
	for (i = 0; i < N; i++) {
		int f = (int)hk_rng_below(&r, 4), ret;
		size_t a = (size_t)16 << hk_rng_below(&r, 13);  /* ..64K */
		size_t n = 1 + hk_rng_below(&r, i % 8 ? 2000 : 300 * KiB);

		if (f == F_ALIGNED)
			n = (n + a - 1) / a * a;
		if (f == 3) {
			a = 16;
			b[i].p = hk_malloc(n);
		} else {
			b[i].p = do_alloc(f, a, n, &ret);
		}
		b[i].n = n;
		b[i].a = a;
		b[i].seed = (uint32_t)i;
		if (!check_block(f == 3 ? "malloc" : fname[f], b[i].p, a, n,
				 &rep)) {
			ok = 0;
			b[i].n = 0;
			continue;
		}
		hk_fill(b[i].p, n, b[i].seed);
	}
	for (k = 0; k < 6000 && ok; k++) {
		i = (int)hk_rng_below(&r, N);
		if (b[i].p && hk_check(b[i].p, b[i].n, b[i].seed) != HK_INTACT) {
			tap_diag("block %d (align %zu, %zu B) corrupted", i,
				 b[i].a, b[i].n);
			ok = 0;
			break;
		}
		if (k & 1) {
			/* realloc of an aligned block keeps contents */
			size_t n = 1 + hk_rng_below(&r, 5000);
			unsigned char *q = hk_realloc(b[i].p, n);

			if (!q) {
				realloc_ok = 0;
				continue;
			}
			if (hk_check(q, b[i].n < n ? b[i].n : n, b[i].seed) !=
			    HK_INTACT) {
				if (rep++ < 6)
					tap_diag("realloc of block aligned to "
						 "%zu lost contents", b[i].a);
				realloc_ok = 0;
			}
			b[i].p = q;
			b[i].n = n;
			b[i].a = 16;
			hk_fill(q, n, b[i].seed);
		} else {
			size_t a = (size_t)8 << hk_rng_below(&r, 14);
			void *q = NULL;

			hk_free(b[i].p);
			b[i].n = 1 + hk_rng_below(&r, 3000);
			b[i].a = a;
			if (hk_posix_memalign(&q, a, b[i].n) ||
			    !check_block("posix_memalign", q, a, b[i].n,
					 &rep)) {
				ok = 0;
				b[i].p = NULL;
				b[i].n = 0;
				continue;
			}
			b[i].p = q;
			hk_fill(q, b[i].n, b[i].seed);
		}
	}
	for (i = 0; i < N; i++) {
		if (b[i].p && hk_check(b[i].p, b[i].n, b[i].seed) != HK_INTACT)
			ok = 0;
		hk_free(b[i].p);
	}
	tap_ok(ok, "aligned and plain blocks mixed: no corruption, free "
	       "of aligned pointers works");
	tap_ok(realloc_ok, "realloc of aligned blocks preserves contents");
}

int main(void)
{
	tap_watchdog(120);
	tap_init(22);
	tap_check_hakmem();

	test_powers(F_POSIX, sizeof(void *));   /* 2 */
	test_posix_einval();                    /* 2 */
	test_posix_enomem();                    /* 2 */
	test_powers(F_ALIGNED, 1);              /* 2 */
	test_powers(F_MEMALIGN, 1);             /* 2 */
	test_memalign_npot();                   /* 1 */
	test_big_alignments();                  /* 1 */
	test_huge();                            /* 2 */
	test_valloc();                          /* 2 */
	test_pvalloc();                         /* 3 */
	test_mixed();                           /* 2 */
	return tap_finish();
}
