/* SPDX-License-Identifier: MIT */
/*
 * allocwho - report which shared object provides malloc in this process,
 * and the version symbols of the allocators the benchmark knows.
 *
 * usage: allocwho
 *
 * Run under the same LD_PRELOAD as a program being measured, it tells what
 * that program's malloc binds to.  With BENCH_EXPECT set (a library path or
 * "glibc") it exits 2 when the expectation is not met.  Prints:
 *
 *   allocwho malloc=PATH hakmem=VER|- mimalloc=VER|- jemalloc=yes|- tcmalloc=VER|-
 */
#include "bench.h"

int main(void)
{
	const char *path = bench_verify_allocator("allocwho");
	const char *(*hk)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "hakmem_version");
	int (*mi)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "mi_version");
	const char *(*tc)(int *, int *, const char **) =
		(const char *(*)(int *, int *, const char **))dlsym(RTLD_DEFAULT, "tc_version");
	void *je = dlsym(RTLD_DEFAULT, "mallctl");
	void *p = malloc(100);
	char mibuf[32] = "-";

	if (!p)
		bench_oom("allocwho", 100);
	bench_fill("allocwho", p, 100);
	bench_check("allocwho", p, 100);
	free(p);
	if (mi)
		snprintf(mibuf, sizeof(mibuf), "%d", mi());
	printf("allocwho malloc=%s hakmem=%s mimalloc=%s jemalloc=%s tcmalloc=%s\n",
	       path, hk ? hk() : "-", mibuf, je ? "yes" : "-",
	       tc ? tc(NULL, NULL, NULL) : "-");
	return 0;
}
