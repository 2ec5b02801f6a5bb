// SPDX-License-Identifier: MIT
/*
 * resvlost - the kernel issue behind hakmem's MAP_POPULATE of hugetlb
 * commits (mm/os.c), without hakmem.
 *
 *   resvlost [populate]
 *
 * A thread maps 2 private hugetlb pages (reserved by the mmap), writes
 * both and unmaps them, in a loop; the main thread forks 3000 children
 * that exit at once.  Run it while something shrinks and regrows the pool
 * (echo 0, echo 3 > /proc/sys/vm/nr_hugepages): on 6.18 the process dies
 * of SIGBUS on its own reserved page within seconds; with "populate"
 * (MAP_POPULATE: no page left reserved but not faulted) or without the
 * forks, it survives.  Prints "survived" and exits 0.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

static int populate;

static void *toucher(void *arg)
{
	(void)arg;
	for (;;) {
		char *h = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | populate, -1, 0);

		if (h == MAP_FAILED)
			continue;
		h[0] = 1;
		h[2 << 20] = 1;
		munmap(h, 4 << 20);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	populate = argc > 1 && !strcmp(argv[1], "populate") ? MAP_POPULATE : 0;
	if (pthread_create(&t, NULL, toucher, NULL))
		return 2;
	for (int i = 0; i < 3000; i++) {
		pid_t c = fork();

		if (c < 0)
			return 2;
		if (!c)
			_exit(0);
		waitpid(c, NULL, 0);
	}
	puts("survived");
	return 0;
}
