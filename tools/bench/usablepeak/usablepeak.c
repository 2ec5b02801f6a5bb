// SPDX-License-Identifier: MIT
/*
 * usablepeak - how many bytes an allocator hands a program at the program's
 * peak: the sum of malloc_usable_size() over the live blocks, at the moment
 * it was largest.  Preloaded in front of the allocator under test (or alone,
 * for glibc) by usablepeak.sh, it wraps every allocating entry point and
 * free, and at exit prints to stderr:
 *
 *   usablepeak: peak N KiB usable in B blocks; now N KiB in B blocks
 *   usablepeak:   <= S bytes: N KiB in B blocks       (one line per size,
 *                                                      powers of two)
 *
 * The second group is the peak's make-up by usable size.  The difference
 * between two allocators' peaks on the same program is what their size
 * classes cost it (Documentation/size-classes.rst); the difference between
 * one allocator's peak and its RSS is what its slabs, caches and pages do.
 *
 * Thread-safe (atomic counters); the peak's make-up is copied under a spin
 * lock when the peak grows, so it is exact for one thread and close for
 * several.  Calls made while dlsym() resolves the next allocator are served
 * from a static arena and never freed there.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NBUCKET		48

static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);
static int (*next_posix_memalign)(void **, size_t, size_t);
static void *(*next_aligned_alloc)(size_t, size_t);
static void *(*next_memalign)(size_t, size_t);
static void *(*next_valloc)(size_t);
static void *(*next_pvalloc)(size_t);

static _Atomic long live_bytes, live_blocks, bucket_bytes[NBUCKET], bucket_blocks[NBUCKET];
static long peak_bytes, peak_blocks, peak_bucket_bytes[NBUCKET], peak_bucket_blocks[NBUCKET];
static atomic_flag peak_lock = ATOMIC_FLAG_INIT;

static _Alignas(16) char boot_arena[65536];
static size_t boot_used;
static int resolving;

static int in_boot(const void *p)
{
	return (const char *)p >= boot_arena && (const char *)p < boot_arena + sizeof(boot_arena);
}

/* A block of the arena: its size in the 16 bytes before it; zeroed. */
static void *boot_alloc(size_t n)
{
	size_t at = (boot_used + 15) & ~(size_t)15;

	if (n > sizeof(boot_arena) || at + 16 + n > sizeof(boot_arena)) {
		errno = ENOMEM;
		return NULL;
	}
	boot_used = at + 16 + n;
	*(size_t *)(boot_arena + at) = n;
	return boot_arena + at + 16;
}

static size_t boot_size(const void *p)
{
	return *(const size_t *)((const char *)p - 16);
}

static void resolve(void)
{
	resolving = 1;
	next_malloc = dlsym(RTLD_NEXT, "malloc");
	next_calloc = dlsym(RTLD_NEXT, "calloc");
	next_realloc = dlsym(RTLD_NEXT, "realloc");
	next_free = dlsym(RTLD_NEXT, "free");
	next_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
	next_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
	next_memalign = dlsym(RTLD_NEXT, "memalign");
	next_valloc = dlsym(RTLD_NEXT, "valloc");
	next_pvalloc = dlsym(RTLD_NEXT, "pvalloc");
	resolving = 0;
}

#define READY()	(next_malloc || (resolving ? 0 : (resolve(), 1)))

static unsigned bucket(size_t n)
{
	unsigned b = n > 1 ? 64 - (unsigned)__builtin_clzl(n - 1) : 0;

	return b < NBUCKET ? b : NBUCKET - 1;
}

static void account(void *p, long sign)
{
	size_t u;
	unsigned b;
	long now;

	if (!p || in_boot(p))
		return;
	u = malloc_usable_size(p);
	b = bucket(u);
	atomic_fetch_add(&bucket_bytes[b], sign * (long)u);
	atomic_fetch_add(&bucket_blocks[b], sign);
	atomic_fetch_add(&live_blocks, sign);
	now = atomic_fetch_add(&live_bytes, sign * (long)u) + sign * (long)u;
	if (sign > 0 && now > __atomic_load_n(&peak_bytes, __ATOMIC_RELAXED) &&
	    !atomic_flag_test_and_set(&peak_lock)) {
		if (now > peak_bytes) {
			__atomic_store_n(&peak_bytes, now, __ATOMIC_RELAXED);
			peak_blocks = atomic_load(&live_blocks);
			for (unsigned i = 0; i < NBUCKET; i++) {
				peak_bucket_bytes[i] = atomic_load(&bucket_bytes[i]);
				peak_bucket_blocks[i] = atomic_load(&bucket_blocks[i]);
			}
		}
		atomic_flag_clear(&peak_lock);
	}
}

/* A block the next allocator just returned (or NULL), counted. */
static void *counted(void *p)
{
	account(p, 1);
	return p;
}

void *malloc(size_t n)
{
	if (!READY())
		return boot_alloc(n);
	return counted(next_malloc(n));
}

void *calloc(size_t a, size_t b)
{
	size_t n;

	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	if (!READY())
		return boot_alloc(n);
	return counted(next_calloc(a, b));
}

void free(void *p)
{
	if (!p || in_boot(p))
		return;
	READY();
	account(p, -1);
	next_free(p);
}

void *realloc(void *p, size_t n)
{
	void *q;

	if (!READY())
		return NULL;
	if (in_boot(p)) {
		/* Arena blocks move out and are never freed. */
		q = next_malloc(n);
		if (q)
			memcpy(q, p, boot_size(p) < n ? boot_size(p) : n);
		return counted(q);
	}
	account(p, -1);
	q = next_realloc(p, n);
	if (q)
		account(q, 1);
	else if (n)
		account(p, 1);		/* failed: p is still live */
	return q;
}

void *reallocarray(void *p, size_t a, size_t b)
{
	size_t n;

	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n);
}

void *valloc(size_t n)
{
	READY();
	return counted(next_valloc(n));
}

void *pvalloc(size_t n)
{
	READY();
	return counted(next_pvalloc(n));
}

int posix_memalign(void **out, size_t align, size_t n)
{
	int rc;

	READY();
	rc = next_posix_memalign(out, align, n);
	if (!rc)
		account(*out, 1);
	return rc;
}

void *aligned_alloc(size_t align, size_t n)
{
	READY();
	return counted(next_aligned_alloc(align, n));
}

void *memalign(size_t align, size_t n)
{
	READY();
	return counted(next_memalign(align, n));
}

__attribute__((destructor)) static void report(void)
{
	fprintf(stderr, "usablepeak: peak %ld KiB usable in %ld blocks; now %ld KiB in %ld blocks\n",
		peak_bytes >> 10, peak_blocks, atomic_load(&live_bytes) >> 10,
		atomic_load(&live_blocks));
	for (unsigned i = 0; i < NBUCKET; i++)
		if (peak_bucket_blocks[i])
			fprintf(stderr, "usablepeak:   <= %lu bytes: %ld KiB in %ld blocks\n",
				1UL << i, peak_bucket_bytes[i] >> 10, peak_bucket_blocks[i]);
}
