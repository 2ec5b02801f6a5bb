/* SPDX-License-Identifier: MIT */
/*
 * x86_64 per-CPU fast paths: pop and push on this CPU's cache as rseq
 * critical sections (include/hakmem/pcpu-abi.h has the cache layout).
 *
 * Each section, in order:
 *   0. load hm_fe.cs_off, which is 0 until start-up has set the front end
 *      up for rseq (and the thread pointer's offset 0 is glibc's own TCB):
 *      fail; only then load hm_fe.idx_off.  Start-up stores idx_off before
 *      cs_off and x86 keeps loads in order, so a thread that sees cs_off
 *      set also sees idx_off set: no section runs on a stale index;
 *   1. point rseq_cs at its descriptor (before the start label);
 *   2. start: read the cache index (cpu_id or mm_cid), sign-extend it and
 *      add it, scaled, to hm_fe.base.  No bound check: the index of a
 *      thread without a registration (-1, -2), and any index while the
 *      caches are closed, lands in the index guard (hakmem/pcpu-abi.h),
 *      zero pages on which step 3's first test fails;
 *   3. compute, load, test; the only stores before the commit go to slots
 *      above the stack top, which nobody reads;
 *   4. commit: one 8-byte store of the class header (top and op count);
 *   5. post-commit label.
 * If the thread is preempted, migrated or signalled anywhere between start
 * and post-commit, the kernel moves it to the abort handler, which follows
 * the signature and goes to the caller's failure label: the operation did
 * not happen and the slow path decides what to do.  So no lock, no atomic
 * instruction, and no window in which a migrated thread touches a cache
 * that is not its CPU's.
 *
 * Descriptors go to .data.rel.ro (their addresses are relocated at load
 * time, then read-only); abort handlers to a cold text section.
 */
#ifndef _ASM_X86_64_PERCPU_H
#define _ASM_X86_64_PERCPU_H

#include <stddef.h>
#include <asm/rseq-abi.h>
#include "hakmem/pcpu-abi.h"

#define HAVE_ARCH_TP_READ_INT 1
#define HAVE_ARCH_PCPU_RSEQ 1

#define __hm_str(x)	#x
#define hm_str(x)	__hm_str(x)

/* The int at offset off from the thread pointer: one %fs-relative load. */
static inline __attribute__((always_inline)) int arch_tp_read_int(long off)
{
	int v;

	__asm__ __volatile__("movl %%fs:(%1), %0" : "=r"(v) : "r"(off));
	return v;
}

/*
 * The descriptor and abort handler of the section between labels
 * start and post; the handler jumps to the C label fail.
 */
#define RSEQ_ASM_CS(start, post, abort, fail)				\
	".pushsection .data.rel.ro.hm_rseq_cs, \"aw\"\n\t"		\
	".balign " hm_str(RSEQ_CS_ALIGN) "\n"				\
	".Lrseq_cs%=:\n\t"						\
	".long 0, 0\n\t"						\
	".quad " start ", " post " - " start ", " abort "\n\t"		\
	".popsection\n\t"						\
	".pushsection .text.unlikely.hm_rseq_abort, \"ax\"\n\t"		\
	RSEQ_SIG_BYTES							\
	abort ":\n\t"							\
	"jmp %l[" fail "]\n\t"						\
	".popsection\n\t"

/*
 * Steps 0-2 of a section, shared by pop and push: %[cs] and %[idx] are
 * hm_fe.cs_off and hm_fe.idx_off, loaded in that order; on exit %[c] is
 * this CPU's cache, or a zero cache of the index guard.
 */
#define RSEQ_ASM_ENTER							\
	"mov %[cs], %[t]\n\t"						\
	"test %[t], %[t]\n\t"						\
	"jz %l[fail]\n\t"						\
	"mov %[idx], %[c]\n\t"						\
	"lea .Lrseq_cs%=(%%rip), %[w]\n\t"				\
	"mov %[w], %%fs:(%[t])\n"					\
	".Lrseq_start%=:\n\t"						\
	"movslq %%fs:(%[c]), %[c]\n\t"					\
	"shl $" hm_str(HM_PCPU_SHIFT) ", %[c]\n\t"			\
	"add %[base], %[c]\n\t"

/* Optional delay inside the sections, to widen races in stress builds. */
#ifdef HM_RSEQ_RACE
#define RSEQ_ASM_RACE	"mov $" hm_str(HM_RSEQ_RACE) ", %k[w]\n"		\
			".Lrseq_race%=:\n\tpause\n\tdec %k[w]\n\tjnz .Lrseq_race%=\n\t"
#else
#define RSEQ_ASM_RACE	""
#endif

/*
 * Pop an object of class cls from this CPU's cache; NULL when the cache
 * has none, the thread has no usable cache index, or the section aborted.
 */
