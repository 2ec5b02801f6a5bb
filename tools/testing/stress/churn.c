// SPDX-License-Identifier: MIT
/*
 * churn: thousands of short-lived threads (default 5000, at most 64 alive at
 * once).  Each allocates a batch of blocks, frees some itself, hands some to
 * long-lived survivor threads and leaves the rest on an orphan list that the
 * main thread frees after the allocating thread has exited.  Every thread
 * also owns a thread-specific value whose destructor (run during thread
 * exit) checks and frees a block and allocates a new one; every eighth
 * thread is joinable and returns a heap block to the joiner.
 *
 * Options (name=value): threads (total), alive (at once), survivors,
 * blocks (per thread), scale (factor on threads), seed, timeout.
 */
#include "stress.h"

#include <semaphore.h>

struct node {
	struct node *next;
	void *p;
	size_t n;
	uint64_t seed;
	unsigned owner;
};

struct survivor {
	pthread_t tid;
	unsigned id;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct node *inbox;
	int stop;
};

#define SURVIVOR_KEEP 128	/* blocks a survivor holds before freeing */
#define JOIN_RING 16

static unsigned nthreads, nalive, nsurvivors, nblocks;
static uint64_t base_seed;
static struct survivor *surv;
static sem_t alive_sem;
static pthread_key_t tsd_key;

static pthread_mutex_t orphan_lock = PTHREAD_MUTEX_INITIALIZER;
static struct node *orphans;

static atomic_long n_alloc, n_free_self, n_free_surv, n_free_main, n_free_tsd,
	n_free_join, n_tsd_set, n_tsd_runs, n_threads_done;
static atomic_long err_content, err_null;

static void check_block(const void *p, size_t n, uint64_t seed,
			const char *who)
{
	size_t bad = st_check(p, n, seed);

	if (bad) {
		atomic_fetch_add(&err_content, 1);
		st_error("%s: block %p size %zu corrupt at offset %zu", who, p,
			 n, bad - 1);
	}
}

static void *new_block(size_t n, unsigned owner, uint64_t seq, uint64_t *seed)
{
	void *p = malloc(n);

	if (!p) {
		atomic_fetch_add(&err_null, 1);
		st_error("malloc(%zu) returned NULL", n);
		return NULL;
	}
	atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
	*seed = st_seed(p, owner, seq);
	st_fill(p, n, *seed);
	return p;
}

static struct node *new_node(void *p, size_t n, uint64_t seed, unsigned owner)
{
	struct node *m = malloc(sizeof(*m));

	if (!m) {
		atomic_fetch_add(&err_null, 1);
		st_error("malloc(node) returned NULL");
		return NULL;
	}
	m->p = p;
	m->n = n;
	m->seed = seed;
	m->owner = owner;
	return m;
}

/* ------------------------------------------------------------ survivors */

