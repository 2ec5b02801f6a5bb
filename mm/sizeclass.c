// SPDX-License-Identifier: MIT
/*
 * The size-class table.
 *
 * Sizes: 16-byte steps up to 128, then four classes per power of two up to
 * HM_SMALL_MAX (32 KiB), 40 classes in all.  Internal fragmentation is
 * bounded by (step - 1) / class size: under 1/8 for n <= 128 apart from the
 * sub-16-byte requests, and under 1/5 above 128.
 *
 * Slab length: the fewest pages (1..HM_SLAB_MAX_PAGES) that span at least
 * HM_SLAB_MIN_BYTES (HAKMEM_SLAB_MIN_KB when smaller: lean), hold at least HM_SLAB_MIN_OBJECTS objects and waste at
 * most 1/16 of the slab at its tail; failing that, the length with the
 * least waste.  16 KiB keeps a refill of half a per-CPU cache inside one
 * or two slabs for every class.
 *
 * Per-CPU capacity: HM_PCPU_CLASS_BYTES worth of objects, clamped to
 * [HM_PCPU_MIN_OBJECTS, HAKMEM_PCPU_MAX] (HM_PCPU_MAX_OBJECTS unless the
 * profile or the variable says fewer; the options are read first).
 */
#include "hakmem/internal.h"

struct size_class hm_class[HM_NCLASS];
uint8_t hm_class_lut[(HM_SMALL_MAX >> 4) + 1];
struct class_start hm_class_start;
unsigned hm_pcpu_slots;

static uint32_t class_size(unsigned cls)
{
	unsigned g, i;

	if (cls < 8)
		return 16 * (cls + 1);
	g = (cls - 8) / 4;		/* doubling: 128 << g .. 256 << g */
	i = (cls - 8) % 4;
	return (uint32_t)((4 + i + 1) << (g + 5));
}

/*
 * The object-start test's constants for a size d and a capacity (struct
 * class_start).  For off = j * d + r below 2^32 (0 <= r < d), off * mul is
 * j * e + r * mul modulo 2^64 with e = d * mul - 2^64, 1 <= e <= d.  Both
 * terms stay below 2^64 together (j * e < 2^32, r * mul < 2^64 - 2^64 / d
 * + d), so r = 0 gives j * e, below cap * e iff j < cap, and r > 0 gives at
 * least mul > 2^64 / d, while cap * e <= cap * d is a slab's size.
 */
static void start_test(uint32_t d, uint32_t cap, uint64_t *mul, uint64_t *lim)
{
	uint64_t m = (uint64_t)(((unsigned __int128)1 << 64) / d) + 1;
	uint64_t e = (uint64_t)d * m;		/* d * m - 2^64, modulo 2^64 */

	*mul = m;
	*lim = (uint64_t)cap * e;
}

/* HAKMEM_SLAB_MIN_KB (lean: 4 KiB), or HM_SLAB_MIN_BYTES. */
static size_t slab_min_bytes(void)
{
	if (hm_opt.slab_min_kb > 0 && (size_t)hm_opt.slab_min_kb << 10 < HM_SLAB_MIN_BYTES)
		return (size_t)hm_opt.slab_min_kb << 10;
	return HM_SLAB_MIN_BYTES;
}

static unsigned slab_pages(uint32_t size)
{
	size_t min_bytes = slab_min_bytes();
	unsigned best = 0;
	size_t best_waste = 0;

	for (unsigned p = 1; p <= HM_SLAB_MAX_PAGES; p++) {
		size_t bytes = p * HM_PAGE_SIZE;
		size_t waste = bytes % size;

		if (bytes / size < HM_SLAB_MIN_OBJECTS || bytes < min_bytes)
			continue;
		if (waste * 16 <= bytes)
			return p;
		if (!best || waste * best < best_waste * p) {
			best = p;
			best_waste = waste;
		}
	}
	return best ? best : HM_SLAB_MAX_PAGES;
}

void sizeclass_init(void)
{
	unsigned off = 0, max = HM_PCPU_MAX_OBJECTS;

	if (hm_opt.pcpu_max >= HM_PCPU_MIN_OBJECTS && hm_opt.pcpu_max < HM_PCPU_MAX_OBJECTS)
		max = (unsigned)hm_opt.pcpu_max;

	for (unsigned c = 0; c < HM_NCLASS; c++) {
		struct size_class *sc = &hm_class[c];
		uint32_t size = class_size(c);
		unsigned cap;

		sc->size = size;
		sc->npages = slab_pages(size);
		sc->capacity = sc->npages * HM_PAGE_SIZE / size;
		start_test(size, sc->capacity, &hm_class_start.mul[c + 1],
			   &hm_class_start.lim[c + 1]);
		sc->span = sc->capacity * size;
		cap = HM_PCPU_CLASS_BYTES / size;
		cap = MAX(cap, HM_PCPU_MIN_OBJECTS);
		cap = MIN(cap, max);
		sc->pcpu_cap = cap;
		sc->pcpu_off = off;
		off += cap;
	}
	hm_pcpu_slots = off;
	for (unsigned i = 0; i < ARRAY_SIZE(hm_class_lut); i++) {
		size_t n = i ? (size_t)i << 4 : 1;
		unsigned c = 0;

		while (hm_class[c].size < n)
			c++;
		hm_class_lut[i] = c;
	}
}

int size_class_aligned(size_t n, size_t align)
{
	/* Slabs start on a page boundary: no stronger alignment to offer. */
	if (n > HM_SMALL_MAX || align > HM_PAGE_SIZE)
		return -1;
	for (unsigned c = size_class(n ? n : 1); c < HM_NCLASS; c++)
		if ((hm_class[c].size & (align - 1)) == 0)
			return c;
	return -1;
}
