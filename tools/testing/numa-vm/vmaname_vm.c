// SPDX-License-Identifier: MIT
/*
 * vmaname_vm - the heap's mapping names, read back from /proc/self/smaps
 * on a kernel built with CONFIG_ANON_VMA_NAME: the guest of
 * tools/testing/numa-vm/vmaname-vm.sh runs it once per page tier.
 *
 *   vmaname_vm TIER     TIER (hugetlb, thp or 4k) is the tier the run
 *                       set up with HAKMEM_HUGEPAGES and the pool
 *
 * The guest has two nodes, one CPU each.  The program pins itself to
 * node 0's CPU; a thread pinned to each node's CPU in turn allocates a
 * 64-byte block, a 256 KiB one and an 8 MiB one and writes them, and the
 * program finds the mapping that holds each in smaps.  Every page of a
 * block of node N's thread must be on node N
 * (get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR)), and its mapping named for
 * node N:
 *
 *   - thp, 4k: [anon:hakmem-<tier>-nN] for the tier hakmem reports
 *     (hakmem_stats_get()), and the 8 MiB block's pages are of that tier
 *     (AnonHugePages on the thp heap, none on the 4k one);
 *   - hugetlb: a hugetlb mapping cannot take an anonymous name (it is a
 *     file of the kernel's internal hugetlbfs mount; the errno the kernel
 *     gives is asked of a MAP_HUGETLB mapping of this program's own), so
 *     hakmem maps its pages from a memfd it names: the blocks' mappings
 *     must be 2 MiB-page mappings shown as /memfd:hakmem-hugetlb-nN
 *     (deleted).  A block the pool cannot hold, which falls back to THP,
 *     must be named too: naming goes on after the hugetlb ranges.
 *
 * In every run the metadata shows as [anon:hakmem-meta], and the kernel
 * names an anonymous mapping of this program's own (it has the option).
 * The nodes' CPUs come from /sys/devices/system/node/nodeN/cpulist, and
 * getcpu tells that each thread ran on its node.
 *
 * Linked statically against libhakmem.a (see the Makefile): the guest
 * has no libc but this program's.  Output: TAP lines without numbers
 * ("ok - ..."), numbered by the host, and the smaps lines of the heap's
 * mappings as "#" comments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "hakmem.h"
#include "guest_tap.h"
#include "procmaps.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA		0x53564d41
#define PR_SET_VMA_ANON_NAME	0
#endif

/* get_mempolicy(2) flags: the node of the page at an address. */
#ifndef MPOL_F_NODE
#define MPOL_F_NODE		(1 << 0)
#define MPOL_F_ADDR		(1 << 1)
#endif

#define HUGE_PAGE	(2UL << 20)
#define PAGE		4096UL
/* What smaps shows for hakmem's hugetlb file of a node (mm/os.c). */
#define HUGETLB_NAME	"/memfd:hakmem-hugetlb-n%d (deleted)"

/* One mapping of smaps: its first line and the sizes the checks read. */
struct vma {
	unsigned long	start, end;
	char		line[192];	/* the header line, as the kernel wrote it */
	const char	*name;		/* in line: "" when the mapping has none */
	long		kernel_page_kb, anon_huge_kb, hugetlb_kb;
};

#define MAX_VMAS	1024

/*
 * Static, not malloc'd: the heap under test must not grow while its
 * mappings are read, and smaps is read whole before it is parsed.
 */
static char smaps[1 << 20];
static struct vma vmas[MAX_VMAS];
static int nr_vmas;

static long field_kb(const char *line, const char *key)
{
	size_t n = strlen(key);

	if (strncmp(line, key, n) || line[n] != ':')
		return -1;
	return strtol(line + n + 1, NULL, 10);
}

