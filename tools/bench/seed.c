/* SPDX-License-Identifier: MIT */
/*
 * seed - the seed workload of the hakmem comparison benchmark.
 *
 * usage: seed [OPS [WS [SEED [MINSZ [MAXSZ]]]]]
 *        defaults: 20000000 400 1 16 1024
 *
 * A working set of WS blocks is filled; then, OPS times, a random slot is
 * freed (after its pattern is verified) and refilled with a new block of
 * MINSZ..MAXSZ bytes.  Only the OPS loop is timed.  Prints:
 *
 *   seed ops=N ws=N minsz=N maxsz=N seed=N secs=S ops_per_sec=R
 *        [loop_syscalls=N syscalls_per_op=R]
 *
 * The last two only under hakmem: the system calls the allocator made
 * during the timed loop (from hakmem_stats_get()), start-up left out.
 */
#include "bench.h"

int main(int argc, char **argv)
{
	const char *prog = "seed";
	long ops = bench_arg(argc, argv, 1, 20000000);
	long ws = bench_arg(argc, argv, 2, 400);
	long seed = bench_arg(argc, argv, 3, 1);
	long minsz = bench_arg(argc, argv, 4, 16);
	long maxsz = bench_arg(argc, argv, 5, 1024);
	struct bench_rng rng;
	struct bench_slot *slots;
	double t0, t1;
	long i, sys0, sys1;

	bench_verify_allocator(prog);
	if (ws < 1 || minsz < 1 || maxsz < minsz) {
		fprintf(stderr, "%s: need WS >= 1 and 1 <= MINSZ <= MAXSZ\n", prog);
		return 1;
	}
	bench_rng_init(&rng, (uint64_t)seed);
	slots = calloc((size_t)ws, sizeof(*slots));
	if (!slots)
		bench_oom(prog, (size_t)ws * sizeof(*slots));

	bench_slots_fill(prog, &rng, slots, ws, minsz, maxsz);

	sys0 = bench_alloc_syscalls();
	t0 = bench_now();
	for (i = 0; i < ops; i++) {
		struct bench_slot *s = &slots[bench_rng_below(&rng, (uint32_t)ws)];
		size_t sz = bench_rng_range(&rng, (size_t)minsz, (size_t)maxsz);

		bench_check(prog, s->p, s->size);
		free(s->p);
		bench_slot_new(prog, s, sz);
	}
	t1 = bench_now();
	sys1 = bench_alloc_syscalls();

	bench_slots_free(prog, slots, ws);
	free(slots);

	printf("seed ops=%ld ws=%ld minsz=%ld maxsz=%ld seed=%ld secs=%.6f ops_per_sec=%.0f",
	       ops, ws, minsz, maxsz, seed, t1 - t0,
	       (t1 - t0) > 0 ? (double)ops / (t1 - t0) : 0.0);
	if (sys0 >= 0 && sys1 >= sys0)
		printf(" loop_syscalls=%ld syscalls_per_op=%.3g", sys1 - sys0,
		       ops ? (double)(sys1 - sys0) / (double)ops : 0.0);
	printf("\n");
	return 0;
}
