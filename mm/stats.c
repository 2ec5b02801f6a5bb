// SPDX-License-Identifier: MIT
/*
 * Reporting: the HAKMEM_STATS summary (text or JSON), hakmem_stats_get(),
 * malloc_stats(), mallinfo2(), malloc_info().  All of them start from one
 * snapshot, stats_collect(), so they carry the same facts.
 *
 * Everything here formats into stack buffers with hm_snprintf() and writes
 * with write(2): the heap being described is never asked for memory.
 * Counters are read without locks; a report taken while other threads run
 * is a consistent-enough snapshot, not an atomic one.
 */
#include <malloc.h>
#include "hakmem.h"
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


static const char *numa_name(void)
{
	if (hm_heap.nr_nodes == 1)
		return os_caps.nr_nodes > 1 ? "off (one heap)" : "none (one node)";
	return os_numa_mode == OS_NUMA_INTERLEAVE ? "interleave" : "local";
}

struct sink {
	int	fd;
	char	buf[4096];
	size_t	pos;
};

static void flush(struct sink *s)
{
	if (s->pos)
		os_write(s->fd, s->buf, s->pos);
	s->pos = 0;
}

#define emit(s, ...) do {							\
	char _line[1024];							\
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

static void copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The snapshot behind every report.  Takes the central locks one by one. */
void stats_collect(struct hakmem_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->version = HAKMEM_STATS_VERSION;
	st->size = sizeof(*st);
	st->counters = HM_STATS_ENABLED;
	if (READ_ONCE(hm_init_state) != HM_INIT_DONE)
		return;
	copy_str(st->profile, sizeof(st->profile), options_profile_name());
	copy_str(st->front_end, sizeof(st->front_end), pcpu_mode_name());
	copy_str(st->first_tier, sizeof(st->first_tier), hm_tier_name(hm_heap.tier));
	copy_str(st->numa, sizeof(st->numa), numa_name());
	st->nr_cpus = hm_heap.nr_cpus;
	st->nr_nodes = hm_heap.nr_nodes;
	st->nr_classes = HM_NCLASS;
	for (unsigned n = 0; n < hm_heap.nr_nodes; n++) {
		const struct hm_node *nd = &hm_heap.node[n];

		st->ss_live += READ_ONCE(nd->nr_ss);
		st->ss_empty += READ_ONCE(nd->nr_empty);
		st->dirty_bytes += (uint64_t)READ_ONCE(nd->dirty_pages) << HM_PAGE_SHIFT;
		for (unsigned t = 0; t < HM_NR_TIERS && n < HAKMEM_STATS_NODES; t++)
			st->ss_node_tier[n][t] = READ_ONCE(nd->nr_ss_tier[t]);
	}
	st->ss_committed[HM_TIER_HUGETLB] = stat_get(ST_SS_HUGETLB);
	st->ss_committed[HM_TIER_THP] = stat_get(ST_SS_THP);
	st->ss_committed[HM_TIER_4K] = stat_get(ST_SS_4K);
	st->ss_released = stat_get(ST_SS_RELEASED);
	st->ss_purged = stat_get(ST_SS_PURGED);
	st->purges = stat_get(ST_PURGE);
	st->purged_bytes = stat_get(ST_PURGED_PAGES) << HM_PAGE_SHIFT;
	st->trims = stat_get(ST_TRIM);
	st->refills = stat_get(ST_REFILL);
	st->drains = stat_get(ST_DRAIN);
	st->tier_fallbacks = stat_get(ST_TIER_FALLBACK);
	st->busy_fallbacks = stat_get(ST_PCPU_BUSY);
	st->remote_frees = stat_get(ST_REMOTE_FREE);
	st->hugetlb_dry = stat_get(ST_HUGETLB_DRY);
	st->fastpath_retries = stat_get(ST_PCPU_RETRY);
	st->sys_mbind = stat_get(ST_SYS_MBIND);
	st->slabs_made = stat_get(ST_SLAB_NEW);
	st->slabs_released = stat_get(ST_SLAB_RELEASE);
	st->large_allocs = stat_get(ST_LARGE_ALLOC);
	st->large_frees = stat_get(ST_LARGE_FREE);
	st->large_bytes = (uint64_t)READ_ONCE(hm_gauge.large_bytes);
	st->huge_allocs = stat_get(ST_HUGE_ALLOC);
	st->huge_frees = stat_get(ST_HUGE_FREE);
	st->huge_bytes = (uint64_t)READ_ONCE(hm_gauge.huge_bytes);
	st->sys_mmap = stat_get(ST_SYS_MMAP);
	st->sys_munmap = stat_get(ST_SYS_MUNMAP);
	st->sys_madvise = stat_get(ST_SYS_MADVISE);
	st->sys_mremap = stat_get(ST_SYS_MREMAP);
	st->sys_mprotect = stat_get(ST_SYS_MPROTECT);
	st->sys_other = stat_get(ST_SYS_OTHER);
	st->syscalls = st->sys_mmap + st->sys_munmap + st->sys_madvise + st->sys_mremap +
		       st->sys_mprotect + st->sys_mbind + st->sys_other;
	st->committed_bytes = (uint64_t)READ_ONCE(hm_gauge.committed);
	st->committed_peak_bytes = (uint64_t)READ_ONCE(hm_gauge.committed_peak);
	st->rss_bytes = (uint64_t)MAX(os_rss_kib(), 0L) << 10;
	st->peak_rss_bytes = (uint64_t)MAX(os_peak_rss_kib(), 0L) << 10;
	for (unsigned cls = 0; cls < HM_NCLASS && cls < HAKMEM_STATS_CLASSES; cls++) {
		struct hakmem_stats_class *c = &st->cls[cls];
		uint64_t a, f;

		pcpu_class_counts(cls, &a, &f);
		c->size = hm_class[cls].size;
		c->allocs = a;
		c->frees = f;
		c->live = a > f ? a - f : 0;
		c->slabs = slab_count(cls);
		c->pcpu_objects = pcpu_cached_objects(cls);
		for (unsigned n = 0; n < hm_heap.nr_nodes; n++)
			c->central_objects += central_free_objects(n, cls);
		st->pcpu_bytes += c->pcpu_objects * c->size;
		st->central_bytes += c->central_objects * c->size;
	}
}

