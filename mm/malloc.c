// SPDX-License-Identifier: MIT
/*
 * The API: glibc's allocation functions, exported under their own names.
 *
 * This file is only glue: argument checks the standards ask for (errno
 * values, overflow, alignment rules), then the hm_* entry points of
 * mm/heap.c.  It is left out of the unit-test build, so the tests can link
 * the allocator's internals beside the system malloc.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "hakmem.h"
#include "hakmem/internal.h"
#include "hakmem/heap-fast.h"

#ifndef HAKMEM_VERSION
#define HAKMEM_VERSION "0.1.0"
#endif

/*
 * These two carry the fast paths themselves (hakmem/heap-fast.h), each
 * from a 64-byte boundary: with free() 48 bytes past one, seed measured
 * 2-3 % slower (Documentation/percpu.rst); build.sh checks the placement.
 */
__public __cacheline_aligned void *malloc(size_t n)
{
	return hm_malloc_inline(n);
}

__public __cacheline_aligned void free(void *p)
{
	hm_free_inline(p);
}

__public void *calloc(size_t n, size_t size)
{
	return hm_calloc(n, size);
}

__public void *realloc(void *p, size_t n)
{
	return hm_realloc(p, n);
}

__public void *reallocarray(void *p, size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return hm_realloc(p, total);
}

__public void *memalign(size_t align, size_t n)
{
	return hm_memalign(align, n);
}

__public void *aligned_alloc(size_t align, size_t n)
{
	if (!IS_POW2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return hm_memalign(align, n);
}

__public int posix_memalign(void **out, size_t align, size_t n)
{
	int saved = errno;
	void *p;

	if (!IS_POW2(align) || align % sizeof(void *))
		return EINVAL;
	p = hm_memalign(align, n);
	if (!p) {
		errno = saved;
		return ENOMEM;
	}
	*out = p;
	return 0;
}

__public void *valloc(size_t n)
{
	return hm_memalign(HM_PAGE_SIZE, n);
}

__public void *pvalloc(size_t n)
{
	if (n > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	return hm_memalign(HM_PAGE_SIZE, n ? ALIGN_UP(n, HM_PAGE_SIZE) : HM_PAGE_SIZE);
}

__public size_t malloc_usable_size(void *p)
{
	return hm_usable_size_inline(p);
}

/* Everything it can, in every profile: caches, empty slabs, superslabs, free pages. */
__public int malloc_trim(size_t pad)
{
	hm_stat_inc(ST_TRIM);
	return hm_trim(pad);
}

__public int mallopt(int param, int value)
{
	(void)param;
	(void)value;
	return 1;		/* accepted; hakmem is tuned by HAKMEM_* variables */
}

__public struct mallinfo2 mallinfo2(void)
{
	struct mallinfo2 mi;

	stats_mallinfo(&mi);
	return mi;
}

static int clamp_int(size_t v)
{
	return v > (size_t)__INT_MAX__ ? __INT_MAX__ : (int)v;
}

__public struct mallinfo mallinfo(void)
{
	struct mallinfo2 m2;
	struct mallinfo m;

	stats_mallinfo(&m2);
	m.arena = clamp_int(m2.arena);
	m.ordblks = clamp_int(m2.ordblks);
	m.smblks = clamp_int(m2.smblks);
	m.hblks = clamp_int(m2.hblks);
	m.hblkhd = clamp_int(m2.hblkhd);
	m.usmblks = clamp_int(m2.usmblks);
	m.fsmblks = clamp_int(m2.fsmblks);
	m.uordblks = clamp_int(m2.uordblks);
	m.fordblks = clamp_int(m2.fordblks);
	m.keepcost = clamp_int(m2.keepcost);
	return m;
}

__public void malloc_stats(void)
{
	hm_ensure_init();
	stats_print(2);
}

__public int malloc_info(int options, FILE *fp)
{
	char buf[16384];
	int n;

	if (options != 0) {
		errno = EINVAL;
		return -1;
	}
	n = stats_xml(buf, sizeof(buf));
	if (n < 0 || fwrite(buf, 1, strlen(buf), fp) != strlen(buf))
		return -1;
	return 0;
}

__public const char *hakmem_version(void)
{
	return HAKMEM_VERSION;
}

__public void hakmem_stats_print(int fd)
{
	hm_ensure_init();
	stats_print(fd);
}

__public int hakmem_stats_get(struct hakmem_stats *st, size_t size)
{
	int n;

	hm_ensure_init();
	n = hakmem_stats_get_impl(st, size);
	if (n < 0)
		errno = EINVAL;
	return n;
}
