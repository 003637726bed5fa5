/* SPDX-License-Identifier: MIT */
/*
 * A system call without libc's syscall(): the result, or -errno with errno
 * untouched (x86_64). For calls that must not be the shim's own interposed
 * functions (the engine's plain reads and writes, its futex calls), and for
 * code that runs where libc's syscall() must not be called: a probe child
 * that shares the parent's TLS (errno), an interposed function that a
 * sanitizer runtime calls before it is itself initialised.
 * IOE_RAW_BYPASSES_LIBC: whether it does; elsewhere it is libc's syscall(),
 * which the shim then must not interpose (sandbox.c).
 */
#ifndef IOE_RAW_SYSCALL_H
#define IOE_RAW_SYSCALL_H

#include <errno.h>

#if defined(__x86_64__)
static inline long ioe_raw6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#define IOE_RAW_BYPASSES_LIBC 1
#else
/* libc's syscall() by another name: there the shim does not define one. */
long ioe_libc_syscall(long n, ...) __asm__("syscall");

static inline long ioe_raw6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret = ioe_libc_syscall(n, a, b, c, d, e, f);

	return ret == -1 ? -errno : ret;
}
#define IOE_RAW_BYPASSES_LIBC 0
#endif

#define IOE_RAW(n, a, b, c, d, e, f) \
	ioe_raw6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* A raw result as libc's syscall() gives it: -1 with errno set, or the result. */
static inline long ioe_raw_errno(long ret)
{
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

#endif
