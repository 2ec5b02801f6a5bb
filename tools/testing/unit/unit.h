/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the unit tests (tools/testing/unit/).
 *
 * A unit test program links the core objects of mm/ (not mm/os.o, not
 * mm/malloc.o) with fake_os.o and unit.o, and calls the hm_* / ss_* /
 * central_* / chunk_* functions directly; it uses glibc's malloc for
 * itself.  The heap is initialised by the library constructor before
 * main() with HAKMEM_REGION_GB=UNIT_REGION_GB and the other HAKMEM_*
 * options at their defaults (unit.c sees to that).
 *
 * Every test runs in a child of its own (Check's CK_FORK mode) that starts
 * from the freshly initialised heap; the fixture of unit_tcase() resets the
 * fake OS and pins the test to CPU 0 (node 0).
 *
 * Output: TAP on stdout and nothing else; exit status 0 iff every test
 * passed.  CK_RUN_SUITE / CK_RUN_CASE select tests as usual with Check.
 */
#ifndef _UNIT_UNIT_H
#define _UNIT_UNIT_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hakmem/internal.h"
#include "hakmem/percpu.h"
#include "fake_os.h"

#define UNIT_REGION_GB		4

/*
 * ck_assert_msg() records a "last passed point" (a write to a file) on
 * every success, which is slow in loops of millions; this one costs
 * nothing until it fails.
 */
#define unit_assert(expr, ...)						\
	do {								\
		if (!(expr))						\
			ck_abort_msg(__VA_ARGS__);			\
	} while (0)

/*
 * Pretend to run on cpu.  unit_on_cpu: the per-CPU fast paths and the slow
 * paths both see cpu (and so does the fake getcpu).  unit_on_cpu_via_getcpu:
 * the heap's "no rseq" mode, where the fast paths step aside and the slow
 * paths ask os_getcpu(), which answers cpu.
 */
void unit_on_cpu(unsigned cpu);
void unit_on_cpu_via_getcpu(unsigned cpu);

/*
 * The unit tests run the generic front end (the fake OS has no rseq):
 * HM_PCPU_WAYS caches per CPU.  unit_cache: one of them; unit_cached: the
 * objects of class cls held by all the ways of cpu.
 */
struct pcpu_cache *unit_cache(unsigned cpu, unsigned way);
unsigned unit_cached(unsigned cpu, unsigned cls);

/* A test case with the standard fixture (fake OS reset, CPU 0). */
TCase *unit_tcase(const char *name);

/* Run the suites in fork mode, TAP on stdout; returns the exit status. */
int unit_run(Suite *(*const suites[])(void), unsigned n);

#define UNIT_MAIN(...)							\
int main(void)								\
{									\
	Suite *(*const unit_suites_[])(void) = { __VA_ARGS__ };		\
	return unit_run(unit_suites_, ARRAY_SIZE(unit_suites_));	\
}

/* ---- looking at the heap ---- */

unsigned unit_chunks_per_node(void);
/* Kind (enum chunk_kind) of local chunk i of node. */
unsigned unit_chunk_kind(unsigned node, uint32_t i);
/* Lowest free local chunk of node. */
uint32_t unit_first_free_chunk(unsigned node);
/* Committed superslabs of node, counted in the chunk table. */
unsigned unit_count_ss(unsigned node);
/* The superslab of local chunk i of node (asserts it is one). */
struct superslab *unit_ss(unsigned node, uint32_t i);
unsigned unit_popcount_map(const struct superslab *ss);
bool unit_page_used(const struct superslab *ss, unsigned page);

/* Assert the superslab invariants (page map, classes, deltas, header). */
void unit_check_ss(const struct superslab *ss);
/* Assert the node invariants (lists, counters, lowest_free, every ss). */
void unit_check_node(unsigned node);
/* The slab (run) holding p. */
struct slab *unit_slab_of(const void *p);
unsigned unit_freelist_len(const struct slab *s);
/* Assert used + |freelist| + (capacity - carved) == capacity and friends. */
void unit_check_slab(const struct slab *s);
/* Assert every slab on node's central list of cls is sane; returns count. */
unsigned unit_check_central(unsigned node, unsigned cls);
bool unit_on_partial(unsigned node, unsigned cls, const struct slab *s);

/* ---- data ---- */

uint32_t unit_rand(void);
void unit_srand(uint32_t seed);
/* Fill with / check for a pattern derived from seed and the offset. */
void unit_fill(void *p, size_t n, uint32_t seed);
/* Offset of the first wrong byte, or n. */
size_t unit_check_fill(const void *p, size_t n, uint32_t seed);
bool unit_is_zero(const void *p, size_t n);

#ifdef CONFIG_STATS
#define unit_stat(i)	(hm_stats[i])
#else
#define unit_stat(i)	((uint64_t)0)
#endif

#endif /* _UNIT_UNIT_H */
