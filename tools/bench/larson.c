/* SPDX-License-Identifier: MIT */
/*
 * larson - server-style workload in the manner of the classic larson test.
 *
 * usage: larson [SECS [THREADS [BLOCKS [MINSZ [MAXSZ [ROUND [SEED]]]]]]]
 *        defaults: 4 4 1000 16 512 10000 1
 *
 * Each thread owns an array of BLOCKS blocks.  It replaces ROUND random
 * blocks (verify, free, malloc MINSZ..MAXSZ, fill), then hands its whole
 * array to the next thread through a one-place mailbox and takes the array
 * found there; so most blocks are freed by a thread other than the one
 * that allocated them, as in a server whose requests move between
 * workers.  Runs for SECS seconds.  Prints:
 *
 *   larson threads=N secs=S ops=N ops_per_sec=R
 */
#include "bench.h"
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

struct set {
	struct bench_slot *slots;
};

static const char *prog = "larson";
static long nblocks, minsz, maxsz, round_ops;
static _Atomic(struct set *) mailbox;
static atomic_int stop;

struct worker {
	pthread_t tid;
	uint64_t seed;
	struct set *mine;
	long ops;
};

static struct set *new_set(struct bench_rng *rng)
{
	struct set *s = malloc(sizeof(*s));

	if (!s)
		bench_oom(prog, sizeof(*s));
	s->slots = malloc((size_t)nblocks * sizeof(*s->slots));
	if (!s->slots)
		bench_oom(prog, (size_t)nblocks * sizeof(*s->slots));
	bench_slots_fill(prog, rng, s->slots, nblocks, minsz, maxsz);
	return s;
}

static void free_set(struct set *s)
{
	bench_slots_free(prog, s->slots, nblocks);
	free(s->slots);
	free(s);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench_rng rng;
	struct set *cur = w->mine;
	long ops = 0;

	bench_rng_init(&rng, w->seed);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		long i;

		for (i = 0; i < round_ops; i++) {
			struct bench_slot *s = &cur->slots[bench_rng_below(&rng, (uint32_t)nblocks)];
			size_t sz = bench_rng_range(&rng, (size_t)minsz, (size_t)maxsz);

			bench_check(prog, s->p, s->size);
			free(s->p);
			bench_slot_new(prog, s, sz);
		}
		ops += round_ops;
		/* Hand this array over and continue with whatever was waiting. */
		cur = atomic_exchange(&mailbox, cur);
	}
	w->mine = cur;
	w->ops = ops;
	return NULL;
}

int main(int argc, char **argv)
{
	double secs = bench_argf(argc, argv, 1, 4.0);
	long threads = bench_arg(argc, argv, 2, 4);
	long seed, i, total = 0;
	struct worker *ws;
	struct bench_rng rng;
	double t0, t1;

	nblocks = bench_arg(argc, argv, 3, 1000);
	minsz = bench_arg(argc, argv, 4, 16);
	maxsz = bench_arg(argc, argv, 5, 512);
	round_ops = bench_arg(argc, argv, 6, 10000);
	seed = bench_arg(argc, argv, 7, 1);

	bench_verify_allocator(prog);
	if (threads < 1 || nblocks < 1 || minsz < 1 || maxsz < minsz || round_ops < 1) {
		fprintf(stderr, "%s: bad parameters\n", prog);
		return 1;
	}
	bench_rng_init(&rng, (uint64_t)seed);
	ws = calloc((size_t)threads, sizeof(*ws));
	if (!ws)
		bench_oom(prog, (size_t)threads * sizeof(*ws));
	atomic_store(&mailbox, new_set(&rng));
	for (i = 0; i < threads; i++) {
		ws[i].seed = bench_rng_next(&rng);
		ws[i].mine = new_set(&rng);
	}

	t0 = bench_now();
	for (i = 0; i < threads; i++) {
		if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i])) {
			fprintf(stderr, "%s: FAIL: pthread_create\n", prog);
			return 1;
		}
	}
	usleep((useconds_t)(secs * 1e6));
	atomic_store(&stop, 1);
	for (i = 0; i < threads; i++) {
		pthread_join(ws[i].tid, NULL);
		total += ws[i].ops;
	}
	t1 = bench_now();

	for (i = 0; i < threads; i++)
		free_set(ws[i].mine);
	free_set(atomic_load(&mailbox));
	free(ws);

	printf("larson threads=%ld blocks=%ld minsz=%ld maxsz=%ld secs=%.6f ops=%ld ops_per_sec=%.0f\n",
	       threads, nblocks, minsz, maxsz, t1 - t0, total,
	       (double)total / (t1 - t0));
	return 0;
}
