/* SPDX-License-Identifier: MIT */
/*
 * A system call without libc, for code that runs where libc's syscall()
 * must not be called: a probe child that shares the parent's TLS (errno),
 * or an interposed function that a sanitizer runtime calls before it is
 * itself initialised. Returns the result or -errno; errno is untouched on
 * x86_64 (elsewhere it is libc's syscall(): the caller keeps errno).
 * SB_INTERPOSE: whether libc's syscall() may be interposed (sandbox.c),
 * which needs this one to stand beside it.
 */
#ifndef IOE_SHIM_RAW_SYSCALL_H
#define IOE_SHIM_RAW_SYSCALL_H

#include <errno.h>
#include <unistd.h>

#if defined(__x86_64__)
static inline long raw6(long n, long a, long b, long c, long d, long e, long f)
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
#define SB_INTERPOSE 1
#else
/* Elsewhere libc's syscall(), not interposed there. */
static inline long raw6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret = syscall(n, a, b, c, d, e, f);

	return ret == -1 ? -errno : ret;
}
#define SB_INTERPOSE 0
#endif

#define RAW(n, a, b, c, d, e, f) raw6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

#endif
