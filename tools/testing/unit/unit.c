// SPDX-License-Identifier: MIT
/*
 * Shared helpers of the unit tests: see unit.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

/*
 * The library constructor (mm/init.c) initialises the heap before main(),
 * reading the HAKMEM_* options from the environment.  This one runs first
 * (constructors with a priority precede those without) and sets the
 * options the tests rely on: a small region, everything else default.
 */
__attribute__((constructor(101))) static void unit_env(void)
{
	static const char *const defaults[] = {
		"HAKMEM_PROFILE", "HAKMEM_STATS", "HAKMEM_VERBOSE", "HAKMEM_HUGEPAGES",
		"HAKMEM_NUMA", "HAKMEM_PURGE_DELAY_MS", "HAKMEM_SPARE_SLABS",
		"HAKMEM_PCPU_MAX", "HAKMEM_SLAB_MIN_KB", "HAKMEM_RESERVE_SS", "HAKMEM_PERCPU",
		"HAKMEM_FORK_HUGETLB",
	};
	char gb[16];

	snprintf(gb, sizeof(gb), "%d", UNIT_REGION_GB);
	setenv("HAKMEM_REGION_GB", gb, 1);
	for (unsigned i = 0; i < ARRAY_SIZE(defaults); i++)
		unsetenv(defaults[i]);
}

/*
 * The heap reads the CPU as the int at hm_fe.cpu_off from the thread
 * pointer (glibc's rseq cpu_id, or a -1 meaning "ask getcpu").  Pointing
 * it at this variable lets a test choose the CPU the fast paths see.
 */
static __thread int unit_cpu_id __attribute__((tls_model("initial-exec"))) = -1;

void unit_on_cpu(unsigned cpu)
{
	hm_fe.cpu_off = (char *)&unit_cpu_id - (char *)__builtin_thread_pointer();
	unit_cpu_id = (int)cpu;
	fake_os.cpu = cpu;
}

struct pcpu_cache *unit_cache(unsigned cpu, unsigned way)
{
	return pcpu_cache_at(pcpu_index(cpu, way));
}

unsigned unit_cached(unsigned cpu, unsigned cls)
{
	unsigned n = 0;

	for (unsigned w = 0; w < HM_PCPU_WAYS; w++) {
		struct pcpu_cache *c = unit_cache(cpu, w);

		n += pcpu_top(c->hdr[cls]) - c->lim[cls].lo;
	}
	return n;
}

void unit_on_cpu_via_getcpu(unsigned cpu)
{
	pcpu_set_cpu_source(false);
	fake_os.cpu = cpu;
}

static void unit_setup(void)
{
	ck_assert_msg(hm_init_state == HM_INIT_DONE, "the heap was not initialised before main()");
	fake_os_reset();
	unit_on_cpu(0);
}

TCase *unit_tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, unit_setup, NULL);
	tcase_set_timeout(tc, 20);
	return tc;
}

int unit_run(Suite *(*const suites[])(void), unsigned n)
{
	SRunner *sr;
	int failed;

	/* Line buffered: nothing is pending in stdio when Check forks. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	sr = srunner_create(NULL);
	for (unsigned i = 0; i < n; i++)
		srunner_add_suite(sr, suites[i]());
	srunner_set_fork_status(sr, CK_FORK);
	srunner_set_tap(sr, "-");		/* "-" is stdout in Check >= 0.13 */
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- looking at the heap ---- */

unsigned unit_chunks_per_node(void)
{
	return 1u << (hm_heap.region_shift - HM_SS_SHIFT);
}

static uint32_t chunk_entry(unsigned node, uint32_t i)
{
	return hm_heap.chunk[(size_t)node * unit_chunks_per_node() + i];
}

unsigned unit_chunk_kind(unsigned node, uint32_t i)
{
	return chunk_entry(node, i) & CHUNK_KIND_MASK;
}

uint32_t unit_first_free_chunk(unsigned node)
{
	uint32_t i, n = unit_chunks_per_node();

	for (i = 0; i < n; i++)
		if (unit_chunk_kind(node, i) == CHUNK_FREE)
			break;
	return i;
}

unsigned unit_count_ss(unsigned node)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < unit_chunks_per_node(); i++)
		n += unit_chunk_kind(node, i) == CHUNK_SS;
	return n;
}

