/* SPDX-License-Identifier: MIT */
/*
 * Size classes: request size -> class index, and the class table.
 *
 *   classes 0..7    16, 32, ..., 128             (16-byte steps)
 *   classes 8..39   four per doubling: 160, 192, 224, 256, 320, ... 32768
 *
 * For a request n > 128 the class size is below 1.25 n; for n <= 128 it is
 * below n + 16.  The table is filled by sizeclass_init() (mm/sizeclass.c).
 */
#ifndef _HAKMEM_SIZECLASS_H
#define _HAKMEM_SIZECLASS_H

#include <stddef.h>
#include "hakmem/types.h"

extern struct size_class hm_class[HM_NCLASS] __hidden;
extern uint8_t hm_class_lut[(HM_SMALL_MAX >> 4) + 1] __hidden;
extern struct class_start hm_class_start __hidden;

/* Class of a request 1 <= n <= HM_SMALL_MAX (0 is served as 1): one table read. */
static __always_inline unsigned size_class_small(size_t n)
{
	return hm_class_lut[(n + 15) >> 4];
}

/* Class of a request 1024 < n <= HM_SMALL_MAX: arithmetic, no table. */
static __always_inline unsigned size_class_medium(size_t n)
{
	size_t x = n - 1;
	unsigned lg = 63 - __builtin_clzl(x);		/* >= 7 */

	return 8 + (lg - 7) * 4 + (unsigned)((x >> (lg - 2)) & 3);
}

static __always_inline unsigned size_class(size_t n)
{
	return size_class_small(n);
}

/* Object code of a page class: c + 1 for size class c, 0 for the rest. */
static __always_inline unsigned long obj_code(unsigned long cls)
{
	return cls < HM_NCLASS ? cls + 1 : 0;
}

/*
 * Does offset off inside a slab of object code k start one of its objects?
 * One multiply and one compare test "multiple of the size" and "inside the
 * slab" together (struct class_start); code 0 (no size class) has lim 0.
 */
static __always_inline int obj_code_is_start(unsigned long k, uint32_t off)
{
	return (uint64_t)off * hm_class_start.mul[k] < hm_class_start.lim[k];
}

/* The same for a page class byte (a size class or a PAGE_CLS_* code). */
static __always_inline int size_class_is_start(unsigned long cls, uint32_t off)
{
	return obj_code_is_start(obj_code(cls), off);
}

void sizeclass_init(void);
/* Smallest class >= n whose size is a multiple of align, or -1. */
int size_class_aligned(size_t n, size_t align);

#endif /* _HAKMEM_SIZECLASS_H */