static void *survivor_main(void *arg)
{
	struct survivor *s = arg;
	struct node *keep[SURVIVOR_KEEP];
	unsigned nkeep = 0, head = 0, i;

	memset(keep, 0, sizeof(keep));
	for (;;) {
		struct node *l, *next;

		pthread_mutex_lock(&s->lock);
		while (!s->inbox && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		l = s->inbox;
		s->inbox = NULL;
		if (!l && s->stop) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		pthread_mutex_unlock(&s->lock);

		for (; l; l = next) {
			next = l->next;
			check_block(l->p, l->n, l->seed, "survivor (on receipt)");
			/* Keep it a while: the sender will be gone by then. */
			if (nkeep == SURVIVOR_KEEP) {
				struct node *old = keep[head];

				check_block(old->p, old->n, old->seed,
					    "survivor (deferred free)");
				free(old->p);
				free(old);
				atomic_fetch_add(&n_free_surv, 1);
				keep[head] = l;
				head = (head + 1) % SURVIVOR_KEEP;
			} else {
				keep[nkeep++] = l;
			}
		}
	}
	for (i = 0; i < nkeep; i++) {
		check_block(keep[i]->p, keep[i]->n, keep[i]->seed,
			    "survivor (final free)");
		free(keep[i]->p);
		free(keep[i]);
		atomic_fetch_add(&n_free_surv, 1);
	}
	return NULL;
}

static void give_to_survivor(struct survivor *s, struct node *m)
{
	pthread_mutex_lock(&s->lock);
	m->next = s->inbox;
	s->inbox = m;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* -------------------------------------------------- short-lived threads */

struct tsd_val {
	void *p;
	size_t n;
	uint64_t seed;
	unsigned owner;
};

/* Runs during thread exit, after the thread function has returned. */
static void tsd_destructor(void *arg)
{
	struct tsd_val *v = arg;
	uint64_t seed;
	void *q;

	check_block(v->p, v->n, v->seed, "TSD destructor");
	free(v->p);
	atomic_fetch_add(&n_free_tsd, 1);
	/* Allocate again this late in the thread's life. */
	q = new_block(v->n + 100, v->owner, 0xdead, &seed);
	if (q) {
		check_block(q, v->n + 100, seed, "TSD destructor (new)");
		free(q);
		atomic_fetch_add(&n_free_tsd, 1);
	}
	free(v);
	atomic_fetch_add(&n_tsd_runs, 1);
}

struct result {
	void *p;
	size_t n;
	uint64_t seed;
};

static void *short_main(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	int joinable = (id % 8) == 0;
	struct st_rng rng;
	struct node *mine = NULL, *m, *next;
	struct tsd_val *v;
	struct result *res = NULL;
	unsigned i, n;
	uint64_t seq = 0;

	st_rng_seed(&rng, base_seed * 7919 + id);
	n = (unsigned)st_range(&rng, nblocks / 2, nblocks + nblocks / 2);

	v = malloc(sizeof(*v));
	if (v) {
		v->n = st_size_mix(&rng, 0);
		v->owner = id;
		v->p = new_block(v->n, id, seq++, &v->seed);
		if (v->p && !pthread_setspecific(tsd_key, v))
			atomic_fetch_add(&n_tsd_set, 1);
		else
			free(v);
	} else {
		atomic_fetch_add(&err_null, 1);
	}

	for (i = 0; i < n; i++) {
		uint64_t seed;
		size_t sz = st_size_mix(&rng, 1);
		void *p = new_block(sz, id, seq++, &seed);

		if (!p)
			continue;
		m = new_node(p, sz, seed, id);
		if (!m) {
			free(p);
			atomic_fetch_add(&n_free_self, 1);
			continue;
		}
		m->next = mine;
		mine = m;
	}
	/* Some blocks change size before they are handed on. */
	for (m = mine; m; m = m->next) {
		if (st_chance(&rng, 1, 5)) {
			size_t nn = st_size_mix(&rng, 0);
			void *q;

			check_block(m->p, m->n, m->seed, "before realloc");
			q = realloc(m->p, nn);
			if (!q) {
				atomic_fetch_add(&err_null, 1);
				st_error("realloc returned NULL");
				continue;
			}
			if (st_check_prefix(q, m->n, m->seed, nn < m->n ? nn : m->n)) {
				atomic_fetch_add(&err_content, 1);
				st_error("thread %u: realloc lost content", id);
			}
			m->p = q;
			m->n = nn;
			m->seed = st_seed(q, id, seq++);
			st_fill(q, nn, m->seed);
		}
	}
	for (m = mine; m; m = next) {
		unsigned r = (unsigned)st_below(&rng, 3);

		next = m->next;
		if (r == 0) {
			check_block(m->p, m->n, m->seed, "self free");
			free(m->p);
			free(m);
			atomic_fetch_add(&n_free_self, 1);
		} else if (r == 1) {
			give_to_survivor(&surv[st_below(&rng, nsurvivors)], m);
		} else {
			pthread_mutex_lock(&orphan_lock);
			m->next = orphans;
			orphans = m;
			pthread_mutex_unlock(&orphan_lock);
		}
	}
	if (joinable) {
		res = malloc(sizeof(*res));
		if (res) {
			res->n = st_size_mix(&rng, 0);
			res->p = new_block(res->n, id, seq++, &res->seed);
		} else {
			atomic_fetch_add(&err_null, 1);
		}
	}
	atomic_fetch_add(&n_threads_done, 1);
	sem_post(&alive_sem);
	return res;
}

static long drain_orphans(void)
{
	struct node *l, *next;
	long n = 0;

	pthread_mutex_lock(&orphan_lock);
	l = orphans;
	orphans = NULL;
	pthread_mutex_unlock(&orphan_lock);
	for (; l; l = next, n++) {
		next = l->next;
		check_block(l->p, l->n, l->seed, "main (orphan)");
		free(l->p);
		free(l);
		atomic_fetch_add(&n_free_main, 1);
	}
	return n;
}

static void join_one(pthread_t t)
{
	void *ret = NULL;
	struct result *res;
	int rc = pthread_join(t, &ret);

	if (rc) {
		st_error("pthread_join: %s", strerror(rc));
		return;
	}
	res = ret;
	if (!res)
		return;
	if (res->p) {
		check_block(res->p, res->n, res->seed, "joiner");
		free(res->p);
		atomic_fetch_add(&n_free_join, 1);
	}
	free(res);
}

int main(int argc, char **argv)
{
	double o_threads = 5000, o_alive = 64, o_surv = 4, o_blocks = 48;
	double o_scale = 1, o_seed = 1, o_timeout = 0;
	const struct st_opt opts[] = {
		{ "threads", &o_threads, "short-lived threads in total (before scale)" },
		{ "alive", &o_alive, "short-lived threads alive at once" },
		{ "survivors", &o_surv, "long-lived receiving threads" },
		{ "blocks", &o_blocks, "average blocks per short-lived thread" },
		{ "scale", &o_scale, "factor on threads" },
		{ "seed", &o_seed, "PRNG seed" },
		{ "timeout", &o_timeout, "watchdog seconds (0: 120*scale+60)" },
		{ NULL, NULL, NULL }
	};
	pthread_t ring[JOIN_RING];
	unsigned ring_n = 0, ring_head = 0, i;
	unsigned created = 0, create_fail = 0;
	long freed_total, rss_mid = -1, rss_end;
	pthread_attr_t det;
	double t0;

	st_parse(argc, argv, opts);
	nthreads = (unsigned)(o_threads * o_scale);
	nalive = o_alive < 1 ? 1 : (unsigned)o_alive;
	nsurvivors = o_surv < 1 ? 1 : (unsigned)o_surv;
	nblocks = o_blocks < 2 ? 2 : (unsigned)o_blocks;
	base_seed = (uint64_t)o_seed;
	if (o_timeout <= 0)
		o_timeout = 120 * o_scale + 60;

	tap_plan(7);
	st_print_opts(opts);
	st_watchdog((unsigned)o_timeout, "churn");

	if (sem_init(&alive_sem, 0, nalive) ||
	    pthread_key_create(&tsd_key, tsd_destructor)) {
		printf("Bail out! sem_init/pthread_key_create failed\n");
		return 1;
	}
	surv = calloc(nsurvivors, sizeof(*surv));
	if (!surv) {
		printf("Bail out! calloc failed\n");
		return 1;
	}
	for (i = 0; i < nsurvivors; i++) {
		surv[i].id = i;
		pthread_mutex_init(&surv[i].lock, NULL);
		pthread_cond_init(&surv[i].cond, NULL);
		if (pthread_create(&surv[i].tid, NULL, survivor_main, &surv[i])) {
			printf("Bail out! cannot create survivor thread\n");
			return 1;
		}
	}
	pthread_attr_init(&det);
	pthread_attr_setdetachstate(&det, PTHREAD_CREATE_DETACHED);

	t0 = st_now();
	for (i = 0; i < nthreads; i++) {
		pthread_t t;
		int joinable = (i % 8) == 0, rc;

		while (sem_wait(&alive_sem) && errno == EINTR)
			;
		if (joinable && ring_n == JOIN_RING) {
			join_one(ring[ring_head]);
			ring_head = (ring_head + 1) % JOIN_RING;
			ring_n--;
		}
		rc = pthread_create(&t, joinable ? NULL : &det, short_main,
				    (void *)(uintptr_t)i);
		if (rc) {
			if (create_fail++ < 10)
				tap_diag("pthread_create %u: %s", i, strerror(rc));
			sem_post(&alive_sem);
			/* Give exiting threads time to release resources. */
			usleep(1000);
			continue;
		}
		created++;
		if (joinable) {
			ring[(ring_head + ring_n) % JOIN_RING] = t;
			ring_n++;
		}
		if (i % 64 == 63)
			drain_orphans();
		if (i == nthreads / 2) {
			/* Heap size half way; the second half must not grow it much. */
			drain_orphans();
			rss_mid = st_rss_kib("VmRSS");
		}
	}
	/* Wait until every short-lived thread has finished its work. */
	for (i = 0; i < nalive; i++)
		while (sem_wait(&alive_sem) && errno == EINTR)
			;
	while (ring_n) {
		join_one(ring[ring_head]);
		ring_head = (ring_head + 1) % JOIN_RING;
		ring_n--;
	}
	/*
	 * Detached threads may still be running their TSD destructors after
	 * posting the semaphore; wait for them (bounded by the watchdog).
	 */
	while (atomic_load(&n_tsd_runs) < atomic_load(&n_tsd_set))
		usleep(1000);
	drain_orphans();
	for (i = 0; i < nsurvivors; i++) {
		pthread_mutex_lock(&surv[i].lock);
		surv[i].stop = 1;
		pthread_cond_signal(&surv[i].cond);
		pthread_mutex_unlock(&surv[i].lock);
	}
	for (i = 0; i < nsurvivors; i++)
		pthread_join(surv[i].tid, NULL);

	rss_end = st_rss_kib("VmRSS");
	freed_total = n_free_self + n_free_surv + n_free_main + n_free_tsd +
		      n_free_join;
	tap_ok(created == nthreads && n_threads_done == (long)created,
	       "created and finished %u of %u short-lived threads (%u create failures)",
	       created, nthreads, create_fail);
	tap_ok(!err_null, "no allocation returned NULL (%ld)", (long)err_null);
	tap_ok(!err_content, "content intact wherever blocks were freed (%ld corrupt)",
	       (long)err_content);
	tap_ok(n_alloc == freed_total,
	       "every block freed exactly once (%ld allocated, %ld freed)",
	       (long)n_alloc, freed_total);
	tap_ok(n_tsd_runs == (long)created && n_tsd_set == (long)created,
	       "thread-specific destructors ran and allocated (%ld of %u)",
	       (long)n_tsd_runs, created);
	tap_ok(n_free_join > 0 || created < 8,
	       "blocks returned by exited joinable threads freed by joiner (%ld)",
	       (long)n_free_join);
	tap_ok(rss_mid < 0 || rss_end <= 2 * rss_mid + 64 * 1024,
	       "memory of exited threads is reused: RSS %ld KiB half way, %ld KiB at the end",
	       rss_mid, rss_end);
	tap_diag("%u threads in %.2f s; frees: own=%ld survivors=%ld main-after-exit=%ld tsd=%ld joiner=%ld",
		 created, st_now() - t0, (long)n_free_self, (long)n_free_surv,
		 (long)n_free_main, (long)n_free_tsd, (long)n_free_join);
	tap_diag("peak RSS %ld KiB", st_rss_kib("VmHWM"));
	pthread_attr_destroy(&det);
	pthread_key_delete(tsd_key);
	free(surv);
	return tap_exit();
}
