/* SPDX-License-Identifier: MIT */
/*
 * freeheap - does the heap give memory back after a program frees it?
 *
 * usage: freeheap [MB [MINSZ [MAXSZ [SAMPLE_MS [SEED]]]]]
 *        defaults: 1024 16 256 1000 1
 *
 * Allocates small blocks of MINSZ..MAXSZ bytes until MB MiB are asked for,
 * frees them all in random order, then samples the resident set every
 * 10 ms for SAMPLE_MS ms while doing nothing else.  The block table lives
 * outside the heap (mmap) and is unmapped before the sampling, so what
 * stays resident above the starting point is the allocator's.  Prints:
 *
 *   freeheap mb=N objects=N alloc_secs=S free_secs=S rss_base_kb=N
 *            rss_peak_kb=N rss_freed_kb=N rss_end_kb=N excess_mb=R fall_ms=N
 *
 * rss_freed_kb is the RSS right after the last free, rss_end_kb after
 * SAMPLE_MS; excess_mb = (rss_end - rss_base) / 1024: the live heap is
 * empty, so that is what the allocator keeps.  fall_ms is when the RSS
 * first came within 8 MiB of rss_base (-1: never within SAMPLE_MS).
 */
#include "bench.h"
#include <sys/mman.h>
#include <unistd.h>

#define FALL_SLACK_KIB	(8L << 10)

int main(int argc, char **argv)
{
	const char *prog = "freeheap";
	long mb = bench_arg(argc, argv, 1, 1024);
	long minsz = bench_arg(argc, argv, 2, 16);
	long maxsz = bench_arg(argc, argv, 3, 256);
	long sample_ms = bench_arg(argc, argv, 4, 1000);
	long seed = bench_arg(argc, argv, 5, 1);
	size_t want, total = 0, cap, n = 0;
	struct bench_rng rng;
	long base, peak, freed, end = 0, fall = -1;
	double t0, t1, t2, ts;
	void **tab;

	bench_verify_allocator(prog);
	if (mb < 1 || minsz < 16 || maxsz < minsz) {
		fprintf(stderr, "%s: need MB >= 1 and 16 <= MINSZ <= MAXSZ\n", prog);
		return 1;
	}
	bench_rng_init(&rng, (uint64_t)seed);
	want = (size_t)mb << 20;
	cap = want / (size_t)minsz + 1;
	tab = mmap(NULL, cap * sizeof(void *), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (tab == MAP_FAILED) {
		perror("freeheap: mmap");
		return 1;
	}
	free(malloc(64));		/* the allocator's start-up is part of the base */
	base = bench_rss_kib();

	t0 = bench_now();
	while (total < want) {
		size_t sz = bench_rng_range(&rng, (size_t)minsz, (size_t)maxsz);
		char *p = malloc(sz);

		if (!p)
			bench_oom(prog, sz);
		p[0] = (char)sz;	/* touch the first and last byte */
		p[sz - 1] = (char)n;
		tab[n++] = p;
		total += sz;
	}
	t1 = bench_now();
	peak = bench_rss_kib();
	for (size_t i = n - 1; i > 0; i--) {	/* Fisher-Yates */
		size_t j = bench_rng_next(&rng) % (i + 1);
		void *t = tab[i];

		tab[i] = tab[j];
		tab[j] = t;
	}
	t2 = bench_now();
	for (size_t i = 0; i < n; i++)
		free(tab[i]);
	ts = bench_now();
	munmap(tab, cap * sizeof(void *));
	freed = bench_rss_kib();

	for (long ms = 0; ms <= sample_ms; ms += 10) {
		end = bench_rss_kib();
		if (fall < 0 && end - base <= FALL_SLACK_KIB)
			fall = (long)((bench_now() - ts) * 1000);
		if (ms + 10 <= sample_ms)
			usleep(10000);
	}
	printf("freeheap mb=%ld objects=%zu alloc_secs=%.6f free_secs=%.6f rss_base_kb=%ld "
	       "rss_peak_kb=%ld rss_freed_kb=%ld rss_end_kb=%ld excess_mb=%.1f fall_ms=%ld\n",
	       mb, n, t1 - t0, ts - t2, base, peak, freed, end,
	       (double)(end - base) / 1024.0, fall);
	return 0;
}
