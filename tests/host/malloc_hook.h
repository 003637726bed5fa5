/* SPDX-License-Identifier: MIT */
/*
 * The malloc family, replaced by the case program (a program may replace
 * it): every call runs host_malloc_hook(), which the case defines before it
 * includes this, with is_free true for free() of a non-NULL pointer, then
 * glibc's own allocator. Every member is replaced, so that a sanitizer's
 * allocator never sees a pointer of glibc's.
 */
#ifndef IOE_HOST_MALLOC_HOOK_H
#define IOE_HOST_MALLOC_HOOK_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static void host_malloc_hook(bool is_free);

void *malloc(size_t n)
{
	host_malloc_hook(false);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	host_malloc_hook(false);
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	host_malloc_hook(false);
	return __libc_realloc(p, n);
}

void free(void *p)
{
	if (p)
		host_malloc_hook(true);
	__libc_free(p);
}

void *memalign(size_t a, size_t n)
{
	host_malloc_hook(false);
	return __libc_memalign(a, n);
}

void *aligned_alloc(size_t a, size_t n)
{
	return memalign(a, n);
}

int posix_memalign(void **p, size_t a, size_t n)
{
	*p = memalign(a, n);
	return *p ? 0 : ENOMEM;
}

#endif
