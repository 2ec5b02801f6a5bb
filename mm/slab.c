// SPDX-License-Identifier: MIT
/*
 * The middle layer: slabs and the per-node central lists.
 *
 * A slab is a run of pages of one superslab cut into objects of one size
 * class (the slab length per class is in mm/sizeclass.c).  Objects are
 * handed out first from the slab's free list, then from its never-used
 * tail (carved), so a new slab touches its pages only as they are needed.
 *
 * Each (node, class) pair has a struct central: a lock and the list of
 * slabs of that node and class with free or uncarved objects.  The per-CPU
 * caches move objects in and out in batches, one lock round-trip per batch.
 *
 * Slab states:  PARTIAL (on the central list)  <->  FULL (off it)
 *               PARTIAL with used == 0: given back to its superslab, except
 *               while it is one of the last HAKMEM_SPARE_SLABS (2; 1 in the
 *               lean profile) partial slabs of its class (a spare against
 *               alloc/free ping-pong).
 *
 * Locking: central->lock guards the list and every field of its slabs.
 * The node lock (superslab pages) nests inside it.
 * fork(): all central locks are taken before fork, in node then class
 * order, and released (parent) or reset (child) after it.
 */
#include "hakmem/internal.h"

/* Slabs of each class that exist, for the statistics. */
static uint64_t nr_slabs[HM_NCLASS];

static void slab_gone(unsigned cls)
{
	__atomic_fetch_sub(&nr_slabs[cls], 1, __ATOMIC_RELAXED);
	hm_stat_inc(ST_SLAB_RELEASE);
}

uint64_t slab_count(unsigned cls)
{
	return READ_ONCE(nr_slabs[cls]);
}

static struct central *central_of(unsigned node, unsigned cls)
{
	return &hm_heap.node[node].central[cls];
}

static void partial_add(struct central *c, struct slab *s)
{
	s->state = SLAB_PARTIAL;
	s->prev = NULL;
	s->next = c->partial;
	if (c->partial)
		c->partial->prev = s;
	c->partial = s;
	c->nr_partial++;
}

static void partial_del(struct central *c, struct slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->partial = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	c->nr_partial--;
}

static struct slab *slab_new(unsigned node, unsigned cls)
{
	const struct size_class *sc = &hm_class[cls];
	struct slab *s;

	s = ss_alloc_pages(node, sc->npages, 1, cls);
	if (!s)
		return NULL;
	s->capacity = sc->capacity;
	__atomic_fetch_add(&nr_slabs[cls], 1, __ATOMIC_RELAXED);
	hm_stat_inc(ST_SLAB_NEW);
	return s;
}

/*
 * out[i] = end - (i + 1) * size for i < k: the highest address first, so
 * the stack pops the lowest first.  Two at a time: a refill carves up to a
 * whole cache (64 objects), and this loop was a fifth of its instructions.
 */
typedef uintptr_t uptr2 __attribute__((vector_size(2 * sizeof(uintptr_t))));

static void carve_down(void **out, uintptr_t end, uintptr_t size, unsigned k)
{
	uptr2 v = { end - size, end - 2 * size }, step = { 2 * size, 2 * size };
	unsigned i = 0;

	for (; i + 2 <= k; i += 2) {
		__builtin_memcpy(out + i, &v, sizeof(v));
		v -= step;
	}
	if (i < k)
		out[i] = (void *)v[0];
}

unsigned central_alloc(unsigned node, unsigned cls, void **out, unsigned want)
{
	return central_refill(node, cls, out, want, want);
}

/*
 * Up to want objects, and up to max when the last of them come from a
 * slab's never-used tail: a cache that runs dry while the program only
 * allocates is refilled from fresh, contiguous memory that nothing else
 * is waiting for, so one lock round-trip can as well fill it (half as many
 * refills while a heap grows: ptrchase's 4M 64-byte nodes).  Objects from
 * free lists stay at want: they are the ones other CPUs give back.
 */
