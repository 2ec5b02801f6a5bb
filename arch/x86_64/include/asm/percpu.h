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

#define HAVE_ARCH_RSEQ_CPU_ID 1

/* cpu_id from the rseq area at thread-pointer offset off. */
static inline __attribute__((always_inline)) int arch_rseq_cpu_id(ptrdiff_t off)
{
	int cpu;

	__asm__ __volatile__("movl %%fs:%c1(%2), %0"
			     : "=r"(cpu)
			     : "i"(RSEQ_OFF_CPU_ID), "r"(off));
	return cpu;
}

#endif /* _ASM_X86_64_PERCPU_H */