struct superslab *unit_ss(unsigned node, uint32_t i)
{
	unit_assert(unit_chunk_kind(node, i) == CHUNK_SS,
		      "chunk %u of node %u is not a superslab (kind %u)", i, node,
		      unit_chunk_kind(node, i));
	return (struct superslab *)(hm_heap.node[node].base + ((uintptr_t)i << HM_SS_SHIFT));
}

unsigned unit_popcount_map(const struct superslab *ss)
{
	unsigned n = 0;

	for (unsigned w = 0; w < ARRAY_SIZE(ss->page_map); w++)
		n += (unsigned)__builtin_popcountl(ss->page_map[w]);
	return n;
}

bool unit_page_used(const struct superslab *ss, unsigned page)
{
	return (ss->page_map[page / 64] >> (page % 64)) & 1;
}

void unit_check_ss(const struct superslab *ss)
{
	uintptr_t a = (uintptr_t)ss;
	unsigned p;

	unit_assert(!(a & HM_SS_MASK), "superslab %p not chunk aligned", (void *)ss);
	unit_assert(ss->magic == HM_SS_MAGIC, "superslab %p: bad magic %#x", (void *)ss, ss->magic);
	unit_assert(hm_node_of(a) == ss->node, "superslab %p: node %u, lies in node %u",
		      (void *)ss, ss->node, hm_node_of(a));
	unit_assert(chunk_addr(ss->chunk) == a, "superslab %p: chunk %u is elsewhere",
		      (void *)ss, ss->chunk);
	unit_assert((hm_chunk_entry(a) & CHUNK_KIND_MASK) == CHUNK_SS,
		      "superslab %p: chunk entry %#x", (void *)ss, hm_chunk_entry(a));
	unit_assert(ss->nfree_pages + unit_popcount_map(ss) == HM_SS_PAGES,
		      "superslab %p: nfree_pages %u + popcount(page_map) %u != %lu",
		      (void *)ss, ss->nfree_pages, unit_popcount_map(ss), HM_SS_PAGES);
	{
		unsigned dirty = 0;

		for (unsigned w = 0; w < HM_SS_PAGES / 64; w++) {
			unit_assert(!(ss->aged_map[w] & ~ss->dirty_map[w]),
				      "superslab %p: aged pages that are not dirty in word %u", (void *)ss, w);
			unit_assert(!(ss->dirty_map[w] & ss->page_map[w]),
				      "superslab %p: pages in use marked dirty (word %u: %#lx)",
				      (void *)ss, w, ss->dirty_map[w] & ss->page_map[w]);
			dirty += (unsigned)__builtin_popcountl(ss->dirty_map[w]);
		}
		unit_assert(dirty == ss->nr_dirty, "superslab %p: nr_dirty %u, dirty_map has %u",
			      (void *)ss, ss->nr_dirty, dirty);
	}
	/* free()'s page table says what page_cls/page_delta say, for slabs only. */
	for (p = 0; p < HM_SS_PAGES; p++) {
		const struct hm_pte *e = hm_pte_of(ss_page_addr(ss, p));
		unsigned cls = ss->page_cls[p];
		uint32_t slab = (uint32_t)ss_page_addr(ss, p - ss->page_delta[p]);

		if (cls < HM_NCLASS)
			unit_assert(e->code == cls + 1 && e->node == ss->node && e->slab == slab,
				      "superslab %p: page %u of class %u has entry code %u node %u "
				      "slab %#x, want %u %u %#x", (void *)ss, p, cls, e->code,
				      e->node, e->slab, cls + 1, ss->node, slab);
		else
			unit_assert(!e->code && !e->node && !e->slab,
				      "superslab %p: page %u (code %#x) has a page-table entry",
				      (void *)ss, p, cls);
	}
	for (p = 0; p < HM_SS_HDR_PAGES; p++) {
		unit_assert(unit_page_used(ss, p), "superslab %p: header page %u free", (void *)ss, p);
		unit_assert(ss->page_cls[p] == PAGE_CLS_HDR,
			      "superslab %p: header page %u class %u", (void *)ss, p, ss->page_cls[p]);
	}
	while (p < HM_SS_PAGES) {
		const struct slab *s = &ss->slab[p];

		if (!unit_page_used(ss, p)) {
			unit_assert(ss->page_cls[p] == PAGE_CLS_FREE && ss->page_delta[p] == 0,
				      "superslab %p: free page %u has class %u delta %u",
				      (void *)ss, p, ss->page_cls[p], ss->page_delta[p]);
			p++;
			continue;
		}
		unit_assert(ss->page_delta[p] == 0, "superslab %p: run at page %u starts with delta %u",
			      (void *)ss, p, ss->page_delta[p]);
		unit_assert(s->npages >= 1 && p + s->npages <= HM_SS_PAGES,
			      "superslab %p: run at page %u has %u pages", (void *)ss, p, s->npages);
		for (unsigned k = 0; k < s->npages; k++) {
			unit_assert(unit_page_used(ss, p + k), "superslab %p: page %u of run %u free",
				      (void *)ss, p + k, p);
			unit_assert(ss->page_cls[p + k] == s->cls,
				      "superslab %p: page %u class %u, run %u class %u",
				      (void *)ss, p + k, ss->page_cls[p + k], p, s->cls);
			unit_assert(ss->page_delta[p + k] == k,
				      "superslab %p: page %u delta %u, want %u",
				      (void *)ss, p + k, ss->page_delta[p + k], k);
		}
		p += s->npages;
	}
}

