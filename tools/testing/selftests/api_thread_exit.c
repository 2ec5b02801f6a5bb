// SPDX-License-Identifier: MIT
/*
 * api_thread_exit - many short-lived threads: per-thread allocator state
 * must be torn down correctly, blocks left behind by dead threads must be
 * usable and freeable by others, and malloc must work inside TLS
 * destructors that run during thread exit.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "hk_util.h"

#include <pthread.h>
#include <stdatomic.h>

#define NSHORT 2000
#define LEFT 3          /* blocks each thread leaves behind */
#define BATCH 16

struct left {
	unsigned char *p;
	size_t n;
};

static struct left leftover[NSHORT][LEFT];
static atomic_long t_bad;

static size_t lsize(int t, int j)
{
	static const size_t big[] = { 24, 700, 5000, 70 * KiB, 300 * KiB };

	return big[(t + j) % 5] + (size_t)t % 13;
}

static void *short_thread(void *arg)
{
	int t = (int)(uintptr_t)arg, j;
	unsigned char *tmp[8];

	for (j = 0; j < 8; j++) {
		size_t n = 16 + (size_t)j * 100 + (size_t)t;

		tmp[j] = hk_malloc(n);
		if (!tmp[j]) {
			atomic_fetch_add(&t_bad, 1);
			continue;
		}
		hk_fill(tmp[j], n, (uint32_t)j);
	}
	for (j = 0; j < 8; j++) {
		size_t n = 16 + (size_t)j * 100 + (size_t)t;

		if (tmp[j] && hk_check(tmp[j], n, (uint32_t)j) != HK_INTACT)
			atomic_fetch_add(&t_bad, 1);
		hk_free(tmp[j]);
	}
	for (j = 0; j < LEFT; j++) {
		size_t n = lsize(t, j);

		leftover[t][j].p = hk_malloc(n);
		leftover[t][j].n = n;
		if (leftover[t][j].p)
			hk_fill_sparse(leftover[t][j].p, n,
				       (uint32_t)(t * LEFT + j));
		else
			atomic_fetch_add(&t_bad, 1);
	}
	if (t & 1)
		pthread_exit(NULL);
	return NULL;
}

static void test_short_threads(void)
{
	pthread_t tid[BATCH];
	int t, i, created = 0, ok = 1, freed = 0;

	for (t = 0; t < NSHORT; t += BATCH) {
		int n = NSHORT - t < BATCH ? NSHORT - t : BATCH;

		for (i = 0; i < n; i++) {
			if (pthread_create(&tid[i], NULL, short_thread,
					   (void *)(uintptr_t)(t + i)) == 0)
				created++;
			else
				tid[i] = 0;
		}
		for (i = 0; i < n; i++)
			if (tid[i])
				pthread_join(tid[i], NULL);
		/* free half of the leftovers right away */
		for (i = 0; i < n; i += 2) {
			int j;

			for (j = 0; j < LEFT; j++) {
				struct left *l = &leftover[t + i][j];

				if (l->p && !hk_check_sparse(l->p, l->n,
					(uint32_t)((t + i) * LEFT + j)))
					ok = 0;
				hk_free(l->p);
				l->p = NULL;
				freed++;
			}
		}
	}
	tap_ok(created == NSHORT, "created and joined %d short threads "
	       "(%d)", NSHORT, created);
	tap_ok(atomic_load(&t_bad) == 0, "short threads: allocations worked "
	       "and held their contents (%ld bad)", atomic_load(&t_bad));

	/* the rest: after all threads are gone, reuse then free */
	{
		void *p[1000];

		for (i = 0; i < 1000; i++)
			p[i] = hk_malloc(16 + (size_t)i);
		for (t = 0; t < NSHORT; t++) {
			int j;

			for (j = 0; j < LEFT; j++) {
				struct left *l = &leftover[t][j];

				if (!l->p)
					continue;
				if (!hk_check_sparse(l->p, l->n,
						     (uint32_t)(t * LEFT + j)))
					ok = 0;
				hk_free(l->p);
				l->p = NULL;
				freed++;
			}
		}
		for (i = 0; i < 1000; i++)
			hk_free(p[i]);
	}
	tap_ok(ok && freed == NSHORT * LEFT, "main thread freed %d blocks "
	       "left by exited threads, contents intact", freed);
}

