/* SPDX-License-Identifier: MIT */
/* The IO event: validation and completion helpers shared by both drivers. */
#ifndef IOE_TASKS_H
#define IOE_TASKS_H

#include <stdbool.h>
#include <stddef.h>
#include "ioengine.h"

/* The kernel moves at most this much in one read or write (MAX_RW_COUNT). */
#define IOE_MAX_RW ((size_t)0x7ffff000)

/* 0, or -EINVAL for an event no driver may take. */
int ioe_event_check(const struct ioe_event *ev);

static inline bool ioe_event_is_rw(const struct ioe_event *ev)
{
	return ev->action <= IOE_WRITEV;
}

static inline bool ioe_event_is_write(const struct ioe_event *ev)
{
	return ev->action == IOE_WRITE || ev->action == IOE_WRITEV;
}

static inline bool ioe_event_is_vectored(const struct ioe_event *ev)
{
	return ev->action == IOE_READV || ev->action == IOE_WRITEV;
}

/* One call's result is the event's (IOE_F_ONE_CALL, implied by IOE_F_AT_POSITION). */
static inline bool ioe_event_one_call(const struct ioe_event *ev)
{
	return ev->flags & (IOE_F_ONE_CALL | IOE_F_AT_POSITION);
}

/* Bytes a read or write asks for. */
size_t ioe_event_bytes(const struct ioe_event *ev);

/*
 * The rest of a vectored IO after `done` bytes, as a new iovec array the
 * caller frees; NULL (ENOMEM) if it cannot be allocated.
 */
struct iovec *ioe_iov_advance(const struct iovec *iov, int iovcnt, size_t done, int *rest_cnt);

#endif
