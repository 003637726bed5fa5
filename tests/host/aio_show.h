/* SPDX-License-Identifier: MIT */
/* POSIX AIO helpers of the hostile-host cases: one request's outcome, as a line. */
#ifndef IOE_HOST_AIO_SHOW_H
#define IOE_HOST_AIO_SHOW_H

#include <aio.h>
#include "host.h"

static inline void host_aio_prep(struct aiocb *cb, int fd, int op, void *buf, size_t len, off_t off)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_fildes = fd;
	cb->aio_buf = buf;
	cb->aio_nbytes = len;
	cb->aio_offset = off;
	cb->aio_lio_opcode = op;
}

/* Wait for cb (its submission returned 0) and print "NAME: ERROR RESULT". */
static inline void host_aio_wait(const char *name, struct aiocb *cb)
{
	const struct aiocb *list[1] = { cb };
	int err;

	while ((err = aio_error(cb)) == EINPROGRESS)
		if (aio_suspend(list, 1, NULL) && errno != EINTR)
			HOST_DIE("aio_suspend");
	printf("%s: aio_error %s, aio_return %zd\n", name, err ? strerrorname_np(err) : "0", aio_return(cb));
	fflush(stdout);
}

/* Submit with aio_write() and wait. */
static inline void host_aio_write(const char *name, struct aiocb *cb)
{
	if (aio_write(cb))
		host_show(name, -1);
	else
		host_aio_wait(name, cb);
}

/* Submit cb alone with lio_listio(LIO_WAIT) and wait. */
static inline void host_lio_one(const char *name, struct aiocb *cb)
{
	struct aiocb *list[1] = { cb };
	int ret = lio_listio(LIO_WAIT, list, 1, NULL);

	if (ret)
		host_show(name, ret);
	host_aio_wait(name, cb);
}

#endif
