// SPDX-License-Identifier: MIT
/*
 * hakmem - run a program under the hakmem allocator, and check what this
 * machine offers it.
 *
 *   hakmem run [--profile P] [--hugepages N] [--stats text|json|off]
 *              [--lib PATH] -- CMD [ARGS...]
 *   hakmem doctor [--lib PATH]
 *   hakmem version | help
 *
 * run: preloads libhakmem.so into CMD (LD_PRELOAD, kept in front of what
 * was there), passes the profile as HAKMEM_PROFILE, collects the
 * statistics every process of CMD writes at exit (HAKMEM_STATS_FILE) and
 * prints them on stderr when CMD ends.  With --hugepages N, as root, it
 * raises /proc/sys/vm/nr_hugepages by N first and puts the old value back
 * afterwards, whatever happens to CMD.  Signals that end or interrupt this
 * command (INT, TERM, HUP, QUIT, USR1, USR2) are passed on to CMD; CMD's
 * exit status becomes ours, and if CMD died of a signal we die of the same
 * one (after cleaning up), so a shell sees what it would have seen.
 *
 * doctor: reads /proc and /sys and says in plain words what hakmem gets
 * here (hugetlb pool per node, THP mode, NUMA nodes, rseq in the kernel
 * and glibc's registration) and what to change for the fastest setup.
 *
 * This program runs on the system allocator; it never loads the library
 * into itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef HAKMEM_VERSION
#define HAKMEM_VERSION "0.1.0"
#endif
#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE	27
#endif
#define NR_HUGEPAGES		"/proc/sys/vm/nr_hugepages"
#define EXIT_USAGE		2

extern const unsigned int __rseq_size __attribute__((weak));
extern const ptrdiff_t __rseq_offset __attribute__((weak));

static const char *prog = "hakmem";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hakmem run [--profile fast|balanced|lean] [--hugepages N]\n"
		"                  [--stats text|json|off] [--lib PATH] -- CMD [ARGS...]\n"
		"       hakmem doctor [--lib PATH]\n"
		"       hakmem version\n"
		"\n"
		"run     runs CMD with libhakmem.so preloaded and prints its statistics\n"
		"        when it ends; --hugepages N (root) reserves N more 2 MiB pages for\n"
		"        the run and gives them back after it\n"
		"doctor  says what hakmem gets on this machine and what to change\n");
}

static __attribute__((noreturn, format(printf, 1, 2))) void bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(try 'hakmem help')\n");
	exit(EXIT_USAGE);
}

/* ---- small file helpers ---- */

