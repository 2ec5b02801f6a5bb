/* SPDX-License-Identifier: MIT */
/*
 * tap.h - minimal TAP producer for the hakmem selftests.
 *
 * Every selftest program:
 *   tap_init(N);                 prints "TAP version 13" and the plan "1..N"
 *   tap_check_hakmem();          test 1: is libhakmem.so really preloaded?
 *   tap_ok(cond, "name", ...);   "ok N - name" / "not ok N - name"
 *   tap_skip("reason", "name");  "ok N - name # SKIP reason"
 *   tap_diag("fmt", ...);        "# ..." diagnostic line
 *   return tap_finish();         "# totals: pass:P fail:F skip:S", exit code
 *
 * The program exits 0 iff no test failed (and the plan was honoured).
 *
 * HAKMEM_SELFTEST_ALLOW_OTHER=1 lets the programs run against another
 * allocator (e.g. plain glibc) while developing: the "hakmem is loaded"
 * test then passes with a note and tap_is_other() returns 1, which
 * hakmem-specific checks use to turn themselves into SKIPs.
 */
#ifndef HAKMEM_SELFTEST_TAP_H
#define HAKMEM_SELFTEST_TAP_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_planned;
static int tap_count;
static int tap_npass;
static int tap_nfail;
static int tap_nskip;
static int tap_other;        /* running against a different allocator */

static inline void tap_vline(const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, stdout);
	vprintf(fmt, ap);
}

static inline void tap_diag(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline("# ", fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static inline void tap_init(int planned)
{
	/* Line buffering: nothing is left in stdio buffers across fork(). */
	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_planned = planned;
	printf("TAP version 13\n");
	printf("1..%d\n", planned);
	fflush(stdout);
}

static inline int tap_ok(int cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	if (cond) {
		tap_npass++;
		printf("ok %d - ", tap_count);
	} else {
		tap_nfail++;
		printf("not ok %d - ", tap_count);
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	return cond;
}

/* "ok N - name # SKIP reason" */
static inline void tap_skip(const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void tap_skip(const char *reason, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	tap_nskip++;
	printf("ok %d - ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" # SKIP %s\n", reason);
	fflush(stdout);
}

static inline int tap_is_other(void)
{
	return tap_other;
}

/* Test: is hakmem really the allocator of this process? */
static inline int tap_check_hakmem(void)
{
	void *sym = dlsym(RTLD_DEFAULT, "hakmem_version");
	const char *allow = getenv("HAKMEM_SELFTEST_ALLOW_OTHER");

	if (sym) {
		tap_other = 0;
		tap_diag("hakmem_version found at %p", sym);
		return tap_ok(1, "hakmem is loaded");
	}
	if (allow && strcmp(allow, "1") == 0) {
		tap_other = 1;
		tap_diag("running against another allocator "
			 "(HAKMEM_SELFTEST_ALLOW_OTHER=1)");
		return tap_ok(1, "hakmem is loaded");
	}
	tap_other = 0;
	tap_diag("dlsym(RTLD_DEFAULT, \"hakmem_version\") is NULL: "
		 "run with LD_PRELOAD=/path/to/libhakmem.so");
	return tap_ok(0, "hakmem is loaded");
}

static inline int tap_finish(void)
{
	if (tap_count != tap_planned) {
		tap_diag("planned %d tests but ran %d", tap_planned, tap_count);
		tap_nfail++;
	}
	printf("# totals: pass:%d fail:%d skip:%d\n",
	       tap_npass, tap_nfail, tap_nskip);
	fflush(stdout);
	return tap_nfail ? 1 : 0;
}

/* Watchdog: a hung allocator must not hang the test run. */
static void tap_watchdog_handler(int sig)
{
	static const char msg[] = "Bail out! watchdog timeout\n";
	ssize_t r;

	(void)sig;
	r = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	(void)r;
	_exit(2);
}

static inline void tap_watchdog(unsigned int seconds)
{
	signal(SIGALRM, tap_watchdog_handler);
	alarm(seconds);
}

#endif /* HAKMEM_SELFTEST_TAP_H */