unsigned central_refill(unsigned node, unsigned cls, void **out, unsigned want, unsigned max)
{
	const struct size_class *sc = &hm_class[cls];
	struct central *c = central_of(node, cls);
	unsigned got = 0;

	ss_purge_tick(node);
	hm_lock(&c->lock);
	while (got < want) {
		struct slab *s = c->partial;

		if (!s) {
			s = slab_new(node, cls);
			if (!s)
				break;
			partial_add(c, s);
		}
		while (got < want && s->freelist) {
			void *p = s->freelist;

			s->freelist = *(void **)p;
			out[got++] = p;
			s->used++;
		}
		if (got < want && s->carved < s->capacity) {
			unsigned k = MIN(MAX(want, max) - got, s->capacity - s->carved);
			uintptr_t a = slab_start(s) + (uintptr_t)(s->carved + k) * sc->size;

			carve_down(out + got, a, sc->size, k);
			got += k;
			s->carved += k;
			s->used += k;
		}
		if (!s->freelist && s->carved == s->capacity) {
			partial_del(c, s);
			s->state = SLAB_FULL;
		}
	}
	hm_unlock(&c->lock);
	return got;
}

static struct slab *slab_of(uintptr_t p)
{
	struct superslab *ss = ss_of(p);
	unsigned page = ss_page_of(p);

	return &ss->slab[page - ss->page_delta[page]];
}

void central_free(unsigned cls, void **objs, unsigned n)
{
	struct central *c = NULL;

	for (unsigned i = 0; i < n; i++) {
		uintptr_t p = (uintptr_t)objs[i];
		struct central *want = central_of(hm_node_of(p), cls);
		struct slab *s = slab_of(p);

		if (want != c) {
			if (c)
				hm_unlock(&c->lock);
			c = want;
			hm_lock(&c->lock);
		}
		if (unlikely(s->freelist == (void *)p || !s->used)) {
			hm_unlock(&c->lock);
			hm_fatal("free(): double free detected", (void *)p);
		}
		*(void **)p = s->freelist;
		s->freelist = (void *)p;
		s->used--;
		if (s->state == SLAB_FULL)
			partial_add(c, s);
		if (!s->used && c->nr_partial > (uint32_t)hm_opt.spare_slabs) {
			partial_del(c, s);
			s->state = SLAB_UNUSED;
			ss_free_pages(s);
			slab_gone(cls);
		}
	}
	if (c)
		hm_unlock(&c->lock);
}

/* malloc_trim: give every empty slab back, spares included. */
void central_trim(void)
{
	for (unsigned node = 0; node < hm_heap.nr_nodes; node++) {
		for (unsigned cls = 0; cls < HM_NCLASS; cls++) {
			struct central *c = central_of(node, cls);
			struct slab *s, *next;

			hm_lock(&c->lock);
			for (s = c->partial; s; s = next) {
				next = s->next;
				if (s->used)
					continue;
				partial_del(c, s);
				s->state = SLAB_UNUSED;
				ss_free_pages(s);
				slab_gone(cls);
			}
			hm_unlock(&c->lock);
		}
	}
}

uint64_t central_free_objects(unsigned node, unsigned cls)
{
	struct central *c = central_of(node, cls);
	uint64_t n = 0;

	hm_lock(&c->lock);
	for (struct slab *s = c->partial; s; s = s->next)
		n += s->capacity - s->used;
	hm_unlock(&c->lock);
	return n;
}

void central_fork_prepare(void)
{
	for (unsigned node = 0; node < hm_heap.nr_nodes; node++)
		for (unsigned cls = 0; cls < HM_NCLASS; cls++)
			hm_lock(&central_of(node, cls)->lock);
}

void central_fork_parent(void)
{
	for (unsigned node = hm_heap.nr_nodes; node-- > 0;)
		for (unsigned cls = HM_NCLASS; cls-- > 0;)
			hm_unlock(&central_of(node, cls)->lock);
}

void central_fork_child(void)
{
	for (unsigned node = 0; node < hm_heap.nr_nodes; node++)
		for (unsigned cls = 0; cls < HM_NCLASS; cls++)
			hm_lock_reset(&central_of(node, cls)->lock);
}
