/* SPDX-License-Identifier: MIT */
/* Short-IO progress: a read or write goes on after a short count until done. */
#ifndef IOE_PROGRESS_H
#define IOE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "ioengine.h"

/* Short-IO bookkeeping that both drivers' slots carry. */
struct ioe_progress {
	size_t done;		/* bytes moved so far */
	size_t want;		/* bytes asked for (a vector's: counted after the kernel read it) */
	struct iovec *iov_rest;	/* remainder of a vectored IO, once short */
	int iovcnt_rest;
	unsigned int retries;	/* EINTR/EAGAIN in a row */
	/*
	 * A vector's rest is found in ev->iov from done at each piece (see
	 * ioe_piece.skip), never copied to iov_rest: no allocation, for the
	 * plain system calls of ioe_event_run_inline(), which a signal handler
	 * may make. A driver's piece is read by the kernel later: it has the
	 * copy (false, as ioe_progress_start() sets it).
	 */
	bool in_place;
};

void ioe_progress_start(struct ioe_progress *p, const struct ioe_event *ev);

/*
 * Account one kernel result. Returns true when the event is finished
 * (ev->res set, progress released), false when the remainder must be
 * submitted again (see ioe_progress_next()): never after a result that
 * moved bytes for an IOE_F_ONE_CALL event.
 */
bool ioe_progress_update(struct ioe_progress *p, struct ioe_event *ev, long res);

/* Where the next piece of a read or write goes: the non-vectored length is
 * capped at what the kernel moves at once (MAX_RW_COUNT), and shortened by
 * fault injection when that is on. */
struct ioe_piece {
	void *buf;			/* non-vectored */
	const struct iovec *iov;	/* vectored */
	size_t len;			/* bytes, or iovcnt */
	size_t skip;			/* vectored, in_place: bytes of iov[0] done already; else 0 */
	int64_t offset;
};

void ioe_progress_next(const struct ioe_progress *p, const struct ioe_event *ev, struct ioe_piece *out);

#endif
