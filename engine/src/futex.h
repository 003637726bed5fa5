/* SPDX-License-Identifier: MIT */
/*
 * The raw futex calls, process-private (FUTEX_*_PRIVATE). Both return what
 * syscall() does: -1 with errno set on failure (EAGAIN: *word was not val;
 * EINTR; ETIMEDOUT), else 0 or the number woken.
 */
#ifndef IOE_FUTEX_H
#define IOE_FUTEX_H

#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include "raw_syscall.h"

/* Sleep while *word == val; timeout: relative, NULL for none. */
static inline long ioe_futex_wait(void *word, uint32_t val, const struct timespec *timeout)
{
	return ioe_raw_errno(IOE_RAW(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, timeout, 0, 0));
}

/* Wake up to n sleepers on word (INT_MAX: all). */
static inline long ioe_futex_wake(void *word, int n)
{
	return ioe_raw_errno(IOE_RAW(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, 0, 0, 0));
}

#endif
