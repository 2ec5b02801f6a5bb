// SPDX-License-Identifier: MIT
/*
 * forkstorm: worker threads allocate and free without pause while the main
 * thread forks repeatedly.  Each child checks and frees blocks it inherited
 * from the parent, allocates small, large and huge blocks of its own, starts
 * a thread that allocates (and frees blocks of the child's main thread),
 * sometimes forks a grandchild, and leaves with _exit() or - for every third
 * child - exit(), which runs an atexit handler that allocates.
 *
 * A child that hangs (e.g. on an allocator lock held by a thread that does
 * not exist in the child) is killed by its own alarm(); the parent reports
 * it.  The parent itself is guarded by a watchdog thread.
 *
 * Options (name=value): forks, workers, inflight (children alive at once),
 * scale (factor on forks), seed, child_timeout, timeout.
 */
#include "stress.h"

#include <signal.h>
#include <sys/wait.h>

#define NPARENT	48	/* blocks of the main thread inherited by children */
#define WSLOTS	64	/* live blocks per worker */

struct blk {
	void *p;
	size_t n;
	uint64_t seed;
};

static atomic_int stop_workers;
static atomic_long worker_ops, err_worker, err_parent;
static struct blk parent_blocks[NPARENT];
static unsigned child_index;	/* set in the child */
static atomic_long child_errors;	/* in the child only */

/* ------------------------------------------------------------- helpers */

static int alloc_fill(struct blk *b, size_t n, unsigned owner, uint64_t seq)
{
	b->p = malloc(n);
	b->n = n;
	if (!b->p)
		return -1;
	b->seed = st_seed(b->p, owner, seq);
	st_fill(b->p, n, b->seed);
	return 0;
}

static int blk_ok(const struct blk *b)
{
	return st_check(b->p, b->n, b->seed) == 0;
}

