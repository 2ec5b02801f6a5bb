// SPDX-License-Identifier: MIT
/*
 * api_threads - concurrent allocation: per-thread random stress with
 * pattern checking, and blocks handed between threads (allocated in one
 * thread, realloc'ed/freed in another).
 */
#define _GNU_SOURCE
#include "tap.h"
#include "hk_util.h"

#include <pthread.h>
#include <stdatomic.h>

#define NTHREADS 8
#define NOPS 200000
#define NSLOTS 512

struct slot {
	unsigned char *p;
	size_t n;
	uint32_t seed;
	int zero;        /* came from calloc and not written yet */
};

struct worker {
	pthread_t tid;
	int id;
	long nulls, corrupt, misaligned, notzero;
	char first_err[160];
};

static size_t stress_size(struct hk_rng *r)
{
	unsigned int k = (unsigned int)hk_rng_below(r, 1000);

	if (k < 800)
		return 1 + hk_rng_below(r, 256);
	if (k < 950)
		return 257 + hk_rng_below(r, 4096 - 256);
	if (k < 999)
		return 4097 + hk_rng_below(r, 65536 - 4096);
	return 65537 + hk_rng_below(r, 2 * MiB);
}

static void note(struct worker *w, const char *fmt, size_t a, size_t b)
{
	if (!w->first_err[0])
		snprintf(w->first_err, sizeof(w->first_err), fmt, a, b);
}

static void *stress(void *arg)
{
	struct worker *w = arg;
	struct slot *s = calloc(NSLOTS, sizeof(*s));
	struct hk_rng r;
	long op;
	int i;

	if (!s) {
		w->nulls++;
		return NULL;
	}
	hk_rng_seed(&r, (uint64_t)w->id * 1000003 + 17);
	for (op = 0; op < NOPS; op++) {
		struct slot *x = &s[hk_rng_below(&r, NSLOTS)];
		unsigned int what = (unsigned int)hk_rng_below(&r, 10);

		if (x->p) {
			if (x->zero) {
				if (!hk_all_zero(x->p, x->n)) {
					w->notzero++;
					note(w, "calloc(%zu) block not zero "
					     "(op %zu)", x->n, (size_t)op);
				}
			} else if (!hk_check_sparse(x->p, x->n, x->seed)) {
				w->corrupt++;
				note(w, "block of %zu bytes corrupted (op %zu)",
				     x->n, (size_t)op);
			}
			if (what < 2) {
				/* realloc keeps the prefix */
				size_t n = stress_size(&r);
				unsigned char *q = hk_realloc(x->p, n);
				size_t keep = n < x->n ? n : x->n;

				if (!q) {
					w->nulls++;
					continue;
				}
				if (!x->zero) {
					/*
					 * sparse patterns: a block > 256 B
					 * only has its first 64 bytes fully
					 * patterned.
					 */
					size_t chk = x->n > 256 ?
						(keep < 64 ? keep : 64) : keep;

					if (hk_check(q, chk, x->seed) !=
					    HK_INTACT) {
						w->corrupt++;
						note(w, "realloc %zu -> %zu lost "
						     "data", x->n, n);
					}
				}
				x->p = q;
				x->n = n;
				x->zero = 0;
				x->seed = (uint32_t)hk_rng_next(&r);
				hk_fill_sparse(q, n, x->seed);
			} else {
				hk_free(x->p);
				x->p = NULL;
			}
			continue;
		}
		x->n = stress_size(&r);
		x->zero = 0;
		if (what == 0) {
			x->p = hk_calloc(1, x->n);
			x->zero = 1;
		} else if (what == 1) {
			void *q = NULL;
			size_t a = (size_t)16 << hk_rng_below(&r, 9);

			if (hk_posix_memalign(&q, a, x->n) == 0) {
				x->p = q;
				if (!hk_aligned(q, a)) {
					w->misaligned++;
					note(w, "posix_memalign(%zu, %zu) "
					     "misaligned", a, x->n);
				}
			}
		} else {
			x->p = hk_malloc(x->n);
		}
		if (!x->p) {
			w->nulls++;
			note(w, "allocation of %zu bytes failed (op %zu)", x->n,
			     (size_t)op);
			continue;
		}
		if (!hk_aligned(x->p, 16)) {
			w->misaligned++;
			note(w, "block of %zu bytes not 16-aligned (op %zu)",
			     x->n, (size_t)op);
		}
		if (!x->zero) {
			x->seed = (uint32_t)hk_rng_next(&r);
			hk_fill_sparse(x->p, x->n, x->seed);
		}
	}
	for (i = 0; i < NSLOTS; i++)
		hk_free(s[i].p);
	free(s);
	return NULL;
}

static void test_stress(void)
{
	struct worker w[NTHREADS];
	long nulls = 0, corrupt = 0, mis = 0, nz = 0;
	int i, started = 0;

	memset(w, 0, sizeof(w));
	for (i = 0; i < NTHREADS; i++) {
		w[i].id = i;
		if (pthread_create(&w[i].tid, NULL, stress, &w[i]) == 0)
			started++;
		else
			w[i].tid = 0;
	}
	for (i = 0; i < NTHREADS; i++) {
		if (w[i].tid)
			pthread_join(w[i].tid, NULL);
		nulls += w[i].nulls;
		corrupt += w[i].corrupt;
		mis += w[i].misaligned;
		nz += w[i].notzero;
		if (w[i].first_err[0])
			tap_diag("thread %d: %s", i, w[i].first_err);
	}
	tap_ok(started == NTHREADS, "started %d stress threads", NTHREADS);
	tap_ok(nulls == 0, "%d threads x %d random ops: no allocation failed "
	       "(%ld)", NTHREADS, NOPS, nulls);
	tap_ok(corrupt == 0 && nz == 0, "%d threads x %d random ops: patterns "
	       "intact, calloc zeroed (%ld corrupt, %ld not zero)", NTHREADS,
	       NOPS, corrupt, nz);
	tap_ok(mis == 0, "alignment held under concurrency (%ld bad)", mis);
}

