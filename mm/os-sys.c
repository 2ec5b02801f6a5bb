// SPDX-License-Identifier: MIT
/*
 * The OS layer, part two: process services that every build links,
 * the unit tests included (they fake only mm/os.c: memory, topology, the
 * CPU number, output and abort).  Same contract as mm/os.c: negative errno
 * or -1 on failure, the caller's errno preserved, no allocation, no stdio.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>

#include "hakmem/internal.h"

long os_read_file(const char *path, char *buf, size_t len)
{
	int saved = errno, fd;
	long n, total = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		n = -errno;
		errno = saved;
		return n;
	}
	while ((size_t)total + 1 < len) {
		n = read(fd, buf + total, len - 1 - total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	buf[total] = '\0';
	close(fd);
	errno = saved;
	return total;
}

long os_peak_rss_kib(void)
{
	struct rusage ru;
	int saved = errno;
	long r = -1;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		r = ru.ru_maxrss;
	errno = saved;
	return r;
}

long os_rss_kib(void)
{
	char buf[128];
	const char *s = buf;
	long pages = 0;

	if (os_read_file("/proc/self/statm", buf, sizeof(buf)) <= 0)
		return -1;
	while (*s && *s != ' ')
		s++;
	while (*s == ' ')
		s++;
	while (*s >= '0' && *s <= '9')
		pages = pages * 10 + (*s++ - '0');
	return pages * (long)(HM_PAGE_SIZE >> 10);
}

int os_futex_wait(int *addr, int val)
{
	int saved = errno;
	long r = syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);

	errno = saved;
	return r < 0 ? -1 : 0;
}

int os_futex_wake(int *addr, int nr)
{
	int saved = errno;
	long r = syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, nr, NULL, NULL, 0);

	errno = saved;
	return (int)r;
}

int os_gettid(void)
{
	return (int)syscall(SYS_gettid);
}

int os_getpid(void)
{
	return (int)syscall(SYS_getpid);
}

void os_yield(void)
{
	sched_yield();
}

int os_dup_high(int fd)
{
	int saved = errno, r;

	r = fcntl(fd, F_DUPFD_CLOEXEC, 64);
	errno = saved;
	return r;
}

long os_write_all(int fd, const void *buf, size_t len)
{
	int saved = errno;
	const char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	errno = saved;
	return (long)done;
}

uint32_t os_now_ms(void)
{
	struct timespec ts;
	int saved = errno;

	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0)
		clock_gettime(CLOCK_MONOTONIC, &ts);
	errno = saved;
	return (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

int os_open_append(const char *path)
{
	int saved = errno, fd;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		fd = -errno;
	errno = saved;
	return fd;
}

void os_close(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}
