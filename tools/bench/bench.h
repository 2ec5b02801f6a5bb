/* SPDX-License-Identifier: MIT */
/*
 * bench.h - helpers shared by the hakmem comparison workloads.
 *
 * Every workload is a small stand-alone C program.  This header gives them
 * the same small toolbox:
 *
 *   - a fast local PRNG (splitmix64 seeding an xorshift64* stream);
 *   - a monotonic clock;
 *   - a cheap block pattern (words at the start, every 256 bytes and at
 *     the end of each block, derived from the block address and size) that
 *     is written after malloc and verified before free, so an allocator
 *     that hands out overlapping or misaligned blocks is caught;
 *   - the allocator check: the runner exports BENCH_EXPECT (a library path,
 *     or "glibc") and each program verifies, before doing any work, that
 *     malloc/free/calloc/realloc really resolve to that object.  A run that
 *     silently fell back to glibc is an error (exit 2), never a figure.
 *
 * Failures of malloc are reported and end the program with exit status 1.
 */
#ifndef HAKMEM_BENCH_H
#define HAKMEM_BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include "xorshift.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- PRNG */

static inline uint64_t bench_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct bench_rng {
	uint64_t s;
};

static inline void bench_rng_init(struct bench_rng *r, uint64_t seed)
{
	uint64_t st = seed;

	r->s = bench_splitmix64(&st);
	if (r->s == 0)
		r->s = 0x2545f4914f6cdd1dULL;
}

static inline uint64_t bench_rng_next(struct bench_rng *r)
{
	return xorshift64s_next(&r->s);
}

