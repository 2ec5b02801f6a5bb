// SPDX-License-Identifier: MIT
/*
 * api_vmaname - the heap's mappings are named by tier and node.
 *
 * hakmem names every superslab and huge object "hakmem-<tier>-n<node>"
 * and its metadata "hakmem-meta" with prctl(PR_SET_VMA_ANON_NAME), so
 * /proc/PID/smaps shows them; hugetlb ranges are files, named through
 * the file (maps shows "/memfd:hakmem-hugetlb-n0 (deleted)").  Kernels built without CONFIG_ANON_VMA_NAME
 * (every Debian kernel so far) refuse with EINVAL, and hakmem then stops
 * asking.  So that the naming can be checked on any kernel, this program
 * defines prctl() itself and exports it (see the Makefile): the library's
 * calls land here, the names are recorded, and everything else goes to the
 * real system call.  Then:
 *
 *   - every block (small, large, huge) lies in a range named for the tier
 *     and node the statistics report (by prctl, or by its file for
 *     hugetlb), and the metadata is named;
 *   - no call asks for a name over a file mapping, which a kernel with the
 *     option refuses with EBADF: hugetlb ranges are such files (of the
 *     kernel's internal hugetlbfs mount), and the prctl here refuses them
 *     as that kernel does (6.12.117 in the guest of
 *     tools/testing/numa-vm/vmaname-vm.sh says EBADF);
 *   - in a second run (this program again, VMANAME_REFUSE=EINVAL) prctl
 *     refuses as a kernel without the option does: hakmem asks once and
 *     never again, and works;
 *   - in a third (VMANAME_REFUSE=EBADF) prctl refuses its first ranges as
 *     a kernel with the option refuses a range it cannot name: that is
 *     no reason to stop, and the blocks allocated after are named.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "hk_util.h"
#include "hakmem.h"
#include <fcntl.h>
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
#define REFUSE_FIRST	2	/* calls VMANAME_REFUSE=EBADF refuses */

static struct named {
	unsigned long	addr, len;
	char		name[40];
} names[MAX_NAMES];
static int nr_names, nr_calls, nr_files;

enum { REFUSE_UNSET = -1, REFUSE_NONE, REFUSE_EINVAL, REFUSE_EBADF };
static int refuse = REFUSE_UNSET;

/*
 * Does [addr, addr+len) touch a mapping of a file?  A kernel with
 * CONFIG_ANON_VMA_NAME names anonymous memory only and says EBADF to the
 * rest; anonymous hugetlb memory is such a file (/anon_hugepage in maps),
 * and so are hakmem's hugetlb ranges (/memfd:hakmem-hugetlb-n0).  The
 * path of the first such mapping goes to path (path_len bytes, may be 0).
 * With open and read into a static buffer: this runs inside hakmem's
 * commits, and must not allocate.
 */
static int over_file(unsigned long addr, unsigned long len, char *path, size_t path_len)
{
	static char buf[1 << 18];
	size_t n = 0;
	ssize_t r;
	char *s, *eol, *slash;
	int fd, hit = 0;

	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	for (s = buf; !hit && (eol = strchr(s, '\n')); s = eol + 1) {
		unsigned long a = strtoul(s, &s, 16), b = strtoul(s + 1, NULL, 16);

		*eol = '\0';
		slash = strchr(s, '/');
		if (a < addr + len && addr < b && slash) {	/* a path: a file */
			hit = 1;
			if (path_len)
				snprintf(path, path_len, "%s", slash);
		}
	}
	return hit;
}

