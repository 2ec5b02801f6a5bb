// SPDX-License-Identifier: MIT
/*
 * Tunables: every one is a HAKMEM_* environment variable, listed once in
 * the table below with its default and meaning (Documentation/options.rst
 * mirrors it).  They are parsed once, before the first allocation is
 * served, without allocating: from environ, or from /proc/self/environ if
 * the loader calls malloc before libc has set environ up.
 */
#include <string.h>
#include "hakmem/internal.h"

extern char **environ;

struct hm_options hm_opt;

struct option_desc {
	const char	*name;
	long		*val;
	long		def, min, max;
	const char	*const *words;	/* symbolic values, index = value */
	const char	*help;
};

static const char *const off_on[] = { "off", "on", NULL };
static const char *const stats_words[] = { "off", "text", NULL };
static const char *const percpu_words[] = { "off", "fallback", "rseq", "mmcid", "auto", NULL };
/* Index = value: enum hm_hugepages and enum os_numa. */
static const char *const hugepage_words[] = { "auto", "hugetlb", "thp", "off", NULL };
static const char *const numa_words[] = { "local", "interleave", "off", NULL };

static const struct option_desc options[] = {
	{ "HAKMEM_STATS", &hm_opt.stats, 0, 0, 1, stats_words,
	  "print a summary of the heap to stderr at exit (1 or text)" },
	{ "HAKMEM_VERBOSE", &hm_opt.verbose, 0, 0, 2, NULL,
	  "report start-up facts and the first fallback of each kind" },
	{ "HAKMEM_HUGEPAGES", &hm_opt.hugepages, HM_HP_AUTO, 0, 3, hugepage_words,
	  "page tier to try first: auto (hugetlb if a pool exists), hugetlb, thp, off" },
	{ "HAKMEM_NUMA", &hm_opt.numa, OS_NUMA_LOCAL, 0, 2, numa_words,
	  "superslab placement: local (node of the CPU), interleave, off (one heap)" },
	{ "HAKMEM_REGION_GB", &hm_opt.region_gb, 4096, 1, 4096, NULL,
	  "virtual address space reserved per NUMA node, in GiB" },
	{ "HAKMEM_RESERVE_SS", &hm_opt.reserve_ss, 1, 0, 64, NULL,
	  "empty superslabs kept committed per node instead of released" },
	{ "HAKMEM_PERCPU", &hm_opt.percpu, HM_PERCPU_AUTO, 0, HM_PERCPU_AUTO, percpu_words,
	  "per-CPU front end: auto, rseq, mmcid, fallback (locks) or off" },
};

static char proc_env[16384];

static const char *env_lookup(char *const *env, const char *name, size_t len)
{
	for (; env && *env; env++)
		if (!strncmp(*env, name, len) && (*env)[len] == '=')
			return *env + len + 1;
	return NULL;
}

const char *options_getenv(const char *name)
{
	size_t len = strlen(name);
	long n;

	if (environ)
		return env_lookup(environ, name, len);
	/* Too early for environ: read the kernel's copy once. */
	if (!proc_env[0]) {
		n = os_read_file("/proc/self/environ", proc_env, sizeof(proc_env) - 1);
		if (n <= 0)
			return NULL;
		proc_env[n + 1] = '\0';
	}
	for (const char *s = proc_env; *s; s += strlen(s) + 1)
		if (!strncmp(s, name, len) && s[len] == '=')
			return s + len + 1;
	return NULL;
}

static bool parse_value(const struct option_desc *o, const char *s, long *out)
{
	long v = 0;
	bool digits = false;

	if (o->words) {
		for (long i = 0; o->words[i]; i++) {
			if (!strcmp(s, o->words[i])) {
				*out = i;
				return true;
			}
		}
	}
	/* yes/no only where 1/0 mean on/off, not "hugetlb"/"auto". */
	if (!o->words || o->words == off_on || o->words == stats_words) {
		if (!strcmp(s, "yes") || !strcmp(s, "true")) {
			*out = 1;
			return o->max >= 1;
		}
		if (!strcmp(s, "no") || !strcmp(s, "false")) {
			*out = 0;
			return o->min <= 0;
		}
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		digits = true;
		if (v > (o->max + 1) * 10L)
			return false;
		v = v * 10 + (*s - '0');
	}
	if (!digits || *s || v < o->min || v > o->max)
		return false;
	*out = v;
	return true;
}

void options_init(void)
{
	for (unsigned i = 0; i < ARRAY_SIZE(options); i++) {
		const struct option_desc *o = &options[i];
		const char *s = options_getenv(o->name);
		long v;

		*o->val = o->def;
		if (!s)
			continue;
		if (parse_value(o, s, &v)) {
			*o->val = v;
		} else {
			char msg[160];

			hm_snprintf(msg, sizeof(msg), "ignoring %s=%s (not a valid value), using the default",
				    o->name, s);
			hm_warn(msg);
		}
	}
}

/* For the statistics and `hakmem doctor`: name=value for every option. */
void options_print(int fd)
{
	char line[256];

	for (unsigned i = 0; i < ARRAY_SIZE(options); i++) {
		const struct option_desc *o = &options[i];
		int n;

		if (o->words)
			n = hm_snprintf(line, sizeof(line), "hakmem:   %-18s %-6s %s\n", o->name,
					o->words[*o->val], o->help);
		else
			n = hm_snprintf(line, sizeof(line), "hakmem:   %-18s %-6ld %s\n", o->name,
					*o->val, o->help);
		os_write(fd, line, (size_t)MIN(n, (int)sizeof(line) - 1));
	}
}
