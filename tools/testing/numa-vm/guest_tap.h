/* SPDX-License-Identifier: MIT */
/*
 * guest_tap.h - the TAP lines of the programs the qemu guests run
 * (numa_vm, vmaname_vm): "ok - ..." or "not ok - ...", without numbers,
 * since one guest runs several programs and the host numbers the lines
 * (tools/testing/numa-vm/vm.sh).  The program's exit status comes from
 * failures, the count of "not ok" lines.
 */
#ifndef HAKMEM_GUEST_TAP_H
#define HAKMEM_GUEST_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int failures;

static void tap(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tap(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

#endif /* HAKMEM_GUEST_TAP_H */
