/* SPDX-License-Identifier: MIT */
/*
 * The malloc() and free() fast paths, inline so that the exported names
 * (mm/malloc.c) carry them themselves rather than jumping to hm_malloc()
 * and hm_free() (mm/heap.c), which expand them too for the library's own
 * callers.  Everything past a cache hit is out of line in mm/heap.c.
 */
#ifndef _HAKMEM_HEAP_FAST_H
#define _HAKMEM_HEAP_FAST_H

#include "hakmem/internal.h"
#include "hakmem/percpu.h"

void *hm_small_slow(size_t n) __hidden;
void *hm_alloc_big(size_t n, size_t align, bool zero) __hidden;
void hm_free_slow(void *p) __hidden;
void hm_free_small_slow(void *p, unsigned long code, unsigned node) __hidden;
size_t hm_usable_size_slow(const void *p) __hidden;

/*
 * The page-table entry of a, if a is the start of a small object: the
 * region, page-table entry and object-start checks of free() below.  NULL
 * for anything else (NULL, start-up blocks, large and huge objects, and
 * pointers hakmem never handed out), which the callers classify the slow
 * way.
 */
static __always_inline const struct hm_pte *hm_small_pte(uintptr_t a)
{
	if (likely(a - hm_heap.base < hm_heap.span)) {
		const struct hm_pte *e = hm_pte_of(a);

		if (likely(obj_code_is_start(e->code, (uint32_t)a - e->slab)))
			return e;
	}
	return NULL;
}

/*
 * malloc: a small request that hits the cache.  Size class from one table
 * read, then the per-CPU pop (an rseq section on x86_64).  gcc 12 -O2 lays
 * it out first: 23 instructions to the first ret, 16 of them the pop (the
 * pop hands its object over in %rax, so none moves it there).
 * fast-path budget malloc: 25 (tools/testing/build/build.sh checks it)
 * With CONFIG_PCPU_RSEQ=n the generic trylocked pop: 40 instructions.
 * fast-path budget (generic) malloc: 42
 */
static __always_inline void *hm_malloc_inline(size_t n)
{
	if (likely(n <= HM_SMALL_MAX)) {
		void *p = pcpu_alloc(size_class(n));

		if (likely(p))
			return p;
		return hm_small_slow(n);
	}
	return hm_alloc_big(n, HM_PAGE_SIZE, false);
}

/*
 * free: a small object of the caller's node, room in the cache.  The
 * pointer is checked before anything is written, so a pointer hakmem never
 * handed out cannot reach a cache: region (4 instructions), page-table
 * entry (4), offset in its slab and object start (6: one subtraction, one
 * multiply, one compare; a page without small objects has code 0, which
 * fails it), home node (1), then the push (21 with its double-free test),
 * which takes the entry's object code (class + 1) as it is.
 * gcc 12 -O2: 36 instructions to the first ret.
 * fast-path budget free: 38 (tools/testing/build/build.sh checks it)
 * With CONFIG_PCPU_RSEQ=n the generic trylocked push: 50 instructions.
 * fast-path budget (generic) free: 52
 */
static __always_inline void hm_free_inline(void *p)
{
	const struct hm_pte *e = hm_small_pte((uintptr_t)p);

	if (likely(e)) {
		if (likely(pcpu_free_code(e->code, p, e->node)))
			return;
		hm_free_small_slow(p, e->code, e->node);
		return;
	}
	hm_free_slow(p);
}

/*
 * malloc_usable_size: a small object's class size straight from its
 * page-table entry (programs that count their memory, such as redis, call
 * it on every malloc and free); everything else the slow way.  gcc 12
 * -O2: 19 instructions to the first ret, against about 80 through classify().
 * fast-path budget malloc_usable_size: 20
 * fast-path budget (generic) malloc_usable_size: 20
 */
static __always_inline size_t hm_usable_size_inline(const void *p)
{
	const struct hm_pte *e = hm_small_pte((uintptr_t)p);

	if (likely(e))
		return hm_class[(unsigned long)e->code - 1].size;
	return hm_usable_size_slow(p);
}

#endif /* _HAKMEM_HEAP_FAST_H */
