// SPDX-License-Identifier: MIT
/*
 * The boot arena: a static bump allocator that serves the allocations made
 * while hakmem itself initialises (none are expected: initialisation makes
 * only system calls; this is the guard should a libc call ever recurse).
 * Blocks are never reused; free() of one is ignored.  Each block has a
 * 16-byte header holding its size, so realloc and malloc_usable_size work.
 */
#include "hakmem/internal.h"

static char boot_arena[HM_BOOT_ARENA_SIZE] __aligned(HM_PAGE_SIZE);
static size_t boot_top;

void *boot_alloc(size_t n, size_t align)
{
	size_t old, start, end;

	if (align < HM_ALIGN)
		align = HM_ALIGN;
	if (n > HM_BOOT_ARENA_SIZE || align > HM_PAGE_SIZE)
		return NULL;
	old = __atomic_load_n(&boot_top, __ATOMIC_RELAXED);
	do {
		start = ALIGN_UP(old + HM_ALIGN, align);
		end = start + ALIGN_UP(n, HM_ALIGN);
		if (end > HM_BOOT_ARENA_SIZE)
			return NULL;
	} while (!__atomic_compare_exchange_n(&boot_top, &old, end, false,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	*(size_t *)(boot_arena + start - sizeof(size_t)) = end - start;
	return boot_arena + start;
}

bool boot_owns(uintptr_t p)
{
	return p - (uintptr_t)boot_arena < HM_BOOT_ARENA_SIZE;
}

size_t boot_usable_size(uintptr_t p)
{
	return *(size_t *)(p - sizeof(size_t));
}
