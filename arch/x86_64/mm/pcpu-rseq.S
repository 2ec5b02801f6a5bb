/* SPDX-License-Identifier: MIT */
/*
 * Batch moves on this CPU's cache as rseq critical sections: refill pushes
 * a batch taken from the central lists, drain pops one to give back.  The
 * single-object pop and push are inline (arch/x86_64/include/asm/percpu.h);
 * these are called from the slow paths in mm/percpu.c only.
 *
 * long arch_pcpu_push_batch(unsigned idx, unsigned cls, void *const *objs, unsigned n)
 * long arch_pcpu_pop_batch(unsigned idx, unsigned cls, void **objs, unsigned n)
 *
 * Both act only when the calling thread's cache index is idx (the caller
 * filled or will empty objs for that cache's node) and the caches are open;
 * the copy writes only slots above the top (push) or the caller's array
 * (pop), and one store of the class header commits.  Return: the number of
 * objects moved, or -1 when the thread is not on idx, the caches are
 * closed, or the section was aborted.
 *
 * The copy moves four objects a turn in two 16-byte loads and stores (seven
 * instructions for four), then the rest one by one.  Against one object a
 * turn (five instructions each) that made ptrchase's allocation phase, 4M
 * nodes refilled 64 at a time, 8 % faster here; one rep movsq was no faster
 * than the one-object loop.
 */
#include <asm/rseq-abi.h>
#include "hakmem/pcpu-abi.h"

/* Stress builds widen the sections (see asm/percpu.h). */
#ifdef HM_RSEQ_RACE
#define RACE_DELAY(reg, label)	movl $HM_RSEQ_RACE, reg; label: pause; decl reg; jnz label
#else
#define RACE_DELAY(reg, label)
#endif

/*
 * Enter the section named name (its descriptor .L<name>_cs, start label
 * .L<name>_start) on cache idx: zero-extend the unsigned arguments, load
 * hm_fe.cs_off and then hm_fe.idx_off (in that order, as asm/percpu.h
 * explains), point rseq_cs at the descriptor, then, inside, check that the
 * thread runs on idx and the caches are open.  Leaves the cache's address
 * in %rax.
 */
#define SECTION_ENTER(name)					\
	movl	%esi, %esi;					\
	movl	%ecx, %ecx;					\
	movq	hm_fe+HM_FE_CS(%rip), %r8;			\
	testq	%r8, %r8;					\
	jz	.L##name##_fail;				\
	movq	hm_fe+HM_FE_IDX(%rip), %r9;			\
	leaq	.L##name##_cs(%rip), %rax;			\
	movq	%rax, %fs:(%r8);				\
.L##name##_start:						\
	movl	%fs:(%r9), %eax;				\
	cmpl	%eax, %edi;					\
	jne	.L##name##_fail;				\
	cmpl	hm_fe+HM_FE_NR(%rip), %eax;			\
	jae	.L##name##_fail;				\
	shlq	$HM_PCPU_SHIFT, %rax;				\
	addq	hm_fe+HM_FE_CACHES(%rip), %rax

/*
 * Copy %r8d objects from src to dst (neither %rcx nor %r9), four a turn in
 * two 16-byte loads and stores, then one at a time; clobbers %rcx, %r9,
 * %xmm0 and %xmm1, and falls through to .L<name>_commit.
 */
#define COPY(name, src, dst)					\
	xorl	%r9d, %r9d;					\
	movl	%r8d, %ecx;					\
	andl	$-4, %ecx;					\
	jz	.L##name##_tail;				\
.L##name##_copy4:						\
	movdqu	(src,%r9,8), %xmm0;				\
	movdqu	16(src,%r9,8), %xmm1;				\
	movdqu	%xmm0, (dst,%r9,8);				\
	movdqu	%xmm1, 16(dst,%r9,8);				\
	addl	$4, %r9d;					\
	cmpl	%ecx, %r9d;					\
	jb	.L##name##_copy4;				\
.L##name##_tail:						\
	cmpl	%r8d, %r9d;					\
	jae	.L##name##_commit;				\
	movq	(src,%r9,8), %rcx;				\
	movq	%rcx, (dst,%r9,8);				\
	incl	%r9d;						\
	jmp	.L##name##_tail

	.text

/* rdi = idx, rsi = cls, rdx = objs, rcx = n */
	.globl	arch_pcpu_push_batch
	.hidden	arch_pcpu_push_batch
	.type	arch_pcpu_push_batch, @function
arch_pcpu_push_batch:
	SECTION_ENTER(push)
	RACE_DELAY(%r10d, .Lpush_race)
	movq	(%rax,%rsi,8), %r10			/* r10 = header */
	movzwl	%r10w, %r11d				/* r11 = top */
	movzwl	HM_PCPU_LIM+2(%rax,%rsi,4), %r8d	/* r8 = hi */
	subl	%r11d, %r8d				/* room */
	cmpl	%ecx, %r8d
	cmoval	%ecx, %r8d				/* k = min(room, n) */
	leaq	(%rax,%r11,8), %r11			/* first free slot */
	COPY(push, %rdx, %r11)				/* objs -> free slots */
.Lpush_commit:
	addq	%r8, %r10
	movq	%r10, (%rax,%rsi,8)
.Lpush_post:
	movq	%r8, %rax
	ret
.Lpush_fail:
	movq	$-1, %rax
	ret
	.size	arch_pcpu_push_batch, . - arch_pcpu_push_batch

/* rdi = idx, rsi = cls, rdx = objs, rcx = n */
	.globl	arch_pcpu_pop_batch
	.hidden	arch_pcpu_pop_batch
	.type	arch_pcpu_pop_batch, @function
arch_pcpu_pop_batch:
	SECTION_ENTER(pop)
	RACE_DELAY(%r10d, .Lpop_race)
	movq	(%rax,%rsi,8), %r10			/* r10 = header */
	movzwl	%r10w, %r11d				/* r11 = top */
	movzwl	HM_PCPU_LIM(%rax,%rsi,4), %r8d		/* r8 = lo */
	negl	%r8d
	addl	%r11d, %r8d				/* count */
	cmpl	%ecx, %r8d
	cmoval	%ecx, %r8d				/* k = min(count, n) */
	subl	%r8d, %r11d
	leaq	(%rax,%r11,8), %r11			/* lowest slot taken */
	COPY(pop, %r11, %rdx)				/* slots -> objs */
.Lpop_commit:
	subq	%r8, %r10
	movq	%r10, (%rax,%rsi,8)
.Lpop_post:
	movq	%r8, %rax
	ret
.Lpop_fail:
	movq	$-1, %rax
	ret
	.size	arch_pcpu_pop_batch, . - arch_pcpu_pop_batch

/* Abort handlers: each preceded by the signature the kernel checks. */
	.section .text.unlikely.hm_rseq_abort, "ax"
	RSEQ_SIG_INSN
.Lpush_abort:
	jmp	.Lpush_fail
	RSEQ_SIG_INSN
.Lpop_abort:
	jmp	.Lpop_fail

	.section .data.rel.ro.hm_rseq_cs, "aw"
	.balign	RSEQ_CS_ALIGN
.Lpush_cs:
	.long	0, 0
	.quad	.Lpush_start, .Lpush_post - .Lpush_start, .Lpush_abort
	.balign	RSEQ_CS_ALIGN
.Lpop_cs:
	.long	0, 0
	.quad	.Lpop_start, .Lpop_post - .Lpop_start, .Lpop_abort

	.section .note.GNU-stack, "", @progbits
