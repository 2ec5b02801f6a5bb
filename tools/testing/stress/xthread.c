// SPDX-License-Identifier: MIT
/*
 * xthread: many threads (default 48, far more than CPUs) allocating blocks
 * of random sizes, filling each with a pattern derived from its address,
 * owner and sequence number, and freeing them either locally or in another
 * thread.  Blocks travel through per-thread mailboxes: half of them are
 * mutex protected lists, half lock-free stacks.  The receiver checks the
 * content, then frees the block or reallocs it and keeps it.  Every free and
 * realloc is preceded by a content check.
 *
 * Options (name=value): threads, ops (per thread), slots (live blocks per
 * thread), huge (per mille of 1..8 MiB allocations), scale (factor on ops),
 * seed, timeout (watchdog seconds).
 */
#include "stress.h"

#include <sched.h>

struct msg {
	struct msg *next;
	void *p;
	size_t n;
	uint64_t seed;
	unsigned from;
	uint64_t check;
};

struct mailbox {
	int lockfree;
	_Atomic(struct msg *) head;	/* lock-free: Treiber stack */
	pthread_mutex_t lock;		/* locked: plain list */
	struct msg *list;
	atomic_long pending;
};

struct slot {
	void *p;
	size_t n;
	uint64_t seed;
};

struct thr {
	pthread_t tid;
	unsigned id;
	struct st_rng rng;
	struct slot *slots;
	uint64_t seq;
	/* counters */
	long nmalloc, ncalloc, nmemalign, nrealloc_null, nrealloc;
	long nfree, nsent, nrecv, nremote_realloc, nmsg_alloc, nmsg_free;
	long nbytes;
};

static unsigned nthreads, nslots, huge_permille;
static long ops_per_thread;
static struct thr *thr;
static struct mailbox *boxes;
static atomic_uint finished;

static atomic_long err_null, err_align, err_zero, err_content, err_msg, err_usable;
static size_t (*usable_size)(void *);	/* malloc_usable_size, if any */

#define MAX_PENDING 2048

static uint64_t msg_check(const struct msg *m)
{
	return st_mix64((uintptr_t)m->p ^ st_mix64(m->n) ^ m->seed ^
			((uint64_t)m->from << 40));
}

static void verify(struct thr *t, const void *p, size_t n, uint64_t seed,
		   const char *what)
{
	size_t bad = st_check(p, n, seed);

	if (bad) {
		atomic_fetch_add(&err_content, 1);
		st_error("thread %u: %s: block %p size %zu corrupt at offset %zu",
			 t->id, what, p, n, bad - 1);
	}
}

static void check_new(struct thr *t, void *p, size_t n, size_t align,
		      const char *what)
{
	if (!p) {
		atomic_fetch_add(&err_null, 1);
		st_error("thread %u: %s(%zu) returned NULL", t->id, what, n);
		return;
	}
	if (!st_aligned(p, align)) {
		atomic_fetch_add(&err_align, 1);
		st_error("thread %u: %s(%zu) = %p not aligned to %zu", t->id,
			 what, n, p, align);
	}
	if (usable_size && usable_size(p) < n) {
		atomic_fetch_add(&err_usable, 1);
		st_error("thread %u: %s(%zu) = %p: malloc_usable_size %zu too small",
			 t->id, what, n, p, usable_size(p));
	}
}

static void *alloc_block(struct thr *t, size_t n)
{
	unsigned k = (unsigned)st_below(&t->rng, 100);
	void *p = NULL;
	size_t bad;

	if (k < 72) {
		p = malloc(n);
		t->nmalloc++;
		check_new(t, p, n, st_min_align(n), "malloc");
	} else if (k < 88) {
		p = calloc(1, n);
		t->ncalloc++;
		check_new(t, p, n, st_min_align(n), "calloc");
		if (p && (bad = st_check_zero(p, n))) {
			atomic_fetch_add(&err_zero, 1);
			st_error("thread %u: calloc(%zu) = %p not zero at %zu",
				 t->id, n, p, bad - 1);
		}
	} else if (k < 96) {
		size_t a = (size_t)1 << st_range(&t->rng, 4, 12);
		int rc = posix_memalign(&p, a, n);

		t->nmemalign++;
		if (rc)
			p = NULL;
		check_new(t, p, n, a, "posix_memalign");
	} else {
		p = realloc(NULL, n);
		t->nrealloc_null++;
		check_new(t, p, n, st_min_align(n), "realloc(NULL)");
	}
	if (p)
		t->nbytes += (long)n;
	return p;
}

