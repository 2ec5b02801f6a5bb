/* SPDX-License-Identifier: MIT */
/*
 * A small futex mutex: never allocates, one atomic op each way when
 * uncontended, sleeps (does not spin for long) when contended, so a lock
 * holder preempted on an oversubscribed machine does not stall its waiters.
 *
 * States of v: 0 unlocked, 1 locked, 2 locked with (possible) waiters.
 */
#ifndef _HAKMEM_LOCK_H
#define _HAKMEM_LOCK_H

#include <stdbool.h>
#include "hakmem/compiler.h"

struct hm_lock {
	int v;
};

#define HM_LOCK_INIT	{ 0 }

void hm_lock_slow(struct hm_lock *l);
void hm_unlock_wake(struct hm_lock *l);

static __always_inline bool hm_trylock(struct hm_lock *l)
{
	int zero = 0;

	return __atomic_compare_exchange_n(&l->v, &zero, 1, false,
					   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static __always_inline void hm_lock(struct hm_lock *l)
{
	if (unlikely(!hm_trylock(l)))
		hm_lock_slow(l);
}

static __always_inline void hm_unlock(struct hm_lock *l)
{
	if (unlikely(__atomic_exchange_n(&l->v, 0, __ATOMIC_RELEASE) == 2))
		hm_unlock_wake(l);
}

/* After fork() in the child: the other threads are gone. */
static inline void hm_lock_reset(struct hm_lock *l)
{
	__atomic_store_n(&l->v, 0, __ATOMIC_RELAXED);
}

#endif /* _HAKMEM_LOCK_H */
