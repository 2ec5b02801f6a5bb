// SPDX-License-Identifier: MIT
/*
 * Reporting: the HAKMEM_STATS summary, mallinfo2(), malloc_info().
 *
 * Everything here formats into stack buffers with hm_snprintf() and writes
 * with write(2): the heap being described is never asked for memory.
 * Counters are read without locks; a report taken while other threads run
 * is a consistent-enough snapshot, not an atomic one.
 */
#include <malloc.h>
#include <string.h>
#include <unistd.h>
#include "hakmem/internal.h"
#include "hakmem/percpu.h"

#ifdef CONFIG_STATS
uint64_t hm_stats[NR_HM_STATS];
#endif

static uint64_t stat_get(enum hm_stat_item i)
{
#ifdef CONFIG_STATS
	return READ_ONCE(hm_stats[i]);
#else
	(void)i;
	return 0;
#endif
}


static const char *tier_name(int tier)
{
	return tier == HM_TIER_HUGETLB ? "hugetlb" : tier == HM_TIER_THP ? "thp" : "4k";
}

static const char *numa_name(void)
{
	if (hm_heap.nr_nodes == 1)
		return os_caps.nr_nodes > 1 ? "off (one heap)" : "none (one node)";
	return os_numa_mode == OS_NUMA_INTERLEAVE ? "interleave" : "local";
}

struct sink {
	int	fd;
	char	buf[2048];
	size_t	pos;
};

static void flush(struct sink *s)
{
	if (s->pos)
		os_write(s->fd, s->buf, s->pos);
	s->pos = 0;
}

#define emit(s, ...) do {							\
	char _line[256];							\
	int _n = hm_snprintf(_line, sizeof(_line), __VA_ARGS__);		\
	if (_n >= (int)sizeof(_line))						\
		_n = sizeof(_line) - 1;						\
	if ((s)->pos + (size_t)_n > sizeof((s)->buf))				\
		flush(s);							\
	memcpy((s)->buf + (s)->pos, _line, (size_t)_n);				\
	(s)->pos += (size_t)_n;							\
} while (0)

static uint64_t class_live_bytes(void)
{
	uint64_t bytes = 0, a, f;

	for (unsigned cls = 0; cls < HM_NCLASS; cls++) {
		pcpu_class_counts(cls, &a, &f);
		if (a > f)
			bytes += (a - f) * hm_class[cls].size;
	}
	return bytes;
}

void stats_print(int fd)
{
	struct sink s = { .fd = fd };
	uint64_t a, f;
	unsigned nr_ss = 0;

	for (unsigned n = 0; n < hm_heap.nr_nodes; n++)
		nr_ss += READ_ONCE(hm_heap.node[n].nr_ss);
	emit(&s, "hakmem: statistics for pid %d\n", (int)getpid());
	emit(&s, "hakmem: front-end: %s; %u possible CPUs, %u node(s)\n",
	     pcpu_mode_name(), hm_heap.nr_cpus, hm_heap.nr_nodes);
	emit(&s, "hakmem: superslabs by page tier: hugetlb %lu, thp %lu, 4k %lu; "
	     "live %u, released %lu, tier fallbacks %lu (hugetlb pool dry %lu)\n",
	     stat_get(ST_SS_HUGETLB), stat_get(ST_SS_THP), stat_get(ST_SS_4K), nr_ss,
	     stat_get(ST_SS_RELEASED), stat_get(ST_TIER_FALLBACK), stat_get(ST_HUGETLB_DRY));
	emit(&s, "hakmem: page tiers: first tried %s; NUMA placement %s, mbind calls %lu\n",
	     tier_name(hm_heap.tier), numa_name(), stat_get(ST_SYS_MBIND));
	for (unsigned n = 0; n < hm_heap.nr_nodes; n++) {
		const struct hm_node *nd = &hm_heap.node[n];

		emit(&s, "hakmem:   node %u: %u superslabs live (hugetlb %u, thp %u, 4k %u)\n",
		     n, READ_ONCE(nd->nr_ss), READ_ONCE(nd->nr_ss_tier[HM_TIER_HUGETLB]),
		     READ_ONCE(nd->nr_ss_tier[HM_TIER_THP]), READ_ONCE(nd->nr_ss_tier[HM_TIER_4K]));
	}
	emit(&s, "hakmem: slabs: %lu made, %lu given back; refills %lu, drains %lu, "
	     "remote frees %lu, cacheless calls %lu, fast-path retries %lu\n",
	     stat_get(ST_SLAB_NEW), stat_get(ST_SLAB_RELEASE), stat_get(ST_REFILL),
	     stat_get(ST_DRAIN), stat_get(ST_REMOTE_FREE), stat_get(ST_PCPU_BUSY),
	     stat_get(ST_PCPU_RETRY));
	emit(&s, "hakmem: large objects: %lu allocated, %lu freed, %ld KiB live\n",
	     stat_get(ST_LARGE_ALLOC), stat_get(ST_LARGE_FREE),
	     (long)READ_ONCE(hm_gauge.large_bytes) >> 10);
	emit(&s, "hakmem: huge objects: %lu allocated, %lu freed, %ld KiB live; "
	     "realloc in place %lu, moved by mremap %lu\n",
	     stat_get(ST_HUGE_ALLOC), stat_get(ST_HUGE_FREE),
	     (long)READ_ONCE(hm_gauge.huge_bytes) >> 10,
	     stat_get(ST_REALLOC_INPLACE), stat_get(ST_REALLOC_MOVE));
	emit(&s, "hakmem: system calls: mmap %lu, munmap %lu, madvise %lu, mremap %lu, "
	     "other %lu\n",
	     stat_get(ST_SYS_MMAP), stat_get(ST_SYS_MUNMAP), stat_get(ST_SYS_MADVISE),
	     stat_get(ST_SYS_MREMAP), stat_get(ST_SYS_OTHER));
	emit(&s, "hakmem: committed %ld KiB now, %ld KiB at peak; peak RSS %ld KiB\n",
	     (long)READ_ONCE(hm_gauge.committed) >> 10,
	     (long)READ_ONCE(hm_gauge.committed_peak) >> 10, os_peak_rss_kib());
	if (HM_STATS_ENABLED) {
		emit(&s, "hakmem: %5s %7s %12s %12s %10s\n", "class", "size", "allocs",
		     "frees", "live");
		for (unsigned cls = 0; cls < HM_NCLASS; cls++) {
			pcpu_class_counts(cls, &a, &f);
			if (!a && !f)
				continue;
			emit(&s, "hakmem: %5u %7u %12lu %12lu %10ld\n", cls, hm_class[cls].size,
			     a, f, (long)(a - f));
		}
	} else {
		emit(&s, "hakmem: per-class counts not built in (CONFIG_STATS=n)\n");
	}
	if (hm_opt.verbose) {
		flush(&s);
		options_print(fd);
	}
	flush(&s);
}

