// SPDX-License-Identifier: MIT
/*
 * Start-up, fork and exit.
 *
 * hm_init_slow() runs once, on the first allocation (or from the library
 * constructor, whichever comes first), in any thread.  It makes only system
 * calls: no stdio, no allocating libc call, no recursion into malloc.
 * A thread that re-enters while it initialises gets the boot arena; other
 * threads wait for it to finish.  If the heap cannot be set up (the address
 * space reservation fails everywhere), every allocation fails with ENOMEM
 * after the boot arena is used up.
 *
 * fork(): the prepare handler takes every lock in the documented order
 * (pcpu caches, central lists, nodes); the parent releases them and the
 * child resets them, so the child of a threaded program finds the heap
 * consistent and unlocked.  On a heap with chunks on the hugetlb pool the
 * child gets copies of those instead of sharing them (mm/fork.c).
 * vfork and posix_spawn run none of this.
 *
 * Exit: with HAKMEM_STATS the destructor prints the summary, on normal exit
 * (exit() or a return from main); a program that leaves with _exit() or a
 * signal prints nothing.
 */
#include <pthread.h>
#include "hakmem/internal.h"
#include "hakmem/percpu.h"

int hm_init_state;
static int init_owner;
/*
 * Where the exit summary goes: a private copy of stderr taken at start-up,
 * since some programs close fd 2 in their own atexit handlers.
 */
static int stats_fd = 2;

static int heap_init(void)
{
	options_init();		/* first: HAKMEM_PCPU_MAX shapes the class table */
	sizeclass_init();
	os_probe();
	if (heap_setup())
		return -1;
	if (pcpu_setup())
		return -1;
	__atomic_store_n(&hm_heap.nr_cpus, os_caps.nr_cpus, __ATOMIC_RELEASE);
	/* Last: a non-zero cache count opens the per-CPU fast paths. */
	pcpu_open();
	if (hm_opt.stats) {
		int fd = os_dup_high(2);

		if (fd >= 0)
			stats_fd = fd;
	}
	return 0;
}

int hm_init_slow(void)
{
	int state = __atomic_load_n(&hm_init_state, __ATOMIC_ACQUIRE);
	int none = HM_INIT_NONE;

	if (state == HM_INIT_DONE)
		return 0;
	if (state == HM_INIT_NONE &&
	    __atomic_compare_exchange_n(&hm_init_state, &none, HM_INIT_RUNNING, false,
					__ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
		int ok;

		init_owner = os_gettid();
		ok = heap_init() == 0;
		/* Publish the heap after every field of it is written. */
		__atomic_store_n(&hm_init_state, ok ? HM_INIT_DONE : HM_INIT_FAILED,
				 __ATOMIC_RELEASE);
		if (!ok)
			hm_warn("cannot reserve address space for the heap: allocations will fail");
		else if (hm_opt.verbose)
			hm_warn("heap ready");
		return ok ? 0 : -1;
	}
	if (READ_ONCE(init_owner) == os_gettid())
		return -1;		/* re-entered from our own start-up */
	while ((state = __atomic_load_n(&hm_init_state, __ATOMIC_ACQUIRE)) == HM_INIT_RUNNING)
		os_yield();
	return state == HM_INIT_DONE ? 0 : -1;
}

static void fork_prepare(void)
{
	if (READ_ONCE(hm_init_state) != HM_INIT_DONE)
		return;
	pcpu_fork_prepare();
	central_fork_prepare();
	ss_fork_prepare();
}

static void fork_parent(void)
{
	if (READ_ONCE(hm_init_state) != HM_INIT_DONE)
		return;
	ss_fork_parent();
	central_fork_parent();
	pcpu_fork_parent();
}

static void fork_child(void)
{
	if (READ_ONCE(hm_init_state) != HM_INIT_DONE)
		return;
	ss_fork_child();
	central_fork_child();
	pcpu_fork_child();
}

__attribute__((constructor)) static void hakmem_ctor(void)
{
	hm_ensure_init();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

__attribute__((destructor)) static void hakmem_dtor(void)
{
	if (READ_ONCE(hm_init_state) == HM_INIT_DONE && hm_opt.stats)
		stats_exit_report(stats_fd);
}
