/* SPDX-License-Identifier: MIT */
/*
 * The rseq ABI as x86_64 sees it: offsets into struct rseq and the
 * signature that must precede every abort handler.  Shared between C and
 * assembly (guarded by __ASSEMBLER__); the C side checks the offsets
 * against the kernel's own header.
 */
#ifndef _ASM_X86_64_RSEQ_ABI_H
#define _ASM_X86_64_RSEQ_ABI_H

#define RSEQ_OFF_CPU_ID_START	0	/* u32 cpu_id_start */
#define RSEQ_OFF_CPU_ID		4	/* u32 cpu_id, negative when unregistered */
#define RSEQ_OFF_RSEQ_CS	8	/* u64 rseq_cs: the critical section */
#define RSEQ_OFF_FLAGS		16	/* u32 flags */
#define RSEQ_OFF_NODE_ID	20	/* u32 node_id (feature size >= 28) */
#define RSEQ_OFF_MM_CID		24	/* u32 mm_cid (feature size >= 28) */
#define RSEQ_FEATURE_MM_CID	28	/* AT_RSEQ_FEATURE_SIZE with node_id and mm_cid */

/* glibc registers with this signature; abort handlers must carry it too. */
#define RSEQ_SIG		0x53053053

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <linux/rseq.h>

_Static_assert(offsetof(struct rseq, cpu_id_start) == RSEQ_OFF_CPU_ID_START, "rseq ABI");
_Static_assert(offsetof(struct rseq, cpu_id) == RSEQ_OFF_CPU_ID, "rseq ABI");
_Static_assert(offsetof(struct rseq, rseq_cs) == RSEQ_OFF_RSEQ_CS, "rseq ABI");
_Static_assert(offsetof(struct rseq, flags) == RSEQ_OFF_FLAGS, "rseq ABI");
#endif

#endif /* _ASM_X86_64_RSEQ_ABI_H */
