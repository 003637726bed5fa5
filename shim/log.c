/* SPDX-License-Identifier: MIT */
/*
 * "ioengine: ..." lines on stderr. Async-signal-safe: a small formatter of
 * our own into a stack buffer and one write(2); no stdio, no locks, no malloc.
 * Understands %s %c %d %i %u %x with the l, ll and z modifiers, and %%.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include "shim.h"

struct out {
	char *p, *end;
};

static void put(struct out *o, const char *s, size_t n)
{
	while (n-- && o->p < o->end)
		*o->p++ = *s++;
}

static void put_num(struct out *o, unsigned long long v, bool neg, unsigned int base)
{
	char tmp[24];
	int i = sizeof(tmp);

	do {
		tmp[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[--i] = '-';
	put(o, tmp + i, sizeof(tmp) - (size_t)i);
}

static void format(struct out *o, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		int lng = 0;
		bool size = false;

		if (*fmt != '%') {
			put(o, fmt, 1);
			continue;
		}
		fmt++;
		for (; *fmt == 'l' || *fmt == 'z'; fmt++) {
			if (*fmt == 'l')
				lng++;
			else
				size = true;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			if (!s)
				s = "(null)";
			put(o, s, strlen(s));
			break;
		}
		case 'c': {
			char c = (char)va_arg(ap, int);

			put(o, &c, 1);
			break;
		}
		case 'd':
		case 'i': {
			long long v = size ? va_arg(ap, ssize_t) : lng > 1 ? va_arg(ap, long long) :
				      lng ? va_arg(ap, long) : va_arg(ap, int);

			put_num(o, v < 0 ? -(unsigned long long)v : (unsigned long long)v, v < 0, 10);
			break;
		}
		case 'u':
		case 'x': {
			unsigned long long v = size ? va_arg(ap, size_t) :
					       lng > 1 ? va_arg(ap, unsigned long long) :
					       lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);

			put_num(o, v, false, *fmt == 'x' ? 16 : 10);
			break;
		}
		case '%':
			put(o, "%", 1);
			break;
		case '\0':
			return;
		default:
			put(o, fmt - 1, 2);
		}
	}
}

void shim_log(enum shim_log_level level, const char *fmt, ...)
{
	char buf[512];
	struct out o = { buf, buf + sizeof(buf) - 1 };
	int saved = errno;
	va_list ap;

	if (level == SHIM_LOG_OFF || level > shim_cfg.log)
		return;
	put(&o, "ioengine: ", 10);
	va_start(ap, fmt);
	format(&o, fmt, ap);
	va_end(ap);
	*o.p++ = '\n';
	/* One write: lines from several threads or processes do not interleave. */
	while (write(STDERR_FILENO, buf, (size_t)(o.p - buf)) < 0 && errno == EINTR)
		;
	errno = saved;
}
