/* SPDX-License-Identifier: MIT */
/*
 * hk_util.h - helpers shared by the hakmem allocation API selftests.
 *
 * All allocator entry points are called through volatile function
 * pointers (hk_malloc() & co.).  Together with -fno-builtin this keeps
 * the compiler from eliding malloc/free pairs, folding "impossible"
 * results (malloc(SIZE_MAX) != NULL) or warning about deliberately bad
 * calls: every contract check really reaches the preloaded library.
 */
#ifndef HAKMEM_SELFTEST_HK_UTIL_H
#define HAKMEM_SELFTEST_HK_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include "xorshift.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

/* ---- opaque entry points ------------------------------------------- */

/*
 * Plain function pointer types on purpose: __typeof__(&malloc) would carry
 * over the malloc/alloc_size attributes of the declarations.
 */
typedef void *(*hk_fn_malloc)(size_t);
typedef void (*hk_fn_free)(void *);
typedef void *(*hk_fn_calloc)(size_t, size_t);
typedef void *(*hk_fn_realloc)(void *, size_t);
typedef void *(*hk_fn_reallocarray)(void *, size_t, size_t);
typedef int (*hk_fn_posix_memalign)(void **, size_t, size_t);
typedef void *(*hk_fn_aligned_alloc)(size_t, size_t);
typedef void *(*hk_fn_memalign)(size_t, size_t);
typedef void *(*hk_fn_valloc)(size_t);
typedef void *(*hk_fn_pvalloc)(size_t);
typedef size_t (*hk_fn_malloc_usable_size)(void *);

#define HK_OPAQUE(var, fn) hk_fn_##fn volatile var = fn

static inline void *hk_malloc(size_t n)
{
	HK_OPAQUE(f, malloc);
	return f(n);
}

static inline void hk_free(void *p)
{
	HK_OPAQUE(f, free);
	f(p);
}

static inline void *hk_calloc(size_t n, size_t m)
{
	HK_OPAQUE(f, calloc);
	return f(n, m);
}

static inline void *hk_realloc(void *p, size_t n)
{
	HK_OPAQUE(f, realloc);
	return f(p, n);
}

static inline void *hk_reallocarray(void *p, size_t n, size_t m)
{
	HK_OPAQUE(f, reallocarray);
	return f(p, n, m);
}

static inline int hk_posix_memalign(void **pp, size_t a, size_t n)
{
	HK_OPAQUE(f, posix_memalign);
	return f(pp, a, n);
}

static inline void *hk_aligned_alloc(size_t a, size_t n)
{
	HK_OPAQUE(f, aligned_alloc);
	return f(a, n);
}

static inline void *hk_memalign(size_t a, size_t n)
{
	HK_OPAQUE(f, memalign);
	return f(a, n);
}

static inline void *hk_valloc(size_t n)
{
	HK_OPAQUE(f, valloc);
	return f(n);
}

static inline void *hk_pvalloc(size_t n)
{
	HK_OPAQUE(f, pvalloc);
	return f(n);
}

static inline size_t hk_usable(void *p)
{
	HK_OPAQUE(f, malloc_usable_size);
	return f(p);
}

/* Hide a value from the optimiser. */
static inline size_t hk_sz(size_t n)
{
	volatile size_t v = n;
	return v;
}

static inline void *hk_ptr(void *p)
{
	void *volatile v = p;
	return v;
}

/* ---- misc ------------------------------------------------------------ */

static inline int hk_aligned(const void *p, size_t a)
{
	return ((uintptr_t)p & (a - 1)) == 0;
}

