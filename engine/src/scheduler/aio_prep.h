/* SPDX-License-Identifier: MIT */
/* An event's next piece as an iocb: shared by the shared context and the threads' own. */
#ifndef IOE_AIO_PREP_H
#define IOE_AIO_PREP_H

#include <libaio.h>
#include "progress.h"

static inline void ioe_aio_prep(struct iocb *cb, const struct ioe_event *ev, const struct ioe_progress *prog)
{
	struct ioe_piece p;

	switch (ev->action) {
	case IOE_FSYNC:
		io_prep_fsync(cb, ev->fd);
		break;
	case IOE_FDATASYNC:
		io_prep_fdsync(cb, ev->fd);
		break;
	default:
		ioe_progress_next(prog, ev, &p);
		if (ev->action == IOE_READV)
			io_prep_preadv(cb, ev->fd, p.iov, (int)p.len, p.offset);
		else if (ev->action == IOE_WRITEV)
			io_prep_pwritev(cb, ev->fd, p.iov, (int)p.len, p.offset);
		else if (ev->action == IOE_READ)
			io_prep_pread(cb, ev->fd, p.buf, p.len, p.offset);
		else
			io_prep_pwrite(cb, ev->fd, p.buf, p.len, p.offset);
	}
}

#endif