static void free_block(struct thr *t, void *p)
{
	free(p);
	t->nfree++;
}

/* realloc a block we own to a new size; checks and refills it. */
static void realloc_slot(struct thr *t, struct slot *s, size_t nn, int remote)
{
	void *q;
	size_t bad;

	q = realloc(s->p, nn);
	t->nrealloc++;
	if (remote)
		t->nremote_realloc++;
	if (!q) {
		atomic_fetch_add(&err_null, 1);
		st_error("thread %u: realloc(%p, %zu) returned NULL", t->id,
			 s->p, nn);
		free_block(t, s->p);
		s->p = NULL;
		return;
	}
	check_new(t, q, nn, st_min_align(nn), "realloc");
	bad = st_check_prefix(q, s->n, s->seed, nn < s->n ? nn : s->n);
	if (bad) {
		atomic_fetch_add(&err_content, 1);
		st_error("thread %u: realloc %p(%zu) -> %p(%zu) lost content at offset %zu",
			 t->id, s->p, s->n, q, nn, bad - 1);
	}
	s->p = q;
	s->n = nn;
	s->seed = st_seed(q, t->id, t->seq++);
	st_fill(q, nn, s->seed);
}

static size_t realloc_size(struct thr *t, size_t old)
{
	switch (st_below(&t->rng, 4)) {
	case 0:
		return old / 2 + 1;
	case 1:
		return old + st_range(&t->rng, 1, 64);
	case 2:
		return old < 64 * KiB ? old * 2 + 1 : old - old / 4;
	default:
		return st_size_mix(&t->rng, 0);
	}
}

static void push(struct mailbox *b, struct msg *m)
{
	if (b->lockfree) {
		struct msg *h = atomic_load_explicit(&b->head, memory_order_relaxed);

		do {
			m->next = h;
		} while (!atomic_compare_exchange_weak_explicit(&b->head, &h, m,
				memory_order_release, memory_order_relaxed));
	} else {
		pthread_mutex_lock(&b->lock);
		m->next = b->list;
		b->list = m;
		pthread_mutex_unlock(&b->lock);
	}
	atomic_fetch_add(&b->pending, 1);
}

static struct msg *take_all(struct mailbox *b)
{
	struct msg *l;

	if (b->lockfree) {
		l = atomic_exchange_explicit(&b->head, NULL, memory_order_acquire);
	} else {
		pthread_mutex_lock(&b->lock);
		l = b->list;
		b->list = NULL;
		pthread_mutex_unlock(&b->lock);
	}
	return l;
}

static struct slot *free_slot(struct thr *t)
{
	unsigned i, start = (unsigned)st_below(&t->rng, nslots);

	for (i = 0; i < 8; i++) {
		struct slot *s = &t->slots[(start + i) % nslots];

		if (!s->p)
			return s;
	}
	return NULL;
}

static void drain(struct thr *t)
{
	struct msg *m = take_all(&boxes[t->id]), *next;
	long n = 0;

	for (; m; m = next, n++) {
		struct slot tmp, *s;

		next = m->next;
		t->nrecv++;
		if (m->check != msg_check(m)) {
			atomic_fetch_add(&err_msg, 1);
			st_error("thread %u: message %p corrupt", t->id, (void *)m);
			free(m);
			t->nmsg_free++;
			continue;
		}
		verify(t, m->p, m->n, m->seed, "remote free");
		tmp.p = m->p;
		tmp.n = m->n;
		tmp.seed = m->seed;
		free(m);
		t->nmsg_free++;
		if (st_chance(&t->rng, 3, 10) && (s = free_slot(t))) {
			*s = tmp;
			realloc_slot(t, s, realloc_size(t, s->n), 1);
		} else {
			free_block(t, tmp.p);
		}
	}
	if (n)
		atomic_fetch_sub(&boxes[t->id].pending, n);
}