void stats_print(int fd)
{
	struct sink s = { .fd = fd };
	struct hakmem_stats st;

	stats_collect(&st);
	emit(&s, "hakmem: statistics for pid %d (hakmem %s, profile %s)\n", (int)getpid(),
	     HAKMEM_VERSION, st.profile);
	emit(&s, "hakmem: front-end: %s; %u possible CPUs, %u node(s)\n",
	     st.front_end, st.nr_cpus, st.nr_nodes);
	emit(&s, "hakmem: superslabs by page tier: hugetlb %lu, thp %lu, 4k %lu; "
	     "live %lu (%lu empty kept), released %lu, tier fallbacks %lu\n",
	     st.ss_committed[0], st.ss_committed[1], st.ss_committed[2], st.ss_live,
	     st.ss_empty, st.ss_released, st.tier_fallbacks);
	for (unsigned n = 0; n < st.nr_nodes && n < HAKMEM_STATS_NODES; n++)
		emit(&s, "hakmem: node %u superslabs live: hugetlb %lu, thp %lu, 4k %lu\n", n,
		     st.ss_node_tier[n][0], st.ss_node_tier[n][1], st.ss_node_tier[n][2]);
	emit(&s, "hakmem: memory return: %lu purges (%lu KiB), %lu empty superslabs purged, "
	     "%lu KiB of free pages resident, %lu malloc_trim calls\n",
	     st.purges, st.purged_bytes >> 10, st.ss_purged, st.dirty_bytes >> 10, st.trims);
	emit(&s, "hakmem: caches: %lu KiB in per-CPU caches, %lu KiB free in central lists; "
	     "refills %lu, drains %lu\n",
	     st.pcpu_bytes >> 10, st.central_bytes >> 10, st.refills, st.drains);
	emit(&s, "hakmem: page tiers: first tried %s, hugetlb pool dry %lu times; "
	     "NUMA placement %s, mbind calls %lu\n",
	     st.first_tier, st.hugetlb_dry, st.numa, st.sys_mbind);
	emit(&s, "hakmem: fallbacks: page tier %lu, no cache to use %lu, "
	     "remote frees %lu, fast-path retries %lu\n", st.tier_fallbacks, st.busy_fallbacks,
	     st.remote_frees, st.fastpath_retries);
	emit(&s, "hakmem: slabs: %lu made, %lu given back\n", st.slabs_made, st.slabs_released);
	emit(&s, "hakmem: large objects: %lu allocated, %lu freed, %lu KiB live\n",
	     st.large_allocs, st.large_frees, st.large_bytes >> 10);
	emit(&s, "hakmem: huge objects: %lu allocated, %lu freed, %lu KiB live; "
	     "realloc in place %lu, moved by mremap %lu\n",
	     st.huge_allocs, st.huge_frees, st.huge_bytes >> 10,
	     stat_get(ST_REALLOC_INPLACE), stat_get(ST_REALLOC_MOVE));
	if (stat_get(ST_FORK_COPY))
		emit(&s, "hakmem: fork: %lu forks copied %lu hugetlb chunks for their children\n",
		     stat_get(ST_FORK_COPY), stat_get(ST_FORK_COPY_CHUNKS));
	emit(&s, "hakmem: system calls: %lu (mmap %lu, munmap %lu, madvise %lu, mremap %lu, "
	     "other %lu)\n", st.syscalls, st.sys_mmap, st.sys_munmap, st.sys_madvise,
	     st.sys_mremap, st.sys_other);
	emit(&s, "hakmem: committed %lu KiB now, %lu KiB at peak; RSS %lu KiB now, "
	     "peak RSS %lu KiB\n", st.committed_bytes >> 10, st.committed_peak_bytes >> 10,
	     st.rss_bytes >> 10, st.peak_rss_bytes >> 10);
	if (!HM_STATS_ENABLED)
		emit(&s, "hakmem: event counters not built in (CONFIG_STATS=n)\n");
	emit(&s, "hakmem: %5s %7s %12s %12s %10s %7s %8s %8s\n", "class", "size", "allocs",
	     "frees", "live", "slabs", "percpu", "central");
	for (unsigned cls = 0; cls < st.nr_classes; cls++) {
		const struct hakmem_stats_class *c = &st.cls[cls];

		if (!c->allocs && !c->frees && !c->slabs)
			continue;
		emit(&s, "hakmem: %5u %7lu %12lu %12lu %10lu %7lu %8lu %8lu\n", cls, c->size,
		     c->allocs, c->frees, c->live, c->slabs, c->pcpu_objects, c->central_objects);
	}
	if (hm_opt.verbose) {
		flush(&s);
		options_print(fd);
	}
	flush(&s);
}

