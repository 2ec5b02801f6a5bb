// SPDX-License-Identifier: MIT
/*
 * api_fork - fork() while other threads are allocating: the child must
 * find a consistent, unlocked heap.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "hk_util.h"

#include <pthread.h>
#include <stdatomic.h>

#define NBG 4
#define NFORK 50
#define NKEEP 64

static atomic_int stop;
static atomic_long bg_ops, bg_bad;

static void *background(void *arg)
{
	unsigned char *slot[64] = { 0 };
	size_t sz[64] = { 0 };
	struct hk_rng r;
	long ops = 0;

	hk_rng_seed(&r, (uint64_t)(uintptr_t)arg + 5);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int i = (int)hk_rng_below(&r, 64);

		if (slot[i]) {
			if (!hk_check_sparse(slot[i], sz[i], (uint32_t)i))
				atomic_fetch_add(&bg_bad, 1);
			hk_free(slot[i]);
			slot[i] = NULL;
		} else {
			unsigned int k = (unsigned int)hk_rng_below(&r, 100);

			sz[i] = k < 90 ? 1 + hk_rng_below(&r, 512) :
				k < 99 ? 1 + hk_rng_below(&r, 64 * KiB) :
				256 * KiB + hk_rng_below(&r, 4 * MiB);
			slot[i] = hk_malloc(sz[i]);
			if (slot[i])
				hk_fill_sparse(slot[i], sz[i], (uint32_t)i);
			else
				atomic_fetch_add(&bg_bad, 1);
		}
		ops++;
	}
	for (int i = 0; i < 64; i++)
		hk_free(slot[i]);
	atomic_fetch_add(&bg_ops, ops);
	return NULL;
}

static unsigned char *keep[NKEEP];
static size_t keep_n[NKEEP];

static void *child_thread(void *arg)
{
	int i;

	for (i = 0; i < 1000; i++) {
		void *p = hk_malloc(1 + (size_t)i * 7);

		if (!p)
			return (void *)1;
		hk_free(p);
	}
	(void)arg;
	return NULL;
}

/* child: use the heap heavily, exit 0 iff everything worked */
static int child_work(int iter)
{
	unsigned char *p[200];
	int i, bad = 0;

	/* a deadlocked heap must not hang the test */
	signal(SIGALRM, SIG_DFL);
	alarm(10);
	/* blocks inherited from the parent are intact and freeable */
	for (i = 0; i < NKEEP; i++) {
		if (!hk_check_sparse(keep[i], keep_n[i], (uint32_t)i + 100))
			bad |= 1;
		if (i & 1)
			hk_free(keep[i]);
	}
	for (i = 0; i < 200; i++) {
		size_t n = i % 20 ? 1 + (size_t)i * 37 : 300 * KiB + (size_t)i;

		p[i] = (i % 3) ? hk_malloc(n) : hk_calloc(1, n);
		if (!p[i]) {
			bad |= 2;
			continue;
		}
		if (i % 3 == 0 && !hk_all_zero(p[i], n))
			bad |= 4;
		hk_fill_sparse(p[i], n, (uint32_t)i);
	}
	for (i = 0; i < 200; i++) {
		size_t n = i % 20 ? 1 + (size_t)i * 37 : 300 * KiB + (size_t)i;
		unsigned char *q;

		if (!p[i])
			continue;
		if (!hk_check_sparse(p[i], n, (uint32_t)i))
			bad |= 8;
		q = hk_realloc(p[i], n + 1000);
		if (!q) {
			bad |= 2;
			hk_free(p[i]);
			continue;
		}
		hk_free(q);
	}
	if (iter % 5 == 0) {
		/* threads in the child allocate too */
		pthread_t t;
		void *ret = (void *)1;

		if (pthread_create(&t, NULL, child_thread, NULL) == 0)
			pthread_join(t, &ret);
		if (ret)
			bad |= 16;
	}
	return bad;
}

int main(void)
{
	pthread_t bg[NBG];
	int i, ok_exit = 0, ok_sig = 0, started = 0;
	int statuses_bad = 0, reported = 0;

	tap_watchdog(120);
	tap_init(5);
	tap_check_hakmem();

	for (i = 0; i < NKEEP; i++) {
		keep_n[i] = i % 16 ? 8 + (size_t)i * 13 : 200 * KiB + (size_t)i;
		keep[i] = hk_malloc(keep_n[i]);
		if (keep[i])
			hk_fill_sparse(keep[i], keep_n[i], (uint32_t)i + 100);
	}
	for (i = 0; i < NBG; i++)
		if (pthread_create(&bg[i], NULL, background,
				   (void *)(uintptr_t)i) == 0)
			started++;

	for (i = 0; i < NFORK; i++) {
		pid_t pid;
		int st;

		fflush(stdout);
		pid = fork();
		if (pid < 0) {
			statuses_bad++;
			continue;
		}
		if (pid == 0)
			_exit(child_work(i));
		/* keep allocating in the parent too */
		{
			void *p = hk_malloc(1000 + (size_t)i);

			hk_free(p);
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			ok_exit++;
		} else {
			char buf[128];

			statuses_bad++;
			if (WIFSIGNALED(st))
				ok_sig++;
			hk_describe_status(st, buf, sizeof(buf));
			if (reported++ < 5)
				tap_diag("fork #%d: child %s (exit code bits: "
					 "1=inherited block bad, 2=NULL, "
					 "4=calloc dirty, 8=corrupt, "
					 "16=thread)", i, buf);
		}
		/* spread forks over the background activity */
		usleep(2000);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < started; i++)
		pthread_join(bg[i], NULL);

	tap_ok(started == NBG, "%d background allocating threads started",
	       NBG);
	tap_ok(ok_exit == NFORK, "%d forks while threads allocate: child "
	       "allocates/frees and exits 0 (%d ok, %d killed by signal)",
	       NFORK, ok_exit, ok_sig);
	tap_ok(atomic_load(&bg_bad) == 0, "background threads saw no "
	       "corruption across forks (%ld ops, %ld bad)",
	       atomic_load(&bg_ops), atomic_load(&bg_bad));
	{
		int ok = 1;

		for (i = 0; i < NKEEP; i++) {
			if (!keep[i] || !hk_check_sparse(keep[i], keep_n[i],
							 (uint32_t)i + 100))
				ok = 0;
			hk_free(keep[i]);
		}
		tap_ok(ok, "parent's blocks intact after children freed "
		       "their copies");
	}
	return tap_finish();
}
