/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <string.h>
#include "iov.h"
#include "tasks.h"

static void prep(struct ioe_event *ev, int fd, uint32_t action, void *buf, size_t len, int64_t offset)
{
	ev->fd = fd;
	ev->action = action;
	ev->buf = buf;
	ev->len = len;
	ev->offset = offset;
	ev->flags = 0;
	ev->res = 0;
	ev->merged = NULL;
	ev->merged_next = NULL;
	ev->next_ = NULL;
}

void ioe_prep_read(struct ioe_event *ev, int fd, void *buf, size_t len, int64_t offset)
{
	prep(ev, fd, IOE_READ, buf, len, offset);
}

void ioe_prep_write(struct ioe_event *ev, int fd, const void *buf, size_t len, int64_t offset)
{
	prep(ev, fd, IOE_WRITE, (void *)buf, len, offset);
}

void ioe_prep_readv(struct ioe_event *ev, int fd, const struct iovec *iov, int iovcnt, int64_t offset)
{
	prep(ev, fd, IOE_READV, (void *)iov, (size_t)iovcnt, offset);
}

void ioe_prep_writev(struct ioe_event *ev, int fd, const struct iovec *iov, int iovcnt, int64_t offset)
{
	prep(ev, fd, IOE_WRITEV, (void *)iov, (size_t)iovcnt, offset);
}

void ioe_prep_fsync(struct ioe_event *ev, int fd)
{
	prep(ev, fd, IOE_FSYNC, NULL, 0, 0);
}

void ioe_prep_fdatasync(struct ioe_event *ev, int fd)
{
	prep(ev, fd, IOE_FDATASYNC, NULL, 0, 0);
}

void ioe_set_callback(struct ioe_event *ev, ioe_callback_fn cb, void *arg)
{
	ev->cb = cb;
	ev->cb_arg = arg;
}

int ioe_event_check(const struct ioe_event *ev)
{
	if (ev->action >= IOE_ACTION_MAX || !ev->cb)
		return -EINVAL;
	if (!ioe_event_is_rw(ev))
		return 0;
	if (ev->offset < 0 && !(ev->flags & IOE_F_AT_POSITION))
		return -EINVAL;
	if (ioe_event_is_vectored(ev)) {
		/* iovcnt 0 is a valid zero-length IO, as for preadv(). */
		if (ev->len > IOV_MAX || (ev->len && !ev->iov))
			return -EINVAL;
	} else if (ev->len > SSIZE_MAX) {
		return -EINVAL;
	}
	/* A NULL buffer with a length is left to the kernel: it says -EFAULT. */
	return 0;
}

size_t ioe_event_bytes(const struct ioe_event *ev)
{
	size_t n = 0;

	if (!ioe_event_is_vectored(ev))
		return ev->len;
	for (size_t i = 0; i < ev->len; i++)
		n += ev->iov[i].iov_len;
	return n;
}

struct iovec *ioe_iov_advance(const struct iovec *iov, int iovcnt, size_t done, int *rest_cnt)
{
	struct iovec *rest;
	int i = ioe_iov_skip(iov, iovcnt, &done);

	*rest_cnt = iovcnt - i;
	rest = malloc(sizeof(*rest) * (size_t)(*rest_cnt ? *rest_cnt : 1));
	if (!rest)
		return NULL;
	memcpy(rest, iov + i, sizeof(*rest) * (size_t)*rest_cnt);
	if (*rest_cnt)
		ioe_iov_trim(&rest[0], done);
	return rest;
}