/* The same facts as one JSON object on one line (plus a newline). */
void stats_json(int fd)
{
	struct sink s = { .fd = fd };
	struct hakmem_stats st;
	char opts[1024];
	bool first = true;

	stats_collect(&st);
	if (options_json(opts, sizeof(opts)) < 0)
		opts[0] = '\0';
	emit(&s, "{\"hakmem\": \"%s\", \"stats_version\": %u, \"pid\": %d, "
	     "\"profile\": \"%s\", \"front_end\": \"%s\", \"cpus\": %u, \"nodes\": %u, "
	     "\"counters\": %s, ", HAKMEM_VERSION, st.version, (int)getpid(), st.profile,
	     st.front_end, st.nr_cpus, st.nr_nodes, st.counters ? "true" : "false");
	emit(&s, "\"options\": {");
	emit(&s, "%s", opts);
	emit(&s, "}, \"superslabs\": {\"live\": %lu, \"empty_kept\": %lu, \"released\": %lu, "
	     "\"committed\": {\"hugetlb\": %lu, \"thp\": %lu, \"4k\": %lu}, \"by_node\": [",
	     st.ss_live, st.ss_empty, st.ss_released, st.ss_committed[0], st.ss_committed[1],
	     st.ss_committed[2]);
	for (unsigned n = 0; n < st.nr_nodes && n < HAKMEM_STATS_NODES; n++)
		emit(&s, "%s{\"node\": %u, \"%s\": %lu, \"%s\": %lu, \"%s\": %lu}", n ? ", " : "",
		     n, hm_tier_name(HM_TIER_HUGETLB), st.ss_node_tier[n][HM_TIER_HUGETLB],
		     hm_tier_name(HM_TIER_THP), st.ss_node_tier[n][HM_TIER_THP],
		     hm_tier_name(HM_TIER_4K), st.ss_node_tier[n][HM_TIER_4K]);
	emit(&s, "]}, \"memory_return\": {\"purges\": %lu, \"purged_bytes\": %lu, "
	     "\"superslabs_purged\": %lu, \"superslabs_released\": %lu, \"dirty_bytes\": %lu, "
	     "\"trims\": %lu}, ", st.purges, st.purged_bytes, st.ss_purged, st.ss_released,
	     st.dirty_bytes, st.trims);
	emit(&s, "\"caches\": {\"pcpu_bytes\": %lu, \"central_bytes\": %lu, \"refills\": %lu, "
	     "\"drains\": %lu}, ", st.pcpu_bytes, st.central_bytes, st.refills, st.drains);
	emit(&s, "\"fallbacks\": {\"page_tier\": %lu, \"hugetlb_dry\": %lu, \"busy_cache\": %lu, "
	     "\"remote_free\": %lu, \"fastpath_retries\": %lu}, ", st.tier_fallbacks,
	     st.hugetlb_dry, st.busy_fallbacks, st.remote_frees, st.fastpath_retries);
	emit(&s, "\"placement\": {\"first_tier\": \"%s\", \"numa\": \"%s\", "
	     "\"mbind_calls\": %lu}, ", st.first_tier, st.numa, st.sys_mbind);
	emit(&s, "\"slabs\": {\"made\": %lu, \"released\": %lu}, ", st.slabs_made,
	     st.slabs_released);
	emit(&s, "\"large\": {\"allocs\": %lu, \"frees\": %lu, \"bytes\": %lu}, "
	     "\"huge\": {\"allocs\": %lu, \"frees\": %lu, \"bytes\": %lu}, ",
	     st.large_allocs, st.large_frees, st.large_bytes, st.huge_allocs, st.huge_frees,
	     st.huge_bytes);
	emit(&s, "\"syscalls\": {\"total\": %lu, \"mmap\": %lu, \"munmap\": %lu, "
	     "\"madvise\": %lu, \"mremap\": %lu, \"mprotect\": %lu, \"other\": %lu}, ",
	     st.syscalls, st.sys_mmap, st.sys_munmap, st.sys_madvise, st.sys_mremap,
	     st.sys_mprotect, st.sys_other);
	emit(&s, "\"memory\": {\"committed_bytes\": %lu, \"committed_peak_bytes\": %lu, "
	     "\"rss_bytes\": %lu, \"peak_rss_bytes\": %lu}, \"classes\": [",
	     st.committed_bytes, st.committed_peak_bytes, st.rss_bytes, st.peak_rss_bytes);
	for (unsigned cls = 0; cls < st.nr_classes; cls++) {
		const struct hakmem_stats_class *c = &st.cls[cls];

		if (!c->allocs && !c->frees && !c->slabs)
			continue;
		emit(&s, "%s{\"class\": %u, \"size\": %lu, \"allocs\": %lu, \"frees\": %lu, "
		     "\"live\": %lu, \"slabs\": %lu, \"pcpu_objects\": %lu, "
		     "\"central_objects\": %lu}", first ? "" : ", ", cls, c->size, c->allocs,
		     c->frees, c->live, c->slabs, c->pcpu_objects, c->central_objects);
		first = false;
	}
	emit(&s, "]}\n");
	flush(&s);
}

