// SPDX-License-Identifier: MIT
/*
 * numa_vm - NUMA placement checks, run inside the two-node test VM with
 * libhakmem.so preloaded (tools/testing/numa-vm/numa-vm.sh boots it).
 *
 *   numa_vm local              a thread pinned to each node's first CPU
 *                              allocates; every page of every superslab
 *                              holding its objects is on its node
 *   numa_vm bind               blocks allocated on one node and first
 *                              written from the other stay on the first
 *   numa_vm remote             objects freed on the other node go back to
 *                              their home node
 *   numa_vm hugetlb            with a hugetlb pool reserved on every node,
 *                              each node's threads take their own node's
 *                              pool pages, in mappings named for the
 *                              node (/memfd:hakmem-hugetlb-nN in maps)
 *   numa_vm interleave         (HAKMEM_NUMA=interleave) a thread's pages
 *                              are spread over nodes 0 and 1
 *   numa_vm late CPU           CPU was offline or outside the affinity mask
 *                              when the heap started: bring it back, pin a
 *                              thread to it, check its pages
 *   numa_vm memless CPU        CPU belongs to a node without memory: its
 *                              pages are on a node that has memory
 *
 * Output: TAP lines without numbers ("ok - ..."), numbered by the host.
 * The topology comes from libnuma (numa_node_of_cpu, move_pages), so the
 * test does not trust the allocator's own reading of sysfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest_tap.h"
#include "procmaps.h"

#define CHUNK		(2UL << 20)
#define PAGE		4096UL
#define MAX_CHUNKS	4096

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fprintf(stderr, "numa_vm: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}

struct chunks {
	uintptr_t	c[MAX_CHUNKS];
	unsigned	n;
};

static void note(struct chunks *cs, const void *p)
{
	uintptr_t c = (uintptr_t)p & ~(CHUNK - 1);

	for (unsigned i = cs->n; i-- > 0;)
		if (cs->c[i] == c)
			return;
	if (cs->n < MAX_CHUNKS)
		cs->c[cs->n++] = c;
}

struct where { long on, off, absent, other_node; };

/* Where every page of every chunk in cs lives, against node. */
static void locate(const struct chunks *cs, int node, struct where *w)
{
	enum { PER = 512 };
	void *pages[PER];
	int status[PER];

	memset(w, 0, sizeof(*w));
	w->other_node = -1;
	for (unsigned i = 0; i < cs->n; i++) {
		for (unsigned k = 0; k < PER; k++)
			pages[k] = (void *)(cs->c[i] + k * PAGE);
		if (numa_move_pages(0, PER, pages, NULL, status, 0)) {
			w->absent += PER;
			continue;
		}
		for (unsigned k = 0; k < PER; k++) {
			if (status[k] == node) {
				w->on++;
			} else if (status[k] >= 0) {
				w->off++;
				w->other_node = status[k];
			} else {
				w->absent++;	/* never touched: no page yet */
			}
		}
	}
}

/* ---- local: each node's thread allocates there ---- */

struct job {
	int		cpu, node;
	size_t		bytes, size;
	struct chunks	cs;
	void		**objs;
	size_t		nobjs;
	int		node_seen;	/* node of the CPU while allocating */
};

static void *alloc_job(void *arg)
{
	struct job *j = arg;
	unsigned cpu, node;

	pin(j->cpu);
	j->nobjs = j->bytes / j->size;
	j->objs = calloc(j->nobjs + 8, sizeof(void *));
	for (size_t i = 0; i < j->nobjs; i++) {
		j->objs[i] = malloc(j->size);
		memset(j->objs[i], 0x5a, j->size);
		note(&j->cs, j->objs[i]);
	}
	/* A few large runs and one huge block (4 MiB) as well. */
	for (size_t i = 0; i < 4; i++) {
		void *p = malloc(i < 3 ? 96UL << 10 : 4UL << 20);

		memset(p, 0x5a, i < 3 ? 96UL << 10 : 4UL << 20);
		note(&j->cs, p);
		j->objs[j->nobjs + i] = p;
	}
	getcpu(&cpu, &node);
	j->node_seen = (int)node;
	return NULL;
}