static void send_block(struct thr *t, struct slot *s)
{
	unsigned to = (unsigned)st_below(&t->rng, nthreads - 1);
	struct msg *m;

	if (to >= t->id)
		to++;
	if (atomic_load_explicit(&boxes[to].pending, memory_order_relaxed) >
	    MAX_PENDING) {
		verify(t, s->p, s->n, s->seed, "local free");
		free_block(t, s->p);
		s->p = NULL;
		return;
	}
	m = malloc(sizeof(*m));
	t->nmsg_alloc++;
	check_new(t, m, sizeof(*m), 16, "malloc");
	if (!m) {
		free_block(t, s->p);
		s->p = NULL;
		return;
	}
	m->p = s->p;
	m->n = s->n;
	m->seed = s->seed;
	m->from = t->id;
	m->check = msg_check(m);
	s->p = NULL;
	t->nsent++;
	push(&boxes[to], m);
}

static void *worker(void *arg)
{
	struct thr *t = arg;
	long op;
	unsigned i;

	t->slots = calloc(nslots, sizeof(*t->slots));
	if (!t->slots) {
		atomic_fetch_add(&err_null, 1);
		st_error("thread %u: cannot allocate slot table", t->id);
		atomic_fetch_add(&finished, 1);
		return NULL;
	}
	for (op = 0; op < ops_per_thread; op++) {
		struct slot *s = &t->slots[st_below(&t->rng, nslots)];

		if (!s->p) {
			size_t n = st_size_mix(&t->rng, huge_permille);
			void *p = alloc_block(t, n);

			if (p) {
				s->p = p;
				s->n = n;
				s->seed = st_seed(p, t->id, t->seq++);
				st_fill(p, n, s->seed);
			}
		} else {
			unsigned r = (unsigned)st_below(&t->rng, 100);

			if (r < 45) {
				verify(t, s->p, s->n, s->seed, "local free");
				free_block(t, s->p);
				s->p = NULL;
			} else if (r < 85) {
				send_block(t, s);
			} else {
				verify(t, s->p, s->n, s->seed, "before realloc");
				realloc_slot(t, s, realloc_size(t, s->n), 0);
			}
		}
		if ((op & 31) == 0)
			drain(t);
		if ((op & 1023) == 0)
			sched_yield();
	}
	atomic_fetch_add(&finished, 1);
	/* Keep receiving until every thread has stopped sending. */
	while (atomic_load(&finished) < nthreads) {
		drain(t);
		usleep(200);
	}
	drain(t);
	for (i = 0; i < nslots; i++) {
		struct slot *s = &t->slots[i];

		if (s->p) {
			verify(t, s->p, s->n, s->seed, "final free");
			free_block(t, s->p);
			s->p = NULL;
		}
	}
	free(t->slots);
	return NULL;
}

