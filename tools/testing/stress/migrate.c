// SPDX-License-Identifier: MIT
/*
 * migrate: the per-CPU caches under preemption, migration and signals.
 *
 * Many more threads than CPUs allocate, fill, check and free small blocks
 * (and hand every 16th to another thread through a lock-free exchange),
 * while
 *   - a controller thread keeps moving them between CPUs with
 *     sched_setaffinity (single CPUs and the whole set, at random), and
 *   - a process-wide timer keeps sending SIGUSR1, which the kernel gives
 *     to a running worker (only they leave it unblocked), so handlers run
 *     in the middle of whatever that worker was doing; the handler
 *     allocates, fills, checks and frees a block itself, and
 *   - a trimmer thread keeps calling malloc_trim(0), which closes the
 *     per-CPU caches under the running workers, empties them and opens
 *     them again.
 * Every block is checked before it is freed; two owners of one block, a
 * block handed out twice, or a cache left inconsistent by an interrupted
 * push or pop show up as a pattern mismatch.
 *
 * The handler's blocks are 48 bytes and the workers never use that size
 * class; the main thread keeps every other one of 20000 such blocks live,
 * so the handler's class never needs a new slab and never frees one.  That
 * makes the handler's allocations legitimate here: whatever lock the
 * interrupted thread holds (its cache, a central list of another class, a
 * node), the handler does not need it.  Interrupting a cache operation
 * itself is what is under test: in rseq mode it aborts the section, in the
 * fallback the handler finds the cache locked and goes elsewhere.
 *
 * Options (name=value): threads, seconds, slots, sigus (microseconds
 * between signals), affus (microseconds between affinity changes), trimus
 * (microseconds between malloc_trim calls; 0: none), widen (1: started
 * under taskset, the workers are moved to every online CPU), scale, seed,
 * timeout.
 */
#include "stress.h"

#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>

#define HANDLER_SIZE	48
#define NPIN		20000
#define NEXCHANGE	64

struct worker {
	pthread_t	tid;
	atomic_int	ktid;		/* kernel thread id, for sched_setaffinity */
	unsigned	id;
	struct st_rng	rng;
	long		ops;
	long		handed;
	unsigned long	cpus_seen;	/* bit per CPU (mod 64) seen by sched_getcpu */
};

static struct worker *wk;
static unsigned nthreads, nslots;
static atomic_int stop;
static _Atomic(void *) exchange[NEXCHANGE];
static atomic_long err_content, err_null, err_handler;
static atomic_long handler_runs, affinity_changes, exchanged, trims;
static uint64_t base_seed;

static size_t worker_size(struct st_rng *r)
{
	size_t n = st_chance(r, 1, 32) ? st_range(r, 1025, 32768) : st_range(r, 1, 1024);

	/* The handler's size class (33..48 bytes) is reserved for it. */
	if (n > 32 && n <= HANDLER_SIZE)
		n = 64;
	return n;
}

/* Exchanged blocks carry their size in the first word and a pattern after. */
static void fill_shared(void *p, size_t n)
{
	memcpy(p, &n, sizeof(n));
	st_fill((char *)p + 8, n - 8, st_seed(p, 0, n));
}

static int check_shared(void *p)
{
	size_t n;

	memcpy(&n, p, sizeof(n));
	if (n < 16 || n > 32768)
		return 1;
	return st_check((char *)p + 8, n - 8, st_seed(p, 0, n)) != 0;
}