static int read_smaps(void)
{
	size_t len = 0;
	ssize_t r;
	char *s, *eol;
	int fd;

	fd = open("/proc/self/smaps", O_RDONLY);
	if (fd < 0)
		return -1;
	while (len < sizeof(smaps) - 1 && (r = read(fd, smaps + len, sizeof(smaps) - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	smaps[len] = '\0';

	nr_vmas = 0;
	for (s = smaps; *s; s = eol + 1) {
		struct vma *v = nr_vmas ? &vmas[nr_vmas - 1] : NULL;
		unsigned long a, b;
		int at = 0;
		size_t n;
		long kb;

		eol = strchr(s, '\n');
		if (!eol)
			break;
		*eol = '\0';
		/* A header: "start-end perms offset dev inode   name". */
		if (sscanf(s, "%lx-%lx %*s %*x %*x:%*x %*u%n", &a, &b, &at) == 2 && at > 0) {
			if (nr_vmas == MAX_VMAS)
				return -1;
			v = &vmas[nr_vmas++];
			memset(v, 0, sizeof(*v));
			v->start = a;
			v->end = b;
			n = strlen(s) < sizeof(v->line) ? strlen(s) : sizeof(v->line) - 1;
			memcpy(v->line, s, n);		/* zero-terminated by the memset */
			v->name = maps_line_name(v->line, &n);
			v->kernel_page_kb = -1;
			continue;
		}
		if (!v)
			continue;
		if ((kb = field_kb(s, "KernelPageSize")) >= 0)
			v->kernel_page_kb = kb;
		else if ((kb = field_kb(s, "AnonHugePages")) >= 0)
			v->anon_huge_kb = kb;
		else if ((kb = field_kb(s, "Private_Hugetlb")) >= 0 ||
			 (kb = field_kb(s, "Shared_Hugetlb")) >= 0)
			v->hugetlb_kb += kb;
	}
	return nr_vmas;
}

static const struct vma *vma_of(const void *p)
{
	unsigned long a = (unsigned long)p;

	for (int i = 0; i < nr_vmas; i++)
		if (a >= vmas[i].start && a < vmas[i].end)
			return &vmas[i];
	return NULL;
}

static void show(const char *what, const struct vma *v)
{
	if (!v) {
		printf("# %s: in no mapping of smaps\n", what);
		return;
	}
	printf("# %s: %s\n", what, v->line);
	printf("#   %lu kB, KernelPageSize %ld kB, AnonHugePages %ld kB, Private+Shared_Hugetlb %ld kB\n",
	       (v->end - v->start) >> 10, v->kernel_page_kb, v->anon_huge_kb, v->hugetlb_kb);
}

/* Name a mapping of our own: 0, or the errno the kernel gives. */
static int try_name(void *addr, size_t len, const char *name)
{
	if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)addr, len,
		  (unsigned long)name) == 0)
		return 0;
	return errno;
}

/*
 * Write the pages, for good: a block that is only written and freed is
 * dead to the compiler, which dropped the two memsets of the 64 MiB
 * block (its pages were never faulted in); the empty asm reads memory.
 */