static int read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static long read_long(const char *path)
{
	char buf[64], *end;
	long v;

	if (read_text(path, buf, sizeof(buf)))
		return -1;
	v = strtol(buf, &end, 10);
	return end == buf ? -1 : v;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -1;
	ok = fprintf(f, "%ld\n", v) > 0;
	if (fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static int file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- finding the library ---- */

static int find_lib(const char *given, char *out, size_t len)
{
	static const char *const rel[] = {
		"../../libhakmem.so",	/* build tree: OBJTREE/tools/hakmem/hakmem */
		"libhakmem.so",
		"../lib/libhakmem.so",	/* installed: PREFIX/bin and PREFIX/lib */
		"../libhakmem.so",
	};
	char exe[PATH_MAX], cand[PATH_MAX + 32];
	const char *env = getenv("HAKMEM_LIB");
	ssize_t n;
	char *slash;

	if (given || (env && *env)) {
		const char *p = given ? given : env;

		if (!realpath(p, out) || !file_exists(out)) {
			fprintf(stderr, "%s: no library at %s\n", prog, p);
			return -1;
		}
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(cand, sizeof(cand), "%s/%s", exe, rel[i]);
		if (file_exists(cand) && realpath(cand, out) && strlen(out) < len)
			return 0;
	}
	fprintf(stderr, "%s: cannot find libhakmem.so next to %s; pass --lib PATH\n", prog, exe);
	return -1;
}

/* ---- run ---- */

static volatile sig_atomic_t child_pid;
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

struct hugepages {
	long	old;		/* value to restore, -1: nothing to restore */
};

static void hugepages_reserve(struct hugepages *hp, long n)
{
	long old, got;

	hp->old = -1;
	if (n <= 0)
		return;
	if (geteuid() != 0) {
		fprintf(stderr, "%s: --hugepages needs root; running without reserving any\n", prog);
		return;
	}
	old = read_long(NR_HUGEPAGES);
	if (old < 0) {
		fprintf(stderr, "%s: cannot read %s: %s; running without reserving\n", prog,
			NR_HUGEPAGES, strerror(errno));
		return;
	}
	if (write_long(NR_HUGEPAGES, old + n)) {
		fprintf(stderr, "%s: cannot write %s: %s; running without reserving\n", prog,
			NR_HUGEPAGES, strerror(errno));
		return;
	}
	hp->old = old;
	got = read_long(NR_HUGEPAGES);
	if (got < old + n)
		fprintf(stderr, "%s: asked for %ld more hugepages, the kernel found %ld "
			"(memory too fragmented or too small)\n", prog, n, got - old);
	else
		fprintf(stderr, "%s: reserved %ld hugepages (pool %ld -> %ld)\n", prog, n, old, got);
}

static void hugepages_restore(struct hugepages *hp)
{
	if (hp->old < 0)
		return;
	if (write_long(NR_HUGEPAGES, hp->old))
		fprintf(stderr, "%s: could not restore %s to %ld: %s\n", prog, NR_HUGEPAGES,
			hp->old, strerror(errno));
	hp->old = -1;
}

static void print_stats_file(const char *path)
{
	char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return;
	fflush(stderr);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(f);
}

static int valid_profile(const char *p)
{
	return !strcmp(p, "fast") || !strcmp(p, "balanced") || !strcmp(p, "lean");
}

static long parse_count(const char *opt, const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 1000000)
		bad_usage("%s wants a number of pages (0..1000000), not '%s'", opt, s);
	return v;
}

static int cmd_run(int argc, char **argv)
{
	const char *profile = NULL, *stats = "text", *lib_opt = NULL;
	char lib[PATH_MAX], preload[2 * PATH_MAX + 2], stats_path[] = "/tmp/hakmem-run.XXXXXX";
	const char *old_preload = getenv("LD_PRELOAD");
	long hugepages = 0;
	struct hugepages hp = { -1 };
	struct sigaction sa;
	int i, status, fd = -1, own_stats = 0;
	pid_t pid;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;		/* the command starts here */
		if (i + 1 >= argc && strcmp(a, "--help") && strcmp(a, "-h"))
			bad_usage("option %s needs a value", a);
		if (!strcmp(a, "--profile")) {
			profile = argv[++i];
			if (!valid_profile(profile))
				bad_usage("unknown profile '%s' (fast, balanced or lean)", profile);
		} else if (!strcmp(a, "--hugepages")) {
			hugepages = parse_count(a, argv[++i]);
		} else if (!strcmp(a, "--stats")) {
			stats = argv[++i];
			if (strcmp(stats, "text") && strcmp(stats, "json") && strcmp(stats, "off"))
				bad_usage("--stats is text, json or off, not '%s'", stats);
		} else if (!strcmp(a, "--lib")) {
			lib_opt = argv[++i];
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else {
			bad_usage("unknown option '%s' for run", a);
		}
	}
	if (i >= argc)
		bad_usage("run needs a command: hakmem run [OPTIONS] -- CMD [ARGS...]");
	if (find_lib(lib_opt, lib, sizeof(lib)))
		return EXIT_USAGE;

	if (old_preload && *old_preload)
		snprintf(preload, sizeof(preload), "%s %s", lib, old_preload);
	else
		snprintf(preload, sizeof(preload), "%s", lib);
	setenv("LD_PRELOAD", preload, 1);
	if (profile)
		setenv("HAKMEM_PROFILE", profile, 1);
	if (strcmp(stats, "off")) {
		setenv("HAKMEM_STATS", stats, 1);
		/* Collect the summaries to print after CMD, unless the user chose a file. */
		if (!getenv("HAKMEM_STATS_FILE")) {
			fd = mkstemp(stats_path);
			if (fd >= 0) {
				close(fd);
				setenv("HAKMEM_STATS_FILE", stats_path, 1);
				own_stats = 1;
			}
		}
	}

	hugepages_reserve(&hp, hugepages);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
		hugepages_restore(&hp);
		if (own_stats)
			unlink(stats_path);
		return 1;
	}
	if (pid == 0) {
		execvp(argv[i], argv + i);
		fprintf(stderr, "%s: cannot run %s: %s\n", prog, argv[i], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigemptyset(&sa.sa_mask);
	for (size_t k = 0; k < sizeof(forwarded) / sizeof(forwarded[0]); k++)
		sigaction(forwarded[k], &sa, NULL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = 1 << 8;
			break;
		}
	}
	child_pid = 0;
	hugepages_restore(&hp);
	if (own_stats) {
		print_stats_file(stats_path);
		unlink(stats_path);
	}
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);

		fprintf(stderr, "%s: %s was killed by signal %d (%s)\n", prog, argv[i], sig,
			strsignal(sig));
		fflush(NULL);
		signal(sig, SIG_DFL);
		/* No core of our own: the child's was the one that mattered. */
		if (sig != SIGKILL && sig != SIGSTOP) {
			sigset_t set;

			sigemptyset(&set);
			sigaddset(&set, sig);
			sigprocmask(SIG_UNBLOCK, &set, NULL);
		}
		kill(getpid(), sig);
		return 128 + sig;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* ---- doctor ---- */

struct advice {
	char	text[8][320];
	int	n;
};

static __attribute__((format(printf, 2, 3))) void advise(struct advice *a, const char *fmt, ...)
{
	va_list ap;

	if (a->n >= 8)
		return;
	va_start(ap, fmt);
	vsnprintf(a->text[a->n++], sizeof(a->text[0]), fmt, ap);
	va_end(ap);
}

/* The bracketed word of a sysfs choice file ("always [madvise] never"). */
static const char *chosen(const char *s, char *out, size_t len)
{
	const char *l = strchr(s, '['), *r = l ? strchr(l, ']') : NULL;

	if (!l || !r || (size_t)(r - l) > len)
		return "unknown";
	memcpy(out, l + 1, (size_t)(r - l - 1));
	out[r - l - 1] = '\0';
	return out;
}

static int count_list(const char *s)
{
	int n = 0;

	while (*s) {
		long a = strtol(s, (char **)&s, 10), b = a;

		if (*s == '-')
			b = strtol(s + 1, (char **)&s, 10);
		n += (int)(b - a + 1);
		if (*s != ',')
			break;
		s++;
	}
	return n;
}

/* Can this kernel register an rseq area?  Tried on a scratch area of ours. */
static int rseq_kernel_support(void)
{
#ifdef SYS_rseq
	static __thread struct {
		uint32_t cpu_id_start, cpu_id;
		uint64_t rseq_cs;
		uint32_t flags, node_id, mm_cid, pad;
	} area __attribute__((aligned(32)));
	const uint32_t sig = 0x53053053;

	if (getauxval(AT_RSEQ_FEATURE_SIZE))
		return 1;	/* the kernel says so itself (6.3 and later) */
	if (syscall(SYS_rseq, &area, 32, 0, sig) == 0) {
		syscall(SYS_rseq, &area, 32, 1 /* RSEQ_FLAG_UNREGISTER */, sig);
		return 1;
	}
	return errno == EBUSY;	/* this thread has one registered already */
#else
	return 0;
#endif
}

static int cmd_doctor(int argc, char **argv)
{
	char buf[4096], word[64], path[256], lib[PATH_MAX];
	const char *lib_opt = NULL, *tun = getenv("GLIBC_TUNABLES");
	struct advice adv = { .n = 0 };
	long pool, pool_free, cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int nodes = 1, glibc_rseq, kernel_rseq, thp_ok = 0;
	unsigned long feat;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--lib") && i + 1 < argc)
			lib_opt = argv[++i];
		else
			bad_usage("unknown argument '%s' for doctor", argv[i]);
	}
	printf("hakmem doctor: what hakmem %s gets on this machine\n\n", HAKMEM_VERSION);

	/* Library */
	if (find_lib(lib_opt, lib, sizeof(lib)) == 0)
		printf("library:       %s\n", lib);
	else
		printf("library:       not found next to this command (use --lib PATH)\n");

	/* CPUs and NUMA */
	if (!read_text("/sys/devices/system/node/online", buf, sizeof(buf)))
		nodes = count_list(buf);
	printf("CPUs:          %ld online\n", cpus);
	printf("NUMA nodes:    %d (%s)\n", nodes, nodes > 1 ?
	       "hakmem reserves an address region per node and keeps each superslab on the node that asked for it" :
	       "one node: no placement to do");
	for (int n = 0; n < nodes && n < 64; n++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", n);
		if (!read_text(path, buf, sizeof(buf)))
			printf("               node %d: CPUs %s\n", n, buf);
	}

	/* Hugetlb */
	pool = read_long(NR_HUGEPAGES);
	pool_free = read_long("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
	printf("\nhugetlb pool:  %ld pages of 2 MiB reserved, %ld free", pool, pool_free);
	printf(" (resv %ld, surplus %ld)\n",
	       read_long("/sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages"),
	       read_long("/sys/kernel/mm/hugepages/hugepages-2048kB/surplus_hugepages"));
	for (int n = 0; n < nodes && n < 64; n++) {
		long nr, fr;

		snprintf(path, sizeof(path),
			 "/sys/devices/system/node/node%d/hugepages/hugepages-2048kB/nr_hugepages", n);
		nr = read_long(path);
		snprintf(path, sizeof(path),
			 "/sys/devices/system/node/node%d/hugepages/hugepages-2048kB/free_hugepages", n);
		fr = read_long(path);
		if (nr >= 0)
			printf("               node %d: %ld reserved, %ld free\n", n, nr, fr);
	}
	if (pool <= 0 || pool_free <= 0) {
		printf("               -> the pool is empty: superslabs come from the next tier below\n");
		advise(&adv, "Reserve 2 MiB pages for the heap (about heap size / 2 MiB): "
		       "'hakmem run --hugepages N -- CMD' as root does it for one run, or "
		       "'echo N > %s' for all.", NR_HUGEPAGES);
	} else {
		printf("               -> %ld free pages: hugetlb superslabs (tier 0) can be taken "
		       "from the pool while it lasts; the rest falls back to the tiers below\n",
		       pool_free);
	}

	/* THP */
	if (!read_text("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf))) {
		const char *mode = chosen(buf, word, sizeof(word));

		thp_ok = strcmp(mode, "never") != 0;
		printf("\nTHP:           enabled = %s -> %s\n", mode, thp_ok ?
		       "hakmem asks for 2 MiB pages with madvise(MADV_HUGEPAGE) on each superslab (tier 1)" :
		       "no transparent hugepages: superslabs use 4 KiB pages (tier 2)");
		if (!thp_ok)
			advise(&adv, "Turn transparent hugepages on for madvise'd memory: "
			       "'echo madvise > /sys/kernel/mm/transparent_hugepage/enabled'.");
		if (!read_text("/sys/kernel/mm/transparent_hugepage/defrag", buf, sizeof(buf)))
			printf("               defrag = %s\n", chosen(buf, word, sizeof(word)));
	} else {
		printf("\nTHP:           not available in this kernel -> 4 KiB pages (tier 2)\n");
	}

	/* rseq */
	feat = getauxval(AT_RSEQ_FEATURE_SIZE);
	glibc_rseq = &__rseq_size != NULL && __rseq_size > 0;
	kernel_rseq = glibc_rseq || rseq_kernel_support();
	printf("\nrseq (kernel): %s", kernel_rseq ? "available" : "not available");
	if (feat)
		printf(" (AT_RSEQ_FEATURE_SIZE %lu bytes)", feat);
	printf("\n");
	if (glibc_rseq)
		printf("rseq (glibc):  registered by glibc for every thread (__rseq_size %u, "
		       "__rseq_offset %td) -> hakmem shares it and reads the CPU number from it\n",
		       __rseq_size, __rseq_offset);
	else
		printf("rseq (glibc):  not registered by glibc -> hakmem asks the kernel for the CPU "
		       "(getcpu) on its per-CPU paths, which is slower\n");
	if (!glibc_rseq && tun && strstr(tun, "rseq=0"))
		advise(&adv, "GLIBC_TUNABLES contains glibc.pthread.rseq=0: drop it so the "
		       "per-CPU caches can use restartable sequences.");
	else if (!kernel_rseq)
		advise(&adv, "This kernel has no rseq: a Linux 4.18 or later kernel makes the "
		       "per-CPU fast paths cheaper.");

	if (nodes > 1 && access("/usr/lib/x86_64-linux-gnu/libnuma.so.1", F_OK) != 0)
		advise(&adv, "Install libnuma (Debian: libnuma1) for the NUMA placement helpers.");
	advise(&adv, "Pick a profile with HAKMEM_PROFILE: fast (keeps memory for speed), "
	       "balanced (the default: returns memory idle for 2 s), lean (returns it at once).");

	printf("\nRecommendations:\n");
	for (int k = 0; k < adv.n; k++)
		printf("  - %s\n", adv.text[k]);
	if (pool > 0 && pool_free > 0 && thp_ok && glibc_rseq)
		printf("  This machine already has the fastest setup hakmem knows.\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 2, argv + 2);
	if (!strcmp(argv[1], "doctor"))
		return cmd_doctor(argc - 2, argv + 2);
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("hakmem %s\n", HAKMEM_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	bad_usage("unknown command '%s'", argv[1]);
}