static void run_job(struct job *j)
{
	pthread_t t;

	pthread_create(&t, NULL, alloc_job, j);
	pthread_join(t, NULL);
}

static void check_job(struct job *j, const char *what)
{
	struct where w;

	locate(&j->cs, j->node, &w);
	tap(w.off == 0 && w.on > 0,
	    "%s: CPU %d (node %d): %ld pages of its %u chunks on node %d, %ld elsewhere (last seen on node %ld), %ld untouched",
	    what, j->cpu, j->node, w.on, j->cs.n, j->node, w.off, w.other_node, w.absent);
}

static int first_cpu_of(int node)
{
	for (int c = 0; c < numa_num_configured_cpus(); c++)
		if (numa_node_of_cpu(c) == node)
			return c;
	return -1;
}

static int node_has_memory(int node)
{
	long long free_b;

	return numa_node_size64(node, &free_b) > 0;
}

static int cmd_local(void)
{
	int nodes = numa_num_configured_nodes();
	struct job *jobs = calloc((size_t)numa_max_node() + 1, sizeof(*jobs));
	int tested = 0;

	printf("# %d configured nodes, %d CPUs\n", nodes, numa_num_configured_cpus());
	for (int n = 0; n <= numa_max_node(); n++) {
		int cpu = first_cpu_of(n);

		if (cpu < 0 || !node_has_memory(n))
			continue;
		jobs[n].cpu = cpu;
		jobs[n].node = n;
		jobs[n].bytes = 16UL << 20;
		jobs[n].size = 64;
		run_job(&jobs[n]);
		tested++;
	}
	for (int n = 0; n <= numa_max_node(); n++)
		if (jobs[n].nobjs)
			check_job(&jobs[n], "local");
	tap(tested >= 2, "threads pinned on %d nodes with CPUs and memory (need 2)", tested);
	return failures != 0;
}

/* ---- remote: frees on the other node go home ---- */

struct xfree { int cpu; void **objs; size_t n; };

static void *free_job(void *arg)
{
	struct xfree *x = arg;

	pin(x->cpu);
	for (size_t i = 0; i < x->n; i++)
		free(x->objs[i]);
	return NULL;
}

static int cmd_remote(void)
{
	int c0 = first_cpu_of(0), c1 = first_cpu_of(1);
	struct job a = { .cpu = c0, .node = 0, .bytes = 4UL << 20, .size = 64 };
	struct job b = { .cpu = c1, .node = 1, .bytes = 4UL << 20, .size = 64 };
	struct xfree x;
	pthread_t t;
	size_t reused = 0, n;
	void **old;

	if (c0 < 0 || c1 < 0) {
		tap(0, "remote: need CPUs on nodes 0 and 1");
		return 1;
	}
	run_job(&a);
	n = a.nobjs;
	old = malloc(n * sizeof(void *));
	memcpy(old, a.objs, n * sizeof(void *));
	/* Node 1 frees everything node 0 allocated. */
	x.cpu = c1;
	x.objs = a.objs;
	x.n = n;
	pthread_create(&t, NULL, free_job, &x);
	pthread_join(t, NULL);
	/* Node 1 allocates: nothing of node 0 may come back to it. */
	run_job(&b);
	check_job(&b, "remote: after node 1 freed node 0's objects, node 1's new objects");
	for (size_t i = 0; i < b.nobjs; i++)
		for (unsigned k = 0; k < a.cs.n; k++)
			if ((uintptr_t)b.objs[i] - a.cs.c[k] < CHUNK) {
				reused = SIZE_MAX;
				break;
			}
	tap(reused == 0, "remote: node 1 got none of the objects node 0 owns");
	/* Node 0 allocates again: its freed objects are back on its lists. */
	memset(&a.cs, 0, sizeof(a.cs));
	run_job(&a);
	/* How many of node 0's new objects are ones node 1 freed (a sample). */
	reused = 0;
	for (size_t i = 0; i < a.nobjs && i < 4096; i++)
		for (size_t k = 0; k < n; k++)
			if (a.objs[i] == old[k]) {
				reused++;
				break;
			}
	check_job(&a, "remote: node 0's objects after the cross-node frees");
	tap(reused > 0, "remote: node 0 reuses objects freed on node 1 (%zu of its first 4096 new ones)",
	    reused);
	return failures != 0;
}

