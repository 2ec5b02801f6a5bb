// SPDX-License-Identifier: MIT
/*
 * api_calloc - calloc contract: zeroed memory (also when recycling
 * dirtied blocks), overflow detection, zero-sized requests.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "hk_util.h"

#include <stddef.h>

/* check nmemb*size bytes are zero; report the first dirty offset */
static int check_zero(const void *p, size_t n, const char *what, size_t nm,
		      size_t sz, int *reported)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++) {
		if (c[i]) {
			if ((*reported)++ < 4)
				tap_diag("%s: calloc(%zu, %zu)=%p byte %zu is "
					 "0x%02x", what, nm, sz, p, i, c[i]);
			return 0;
		}
	}
	return 1;
}

static void test_fresh_small(void)
{
	size_t n;
	int ok = 1, rep = 0, nulls = 0, align = 0;

	for (n = 1; n <= 4096; n++) {
		size_t nm = (n % 3) + 1;
		unsigned char *p = hk_calloc(nm, n);

		if (!p) {
			nulls++;
			continue;
		}
		if (!hk_aligned(p, 16) || hk_usable(p) < nm * n)
			align++;
		ok &= check_zero(p, nm * n, "fresh", nm, n, &rep);
		memset(p, 0xA5, nm * n);
		hk_free(p);
	}
	tap_ok(ok && !nulls, "calloc(k, n) zeroed for n = 1..4096 (%d NULL)",
	       nulls);
	tap_ok(!align && !nulls, "calloc result 16-byte aligned, usable >= "
	       "nmemb*size");
}

/*
 * Allocate 'count' blocks of n bytes with malloc, dirty them, free them,
 * then calloc the same size 'count' times and check zero.
 */
static int dirty_then_calloc(size_t n, int count, const char *what, int *rep)
{
	void *p[64];
	int i, ok = 1;

	for (i = 0; i < count; i++) {
		p[i] = hk_malloc(n);
		if (p[i])
			memset(p[i], 0xC3, hk_usable(p[i]));
	}
	/* free in an interleaved order to shuffle free lists */
	for (i = 0; i < count; i += 2)
		hk_free(p[i]);
	for (i = 1; i < count; i += 2)
		hk_free(p[i]);
	for (i = 0; i < count; i++) {
		size_t nm = (i & 1) ? 1 : n;
		size_t sz = (i & 1) ? n : 1;

		p[i] = hk_calloc(nm, sz);
		if (!p[i]) {
			if ((*rep)++ < 4)
				tap_diag("%s: calloc(%zu, %zu) = NULL",
					 what, nm, sz);
			ok = 0;
			continue;
		}
		ok &= check_zero(p[i], n, what, nm, sz, rep);
		memset(p[i], 0x5A, n);      /* dirty again for next round */
	}
	for (i = 0; i < count; i++)
		hk_free(p[i]);
	return ok;
}

static void test_dirty_small(void)
{
	size_t n;
	int ok = 1, rep = 0;

	for (n = 1; n <= 2048; n++)
		ok &= dirty_then_calloc(n, 8, "small", &rep);
	for (n = 2049; n <= 65536; n += 997)
		ok &= dirty_then_calloc(n, 8, "small", &rep);
	tap_ok(ok, "calloc zeroes recycled dirty blocks, sizes 1..64 KiB");
}

static void test_dirty_medium(void)
{
	size_t sizes[] = { 65536, 99999, 100 * KiB, 100 * KiB + 1,
			   128 * KiB - 1, 128 * KiB, 128 * KiB + 1, 200 * KiB,
			   300 * KiB, 511 * KiB, MiB };
	size_t i;
	int round, ok = 1, rep = 0;

	for (round = 0; round < 5; round++)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			ok &= dirty_then_calloc(sizes[i], 6, "medium", &rep);
	tap_ok(ok, "calloc zeroes recycled dirty blocks, ~100 KiB sizes");
}

static void test_dirty_large(void)
{
	size_t sizes[] = { 2 * MiB, 4 * MiB + 1, 8 * MiB - 1, 8 * MiB,
			   8 * MiB + 4096, 16 * MiB };
	size_t i;
	int round, ok = 1, rep = 0;

	for (round = 0; round < 3; round++)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			ok &= dirty_then_calloc(sizes[i], 3, "large", &rep);
	tap_ok(ok, "calloc zeroes recycled dirty blocks, 2..16 MiB sizes");
}

