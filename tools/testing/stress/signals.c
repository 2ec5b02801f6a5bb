// SPDX-License-Identifier: MIT
/*
 * signals: threads that allocate and free in tight loops while signals hit
 * them at a high rate.  Handlers never call the allocator (it is not
 * async-signal-safe): they only bump lock-free counters.
 *
 *  phase A  "deferred work": the handlers (SIGALRM from setitimer, SIGUSR1
 *           from a sender thread via pthread_kill) set a lock-free flag;
 *           the interrupted thread notices it between operations and does
 *           the work the signal asked for - allocating and freeing a batch.
 *  phase B1 plain handlers installed with SA_RESTART; two threads exchange
 *           blocks and allocate all size ranges while SIGUSR1, SIGUSR2 and
 *           SIGALRM keep interrupting them mid-call.
 *  phase B2 the same without SA_RESTART, so any system call the allocator
 *           makes that can be interrupted (futex waits, ...) sees EINTR and
 *           must cope with it.
 *
 * Every block is checked before it is freed or reallocated, and malloc must
 * never return NULL.
 *
 * Options (name=value): seconds (per phase), interval (timer microseconds),
 * scale (factor on seconds), seed, timeout.
 */
#include "stress.h"

#include <signal.h>
#include <sys/time.h>

#define NSLOTS 128

static atomic_long sig_alrm, sig_usr1, sig_usr2;
static atomic_int work_flag;
static atomic_int stop;
static atomic_long err_content, err_null;
static unsigned timer_us;
static uint64_t base_seed;

/* ------------------------------------------------------------- handlers */

static void count_sig(int sig)
{
	if (sig == SIGALRM)
		atomic_fetch_add_explicit(&sig_alrm, 1, memory_order_relaxed);
	else if (sig == SIGUSR1)
		atomic_fetch_add_explicit(&sig_usr1, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&sig_usr2, 1, memory_order_relaxed);
}

static void h_flag(int sig)
{
	int e = errno;

	count_sig(sig);
	atomic_store_explicit(&work_flag, 1, memory_order_relaxed);
	errno = e;
}

static void h_plain(int sig)
{
	int e = errno;

	count_sig(sig);
	errno = e;
}

static void install(int sig, void (*fn)(int), int restart)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = restart ? SA_RESTART : 0;
	if (sigaction(sig, &sa, NULL)) {
		printf("Bail out! sigaction: %s\n", strerror(errno));
		exit(1);
	}
}

static void set_timer(unsigned us)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_interval.tv_usec = us;
	it.it_value.tv_usec = us;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void unblock_test_signals(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGALRM);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
}

/* ----------------------------------------------------------- heap work */

struct blk {
	void *p;
	size_t n;
	uint64_t seed;
};

struct node {
	struct node *next;
	struct blk b;
};

struct worker {
	pthread_t tid;
	unsigned id;
	int receives_signals;
	int deferred;			/* phase A behaviour */
	struct worker *peer;		/* phase B: exchange partner */
	_Atomic(struct node *) inbox;
	struct blk slots[NSLOTS];
	struct st_rng rng;
	uint64_t seq;
	long ops, deferred_runs, sent, received;
};

static void check_blk(struct worker *w, const struct blk *b, const char *what)
{
	size_t bad = st_check(b->p, b->n, b->seed);

	if (bad) {
		atomic_fetch_add(&err_content, 1);
		st_error("worker %u: %s: block %p size %zu corrupt at %zu",
			 w->id, what, b->p, b->n, bad - 1);
	}
}

static int new_blk(struct worker *w, struct blk *b, size_t n)
{
	b->p = malloc(n);
	b->n = n;
	if (!b->p) {
		atomic_fetch_add(&err_null, 1);
		st_error("worker %u: malloc(%zu) returned NULL (errno %d)",
			 w->id, n, errno);
		return -1;
	}
	b->seed = st_seed(b->p, w->id, w->seq++);
	st_fill(b->p, n, b->seed);
	return 0;
}

/* The work a signal asks for in phase A: a batch of blocks. */
static void deferred_work(struct worker *w)
{
	struct blk b[16];
	unsigned i;

	for (i = 0; i < 16; i++)
		if (new_blk(w, &b[i], st_size_mix(&w->rng, 0)))
			b[i].p = NULL;
	for (i = 0; i < 16; i++) {
		if (!b[i].p)
			continue;
		check_blk(w, &b[i], "deferred batch");
		free(b[i].p);
	}
	w->deferred_runs++;
}

