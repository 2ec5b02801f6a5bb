// SPDX-License-Identifier: MIT
/*
 * fork from a heap on hugetlb pages (mm/fork.c) and the bookkeeping it
 * reads: hm_heap.hugetlb_map kept by commits, releases, huge objects and
 * their moves; the prepare handler's decision and copy; the child's
 * adoption (in this process, on the fake OS, and once in a real child
 * through the SIGBUS hook); the parent's clean-up.
 */
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "unit.h"

#define CLS_A	5
#define MiB	(1UL << 20)

/* Bits of hugetlb_map over node's chunks, and the node's count agree. */
static unsigned hugetlb_chunks(unsigned node)
{
	uint32_t first = node * unit_chunks_per_node(), n = 0;

	for (uint32_t i = first; i < first + hm_heap.node[node].next_chunk; i++)
		n += chunk_hugetlb(i);
	ck_assert_uint_eq(n, hm_heap.node[node].nr_hugetlb);
	return n;
}

static bool on_hugetlb(const void *p)
{
	return chunk_hugetlb(hm_chunk_index((uintptr_t)p));
}

/* The heap as HAKMEM_HUGEPAGES=hugetlb with a pool that has pages. */
static void hugetlb_heap(void)
{
	hm_heap.tier = HM_TIER_HUGETLB;
	fake_os.tier = HM_TIER_HUGETLB;
	hm_opt.fork_hugetlb = HM_FORK_COPY;
}

/* A whole superslab of one large run, filled with seed. */
static struct slab *filled_ss(uint32_t seed)
{
	struct slab *s = ss_alloc_pages(0, 256, 1, PAGE_CLS_LARGE);

	ck_assert_ptr_nonnull(s);
	s->state = SLAB_LARGE;
	unit_fill((void *)slab_start(s), 256 * HM_PAGE_SIZE, seed);
	return s;
}

START_TEST(commits_on_the_pool_are_marked)
{
	struct slab *a, *b, *c;

	hugetlb_heap();
	a = filled_ss(1);
	ck_assert(on_hugetlb(a));
	fake_os.tier = HM_TIER_THP;		/* the pool runs dry */
	b = ss_alloc_pages(0, HM_SS_USABLE_PAGES - 256, 1, CLS_A);
	c = ss_alloc_pages(0, 256, 1, CLS_A);
	ck_assert_ptr_eq(slab_ss(b), slab_ss(a));
	ck_assert_ptr_ne(slab_ss(c), slab_ss(a));
	ck_assert(!on_hugetlb(c));
	ck_assert_uint_eq(hugetlb_chunks(0), 1);
	hm_opt.reserve_ss = 0;
	ss_free_pages(a);
	ss_free_pages(b);			/* released: back to the pool */
	ck_assert(!on_hugetlb(a));
	ck_assert_uint_eq(hugetlb_chunks(0), 0);
	ss_free_pages(c);
	unit_check_node(0);
}
END_TEST

START_TEST(huge_objects_mark_their_chunks_and_move_them)
{
	char *p, *blocker, *q;
	uint32_t idx;

	hugetlb_heap();
	p = hm_malloc(3 * MiB);			/* two whole chunks on the pool */
	blocker = hm_malloc(3 * MiB);
	idx = hm_chunk_index((uintptr_t)p);
	ck_assert(chunk_hugetlb(idx) && chunk_hugetlb(idx + 1));
	ck_assert_uint_eq(hugetlb_chunks(0), 4);
	q = hm_realloc(p, 5 * MiB);		/* moved: blocked by blocker */
	ck_assert_ptr_ne(q, p);
	ck_assert_uint_eq(fake_os.calls.move, 1);
	ck_assert(!chunk_hugetlb(idx) && !chunk_hugetlb(idx + 1));
	for (unsigned k = 0; k < 3; k++)
		ck_assert(on_hugetlb(q + k * HM_SS_SIZE));
	ck_assert_uint_eq(hugetlb_chunks(0), 5);
	q = hm_realloc(q, 2 * MiB + 1);		/* shrinks by one chunk */
	ck_assert_uint_eq(hugetlb_chunks(0), 4);
	hm_free(q);
	hm_free(blocker);
	ck_assert_uint_eq(hugetlb_chunks(0), 0);
	unit_check_node(0);
}
END_TEST

