/* SPDX-License-Identifier: MIT */
/*
 * A word that the kernel zeroes in every child of fork() and its kin
 * (_Fork(), clone() without CLONE_VM), including those that run no atfork
 * handler: a page of its own with MADV_WIPEONFORK. A caller sets it and, on
 * finding it 0, knows it runs in a child.
 */
#ifndef IOE_FORK_WORD_H
#define IOE_FORK_WORD_H

#include <stddef.h>
#include <sys/mman.h>

/* The word (0 at first), or NULL where the kernel has no MADV_WIPEONFORK or no page could be had. */
static inline void *ioe_fork_word_new(void)
{
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (page == MAP_FAILED)
		return NULL;
	if (madvise(page, 4096, MADV_WIPEONFORK)) {
		munmap(page, 4096);
		return NULL;
	}
	return page;
}

#endif
