/* SPDX-License-Identifier: MIT */
/*
 * The fake OS layer the unit tests link instead of mm/os.o.
 *
 * Every function mm/os.c implements (see include/hakmem/os.h) is faked on
 * real mappings (mmap/mremap), so the memory the heap hands out is real,
 * but:
 *
 *   - each call is counted in fake_os.calls;
 *   - fake_os.fail_<op> = N makes the N-th next call of <op> fail with
 *     -ENOMEM (1: the very next one), for reserve, commit, move, decommit
 *     and map_meta; fake_os.fail_reserve_all makes every reserve fail;
 *   - os_commit reports fake_os.tier (or the tier asked for, if worse);
 *     os_commit_hugetlb succeeds only when fake_os.tier is hugetlb (both
 *     count as commit calls; the bytes it faults now are kept in
 *     last_commit_fault), and so does os_fault_hugetlb (counted as fault;
 *     fail_fault makes it fail too, as when the pool lost the pages);
 *   - fork's calls: os_hugetlb_pool reads fake_os.pool_free/pool_resv,
 *     os_resident says 1 (0 with fake_os.absent), os_map_copy and
 *     os_adopt can fail (fail_map_copy, fail_adopt), os_adopt moves with
 *     mremap and returns the tier asked for; os_pagemap_open fails (no
 *     page reads as the child's own); the SIGBUS hook is only recorded
 *     (fake_os.hook);
 *   - the topology is fixed: FAKE_NR_CPUS CPUs on FAKE_NR_NODES nodes,
 *     CPUs 0,1 on node 0 and CPUs 2,3 on node 1; os_getcpu() returns
 *     fake_os.cpu, so a test can pretend to run anywhere (the heap asks
 *     getcpu only when the thread area gives no CPU, see unit_on_cpu());
 *   - os_reserve hands out ranges aligned to what was asked and, with
 *     fake_os.reserve_exact_align (the default), never to twice that: the
 *     weakest alignment the contract allows, so code that silently relies
 *     on a stronger one fails every time instead of now and then;
 *   - os_write to stdout goes to stderr (stdout carries the TAP stream)
 *     and the last message written is kept in fake_os.last_write;
 *     fake_os.quiet keeps it from being written at all;
 *   - os_abort() calls abort(), unless fake_os.expect_abort names a text
 *     the last message lacks: then the process exits with status 99, so a
 *     test expecting SIGABRT from one check fails if another fired.
 */
#ifndef _UNIT_FAKE_OS_H
#define _UNIT_FAKE_OS_H

#include <stddef.h>
#include "hakmem/os.h"

#define FAKE_NR_CPUS	4
#define FAKE_NR_NODES	2

struct fake_os_calls {
	unsigned long	probe, reserve, commit, map_meta, map_table, open_table;
	unsigned long	decommit, purge, move;
	unsigned long	getcpu, getnode, write, abort;
	unsigned long	pool, map_copy, place, resident, adopt, unmap, hook_set, hook_clear;
	unsigned long	fault;
};

struct fake_os {
	/* Behaviour, set by tests. */
	unsigned	cpu;			/* what os_getcpu() returns */
	int		tier;			/* tier os_commit() obtains */
	int		reserve_exact_align;	/* see above */
	unsigned	fail_reserve;		/* N: the N-th next call fails */
	int		fail_reserve_all;	/* every reserve fails */
	unsigned	fail_commit;
	unsigned	fail_move;
	unsigned	fail_decommit;
	unsigned	fail_map_meta;
	unsigned	fail_map_table;
	unsigned	fail_open_table;
	int		quiet;			/* os_write only records */
	const char	*expect_abort;		/* os_abort: the last message must
						 * contain this, else _exit(99) */
	unsigned	lose_move;		/* N: the N-th next move returns -EEXIST
						 * (moved, old range "taken") */
	unsigned long	pool_free, pool_resv;	/* what os_hugetlb_pool() reads */
	int		absent;			/* os_resident() says 0 (never written) */
	unsigned	fail_map_copy;
	unsigned	fail_adopt;
	unsigned	fail_fault;
	bool		(*hook)(void *addr);	/* what os_fault_hook_set got */

	/* What happened. */
	struct fake_os_calls calls;
	size_t		commit_bytes;		/* sum of successful commits */
	size_t		decommit_bytes;		/* sum of successful decommits */
	void		*last_commit;
	size_t		last_commit_len;
	int		last_commit_tier;	/* the tier asked for */
	unsigned	last_commit_node;
	size_t		last_commit_fault;	/* os_commit_hugetlb: faulted now */
	void		*last_fault;		/* os_fault_hugetlb */
	size_t		last_fault_len;
	void		*last_decommit;
	size_t		last_decommit_len;
	void		*last_move_from, *last_move_to;
	size_t		last_move_old_len, last_move_new_len;
	char		last_write[256];
};

extern struct fake_os fake_os;

/* Zero the counters and the "last" records; behaviour settings stay. */
void fake_os_reset_counts(void);
/* Back to the defaults: CPU 0, HM_TIER_THP, no failures, counters zeroed. */
void fake_os_reset(void);

#endif /* _UNIT_FAKE_OS_H */
