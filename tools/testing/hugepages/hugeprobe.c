// SPDX-License-Identifier: MIT
/*
 * hugeprobe - allocate a heap and say, from /proc/self/smaps, what pages
 * back it.  Run by tools/testing/hugepages/hugepages.sh under LD_PRELOAD.
 *
 *   hugeprobe MIB [SIZE [nofd]]
 *                           MIB MiB of SIZE-byte objects (default 64),
 *                           every one written, plus one 8 MiB block;
 *                           with nofd, the 8 MiB block is allocated while
 *                           every file descriptor is taken (hakmem's
 *                           hugetlb memfd cannot be made then)
 *
 * Prints key=value lines:
 *   heap_kb          bytes of mappings holding the small objects (KiB)
 *   heap_page_kb     largest KernelPageSize among them
 *   heap_hugetlb_kb  Private_Hugetlb + Shared_Hugetlb among them
 *   heap_anonhuge_kb AnonHugePages among them
 *   big_page_kb      KernelPageSize of the 8 MiB block's mapping
 *   big_hugetlb_kb   its hugetlb KiB
 *   heap_name        the name maps gives the heap's mappings ("-" for
 *                    none, "mixed" when they differ)
 *   big_name         the same for the 8 MiB block
 *   minflt           minor page faults while allocating and writing
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "procmaps.h"

#define SS_MASK		((uintptr_t)(2UL << 20) - 1)

struct range { uintptr_t lo, hi; };

static struct range *ss;		/* 2 MiB chunks holding objects */
static size_t nss, capss;

static void note_chunk(uintptr_t p)
{
	uintptr_t c = p & ~SS_MASK;

	if (nss && ss[nss - 1].lo == c)
		return;
	for (size_t i = 0; i < nss; i++)
		if (ss[i].lo == c)
			return;
	if (nss == capss) {
		capss = capss ? capss * 2 : 64;
		ss = realloc(ss, capss * sizeof(*ss));
		if (!ss)
			exit(2);
	}
	ss[nss].lo = c;
	ss[nss++].hi = c + SS_MASK + 1;
}

struct sums { long kb, page_kb, hugetlb_kb, anonhuge_kb; char name[160]; };

/* Fold the name of a mapping header (after five fields) into out->name. */
static void note_name(const char *line, struct sums *out)
{
	char name[160];
	size_t len;
	const char *s = maps_line_name(line, &len);

	if (!len || len >= sizeof(name))
		len = 0;
	memcpy(name, s, len);
	name[len] = '\0';
	if (!len)
		strcpy(name, "-");
	if (!out->name[0])
		strcpy(out->name, name);
	else if (strcmp(out->name, name))
		strcpy(out->name, "mixed");
}

static int overlaps(uintptr_t lo, uintptr_t hi, const struct range *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].lo < hi && lo < r[i].hi)
			return 1;
	return 0;
}

static void scan(const struct range *r, size_t n, struct sums *out)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;

	memset(out, 0, sizeof(*out));
	if (!f)
		exit(2);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		long v;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = overlaps(lo, hi, r, n);
			if (in) {
				out->kb += (long)((hi - lo) >> 10);
				note_name(line, out);
			}
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "KernelPageSize: %ld kB", &v) == 1 && v > out->page_kb)
			out->page_kb = v;
		else if (sscanf(line, "Private_Hugetlb: %ld kB", &v) == 1 ||
			 sscanf(line, "Shared_Hugetlb: %ld kB", &v) == 1)
			out->hugetlb_kb += v;
		else if (sscanf(line, "AnonHugePages: %ld kB", &v) == 1)
			out->anonhuge_kb += v;
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 16;
	size_t size = argc > 2 ? strtoul(argv[2], NULL, 0) : 64;
	size_t n = (mib << 20) / size;
	struct rusage r0, r1;
	struct sums heap, big;
	struct range br;
	char *b;

	getrusage(RUSAGE_SELF, &r0);
	for (size_t i = 0; i < n; i++) {
		char *p = malloc(size);

		if (!p) {
			printf("malloc_failed_at=%zu\n", i);
			return 1;
		}
		memset(p, 1, size);
		note_chunk((uintptr_t)p);
	}
	if (argc > 3 && !strcmp(argv[3], "nofd")) {
		int fds[4096], k = 0, fd;

		while (k < 4096 && (fd = dup(0)) >= 0)
			fds[k++] = fd;
		b = malloc(8UL << 20);
		if (b)
			memset(b, 1, 8UL << 20);
		printf("nofd_dups=%d\n", k);
		while (k > 0)
			close(fds[--k]);
	} else {
		b = malloc(8UL << 20);
		if (b)
			memset(b, 1, 8UL << 20);
	}
	if (!b)
		return 1;
	getrusage(RUSAGE_SELF, &r1);
	scan(ss, nss, &heap);
	br.lo = (uintptr_t)b;
	br.hi = br.lo + (8UL << 20);
	scan(&br, 1, &big);
	printf("objects=%zu\nchunks=%zu\n", n, nss);
	printf("heap_kb=%ld\nheap_page_kb=%ld\nheap_hugetlb_kb=%ld\nheap_anonhuge_kb=%ld\n",
	       heap.kb, heap.page_kb, heap.hugetlb_kb, heap.anonhuge_kb);
	printf("big_page_kb=%ld\nbig_hugetlb_kb=%ld\nbig_anonhuge_kb=%ld\n",
	       big.page_kb, big.hugetlb_kb, big.anonhuge_kb);
	printf("heap_name=%s\nbig_name=%s\n", heap.name, big.name);
	printf("minflt=%ld\n", r1.ru_minflt - r0.ru_minflt);
	fflush(stdout);
	return 0;
}
