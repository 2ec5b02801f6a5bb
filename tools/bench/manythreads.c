/* SPDX-License-Identifier: MIT */
/*
 * manythreads - many more threads than CPUs, each with its own working
 * set; every REMOTE-th block is freed by another thread.
 *
 * usage: manythreads [OPS [THREADS [WS [MINSZ [MAXSZ [REMOTE [SEED]]]]]]]
 *        defaults: 200000 64 256 16 512 16 1
 *
 * OPS is per thread.  Each step frees a random slot of the thread's
 * working set and refills it.  On every REMOTE-th step the old block is
 * not freed locally but pushed onto a shared inbox (a lock-free stack
 * threaded through the blocks themselves) that every thread empties as it
 * goes, so the block is freed by whichever thread runs next (almost always
 * another one).  A shared inbox rather than one per peer keeps the blocks
 * in flight few: with many more threads than CPUs a per-peer inbox fills
 * for as long as its owner waits for a CPU, and the live heap would grow
 * with the thread count.  Prints:
 *
 *   manythreads threads=N ws=N secs=S ops=N remote=N ops_per_sec=R
 */
#include "bench.h"
#include <pthread.h>
#include <stdatomic.h>

struct node {
	struct node *next;
};

struct worker {
	pthread_t tid;
	uint64_t seed;
	long index;
	long remote_sent;
	long remote_freed;
	char pad[64];
};

static const char *prog = "manythreads";
static long ops, nthreads, ws, minsz, maxsz, remote_every;
static struct worker *workers;
static _Atomic(struct node *) inbox;
static pthread_barrier_t start_line;

static void push_remote(void *p)
{
	struct node *n = p;
	struct node *head = atomic_load_explicit(&inbox, memory_order_relaxed);

	do {
		n->next = head;
	} while (!atomic_compare_exchange_weak_explicit(&inbox, &head, n,
							 memory_order_release,
							 memory_order_relaxed));
}

static long drain(void)
{
	struct node *n;
	long count = 0;

	if (!atomic_load_explicit(&inbox, memory_order_relaxed))
		return 0;
	n = atomic_exchange_explicit(&inbox, NULL, memory_order_acquire);
	while (n) {
		struct node *next = n->next;

		free(n);
		n = next;
		count++;
	}
	return count;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench_rng rng;
	struct bench_slot *slots;
	long i;

	bench_rng_init(&rng, w->seed);
	slots = malloc((size_t)ws * sizeof(*slots));
	if (!slots)
		bench_oom(prog, (size_t)ws * sizeof(*slots));
	bench_slots_fill(prog, &rng, slots, ws, minsz, maxsz);
	pthread_barrier_wait(&start_line);

	for (i = 1; i <= ops; i++) {
		struct bench_slot *s = &slots[bench_rng_below(&rng, (uint32_t)ws)];
		size_t sz = bench_rng_range(&rng, (size_t)minsz, (size_t)maxsz);

		bench_check(prog, s->p, s->size);
		if (i % remote_every == 0) {
			push_remote(s->p);
			w->remote_sent++;
		} else {
			free(s->p);
		}
		bench_slot_new(prog, s, sz);
		w->remote_freed += drain();
	}

	bench_slots_free(prog, slots, ws);
	free(slots);
	return NULL;
}

int main(int argc, char **argv)
{
	long seed, i, sent = 0, freed = 0;
	struct bench_rng rng;
	double t0, t1;

	ops = bench_arg(argc, argv, 1, 200000);
	nthreads = bench_arg(argc, argv, 2, 64);
	ws = bench_arg(argc, argv, 3, 256);
	minsz = bench_arg(argc, argv, 4, 16);
	maxsz = bench_arg(argc, argv, 5, 512);
	remote_every = bench_arg(argc, argv, 6, 16);
	seed = bench_arg(argc, argv, 7, 1);

	bench_verify_allocator(prog);
	if (nthreads < 1 || ws < 1 || minsz < 1 || maxsz < minsz || remote_every < 1) {
		fprintf(stderr, "%s: bad parameters\n", prog);
		return 1;
	}
	if (minsz < (long)sizeof(struct node))
		minsz = sizeof(struct node);
	if (maxsz < minsz)
		maxsz = minsz;
	bench_rng_init(&rng, (uint64_t)seed);
	workers = calloc((size_t)nthreads, sizeof(*workers));
	if (!workers)
		bench_oom(prog, (size_t)nthreads * sizeof(*workers));
	pthread_barrier_init(&start_line, NULL, (unsigned)nthreads + 1);
	for (i = 0; i < nthreads; i++) {
		workers[i].index = i;
		workers[i].seed = bench_rng_next(&rng);
		if (pthread_create(&workers[i].tid, NULL, worker_main, &workers[i])) {
			fprintf(stderr, "%s: FAIL: pthread_create\n", prog);
			return 1;
		}
	}
	pthread_barrier_wait(&start_line);
	t0 = bench_now();
	for (i = 0; i < nthreads; i++)
		pthread_join(workers[i].tid, NULL);
	t1 = bench_now();

	for (i = 0; i < nthreads; i++) {
		workers[i].remote_freed += drain();
		sent += workers[i].remote_sent;
		freed += workers[i].remote_freed;
	}
	if (sent != freed) {
		fprintf(stderr, "%s: FAIL: %ld blocks sent to other threads, %ld freed\n",
			prog, sent, freed);
		return 1;
	}
	pthread_barrier_destroy(&start_line);
	free(workers);
	printf("manythreads threads=%ld ws=%ld minsz=%ld maxsz=%ld secs=%.6f ops=%ld remote=%ld ops_per_sec=%.0f\n",
	       nthreads, ws, minsz, maxsz, t1 - t0, ops * nthreads, sent,
	       (double)(ops * nthreads) / (t1 - t0));
	return 0;
}
