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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hakmem/config.h"

/*
 * What os_probe() found.  Every possible CPU has a node in cpu_node, also
 * CPUs that are offline or outside the affinity mask at start-up, and the
 * node is always one with memory: a CPU of a memoryless node (or of no
 * known node) is given the nearest node that has memory (node_home).
 */
struct os_caps {
	unsigned	nr_cpus;		/* possible CPUs */
	int		cpu_ids_bounded;	/* every CPU number is below nr_cpus */
	unsigned	nr_nodes;		/* possible NUMA nodes */
	int		thp;			/* THP usable with madvise */
	int		vma_names;		/* PR_SET_VMA_ANON_NAME works */
	unsigned	memfd_flags;		/* hugetlb memfd_create flags; 0: none */
	int		mbind;			/* mbind() works (set_mempolicy family) */
	size_t		as_limit;		/* RLIMIT_AS, 0 when unlimited */
	int		rseq_glibc;		/* glibc registered this thread's rseq area */
	long		rseq_glibc_off;		/* ... at this offset from the thread pointer */
	unsigned	rseq_feature_size;	/* AT_RSEQ_FEATURE_SIZE (0: unknown) */
	unsigned long	hugetlb_pages;		/* 2 MiB pool: nr_hugepages + overcommit */
	uint64_t	node_mem;		/* bit n: node n has memory */
	unsigned short	node_home[HM_MAX_NODES];	/* nearest node with memory */
	unsigned short	cpu_node[HM_MAX_CPUS];	/* node (with memory) of each CPU */
};

extern struct os_caps os_caps;

/* Discover CPUs, nodes and features.  No allocation, no stdio. */
void os_probe(void);

/* Reserve len bytes aligned to align: PROT_NONE, nothing committed. */
int os_reserve(size_t len, size_t align, void **out);

/*
 * NUMA placement of committed memory (os_commit), set once at start-up:
 * OS_NUMA_LOCAL prefers the node passed to os_commit, OS_NUMA_INTERLEAVE
 * spreads pages over every node with memory, OS_NUMA_OFF leaves the
 * kernel's default policy.
 */
enum os_numa { OS_NUMA_LOCAL, OS_NUMA_INTERLEAVE, OS_NUMA_OFF };
extern int os_numa_mode;

/*
 * Commit [addr, addr+len) inside a reservation: fresh zeroed read-write
 * memory, placed on node (see os_numa_mode) before it is first touched.
 * tier is the best tier to try: HM_TIER_HUGETLB maps 2 MiB pages of the
 * reserved pool *with* their reservation (addr and len must be 2 MiB
 * aligned, else the THP tier is tried), so an empty pool fails here, not
 * with SIGBUS later; HM_TIER_THP asks for transparent hugepages.  Each
 * tier that fails falls to the next.  The range is replaced in one step
 * (never left as a hole another thread's mmap could take), and hugetlb
 * pages are faulted in by the call (none left reserved but unfaulted).
 * Returns the tier obtained, or a negative errno.
 */
int os_commit(void *addr, size_t len, int tier, unsigned node);

/*
 * Commit [addr, addr+len) on 2 MiB pages of the pool, with their
 * reservation, or leave the range as it was: 0 or a negative errno.  No
 * fallback tier, and no moment at which the range is not mapped (a
 * MAP_FIXED hugetlb mmap that fails for want of pool pages has already
 * unmapped what it was to replace, and another thread's mmap could land
 * in that hole).  For committing several superslabs at once: only the
 * first fault bytes are faulted in now; os_fault_hugetlb() faults the
 * rest, a piece at a time, before it is used.
 */
int os_commit_hugetlb(void *addr, size_t len, size_t fault, unsigned node);

/*
 * Fault in [addr, addr+len) of a range os_commit_hugetlb() reserved:
 * 0, or -ENOMEM when the pool no longer holds its pages (the range must
 * then not be touched; give it back).
 */
int os_fault_hugetlb(void *addr, size_t len);

/*
 * fork from a heap on hugetlb pages (mm/fork.c).  os_hugetlb_pool reads
 * free_hugepages and resv_hugepages of the 2 MiB pool from sysfs (0 and
 * 0 if there is none).  os_map_copy maps len bytes of zeroed anonymous
 * memory, advised MADV_HUGEPAGE when tier is HM_TIER_THP, unnamed.
 * os_place gives [addr, addr+len) the NUMA policy os_commit would.
 * os_resident: 1 if the page at addr is in the page table (mincore), 0
 * if not, a negative errno if the kernel cannot tell.  os_adopt moves the
 * committed range [from, from+len) over to (a range of the heap,
 * replacing what is there) with mremap, or maps to anew and copies if
 * mremap fails; it names the range like os_commit and returns tier or a
 * negative errno.  os_unmap unmaps for good.
 */
int os_hugetlb_pool(unsigned long *free_pages, unsigned long *resv_pages);
int os_map_copy(size_t len, int tier, void **out);
void os_place(void *addr, size_t len, unsigned node);
int os_resident(const void *addr);
int os_adopt(void *from, void *to, size_t len, int tier, unsigned node);
int os_unmap(void *addr, size_t len);
/*
 * /proc/self/pagemap, opened for os_page_private: 1 if the page at addr
 * is present and mapped by this process alone (PM_MMAP_EXCLUSIVE: after
 * fork, a page written since, by the child or by the parent), 0 if not,
 * or a negative errno.
 */
int os_pagemap_open(void);
int os_page_private(int fd, const void *addr);
/*
 * A SIGBUS handler for fork (mm/fork.c): fn(fault address) runs first and
 * returns true when it repaired the fault (the faulting access is then
 * retried); otherwise the previous action is put back and the fault,
 * retried, meets it as if there had been no hook.  os_fault_hook_clear
 * puts the previous action back.
 */
int os_fault_hook_set(bool (*fn)(void *addr));
void os_fault_hook_clear(void);

/* Map len bytes of zeroed read-write memory for hakmem's own metadata. */
int os_map_meta(size_t len, void **out);

/*
 * The page table's range: len bytes read-only (they read as zero and cost
 * no memory), then made writable piece by piece with os_open_table().
 */
int os_map_table(size_t len, void **out);
int os_open_table(void *addr, size_t len);

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
 * rseq: register the calling thread's area (len bytes, 32-byte aligned)
 * with the signature glibc uses (0x53053053); set up and issue the
 * membarrier that aborts every running rseq critical section of the
 * process.
 */
int os_rseq_register(void *area, unsigned len);
int os_rseq_fence_setup(void);
int os_rseq_fence(void);

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
int os_getpid(void);
int os_getcpu(void);
/* The raw NUMA node of the CPU the caller runs on (getcpu), 0 if unknown. */
int os_getnode(void);
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