static void send_peer(struct worker *w, struct blk *b)
{
	struct node *m = malloc(sizeof(*m)), *h;

	if (!m) {
		atomic_fetch_add(&err_null, 1);
		free(b->p);
		b->p = NULL;
		return;
	}
	m->b = *b;
	b->p = NULL;
	h = atomic_load_explicit(&w->peer->inbox, memory_order_relaxed);
	do {
		m->next = h;
	} while (!atomic_compare_exchange_weak_explicit(&w->peer->inbox, &h, m,
			memory_order_release, memory_order_relaxed));
	w->sent++;
}

static void drain_inbox(struct worker *w)
{
	struct node *m = atomic_exchange_explicit(&w->inbox, NULL,
						  memory_order_acquire), *next;

	for (; m; m = next) {
		next = m->next;
		check_blk(w, &m->b, "received");
		free(m->b.p);
		free(m);
		w->received++;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned i;

	st_rng_seed(&w->rng, base_seed * 31 + w->id);
	if (w->receives_signals)
		unblock_test_signals();
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct blk *b = &w->slots[st_below(&w->rng, NSLOTS)];

		if (!b->p) {
			new_blk(w, b, st_size_mix(&w->rng, 1));
		} else {
			unsigned r = (unsigned)st_below(&w->rng, 10);

			check_blk(w, b, "before free/realloc");
			if (r < 2) {
				size_t nn = st_size_mix(&w->rng, 0);
				void *q = realloc(b->p, nn);

				if (!q) {
					atomic_fetch_add(&err_null, 1);
					st_error("worker %u: realloc NULL", w->id);
				} else {
					if (st_check_prefix(q, b->n, b->seed,
							    nn < b->n ? nn : b->n)) {
						atomic_fetch_add(&err_content, 1);
						st_error("worker %u: realloc lost content",
							 w->id);
					}
					b->p = q;
					b->n = nn;
					b->seed = st_seed(q, w->id, w->seq++);
					st_fill(q, nn, b->seed);
				}
			} else if (r < 5 && w->peer) {
				send_peer(w, b);
			} else {
				free(b->p);
				b->p = NULL;
			}
		}
		w->ops++;
		if (w->deferred &&
		    atomic_exchange_explicit(&work_flag, 0, memory_order_relaxed))
			deferred_work(w);
		if ((w->ops & 15) == 0)
			drain_inbox(w);
	}
	/* No more signals for this thread while it cleans up. */
	for (i = 0; i < NSLOTS; i++)
		if (w->slots[i].p) {
			check_blk(w, &w->slots[i], "final");
			free(w->slots[i].p);
			w->slots[i].p = NULL;
		}
	return NULL;
}

/* Sends signals to the workers with pthread_kill until told to stop. */
struct sender {
	pthread_t tid;
	struct worker **targets;
	unsigned ntargets;
	int use_usr2;
	long sent;
};

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	struct timespec ts = { 0, 20000 };
	unsigned k = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct worker *w = s->targets[k % s->ntargets];
		int sig = (s->use_usr2 && (k & 1)) ? SIGUSR2 : SIGUSR1;

		if (pthread_kill(w->tid, sig) == 0)
			s->sent++;
		k++;
		if ((k & 3) == 0)
			nanosleep(&ts, NULL);
	}
	return NULL;
}

/* --------------------------------------------------------------- phases */

struct phase_result {
	long alrm, usr1, usr2, ops, deferred, exchanged, content, null;
};