/* ---- cross-thread handoff ------------------------------------------ */

#define QCAP 4096
#define NPROD 4
#define NCONS 4
#define PER_PROD 60000

struct item {
	unsigned char *p;
	size_t n;
	uint32_t seed;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	struct item buf[QCAP];
	size_t head, tail, count;
	int producers_left;
} q = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.not_empty = PTHREAD_COND_INITIALIZER,
	.not_full = PTHREAD_COND_INITIALIZER,
	.producers_left = NPROD,
};

static atomic_long x_nulls, x_corrupt, x_realloc_bad, x_consumed;

static void q_put(struct item it)
{
	pthread_mutex_lock(&q.lock);
	while (q.count == QCAP)
		pthread_cond_wait(&q.not_full, &q.lock);
	q.buf[q.tail] = it;
	q.tail = (q.tail + 1) % QCAP;
	q.count++;
	pthread_cond_signal(&q.not_empty);
	pthread_mutex_unlock(&q.lock);
}

/* returns 0 when all producers are done and the queue is empty */
static int q_get(struct item *it)
{
	pthread_mutex_lock(&q.lock);
	while (q.count == 0 && q.producers_left > 0)
		pthread_cond_wait(&q.not_empty, &q.lock);
	if (q.count == 0) {
		pthread_mutex_unlock(&q.lock);
		return 0;
	}
	*it = q.buf[q.head];
	q.head = (q.head + 1) % QCAP;
	q.count--;
	pthread_cond_signal(&q.not_full);
	pthread_mutex_unlock(&q.lock);
	return 1;
}

static void *producer(void *arg)
{
	struct hk_rng r;
	long i;

	hk_rng_seed(&r, (uint64_t)(uintptr_t)arg + 991);
	for (i = 0; i < PER_PROD; i++) {
		struct item it;

		it.n = stress_size(&r);
		it.p = hk_malloc(it.n);
		if (!it.p) {
			atomic_fetch_add(&x_nulls, 1);
			continue;
		}
		it.seed = (uint32_t)hk_rng_next(&r);
		hk_fill_sparse(it.p, it.n, it.seed);
		q_put(it);
	}
	pthread_mutex_lock(&q.lock);
	if (--q.producers_left == 0)
		pthread_cond_broadcast(&q.not_empty);
	pthread_mutex_unlock(&q.lock);
	return NULL;
}

static void *consumer(void *arg)
{
	struct item it;
	long k = 0;

	(void)arg;
	while (q_get(&it)) {
		if (!hk_check_sparse(it.p, it.n, it.seed))
			atomic_fetch_add(&x_corrupt, 1);
		if ((k++ & 3) == 0) {
			/* realloc a foreign block, then free it */
			size_t n = it.n * 2 + 1;
			unsigned char *p = hk_realloc(it.p, n);

			if (!p) {
				atomic_fetch_add(&x_nulls, 1);
				hk_free(it.p);
			} else {
				size_t keep = it.n < 64 ? it.n : 64;

				if (hk_check(p, keep, it.seed) != HK_INTACT)
					atomic_fetch_add(&x_realloc_bad, 1);
				hk_free(p);
			}
		} else {
			hk_free(it.p);
		}
		atomic_fetch_add(&x_consumed, 1);
	}
	return NULL;
}

static void test_cross(void)
{
	pthread_t pt[NPROD], ct[NCONS];
	int i;

	for (i = 0; i < NCONS; i++)
		pthread_create(&ct[i], NULL, consumer, NULL);
	for (i = 0; i < NPROD; i++)
		pthread_create(&pt[i], NULL, producer, (void *)(uintptr_t)i);
	for (i = 0; i < NPROD; i++)
		pthread_join(pt[i], NULL);
	for (i = 0; i < NCONS; i++)
		pthread_join(ct[i], NULL);

	tap_ok(atomic_load(&x_consumed) == (long)NPROD * PER_PROD &&
	       atomic_load(&x_nulls) == 0,
	       "cross-thread: %ld of %ld blocks allocated in one thread were "
	       "freed in another", atomic_load(&x_consumed),
	       (long)NPROD * PER_PROD);
	tap_ok(atomic_load(&x_corrupt) == 0,
	       "cross-thread: contents intact on arrival (%ld corrupt)",
	       atomic_load(&x_corrupt));
	tap_ok(atomic_load(&x_realloc_bad) == 0,
	       "cross-thread: realloc of a foreign block keeps contents "
	       "(%ld bad)", atomic_load(&x_realloc_bad));
}

/* ---- after the storm the heap must be reusable --------------------- */

static void test_after(void)
{
	int i, ok = 1;

	for (i = 0; i < 1000 && ok; i++) {
		size_t n = 1 + (size_t)i * 131;
		unsigned char *p = hk_malloc(n);

		if (!p) {
			ok = 0;
			break;
		}
		hk_fill(p, n, 1);
		ok = hk_check(p, n, 1) == HK_INTACT;
		hk_free(p);
	}
	tap_ok(ok, "main thread allocates fine after the thread tests");
}

int main(void)
{
	tap_watchdog(120);
	tap_init(9);
	tap_check_hakmem();

	test_stress();    /* 4 */
	test_cross();     /* 3 */
	test_after();     /* 1 */
	return tap_finish();
}