void unit_check_node(unsigned node)
{
	struct hm_node *nd = &hm_heap.node[node];
	const struct superslab *ss, *prev = NULL;
	unsigned on_list = 0, empty = 0, committed = 0, dirty = 0;
	unsigned kinds[HM_NR_SS_KINDS] = { 0 }, sparse = 0;
	uint32_t n = unit_chunks_per_node();

	for (ss = nd->active; ss; prev = ss, ss = ss->next) {
		unit_assert(on_list++ < n, "node %u: active list loops", node);
		unit_assert(ss->prev == prev, "node %u: superslab %p has a bad prev link",
			      node, (void *)ss);
		unit_assert(ss->node == node, "node %u: superslab %p of node %u on its list",
			      node, (void *)ss, ss->node);
		unit_assert(ss->state == SS_ACTIVE || ss->state == SS_EMPTY,
			      "node %u: superslab %p in state %u on the active list",
			      node, (void *)ss, ss->state);
		unit_assert(ss->nfree_pages > 0, "node %u: full superslab %p on the active list",
			      node, (void *)ss);
		unit_assert((ss->state == SS_EMPTY) == (ss->nfree_pages == HM_SS_USABLE_PAGES),
			      "node %u: superslab %p state %u with %u free pages",
			      node, (void *)ss, ss->state, ss->nfree_pages);
		empty += ss->state == SS_EMPTY;
	}
	unit_assert(empty == nd->nr_empty, "node %u: nr_empty %u, counted %u",
		      node, nd->nr_empty, empty);
	prev = NULL;
	for (ss = nd->tight; ss; prev = ss, ss = ss->next) {
		unit_assert(on_list++ < n, "node %u: tight list loops", node);
		unit_assert(ss->prev == prev, "node %u: superslab %p has a bad prev link",
			      node, (void *)ss);
		unit_assert(ss->node == node && ss->state == SS_TIGHT,
			      "node %u: superslab %p of node %u in state %u on the tight list",
			      node, (void *)ss, ss->node, ss->state);
		unit_assert(ss->nfree_pages > 0 && ss->nfree_pages < nd->min_run && !ss->nr_dirty,
			      "node %u: tight superslab %p has %u free pages (%u dirty), min_run %u",
			      node, (void *)ss, ss->nfree_pages, ss->nr_dirty, nd->min_run);
	}
	unit_assert(nd->nr_empty <= (uint32_t)hm_opt.reserve_ss,
		      "node %u: %u empty superslabs kept, at most %ld allowed",
		      node, nd->nr_empty, hm_opt.reserve_ss);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t e = chunk_entry(node, i);

		if (i >= nd->next_chunk)
			unit_assert(e == CHUNK_FREE, "node %u: chunk %u above next_chunk %u is %#x",
				      node, i, nd->next_chunk, e);
		if (i < nd->lowest_free)
			unit_assert((e & CHUNK_KIND_MASK) != CHUNK_FREE,
				      "node %u: chunk %u free below lowest_free %u",
				      node, i, nd->lowest_free);
		if ((e & CHUNK_KIND_MASK) == CHUNK_SS) {
			ss = unit_ss(node, i);
			committed++;
			dirty += ss->nr_dirty;
			unit_check_ss(ss);
			unit_assert(ss->kind < HM_NR_SS_KINDS, "node %u: superslab %p of kind %u",
				      node, (void *)ss, ss->kind);
			unit_assert((ss->kind == SS_KIND_NONE) == (ss->nfree_pages == HM_SS_USABLE_PAGES),
				      "node %u: superslab %p of kind %u with %u free pages",
				      node, (void *)ss, ss->kind, ss->nfree_pages);
			kinds[ss->kind]++;
			sparse += ss->sparse;
			if (ss->state == SS_FULL)
				unit_assert(ss->nfree_pages == 0, "node %u: FULL superslab %p has %u free pages",
					      node, (void *)ss, ss->nfree_pages);
			else
				unit_assert(ss->nfree_pages > 0, "node %u: superslab %p without free pages in state %u",
					      node, (void *)ss, ss->state);
		} else if ((e & CHUNK_KIND_MASK) == CHUNK_READY) {
			uint32_t g = node * n + i;

			unit_assert(g >= nd->ready && g < nd->ready_end,
				    "node %u: ready chunk %u outside [%u, %u)",
				    node, i, nd->ready, nd->ready_end);
		} else if ((e & CHUNK_KIND_MASK) == CHUNK_HUGE) {
			size_t bytes = (size_t)(e >> CHUNK_KIND_BITS) << HM_PAGE_SHIFT;
			uint32_t span = (uint32_t)((bytes + HM_SS_MASK) >> HM_SS_SHIFT);

			for (uint32_t k = 1; k < span; k++)
				unit_assert(i + k < n && unit_chunk_kind(node, i + k) == CHUNK_CONT,
					      "node %u: chunk %u of the huge object at %u is %#x",
					      node, i + k, i, i + k < n ? chunk_entry(node, i + k) : 0);
		}
	}
	unit_assert(committed == nd->nr_ss, "node %u: nr_ss %u, chunk table has %u superslabs",
		      node, nd->nr_ss, committed);
	for (unsigned k = 0; k < HM_NR_SS_KINDS; k++)
		unit_assert(kinds[k] == nd->nr_ss_kind[k], "node %u: nr_ss_kind[%u] %u, counted %u",
			      node, k, nd->nr_ss_kind[k], kinds[k]);
	unit_assert(sparse == nd->nr_sparse && sparse <= nd->nr_ss / 2 + 1,
		      "node %u: nr_sparse %u, counted %u, of %u superslabs",
		      node, nd->nr_sparse, sparse, nd->nr_ss);
	unit_assert(dirty == nd->dirty_pages, "node %u: dirty_pages %u, superslabs have %u",
		      node, nd->dirty_pages, dirty);
	unit_assert(nd->nr_ss_tier[HM_TIER_HUGETLB] + nd->nr_ss_tier[HM_TIER_THP] +
		    nd->nr_ss_tier[HM_TIER_4K] == nd->nr_ss,
		    "node %u: superslabs by tier do not add up to %u", node, nd->nr_ss);
}

