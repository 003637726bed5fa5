/* SPDX-License-Identifier: MIT */
/* An event's next piece as an SQE: shared by the shared ring and the thread rings. */
#ifndef IOE_URING_PREP_H
#define IOE_URING_PREP_H

#include <liburing.h>
#include "progress.h"

static inline void ioe_uring_prep(struct io_uring_sqe *sqe, const struct ioe_event *ev,
				  const struct ioe_progress *prog)
{
	struct ioe_piece p;

	switch (ev->action) {
	case IOE_FSYNC:
		io_uring_prep_fsync(sqe, ev->fd, 0);
		break;
	case IOE_FDATASYNC:
		io_uring_prep_fsync(sqe, ev->fd, IORING_FSYNC_DATASYNC);
		break;
	default:
		ioe_progress_next(prog, ev, &p);
		if (ev->action == IOE_READV)
			io_uring_prep_readv(sqe, ev->fd, p.iov, (unsigned int)p.len, (__u64)p.offset);
		else if (ev->action == IOE_WRITEV)
			io_uring_prep_writev(sqe, ev->fd, p.iov, (unsigned int)p.len, (__u64)p.offset);
		else if (ev->action == IOE_READ)
			io_uring_prep_read(sqe, ev->fd, p.buf, (unsigned int)p.len, (__u64)p.offset);
		else
			io_uring_prep_write(sqe, ev->fd, p.buf, (unsigned int)p.len, (__u64)p.offset);
	}
}

#endif