void stats_mallinfo(struct mallinfo2 *mi)
{
	uint64_t small = 0, committed = 0;
	int64_t huge = 0, large = 0;

	memset(mi, 0, sizeof(*mi));
	if (READ_ONCE(hm_init_state) != HM_INIT_DONE)
		return;
	small = class_live_bytes();
	large = READ_ONCE(hm_gauge.large_bytes);
	huge = READ_ONCE(hm_gauge.huge_bytes);
	committed = (uint64_t)READ_ONCE(hm_gauge.committed);
	/* arena: memory in superslabs; hblkhd: huge objects' own mappings. */
	mi->hblks = (size_t)READ_ONCE(hm_gauge.huge_count);
	mi->hblkhd = (size_t)huge;
	mi->arena = committed > (uint64_t)huge ? (size_t)(committed - (uint64_t)huge) : 0;
	mi->uordblks = (size_t)(small + (uint64_t)large);
	mi->fordblks = mi->arena > mi->uordblks ? mi->arena - mi->uordblks : 0;
	mi->usmblks = (size_t)READ_ONCE(hm_gauge.committed_peak);
}

int stats_xml(char *buf, size_t len)
{
	struct mallinfo2 mi;
	int n = 0;

	stats_mallinfo(&mi);
	n += hm_snprintf(buf + n, len - (size_t)n, "<malloc version=\"hakmem-1\">\n");
	for (unsigned node = 0; node < hm_heap.nr_nodes && (size_t)n < len; node++)
		n += hm_snprintf(buf + n, len - (size_t)n,
				 "<heap nr=\"%u\"><superslabs count=\"%u\"/></heap>\n", node,
				 READ_ONCE(hm_heap.node[node].nr_ss));
	if ((size_t)n < len)
		n += hm_snprintf(buf + n, len - (size_t)n,
				 "<total type=\"committed\" size=\"%zu\"/>\n"
				 "<total type=\"huge\" count=\"%zu\" size=\"%zu\"/>\n"
				 "<system type=\"current\" size=\"%zu\"/>\n"
				 "<system type=\"max\" size=\"%zu\"/>\n"
				 "<aspace type=\"total\" size=\"%zu\"/>\n"
				 "<inuse size=\"%zu\"/>\n"
				 "</malloc>\n",
				 mi.arena + mi.hblkhd, mi.hblks, mi.hblkhd, mi.arena + mi.hblkhd,
				 mi.usmblks, (size_t)hm_heap.span, mi.uordblks);
	return (size_t)n < len ? n : -1;
}
