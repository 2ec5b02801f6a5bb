// SPDX-License-Identifier: MIT
/*
 * api_introspect - malloc_trim, mallinfo, mallinfo2, malloc_stats,
 * malloc_info, mallopt.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "hk_util.h"

#include <fcntl.h>

typedef int (*fn_trim)(size_t);
typedef struct mallinfo2 (*fn_mallinfo2)(void);
typedef struct mallinfo (*fn_mallinfo)(void);
typedef void (*fn_stats)(void);
typedef int (*fn_info)(int, FILE *);
typedef int (*fn_mallopt)(int, int);

static int call_trim(size_t pad)
{
	fn_trim volatile f = malloc_trim;
	return f(pad);
}

static void test_trim(void)
{
	enum { N = 3000 };
	static unsigned char *p[N];
	static size_t sz[N];
	struct hk_rng r;
	int i, ret0, ret1, ok = 1;

	hk_rng_seed(&r, 1);
	for (i = 0; i < N; i++) {
		sz[i] = 1 + hk_rng_below(&r, i % 50 ? 3000 : 600 * KiB);
		p[i] = hk_malloc(sz[i]);
		if (!p[i]) {
			ok = 0;
			continue;
		}
		hk_fill(p[i], sz[i], (uint32_t)i);
	}
	/* free most blocks, keep every 7th as a survivor */
	for (i = 0; i < N; i++)
		if (i % 7) {
			hk_free(p[i]);
			p[i] = NULL;
		}
	ret0 = call_trim(0);
	tap_ok(ret0 == 0 || ret0 == 1, "malloc_trim(0) returns 0 or 1 (got %d)",
	       ret0);
	ret1 = call_trim(64 * KiB);
	tap_ok(ret1 == 0 || ret1 == 1, "malloc_trim(64 KiB) returns 0 or 1 "
	       "(got %d)", ret1);

	for (i = 0; i < N; i++)
		if (p[i] && hk_check(p[i], sz[i], (uint32_t)i) != HK_INTACT) {
			tap_diag("survivor %d (%zu B) corrupted by malloc_trim",
				 i, sz[i]);
			ok = 0;
		}
	/* allocate again on the trimmed heap */
	for (i = 0; i < N; i++)
		if (!p[i]) {
			sz[i] = 1 + hk_rng_below(&r, i % 50 ? 3000 : 600 * KiB);
			p[i] = hk_malloc(sz[i]);
			if (!p[i]) {
				ok = 0;
				continue;
			}
			hk_fill(p[i], sz[i], (uint32_t)i + 1000000);
		}
	for (i = 0; i < N; i++) {
		uint32_t seed = (uint32_t)i + (i % 7 ? 1000000 : 0);

		if (p[i] && hk_check(p[i], sz[i], seed) != HK_INTACT) {
			tap_diag("block %d corrupted after trim + realloc", i);
			ok = 0;
		}
		hk_free(p[i]);
	}
	call_trim(0);
	tap_ok(ok, "heap stays valid across malloc_trim (survivors intact, "
	       "new blocks usable)");
}

static void test_mallinfo(void)
{
	enum { N = 1024 };
	static void *p[N];
	fn_mallinfo2 volatile mi2 = mallinfo2;
	fn_mallinfo volatile mi = mallinfo;
	struct mallinfo2 a, b, c;
	struct mallinfo m;
	int i, ok = 1;
	size_t total = 0;

	a = mi2();
	tap_diag("mallinfo2 before: arena %zu hblkhd %zu uordblks %zu "
		 "fordblks %zu", a.arena, a.hblkhd, a.uordblks, a.fordblks);
	for (i = 0; i < N; i++) {
		size_t n = 64 * KiB;

		p[i] = hk_malloc(n);
		if (!p[i]) {
			ok = 0;
			continue;
		}
		memset(p[i], 1, n);
		total += n;
	}
	b = mi2();
	tap_diag("mallinfo2 with %zu MiB live: arena %zu hblkhd %zu "
		 "uordblks %zu fordblks %zu", total >> 20, b.arena, b.hblkhd,
		 b.uordblks, b.fordblks);
	tap_ok(ok && b.arena + b.hblkhd >= 64 * MiB,
	       "mallinfo2: arena + hblkhd >= 64 MiB with 64 MiB live");
	ok = b.uordblks + b.hblkhd >= 64 * MiB;
	if (!ok)
		tap_diag("uordblks + hblkhd = %zu", b.uordblks + b.hblkhd);
	tap_ok(ok, "mallinfo2: uordblks + hblkhd >= 64 MiB with 64 MiB live");

	m = mi();
	tap_diag("mallinfo: arena %d hblkhd %d uordblks %d", m.arena, m.hblkhd,
		 m.uordblks);
	tap_ok((long long)m.arena + m.hblkhd != 0 || b.arena + b.hblkhd == 0,
	       "mallinfo (deprecated) callable and reports a non-empty heap");

	for (i = 0; i < N; i++)
		hk_free(p[i]);
	c = mi2();
	m = mi();
	tap_diag("mallinfo2 after free: arena %zu hblkhd %zu uordblks %zu "
		 "fordblks %zu", c.arena, c.hblkhd, c.uordblks, c.fordblks);
	ok = c.uordblks + c.hblkhd < b.uordblks + b.hblkhd;
	tap_ok(ok, "mallinfo2 after freeing 64 MiB: in-use bytes went down");
}

