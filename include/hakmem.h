/* SPDX-License-Identifier: MIT */
/*
 * hakmem public API.
 *
 * libhakmem.so replaces the whole glibc allocation API when preloaded
 * (LD_PRELOAD) or linked (libhakmem.a); those functions keep their usual
 * declarations in <stdlib.h> and <malloc.h>.  This header declares what
 * hakmem adds.
 */
#ifndef _HAKMEM_H
#define _HAKMEM_H

#ifdef __cplusplus
extern "C" {
#endif

/**
 * hakmem_version() - the library's version string, e.g. "0.1.0".
 *
 * Also the way to tell that hakmem is the allocator in use:
 * dlsym(RTLD_DEFAULT, "hakmem_version") is non-NULL only then.
 */
const char *hakmem_version(void);

/**
 * hakmem_stats_print() - write the statistics summary to a file descriptor.
 * @fd: where to write (2 for stderr).
 *
 * The same summary HAKMEM_STATS=1 prints at exit.  Never allocates.
 */
void hakmem_stats_print(int fd);

#ifdef __cplusplus
}
#endif

#endif /* _HAKMEM_H */