int prctl(int option, ...)
{
	unsigned long a[4];
	va_list ap;
	int call;

	va_start(ap, option);
	for (int i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	if (option != PR_SET_VMA || a[0] != PR_SET_VMA_ANON_NAME)
		return (int)syscall(SYS_prctl, option, a[0], a[1], a[2], a[3]);
	call = __atomic_fetch_add(&nr_calls, 1, __ATOMIC_RELAXED);
	if (refuse == REFUSE_UNSET) {	/* hakmem names its first mappings before main() */
		const char *e = getenv("VMANAME_REFUSE");

		refuse = !e ? REFUSE_NONE : !strcmp(e, "EBADF") ? REFUSE_EBADF : REFUSE_EINVAL;
	}
	if (refuse == REFUSE_EINVAL) {
		errno = EINVAL;
		return -1;
	}
	if (over_file(a[1], a[2], NULL, 0)) {
		__atomic_fetch_add(&nr_files, 1, __ATOMIC_RELAXED);
		errno = EBADF;
		return -1;
	}
	if (refuse == REFUSE_EBADF && call < REFUSE_FIRST) {
		errno = EBADF;
		return -1;
	}
	/* Named: recorded for the checks. */
	{
		int i = __atomic_fetch_add(&nr_names, 1, __ATOMIC_RELAXED);

		if (i < MAX_NAMES) {
			names[i].addr = a[1];
			names[i].len = a[2];
			snprintf(names[i].name, sizeof(names[i].name), "%s",
				 a[3] ? (const char *)a[3] : "(null)");
		}
	}
	return 0;
}

/*
 * The name of the last range recorded over p; else, for a hugetlb range,
 * the name of its file ("/memfd:NAME (deleted)" in maps); else NULL.
 */
static const char *name_of(const void *p)
{
	static char file[256];
	unsigned long a = (unsigned long)p;
	const char *found = NULL;
	int n = nr_names < MAX_NAMES ? nr_names : MAX_NAMES;
	char *end;

	for (int i = 0; i < n; i++)
		if (a >= names[i].addr && a - names[i].addr < names[i].len)
			found = names[i].name;
	if (found || !over_file(a, 1, file, sizeof(file)) || strncmp(file, "/memfd:", 7))
		return found;
	end = strstr(file, " (deleted)");
	if (end)
		*end = '\0';
	return file + 7;
}

/* "hakmem-<tier>-n0" for one of the three tiers. */
static int tier_name_n0(const char *n)
{
	return !strcmp(n, "hakmem-hugetlb-n0") || !strcmp(n, "hakmem-thp-n0") ||
	       !strcmp(n, "hakmem-4k-n0");
}

static int count_named(const char *name)
{
	int n = nr_names < MAX_NAMES ? nr_names : MAX_NAMES, k = 0;

	for (int i = 0; i < n; i++)
		k += !strcmp(names[i].name, name);
	return k;
}

/*
 * The refusing kernels.  EINVAL (no CONFIG_ANON_VMA_NAME): one call,
 * then none; the heap still works.  EBADF for the first REFUSE_FIRST
 * ranges (the start-up's metadata): hakmem goes on asking, and every
 * block allocated after lies in a named range.
 */
static int refused_run(void)
{
	void *p[64];
	int calls, unnamed = 0;

	for (int i = 0; i < 64; i++) {
		size_t n = i < 32 ? 100 : i < 48 ? (size_t)200 << 10 : (size_t)4 << 20;

		p[i] = malloc(n);
		if (!p[i])
			return 2;
		memset(p[i], i, n);
		unnamed += !name_of(p[i]);
	}
	for (int i = 0; i < 64; i++)
		free(p[i]);
	calls = __atomic_load_n(&nr_calls, __ATOMIC_RELAXED);
	if (refuse == REFUSE_EBADF) {
		printf("# refused run (EBADF for the first %d): %d naming calls, %d of 64 blocks "
		       "in no named range\n", REFUSE_FIRST, calls, unnamed);
		return calls > REFUSE_FIRST && !unnamed ? 0 : 1;
	}
	printf("# refused run (EINVAL): %d naming calls\n", calls);
	return calls == 1 ? 0 : 1;
}

/* Run this program again with VMANAME_REFUSE=how: its exit status. */
static int rerun(char **argv, const char *how)
{
	char refuse_env[64], pre[4096];
	char *env[] = { refuse_env, pre, NULL };
	const char *lp = getenv("LD_PRELOAD");
	pid_t pid;
	int status = -1;

	snprintf(refuse_env, sizeof(refuse_env), "VMANAME_REFUSE=%s", how);
	snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", lp ? lp : "");
	if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, env) == 0)
		waitpid(pid, &status, 0);
	return status;
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
	tap_init(10);
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

	/*
	 * Small and large blocks sit in superslabs of the heap's tier; a huge
	 * block may land on another (a hugetlb pool too small for it), named
	 * for that tier.  Hugetlb ranges are named by their file.
	 */
	for (int i = 0; i < 256; i++) {
		n = name_of(small[i]);
		if (!n || (st.nr_nodes == 1 && strcmp(n, want)) || strncmp(n, "hakmem-", 7)) {
			if (!bad++)
				tap_diag("block %p: named '%s'", small[i], n ? n : "(none)");
		}
	}
	tap_ok(!bad, "256 small blocks lie in ranges named like '%s' (%d not)", want, bad);
	n = name_of(large);
	tap_ok(n && (st.nr_nodes > 1 || !strcmp(n, want)),
	       "a 256 KiB block lies in a range named '%s'", n ? n : "(none)");
	n = name_of(huge);
	tap_ok(n && (st.nr_nodes > 1 ? !strncmp(n, "hakmem-", 7) :
		     !strcmp(n, want) || (!strcmp(st.first_tier, "hugetlb") && tier_name_n0(n))),
	       "an 8 MiB block lies in a range named '%s'", n ? n : "(none)");
	tap_ok(count_named("hakmem-meta") > 0, "the metadata is named 'hakmem-meta' (%d ranges)",
	       count_named("hakmem-meta"));
	{
		int other = 0, k = nr_names < MAX_NAMES ? nr_names : MAX_NAMES;

		for (int i = 0; i < k; i++)
			other += strncmp(names[i].name, "hakmem-", 7) != 0;
		tap_ok(k > 0 && !other, "every name hakmem gives starts with 'hakmem-' (%d of %d do not)",
		       other, k);
	}
	tap_ok(!nr_files, "no range hakmem asks to name is a file, such as a hugetlb mapping "
	       "(%d asked, refused with EBADF)", nr_files);
	{
		int status = rerun(argv, "EINVAL");

		tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		       "where the kernel refuses names, hakmem asks once, then never, and works "
		       "(exit status %#x)", status);
		status = rerun(argv, "EBADF");
		tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		       "a range refused with EBADF does not stop the naming: later blocks are named "
		       "(exit status %#x)", status);
	}
	for (int i = 0; i < 256; i++)
		free(small[i]);
	free(large);
	free(huge);
	return tap_finish();
}
