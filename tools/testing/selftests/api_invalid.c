// SPDX-License-Identifier: MIT
/*
 * api_invalid - free()/realloc() of pointers hakmem never handed out
 * must abort the process with a diagnostic instead of corrupting the heap.
 *
 * Each case runs in a forked child; the parent checks that the child died
 * of SIGABRT and that its stderr contains "hakmem: free(): invalid
 * pointer" (or the realloc() variant).  The message text is hakmem's own,
 * so that part is skipped when running against another allocator.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "hk_util.h"

#include <sys/mman.h>

static char g_area[8192] __attribute__((aligned(64)));

static void noinline_sink(void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

static void free_stack(void *arg)
{
	char buf[256] __attribute__((aligned(64)));

	(void)arg;
	memset(buf, 0, sizeof(buf));
	noinline_sink(buf);
	hk_free(hk_ptr(buf + 64));
}

static void free_global(void *arg)
{
	(void)arg;
	hk_free(hk_ptr(g_area + 2048));
}

static void free_mmap(void *arg)
{
	size_t ps = hk_pagesize();
	char *m = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		_exit(99);
	m[0] = 1;
	hk_free(hk_ptr(m + (arg ? ps : 0)));
}

static void free_interior(void *arg)
{
	size_t off = (size_t)(uintptr_t)arg;
	char *p = hk_malloc(64);

	if (!p)
		_exit(98);
	memset(p, 0x11, 64);
	hk_free(hk_ptr(p + off));
}

struct big_case {
	size_t size, off;
};

static void free_big_interior(void *arg)
{
	struct big_case *c = arg;
	char *p = hk_malloc(c->size);

	if (!p)
		_exit(98);
	memset(p, 0x22, c->size);
	hk_free(hk_ptr(p + c->off));
}

static void realloc_stack(void *arg)
{
	char buf[256] __attribute__((aligned(64)));
	void *q;

	(void)arg;
	memset(buf, 0, sizeof(buf));
	noinline_sink(buf);
	q = hk_realloc(hk_ptr(buf + 64), 100);
	noinline_sink(q);
}

static void realloc_interior(void *arg)
{
	char *p = hk_malloc(64);
	void *q;

	(void)arg;
	if (!p)
		_exit(98);
	q = hk_realloc(hk_ptr(p + 16), 200);
	noinline_sink(q);
}

/* free the same small, large or huge block twice in a row */
static void double_free(void *arg)
{
	size_t size = (size_t)(uintptr_t)arg;
	char *p = hk_malloc(size);

	hk_free(p);
	hk_free(p);
}

/* sanity: a valid free in a child is silent and exits normally */
static void free_valid(void *arg)
{
	char *p = hk_malloc(64), *q = hk_malloc(300 * KiB);

	(void)arg;
	hk_free(p);
	hk_free(q);
}

static void run_case(const char *name, void (*fn)(void *), void *arg,
		     const char *msg)
{
	struct hk_child c;
	char st[128];
	int aborted;

	if (hk_run_child(fn, arg, &c, 20) < 0) {
		tap_ok(0, "%s: child dies with SIGABRT", name);
		tap_ok(0, "%s: stderr says \"%s\"", name, msg);
		return;
	}
	hk_describe_status(c.status, st, sizeof(st));
	aborted = WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGABRT;
	if (!aborted) {
		tap_diag("%s: child %s", name, st);
		if (c.errlen)
			hk_diag_text("child stderr", c.err);
	}
	if (aborted || !tap_is_other())
		tap_ok(aborted, "%s: child dies with SIGABRT", name);
	else
		tap_skip("other allocator does not abort here",
			 "%s: child dies with SIGABRT (%s)", name, st);

	if (tap_is_other()) {
		if (c.errlen)
			hk_diag_text("child stderr", c.err);
		tap_skip("message text is hakmem-specific",
			 "%s: stderr says \"%s\"", name, msg);
		return;
	}
	if (!strstr(c.err, msg)) {
		if (aborted)
			hk_diag_text("child stderr", c.err);
		tap_ok(0, "%s: stderr says \"%s\"", name, msg);
	} else {
		tap_ok(1, "%s: stderr says \"%s\"", name, msg);
	}
}

int main(void)
{
	static const char fmsg[] = "hakmem: free(): invalid pointer";
	static const char rmsg[] = "hakmem: realloc(): invalid pointer";
	static struct big_case large = { 200 * KiB, 4096 };
	static struct big_case huge = { 16 * MiB, 2 * MiB };
	struct hk_child c;

	tap_watchdog(120);
	tap_init(29);
	tap_check_hakmem();

	if (hk_run_child(free_valid, NULL, &c, 20) == 0 &&
	    WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0 &&
	    c.errlen == 0)
		tap_ok(1, "valid free() in a child exits cleanly and silently");
	else
		tap_ok(0, "valid free() in a child exits cleanly and silently");

	run_case("free(stack address)", free_stack, NULL, fmsg);
	run_case("free(global address)", free_global, NULL, fmsg);
	run_case("free(mmap'd page)", free_mmap, NULL, fmsg);
	run_case("free(mmap'd page + 4096)", free_mmap, (void *)1, fmsg);
	run_case("free(malloc(64) + 8)", free_interior, (void *)8, fmsg);
	run_case("free(malloc(64) + 16)", free_interior, (void *)16, fmsg);
	run_case("free(malloc(200 KiB) + 4096)", free_big_interior, &large,
		 fmsg);
	run_case("free(malloc(16 MiB) + 2 MiB)", free_big_interior, &huge,
		 fmsg);
	run_case("free(p); free(p) of 48 bytes", double_free, (void *)48,
		 "hakmem: free(): double free detected");
	run_case("free(p); free(p) of 200 KiB", double_free, (void *)(200 * KiB), fmsg);
	run_case("free(p); free(p) of 16 MiB", double_free, (void *)(16 * MiB), fmsg);
	run_case("realloc(stack address)", realloc_stack, NULL, rmsg);
	run_case("realloc(malloc(64) + 16)", realloc_interior, NULL, rmsg);

	/* the parent's heap is unaffected by all of this */
	{
		char *p = hk_malloc(1000);
		int ok = p != NULL;

		if (p) {
			hk_fill(p, 1000, 1);
			ok = hk_check(p, 1000, 1) == HK_INTACT;
		}
		hk_free(p);
		tap_ok(ok, "parent heap still works");
	}
	return tap_finish();
}