static void run_phase(const char *name, int deferred, int restart,
		      double seconds, struct phase_result *res)
{
	struct worker *w = calloc(2, sizeof(*w));
	struct worker *targets[2];
	struct sender s;
	unsigned i, nw;
	long c0 = err_content, n0 = err_null;

	if (!w) {
		printf("Bail out! calloc failed\n");
		exit(1);
	}
	atomic_store(&sig_alrm, 0);
	atomic_store(&sig_usr1, 0);
	atomic_store(&sig_usr2, 0);
	atomic_store(&work_flag, 0);
	atomic_store(&stop, 0);

	install(SIGALRM, deferred ? h_flag : h_plain, restart);
	install(SIGUSR1, deferred ? h_flag : h_plain, restart);
	install(SIGUSR2, h_plain, restart);

	/*
	 * Phase A: worker 0 takes the signals and does the deferred work,
	 * worker 1 allocates alongside with signals blocked.
	 * Phase B: both workers take signals and exchange blocks.
	 */
	nw = 2;
	for (i = 0; i < nw; i++) {
		w[i].id = i;
		w[i].receives_signals = deferred ? i == 0 : 1;
		w[i].deferred = deferred && i == 0;
		w[i].peer = deferred ? NULL : &w[1 - i];
	}
	for (i = 0; i < nw; i++)
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i])) {
			printf("Bail out! pthread_create failed\n");
			exit(1);
		}
	targets[0] = &w[0];
	targets[1] = &w[1];
	memset(&s, 0, sizeof(s));
	s.targets = targets;
	s.ntargets = deferred ? 1 : 2;
	s.use_usr2 = !deferred;
	if (pthread_create(&s.tid, NULL, sender_main, &s)) {
		printf("Bail out! pthread_create failed\n");
		exit(1);
	}
	set_timer(timer_us);

	usleep((useconds_t)(seconds * 1e6));

	set_timer(0);
	atomic_store(&stop, 1);
	pthread_join(s.tid, NULL);
	for (i = 0; i < nw; i++)
		pthread_join(w[i].tid, NULL);
	/* Blocks still in flight between the two workers. */
	for (i = 0; i < nw; i++)
		drain_inbox(&w[i]);

	memset(res, 0, sizeof(*res));
	res->alrm = sig_alrm;
	res->usr1 = sig_usr1;
	res->usr2 = sig_usr2;
	for (i = 0; i < nw; i++) {
		res->ops += w[i].ops;
		res->deferred += w[i].deferred_runs;
		res->exchanged += w[i].received;
	}
	res->content = err_content - c0;
	res->null = err_null - n0;
	tap_diag("%s: %ld ops, signals: SIGALRM %ld SIGUSR1 %ld SIGUSR2 %ld (sent %ld), deferred batches %ld, exchanged %ld",
		 name, res->ops, res->alrm, res->usr1, res->usr2, s.sent,
		 res->deferred, res->exchanged);
	free(w);
}

int main(int argc, char **argv)
{
	double o_seconds = 2, o_interval = 200, o_scale = 1, o_seed = 1;
	double o_timeout = 0;
	const struct st_opt opts[] = {
		{ "seconds", &o_seconds, "duration of each phase (before scale)" },
		{ "interval", &o_interval, "setitimer interval in microseconds" },
		{ "scale", &o_scale, "factor on seconds" },
		{ "seed", &o_seed, "PRNG seed" },
		{ "timeout", &o_timeout, "watchdog seconds (0: 3*duration+60)" },
		{ NULL, NULL, NULL }
	};
	struct phase_result a, b1, b2;
	double secs;
	sigset_t s;

	st_parse(argc, argv, opts);
	secs = o_seconds * o_scale;
	timer_us = o_interval < 1 ? 1 : (unsigned)o_interval;
	base_seed = (uint64_t)o_seed;
	if (o_timeout <= 0)
		o_timeout = 3 * secs + 60;

	/* Only the worker threads that opt in ever take the test signals. */
	sigemptyset(&s);
	sigaddset(&s, SIGALRM);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &s, NULL);

	tap_plan(6);
	st_print_opts(opts);
	st_watchdog((unsigned)o_timeout, "signals");
	if (!atomic_is_lock_free(&sig_alrm) || !atomic_is_lock_free(&work_flag))
		tap_diag("warning: atomics are not lock-free here");

	run_phase("A deferred", 1, 1, secs, &a);
	tap_ok(a.alrm + a.usr1 > 100 && a.deferred > 0,
	       "A: handlers set a flag, the thread did the deferred allocation work (%ld signals, %ld batches)",
	       a.alrm + a.usr1, a.deferred);
	tap_ok(!a.content && !a.null,
	       "A: heap intact (%ld corrupt, %ld NULL)", a.content, a.null);

	run_phase("B1 SA_RESTART", 0, 1, secs, &b1);
	tap_ok(b1.alrm + b1.usr1 + b1.usr2 > 100 && b1.exchanged > 0,
	       "B1 (SA_RESTART): tight malloc/free loops interrupted %ld times",
	       b1.alrm + b1.usr1 + b1.usr2);
	tap_ok(!b1.content && !b1.null,
	       "B1 (SA_RESTART): heap intact (%ld corrupt, %ld NULL)",
	       b1.content, b1.null);

	run_phase("B2 no SA_RESTART", 0, 0, secs, &b2);
	tap_ok(b2.alrm + b2.usr1 + b2.usr2 > 100 && b2.exchanged > 0,
	       "B2 (no SA_RESTART): tight malloc/free loops interrupted %ld times",
	       b2.alrm + b2.usr1 + b2.usr2);
	tap_ok(!b2.content && !b2.null,
	       "B2 (no SA_RESTART): heap intact (%ld corrupt, %ld NULL)",
	       b2.content, b2.null);
	tap_diag("peak RSS %ld KiB", st_rss_kib("VmHWM"));
	return tap_exit();
}