#define child_fail(fmt, ...)						\
	do {								\
		atomic_fetch_add(&child_errors, 1);			\
		st_error("child %u: " fmt, child_index, ##__VA_ARGS__);	\
	} while (0)

/* -------------------------------------------------------------- workers */

struct worker {
	pthread_t tid;
	unsigned id;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct blk slots[WSLOTS];
	struct st_rng rng;
	uint64_t seq = 0;
	long ops = 0;
	unsigned i;

	memset(slots, 0, sizeof(slots));
	st_rng_seed(&rng, 0x5eed0000 + w->id);
	while (!atomic_load_explicit(&stop_workers, memory_order_relaxed)) {
		struct blk *b = &slots[st_below(&rng, WSLOTS)];

		if (b->p) {
			if (!blk_ok(b)) {
				atomic_fetch_add(&err_worker, 1);
				st_error("worker %u: block %p size %zu corrupt",
					 w->id, b->p, b->n);
			}
			if (st_chance(&rng, 1, 4)) {
				size_t nn = st_size_mix(&rng, 0);
				void *q = realloc(b->p, nn);

				if (!q) {
					atomic_fetch_add(&err_worker, 1);
					st_error("worker %u: realloc NULL", w->id);
					free(b->p);
					b->p = NULL;
				} else {
					b->p = q;
					b->n = nn;
					b->seed = st_seed(q, w->id, seq++);
					st_fill(q, nn, b->seed);
				}
			} else {
				free(b->p);
				b->p = NULL;
			}
		} else if (alloc_fill(b, st_size_mix(&rng, 1), w->id, seq++)) {
			atomic_fetch_add(&err_worker, 1);
			st_error("worker %u: malloc NULL", w->id);
		}
		ops++;
		if ((ops & 255) == 0) {
			atomic_fetch_add_explicit(&worker_ops, 256,
						  memory_order_relaxed);
			/* Leave the CPUs to the children now and then. */
			usleep(200);
		}
	}
	for (i = 0; i < WSLOTS; i++)
		if (slots[i].p) {
			if (!blk_ok(&slots[i])) {
				atomic_fetch_add(&err_worker, 1);
				st_error("worker %u: block corrupt at end", w->id);
			}
			free(slots[i].p);
		}
	return NULL;
}

/* ---------------------------------------------------------------- child */

struct cthread_arg {
	struct blk *from_main;	/* blocks of the child's main thread */
	unsigned nfrom;
};

static void *child_thread(void *arg)
{
	struct cthread_arg *a = arg;
	struct blk local[64];
	struct st_rng rng;
	unsigned i, round;

	st_rng_seed(&rng, 0xc41d + child_index);
	for (i = 0; i < a->nfrom; i++) {
		if (!blk_ok(&a->from_main[i]))
			child_fail("thread: block from child main corrupt");
		free(a->from_main[i].p);
		a->from_main[i].p = NULL;
	}
	for (round = 0; round < 20; round++) {
		for (i = 0; i < 64; i++)
			if (alloc_fill(&local[i], st_size_mix(&rng, 0), 77, i))
				child_fail("thread: malloc NULL");
		for (i = 0; i < 64; i++) {
			if (!local[i].p)
				continue;
			if (!blk_ok(&local[i]))
				child_fail("thread: own block corrupt");
			free(local[i].p);
		}
	}
	return NULL;
}

static void atexit_handler(void)
{
	struct blk b[16];
	unsigned i;

	for (i = 0; i < 16; i++)
		if (alloc_fill(&b[i], 100 + i * 1000, 99, i)) {
			const char m[] = "# atexit: malloc NULL\n";
			ssize_t ign = write(1, m, sizeof(m) - 1);
			(void)ign;
			_exit(5);
		}
	for (i = 0; i < 16; i++) {
		if (!blk_ok(&b[i])) {
			const char m[] = "# atexit: block corrupt\n";
			ssize_t ign = write(1, m, sizeof(m) - 1);
			(void)ign;
			_exit(5);
		}
		free(b[i].p);
	}
}

static void grandchild(void)
{
	struct blk b[32];
	unsigned i;

	alarm(20);
	for (i = 0; i < 32; i++)
		if (alloc_fill(&b[i], 16 + i * 97, 55, i))
			_exit(2);
	for (i = 0; i < 32; i++) {
		if (!blk_ok(&b[i]))
			_exit(1);
		free(b[i].p);
	}
	_exit(0);
}

static void run_child(unsigned idx, unsigned timeout)
{
	static const size_t small_n = 2000, large_n = 16, huge_n = 2;
	struct blk *small, large[16], huge[2], to_thread[32];
	struct cthread_arg ta;
	struct st_rng rng;
	pthread_t t;
	unsigned i;
	int rc;

	child_index = idx;
	alarm(timeout);
	st_rng_seed(&rng, 0xf00d0000ULL + idx);

	/* Inherited blocks: check all, free every other, realloc a few. */
	for (i = 0; i < NPARENT; i++) {
		struct blk *b = &parent_blocks[i];

		if (!blk_ok(b))
			child_fail("inherited block %u (%p, %zu) corrupt", i,
				   b->p, b->n);
		if (i % 2 == 0) {
			free(b->p);
		} else if (i % 4 == 1) {
			void *q = realloc(b->p, b->n * 2 + 3);

			if (!q) {
				child_fail("realloc of inherited block NULL");
			} else {
				if (st_check_prefix(q, b->n, b->seed, b->n))
					child_fail("realloc of inherited block lost content");
				free(q);
			}
		}
	}

	small = malloc(small_n * sizeof(*small));
	if (!small) {
		child_fail("malloc of table NULL");
		_exit(2);
	}
	for (i = 0; i < small_n; i++)
		if (alloc_fill(&small[i], st_range(&rng, 8, 1024), 1, i))
			child_fail("small malloc NULL");
	for (i = 0; i < large_n; i++)
		if (alloc_fill(&large[i], st_range(&rng, 64 * KiB, 1 * MiB), 2, i))
			child_fail("large malloc NULL");
	for (i = 0; i < huge_n; i++)
		if (alloc_fill(&huge[i], st_range(&rng, 2 * MiB, 12 * MiB), 3, i))
			child_fail("huge malloc NULL");
	for (i = 0; i < 32; i++)
		if (alloc_fill(&to_thread[i], st_range(&rng, 16, 4096), 4, i))
			child_fail("malloc NULL");

	ta.from_main = to_thread;
	ta.nfrom = 32;
	rc = pthread_create(&t, NULL, child_thread, &ta);
	if (rc) {
		child_fail("pthread_create: %s", strerror(rc));
		for (i = 0; i < 32; i++)
			free(to_thread[i].p);
	}

	/* Free small blocks in a shuffled order while the thread runs. */
	for (i = small_n - 1; i > 0; i--) {
		unsigned j = (unsigned)st_below(&rng, i + 1);
		struct blk tmp = small[i];

		small[i] = small[j];
		small[j] = tmp;
	}
	for (i = 0; i < small_n; i++) {
		if (!small[i].p)
			continue;
		if (!blk_ok(&small[i]))
			child_fail("small block %p size %zu corrupt", small[i].p,
				   small[i].n);
		free(small[i].p);
	}
	for (i = 0; i < large_n; i++) {
		if (large[i].p && !blk_ok(&large[i]))
			child_fail("large block %zu corrupt", large[i].n);
		free(large[i].p);
	}
	for (i = 0; i < huge_n; i++) {
		if (huge[i].p && !blk_ok(&huge[i]))
			child_fail("huge block %zu corrupt", huge[i].n);
		free(huge[i].p);
	}
	free(small);
	if (!rc)
		pthread_join(t, NULL);

	if (idx % 10 == 5) {
		pid_t g = fork();
		int st;

		if (g == 0)
			grandchild();
		if (g < 0)
			child_fail("fork of grandchild: %s", strerror(errno));
		else if (waitpid(g, &st, 0) != g || !WIFEXITED(st) ||
			 WEXITSTATUS(st))
			child_fail("grandchild failed (status 0x%x)", st);
	}

	if (idx % 3 == 0)
		exit(child_errors ? 1 : 0);	/* runs atexit_handler */
	_exit(child_errors ? 1 : 0);
}

/* --------------------------------------------------------------- parent */

static void refresh_parent_blocks(struct st_rng *rng, uint64_t *seq)
{
	unsigned i, k;

	/* Replace a few blocks so children see a changing heap. */
	for (k = 0; k < 4; k++) {
		struct blk *b = &parent_blocks[st_below(rng, NPARENT)];
		size_t n;

		if (b->p) {
			if (!blk_ok(b)) {
				atomic_fetch_add(&err_parent, 1);
				st_error("parent block %p size %zu corrupt",
					 b->p, b->n);
			}
			free(b->p);
		}
		i = (unsigned)(b - parent_blocks);
		n = i == 0 ? 3 * MiB : i == 1 ? 300 * KiB : st_size_mix(rng, 0);
		if (alloc_fill(b, n, 9, (*seq)++)) {
			atomic_fetch_add(&err_parent, 1);
			st_error("parent malloc NULL");
		}
	}
}

int main(int argc, char **argv)
{
	double o_forks = 200, o_workers = 3, o_inflight = 2, o_scale = 1;
	double o_seed = 1, o_ctimeout = 30, o_timeout = 0;
	const struct st_opt opts[] = {
		{ "forks", &o_forks, "number of fork() calls (before scale)" },
		{ "workers", &o_workers, "allocating threads in the parent" },
		{ "inflight", &o_inflight, "children alive at once" },
		{ "scale", &o_scale, "factor on forks" },
		{ "seed", &o_seed, "PRNG seed" },
		{ "child_timeout", &o_ctimeout, "alarm() seconds in each child" },
		{ "timeout", &o_timeout, "watchdog seconds (0: 120*scale+60)" },
		{ NULL, NULL, NULL }
	};
	struct worker *w;
	struct st_rng rng;
	uint64_t seq = 0;
	unsigned nforks, nworkers, inflight, i, head = 0;
	unsigned fork_fail = 0, ok_children = 0, hung = 0, crashed = 0, bad = 0;
	pid_t *pids;
	long ops_before;
	double t0;

	st_parse(argc, argv, opts);
	nforks = (unsigned)(o_forks * o_scale);
	nworkers = (unsigned)o_workers;
	inflight = o_inflight < 1 ? 1 : (unsigned)o_inflight;
	if (o_timeout <= 0)
		o_timeout = 120 * o_scale + 60;

	tap_plan(6);
	st_print_opts(opts);
	st_watchdog((unsigned)o_timeout, "forkstorm");
	atexit(atexit_handler);
	st_rng_seed(&rng, (uint64_t)o_seed);

	for (i = 0; i < NPARENT; i++) {
		size_t n = i == 0 ? 3 * MiB : i == 1 ? 300 * KiB :
			   st_size_mix(&rng, 0);

		if (alloc_fill(&parent_blocks[i], n, 9, seq++)) {
			printf("Bail out! initial malloc failed\n");
			return 1;
		}
	}

	w = calloc(nworkers ? nworkers : 1, sizeof(*w));
	pids = calloc(inflight, sizeof(*pids));
	if (!w || !pids) {
		printf("Bail out! calloc failed\n");
		return 1;
	}
	for (i = 0; i < nworkers; i++) {
		w[i].id = i;
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i])) {
			printf("Bail out! pthread_create failed\n");
			return 1;
		}
	}
	/* Let the workers get going before the first fork. */
	usleep(20000);
	ops_before = atomic_load(&worker_ops);
	t0 = st_now();

	for (i = 0; i < nforks + inflight; i++) {
		pid_t pid;
		int st;

		/* Reap the oldest child once the window is full. */
		if (pids[head] > 0) {
			pid_t r = waitpid(pids[head], &st, 0);

			if (r != pids[head]) {
				bad++;
				tap_diag("waitpid: %s", strerror(errno));
			} else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
				ok_children++;
			} else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
				hung++;
				tap_diag("child pid %d hung (killed by its alarm)",
					 (int)pids[head]);
			} else if (WIFSIGNALED(st)) {
				crashed++;
				tap_diag("child pid %d killed by signal %d (%s)",
					 (int)pids[head], WTERMSIG(st),
					 strsignal(WTERMSIG(st)));
			} else {
				bad++;
				tap_diag("child pid %d exited with status %d",
					 (int)pids[head], WEXITSTATUS(st));
			}
			pids[head] = 0;
		}
		if (i >= nforks) {
			head = (head + 1) % inflight;
			continue;
		}
		refresh_parent_blocks(&rng, &seq);
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid == 0)
			run_child(i, (unsigned)o_ctimeout);
		if (pid < 0) {
			fork_fail++;
			tap_diag("fork %u: %s", i, strerror(errno));
		}
		pids[head] = pid;
		head = (head + 1) % inflight;
	}

	atomic_store(&stop_workers, 1);
	for (i = 0; i < nworkers; i++)
		pthread_join(w[i].tid, NULL);

	for (i = 0; i < NPARENT; i++) {
		if (!blk_ok(&parent_blocks[i])) {
			atomic_fetch_add(&err_parent, 1);
			st_error("parent block %u corrupt after the storm", i);
		}
		free(parent_blocks[i].p);
	}

	tap_ok(fork_fail == 0, "all %u forks succeeded (%u failed)", nforks,
	       fork_fail);
	tap_ok(ok_children == nforks - fork_fail,
	       "every child checked its memory and exited 0 (%u of %u; %u crashed, %u bad status)",
	       ok_children, nforks - fork_fail, crashed, bad);
	tap_ok(hung == 0, "no child deadlocked (%u hung)", hung);
	tap_ok(!err_worker, "worker threads' blocks intact (%ld errors)",
	       (long)err_worker);
	tap_ok(!err_parent, "parent's own blocks intact after the children freed their copies (%ld errors)",
	       (long)err_parent);
	tap_ok(nworkers == 0 || atomic_load(&worker_ops) > ops_before,
	       "workers kept allocating during the storm (%ld ops)",
	       (long)(atomic_load(&worker_ops) - ops_before));
	tap_diag("%u forks in %.2f s with %u workers", nforks, st_now() - t0,
		 nworkers);
	tap_diag("peak RSS %ld KiB", st_rss_kib("VmHWM"));
	free(w);
	free(pids);
	return tap_exit();
}
