// SPDX-License-Identifier: MIT
/*
 * Tunables: every one is a HAKMEM_* environment variable, listed once in
 * the table below with its default in each profile and its meaning
 * (Documentation/options.rst mirrors it).  They are parsed once, before
 * the first allocation is served, without allocating: from environ, or
 * from /proc/self/environ if the loader calls malloc before libc has set
 * environ up.
 *
 * HAKMEM_PROFILE (fast, balanced, lean) is read first and picks the
 * default of every knob below it; a knob set on its own wins over the
 * profile.
 */
#include <string.h>
#include "hakmem/internal.h"

extern char **environ;

struct hm_options hm_opt;

struct option_desc {
	const char	*name;
	long		*val;
	long		def[HM_NR_PROFILES];	/* fast, balanced, lean */
	long		min, max;
	const char	*const *words;	/* symbolic values, index = value */
	const char	*help;
};

static const char *const off_on[] = { "off", "on", NULL };
static const char *const stats_words[] = { "off", "text", "json", NULL };
static const char *const profile_words[] = { "fast", "balanced", "lean", NULL };
static const char *const percpu_words[] = { "off", "fallback", "rseq", "mmcid", "auto", NULL };
/* Index = value: enum hm_hugepages and enum os_numa. */
static const char *const hugepage_words[] = { "auto", "hugetlb", "thp", "off", NULL };
static const char *const numa_words[] = { "local", "interleave", "off", NULL };
static const char *const fork_words[] = { "copy", "auto", NULL };	/* enum hm_fork_hugetlb */

#define SAME(v)		{ v, v, v }

/*
 * Keep HAKMEM_PROFILE first: it selects the column of def[] for the rest.
 * An option whose minimum is -1 also takes "never" for -1.
 */
static const struct option_desc options[] = {
	{ "HAKMEM_PROFILE", &hm_opt.profile, SAME(HM_PROFILE_BALANCED), 0, 2, profile_words,
	  "fast, balanced or lean: the defaults of the knobs below" },
	{ "HAKMEM_STATS", &hm_opt.stats, SAME(0), 0, 2, stats_words,
	  "statistics at exit: off, 1 or text, json" },
	{ "HAKMEM_VERBOSE", &hm_opt.verbose, SAME(0), 0, 2, NULL,
	  "report start-up facts and the first fallback of each kind" },
	{ "HAKMEM_HUGEPAGES", &hm_opt.hugepages, { HM_HP_AUTO, HM_HP_AUTO, HM_HP_OFF }, 0, 3,
	  hugepage_words,
	  "page tier to try first: auto (hugetlb if a pool exists), hugetlb, thp, off" },
	{ "HAKMEM_NUMA", &hm_opt.numa, SAME(OS_NUMA_LOCAL), 0, 2, numa_words,
	  "superslab placement: local (node of the CPU), interleave, off (one heap)" },
	{ "HAKMEM_REGION_GB", &hm_opt.region_gb, SAME(4096), 1, 4096, NULL,
	  "virtual address space reserved per NUMA node, in GiB" },
	{ "HAKMEM_RESERVE_SS", &hm_opt.reserve_ss, { HM_RESERVE_ALL, 1, 0 }, 0, HM_RESERVE_ALL, NULL,
	  "empty superslabs kept mapped per node instead of released" },
	{ "HAKMEM_PURGE_DELAY_MS", &hm_opt.purge_delay_ms, { -1, 2000, 0 }, -1, 3600000, NULL,
	  "free pages idle this long (ms) are purged; never (-1): only after 30 s free" },
	{ "HAKMEM_SPARE_SLABS", &hm_opt.spare_slabs, { 2, 2, 1 }, 0, 64, NULL,
	  "empty slabs kept per class and node on the central list" },
	{ "HAKMEM_PCPU_MAX", &hm_opt.pcpu_max, { HM_PCPU_MAX_OBJECTS, HM_PCPU_MAX_OBJECTS, 32 },
	  HM_PCPU_MIN_OBJECTS, HM_PCPU_MAX_OBJECTS, NULL,
	  "objects at most per class in each per-CPU cache" },
	{ "HAKMEM_SLAB_MIN_KB", &hm_opt.slab_min_kb, { 16, 16, 4 }, 4, 16, NULL,
	  "smallest slab of a size class, in KiB (4..16)" },
	{ "HAKMEM_PERCPU", &hm_opt.percpu, SAME(HM_PERCPU_AUTO), 0, HM_PERCPU_AUTO, percpu_words,
	  "per-CPU front end: auto, rseq, mmcid, fallback (locks) or off" },
	{ "HAKMEM_FORK_HUGETLB", &hm_opt.fork_hugetlb, SAME(HM_FORK_COPY), 0, 1, fork_words,
	  "fork and hugetlb chunks: copy (child never SIGBUS), auto (share if pool has room)" },
};

static char proc_env[16384];
static char stats_file[256];

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
	if (o->min < 0 && (!strcmp(s, "never") || !strcmp(s, "-1"))) {
		*out = -1;
		return true;
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
	const char *path;

	for (unsigned i = 0; i < ARRAY_SIZE(options); i++) {
		const struct option_desc *o = &options[i];
		const char *s = options_getenv(o->name);
		long v;

		/* HAKMEM_PROFILE comes first, so hm_opt.profile is set here. */
		*o->val = o->def[i ? hm_opt.profile : HM_PROFILE_BALANCED];
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
	/* A copy: the program may change its environment before exit. */
	path = options_getenv("HAKMEM_STATS_FILE");
	stats_file[0] = '\0';
	if (path && strlen(path) < sizeof(stats_file))
		memcpy(stats_file, path, strlen(path) + 1);
}

const char *options_stats_file(void)
{
	return stats_file[0] ? stats_file : NULL;
}

const char *options_profile_name(void)
{
	return profile_words[hm_opt.profile];
}

/* For the statistics and `hakmem doctor`: name=value for every option. */
void options_print(int fd)
{
	char line[256];

	for (unsigned i = 0; i < ARRAY_SIZE(options); i++) {
		const struct option_desc *o = &options[i];
		int n;

		if (o->words)
			n = hm_snprintf(line, sizeof(line), "hakmem:   %-22s %-8s %s\n", o->name,
					o->words[*o->val], o->help);
		else if (*o->val < 0)
			n = hm_snprintf(line, sizeof(line), "hakmem:   %-22s %-8s %s\n", o->name,
					"never", o->help);
		else
			n = hm_snprintf(line, sizeof(line), "hakmem:   %-22s %-8ld %s\n", o->name,
					*o->val, o->help);
		os_write(fd, line, (size_t)MIN(n, (int)sizeof(line) - 1));
	}
}

/* The options as the members of a JSON object: "NAME": value, ... */
int options_json(char *buf, size_t len)
{
	size_t pos = 0;

	for (unsigned i = 0; i < ARRAY_SIZE(options) && pos < len; i++) {
		const struct option_desc *o = &options[i];
		const char *sep = i ? ", " : "";

		if (o->words)
			pos += (size_t)hm_snprintf(buf + pos, len - pos, "%s\"%s\": \"%s\"", sep,
						   o->name, o->words[*o->val]);
		else
			pos += (size_t)hm_snprintf(buf + pos, len - pos, "%s\"%s\": %ld", sep,
						   o->name, *o->val);
	}
	return pos < len ? (int)pos : -1;
}