/* ---- detached threads ------------------------------------------------ */

static atomic_int detached_done;
static unsigned char *detached_left[500];

static void *detached_thread(void *arg)
{
	int t = (int)(uintptr_t)arg;
	void *p = hk_malloc(100 + (size_t)t);

	hk_free(p);
	detached_left[t] = hk_malloc(64);
	if (detached_left[t])
		memset(detached_left[t], t & 0xff, 64);
	atomic_fetch_add(&detached_done, 1);
	return NULL;
}

static void test_detached(void)
{
	pthread_attr_t at;
	int t, created = 0, ok = 1, spins = 0;

	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	for (t = 0; t < 500; t++) {
		pthread_t tid;

		while (t - atomic_load(&detached_done) > 32)
			usleep(100);
		if (pthread_create(&tid, &at, detached_thread,
				   (void *)(uintptr_t)t) == 0)
			created++;
	}
	pthread_attr_destroy(&at);
	while (atomic_load(&detached_done) < created && spins++ < 50000)
		usleep(100);
	usleep(20000);   /* let the last ones finish exiting */
	for (t = 0; t < 500; t++) {
		unsigned char *p = detached_left[t];
		int j;

		if (!p) {
			ok = 0;
			continue;
		}
		for (j = 0; j < 64; j++)
			if (p[j] != (unsigned char)(t & 0xff))
				ok = 0;
		hk_free(p);
	}
	tap_ok(created == 500 && ok, "500 detached threads: blocks they left "
	       "are intact and freeable");
}

/* ---- malloc inside TLS destructors ----------------------------------- */

static pthread_key_t key;
static atomic_long dtor_runs, dtor_bad;

static void dtor(void *v)
{
	unsigned char *p = v, *q;
	int i;

	for (i = 0; i < 200; i++)
		if (p[i] != 0x5C)
			atomic_fetch_add(&dtor_bad, 1);
	hk_free(p);
	/* allocate and free again during thread teardown */
	q = hk_malloc(333);
	if (!q) {
		atomic_fetch_add(&dtor_bad, 1);
	} else {
		memset(q, 1, 333);
		hk_free(q);
	}
	q = hk_calloc(10, 1000);
	if (!q || !hk_all_zero(q, 10000))
		atomic_fetch_add(&dtor_bad, 1);
	hk_free(q);
	atomic_fetch_add(&dtor_runs, 1);
}

static void *key_thread(void *arg)
{
	unsigned char *p = hk_malloc(200);

	(void)arg;
	if (!p)
		return NULL;
	memset(p, 0x5C, 200);
	pthread_setspecific(key, p);
	/* warm the thread's allocator state */
	for (int i = 0; i < 100; i++)
		hk_free(hk_malloc(16 + (size_t)i * 8));
	return NULL;
}

static void test_tls_dtor(void)
{
	int i, ok;

	ok = pthread_key_create(&key, dtor) == 0;
	for (i = 0; i < 200 && ok; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, key_thread, NULL) != 0) {
			ok = 0;
			break;
		}
		pthread_join(t, NULL);
	}
	tap_ok(ok && atomic_load(&dtor_runs) == 200 &&
	       atomic_load(&dtor_bad) == 0,
	       "malloc/free/calloc work in TLS destructors at thread exit "
	       "(%ld runs, %ld bad)", atomic_load(&dtor_runs),
	       atomic_load(&dtor_bad));
}

int main(void)
{
	tap_watchdog(120);
	tap_init(6);
	tap_check_hakmem();

	test_short_threads();  /* 3 */
	test_detached();       /* 1 */
	test_tls_dtor();       /* 1 */
	return tap_finish();
}
