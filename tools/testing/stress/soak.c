// SPDX-License-Identifier: MIT
/*
 * soak - a long-running mixed workload: does the heap stay flat?
 *
 * Threads keep working sets of blocks of every kind (small, medium, large,
 * the odd huge one), replace random slots, grow and shrink some with
 * realloc and pass some to each other through a shared exchange, so frees
 * also come from other threads.  After a warm-up (warmup seconds, and at
 * least WARM_ROUNDS replacements per slot) the run is cut into ten
 * tenths; in each the resident set is sampled every 20 ms and the
 * operations are counted.  Reported:
 *
 *   drift  median RSS of the last tenth over that of the first, minus 1
 *   CV     coefficient of variation of the throughput over the tenths
 *
 * The test fails when the drift is 1 % or more (the heap grows while the
 * live data does not), or when a block's content is found corrupted.  The
 * CV is reported, not judged (timing is never asserted in tests).
 *
 *   soak [secs=3] [threads=2] [ws=100000] [warmup=2] [seed=1] [timeout=0]
 *
 * The test suite runs the short default; secs=300 is a five-minute soak.
 */
#include "stress.h"
#include <math.h>
#include "hakmem.h"

#define EXCHANGE	64
#define TENTHS		10
#define SAMPLE_MS	20
#define WARM_ROUNDS	20

struct block {
	unsigned char	*p;
	size_t		n;
	uint64_t	seed;
};

static unsigned nthreads, ws;
static atomic_long ops_total;
static atomic_int stop;
static pthread_mutex_t xlock = PTHREAD_MUTEX_INITIALIZER;
static struct block exchange[EXCHANGE];

/*
 * Mostly small, some medium, a few large: each slot keeps its kind (95 %,
 * 4.9 % and 0.1 % of the slots) and draws a new size within it at every
 * replacement, so the live data is stationary - with kinds drawn afresh,
 * the count of large blocks alone wandered by a megabyte, and the heap's
 * high-water mark with it.  Huge blocks (above 1 MiB) are only transient
 * (see worker()).
 */
static size_t soak_size(struct st_rng *r, unsigned slot)
{
	unsigned k = slot % 1000;

	if (k < 950)
		return st_range(r, 16, 1024);
	if (k < 999)
		return st_range(r, 1025, 16 * KiB);
	return st_range(r, 16 * KiB + 1, 128 * KiB);
}

static void check_free(struct block *b)
{
	size_t bad;

	if (!b->p)
		return;
	bad = st_check(b->p, b->n, b->seed);
	if (bad)
		st_error("block %p (%zu bytes) corrupted at %zu", (void *)b->p, b->n, bad - 1);
	free(b->p);
	b->p = NULL;
}

static void fill(struct block *b, struct st_rng *r, size_t n)
{
	b->p = malloc(n);
	if (!b->p) {
		st_error("malloc(%zu) failed", n);
		return;
	}
	b->n = n;
	b->seed = st_rand(r);
	st_fill(b->p, n, b->seed);
}

static void *worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	struct block *set = calloc(ws, sizeof(*set));
	struct st_rng r;
	long done = 0;

	st_rng_seed(&r, 0x50a4 + id);
	for (unsigned i = 0; i < ws; i++)
		fill(&set[i], &r, soak_size(&r, i));
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int k = 0; k < 256; k++) {
			unsigned slot = (unsigned)st_below(&r, ws);
			struct block *b = &set[slot];
			unsigned what = (unsigned)st_below(&r, 100);

			if (what < 8 && b->p) {
				/* realloc to a size of the same kind, content kept */
				size_t n = soak_size(&r, slot);
				size_t keep = n < b->n ? n : b->n;
				unsigned char *q;

				if (st_check(b->p, b->n, b->seed))
					st_error("block %p corrupted before realloc", (void *)b->p);
				q = realloc(b->p, n);
				if (!q) {
					st_error("realloc(%zu) failed", n);
					continue;
				}
				if (st_check_prefix(q, b->n, b->seed, keep))
					st_error("realloc %p -> %p lost content", (void *)b->p, (void *)q);
				b->p = q;
				b->n = n;
				st_fill(q, n, b->seed);
			} else if (what == 8 && !st_below(&r, 500)) {
				struct block h;

				fill(&h, &r, st_range(&r, 1 * MiB + 1, 2 * MiB));
				check_free(&h);
			} else if (what < 10) {
				/*
				 * Trade with another thread: its block is freed here.
				 * Only blocks of the same kind are traded (the exchange
				 * has a slot per kind), which keeps the mix stationary.
				 */
				struct block mine = *b, *x;

				x = &exchange[(slot % 1000 < 950 ? 0 : slot % 1000 < 999 ? 1 : 2) +
					      3 * st_below(&r, EXCHANGE / 3)];
				pthread_mutex_lock(&xlock);
				*b = *x;
				*x = mine;
				pthread_mutex_unlock(&xlock);
				if (!b->p)
					fill(b, &r, soak_size(&r, slot));
			} else {
				check_free(b);
				fill(b, &r, soak_size(&r, slot));
			}
		}
		done += 256;
		atomic_fetch_add_explicit(&ops_total, 256, memory_order_relaxed);
	}
	for (unsigned i = 0; i < ws; i++)
		check_free(&set[i]);
	free(set);
	return (void *)done;
}

