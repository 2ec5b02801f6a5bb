// SPDX-License-Identifier: MIT
/*
 * The size-class table (mm/sizeclass.c, include/hakmem/sizeclass.h):
 * request -> class mapping, class geometry, the multiply-only "is this an
 * object start" test, aligned classes and the per-CPU slot layout.
 */
#include <stdio.h>

#include "unit.h"

#ifndef HM_SLAB_MIN_BYTES
#define HM_SLAB_MIN_BYTES	0
#endif

START_TEST(region_from_environment)
{
	/* unit.c set HAKMEM_REGION_GB=4 before the library constructor ran. */
	ck_assert_int_eq(hm_opt.region_gb, UNIT_REGION_GB);
	ck_assert_uint_eq(hm_heap.region_shift, 32);
	ck_assert_uint_eq(hm_heap.nr_nodes, FAKE_NR_NODES);
	ck_assert_uint_eq(hm_heap.nr_cpus, FAKE_NR_CPUS);
	ck_assert_uint_eq(hm_heap.span, (uintptr_t)FAKE_NR_NODES << 32);
	ck_assert_uint_eq(hm_heap.cpu_node[0], 0);
	ck_assert_uint_eq(hm_heap.cpu_node[1], 0);
	ck_assert_uint_eq(hm_heap.cpu_node[2], 1);
	ck_assert_uint_eq(hm_heap.cpu_node[3], 1);
	ck_assert_uint_eq(hm_heap.node[1].base, hm_heap.base + (1UL << 32));
}
END_TEST

START_TEST(every_size_has_the_smallest_fitting_class)
{
	ck_assert_uint_eq(size_class(0), 0);
	for (size_t n = 1; n <= HM_SMALL_MAX; n++) {
		unsigned c = size_class(n);

		unit_assert(c < HM_NCLASS, "size_class(%zu) = %u", n, c);
		unit_assert(hm_class[c].size >= n, "size_class(%zu) = %u of size %u",
			      n, c, hm_class[c].size);
		unit_assert(c == 0 || hm_class[c - 1].size < n,
			      "size_class(%zu) = %u, but class %u (size %u) fits", n, c, c - 1,
			      hm_class[c - 1].size);
		if (n <= 1024)
			unit_assert(size_class_small(n) == c, "size_class_small(%zu) = %u, want %u",
				    n, size_class_small(n), c);
		else
			unit_assert(size_class_medium(n) == c, "size_class_medium(%zu) = %u, want %u",
				    n, size_class_medium(n), c);
	}
}
END_TEST

START_TEST(sizes_aligned_and_increasing)
{
	ck_assert_uint_eq(hm_class[0].size, HM_ALIGN);
	ck_assert_uint_eq(hm_class[HM_NCLASS - 1].size, HM_SMALL_MAX);
	for (unsigned c = 0; c < HM_NCLASS; c++) {
		unit_assert(hm_class[c].size % HM_ALIGN == 0, "class %u size %u", c, hm_class[c].size);
		if (c)
			unit_assert(hm_class[c].size > hm_class[c - 1].size,
				      "class %u size %u <= class %u size %u", c, hm_class[c].size,
				      c - 1, hm_class[c - 1].size);
	}
}
END_TEST

START_TEST(fragmentation_bound)
{
	for (size_t n = 1; n <= HM_SMALL_MAX; n++) {
		size_t sz = hm_class[size_class(n)].size;

		if (n <= 128)
			unit_assert(sz <= n + 15, "n %zu: class size %zu > n + 15", n, sz);
		else
			unit_assert(sz * 4 < n * 5, "n %zu: class size %zu >= 1.25 n", n, sz);
	}
}
END_TEST