static void test_dirty_mixed(void)
{
	/* dirty memory reached through realloc and splitting of big frees */
	int ok = 1, rep = 0, k;

	for (k = 0; k < 20; k++) {
		unsigned char *p = hk_malloc(50 * KiB), *q;
		void *v[32];
		int i;

		if (!p) {
			ok = 0;
			break;
		}
		memset(p, 0xEE, 50 * KiB);
		q = hk_realloc(p, 400 * KiB);
		if (!q) {
			hk_free(p);
			ok = 0;
			break;
		}
		memset(q, 0xEF, 400 * KiB);
		hk_free(q);
		/* many smaller callocs that may be carved from it */
		for (i = 0; i < 32; i++) {
			size_t n = 1 + (size_t)i * 397 + (size_t)k * 31;

			v[i] = hk_calloc(1, n);
			if (!v[i]) {
				ok = 0;
				continue;
			}
			ok &= check_zero(v[i], n, "mixed", 1, n, &rep);
			memset(v[i], 0xF1, n);
		}
		for (i = 0; i < 32; i++)
			hk_free(v[i]);
		v[0] = hk_calloc(400, KiB);
		if (!v[0]) {
			ok = 0;
			continue;
		}
		ok &= check_zero(v[0], 400 * KiB, "mixed", 400, KiB, &rep);
		hk_free(v[0]);
	}
	tap_ok(ok, "calloc zeroes memory recycled from realloc'd/split blocks");
}

static int expect_enomem(size_t a, size_t b)
{
	void *p;
	int e;

	errno = 0;
	p = hk_calloc(hk_sz(a), hk_sz(b));
	e = errno;
	if (p) {
		tap_diag("calloc(%#zx, %#zx) returned %p", a, b, p);
		hk_free(p);
		return 0;
	}
	if (e != ENOMEM) {
		tap_diag("calloc(%#zx, %#zx) = NULL, errno %d (%s), want "
			 "ENOMEM", a, b, e, strerror(e));
		return 0;
	}
	return 1;
}

static void test_overflow(void)
{
	int ok;

	tap_ok(expect_enomem(SIZE_MAX / 2 + 1, 2),
	       "calloc(SIZE_MAX/2+1, 2) = NULL, ENOMEM (overflow)");
	tap_ok(expect_enomem((size_t)1 << 33, (size_t)1 << 33),
	       "calloc(2^33, 2^33) = NULL, ENOMEM (overflow)");
	ok = expect_enomem(2, SIZE_MAX / 2 + 1);
	ok &= expect_enomem(SIZE_MAX, SIZE_MAX);
	ok &= expect_enomem(((size_t)1 << 32) + 1, (size_t)1 << 32);
	ok &= expect_enomem(3, SIZE_MAX / 3 + 1);
	ok &= expect_enomem(SIZE_MAX / 16 + 1, 16);
	ok &= expect_enomem(65537, ((size_t)1 << 48) - 1);
	tap_ok(ok, "other multiplication overflows = NULL, ENOMEM");
	ok = expect_enomem(1, SIZE_MAX);
	ok &= expect_enomem(SIZE_MAX, 1);
	ok &= expect_enomem(1, (size_t)PTRDIFF_MAX + 1);
	ok &= expect_enomem((size_t)1 << 24, (size_t)1 << 23);  /* 2^47 */
	ok &= expect_enomem((size_t)PTRDIFF_MAX / 2 + 1, 2);
	tap_ok(ok, "non-overflowing but impossible sizes = NULL, ENOMEM");
}

static void test_zero_sized(void)
{
	void *p[6];
	int i, j, ok = 1;

	p[0] = hk_calloc(0, 16);
	p[1] = hk_calloc(16, 0);
	p[2] = hk_calloc(0, 0);
	p[3] = hk_calloc(0, SIZE_MAX);
	p[4] = hk_calloc(SIZE_MAX, 0);
	p[5] = hk_calloc(0, 1);
	for (i = 0; i < 6; i++) {
		if (!p[i]) {
			tap_diag("zero-sized calloc #%d returned NULL", i);
			ok = 0;
		}
		for (j = 0; j < i; j++)
			if (p[i] && p[i] == p[j]) {
				tap_diag("zero-sized callocs #%d and #%d "
					 "both returned %p", j, i, p[i]);
				ok = 0;
			}
	}
	for (i = 0; i < 6; i++)
		hk_free(p[i]);
	tap_ok(ok, "calloc(0, n), calloc(n, 0), calloc(0, SIZE_MAX) return "
	       "unique freeable pointers");
}

static void test_after(void)
{
	unsigned char *p = hk_calloc(10, 1000);
	int rep = 0, ok = p != NULL;

	if (p)
		ok = check_zero(p, 10000, "after", 10, 1000, &rep);
	hk_free(p);
	tap_ok(ok, "calloc works after failed calls");
}

int main(void)
{
	tap_watchdog(120);
	tap_init(13);
	tap_check_hakmem();

	test_fresh_small();       /* 2 */
	test_dirty_small();       /* 1 */
	test_dirty_medium();      /* 1 */
	test_dirty_large();       /* 1 */
	test_dirty_mixed();       /* 1 */
	test_overflow();          /* 4 */
	test_zero_sized();        /* 1 */
	test_after();             /* 1 */
	return tap_finish();
}