static inline size_t hk_pagesize(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static inline size_t hk_next_pow2(size_t a)
{
	size_t r = 1;

	while (r < a && r)
		r <<= 1;
	return r;
}

/* xorshift64* */
struct hk_rng {
	uint64_t s;
};

static inline void hk_rng_seed(struct hk_rng *r, uint64_t seed)
{
	r->s = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
	if (!r->s)
		r->s = 1;
}

static inline uint64_t hk_rng_next(struct hk_rng *r)
{
	return xorshift64s_next(&r->s);
}

static inline size_t hk_rng_below(struct hk_rng *r, size_t n)
{
	return (size_t)(hk_rng_next(r) % n);
}

/* ---- byte patterns --------------------------------------------------- */

static inline unsigned char hk_pat(uint32_t seed, size_t i)
{
	return (unsigned char)(seed + i + (i >> 8) * 7 + (i >> 16) * 13);
}

/*
 * Inside a 256-byte aligned chunk the pattern is a rotation of 0..255
 * plus a constant, so fill/check are memcpy/memcmp from a 512-byte ramp.
 */
static unsigned char hk_ramp[512];

__attribute__((constructor)) static void hk_ramp_init(void)
{
	int i;

	for (i = 0; i < 512; i++)
		hk_ramp[i] = (unsigned char)i;
}

static inline const unsigned char *hk_pat_src(size_t off, uint32_t seed)
{
	size_t c0 = off & ~(size_t)255;
	unsigned int base = (unsigned char)hk_pat(seed, c0);

	return hk_ramp + ((base + (off & 255)) & 255);
}

static inline void hk_fill(void *p, size_t n, uint32_t seed)
{
	unsigned char *c = p;
	size_t off = 0;

	while (off < n) {
		size_t len = 256 - (off & 255);

		if (len > n - off)
			len = n - off;
		memcpy(c + off, hk_pat_src(off, seed), len);
		off += len;
	}
}

/* Returns the offset of the first mismatch, or (size_t)-1 if intact. */
static inline size_t hk_check(const void *p, size_t n, uint32_t seed)
{
	const unsigned char *c = p;
	size_t off = 0, j;

	while (off < n) {
		size_t len = 256 - (off & 255);
		const unsigned char *src;

		if (len > n - off)
			len = n - off;
		src = hk_pat_src(off, seed);
		if (memcmp(c + off, src, len) != 0) {
			for (j = 0; j < len; j++)
				if (c[off + j] != src[j])
					return off + j;
		}
		off += len;
	}
	return (size_t)-1;
}

#define HK_INTACT ((size_t)-1)

/*
 * Cheap variant for big blocks in hot loops: pattern the first and last
 * 64 bytes and one byte every 4 KiB.
 */
static inline void hk_fill_sparse(void *p, size_t n, uint32_t seed)
{
	unsigned char *c = p;
	size_t i;

	if (n <= 256) {
		hk_fill(p, n, seed);
		return;
	}
	for (i = 0; i < 64; i++) {
		c[i] = hk_pat(seed, i);
		c[n - 1 - i] = hk_pat(seed, n - 1 - i);
	}
	for (i = 4096; i < n; i += 4096)
		c[i] = hk_pat(seed, i);
}

static inline int hk_check_sparse(const void *p, size_t n, uint32_t seed)
{
	const unsigned char *c = p;
	size_t i;

	if (n <= 256)
		return hk_check(p, n, seed) == HK_INTACT;
	for (i = 0; i < 64; i++) {
		if (c[i] != hk_pat(seed, i))
			return 0;
		if (c[n - 1 - i] != hk_pat(seed, n - 1 - i))
			return 0;
	}
	for (i = 4096; i < n; i += 4096)
		if (c[i] != hk_pat(seed, i))
			return 0;
	return 1;
}

static inline int hk_all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

/* ---- running code in a child process -------------------------------- */

struct hk_child {
	int status;         /* waitpid() status */
	char err[8192];     /* captured stderr (NUL terminated) */
	size_t errlen;
};

/*
 * Run fn(arg) in a forked child with stderr captured through a pipe.
 * The child exits 0 if fn returns; it is killed by SIGALRM after
 * timeout seconds.  Core dumps are disabled in the child.
 * Returns 0 on success, -1 if fork/pipe failed.
 */
static inline int hk_run_child(void (*fn)(void *), void *arg,
			       struct hk_child *res, unsigned int timeout)
{
	int pfd[2];
	pid_t pid;
	ssize_t r;

	memset(res, 0, sizeof(*res));
	fflush(stdout);
	fflush(stderr);
	if (pipe(pfd) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		struct rlimit rl = { 0, 0 };

		signal(SIGALRM, SIG_DFL);
		alarm(timeout);
		signal(SIGABRT, SIG_DFL);
		setrlimit(RLIMIT_CORE, &rl);
		close(pfd[0]);
		dup2(pfd[1], STDERR_FILENO);
		close(pfd[1]);
		/* glibc: send fatal messages to stderr, not the tty */
		setenv("LIBC_FATAL_STDERR_", "1", 1);
		fn(arg);
		_exit(0);
	}
	close(pfd[1]);
	for (;;) {
		r = read(pfd[0], res->err + res->errlen,
			 sizeof(res->err) - 1 - res->errlen);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		res->errlen += (size_t)r;
		if (res->errlen == sizeof(res->err) - 1) {
			/* drain the rest */
			char sink[512];

			while ((r = read(pfd[0], sink, sizeof(sink))) > 0 ||
			       (r < 0 && errno == EINTR))
				;
			break;
		}
	}
	res->err[res->errlen] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &res->status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static inline void hk_describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status 0x%x", status);
}

/* Print a captured text as diagnostic lines. */
static inline void hk_diag_text(const char *what, const char *text)
{
	const char *s = text;
	int lines = 0;

	while (*s && lines < 8) {
		const char *nl = strchr(s, '\n');
		int n = nl ? (int)(nl - s) : (int)strlen(s);

		printf("# %s: %.*s\n", what, n, s);
		s += n;
		if (*s == '\n')
			s++;
		lines++;
	}
	fflush(stdout);
}

#endif /* HAKMEM_SELFTEST_HK_UTIL_H */