static void on_usr1(int sig)
{
	int saved = errno;
	void *p = malloc(HANDLER_SIZE);

	(void)sig;
	atomic_fetch_add_explicit(&handler_runs, 1, memory_order_relaxed);
	if (!p) {
		atomic_fetch_add(&err_handler, 1);
	} else {
		st_fill(p, HANDLER_SIZE, st_seed(p, 0xffff, 1));
		if (st_check(p, HANDLER_SIZE, st_seed(p, 0xffff, 1)))
			atomic_fetch_add(&err_handler, 1);
		free(p);
	}
	errno = saved;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	void **slot = calloc(nslots, sizeof(void *));
	size_t *size = calloc(nslots, sizeof(size_t));
	uint64_t *seq = calloc(nslots, sizeof(uint64_t));
	uint64_t n = 0;

	atomic_store(&w->ktid, (int)syscall(SYS_gettid));
	if (!slot || !size || !seq) {
		atomic_fetch_add(&err_null, 1);
		return NULL;
	}
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		unsigned i = (unsigned)st_below(&w->rng, nslots);
		int cpu = sched_getcpu();

		if (cpu >= 0)
			w->cpus_seen |= 1UL << (cpu % 64);
		if (slot[i]) {
			if (st_check(slot[i], size[i], st_seed(slot[i], w->id, seq[i]))) {
				st_error("worker %u: block %p (%zu bytes) corrupted", w->id,
					 slot[i], size[i]);
				atomic_fetch_add(&err_content, 1);
			}
			free(slot[i]);
			slot[i] = NULL;
		}
		size[i] = worker_size(&w->rng);
		if ((++n & 15) == 0 && size[i] >= 16) {
			/* Hand a block to whichever thread takes it next. */
			void *p = malloc(size[i]), *old;

			if (!p) {
				atomic_fetch_add(&err_null, 1);
				continue;
			}
			fill_shared(p, size[i]);
			old = atomic_exchange(&exchange[st_below(&w->rng, NEXCHANGE)], p);
			w->handed++;
			if (old) {
				if (check_shared(old)) {
					st_error("worker %u: exchanged block %p corrupted", w->id, old);
					atomic_fetch_add(&err_content, 1);
				}
				free(old);
				atomic_fetch_add_explicit(&exchanged, 1, memory_order_relaxed);
			}
			continue;
		}
		slot[i] = malloc(size[i]);
		if (!slot[i]) {
			atomic_fetch_add(&err_null, 1);
			continue;
		}
		seq[i] = n;
		st_fill(slot[i], size[i], st_seed(slot[i], w->id, seq[i]));
		w->ops++;
	}
	for (unsigned i = 0; i < nslots; i++) {
		if (slot[i] && st_check(slot[i], size[i], st_seed(slot[i], w->id, seq[i])))
			atomic_fetch_add(&err_content, 1);
		free(slot[i]);
	}
	free(slot);
	free(size);
	free(seq);
	return NULL;
}

static int widen;

static void *mover_main(void *arg)
{
	unsigned us = *(unsigned *)arg;
	cpu_set_t allowed;
	int cpus[CPU_SETSIZE], ncpu = 0;
	struct st_rng r;

	st_rng_seed(&r, base_seed ^ 0xa0a0);
	sched_getaffinity(0, sizeof(allowed), &allowed);
	if (widen) {
		/* Started under taskset: move the workers to every online CPU. */
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		CPU_ZERO(&allowed);
		for (long c = 0; c < n && c < CPU_SETSIZE; c++)
			CPU_SET(c, &allowed);
	}
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &allowed))
			cpus[ncpu++] = c;
	while (!atomic_load(&stop)) {
		struct worker *w = &wk[st_below(&r, nthreads)];
		int tid = atomic_load(&w->ktid);
		cpu_set_t set;

		if (tid) {
			if (st_chance(&r, 1, 4)) {
				set = allowed;
			} else {
				CPU_ZERO(&set);
				CPU_SET(cpus[st_below(&r, (uint64_t)ncpu)], &set);
			}
			if (sched_setaffinity(tid, sizeof(set), &set) == 0)
				atomic_fetch_add_explicit(&affinity_changes, 1, memory_order_relaxed);
		}
		usleep(us);
	}
	return NULL;
}

