/* SPDX-License-Identifier: MIT */
/*
 * The engine's own memory (a context, its driver, its merge pool): mmap()ed,
 * not malloc()ed, as a context may be created inside a signal handler that
 * interrupted malloc(). Zeroed; NULL on failure.
 */
#ifndef IOE_MAP_H
#define IOE_MAP_H

#include <stddef.h>
#include <sys/mman.h>

static inline void *ioe_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static inline void ioe_unmap(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

#endif