static inline __attribute__((always_inline)) void *
arch_pcpu_pop(unsigned long cls)
{
	unsigned long c, t, w;
	void *p;

	__asm__ __volatile__ goto (
		RSEQ_ASM_ENTER
		RSEQ_ASM_RACE
		"mov (%[c],%[cls],8), %[w]\n\t"
		"movzwl %w[w], %k[t]\n\t"
		"cmpw %w[t], " hm_str(HM_PCPU_LIM) "(%[c],%[cls],4)\n\t"
		"je %l[fail]\n\t"
		"mov -8(%[c],%[t],8), %[p]\n\t"
		"add $" hm_str(HM_PCPU_POP_ADD) ", %[w]\n\t"
		"mov %[w], (%[c],%[cls],8)\n"
		".Lrseq_post%=:\n\t"
		RSEQ_ASM_CS(".Lrseq_start%=", ".Lrseq_post%=", ".Lrseq_abort%=", "fail")
		: [p] "=&a"(p), [c] "=&r"(c), [w] "=&r"(w), [t] "=&r"(t)
		: [cls] "r"(cls), [base] "m"(hm_fe.base),
		  [cs] "m"(hm_fe.cs_off), [idx] "m"(hm_fe.idx_off)
		: "memory", "cc"
		: fail);
	/* Slots below the top never hold NULL: tell the compiler. */
	if (!p)
		__builtin_unreachable();
	return p;
fail:
	return NULL;
}

/*
 * Push p (of class cls, homed on node) on this CPU's cache.  False when
 * the cache is full, is another node's, already has p on top (a double
 * free: the slow path reports it), the thread has no usable cache index,
 * or the section aborted.  The class arrives as cls + bias: free() passes
 * the object code of its page-table entry (class + 1) and the displacements
 * take the one back, so the fast path spends no instruction on it.
 */
static inline __attribute__((always_inline)) int
__arch_pcpu_push(unsigned long cls, void *p, unsigned node, const long bias)
{
	unsigned long c, t, w;

	__asm__ __volatile__ goto (
		RSEQ_ASM_ENTER
		"cmpl %[node], " hm_str(HM_PCPU_NODE) "(%[c])\n\t"
		"jne %l[fail]\n\t"
		RSEQ_ASM_RACE
		"mov %c[hdr](%[c],%[cls],8), %[w]\n\t"
		"movzwl %w[w], %k[t]\n\t"
		"cmpw %w[t], %c[lim](%[c],%[cls],4)\n\t"
		"je %l[fail]\n\t"
		"cmp %[p], -8(%[c],%[t],8)\n\t"
		"je %l[fail]\n\t"
		"mov %[p], (%[c],%[t],8)\n\t"
		"add $" hm_str(HM_PCPU_PUSH_ADD) ", %[w]\n\t"
		"mov %[w], %c[hdr](%[c],%[cls],8)\n"
		".Lrseq_post%=:\n\t"
		RSEQ_ASM_CS(".Lrseq_start%=", ".Lrseq_post%=", ".Lrseq_abort%=", "fail")
		: [c] "=&r"(c), [w] "=&r"(w), [t] "=&r"(t)
		: [cls] "r"(cls), [p] "r"(p), [node] "r"(node),
		  [base] "m"(hm_fe.base),
		  [cs] "m"(hm_fe.cs_off), [idx] "m"(hm_fe.idx_off),
		  [hdr] "i"(-8 * bias), [lim] "i"(HM_PCPU_LIM + 2 - 4 * bias)
		: "memory", "cc"
		: fail);
	return 1;
fail:
	return 0;
}

static inline __attribute__((always_inline)) int
arch_pcpu_push(unsigned long cls, void *p, unsigned node)
{
	return __arch_pcpu_push(cls, p, node, 0);
}

/* The same with the object code (class + 1) of a page-table entry. */
static inline __attribute__((always_inline)) int
arch_pcpu_push_code(unsigned long code, void *p, unsigned node)
{
	return __arch_pcpu_push(code, p, node, 1);
}

/*
 * Out-of-line batch moves (arch/x86_64/mm/pcpu-rseq.S), for refill and
 * drain.  They act only if the thread runs on cache idx; they return the
 * number of objects moved, or -1 (not on idx, caches closed, aborted).
 *   push: objs[0 .. k) onto the stack, k = min(n, room)
 *   pop:  the top k = min(n, count) objects into objs[0 .. k)
 */
long arch_pcpu_push_batch(unsigned idx, unsigned cls, void *const *objs, unsigned n);
long arch_pcpu_pop_batch(unsigned idx, unsigned cls, void **objs, unsigned n);

#endif /* _ASM_X86_64_PERCPU_H */