struct slab *unit_slab_of(const void *p)
{
	struct superslab *ss = ss_of((uintptr_t)p);
	unsigned page = ss_page_of((uintptr_t)p);

	return &ss->slab[page - ss->page_delta[page]];
}

unsigned unit_freelist_len(const struct slab *s)
{
	unsigned n = 0;

	for (void *p = s->freelist; p && n <= s->capacity; p = *(void **)p)
		n++;
	return n;
}

void unit_check_slab(const struct slab *s)
{
	const struct superslab *ss = slab_ss(s);
	unsigned first = slab_first_page(s);
	const struct size_class *sc;
	uintptr_t start = slab_start(s);
	unsigned fl = 0;

	unit_assert(s->cls < HM_NCLASS, "slab %p: class %u", (void *)s, s->cls);
	sc = &hm_class[s->cls];
	unit_assert(s->state == SLAB_PARTIAL || s->state == SLAB_FULL,
		      "slab %p: state %u", (void *)s, s->state);
	unit_assert(s->npages == sc->npages && s->capacity == sc->capacity,
		      "slab %p: %u pages %u objects, class %u wants %u and %u",
		      (void *)s, s->npages, s->capacity, s->cls, sc->npages, sc->capacity);
	unit_assert(ss->page_cls[first] == s->cls && ss->page_delta[first] == 0,
		      "slab %p: page map says class %u delta %u", (void *)s,
		      ss->page_cls[first], ss->page_delta[first]);
	unit_assert(s->carved <= s->capacity, "slab %p: carved %u > capacity %u",
		      (void *)s, s->carved, s->capacity);
	for (void *p = s->freelist; p; p = *(void **)p) {
		uintptr_t off = (uintptr_t)p - start;

		unit_assert(fl++ < s->capacity, "slab %p: free list longer than capacity (loop?)",
			      (void *)s);
		unit_assert(off < (uintptr_t)s->carved * sc->size && off % sc->size == 0,
			      "slab %p: free object %p is not a carved object start", (void *)s, p);
	}
	unit_assert(s->used + fl + (s->capacity - s->carved) == s->capacity,
		      "slab %p: used %u + freelist %u + uncarved %u != capacity %u",
		      (void *)s, s->used, fl, s->capacity - s->carved, s->capacity);
	if (s->state == SLAB_FULL)
		unit_assert(!s->freelist && s->carved == s->capacity,
			      "slab %p: FULL with free objects", (void *)s);
	else
		unit_assert(s->used < s->capacity, "slab %p: PARTIAL with every object out",
			      (void *)s);
}

