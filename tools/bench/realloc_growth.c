/* SPDX-License-Identifier: MIT */
/*
 * realloc_growth - many buffers grown by realloc to several MiB.
 *
 * usage: realloc_growth [BUFFERS [MAXSIZE [ROUNDS [SEED]]]]
 *        defaults: 64 4194304 3 1
 *
 * In each round BUFFERS buffers start empty and are grown, in a random
 * interleaving, by random steps of up to a quarter of their current size
 * (at least 512 bytes), until each reaches MAXSIZE; the way a program
 * appends to many growing logs or strings.  New bytes get a sparse pattern
 * (one word per 4 KiB and the last word) which realloc must carry along;
 * it is checked after every realloc (first and last pattern word of the
 * old contents) and completely at the end of the round, before the buffers
 * are freed.  Prints:
 *
 *   realloc_growth buffers=N maxsize=N rounds=N reallocs=N ops=N secs=S
 *                  reallocs_per_sec=R
 */
#include "bench.h"

#define PAGE_WORDS 4096

struct buf {
	unsigned char *p;
	size_t size;
	uint64_t key;
};

static const char *prog = "realloc_growth";

static uint64_t word_at(const struct buf *b, size_t off)
{
	return b->key ^ ((uint64_t)off * 0xc2b2ae3d27d4eb4fULL);
}

static void put_word(struct buf *b, size_t off)
{
	uint64_t w = word_at(b, off);

	memcpy(b->p + off, &w, 8);
}

static void check_word(const struct buf *b, size_t off)
{
	uint64_t w;

	memcpy(&w, b->p + off, 8);
	if (w != word_at(b, off))
		bench_corrupt(prog, b->p, b->size, off);
}

/*
 * Last grid offset written for a buffer of 'size' (>= 16) bytes: grid
 * words sit every 4 KiB and stay clear of the last 8 bytes (the tail word).
 */
static size_t last_grid(size_t size)
{
	return ((size - 16) / PAGE_WORDS) * PAGE_WORDS;
}

int main(int argc, char **argv)
{
	long nbuf = bench_arg(argc, argv, 1, 64);
	long maxsize = bench_arg(argc, argv, 2, 4L << 20);
	long rounds = bench_arg(argc, argv, 3, 3);
	long seed = bench_arg(argc, argv, 4, 1);
	struct bench_rng rng;
	struct buf *bufs;
	long *active;
	long r, reallocs = 0;
	double t0, t1;

	bench_verify_allocator(prog);
	if (nbuf < 1 || maxsize < 4096 || rounds < 1) {
		fprintf(stderr, "%s: bad parameters\n", prog);
		return 1;
	}
	bench_rng_init(&rng, (uint64_t)seed);
	bufs = calloc((size_t)nbuf, sizeof(*bufs));
	active = calloc((size_t)nbuf, sizeof(*active));
	if (!bufs || !active)
		bench_oom(prog, (size_t)nbuf * sizeof(*bufs));

	t0 = bench_now();
	for (r = 0; r < rounds; r++) {
		long nactive = nbuf, i;

		for (i = 0; i < nbuf; i++) {
			bufs[i].p = NULL;
			bufs[i].size = 0;
			bufs[i].key = bench_rng_next(&rng);
			active[i] = i;
		}
		while (nactive > 0) {
			long ai = (long)bench_rng_below(&rng, (uint32_t)nactive);
			struct buf *b = &bufs[active[ai]];
			size_t old = b->size, limit, step, nsize, off;
			unsigned char *np;

			limit = old / 4 > 512 ? old / 4 : 512;
			step = 1 + bench_rng_below(&rng, (uint32_t)limit);
			nsize = old + step;
			if (nsize < 16)
				nsize = 16;
			if (nsize > (size_t)maxsize)
				nsize = (size_t)maxsize;
			np = realloc(b->p, nsize);
			if (!np)
				bench_oom(prog, nsize);
			reallocs++;
			b->p = np;
			b->size = nsize;
			if (old >= 16) {
				check_word(b, 0);
				check_word(b, last_grid(old));
				/* The old tail word, written below. */
				{
					uint64_t w;

					memcpy(&w, b->p + old - 8, 8);
					if (w != ~word_at(b, old - 8))
						bench_corrupt(prog, b->p, nsize, old - 8);
				}
			}
			/* Pattern for the new bytes: grid words and the tail. */
			off = old >= 16 ? last_grid(old) + PAGE_WORDS : 0;
			for (; off + 8 <= nsize - 8; off += PAGE_WORDS)
				put_word(b, off);
			{
				uint64_t w = ~word_at(b, nsize - 8);

				memcpy(b->p + nsize - 8, &w, 8);
			}
			if (nsize == (size_t)maxsize)
				active[ai] = active[--nactive];
		}
		for (i = 0; i < nbuf; i++) {
			struct buf *b = &bufs[i];
			size_t off;

			for (off = 0; off + 8 <= b->size - 8; off += PAGE_WORDS)
				check_word(b, off);
			free(b->p);
		}
	}
	t1 = bench_now();
	free(bufs);
	free(active);

	printf("realloc_growth buffers=%ld maxsize=%ld rounds=%ld reallocs=%ld ops=%ld secs=%.6f reallocs_per_sec=%.0f\n",
	       nbuf, maxsize, rounds, reallocs, reallocs, t1 - t0, (double)reallocs / (t1 - t0));
	return 0;
}
