/* SPDX-License-Identifier: MIT */
/*
 * The OS contract: mm/os.c and mm/os-sys.c are the only files that make
 * system calls.
 *
 * Every function returns 0 or a pointer on success and a negative errno on
 * failure (never sets errno for the caller, never allocates, never prints).
 * Address arguments are page aligned; lengths are multiples of HM_PAGE_SIZE.
 * Capabilities are reported as data (struct os_caps), filled once by
 * os_probe(), so callers never test #ifdefs.
 *
 * Unit tests link tools/testing/unit/fake_os.c instead of mm/os.c (the
 * functions down to os_getcpu, plus os_write and os_abort), which records
 * calls and can inject failures; mm/os-sys.c (the rest) is linked as is.
 */
#ifndef _HAKMEM_OS_H
#define _HAKMEM_OS_H

#include <stddef.h>
#include <stdint.h>
#include "hakmem/config.h"

struct os_caps {
	unsigned	nr_cpus;		/* possible CPUs */
	unsigned	nr_nodes;		/* possible NUMA nodes */
	int		thp;			/* THP usable with madvise */
	int		vma_names;		/* PR_SET_VMA_ANON_NAME works */
	size_t		as_limit;		/* RLIMIT_AS, 0 when unlimited */
	unsigned short	cpu_node[HM_MAX_CPUS];	/* node of each possible CPU */
};

extern struct os_caps os_caps;

/* Discover CPUs, nodes and features.  No allocation, no stdio. */
void os_probe(void);

/* Reserve len bytes aligned to align: PROT_NONE, nothing committed. */
int os_reserve(size_t len, size_t align, void **out);

/*
 * Commit [addr, addr+len) inside a reservation: fresh zeroed read-write
 * memory.  tier selects how (HM_TIER_THP asks for transparent hugepages).
 * Returns the tier actually obtained, or a negative errno.
 */
int os_commit(void *addr, size_t len, int tier, unsigned node);

/* Map len bytes of zeroed read-write memory for hakmem's own metadata. */
int os_map_meta(size_t len, void **out);

/* Give [addr, addr+len) back: contents dropped, range stays reserved. */
int os_decommit(void *addr, size_t len);

/* Drop the contents of committed memory, keep it mapped (MADV_DONTNEED). */
int os_purge(void *addr, size_t len);

/*
 * Move a committed range of old_len to new_addr (a reserved range), making
 * it new_len long; the old range is reserved again.  -EEXIST means the old
 * range was moved but could not be reserved again (taken by a foreign
 * mapping in the meantime).
 */
int os_move(void *old_addr, size_t old_len, void *new_addr, size_t new_len);

/* Read the peak resident set size in KiB. */
long os_peak_rss_kib(void);
/* Current resident set size in KiB (from /proc/self/statm). */
long os_rss_kib(void);

/*
 * A coarse monotonic clock in ms (wraps after 49 days: compare
 * differences).  A vDSO read, no system call; for slow paths only.
 */
uint32_t os_now_ms(void);
/* Open path for appending (created 0644 if missing); fd or -errno. */
int os_open_append(const char *path);
void os_close(int fd);

int os_futex_wait(int *addr, int val);
int os_futex_wake(int *addr, int nr);
int os_gettid(void);
int os_getcpu(void);
void os_yield(void);
long os_write(int fd, const void *buf, size_t len);
/* The write(2) loop behind os_write (EINTR retried); bytes written. */
long os_write_all(int fd, const void *buf, size_t len);
/* A close-on-exec duplicate of fd numbered 64 or above, or -1. */
int os_dup_high(int fd);
/* Read a small file into buf (NUL-terminated); returns length or -errno. */
long os_read_file(const char *path, char *buf, size_t len);
__attribute__((noreturn)) void os_abort(void);

#endif /* _HAKMEM_OS_H */