void stats_exit_report(int fd)
{
	const char *path = options_stats_file();
	int out = fd;

	if (path) {
		out = os_open_append(path);
		if (out < 0)
			out = fd;
	}
	if (hm_opt.stats == 2)
		stats_json(out);
	else
		stats_print(out);
	if (out != fd)
		os_close(out);
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

#define xml(...) do {								\
	if ((size_t)n < len)							\
		n += hm_snprintf(buf + n, len - (size_t)n, __VA_ARGS__);	\
} while (0)

/* malloc_info(): glibc's element names where they fit, hakmem's facts. */
int stats_xml(char *buf, size_t len)
{
	struct hakmem_stats st;
	struct mallinfo2 mi;
	int n = 0;

	stats_collect(&st);
	stats_mallinfo(&mi);
	xml("<malloc version=\"hakmem-2\" profile=\"%s\" front-end=\"%s\">\n", st.profile,
	    st.front_end);
	for (unsigned node = 0; node < st.nr_nodes; node++) {
		xml("<heap nr=\"%u\">", node);
		if (node < HAKMEM_STATS_NODES)
			xml("<superslabs count=\"%u\" hugetlb=\"%lu\" thp=\"%lu\" small-pages=\"%lu\"/>",
			    READ_ONCE(hm_heap.node[node].nr_ss), st.ss_node_tier[node][0],
			    st.ss_node_tier[node][1], st.ss_node_tier[node][2]);
		xml("</heap>\n");
	}
	xml("<sizes>\n");
	for (unsigned cls = 0; cls < st.nr_classes; cls++) {
		const struct hakmem_stats_class *c = &st.cls[cls];

		if (!c->allocs && !c->frees && !c->slabs)
			continue;
		xml("<size class=\"%u\" size=\"%lu\" allocs=\"%lu\" frees=\"%lu\" live=\"%lu\" "
		    "slabs=\"%lu\" percpu=\"%lu\" central=\"%lu\"/>\n", cls, c->size, c->allocs,
		    c->frees, c->live, c->slabs, c->pcpu_objects, c->central_objects);
	}
	xml("</sizes>\n");
	xml("<caches percpu=\"%lu\" central=\"%lu\" refills=\"%lu\" drains=\"%lu\"/>\n",
	    st.pcpu_bytes, st.central_bytes, st.refills, st.drains);
	xml("<return purges=\"%lu\" purged=\"%lu\" superslabs-purged=\"%lu\" "
	    "superslabs-released=\"%lu\" dirty=\"%lu\" trims=\"%lu\"/>\n", st.purges,
	    st.purged_bytes, st.ss_purged, st.ss_released, st.dirty_bytes, st.trims);
	xml("<fallbacks page-tier=\"%lu\" hugetlb-dry=\"%lu\" busy-cache=\"%lu\" "
	    "remote-free=\"%lu\" fastpath-retries=\"%lu\"/>\n", st.tier_fallbacks,
	    st.hugetlb_dry, st.busy_fallbacks, st.remote_frees, st.fastpath_retries);
	xml("<placement first-tier=\"%s\" numa=\"%s\" mbind=\"%lu\"/>\n",
	    st.first_tier, st.numa, st.sys_mbind);
	xml("<syscalls total=\"%lu\" mmap=\"%lu\" munmap=\"%lu\" madvise=\"%lu\" "
	    "mremap=\"%lu\" other=\"%lu\"/>\n", st.syscalls, st.sys_mmap, st.sys_munmap,
	    st.sys_madvise, st.sys_mremap, st.sys_other);
	xml("<total type=\"committed\" size=\"%zu\"/>\n"
	    "<total type=\"huge\" count=\"%zu\" size=\"%zu\"/>\n"
	    "<system type=\"current\" size=\"%zu\"/>\n"
	    "<system type=\"max\" size=\"%zu\"/>\n"
	    "<system type=\"rss\" size=\"%lu\"/>\n"
	    "<system type=\"peak-rss\" size=\"%lu\"/>\n"
	    "<aspace type=\"total\" size=\"%zu\"/>\n"
	    "<inuse size=\"%zu\"/>\n"
	    "</malloc>\n",
	    mi.arena + mi.hblkhd, mi.hblks, mi.hblkhd, mi.arena + mi.hblkhd,
	    mi.usmblks, st.rss_bytes, st.peak_rss_bytes, (size_t)hm_heap.span, mi.uordblks);
	return (size_t)n < len ? n : -1;
}

int hakmem_stats_get_impl(struct hakmem_stats *st, size_t size)
{
	struct hakmem_stats full;

	if (!st || size < 2 * sizeof(uint32_t))
		return -1;
	stats_collect(&full);
	if (size > sizeof(full))
		size = sizeof(full);
	full.size = (uint32_t)size;
	memcpy(st, &full, size);
	return (int)size;
}
