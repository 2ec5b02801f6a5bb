/* SPDX-License-Identifier: MIT */
/*
 * Layout of the per-CPU caches and of the front-end descriptor, as numbers
 * the assembly (arch/x86_64) and C (include/hakmem/percpu.h) both use.
 * Assembler-safe; the C side checks every offset with _Static_assert.
 *
 * One cache is HM_PCPU_SIZE bytes at hm_fe.caches + (index << HM_PCPU_SHIFT):
 *
 *   0             u64 hdr[HM_NCLASS]   top | ops << 16, one per class
 *   HM_PCPU_LIM   u16 lim[HM_NCLASS][2] {lo, hi}: the class's slots
 *   HM_PCPU_NODE  u32 node              NUMA node of the objects cached
 *   HM_PCPU_LOCK  int lock              the generic front end only
 *   8 * lo ...    void *slot[]          the array-stacks
 *
 * Invariant, per class:  lo <= top <= hi, and slot[lo .. top) are free
 * objects of the class homed on node.  slot[lo - 1] is a guard that is
 * always NULL, so "is p the object on top" needs no emptiness test.
 *
 * hdr packs the stack top (a slot index, bits 0-15) with a count of the
 * single-object pushes and pops made on it (bits 16-63), so the one store
 * that commits an operation also counts it: a pop adds OPS_ONE - 1, a push
 * OPS_ONE + 1, batch moves change only the top.
 */
#ifndef _HAKMEM_PCPU_ABI_H
#define _HAKMEM_PCPU_ABI_H

#include "hakmem/config.h"

#define HM_PCPU_SHIFT		14
#define HM_PCPU_SIZE		(1 << HM_PCPU_SHIFT)
#define HM_PCPU_HDR		0
#define HM_PCPU_LIM		(8 * HM_NCLASS)
#define HM_PCPU_NODE		(HM_PCPU_LIM + 4 * HM_NCLASS)
#define HM_PCPU_LOCK		(HM_PCPU_NODE + 4)
#define HM_PCPU_FIRST_SLOT	64		/* header: slot indexes below this */
#define HM_PCPU_NSLOTS		(HM_PCPU_SIZE / 8)
#define HM_PCPU_TOP_MASK	0xffff
#define HM_PCPU_OPS_SHIFT	16
#define HM_PCPU_POP_ADD		0xffff		/* (1 << 16) - 1 */
#define HM_PCPU_PUSH_ADD	0x10001		/* (1 << 16) + 1 */

/*
 * The index guard (rseq modes): the inline sections sign-extend the cache
 * index and do not compare it with the number of caches.  An rseq area's
 * index is either below nr (the kernel's cpu_id and mm_cid are below the
 * number of possible CPUs) or one of the two values a thread without a
 * registration holds, -1 (not yet registered) and -2 (registration failed).
 * So the caches are mapped with HM_PCPU_BELOW zero caches below them, and
 * nr + HM_PCPU_BELOW above them, all read-only; while the caches are closed
 * hm_fe.base points HM_PCPU_BELOW caches into the upper ones.  A zero cache
 * fails both sections at their first test (top == lo == hi == 0) before
 * they store anything: an index of -1 or -2, and any index while the caches
 * are closed, fails as a bound check would.  The guard is address space
 * only ((nr + 4) * 16 KiB), never written, no commit charge.
 */
#define HM_PCPU_BELOW		2		/* indexes -1 and -2 */

/*
 * struct hm_front: what the fast paths read, one cache line.
 *   base     what the inline rseq sections add the scaled index to: caches
 *            while they are open, the index guard (above) before start-up
 *            opens them and while malloc_trim empties them
 *   idx_off  thread-pointer offset of the u32 naming this thread's cache:
 *            rseq cpu_id or mm_cid, else a thread-local -1
 *   cs_off   thread-pointer offset of rseq_cs; 0 without rseq (the inline
 *            sections then fail before touching anything); set after idx_off
 *            and base
 *   nr       caches open, for everything but the inline sections (the
 *            batch sections, the generic fast paths, the slow paths); 0
 *            before start-up and while malloc_trim empties the caches
 *   caches   the caches, whether open or closed
 */
#define HM_FE_BASE		0
#define HM_FE_IDX		8
#define HM_FE_CS		16
#define HM_FE_NR		24
#define HM_FE_CACHES		40

#ifndef __ASSEMBLER__
#include <stdint.h>
#include <stddef.h>

struct hm_front {
	char		*base;
	long		idx_off;
	long		cs_off;
	uint32_t	nr;
	uint32_t	mode;		/* enum pcpu_mode (include/hakmem/percpu.h) */
	long		cpu_off;	/* generic: offset of an int holding the CPU, or of a -1 */
	char		*caches;
} __attribute__((aligned(64)));

extern struct hm_front hm_fe __attribute__((visibility("hidden")));

_Static_assert(offsetof(struct hm_front, base) == HM_FE_BASE, "front-end layout");
_Static_assert(offsetof(struct hm_front, idx_off) == HM_FE_IDX, "front-end layout");
_Static_assert(offsetof(struct hm_front, cs_off) == HM_FE_CS, "front-end layout");
_Static_assert(offsetof(struct hm_front, nr) == HM_FE_NR, "front-end layout");
_Static_assert(offsetof(struct hm_front, caches) == HM_FE_CACHES, "front-end layout");
_Static_assert(sizeof(struct hm_front) == 64, "front end: one cache line");
_Static_assert(HM_PCPU_LOCK + 4 <= HM_PCPU_FIRST_SLOT * 8, "pcpu header fits below the slots");
_Static_assert(HM_PCPU_POP_ADD == (1 << HM_PCPU_OPS_SHIFT) - 1, "pop adds one op, removes one slot");
_Static_assert(HM_PCPU_PUSH_ADD == (1 << HM_PCPU_OPS_SHIFT) + 1, "push adds one op and one slot");
_Static_assert(HM_PCPU_NSLOTS - 1 <= HM_PCPU_TOP_MASK, "top fits its field");
#endif

#endif /* _HAKMEM_PCPU_ABI_H */