/* run fn with fd 2 redirected to a temp file, return captured text */
static size_t capture_stderr(void (*fn)(void), char *buf, size_t len)
{
	char path[] = "/tmp/hk_selftest_XXXXXX";
	int fd = mkstemp(path), saved;
	ssize_t n;

	if (fd < 0)
		return 0;
	unlink(path);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, len - 1, 0);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return (size_t)n;
}

static void do_stats(void)
{
	fn_stats volatile f = malloc_stats;
	void *p = hk_malloc(1000), *q = hk_malloc(MiB);

	f();
	hk_free(p);
	hk_free(q);
}

static void test_stats(void)
{
	static char buf[65536];
	size_t n = capture_stderr(do_stats, buf, sizeof(buf));

	if (n) {
		char *nl = strchr(buf, '\n');

		tap_diag("malloc_stats first line: %.*s",
			 nl ? (int)(nl - buf) : 60, buf);
	}
	tap_ok(n > 0, "malloc_stats prints to stderr (%zu bytes)", n);
}

static void test_info(void)
{
	fn_info volatile f = malloc_info;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;
	int r, e;
	void *p = hk_malloc(100), *q = hk_malloc(2 * MiB);

	fp = open_memstream(&buf, &len);
	if (!fp) {
		tap_ok(0, "malloc_info(0, fp) returns 0");
		tap_ok(0, "malloc_info output is XML starting with <malloc");
		tap_ok(0, "malloc_info(1, fp) = -1, EINVAL");
		return;
	}
	r = f(0, fp);
	fclose(fp);
	tap_ok(r == 0, "malloc_info(0, fp) returns 0 (got %d)", r);
	if (buf) {
		const char *s = buf;

		while (*s == ' ' || *s == '\n' || *s == '\t')
			s++;
		tap_diag("malloc_info: %zu bytes, starts \"%.*s\"", len,
			 (int)strcspn(s, "\n"), s);
		tap_ok(strncmp(s, "<malloc", 7) == 0,
		       "malloc_info output is XML starting with <malloc");
	} else {
		tap_ok(0, "malloc_info output is XML starting with <malloc");
	}
	free(buf);   /* allocated by open_memstream through our malloc */

	buf = NULL;
	fp = open_memstream(&buf, &len);
	errno = 0;
	r = f(1, fp);
	e = errno;
	fclose(fp);
	free(buf);
	/*
	 * The manual page documents -1 with errno EINVAL; glibc itself
	 * returns EINVAL as the function result.  Accept both.
	 */
	if (r == EINVAL)
		tap_diag("malloc_info(1, fp) returned EINVAL directly "
			 "(glibc style)");
	tap_ok((r == -1 && e == EINVAL) || r == EINVAL,
	       "malloc_info(1, fp) fails with EINVAL (got %d, errno %d)",
	       r, e);
	hk_free(p);
	hk_free(q);
}

static void test_mallopt(void)
{
	fn_mallopt volatile f = mallopt;
	struct { int param, value; const char *name; } c[] = {
		{ M_TRIM_THRESHOLD, 128 * 1024, "M_TRIM_THRESHOLD" },
		{ M_TOP_PAD, 0, "M_TOP_PAD" },
		{ M_MMAP_THRESHOLD, 128 * 1024, "M_MMAP_THRESHOLD" },
		{ M_MMAP_MAX, 65536, "M_MMAP_MAX" },
		{ M_CHECK_ACTION, 3, "M_CHECK_ACTION" },
		{ M_ARENA_MAX, 8, "M_ARENA_MAX" },
		{ M_ARENA_TEST, 8, "M_ARENA_TEST" },
		{ M_MXFAST, 64 * (int)sizeof(size_t) / 4, "M_MXFAST" },
		{ M_PERTURB, 0, "M_PERTURB" },
		{ -12345, 1, "unknown(-12345)" },
		{ 12345, 1, "unknown(12345)" },
	};
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int r = f(c[i].param, c[i].value);

		tap_diag("mallopt(%s, %d) = %d", c[i].name, c[i].value, r);
	}
	/* allocator still fine afterwards */
	for (i = 0; i < 200 && ok; i++) {
		size_t n = 1 + i * 997;
		unsigned char *p = hk_malloc(n);

		if (!p) {
			ok = 0;
			break;
		}
		hk_fill(p, n, 3);
		ok = hk_check(p, n, 3) == HK_INTACT;
		hk_free(p);
	}
	tap_ok(ok, "mallopt returns for known and unknown parameters, "
	       "allocator works afterwards");
}

int main(void)
{
	tap_watchdog(120);
	tap_init(13);
	tap_check_hakmem();

	test_trim();        /* 3 */
	test_mallinfo();    /* 4 */
	test_stats();       /* 1 */
	test_info();        /* 3 */
	test_mallopt();     /* 1 */
	return tap_finish();
}
