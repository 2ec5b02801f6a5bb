// SPDX-License-Identifier: MIT
/*
 * standin - a bare single-threaded allocator for the seed workload, built
 * in variants that differ only in how a size class keeps its free objects,
 * to measure what the shape of the per-CPU cache costs apart from
 * everything else hakmem does (tools/bench/standin/standin.sh runs them;
 * Documentation/percpu.rst has the results).
 *
 * Every variant: hakmem's size classes up to 1024 bytes (or the finer
 * ones of STANDIN_FINE, below), each class in a 16 MiB region of its own
 * (the class of a pointer is its region), objects carved from the region's
 * start and reused last-in first-out; larger blocks mapped one by one.  No locks, no checks, no statistics: not for
 * anything but tools/bench/seed.
 *
 * Variants (one -D each):
 *   STANDIN_ARRAY      an array-stack per class: the top index, then the
 *                      slot under it
 *   STANDIN_ARRAY_TOP  the same with the top object kept beside the index
 *                      (tried for hakmem's caches: Documentation/percpu.rst)
 *   STANDIN_LIST       a free list threaded through the objects
 * and, with STANDIN_CHAIN as well, the class state is reached the way
 * hakmem's fast paths reach a cache: an offset read from a descriptor,
 * an index read at that offset from the thread pointer, and the cache's
 * address computed from the index.  With STANDIN_FINE the classes are
 * finer instead: 16-byte steps to 256 bytes, then eight a doubling.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#ifdef STANDIN_FINE
#define NCLASS		33	/* class 0 is unused: the table maps 0 to 1 */
#else
#define NCLASS		21
#endif
#define REGION		(1UL << 24)
#define DEPTH		1000	/* stack slots a class: never full in seed */
#define BIG_HDR		4096

static const unsigned short class_size[NCLASS] = {
#ifdef STANDIN_FINE
	16, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224,
	240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768,
	832, 896, 960, 1024,
#else
	16, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256,
	320, 384, 448, 512, 640, 768, 896, 1024,
#endif
};

struct cache {
	uint64_t	top[NCLASS];		/* array: stack heights */
	void		*head[NCLASS];		/* list: heads; array-top: top object */
	void		*slot[NCLASS][DEPTH];	/* array: the stacks */
};

static unsigned char class_of[65];		/* (n + 15) >> 4 -> class */
static char *heap, *bump[NCLASS];
static struct {
	char	*base;
	long	idx_off;
} fe;
static __thread int cache_idx;			/* always 0: one thread */
static struct cache one_cache;

static void init(void)
{
	unsigned c = 1;

	heap = mmap(NULL, REGION * NCLASS, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (heap == MAP_FAILED)
		__builtin_trap();
	for (unsigned i = 0; i < NCLASS; i++)
		bump[i] = heap + REGION * i;
	for (unsigned i = 0; i <= 64; i++) {
		while (class_size[c] < i * 16)
			c++;
		class_of[i] = (unsigned char)c;
	}
	class_of[0] = 1;
	fe.base = (char *)&one_cache;
	fe.idx_off = (char *)&cache_idx - (char *)__builtin_thread_pointer();
}

static inline struct cache *cache(void)
{
#ifdef STANDIN_CHAIN
	int idx;

	__asm__ __volatile__("movl %%fs:(%1), %0" : "=r"(idx) : "r"(fe.idx_off));
	return (struct cache *)(fe.base + ((size_t)(unsigned)idx << 18));
#else
	return &one_cache;
#endif
}

static void *big_alloc(size_t n)
{
	char *p = mmap(NULL, n + BIG_HDR, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	*(size_t *)p = n;
	return p + BIG_HDR;
}

void *malloc(size_t n)
{
	struct cache *k;
	unsigned c;
	void *p;

	if (__builtin_expect(!heap, 0))
		init();
	if (n > 1024)
		return big_alloc(n);
	c = class_of[(n + 15) >> 4];
	k = cache();
#if defined(STANDIN_ARRAY)
	if (k->top[c])
		return k->slot[c][--k->top[c]];
#elif defined(STANDIN_ARRAY_TOP)
	p = k->head[c];
	if (p) {
		k->head[c] = k->top[c] ? k->slot[c][--k->top[c]] : NULL;
		return p;
	}
#elif defined(STANDIN_LIST)
	p = k->head[c];
	if (p) {
		k->head[c] = *(void **)p;
		return p;
	}
#else
#error "pick a variant: STANDIN_ARRAY, STANDIN_ARRAY_TOP or STANDIN_LIST"
#endif
	p = bump[c];
	bump[c] += class_size[c];
	return p;
}

void free(void *p)
{
	uintptr_t off = (uintptr_t)p - (uintptr_t)heap;
	struct cache *k;
	unsigned c;

	if (!p)
		return;
	if (off >= REGION * NCLASS) {
		char *h = (char *)p - BIG_HDR;

		munmap(h, *(size_t *)h + BIG_HDR);
		return;
	}
	c = (unsigned)(off / REGION);
	k = cache();
#if defined(STANDIN_ARRAY)
	k->slot[c][k->top[c]++] = p;
#elif defined(STANDIN_ARRAY_TOP)
	if (k->head[c])
		k->slot[c][k->top[c]++] = k->head[c];
	k->head[c] = p;
#else
	*(void **)p = k->head[c];
	k->head[c] = p;
#endif
}

static size_t usable(void *p)
{
	uintptr_t off = (uintptr_t)p - (uintptr_t)heap;

	if (off >= REGION * NCLASS)
		return *(size_t *)((char *)p - BIG_HDR);
	return class_size[off / REGION];
}

void *calloc(size_t a, size_t b)
{
	size_t n;
	void *p;

	if (__builtin_mul_overflow(a, b, &n))
		return NULL;
	p = malloc(n);
	if (p)
		memset(p, 0, n);
	return p;
}

void *realloc(void *p, size_t n)
{
	void *q = malloc(n);

	if (q && p) {
		size_t old = usable(p);

		memcpy(q, p, old < n ? old : n);
		free(p);
	}
	return q;
}