unsigned unit_check_central(unsigned node, unsigned cls)
{
	const struct central *c = &hm_heap.node[node].central[cls];
	const struct slab *s, *prev = NULL;
	unsigned n = 0;

	for (s = c->partial; s; prev = s, s = s->next) {
		unit_assert(n++ < 100000, "central %u/%u: list loops", node, cls);
		unit_assert(s->prev == prev, "central %u/%u: slab %p bad prev link",
			      node, cls, (void *)s);
		unit_assert(s->state == SLAB_PARTIAL, "central %u/%u: slab %p in state %u",
			      node, cls, (void *)s, s->state);
		unit_assert(s->cls == cls, "central %u/%u: slab %p of class %u",
			      node, cls, (void *)s, s->cls);
		unit_assert(hm_node_of(slab_start(s)) == node, "central %u/%u: slab %p of node %u",
			      node, cls, (void *)s, hm_node_of(slab_start(s)));
		unit_check_slab(s);
	}
	unit_assert(n == c->nr_partial, "central %u/%u: nr_partial %u, list has %u",
		      node, cls, c->nr_partial, n);
	return n;
}

bool unit_on_partial(unsigned node, unsigned cls, const struct slab *s)
{
	for (const struct slab *t = hm_heap.node[node].central[cls].partial; t; t = t->next)
		if (t == s)
			return true;
	return false;
}

/* ---- data ---- */

static uint32_t rnd_state = 0x9e3779b9u;

void unit_srand(uint32_t seed)
{
	rnd_state = seed ? seed : 1;
}

uint32_t unit_rand(void)
{
	uint32_t x = rnd_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rnd_state = x;
}

static uint8_t pattern(size_t off, uint32_t seed)
{
	uint32_t x = (uint32_t)off * 2654435761u + seed * 40503u;

	return (uint8_t)((x >> 24) ^ (x >> 8) ^ 0x5a);
}

void unit_fill(void *p, size_t n, uint32_t seed)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = pattern(i, seed);
}

size_t unit_check_fill(const void *p, size_t n, uint32_t seed)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != pattern(i, seed))
			return i;
	return n;
}

bool unit_is_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}