/* ---- hugetlb per node ---- */

static long node_free_huge(int node)
{
	char path[128], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path),
		 "/sys/devices/system/node/node%d/hugepages/hugepages-2048kB/free_hugepages", node);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return atol(buf);
}

/*
 * How many chunks of cs lie in a mapping whose name in /proc/self/maps
 * is name (the text after the five fixed fields).
 */
static unsigned chunks_named(const struct chunks *cs, const char *name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned hit = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		const char *s;
		size_t len;

		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		s = maps_line_name(line, &len);
		if (len != strlen(name) || memcmp(s, name, len))
			continue;
		for (unsigned i = 0; i < cs->n; i++)
			hit += cs->c[i] >= lo && cs->c[i] < hi;
	}
	fclose(f);
	return hit;
}

static int cmd_hugetlb(void)
{
	struct job jobs[2] = {
		{ .cpu = first_cpu_of(0), .node = 0, .bytes = 3UL << 20, .size = 128 },
		{ .cpu = first_cpu_of(1), .node = 1, .bytes = 3UL << 20, .size = 128 },
	};
	long before[2], after[2];

	for (int n = 0; n < 2; n++)
		before[n] = node_free_huge(n);
	printf("# free hugetlb pages before: node 0 %ld, node 1 %ld\n", before[0], before[1]);
	for (int n = 0; n < 2; n++) {
		long b0 = node_free_huge(0), b1 = node_free_huge(1);

		run_job(&jobs[n]);
		after[0] = node_free_huge(0);
		after[1] = node_free_huge(1);
		tap((n == 0 ? b0 - after[0] : b1 - after[1]) >= 3 &&
		    (n == 0 ? b1 - after[1] : b0 - after[0]) == 0,
		    "hugetlb: the thread on node %d took %ld pool pages of node %d and %ld of node %d",
		    n, n == 0 ? b0 - after[0] : b1 - after[1], n,
		    n == 0 ? b1 - after[1] : b0 - after[0], 1 - n);
		check_job(&jobs[n], "hugetlb");
	}
	for (int n = 0; n < 2; n++) {
		char name[64];
		unsigned hit;

		snprintf(name, sizeof(name), "/memfd:hakmem-hugetlb-n%d (deleted)", n);
		hit = chunks_named(&jobs[n].cs, name);
		tap(hit == jobs[n].cs.n, "hugetlb: %u of the %u chunks of node %d's thread lie in "
		    "mappings named '%s'", hit, jobs[n].cs.n, n, name);
	}
	return failures != 0;
}

/* ---- a CPU that was offline or outside the mask at start-up ---- */

static int cmd_late(int cpu, const char *why)
{
	char path[96];
	cpu_set_t all;
	struct job j = { .cpu = cpu, .bytes = 4UL << 20, .size = 64 };
	int fd;

	/* The heap started before main(): bring the CPU back now. */
	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			perror("online");
		close(fd);
	}
	CPU_ZERO(&all);
	for (int c = 0; c < numa_num_configured_cpus(); c++)
		CPU_SET(c, &all);
	sched_setaffinity(0, sizeof(all), &all);
	j.node = numa_node_of_cpu(cpu);
	run_job(&j);
	tap(j.node_seen == j.node, "late (%s at start-up): the thread ran on CPU %d of node %d",
	    why, cpu, j.node_seen);
	check_job(&j, why);
	return failures != 0;
}

/* ---- bind: the placement is set before the first touch ---- */

struct handoff { int cpu; char *blocks[17]; size_t len[17]; struct chunks cs; };

static void *alloc_untouched(void *arg)
{
	struct handoff *h = arg;

	pin(h->cpu);
	for (int i = 0; i < 17; i++) {
		h->len[i] = i < 16 ? 64UL << 10 : 6UL << 20;
		h->blocks[i] = malloc(h->len[i]);
	}
	return NULL;
}