int main(int argc, char **argv)
{
	double o_threads = 48, o_ops = 40000, o_slots = 256, o_huge = 2;
	double o_scale = 1, o_seed = 1, o_timeout = 0;
	const struct st_opt opts[] = {
		{ "threads", &o_threads, "number of threads" },
		{ "ops", &o_ops, "operations per thread (before scale)" },
		{ "slots", &o_slots, "live blocks per thread" },
		{ "huge", &o_huge, "per mille of 1..8 MiB allocations" },
		{ "scale", &o_scale, "factor on ops (soak: 10, 100...)" },
		{ "seed", &o_seed, "PRNG seed" },
		{ "timeout", &o_timeout, "watchdog seconds (0: 120*scale+60)" },
		{ NULL, NULL, NULL }
	};
	long started = 0, sum[12] = { 0 };
	double t0, dt;
	unsigned i;

	st_parse(argc, argv, opts);
	nthreads = (unsigned)o_threads;
	nslots = (unsigned)o_slots;
	huge_permille = (unsigned)o_huge;
	ops_per_thread = (long)(o_ops * o_scale);
	if (nthreads < 2 || nslots < 1) {
		fprintf(stderr, "need threads >= 2 and slots >= 1\n");
		return 2;
	}
	if (o_timeout <= 0)
		o_timeout = 120 * o_scale + 60;

	tap_plan(8);
	st_print_opts(opts);
	st_watchdog((unsigned)o_timeout, "xthread");
	usable_size = (size_t (*)(void *))dlsym(RTLD_DEFAULT, "malloc_usable_size");

	thr = calloc(nthreads, sizeof(*thr));
	boxes = calloc(nthreads, sizeof(*boxes));
	if (!thr || !boxes) {
		printf("Bail out! cannot allocate thread tables\n");
		return 1;
	}
	for (i = 0; i < nthreads; i++) {
		thr[i].id = i;
		st_rng_seed(&thr[i].rng, (uint64_t)o_seed * 1000003 + i);
		boxes[i].lockfree = i & 1;
		pthread_mutex_init(&boxes[i].lock, NULL);
	}
	t0 = st_now();
	for (i = 0; i < nthreads; i++) {
		int rc = pthread_create(&thr[i].tid, NULL, worker, &thr[i]);

		if (rc) {
			tap_diag("pthread_create %u: %s", i, strerror(rc));
			/* count it as finished so the others do not wait */
			atomic_fetch_add(&finished, 1);
			thr[i].tid = 0;
			continue;
		}
		started++;
	}
	for (i = 0; i < nthreads; i++)
		if (thr[i].tid)
			pthread_join(thr[i].tid, NULL);
	dt = st_now() - t0;

	for (i = 0; i < nthreads; i++) {
		struct thr *t = &thr[i];

		sum[0] += t->nmalloc;
		sum[1] += t->ncalloc;
		sum[2] += t->nmemalign;
		sum[3] += t->nrealloc_null;
		sum[4] += t->nrealloc;
		sum[5] += t->nfree;
		sum[6] += t->nsent;
		sum[7] += t->nrecv;
		sum[8] += t->nremote_realloc;
		sum[9] += t->nmsg_alloc;
		sum[10] += t->nmsg_free;
		sum[11] += t->nbytes;
	}
	/* Messages still queued (only if a thread failed to start). */
	for (i = 0; i < nthreads; i++) {
		struct msg *m = take_all(&boxes[i]), *next;

		for (; m; m = next) {
			next = m->next;
			free(m->p);
			free(m);
		}
	}

	tap_ok(started == (long)nthreads, "started %ld of %u threads", started,
	       nthreads);
	tap_ok(!err_null, "no allocation returned NULL (%ld failures)",
	       (long)err_null);
	tap_ok(!err_align, "all blocks suitably aligned (%ld misaligned)",
	       (long)err_align);
	tap_ok(!err_zero, "calloc memory zeroed (%ld bad)", (long)err_zero);
	if (usable_size)
		tap_ok(!err_usable, "malloc_usable_size >= requested size (%ld too small)",
		       (long)err_usable);
	else
		tap_ok(1, "malloc_usable_size >= requested size # SKIP no malloc_usable_size");
	tap_ok(!err_content && !err_msg,
	       "content intact at every free/realloc (%ld corrupt blocks, %ld corrupt messages)",
	       (long)err_content, (long)err_msg);
	tap_ok(sum[6] == sum[7] && sum[9] == sum[10],
	       "every block sent was received (sent %ld, received %ld)",
	       sum[6], sum[7]);
	tap_ok(sum[0] + sum[1] + sum[2] + sum[3] == sum[5] || err_null,
	       "allocations balance frees (%ld allocated, %ld freed)",
	       sum[0] + sum[1] + sum[2] + sum[3], sum[5]);
	tap_diag("ops: malloc=%ld calloc=%ld posix_memalign=%ld realloc(NULL)=%ld realloc=%ld (remote %ld) free=%ld",
		 sum[0], sum[1], sum[2], sum[3], sum[4], sum[8], sum[5]);
	tap_diag("cross-thread: blocks sent=%ld received=%ld, message nodes %ld; %.1f MiB requested",
		 sum[6], sum[7], sum[9], (double)sum[11] / MiB);
	tap_diag("%u threads, %.2f s, %.0f kops/s", nthreads, dt,
		 (double)(sum[0] + sum[1] + sum[2] + sum[3] + sum[4] + sum[5] +
			  sum[9] + sum[10]) / dt / 1000);
	tap_diag("peak RSS %ld KiB", st_rss_kib("VmHWM"));
	free(thr);
	free(boxes);
	return tap_exit();
}