/* Under hakmem: where the memory is, from hakmem_stats_get(). */
static void heap_diag(void)
{
	int (*get)(struct hakmem_stats *, size_t);
	struct hakmem_stats st;
	uint64_t live = 0;

	*(void **)&get = dlsym(RTLD_DEFAULT, "hakmem_stats_get");
	if (!get || get(&st, sizeof(st)) < (int)sizeof(st))
		return;
	for (unsigned c = 0; c < st.nr_classes; c++)
		live += st.cls[c].live * st.cls[c].size;
	tap_diag("  heap: %lu superslabs, committed %lu KiB, small live %lu KiB, large %lu KiB, "
		 "central free %lu KiB, per-CPU %lu KiB, dirty %lu KiB",
		 (unsigned long)st.ss_live, (unsigned long)st.committed_bytes >> 10,
		 (unsigned long)live >> 10, (unsigned long)st.large_bytes >> 10,
		 (unsigned long)st.central_bytes >> 10, (unsigned long)st.pcpu_bytes >> 10,
		 (unsigned long)st.dirty_bytes >> 10);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double mean(const double *v, int n)
{
	double s = 0;

	for (int i = 0; i < n; i++)
		s += v[i];
	return s / n;
}

int main(int argc, char **argv)
{
	double o_secs = 3, o_threads = 2, o_ws = 100000, o_warm = 2, o_seed = 1, o_timeout = 0;
	const struct st_opt opts[] = {
		{ "secs", &o_secs, "measured seconds (ten tenths)" },
		{ "threads", &o_threads, "worker threads" },
		{ "ws", &o_ws, "blocks per thread" },
		{ "warmup", &o_warm, "seconds of warm-up before the first tenth" },
		{ "seed", &o_seed, "PRNG seed" },
		{ "timeout", &o_timeout, "watchdog seconds (0: 2*secs+120)" },
		{ NULL, NULL, NULL }
	};
	double rss[TENTHS], rate[TENTHS], tenth, drift, cv = 0, m;
	pthread_t *tid;
	long last_ops;

	st_parse(argc, argv, opts);
	nthreads = o_threads < 1 ? 1 : (unsigned)o_threads;
	ws = o_ws < 16 ? 16 : (unsigned)o_ws;
	(void)o_seed;
	if (o_timeout <= 0)
		o_timeout = 2 * o_secs + 120;
	tap_plan(3);
	st_print_opts(opts);
	st_print_malloc_origin();
	st_watchdog((unsigned)o_timeout, "soak");

	tid = calloc(nthreads, sizeof(*tid));
	for (unsigned i = 0; i < nthreads; i++)
		if (pthread_create(&tid[i], NULL, worker, (void *)(uintptr_t)i))
			st_error("pthread_create failed");
	/*
	 * Warm up for a time and for an amount of work (every slot replaced
	 * WARM_ROUNDS times), whichever is longer: on a loaded machine a fixed
	 * time may leave the heap still growing into its working set.
	 */
	{
		double t0 = st_now();

		while (st_now() - t0 < o_warm ||
		       atomic_load(&ops_total) < (long)WARM_ROUNDS * ws * nthreads)
			usleep(10000);
	}

	tenth = o_secs / TENTHS;
	last_ops = atomic_load(&ops_total);
	for (int t = 0; t < TENTHS; t++) {
		double t0 = st_now(), samples[4096];
		int n = 0;
		long now_ops;

		while (st_now() - t0 < tenth || !n) {
			usleep(SAMPLE_MS * 1000);
			if (n < 4096)
				samples[n++] = (double)st_rss_kib("VmRSS");
		}
		now_ops = atomic_load(&ops_total);
		/* The median: a block of a few MiB that happens to be live at one
		 * sample should not move the figure of a whole tenth. */
		qsort(samples, (size_t)n, sizeof(double), cmp_double);
		rss[t] = samples[n / 2];
		rate[t] = (double)(now_ops - last_ops) / (st_now() - t0);
		last_ops = now_ops;
		tap_diag("tenth %d: RSS %.0f KiB (%d samples), %.0f ops/s", t + 1, rss[t], n, rate[t]);
		heap_diag();
	}
	atomic_store(&stop, 1);
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	for (int i = 0; i < EXCHANGE; i++)
		check_free(&exchange[i]);

	m = mean(rate, TENTHS);
	for (int t = 0; t < TENTHS; t++)
		cv += (rate[t] - m) * (rate[t] - m);
	cv = m > 0 ? sqrt(cv / TENTHS) / m : 0;
	drift = rss[0] > 0 ? rss[TENTHS - 1] / rss[0] - 1 : 1;
	tap_diag("soak: %u threads, %u blocks each, %.1f s: RSS drift %+.3f %%, "
		 "throughput %.0f ops/s, CV %.3f %%", nthreads, ws, o_secs, drift * 100, m, cv * 100);
	printf("soak drift_pct=%.3f cv_pct=%.3f ops_per_sec=%.0f rss_first_kb=%.0f rss_last_kb=%.0f\n",
	       drift * 100, cv * 100, m, rss[0], rss[TENTHS - 1]);
	tap_ok(atomic_load(&st_errors) == 0, "no corrupted block, no failed allocation (%ld errors)",
	       (long)atomic_load(&st_errors));
	tap_ok(drift < 0.01, "RSS drift between the first and last tenth under 1 %% (%+.3f %%)",
	       drift * 100);
	tap_ok(m > 0, "work was done in every tenth (CV of the throughput %.3f %%)", cv * 100);
	free(tid);
	return tap_exit();
}
