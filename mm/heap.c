// SPDX-License-Identifier: MIT
/*
 * Objects: the allocation entry points behind the public API.
 *
 * hm_malloc() and hm_free() are the fast paths: a size class from one table
 * read (or a few instructions of arithmetic), then a pop or push on the
 * per-CPU cache (include/hakmem/percpu.h).  Everything else happens one
 * layer down in a noinline function.
 *
 * free() finds everything from the address: its fast path reads the
 * page's entry in the page table (a subtraction, a shift, one load); the
 * slow paths find the chunk kind by one table read, the superslab by a
 * mask, the page's class and slab by a shift and a table read.  A pointer that fails any
 * of those checks (outside the heap, a free or header page, not the start
 * of an object, a huge object's inner chunk) is reported by hm_fatal() and
 * the program is stopped: corrupting the heap silently is never an option.
 *
 * Start-up: the first call initialises the heap (mm/init.c).  Until then
 * the per-CPU fast paths see an always-busy cache and fall through to the
 * slow paths, which initialise first.  Allocations made while initialising
 * (re-entry from the same thread) come from the boot arena.
 */
#include <errno.h>
#include <string.h>
#include "hakmem/internal.h"
#include "hakmem/percpu.h"
#include "hakmem/heap-fast.h"

__noinline void *hm_small_slow(size_t n)
{
	void *p;

	if (hm_ensure_init())
		return boot_alloc(n, HM_ALIGN);
	p = pcpu_alloc_slow(size_class(n));
	if (unlikely(!p))
		errno = ENOMEM;
	return p;
}

__noinline void *hm_alloc_big(size_t n, size_t align, bool zero)
{
	void *p;

	if (hm_ensure_init()) {
		p = boot_alloc(n, align);
	} else if (n <= HM_LARGE_MAX && align <= HM_SS_SIZE / 2) {
		p = large_alloc(n, align, zero);
	} else if (n > PTRDIFF_MAX) {
		p = NULL;
	} else {
		p = huge_alloc(n, align, zero);
	}
	if (unlikely(!p))
		errno = ENOMEM;
	return p;
}

void *hm_malloc(size_t n)
{
	return hm_malloc_inline(n);
}

/* What free() and realloc() learn about a pointer. */
enum obj_kind { OBJ_INVALID, OBJ_NULL, OBJ_BOOT, OBJ_SMALL, OBJ_LARGE, OBJ_HUGE };

struct obj {
	enum obj_kind	kind;
	unsigned	cls;
	struct slab	*slab;		/* OBJ_LARGE */
	uint32_t	entry;		/* OBJ_HUGE */
};

/*
 * Small objects are found by their page-table entry, as free() finds them:
 * a page has one exactly when its page_cls is a size class (design.rst),
 * so a pointer the entry does not take is no small object's start.
 */
static enum obj_kind classify(uintptr_t a, struct obj *o)
{
	const struct hm_pte *pte = hm_small_pte(a);
	uint32_t e;
	struct superslab *ss;
	unsigned page;

	if (likely(pte)) {
		o->cls = pte->code - 1u;
		return o->kind = OBJ_SMALL;
	}
	if (!a)
		return o->kind = OBJ_NULL;
	if (boot_owns(a))
		return o->kind = OBJ_BOOT;
	o->kind = OBJ_INVALID;
	if (!hm_in_heap(a) || (a & (HM_ALIGN - 1)))
		return OBJ_INVALID;
	e = hm_chunk_entry(a);
	switch (e & CHUNK_KIND_MASK) {
	case CHUNK_SS:
		ss = ss_of(a);
		page = ss_page_of(a);
		if (ss->page_cls[page] == PAGE_CLS_LARGE && !ss->page_delta[page] &&
		    !(a & HM_PAGE_MASK)) {
			o->slab = &ss->slab[page];
			return o->kind = OBJ_LARGE;
		}
		return OBJ_INVALID;
	case CHUNK_HUGE:
		if (a & HM_SS_MASK)
			return OBJ_INVALID;
		o->entry = e;
		return o->kind = OBJ_HUGE;
	default:
		return OBJ_INVALID;
	}
}

__noinline void hm_free_slow(void *p)
{
	struct obj o;

	switch (classify((uintptr_t)p, &o)) {
	case OBJ_NULL:
	case OBJ_BOOT:
		return;
	case OBJ_SMALL:
		pcpu_free_slow(o.cls, p, hm_node_of((uintptr_t)p));
		return;
	case OBJ_LARGE:
		large_free(o.slab, (uintptr_t)p);
		return;
	case OBJ_HUGE:
		huge_free((uintptr_t)p, o.entry);
		return;
	default:
		hm_fatal("free(): invalid pointer", p);
	}
}

