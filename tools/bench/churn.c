/* SPDX-License-Identifier: MIT */
/*
 * churn - thousands of short-lived threads that allocate.
 *
 * usage: churn [THREADS [CONCURRENT [ALLOCS [MINSZ [MAXSZ [KEEP [SEED]]]]]]]
 *        defaults: 3000 4 1000 16 2048 16 1
 *
 * THREADS threads are started in waves of CONCURRENT.  Each does ALLOCS
 * allocations over a small working set of 64 blocks, frees what it holds
 * except KEEP blocks, which it hands back to the main thread; the main
 * thread verifies and frees those after the thread has exited, so the
 * allocator must cope with blocks whose owning thread is gone.  Prints:
 *
 *   churn threads=N concurrent=N allocs=N ops=N secs=S threads_per_sec=R ops_per_sec=R
 */
#include "bench.h"
#include <pthread.h>

#define CHURN_WS 64

struct job {
	pthread_t tid;
	uint64_t seed;
	void *kept_p[CHURN_WS];
	size_t kept_size[CHURN_WS];
	int kept;
};

static const char *prog = "churn";
static long allocs, minsz, maxsz, keep;

static void *thread_main(void *arg)
{
	struct job *j = arg;
	struct bench_rng rng;
	void *p[CHURN_WS];
	size_t size[CHURN_WS];
	long i;

	bench_rng_init(&rng, j->seed);
	memset(p, 0, sizeof(p));
	for (i = 0; i < allocs; i++) {
		unsigned s = bench_rng_below(&rng, CHURN_WS);
		size_t sz = bench_rng_range(&rng, (size_t)minsz, (size_t)maxsz);

		if (p[s]) {
			bench_check(prog, p[s], size[s]);
			free(p[s]);
		}
		p[s] = malloc(sz);
		if (!p[s])
			bench_oom(prog, sz);
		bench_fill(prog, p[s], sz);
		size[s] = sz;
	}
	j->kept = 0;
	for (i = 0; i < CHURN_WS; i++) {
		if (!p[i])
			continue;
		if (j->kept < keep) {
			j->kept_p[j->kept] = p[i];
			j->kept_size[j->kept] = size[i];
			j->kept++;
		} else {
			bench_check(prog, p[i], size[i]);
			free(p[i]);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long threads = bench_arg(argc, argv, 1, 3000);
	long conc = bench_arg(argc, argv, 2, 4);
	long seed, done = 0, i;
	struct bench_rng rng;
	struct job *jobs;
	double t0, t1;

	allocs = bench_arg(argc, argv, 3, 1000);
	minsz = bench_arg(argc, argv, 4, 16);
	maxsz = bench_arg(argc, argv, 5, 2048);
	keep = bench_arg(argc, argv, 6, 16);
	seed = bench_arg(argc, argv, 7, 1);

	bench_verify_allocator(prog);
	if (threads < 1 || conc < 1 || minsz < 1 || maxsz < minsz || keep > CHURN_WS) {
		fprintf(stderr, "%s: bad parameters\n", prog);
		return 1;
	}
	bench_rng_init(&rng, (uint64_t)seed);
	jobs = calloc((size_t)conc, sizeof(*jobs));
	if (!jobs)
		bench_oom(prog, (size_t)conc * sizeof(*jobs));

	t0 = bench_now();
	while (done < threads) {
		long wave = threads - done < conc ? threads - done : conc;

		for (i = 0; i < wave; i++) {
			jobs[i].seed = bench_rng_next(&rng);
			if (pthread_create(&jobs[i].tid, NULL, thread_main, &jobs[i])) {
				fprintf(stderr, "%s: FAIL: pthread_create\n", prog);
				return 1;
			}
		}
		for (i = 0; i < wave; i++) {
			int k;

			pthread_join(jobs[i].tid, NULL);
			for (k = 0; k < jobs[i].kept; k++) {
				bench_check(prog, jobs[i].kept_p[k], jobs[i].kept_size[k]);
				free(jobs[i].kept_p[k]);
			}
		}
		done += wave;
	}
	t1 = bench_now();
	free(jobs);

	printf("churn threads=%ld concurrent=%ld allocs=%ld ops=%ld secs=%.6f threads_per_sec=%.0f ops_per_sec=%.0f\n",
	       threads, conc, allocs, threads * allocs, t1 - t0, (double)threads / (t1 - t0),
	       (double)(threads * allocs) / (t1 - t0));
	return 0;
}
