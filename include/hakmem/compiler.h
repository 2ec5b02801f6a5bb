/* SPDX-License-Identifier: MIT */
/*
 * Compiler helpers shared by mm/ and arch/.
 */
#ifndef _HAKMEM_COMPILER_H
#define _HAKMEM_COMPILER_H

#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)
#undef __always_inline
#define __always_inline		inline __attribute__((always_inline))
#define __noinline		__attribute__((noinline))
#define __cold			__attribute__((cold))
#define __hidden		__attribute__((visibility("hidden")))
#define __public		__attribute__((visibility("default")))
#define __aligned(x)		__attribute__((aligned(x)))
#ifndef __unused
#define __unused		__attribute__((unused))
#endif
#define __noreturn		__attribute__((noreturn))
#define __printf_like(a, b)	__attribute__((format(printf, a, b)))

#define HM_CACHELINE		64
#define __cacheline_aligned	__aligned(HM_CACHELINE)

#define READ_ONCE(x)		(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v)	(*(volatile __typeof__(x) *)&(x) = (v))
#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax()		__builtin_ia32_pause()
#else
#define cpu_relax()		__asm__ __volatile__("" ::: "memory")
#endif
#define barrier()		__asm__ __volatile__("" ::: "memory")

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a)		(((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a)	((x) & ~((__typeof__(x))(a) - 1))
#define IS_POW2(x)		((x) != 0 && ((x) & ((x) - 1)) == 0)
#define MIN(a, b)		((a) < (b) ? (a) : (b))
#define MAX(a, b)		((a) > (b) ? (a) : (b))

#endif /* _HAKMEM_COMPILER_H */
