// SPDX-License-Identifier: MIT
/*
 * forkwrite - fork children from a heap on hugetlb pages and have them,
 * and the parent, write all over what they share.
 *
 *   forkwrite MIB CHILDREN [threads=N] [nested] [keep]
 *
 * The parent opens a FILE (glibc mallocs it, and resets its lock in a
 * multi-threaded parent's child before any fork handler runs), allocates
 * MIB MiB of 64-byte objects and a 6 MiB block, fills them with a
 * pattern, prints pool_free=N (free minus reserved pages of the 2 MiB pool
 * right after) and parent_heap_hugetlb_kb (Private_Hugetlb of the heap's
 * mappings that hold the objects and the block), starts N threads that allocate, write, check and free
 * blocks from 16 bytes to 3 MiB without pause, then forks CHILDREN
 * children one at a time.  Each child checks the pattern, rewrites every
 * inherited byte, frees half of the objects, allocates 4 MiB more, with
 * "nested" forks a grandchild that checks and rewrites the child's heap
 * in turn, checks again and exits 0 (1: bad contents, 3: the grandchild
 * failed).  The parent rewrites its own heap while each child runs (the
 * reservation owner writing pages its child shares) and checks it at the
 * end.  Prints children_ok=N, children_signalled=N, parent_ok=0|1,
 * threads_bad=N (corrupt blocks seen by the threads) and fork_ms=F (the
 * parent's mean time in fork()).  With "keep" each child prints
 * child_heap_page_kb (the largest KernelPageSize among the heap's
 * mappings, from its smaps) and child_heap_hugetlb_kb before it writes.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#define OBJ	64

static char **obj;
static size_t nobj;
static unsigned char *big;
static const size_t big_len = 6u << 20;
static atomic_int stop;
static atomic_long threads_bad;

static unsigned long pool(const char *what)
{
	char path[128];
	unsigned long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-2048kB/%s", what);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static void fill(unsigned char v)
{
	for (size_t i = 0; i < nobj; i++)
		if (obj[i])
			memset(obj[i], v, OBJ);
	memset(big, v, big_len);
}

static int check(unsigned char v)
{
	for (size_t i = 0; i < nobj; i++)
		if (obj[i])
			for (int j = 0; j < OBJ; j++)
				if ((unsigned char)obj[i][j] != v)
					return 0;
	for (size_t i = 0; i < big_len; i++)
		if (big[i] != v)
			return 0;
	return 1;
}

/* Largest KernelPageSize and the Private_Hugetlb total of the mappings
 * that hold obj[0] or big. */
static void heap_pages(long *page_kb, long *hugetlb_kb)
{
	unsigned long lo, hi, a = (unsigned long)obj[0], b = (unsigned long)big;
	char line[512];
	int in = 0;
	long v;
	FILE *f = fopen("/proc/self/smaps", "r");

	*page_kb = *hugetlb_kb = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (a >= lo && a < hi) || (b >= lo && b < hi);
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "KernelPageSize: %ld kB", &v) == 1 && v > *page_kb)
			*page_kb = v;
		if (sscanf(line, "Private_Hugetlb: %ld kB", &v) == 1)
			*hugetlb_kb += v;
	}
	fclose(f);
}

/* Allocate, write, check, free: the heap changes under every fork. */
static void *churn(void *arg)
{
	uint64_t x = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
	unsigned char *slot[32] = { 0 };
	size_t sz[32] = { 0 };

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		unsigned i, k;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		i = (unsigned)(x % 32);
		k = (unsigned)(x >> 40) % 100;
		if (slot[i]) {
			for (size_t j = 0; j < sz[i]; j += 4093)
				if (slot[i][j] != (unsigned char)i)
					atomic_fetch_add(&threads_bad, 1);
			free(slot[i]);
			slot[i] = NULL;
			continue;
		}
		sz[i] = k < 80 ? 16 + (x >> 20) % 2000 : k < 97 ? 4096 + (x >> 20) % (300 << 10) :
			(1u << 20) + (x >> 20) % (2u << 20);
		slot[i] = malloc(sz[i]);
		if (slot[i])
			memset(slot[i], (int)i, sz[i]);
	}
	for (int i = 0; i < 32; i++)
		free(slot[i]);
	return NULL;
}

static int child(int keep, int nested)
{
	char *more;

	if (keep) {
		long pk, hk;

		heap_pages(&pk, &hk);
		printf("child_heap_page_kb=%ld\nchild_heap_hugetlb_kb=%ld\n", pk, hk);
		fflush(stdout);
	}
	if (!check(0x5a))
		return 1;
	fill(0xc3);
	for (size_t i = 0; i < nobj; i += 2) {
		free(obj[i]);
		obj[i] = NULL;
	}
	more = malloc(4u << 20);
	if (!more)
		return 1;
	memset(more, 1, 4u << 20);
	if (nested) {
		int st;
		pid_t p = fork();

		if (p < 0)
			return 3;
		if (!p) {
			int ok = check(0xc3);

			fill(0x3c);
			_exit(ok && check(0x3c) ? 0 : 1);
		}
		fill(0xc3);
		if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st))
			return 3;
	}
	return check(0xc3) ? 0 : 1;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 16;
	int n = argc > 2 ? atoi(argv[2]) : 4, keep = 0, nested = 0, nthreads = 0;
	int ok = 0, sig = 0;
	pthread_t th[16];
	double fork_ms = 0;
	FILE *f;

	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "keep"))
			keep = 1;
		else if (!strcmp(argv[i], "nested"))
			nested = 1;
		else if (!strncmp(argv[i], "threads=", 8))
			nthreads = atoi(argv[i] + 8) > 16 ? 16 : atoi(argv[i] + 8);
	}
	f = fopen("/dev/null", "w");	/* first: on the pool's first page */
	nobj = (mib << 20) / OBJ;
	obj = calloc(nobj, sizeof(*obj));
	big = malloc(big_len);
	if (!obj || !big)
		return 2;
	for (size_t i = 0; i < nobj; i++)
		if (!(obj[i] = malloc(OBJ)))
			return 2;
	fill(0x5a);
	{
		unsigned long fr = pool("free_hugepages"), r = pool("resv_hugepages");
		long pk, hk;

		heap_pages(&pk, &hk);
		printf("pool_free=%lu\nparent_heap_hugetlb_kb=%ld\n", fr > r ? fr - r : 0, hk);
		fflush(stdout);
	}
	for (int t = 0; t < nthreads; t++)
		if (pthread_create(&th[t], NULL, churn, (void *)(uintptr_t)(t + 1)))
			return 2;
	for (int c = 0; c < n; c++) {
		int st;
		double t0 = now_ms();
		pid_t p = fork();

		if (p < 0)
			return 2;
		if (!p)
			_exit(child(keep, nested));
		fork_ms += now_ms() - t0;
		fill(0x5a);		/* the parent writes what the child shares */
		if (f)
			fprintf(f, "fork %d\n", c);
		if (waitpid(p, &st, 0) != p)
			return 2;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
		else if (WIFSIGNALED(st))
			sig++;
		else
			fprintf(stderr, "child %d: exit %d\n", c, WEXITSTATUS(st));
	}
	atomic_store(&stop, 1);
	for (int t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	if (f)
		fclose(f);
	printf("children_ok=%d\nchildren_signalled=%d\nparent_ok=%d\nthreads_bad=%ld\n"
	       "fork_ms=%.2f\n", ok, sig, check(0x5a), atomic_load(&threads_bad),
	       n ? fork_ms / n : 0.0);
	return 0;
}
