/* SPDX-License-Identifier: MIT */
/*
 * The rseq ABI as x86_64 sees it: offsets into struct rseq (the area the
 * kernel keeps current for a registered thread) and struct rseq_cs (the
 * descriptor of one critical section), and the signature that precedes
 * every abort handler.  Shared between C and assembly (guarded by
 * __ASSEMBLER__); the C side checks the offsets against the kernel's header.
 *
 * Ownership: cpu_id_start, cpu_id, node_id and mm_cid are written by the
 * kernel only; hakmem reads them.  rseq_cs is the thread's own: it points
 * it at the descriptor of the section it is about to enter.  flags is
 * never touched.
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
#define RSEQ_AREA_SIZE		32	/* what hakmem registers for its own area */

/* struct rseq_cs: version, flags, start_ip, post_commit_offset, abort_ip. */
#define RSEQ_CS_VERSION		0
#define RSEQ_CS_FLAGS		4
#define RSEQ_CS_START_IP	8
#define RSEQ_CS_POST_COMMIT	16
#define RSEQ_CS_ABORT_IP	24
#define RSEQ_CS_ALIGN		32

/* glibc registers with this signature; abort handlers must carry it too. */
#define RSEQ_SIG		0x53053053

/*
 * The four bytes before an abort handler must equal RSEQ_SIG.  Emitted as
 * the tail of "ud1 RSEQ_SIG(%rip), %edi" so a disassembler stays in step
 * and falling into it traps.
 */
#ifdef __ASSEMBLER__
#define RSEQ_SIG_INSN		.byte 0x0f, 0xb9, 0x3d; .long RSEQ_SIG
#else
#define RSEQ_SIG_BYTES		".byte 0x0f, 0xb9, 0x3d\n\t.long 0x53053053\n\t"
_Static_assert(RSEQ_SIG == 0x53053053, "RSEQ_SIG_BYTES spells RSEQ_SIG");
#endif

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <linux/rseq.h>

_Static_assert(offsetof(struct rseq, cpu_id_start) == RSEQ_OFF_CPU_ID_START, "rseq ABI");
_Static_assert(offsetof(struct rseq, cpu_id) == RSEQ_OFF_CPU_ID, "rseq ABI");
_Static_assert(offsetof(struct rseq, rseq_cs) == RSEQ_OFF_RSEQ_CS, "rseq ABI");
_Static_assert(offsetof(struct rseq, flags) == RSEQ_OFF_FLAGS, "rseq ABI");
_Static_assert(offsetof(struct rseq_cs, start_ip) == RSEQ_CS_START_IP, "rseq ABI");
_Static_assert(offsetof(struct rseq_cs, post_commit_offset) == RSEQ_CS_POST_COMMIT, "rseq ABI");
_Static_assert(offsetof(struct rseq_cs, abort_ip) == RSEQ_CS_ABORT_IP, "rseq ABI");
#endif

#endif /* _ASM_X86_64_RSEQ_ABI_H */
