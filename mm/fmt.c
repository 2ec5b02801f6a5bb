// SPDX-License-Identifier: MIT
/*
 * Output that never allocates: a small snprintf and the fatal-error routine.
 * Used for the statistics at exit and for messages from inside the
 * allocator, where stdio (which allocates its buffers) is off limits.
 */
#include <stdarg.h>
#include "hakmem/internal.h"

struct out {
	char	*buf;
	size_t	len, pos;
};

static void put(struct out *o, char c)
{
	if (o->pos + 1 < o->len)
		o->buf[o->pos] = c;
	o->pos++;
}

static void put_uint(struct out *o, unsigned long v, unsigned base, int width, char pad)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (width-- > n)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
}

static int vformat(char *buf, size_t len, const char *fmt, va_list ap)
{
	struct out o = { buf, len, 0 };

	for (; *fmt; fmt++) {
		int width = 0, lng = 0, left = 0;
		char pad = ' ';

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == '-') {
			left = 1;
			fmt++;
		}
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			int n = 0;

			if (!s)
				s = "(null)";
			for (const char *t = s; *t; t++)
				n++;
			if (!left)
				for (int i = n; i < width; i++)
					put(&o, ' ');
			while (*s)
				put(&o, *s++);
			if (left)
				for (int i = n; i < width; i++)
					put(&o, ' ');
			break;
		}
		case 'd': {
			long v = lng ? va_arg(ap, long) : va_arg(ap, int);

			if (v < 0) {
				put(&o, '-');
				put_uint(&o, -(unsigned long)v, 10, width - 1, pad);
			} else {
				put_uint(&o, (unsigned long)v, 10, width, pad);
			}
			break;
		}
		case 'u':
			put_uint(&o, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned),
				 10, width, pad);
			break;
		case 'x':
			put_uint(&o, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned),
				 16, width, pad);
			break;
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_uint(&o, (unsigned long)va_arg(ap, void *), 16, 0, '0');
			break;
		case '%':
			put(&o, '%');
			break;
		default:
			put(&o, '?');
			break;
		}
	}
	if (len)
		buf[o.pos < len ? o.pos : len - 1] = '\0';
	return (int)o.pos;
}

int hm_snprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vformat(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

void hm_fatal(const char *what, const void *p)
{
	char msg[160];
	int n;

	n = hm_snprintf(msg, sizeof(msg), "hakmem: %s %p\n", what, p);
	os_write(2, msg, (size_t)MIN(n, (int)sizeof(msg) - 1));
	os_abort();
}

void hm_warn(const char *text)
{
	char msg[256];
	int n;

	n = hm_snprintf(msg, sizeof(msg), "hakmem: %s\n", text);
	os_write(2, msg, (size_t)MIN(n, (int)sizeof(msg) - 1));
}