static void *trimmer_main(void *arg)
{
	unsigned us = *(unsigned *)arg;

	while (!atomic_load(&stop)) {
		malloc_trim(0);
		atomic_fetch_add_explicit(&trims, 1, memory_order_relaxed);
		usleep(us);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	double o_threads = 32, o_seconds = 3, o_slots = 128, o_sigus = 20, o_affus = 200;
	double o_trimus = 2000;
	double o_scale = 1, o_seed = 1, o_timeout = 0, o_widen = 0;
	const struct st_opt opts[] = {
		{ "threads", &o_threads, "worker threads (default: 16 per CPU, at least 32)" },
		{ "seconds", &o_seconds, "run time (before scale)" },
		{ "slots", &o_slots, "live blocks per worker" },
		{ "sigus", &o_sigus, "microseconds between timer signals" },
		{ "affus", &o_affus, "microseconds between affinity changes" },
		{ "trimus", &o_trimus, "microseconds between malloc_trim(0) calls (0: none)" },
		{ "widen", &o_widen, "1: move workers to every online CPU, not only the start mask" },
		{ "scale", &o_scale, "factor on seconds" },
		{ "seed", &o_seed, "PRNG seed" },
		{ "timeout", &o_timeout, "watchdog seconds (0: 60 + 4 * run time)" },
		{ NULL, NULL, NULL }
	};
	static void *pin[NPIN];
	struct sigaction sa;
	pthread_t mover, trimmer;
	struct sigevent sev;
	struct itimerspec its;
	timer_t timer;
	sigset_t usr1;
	unsigned sigus, affus, trimus, multi_cpu = 0;
	long ops = 0, handed = 0;
	cpu_set_t allowed;

	st_parse(argc, argv, opts);
	widen = o_widen != 0;
	sched_getaffinity(0, sizeof(allowed), &allowed);
	if (o_threads < 32)
		o_threads = 32;
	if (o_threads < 16 * CPU_COUNT(&allowed))
		o_threads = 16 * CPU_COUNT(&allowed);
	nthreads = (unsigned)o_threads;
	nslots = (unsigned)o_slots;
	sigus = (unsigned)o_sigus;
	affus = (unsigned)o_affus;
	trimus = (unsigned)o_trimus;
	base_seed = (uint64_t)o_seed;
	if (o_timeout <= 0)
		o_timeout = 60 + 4 * o_seconds * o_scale;

	tap_plan(7);
	st_print_opts(opts);
	st_watchdog((unsigned)o_timeout, "migrate");

	/* Keep the handler's class populated and its slabs never empty. */
	for (unsigned i = 0; i < NPIN; i++)
		pin[i] = malloc(HANDLER_SIZE);
	for (unsigned i = 0; i < NPIN; i += 2) {
		free(pin[i]);
		pin[i] = NULL;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);

	wk = calloc(nthreads, sizeof(*wk));
	if (!wk) {
		printf("Bail out! cannot allocate the thread table\n");
		return 1;
	}
	for (unsigned i = 0; i < nthreads; i++) {
		wk[i].id = i;
		st_rng_seed(&wk[i].rng, base_seed * 1000003 + i);
		if (pthread_create(&wk[i].tid, NULL, worker_main, &wk[i])) {
			printf("Bail out! pthread_create failed\n");
			return 1;
		}
	}
	/* Only the workers (created above) take SIGUSR1 from here on. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	pthread_create(&mover, NULL, mover_main, &affus);
	if (trimus)
		pthread_create(&trimmer, NULL, trimmer_main, &trimus);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer)) {
		printf("Bail out! timer_create: %s\n", strerror(errno));
		return 1;
	}
	its.it_interval.tv_sec = 0;
	its.it_interval.tv_nsec = (long)sigus * 1000;
	its.it_value = its.it_interval;
	timer_settime(timer, 0, &its, NULL);
	usleep((useconds_t)(o_seconds * o_scale * 1e6));
	timer_delete(timer);
	atomic_store(&stop, 1);
	pthread_join(mover, NULL);
	if (trimus)
		pthread_join(trimmer, NULL);
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(wk[i].tid, NULL);
		ops += wk[i].ops;
		handed += wk[i].handed;
		if (__builtin_popcountl(wk[i].cpus_seen) > 1)
			multi_cpu++;
	}
	for (unsigned i = 0; i < NEXCHANGE; i++) {
		void *p = atomic_exchange(&exchange[i], NULL);

		if (p && check_shared(p))
			atomic_fetch_add(&err_content, 1);
		free(p);
	}
	for (unsigned i = 0; i < NPIN; i++)
		free(pin[i]);

	tap_ok(ops > 0 && atomic_load(&err_content) == 0,
		   "%u threads on %d CPUs: %ld blocks checked, none corrupted", nthreads,
		   CPU_COUNT(&allowed), ops);
	tap_ok(atomic_load(&err_null) == 0, "malloc never returned NULL (%ld times)",
		   atomic_load(&err_null));
	tap_ok(atomic_load(&exchanged) > 0, "%ld blocks freed by another thread, intact",
		   atomic_load(&exchanged));
	tap_ok(atomic_load(&handler_runs) > 0 && atomic_load(&err_handler) == 0,
		   "signal handlers allocated %ld blocks, all intact",
		   atomic_load(&handler_runs));
	tap_ok(atomic_load(&affinity_changes) > 0,
		   "%ld affinity changes while allocating", atomic_load(&affinity_changes));
	tap_ok(!trimus || atomic_load(&trims) > 0,
	       "%ld malloc_trim(0) calls while allocating", atomic_load(&trims));
	if (widen) {
		CPU_ZERO(&allowed);
		for (long c = 0; c < sysconf(_SC_NPROCESSORS_ONLN) && c < CPU_SETSIZE; c++)
			CPU_SET(c, &allowed);
	}
	tap_ok(CPU_COUNT(&allowed) < 2 || multi_cpu > nthreads / 2,
		   "%u of %u workers ran on more than one CPU", multi_cpu, nthreads);
	tap_diag("%ld blocks handed over", handed);
	return tap_exit();
}
