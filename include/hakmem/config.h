/* SPDX-License-Identifier: MIT */
/*
 * Build-time geometry of the heap.  Every size is given as a SHIFT/SIZE/MASK
 * triplet; the invariants between them are checked at compile time.
 *
 * Run-time tunables (HAKMEM_* environment variables) live in mm/options.c.
 */
#ifndef _HAKMEM_CONFIG_H
#define _HAKMEM_CONFIG_H

/* Base pages: the unit of slabs and of large objects. */
#define HM_PAGE_SHIFT		12
#define HM_PAGE_SIZE		(1UL << HM_PAGE_SHIFT)
#define HM_PAGE_MASK		(HM_PAGE_SIZE - 1)

/* Superslab: the unit taken from the OS, one 2 MiB huge page. */
#define HM_SS_SHIFT		21
#define HM_SS_SIZE		(1UL << HM_SS_SHIFT)
#define HM_SS_MASK		(HM_SS_SIZE - 1)
#define HM_SS_PAGES		(HM_SS_SIZE >> HM_PAGE_SHIFT)	/* 512 */

/*
 * Node region: the virtual range reserved (PROT_NONE, nothing committed) per
 * NUMA node at start-up.  Superslabs and huge objects of that node are carved
 * from it, so "is this ours" and "which node" are subtractions and shifts.
 * The default is 4 TiB per node; HAKMEM_REGION_GB can lower it, a finite
 * RLIMIT_AS caps the whole reservation at half the limit, and start-up
 * halves it while the reservation fails, down to 16 MiB per node.
 */
#define HM_REGION_SHIFT_MAX	42
#define HM_REGION_SHIFT_MIN	24
#define HM_MAX_NODES		64
#define HM_MAX_CPUS		4096

/*
 * Size classes: 16-byte steps to 128 bytes, then four classes per doubling
 * up to HM_SMALL_MAX.  See mm/sizeclass.c and Documentation/size-classes.rst.
 */
#define HM_ALIGN		16
#define HM_NCLASS		40
#define HM_SMALL_MAX		32768UL
#define HM_SLAB_MIN_OBJECTS	8
#define HM_SLAB_MIN_BYTES	(16UL << 10)
#define HM_SLAB_MAX_PAGES	64

/*
 * Large objects: runs of base pages inside a superslab, above HM_SMALL_MAX
 * and up to HM_LARGE_MAX.  Larger requests are huge objects: spans of whole
 * 2 MiB chunks of the node region with their own mapping.
 */
#define HM_LARGE_MAX		(1UL << 20)
#define HM_LARGE_MAX_PAGES	(HM_LARGE_MAX >> HM_PAGE_SHIFT)	/* 256 */

/*
 * Per-CPU caches: each CPU has HM_PCPU_WAYS of them; a thread prefers the
 * one its thread pointer hashes to and tries the others of its CPU when
 * that one is busy.  At most HM_PCPU_MAX_OBJECTS objects and about
 * HM_PCPU_CLASS_BYTES bytes per class in each.
 */
#define HM_PCPU_WAYS_SHIFT	2
#define HM_PCPU_WAYS		(1u << HM_PCPU_WAYS_SHIFT)
#define HM_PCPU_MAX_OBJECTS	64
#define HM_PCPU_MIN_OBJECTS	4
#define HM_PCPU_CLASS_BYTES	(128UL << 10)

/*
 * Runs of this many pages and more (the slabs of classes from 2560 bytes
 * up, large objects) are placed in superslabs of their own kind, apart
 * from the 16 KiB (4-page) slabs of the classes below: those tile a
 * superslab with no sliver between them (lean's 1..4-page slabs nearly
 * so).  See mm/superslab.c.
 */
#define HM_BIG_RUN_PAGES	5

/* Bootstrap arena: serves allocations made while hakmem initialises itself. */
#define HM_BOOT_ARENA_SIZE	(256UL << 10)

#ifndef __ASSEMBLER__
_Static_assert(HM_SS_PAGES == 512, "page maps are sized for 512 pages");
_Static_assert(HM_LARGE_MAX_PAGES <= 256, "page_delta is one byte");
_Static_assert(HM_SLAB_MAX_PAGES <= 256, "page_delta is one byte");
_Static_assert((HM_SMALL_MAX & HM_PAGE_MASK) == 0, "small max is page aligned");
#endif

#endif /* _HAKMEM_CONFIG_H */
