// SPDX-License-Identifier: MIT
/*
 * api_stats - hakmem_stats_get(): the versioned snapshot programs linked
 * against hakmem read, and malloc_trim() returning memory in every profile.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "hk_util.h"
#include "hakmem.h"

typedef int (*fn_get)(struct hakmem_stats *, size_t);

static fn_get get;

static void test_contract(void)
{
	static union {
		struct hakmem_stats st;
		unsigned char b[sizeof(struct hakmem_stats)];
	} u;
	struct hakmem_stats st;
	int n;

	memset(&st, 0xa5, sizeof(st));
	n = get(&st, sizeof(st));
	tap_ok(n == (int)sizeof(st) && st.version == HAKMEM_STATS_VERSION &&
	       st.size == sizeof(st), "full struct: %d bytes, version %u, size %u", n,
	       st.version, st.size);
	memset(u.b, 0x5a, sizeof(u.b));
	n = get(&u.st, 24);
	tap_ok(n == 24 && u.st.size == 24 && u.st.version == HAKMEM_STATS_VERSION &&
	       u.b[24] == 0x5a && u.b[sizeof(u.b) - 1] == 0x5a,
	       "a shorter struct (an older header) is filled to its size only");
	errno = 0;
	tap_ok(get(NULL, sizeof(st)) == -1 && errno == EINVAL, "NULL: -1, EINVAL");
	errno = 0;
	tap_ok(get(&st, 4) == -1 && errno == EINVAL, "a size without room for version and size: -1");
}

static void test_facts(void)
{
	enum { N = 4000 };
	static void *p[N];
	struct hakmem_stats a, b;
	const char *prof = getenv("HAKMEM_PROFILE");
	unsigned cls64 = 3;		/* 64 bytes */

	get(&a, sizeof(a));
	for (int i = 0; i < N; i++)
		p[i] = hk_malloc(64);
	get(&b, sizeof(b));
	tap_ok(!strcmp(b.profile, prof ? prof : "balanced"), "profile '%s'", b.profile);
	tap_ok(b.front_end[0] && b.nr_cpus >= 1 && b.nr_nodes >= 1 && b.nr_classes == 40,
	       "front end '%s', %u CPUs, %u nodes", b.front_end, b.nr_cpus, b.nr_nodes);
	tap_ok(b.cls[cls64].size == 64, "class %u is 64 bytes", cls64);
	if (b.counters)
		tap_ok(b.cls[cls64].allocs - a.cls[cls64].allocs == N &&
		       b.cls[cls64].live >= N, "%d allocations of 64 bytes counted (live %lu)", N,
		       (unsigned long)b.cls[cls64].live);
	else
		tap_skip("counters not built in", "allocations counted");
	tap_ok(b.cls[cls64].slabs >= 1 && b.ss_live >= 1 &&
	       b.ss_node_tier[0][0] + b.ss_node_tier[0][1] + b.ss_node_tier[0][2] >= 1,
	       "slabs (%lu) and superslabs by tier and node (%lu live)",
	       (unsigned long)b.cls[cls64].slabs, (unsigned long)b.ss_live);
	tap_ok(b.committed_bytes >= 2 * MiB && b.peak_rss_bytes > 0 && b.rss_bytes > 0,
	       "committed %lu KiB, RSS %lu KiB", (unsigned long)b.committed_bytes >> 10,
	       (unsigned long)b.rss_bytes >> 10);
	tap_ok(!b.counters || b.syscalls >= 2, "system calls counted (%lu)",
	       (unsigned long)b.syscalls);
	for (int i = 0; i < N; i++)
		hk_free(p[i]);
}

/*
 * A huge block that cannot grow in place is moved, and the kernel grows
 * it in the same mremap: that growth is committed memory too, and the
 * committed peak must never be below what is committed now.
 */
static void test_peak(void)
{
	struct hakmem_stats before, after;
	char *p = hk_malloc(4 * MiB), *wall = hk_malloc(4 * MiB), *q;

	memset(p, 7, 4 * MiB);
	get(&before, sizeof(before));
	q = realloc(p, 96 * MiB);
	get(&after, sizeof(after));
	tap_ok(q && q[4 * MiB - 1] == 7 && after.committed_bytes >= before.committed_bytes + 90 * MiB,
	       "a 4 MiB block grown to 96 MiB: committed %lu -> %lu KiB",
	       (unsigned long)before.committed_bytes >> 10, (unsigned long)after.committed_bytes >> 10);
	tap_ok(after.committed_peak_bytes >= after.committed_bytes,
	       "the committed peak (%lu KiB) is not below the committed bytes (%lu KiB)",
	       (unsigned long)after.committed_peak_bytes >> 10,
	       (unsigned long)after.committed_bytes >> 10);
	free(q ? q : p);
	free(wall);
}

static void test_trim(void)
{
	enum { N = 1 << 20 };
	void **p = calloc(N, sizeof(void *));
	struct hakmem_stats full, trimmed;
	int (*trim)(size_t) = malloc_trim;

	for (int i = 0; i < N; i++) {
		p[i] = hk_malloc(16 + (size_t)(i % 7) * 16);
		memset(p[i], 1, 16);
	}
	get(&full, sizeof(full));
	for (int i = N - 1; i >= 0; i -= 2)	/* every other one first: fragmented */
		hk_free(p[i]);
	for (int i = N - 2; i >= 0; i -= 2)
		hk_free(p[i]);
	trim(0);
	get(&trimmed, sizeof(trimmed));
	tap_diag("64 MiB of small objects: committed %lu KiB, after freeing and malloc_trim %lu KiB",
		 (unsigned long)full.committed_bytes >> 10,
		 (unsigned long)trimmed.committed_bytes >> 10);
	tap_ok(trimmed.committed_bytes + 32 * MiB < full.committed_bytes,
	       "malloc_trim(0) gives the freed superslabs back");
	tap_ok(trimmed.pcpu_bytes == 0 && trimmed.dirty_bytes == 0,
	       "and empties the per-CPU caches (%lu bytes left) and purges free pages (%lu left)",
	       (unsigned long)trimmed.pcpu_bytes, (unsigned long)trimmed.dirty_bytes);
	tap_ok(!trimmed.counters || trimmed.trims == full.trims + 1, "the trim is counted");
	free(p);
}

int main(void)
{
	tap_init(18);
	tap_watchdog(120);
	if (!tap_check_hakmem() || tap_is_other()) {
		for (int i = 1; i < 18; i++)
			tap_skip("hakmem not loaded", "hakmem_stats_get");
		return tap_finish();
	}
	*(void **)&get = dlsym(RTLD_DEFAULT, "hakmem_stats_get");
	tap_ok(get != NULL, "hakmem_stats_get is exported");
	if (!get)
		return tap_finish();
	test_contract();
	test_facts();
	test_peak();
	test_trim();
	return tap_finish();
}