START_TEST(slab_geometry)
{
	for (unsigned c = 0; c < HM_NCLASS; c++) {
		const struct size_class *sc = &hm_class[c];
		size_t bytes = (size_t)sc->npages * HM_PAGE_SIZE;

		unit_assert(sc->npages >= 1 && sc->npages <= HM_SLAB_MAX_PAGES,
			      "class %u: %u pages", c, sc->npages);
		unit_assert((size_t)sc->capacity * sc->size <= bytes,
			      "class %u: %u objects of %u > %zu bytes", c, sc->capacity, sc->size, bytes);
		unit_assert(sc->capacity >= HM_SLAB_MIN_OBJECTS, "class %u: capacity %u", c,
			      sc->capacity);
		unit_assert(sc->capacity == bytes / sc->size,
			      "class %u: capacity %u, %zu fit", c, sc->capacity, bytes / sc->size);
		ck_assert_uint_eq(sc->span, (uint32_t)sc->capacity * sc->size);
		ck_assert_msg(bytes >= HM_SLAB_MIN_BYTES, "class %u: slab of %zu bytes", c, bytes);
		/*
		 * The documented rule: the fewest pages that span the minimum,
		 * hold the minimum of objects and waste at most 1/16.
		 */
		for (unsigned p = 1; p <= HM_SLAB_MAX_PAGES; p++) {
			size_t b = (size_t)p * HM_PAGE_SIZE;

			if (b >= HM_SLAB_MIN_BYTES && b / sc->size >= HM_SLAB_MIN_OBJECTS &&
			    (b % sc->size) * 16 <= b) {
				unit_assert(sc->npages == p, "class %u (size %u): %u pages, %u would do",
					      c, sc->size, sc->npages, p);
				break;
			}
		}
	}
}
END_TEST

START_TEST(is_start_matches_modulo)
{
	unsigned c = (unsigned)_i;
	const struct size_class *sc = &hm_class[c];
	uint32_t end = (uint32_t)sc->npages * HM_PAGE_SIZE;

	for (uint32_t off = 0; off < end; off++)
		unit_assert(!size_class_is_start(c, off) == (off % sc->size || off >= sc->span),
			      "class %u (size %u): is_start(%u) = %d", c, sc->size, off,
			      size_class_is_start(c, off));
	/* It holds for any 32-bit offset, not only inside a slab. */
	unit_srand(c + 1);
	for (unsigned k = 0; k < 20000; k++) {
		uint32_t off = unit_rand();

		if (k & 1)
			off -= off % sc->size;
		if (k & 2)
			off %= sc->span + sc->size;	/* near the slab, past its end too */
		unit_assert(!size_class_is_start(c, off) == (off % sc->size || off >= sc->span),
			      "class %u (size %u): is_start(%u) = %d", c, sc->size, off,
			      size_class_is_start(c, off));
	}
}
END_TEST

/* Page codes that are not classes never pass the object-start test. */
START_TEST(non_class_pages_hold_no_objects)
{
	static const unsigned codes[] = { HM_NCLASS, PAGE_CLS_LARGE, PAGE_CLS_HDR, PAGE_CLS_FREE };

	for (unsigned k = 0; k < ARRAY_SIZE(codes); k++)
		for (uint32_t off = 0; off < 64 * HM_PAGE_SIZE; off += 16)
			unit_assert(!size_class_is_start(codes[k], off),
				    "page code %#x: is_start(%u) is true", codes[k], off);
}
END_TEST

START_TEST(aligned_classes)
{
	for (size_t a = HM_ALIGN; a <= HM_PAGE_SIZE; a <<= 1) {
		for (size_t n = 0; n <= HM_SMALL_MAX; n++) {
			int c = size_class_aligned(n, a);
			size_t want = n ? n : 1;

			unit_assert(c >= 0 && c < HM_NCLASS, "aligned(%zu, %zu) = %d", n, a, c);
			unit_assert(hm_class[c].size % a == 0 && hm_class[c].size >= want,
				      "aligned(%zu, %zu) = %d of size %u", n, a, c, hm_class[c].size);
			for (int d = 0; d < c; d++)
				unit_assert(hm_class[d].size < want || hm_class[d].size % a,
					      "aligned(%zu, %zu) = %d, but class %d (size %u) fits",
					      n, a, c, d, hm_class[d].size);
		}
	}
	for (size_t a = 2 * HM_PAGE_SIZE; a <= HM_SS_SIZE; a <<= 1) {
		ck_assert_int_eq(size_class_aligned(1, a), -1);
		ck_assert_int_eq(size_class_aligned(HM_SMALL_MAX, a), -1);
	}
	ck_assert_int_eq(size_class_aligned(HM_SMALL_MAX + 1, HM_ALIGN), -1);
	ck_assert_int_eq(size_class_aligned(HM_SMALL_MAX + 1, HM_PAGE_SIZE), -1);
}
END_TEST