START_TEST(no_hugetlb_no_work)
{
	struct slab *a = filled_ss(2);		/* THP heap */

	ck_assert(!on_hugetlb(a));
	ss_fork_prepare();
	ss_fork_parent();
	ck_assert_uint_eq(fake_os.calls.pool, 0);
	ck_assert_uint_eq(fake_os.calls.map_copy, 0);
	ck_assert_uint_eq(fake_os.calls.hook_set, 0);
	hugetlb_heap();				/* a hugetlb heap with nothing on the pool */
	ss_fork_prepare();
	ss_fork_child();
	ck_assert_uint_eq(fake_os.calls.map_copy + fake_os.calls.adopt, 0);
}
END_TEST

START_TEST(auto_shares_while_the_pool_has_room)
{
	struct slab *a;

	hugetlb_heap();
	a = filled_ss(3);
	hm_opt.fork_hugetlb = HM_FORK_AUTO;
	fake_os.pool_free = 2 + 8 + 5;
	fake_os.pool_resv = 5;			/* 10 unreserved: 2 * 1 + 8 */
	ss_fork_prepare();
	ss_fork_parent();
	ck_assert_uint_eq(fake_os.calls.pool, 1);
	ck_assert_uint_eq(fake_os.calls.map_copy, 0);
	fake_os.pool_resv = 6;			/* one short */
	ss_fork_prepare();
	ss_fork_parent();
	ck_assert_uint_eq(fake_os.calls.map_copy, 1);
	ck_assert_uint_eq(fake_os.calls.unmap, 1);
	hm_opt.fork_hugetlb = HM_FORK_COPY;	/* copy whatever the pool */
	fake_os.pool_resv = 0;
	ss_fork_prepare();
	ss_fork_parent();
	ck_assert_uint_eq(fake_os.calls.map_copy, 2);
	ck_assert(on_hugetlb(a));		/* the parent keeps its pages */
}
END_TEST

START_TEST(child_adopts_the_copy_of_each_run)
{
	struct slab *a, *b, *c;
	char *h;

	hugetlb_heap();
	a = filled_ss(4);
	b = filled_ss(5);			/* adjacent: one run with a */
	h = hm_malloc(5 * MiB);			/* 3 chunks after them: the same run */
	unit_fill(h, 5 * MiB, 6);
	fake_os.tier = HM_TIER_THP;
	c = filled_ss(7);			/* not on the pool */
	fake_os.tier = HM_TIER_HUGETLB;
	ck_assert_uint_eq(hugetlb_chunks(0), 5);

	ss_fork_prepare();
	ck_assert_uint_eq(fake_os.calls.map_copy, 1);
	ck_assert_uint_eq(fake_os.calls.hook_set, 1);
	ck_assert_uint_eq(unit_stat(ST_FORK_COPY_CHUNKS), HM_STATS_ENABLED ? 5 : 0);
	/* Written after the copy: the child gets the copy (no pagemap here). */
	memset((void *)slab_start(a), 0xee, 64);
	memset(h + 4 * MiB, 0xee, 64);
	ss_fork_child();
	ck_assert_uint_eq(fake_os.calls.adopt, 1);
	ck_assert_uint_eq(fake_os.calls.hook_clear, 1);
	ck_assert_uint_eq(unit_check_fill((void *)slab_start(a), 256 * HM_PAGE_SIZE, 4),
			  256 * HM_PAGE_SIZE);
	ck_assert_uint_eq(unit_check_fill((void *)slab_start(b), 256 * HM_PAGE_SIZE, 5),
			  256 * HM_PAGE_SIZE);
	ck_assert_uint_eq(unit_check_fill(h, 5 * MiB, 6), 5 * MiB);
	ck_assert_uint_eq(unit_check_fill((void *)slab_start(c), 256 * HM_PAGE_SIZE, 7),
			  256 * HM_PAGE_SIZE);
	ck_assert_uint_eq(hugetlb_chunks(0), 0);
	ck_assert_uint_eq(slab_ss(a)->tier, HM_TIER_THP);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss_tier[HM_TIER_HUGETLB], 0);
	ck_assert_uint_eq(hm_heap.node[0].nr_ss_tier[HM_TIER_THP], 3);
	unit_check_node(0);
	/* The child's heap works on: free, allocate on the pool again. */
	hm_free(h);
	ss_free_pages(a);
	hm_opt.reserve_ss = 0;
	ss_trim(0);
	ck_assert(on_hugetlb(filled_ss(8)));
	unit_check_node(0);
}
END_TEST

