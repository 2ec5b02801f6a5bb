/* SPDX-License-Identifier: MIT */
/*
 * prodcons - producer/consumer workload: one set of threads allocates,
 * another set frees.
 *
 * usage: prodcons [BLOCKS [PRODUCERS [CONSUMERS [MINSZ [MAXSZ [BATCH [SEED]]]]]]]
 *        defaults: 4000000 2 2 16 512 256 1
 *
 * Producers allocate and fill blocks in batches of BATCH and queue each
 * batch (a bounded queue of 64 batches under a mutex); consumers take
 * batches, verify every block and free it.  Every block is therefore freed
 * by a thread that did not allocate it.  BLOCKS is the total over all
 * producers.  Prints:
 *
 *   prodcons blocks=N producers=N consumers=N secs=S ops=N ops_per_sec=R
 */
#include "bench.h"
#include <pthread.h>

#define QCAP 64

struct batch {
	int n;
	void **p;
	size_t *size;
};

static const char *prog = "prodcons";
static long minsz, maxsz, batch_len;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static struct batch *queue[QCAP];
static int qhead, qcount, producers_left;

struct producer {
	pthread_t tid;
	uint64_t seed;
	long blocks;
};

static void put(struct batch *b)
{
	pthread_mutex_lock(&lock);
	while (qcount == QCAP)
		pthread_cond_wait(&not_full, &lock);
	queue[(qhead + qcount) % QCAP] = b;
	qcount++;
	pthread_cond_signal(&not_empty);
	pthread_mutex_unlock(&lock);
}

/* Returns NULL once all producers are done and the queue is empty. */
static struct batch *take(void)
{
	struct batch *b = NULL;

	pthread_mutex_lock(&lock);
	while (qcount == 0 && producers_left > 0)
		pthread_cond_wait(&not_empty, &lock);
	if (qcount > 0) {
		b = queue[qhead];
		qhead = (qhead + 1) % QCAP;
		qcount--;
		pthread_cond_signal(&not_full);
	}
	pthread_mutex_unlock(&lock);
	return b;
}

static void *producer_main(void *arg)
{
	struct producer *pr = arg;
	struct bench_rng rng;
	long left = pr->blocks;

	bench_rng_init(&rng, pr->seed);
	while (left > 0) {
		int n = left < batch_len ? (int)left : (int)batch_len;
		struct batch *b = malloc(sizeof(*b));
		int i;

		if (!b)
			bench_oom(prog, sizeof(*b));
		b->n = n;
		b->p = malloc((size_t)n * sizeof(void *));
		b->size = malloc((size_t)n * sizeof(size_t));
		if (!b->p || !b->size)
			bench_oom(prog, (size_t)n * sizeof(void *));
		for (i = 0; i < n; i++) {
			size_t sz = bench_rng_range(&rng, (size_t)minsz, (size_t)maxsz);
			void *p = malloc(sz);

			if (!p)
				bench_oom(prog, sz);
			bench_fill(prog, p, sz);
			b->p[i] = p;
			b->size[i] = sz;
		}
		put(b);
		left -= n;
	}
	pthread_mutex_lock(&lock);
	producers_left--;
	pthread_cond_broadcast(&not_empty);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *consumer_main(void *arg)
{
	long *count = arg;
	struct batch *b;

	while ((b = take()) != NULL) {
		int i;

		for (i = 0; i < b->n; i++) {
			bench_check(prog, b->p[i], b->size[i]);
			free(b->p[i]);
		}
		*count += b->n;
		free(b->p);
		free(b->size);
		free(b);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long blocks = bench_arg(argc, argv, 1, 4000000);
	long np = bench_arg(argc, argv, 2, 2);
	long nc = bench_arg(argc, argv, 3, 2);
	long seed, i, freed = 0;
	struct producer *prs;
	pthread_t *cons;
	long *counts;
	struct bench_rng rng;
	double t0, t1;

	minsz = bench_arg(argc, argv, 4, 16);
	maxsz = bench_arg(argc, argv, 5, 512);
	batch_len = bench_arg(argc, argv, 6, 256);
	seed = bench_arg(argc, argv, 7, 1);

	bench_verify_allocator(prog);
	if (np < 1 || nc < 1 || minsz < 1 || maxsz < minsz || batch_len < 1) {
		fprintf(stderr, "%s: bad parameters\n", prog);
		return 1;
	}
	bench_rng_init(&rng, (uint64_t)seed);
	prs = calloc((size_t)np, sizeof(*prs));
	cons = calloc((size_t)nc, sizeof(*cons));
	counts = calloc((size_t)nc, sizeof(*counts));
	if (!prs || !cons || !counts)
		bench_oom(prog, 0);
	producers_left = (int)np;

	t0 = bench_now();
	for (i = 0; i < nc; i++)
		if (pthread_create(&cons[i], NULL, consumer_main, &counts[i]))
			goto thread_fail;
	for (i = 0; i < np; i++) {
		prs[i].seed = bench_rng_next(&rng);
		prs[i].blocks = blocks / np + (i < blocks % np ? 1 : 0);
		if (pthread_create(&prs[i].tid, NULL, producer_main, &prs[i]))
			goto thread_fail;
	}
	for (i = 0; i < np; i++)
		pthread_join(prs[i].tid, NULL);
	for (i = 0; i < nc; i++) {
		pthread_join(cons[i], NULL);
		freed += counts[i];
	}
	t1 = bench_now();

	if (freed != blocks) {
		fprintf(stderr, "%s: FAIL: %ld blocks produced but %ld freed\n",
			prog, blocks, freed);
		return 1;
	}
	free(prs);
	free(cons);
	free(counts);
	printf("prodcons blocks=%ld producers=%ld consumers=%ld secs=%.6f ops=%ld ops_per_sec=%.0f\n",
	       blocks, np, nc, t1 - t0, blocks, (double)blocks / (t1 - t0));
	return 0;

thread_fail:
	fprintf(stderr, "%s: FAIL: pthread_create\n", prog);
	return 1;
}