/* The slow push; p first, where free() received it. */
__noinline void hm_free_small_slow(void *p, unsigned long code, unsigned node)
{
	pcpu_free_slow((unsigned)code - 1, p, node);
}

void hm_free(void *p)
{
	hm_free_inline(p);
}

size_t hm_usable_size(const void *p)
{
	return hm_usable_size_inline(p);
}

__noinline size_t hm_usable_size_slow(const void *p)
{
	struct obj o;

	switch (classify((uintptr_t)p, &o)) {
	case OBJ_SMALL:
		return hm_class[o.cls].size;
	case OBJ_LARGE:
		return (size_t)o.slab->npages << HM_PAGE_SHIFT;
	case OBJ_HUGE:
		return huge_size(o.entry);
	case OBJ_BOOT:
		return boot_usable_size((uintptr_t)p);
	case OBJ_NULL:
		return 0;
	default:
		hm_fatal("malloc_usable_size(): invalid pointer", p);
	}
}

void *hm_calloc(size_t n, size_t size)
{
	size_t total;
	void *p;

	if (unlikely(__builtin_mul_overflow(n, size, &total))) {
		errno = ENOMEM;
		return NULL;
	}
	if (likely(total <= HM_SMALL_MAX)) {
		p = hm_malloc(total);
		if (likely(p))
			memset(p, 0, total);
		return p;
	}
	return hm_alloc_big(total, HM_PAGE_SIZE, true);
}

static void *move_object(void *p, size_t old, size_t n)
{
	void *q = hm_malloc(n);

	if (unlikely(!q))
		return NULL;		/* errno is ENOMEM; p stays valid */
	memcpy(q, p, MIN(old, n));
	hm_free(p);
	return q;
}

void *hm_realloc(void *p, size_t n)
{
	struct obj o;
	size_t old;
	void *q;

	if (!p)
		return hm_malloc(n);
	switch (classify((uintptr_t)p, &o)) {
	case OBJ_SMALL:
		old = hm_class[o.cls].size;
		if (n && n <= old && (n > old / 2 || o.cls == 0)) {
			hm_stat_inc(ST_REALLOC_INPLACE);
			return p;
		}
		break;
	case OBJ_LARGE:
		old = (size_t)o.slab->npages << HM_PAGE_SHIFT;
		q = large_realloc(o.slab, p, n);
		if (q)
			return q;
		break;
	case OBJ_HUGE:
		old = huge_size(o.entry);
		if (n > HM_LARGE_MAX) {
			if (n > PTRDIFF_MAX) {
				errno = ENOMEM;
				return NULL;
			}
			q = huge_realloc(p, o.entry, n);
			if (q)
				return q;
		}
		break;
	case OBJ_BOOT:
		old = boot_usable_size((uintptr_t)p);
		break;
	default:
		hm_fatal("realloc(): invalid pointer", p);
	}
	if (n == 0) {			/* as glibc: free and return NULL */
		hm_free(p);
		return NULL;
	}
	if (n > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	return move_object(p, old, n);
}

void *hm_memalign(size_t align, size_t n)
{
	int cls;
	void *p;

	if (align <= HM_ALIGN)
		return hm_malloc(n);
	if (!IS_POW2(align)) {
		if (align > ((size_t)1 << 62)) {
			errno = EINVAL;
			return NULL;
		}
		align = (size_t)1 << (64 - __builtin_clzl(align));
	}
	if (n > PTRDIFF_MAX || align > PTRDIFF_MAX / 2) {
		errno = ENOMEM;
		return NULL;
	}
	if (hm_ensure_init())
		return boot_alloc(n, align);
	cls = size_class_aligned(n, align);
	if (cls >= 0) {
		p = pcpu_alloc((unsigned)cls);
		if (!p)
			p = pcpu_alloc_slow((unsigned)cls);
		if (!p)
			errno = ENOMEM;
		return p;
	}
	return hm_alloc_big(n ? n : 1, align, false);
}

int hm_trim(size_t pad)
{
	size_t released = 0;

	(void)pad;
	if (READ_ONCE(hm_init_state) != HM_INIT_DONE)
		return 0;
	pcpu_drain_all();
	central_trim();
	for (unsigned node = 0; node < hm_heap.nr_nodes; node++)
		released += ss_trim(node);
	return released != 0;
}