static void *touch(void *arg)
{
	struct handoff *h = arg;

	for (int i = 0; i < 17; i++) {
		memset(h->blocks[i], 0x3c, h->len[i]);
		for (size_t off = 0; off < h->len[i]; off += CHUNK)
			note(&h->cs, h->blocks[i] + off);
		note(&h->cs, h->blocks[i] + h->len[i] - 1);
	}
	return NULL;
}

/*
 * A thread on node `from` allocates large and huge blocks without
 * touching them; a thread on the other node writes them first.  First
 * touch would put the pages on the writer's node: they must be on the
 * allocator's, which only an mbind before the first touch achieves.
 */
static int cmd_bind(void)
{
	for (int from = 0; from < 2; from++) {
		struct handoff h = { .cpu = first_cpu_of(from) };
		struct where w;
		pthread_t t;

		pthread_create(&t, NULL, alloc_untouched, &h);
		pthread_join(t, NULL);
		h.cpu = first_cpu_of(1 - from);
		pin(h.cpu);
		touch(&h);
		locate(&h.cs, from, &w);
		tap(w.on > 0 && w.off == 0,
		    "bind: blocks allocated on node %d, first written from node %d: %ld pages on node %d, %ld elsewhere",
		    from, 1 - from, w.on, from, w.off);
	}
	return failures != 0;
}

/* ---- HAKMEM_NUMA=interleave: pages spread over the nodes ---- */

static int cmd_interleave(void)
{
	struct job j = { .cpu = first_cpu_of(0), .node = 0, .bytes = 16UL << 20, .size = 64 };
	struct where w0, w1;

	run_job(&j);
	locate(&j.cs, 0, &w0);
	locate(&j.cs, 1, &w1);
	tap(w0.on > (w0.on + w1.on) / 10 && w1.on > (w0.on + w1.on) / 10,
	    "interleave: a thread on node 0 has %ld pages on node 0 and %ld on node 1", w0.on, w1.on);
	return failures != 0;
}

/* ---- a CPU of a memoryless node ---- */

static int cmd_memless(int cpu)
{
	struct job j = { .cpu = cpu, .bytes = 4UL << 20, .size = 64 };
	int home = numa_node_of_cpu(cpu);
	struct where w[8];
	int best = -1;

	if (home < 0 || node_has_memory(home)) {
		tap(0, "memless: CPU %d is on node %d, which has memory", cpu, home);
		return 1;
	}
	j.node = -1;
	run_job(&j);
	for (int n = 0; n <= numa_max_node() && n < 8; n++) {
		locate(&j.cs, n, &w[n]);
		if (w[n].on && (best < 0 || w[n].on > w[best].on))
			best = n;
	}
	tap(best >= 0 && node_has_memory(best) && w[best].off == 0,
	    "memless: CPU %d of memoryless node %d allocated; all %ld pages on node %d",
	    cpu, home, best >= 0 ? w[best].on : 0L, best);
	return failures != 0;
}

int main(int argc, char **argv)
{
	if (numa_available() < 0) {
		tap(0, "libnuma: NUMA is not available");
		return 1;
	}
	if (argc > 1 && !strcmp(argv[1], "local"))
		return cmd_local();
	if (argc > 1 && !strcmp(argv[1], "remote"))
		return cmd_remote();
	if (argc > 1 && !strcmp(argv[1], "bind"))
		return cmd_bind();
	if (argc > 1 && !strcmp(argv[1], "interleave"))
		return cmd_interleave();
	if (argc > 1 && !strcmp(argv[1], "hugetlb"))
		return cmd_hugetlb();
	if (argc > 2 && !strcmp(argv[1], "late"))
		return cmd_late(atoi(argv[2]), argc > 3 ? argv[3] : "late");
	if (argc > 2 && !strcmp(argv[1], "memless"))
		return cmd_memless(atoi(argv[2]));
	fprintf(stderr, "usage: numa_vm local|remote|hugetlb|late CPU|memless CPU\n");
	return 2;
}
