// SPDX-License-Identifier: MIT
/*
 * Slow paths of the futex mutex in include/hakmem/lock.h.
 */
#include "hakmem/internal.h"

void hm_lock_slow(struct hm_lock *l)
{
	/* A short spin first: most holders are inside a few list operations. */
	for (int i = 0; i < 64; i++) {
		cpu_relax();
		if (READ_ONCE(l->v) == 0 && hm_trylock(l))
			return;
	}
	while (__atomic_exchange_n(&l->v, 2, __ATOMIC_ACQUIRE) != 0)
		os_futex_wait(&l->v, 2);
}

void hm_unlock_wake(struct hm_lock *l)
{
	os_futex_wake(&l->v, 1);
}
