// SPDX-License-Identifier: MIT
/*
 * api_vmaname - the heap's mappings are named by tier and node.
 *
 * hakmem names every superslab and huge object "hakmem-<tier>-n<node>"
 * and its metadata "hakmem-meta" with prctl(PR_SET_VMA_ANON_NAME), so
 * /proc/PID/smaps shows them.  Kernels built without CONFIG_ANON_VMA_NAME
 * (every Debian kernel so far) refuse with EINVAL, and hakmem then stops
 * asking.  So that the naming can be checked on any kernel, this program
 * defines prctl() itself and exports it (see the Makefile): the library's
 * calls land here, the names are recorded, and everything else goes to the
 * real system call.  Then:
 *
 *   - every block (small, large, huge) lies in a range named for the tier
 *     and node the statistics report, and the metadata is named;
 *   - in a second run (this program again, VMANAME_REFUSE=1) prctl refuses
 *     as such a kernel does: hakmem asks once and never again, and works.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "hk_util.h"
#include "hakmem.h"
#include <spawn.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA		0x53564d41
#define PR_SET_VMA_ANON_NAME	0
#endif

#define MAX_NAMES	4096

static struct named {
	unsigned long	addr, len;
	char		name[40];
} names[MAX_NAMES];
static int nr_names, nr_calls, refuse = -1;

int prctl(int option, ...)
{
	unsigned long a[4];
	va_list ap;

	va_start(ap, option);
	for (int i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	if (option != PR_SET_VMA || a[0] != PR_SET_VMA_ANON_NAME)
		return (int)syscall(SYS_prctl, option, a[0], a[1], a[2], a[3]);
	__atomic_fetch_add(&nr_calls, 1, __ATOMIC_RELAXED);
	if (refuse < 0)		/* hakmem names its first mappings before main() */
		refuse = getenv("VMANAME_REFUSE") != NULL;
	{
		int i = __atomic_fetch_add(&nr_names, 1, __ATOMIC_RELAXED);

		if (i < MAX_NAMES) {
			names[i].addr = a[1];
			names[i].len = a[2];
			snprintf(names[i].name, sizeof(names[i].name), "%s",
				 a[3] ? (const char *)a[3] : "(null)");
		}
	}
	if (refuse) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* The name of the last range recorded over p, or NULL. */
static const char *name_of(const void *p)
{
	unsigned long a = (unsigned long)p;
	const char *found = NULL;
	int n = nr_names < MAX_NAMES ? nr_names : MAX_NAMES;

	for (int i = 0; i < n; i++)
		if (a >= names[i].addr && a - names[i].addr < names[i].len)
			found = names[i].name;
	return found;
}

static int count_named(const char *name)
{
	int n = nr_names < MAX_NAMES ? nr_names : MAX_NAMES, k = 0;

	for (int i = 0; i < n; i++)
		k += !strcmp(names[i].name, name);
	return k;
}

/* The refusing kernel: one call, then none; the heap still works. */
static int refused_run(void)
{
	void *p[64];
	int calls;

	for (int i = 0; i < 64; i++) {
		p[i] = malloc(i < 32 ? 100 : (size_t)1 << 20);
		if (!p[i])
			return 2;
		memset(p[i], i, i < 32 ? 100 : (size_t)1 << 20);
	}
	for (int i = 0; i < 64; i++)
		free(p[i]);
	calls = __atomic_load_n(&nr_calls, __ATOMIC_RELAXED);
	printf("# refused run: %d naming calls\n", calls);
	return calls == 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
	int (*get)(struct hakmem_stats *, size_t);
	static struct hakmem_stats st;
	char want[40];
	void *small[256], *large, *huge;
	const char *n;
	int bad = 0;

	(void)argc;
	if (getenv("VMANAME_REFUSE"))
		return refused_run();
	tap_init(8);
	if (!tap_check_hakmem())
		return tap_finish();
	*(void **)&get = dlsym(RTLD_DEFAULT, "hakmem_stats_get");

	for (int i = 0; i < 256; i++)
		small[i] = hk_malloc(16 + (size_t)i * 4);
	large = hk_malloc(256 << 10);
	huge = hk_malloc(8 << 20);
	memset(huge, 1, 8 << 20);
	tap_ok(get && get(&st, sizeof(st)) > 0, "hakmem_stats_get() answers");
	snprintf(want, sizeof(want), "hakmem-%s-n0", st.first_tier);
	tap_diag("%d ranges named; heap tier %s, %u node(s)", nr_names, st.first_tier,
		 st.nr_nodes);

	if (!strcmp(st.first_tier, "hugetlb")) {
		/* Hugetlb mappings are files to the kernel: they take no name. */
		tap_skip("the heap is on hugetlb pages, which take no name", "small blocks");
		tap_skip("the heap is on hugetlb pages", "large block");
		tap_skip("the heap is on hugetlb pages", "huge block");
	} else {
		for (int i = 0; i < 256; i++) {
			n = name_of(small[i]);
			if (!n || (st.nr_nodes == 1 && strcmp(n, want)) ||
			    strncmp(n, "hakmem-", 7)) {
				if (!bad++)
					tap_diag("block %p: named '%s'", small[i], n ? n : "(none)");
			}
		}
		tap_ok(!bad, "256 small blocks lie in ranges named like '%s' (%d not)", want, bad);
		n = name_of(large);
		tap_ok(n && (st.nr_nodes > 1 || !strcmp(n, want)),
		       "a 256 KiB block lies in a range named '%s'", n ? n : "(none)");
		n = name_of(huge);
		tap_ok(n && (st.nr_nodes > 1 || !strcmp(n, want)),
		       "an 8 MiB block lies in a range named '%s'", n ? n : "(none)");
	}
	tap_ok(count_named("hakmem-meta") > 0, "the metadata is named 'hakmem-meta' (%d ranges)",
	       count_named("hakmem-meta"));
	{
		int other = 0, k = nr_names < MAX_NAMES ? nr_names : MAX_NAMES;

		for (int i = 0; i < k; i++)
			other += strncmp(names[i].name, "hakmem-", 7) != 0;
		tap_ok(k > 0 && !other, "every name hakmem gives starts with 'hakmem-' (%d of %d do not)",
		       other, k);
	}
	{
		char *env[] = { "VMANAME_REFUSE=1", NULL, NULL };
		char **envp = env;
		char pre[4096];
		const char *lp = getenv("LD_PRELOAD");
		pid_t pid;
		int status = -1;

		snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", lp ? lp : "");
		env[1] = pre;
		if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, envp) == 0)
			waitpid(pid, &status, 0);
		tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		       "where the kernel refuses names, hakmem asks once, then never, and works "
		       "(exit status %#x)", status);
	}
	for (int i = 0; i < 256; i++)
		free(small[i]);
	free(large);
	free(huge);
	return tap_finish();
}