START_TEST(pcpu_capacities)
{
	unsigned off = 0;

	for (unsigned c = 0; c < HM_NCLASS; c++) {
		const struct size_class *sc = &hm_class[c];
		unsigned want = (unsigned)(HM_PCPU_CLASS_BYTES / sc->size);

		want = MAX(want, HM_PCPU_MIN_OBJECTS);
		want = MIN(want, HM_PCPU_MAX_OBJECTS);
		unit_assert(sc->pcpu_off == off, "class %u: pcpu_off %u, want %u", c, sc->pcpu_off, off);
		unit_assert(sc->pcpu_cap == want, "class %u (size %u): pcpu_cap %u, want %u",
			      c, sc->size, sc->pcpu_cap, want);
		off += sc->pcpu_cap;
	}
	ck_assert_uint_eq(hm_pcpu_slots, off);
	/* One guard slot per class and the stacks fit in one cache. */
	ck_assert_uint_le(HM_PCPU_FIRST_SLOT + HM_NCLASS + hm_pcpu_slots, HM_PCPU_NSLOTS);
}
END_TEST

/*
 * Documentation/size-classes.rst carries the class table: every row must
 * say what the code computes (class, size, pages, objects, tail waste,
 * per-CPU capacity), and every class must have its row.
 */
START_TEST(documented_table_matches)
{
	FILE *f = fopen(UNIT_SRCTREE "/Documentation/size-classes.rst", "r");
	unsigned seen = 0;
	char line[256];

	ck_assert_msg(f != NULL, "cannot open Documentation/size-classes.rst");
	while (fgets(line, sizeof(line), f)) {
		unsigned cls, size, pages, objects, waste, cap;

		if (sscanf(line, " %u %u %u %u %u %u", &cls, &size, &pages, &objects,
			   &waste, &cap) != 6)
			continue;
		ck_assert_uint_lt(cls, HM_NCLASS);
		ck_assert_uint_eq(cls, seen);
		ck_assert_uint_eq(size, hm_class[cls].size);
		ck_assert_uint_eq(pages, hm_class[cls].npages);
		ck_assert_uint_eq(objects, hm_class[cls].capacity);
		ck_assert_uint_eq(waste, pages * HM_PAGE_SIZE - objects * size);
		ck_assert_uint_eq(cap, hm_class[cls].pcpu_cap);
		seen++;
	}
	fclose(f);
	ck_assert_uint_eq(seen, HM_NCLASS);
}
END_TEST

static Suite *sizeclass_suite(void)
{
	Suite *s = suite_create("sizeclass");
	TCase *tc = unit_tcase("table");

	tcase_add_test(tc, region_from_environment);
	tcase_add_test(tc, every_size_has_the_smallest_fitting_class);
	tcase_add_test(tc, sizes_aligned_and_increasing);
	tcase_add_test(tc, fragmentation_bound);
	tcase_add_test(tc, slab_geometry);
	tcase_add_loop_test(tc, is_start_matches_modulo, 0, HM_NCLASS);
	tcase_add_test(tc, aligned_classes);
	tcase_add_test(tc, pcpu_capacities);
	tcase_add_test(tc, non_class_pages_hold_no_objects);
	tcase_add_test(tc, documented_table_matches);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(sizeclass_suite)