/* Uniform value in [0, n) without a division (n < 2^32). */
static inline uint32_t bench_rng_below(struct bench_rng *r, uint32_t n)
{
	return (uint32_t)(((bench_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform value in [lo, hi]. */
static inline size_t bench_rng_range(struct bench_rng *r, size_t lo, size_t hi)
{
	return lo + bench_rng_below(r, (uint32_t)(hi - lo + 1));
}

/* --------------------------------------------------------------- clock */

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ----------------------------------------------------------- arguments */

static inline long bench_arg(int argc, char **argv, int i, long def)
{
	char *end;
	long v;

	if (i >= argc || argv[i][0] == '\0' || strcmp(argv[i], "-") == 0)
		return def;
	errno = 0;
	v = strtol(argv[i], &end, 0);
	if (errno || *end != '\0' || v < 0) {
		fprintf(stderr, "%s: bad argument %d: '%s'\n", argv[0], i, argv[i]);
		exit(1);
	}
	return v;
}

static inline double bench_argf(int argc, char **argv, int i, double def)
{
	char *end;
	double v;

	if (i >= argc || argv[i][0] == '\0' || strcmp(argv[i], "-") == 0)
		return def;
	v = strtod(argv[i], &end);
	if (*end != '\0' || v < 0) {
		fprintf(stderr, "%s: bad argument %d: '%s'\n", argv[0], i, argv[i]);
		exit(1);
	}
	return v;
}

/* ------------------------------------------------------------- failure */

static inline void bench_oom(const char *prog, size_t size)
{
	fprintf(stderr, "%s: FAIL: allocation of %zu bytes returned NULL\n",
		prog, size);
	exit(1);
}

static inline void bench_corrupt(const char *prog, const void *p, size_t size,
				 size_t off)
{
	fprintf(stderr,
		"%s: FAIL: block %p (size %zu) corrupted at offset %zu\n",
		prog, p, size, off);
	exit(1);
}

/* ------------------------------------------------------- block pattern */

#define BENCH_STRIDE 256

static inline uint64_t bench_key(const void *p, size_t size)
{
	uint64_t k = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ULL;

	return k ^ ((uint64_t)size << 17) ^ 0x5bd1e9955bd1e995ULL;
}

static inline uint64_t bench_word(uint64_t key, size_t off)
{
	return key ^ ((uint64_t)off * 0xff51afd7ed558ccdULL);
}

/*
 * Write the pattern of a block.  Also checks the alignment every malloc
 * must give on x86_64 (16 bytes for blocks of 16 bytes or more).
 */
static inline void bench_fill(const char *prog, void *p, size_t size)
{
	unsigned char *b = p;
	uint64_t key = bench_key(p, size);
	size_t off;

	if (size >= 16 && ((uintptr_t)p & 15) != 0) {
		fprintf(stderr, "%s: FAIL: block %p of size %zu is not 16-byte aligned\n",
			prog, p, size);
		exit(1);
	}
	if (size < 8) {
		for (off = 0; off < size; off++)
			b[off] = (unsigned char)(key >> (off * 8));
		return;
	}
	for (off = 0; off + 8 <= size; off += BENCH_STRIDE) {
		uint64_t w = bench_word(key, off);

		memcpy(b + off, &w, 8);
	}
	{
		uint64_t w = bench_word(key, size - 8) ^ 0xa5a5a5a5a5a5a5a5ULL;

		memcpy(b + size - 8, &w, 8);
	}
}

/* Verify the pattern written by bench_fill(); exits on mismatch. */
static inline void bench_check(const char *prog, const void *p, size_t size)
{
	const unsigned char *b = p;
	uint64_t key = bench_key(p, size);
	size_t off;

	if (size < 8) {
		for (off = 0; off < size; off++)
			if (b[off] != (unsigned char)(key >> (off * 8)))
				bench_corrupt(prog, p, size, off);
		return;
	}
	{
		uint64_t w;

		memcpy(&w, b + size - 8, 8);
		if (w != (bench_word(key, size - 8) ^ 0xa5a5a5a5a5a5a5a5ULL))
			bench_corrupt(prog, p, size, size - 8);
	}
	/* Stride words overlapping the tail word were overwritten by it. */
	for (off = 0; off + 16 <= size; off += BENCH_STRIDE) {
		uint64_t w;

		memcpy(&w, b + off, 8);
		if (w != bench_word(key, off))
			bench_corrupt(prog, p, size, off);
	}
}


/* A block of a working set: where it is and how big (for the check). */
struct bench_slot {
	void	*p;
	size_t	size;
};

/* Put a fresh block of sz bytes, filled with its pattern, in slot s. */
static inline void bench_slot_new(const char *prog, struct bench_slot *s, size_t sz)
{
	void *p = malloc(sz);

	if (!p)
		bench_oom(prog, sz);
	bench_fill(prog, p, sz);
	s->p = p;
	s->size = sz;
}

/* Fill n slots with blocks of random size in [minsz, maxsz]. */
static inline void bench_slots_fill(const char *prog, struct bench_rng *r,
				    struct bench_slot *slots, long n, long minsz, long maxsz)
{
	for (long i = 0; i < n; i++)
		bench_slot_new(prog, &slots[i], bench_rng_range(r, (size_t)minsz, (size_t)maxsz));
}

/* Check and free the blocks of n slots. */
static inline void bench_slots_free(const char *prog, struct bench_slot *slots, long n)
{
	for (long i = 0; i < n; i++) {
		bench_check(prog, slots[i].p, slots[i].size);
		free(slots[i].p);
	}
}

/* --------------------------------------------------- allocator check */

static inline const char *bench_sym_file(const char *sym, char *buf, size_t len)
{
	void *addr = dlsym(RTLD_DEFAULT, sym);
	Dl_info di;

	if (!addr || !dladdr(addr, &di) || !di.dli_fname)
		return NULL;
	if (!realpath(di.dli_fname, buf)) {
		snprintf(buf, len, "%s", di.dli_fname);
	}
	return buf;
}

static inline int bench_is_glibc(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc-", 5) == 0;
}

/*
 * Check that the allocator named by BENCH_EXPECT is the one the program's
 * malloc family binds to.  Without BENCH_EXPECT nothing is checked.
 * Returns the path of the object that provides malloc (static buffer).
 */
static inline const char *bench_verify_allocator(const char *prog)
{
	static char got[PATH_MAX];
	static const char *const syms[] = { "free", "calloc", "realloc" };
	const char *expect = getenv("BENCH_EXPECT");
	char want[PATH_MAX], other[PATH_MAX];
	unsigned i;

	if (!bench_sym_file("malloc", got, sizeof(got))) {
		fprintf(stderr, "%s: FAIL: cannot locate the object providing malloc\n", prog);
		exit(2);
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		if (!bench_sym_file(syms[i], other, sizeof(other)) ||
		    strcmp(other, got) != 0) {
			fprintf(stderr, "%s: FAIL: %s comes from %s but malloc from %s\n",
				prog, syms[i], other, got);
			exit(2);
		}
	}
	if (!expect || !*expect)
		return got;
	if (strcmp(expect, "glibc") == 0) {
		if (!bench_is_glibc(got)) {
			fprintf(stderr, "%s: FAIL: expected glibc malloc, got %s\n", prog, got);
			exit(2);
		}
		return got;
	}
	if (!realpath(expect, want)) {
		fprintf(stderr, "%s: FAIL: expected allocator %s does not exist\n",
			prog, expect);
		exit(2);
	}
	if (strcmp(want, got) != 0) {
		fprintf(stderr, "%s: FAIL: expected malloc from %s, got %s\n",
			prog, want, got);
		exit(2);
	}
	return got;
}

/* ------------------------------------- the allocator's own system calls */

#include "hakmem.h"

/*
 * System calls the allocator itself has made so far (its statistics), or
 * -1 when the allocator is not hakmem (or has no counters).  Looked up with
 * dlsym, so the workloads run unchanged under every allocator.
 */
static inline long bench_alloc_syscalls(void)
{
	int (*get)(struct hakmem_stats *, size_t);
	struct hakmem_stats st;

	*(void **)&get = dlsym(RTLD_DEFAULT, "hakmem_stats_get");
	if (!get || get(&st, sizeof(st)) < (int)sizeof(st) || !st.counters)
		return -1;
	return (long)st.syscalls;
}

/* Resident set size of this process now, in KiB (/proc/self/statm). */
static inline long bench_rss_kib(void)
{
	long pages = -1, rss = -1;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : rss * 4;
}

#endif /* HAKMEM_BENCH_H */