static void fill(void *p, size_t len)
{
	memset(p, 0x5a, len);
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* The first CPU of node (its cpulist in sysfs), or -1. */
static int cpu_of_node(int node)
{
	char path[80], buf[64] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", node);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || buf[0] < '0' || buf[0] > '9')
		return -1;
	return atoi(buf);
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* The node of the page at p, faulting it in: -1 when the kernel cannot say. */
static int node_of_page(const void *p)
{
	int node = -1;

	if (syscall(SYS_get_mempolicy, &node, NULL, 0UL, p, MPOL_F_NODE | MPOL_F_ADDR))
		return -1;
	return node;
}

/* What one node's thread allocated, and where it ran. */
struct job {
	int		node, cpu;
	int		pinned;		/* sched_setaffinity succeeded */
	int		node_seen;	/* getcpu's node after allocating */
	unsigned	cpu_seen;
	struct { const char *what; size_t size; void *p; } blk[3];
};

#define NR_BLKS	3

static void *alloc_job(void *arg)
{
	static const struct { const char *what; size_t size; } sizes[NR_BLKS] = {
		{ "64 B block", 64 },
		{ "256 KiB block", 256UL << 10 },
		{ "8 MiB block", 8UL << 20 },
	};
	struct job *j = arg;
	unsigned cpu = 0, node = 0;

	j->pinned = pin(j->cpu) == 0;
	for (int i = 0; i < NR_BLKS; i++) {
		j->blk[i].what = sizes[i].what;
		j->blk[i].size = sizes[i].size;
		j->blk[i].p = malloc(sizes[i].size);
		if (j->blk[i].p)
			fill(j->blk[i].p, sizes[i].size);
	}
	getcpu(&cpu, &node);
	j->cpu_seen = cpu;
	j->node_seen = (int)node;
	return NULL;
}

/*
 * Every 4 KiB page of block i of j on j's node?  One get_mempolicy call a
 * page: 2113 for the three blocks, quick even under TCG.
 */
static void check_pages(const struct job *j, int i, const char *tier)
{
	uintptr_t a = (uintptr_t)j->blk[i].p & ~(PAGE - 1);
	uintptr_t end = (uintptr_t)j->blk[i].p + j->blk[i].size;
	long on = 0, off = 0, unknown = 0;
	int other = -1;

	for (; a < end; a += PAGE) {
		int n = node_of_page((void *)a);

		if (n == j->node) {
			on++;
		} else if (n >= 0) {
			off++;
			other = n;
		} else {
			unknown++;
		}
	}
	tap(on > 0 && off == 0 && unknown == 0,
	    "%s: node %d's %s: %ld pages on node %d, %ld elsewhere (last on node %d), %ld unknown "
	    "(get_mempolicy)", tier, j->node, j->blk[i].what, on, j->node, off, other, unknown);
}

/* The checks of one node's blocks against smaps (read before the call). */
static void check_job(const struct job *j, const char *tier, const char *first_tier)
{
	const struct vma *v;
	char want[48], what[48];

	tap(j->pinned && j->node_seen == j->node,
	    "%s: node %d's thread ran pinned on CPU %u of node %d (getcpu)",
	    tier, j->node, j->cpu_seen, j->node_seen);
	if (!strcmp(tier, "hugetlb"))
		snprintf(want, sizeof(want), HUGETLB_NAME, j->node);
	else
		snprintf(want, sizeof(want), "[anon:hakmem-%s-n%d]", first_tier, j->node);
	for (int i = 0; i < NR_BLKS; i++) {
		v = j->blk[i].p ? vma_of(j->blk[i].p) : NULL;
		snprintf(what, sizeof(what), "node %d's %s", j->node, j->blk[i].what);
		show(what, v);
		if (!strcmp(tier, "hugetlb"))
			tap(v && !strcmp(v->name, want) && v->kernel_page_kb == 2048 &&
			    v->hugetlb_kb > 0,
			    "%s: %s is on a 2 MiB hugetlb mapping named '%s' (want '%s')",
			    tier, what, v ? v->name : "(none)", want);
		else
			tap(v && !strcmp(v->name, want), "%s: %s lies in a mapping named '%s' (want '%s')",
			    tier, what, v ? v->name : "(none)", want);
		if (j->blk[i].p)
			check_pages(j, i, tier);
	}
	/* The name must tell the truth about the pages, too. */
	v = j->blk[2].p ? vma_of(j->blk[2].p) : NULL;
	if (!strcmp(tier, "thp"))
		tap(v && v->anon_huge_kb > 0, "thp: node %d's 8 MiB block's mapping has transparent "
		    "huge pages (AnonHugePages %ld kB)", j->node, v ? v->anon_huge_kb : -1L);
	else if (!strcmp(tier, "4k"))
		tap(v && v->anon_huge_kb == 0 && v->kernel_page_kb == 4,
		    "4k: node %d's 8 MiB block's mapping has 4 KiB pages only (AnonHugePages %ld kB)",
		    j->node, v ? v->anon_huge_kb : -1L);
}

int main(int argc, char **argv)
{
	static struct hakmem_stats st;
	const char *tier = argc > 1 ? argv[1] : "";
	struct job jobs[2];
	const struct vma *v;
	int err, metas = 0;
	long meta_kb = 0;
	void *m;

	if (strcmp(tier, "hugetlb") && strcmp(tier, "thp") && strcmp(tier, "4k")) {
		fprintf(stderr, "usage: vmaname_vm hugetlb|thp|4k\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	/*
	 * What the program itself allocates from here on (the 64 MiB block
	 * of the hugetlb run) comes from node 0; the heap started before
	 * main(), wherever the kernel ran it.
	 */
	memset(jobs, 0, sizeof(jobs));
	for (int n = 0; n < 2; n++) {
		jobs[n].node = n;
		jobs[n].cpu = cpu_of_node(n);
	}
	tap(jobs[0].cpu >= 0 && jobs[1].cpu >= 0, "%s: the guest has CPUs on nodes 0 and 1 "
	    "(first CPUs %d and %d)", tier, jobs[0].cpu, jobs[1].cpu);
	if (jobs[0].cpu < 0 || jobs[1].cpu < 0)
		return 1;
	pin(jobs[0].cpu);

	/* Does the kernel name anonymous memory at all? */
	m = mmap(NULL, 1UL << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	err = m == MAP_FAILED ? errno : try_name(m, 1UL << 20, "vmaname-probe");
	tap(!err, "%s: the kernel names an anonymous mapping of the program (prctl: %s)",
	    tier, err ? strerror(err) : "0");

	/* One thread at a time, each pinned to its node's CPU. */
	for (int n = 0; n < 2; n++) {
		pthread_t t;

		if (pthread_create(&t, NULL, alloc_job, &jobs[n]) == 0)
			pthread_join(t, NULL);
	}
	if (hakmem_stats_get(&st, sizeof(st)) <= 0)
		memset(&st, 0, sizeof(st));
	tap(!strcmp(st.first_tier, tier) && st.nr_nodes == 2,
	    "%s: hakmem reports its heap on the %s tier, %u nodes (superslabs node 0: hugetlb %llu, "
	    "thp %llu, 4k %llu; node 1: hugetlb %llu, thp %llu, 4k %llu)", tier, st.first_tier,
	    st.nr_nodes, (unsigned long long)st.ss_node_tier[0][0],
	    (unsigned long long)st.ss_node_tier[0][1], (unsigned long long)st.ss_node_tier[0][2],
	    (unsigned long long)st.ss_node_tier[1][0], (unsigned long long)st.ss_node_tier[1][1],
	    (unsigned long long)st.ss_node_tier[1][2]);
	if (read_smaps() <= 0) {
		tap(0, "%s: /proc/self/smaps is readable", tier);
		return 1;
	}

	for (int n = 0; n < 2; n++)
		check_job(&jobs[n], tier, st.first_tier);

	for (int i = 0; i < nr_vmas; i++)
		if (!strcmp(vmas[i].name, "[anon:hakmem-meta]")) {
			metas++;
			show("metadata", &vmas[i]);
			meta_kb += (long)((vmas[i].end - vmas[i].start) >> 10);
		}
	tap(metas > 0, "%s: %d mapping(s) named [anon:hakmem-meta], %ld kB", tier, metas, meta_kb);

	if (!strcmp(tier, "hugetlb")) {
		void *big;

		/*
		 * What the kernel says when asked to name an anonymous
		 * hugetlb mapping, which is what hakmem maps where it
		 * cannot create its memfd.
		 */
		m = mmap(NULL, HUGE_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (m == MAP_FAILED) {
			tap(0, "hugetlb: a hugetlb page to ask the kernel about (mmap: %s)",
			    strerror(errno));
		} else {
			err = try_name(m, HUGE_PAGE, "vmaname-probe");
			tap(err == EBADF, "hugetlb: the kernel refuses to name a hugetlb mapping "
			    "with EBADF (prctl: %s)", err ? strerror(err) : "0");
			munmap(m, HUGE_PAGE);
		}
		/*
		 * 64 MiB is more than the guest's pool of 20 pages holds:
		 * the block falls back to THP, and its range, committed
		 * after the hugetlb ones, must be named (for node 0, the
		 * node this thread is pinned to).
		 */
		big = malloc(64UL << 20);
		if (big) {
			fill(big, 4096);
			fill((char *)big + (64UL << 20) - 4096, 4096);
		}
		read_smaps();
		v = big ? vma_of(big) : NULL;
		show("64 MiB block", v);
		tap(v && !strcmp(v->name, "[anon:hakmem-thp-n0]"),
		    "hugetlb: a 64 MiB block past the pool falls back and is named '%s' "
		    "(want '[anon:hakmem-thp-n0]')", v ? v->name : "(none)");
		free(big);
	}
	for (int n = 0; n < 2; n++)
		for (int i = 0; i < NR_BLKS; i++)
			free(jobs[n].blk[i].p);
	return failures ? 1 : 0;
}