START_TEST(pages_never_written_are_not_read)
{
	char *h;

	hugetlb_heap();
	h = hm_malloc(4 * MiB);
	fake_os.absent = 1;			/* mincore: nothing resident */
	ss_fork_prepare();
	ck_assert_uint_eq(fake_os.calls.resident, 2);
	ss_fork_child();
	ck_assert(unit_is_zero(h, 4 * MiB));
	ck_assert_uint_eq(hugetlb_chunks(0), 0);
}
END_TEST

START_TEST(no_memory_for_the_copy_shares_as_before)
{
	struct slab *a;

	hugetlb_heap();
	a = filled_ss(9);
	fake_os.fail_map_copy = 1;
	fake_os.quiet = 1;
	ss_fork_prepare();
	ss_fork_child();
	ck_assert_uint_eq(fake_os.calls.adopt + fake_os.calls.hook_set, 0);
	ck_assert(on_hugetlb(a));
	ck_assert_uint_eq(hugetlb_chunks(0), 1);
}
END_TEST

/*
 * In a real child: a fault on a hugetlb chunk before the handler adopts.
 * A raw fork system call, so that no fork handler (mm/init.c) runs: the
 * test plays both halves.
 */
START_TEST(fault_hook_adopts_in_the_child_only)
{
	struct slab *a;
	int st;
	pid_t pid;

	hugetlb_heap();
	a = filled_ss(10);
	ss_fork_prepare();
	ck_assert_ptr_nonnull(fake_os.hook);
	ck_assert(!fake_os.hook((void *)slab_start(a)));	/* the parent's */
	pid = (pid_t)syscall(SYS_fork);
	if (pid == 0) {
		bool ok = !fake_os.hook(&st) &&	/* not the heap's */
			  fake_os.hook((void *)slab_start(a)) && fake_os.calls.adopt == 1 &&
			  !chunk_hugetlb(hm_chunk_index(slab_start(a)));

		ss_fork_child();		/* nothing left to adopt */
		_exit(ok && fake_os.calls.adopt == 1 ? 0 : 1);
	}
	ss_fork_parent();
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_ptr_null(fake_os.hook);
	ck_assert(on_hugetlb(a));
}
END_TEST

static Suite *fork_suite(void)
{
	Suite *s = suite_create("fork");
	TCase *map = unit_tcase("hugetlb_map");
	TCase *fork = unit_tcase("fork");

	tcase_add_test(map, commits_on_the_pool_are_marked);
	tcase_add_test(map, huge_objects_mark_their_chunks_and_move_them);
	tcase_add_test(fork, no_hugetlb_no_work);
	tcase_add_test(fork, auto_shares_while_the_pool_has_room);
	tcase_add_test(fork, child_adopts_the_copy_of_each_run);
	tcase_add_test(fork, pages_never_written_are_not_read);
	tcase_add_test(fork, no_memory_for_the_copy_shares_as_before);
	tcase_add_test(fork, fault_hook_adopts_in_the_child_only);
	suite_add_tcase(s, map);
	suite_add_tcase(s, fork);
	return s;
}

UNIT_MAIN(fork_suite)
