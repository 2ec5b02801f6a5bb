/* SPDX-License-Identifier: MIT */
/*
 * x86_64 per-CPU helpers.  Today: reading the CPU number glibc's rseq
 * registration keeps current, with one %fs-relative load.  The rseq
 * push/pop critical sections will live beside it.
 */
#ifndef _ASM_X86_64_PERCPU_H
#define _ASM_X86_64_PERCPU_H

#include <stddef.h>
#include <asm/rseq-abi.h>

#define HAVE_ARCH_TP_READ_INT 1

/* The int at offset off from the thread pointer: one %fs-relative load. */
static inline __attribute__((always_inline)) int arch_tp_read_int(long off)
{
	int v;

	__asm__ __volatile__("movl %%fs:(%1), %0" : "=r"(v) : "r"(off));
	return v;
}

#endif /* _ASM_X86_64_PERCPU_H */
