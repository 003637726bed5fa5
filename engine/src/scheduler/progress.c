/* SPDX-License-Identifier: MIT */
/* Short-IO progress: see progress.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include "progress.h"
#include "../fault.h"
#include "../iov.h"
#include "../tasks.h"
#include "../valgrind_annotate.h"

/*
 * A vector is left to the kernel to read first, as preadv() does: a bad one
 * is then its EFAULT, not a crash in the engine (or, under the shim, in the
 * program's pwritev()). Its size is counted at the first result.
 */
#define WANT_UNCOUNTED SIZE_MAX

void ioe_progress_start(struct ioe_progress *p, const struct ioe_event *ev)
{
	p->done = 0;
	p->want = !ioe_event_is_rw(ev) ? 0 : ioe_event_is_vectored(ev) ? WANT_UNCOUNTED : ev->len;
	p->iov_rest = NULL;
	p->iovcnt_rest = 0;
	p->retries = 0;
	p->in_place = false;
}

static void finish(struct ioe_progress *p, struct ioe_event *ev, ssize_t res)
{
	ev->res = res;
	if (p->iov_rest) {	/* rare (a vector's short piece): no call into libc per event */
		free(p->iov_rest);
		p->iov_rest = NULL;
	}
}

/* After this many EINTR/EAGAIN in a row without progress, give up with the error. */
#define IOE_MAX_RETRIES 1000

bool ioe_progress_update(struct ioe_progress *p, struct ioe_event *ev, long res)
{
	/* A stream file's EAGAIN (O_NONBLOCK) is its result, as read() says it. */
	if (res == -EINTR || (res == -EAGAIN && !(ev->flags & IOE_F_AT_POSITION))) {
		if (++p->retries < IOE_MAX_RETRIES)
			return false;
	}
	if (res < 0) {
		/* As pread() does: bytes already moved win over a later error. */
		finish(p, ev, p->done ? (ssize_t)p->done : res);
		return true;
	}
	p->retries = 0;
	if (!ioe_event_is_rw(ev)) {
		finish(p, ev, res);
		return true;
	}
	if (p->want == WANT_UNCOUNTED)
		p->want = ioe_event_bytes(ev);
	ioe_vg_read_landed(ev, p->done, (size_t)res);	/* the kernel filled them */
	p->done += (size_t)res;
	/* 0 means EOF for a read (and no progress for a write): stop there. */
	if (res == 0 || p->done >= p->want || ioe_event_one_call(ev)) {
		finish(p, ev, (ssize_t)p->done);
		return true;
	}
	if (ioe_event_is_vectored(ev) && !p->in_place) {
		struct iovec *rest = ioe_iov_advance(ev->iov, (int)ev->len, p->done, &p->iovcnt_rest);

		if (!rest) {
			/* Cannot continue: report the bytes done, a valid short count. */
			finish(p, ev, (ssize_t)p->done);
			return true;
		}
		free(p->iov_rest);
		p->iov_rest = rest;
	}
	return false;
}

/*
 * Fault injection's short pieces, which the engine hides by going on: not
 * for an IOE_F_ONE_CALL event, whose short count would be its result.
 */
static size_t piece_len(const struct ioe_event *ev, size_t len)
{
	return ioe_event_one_call(ev) ? len : ioe_fault_len(len);
}

void ioe_progress_next(const struct ioe_progress *p, const struct ioe_event *ev, struct ioe_piece *out)
{
	/* -1: the file's position, which the kernel then uses and moves (read()). */
	out->offset = (ev->flags & (IOE_F_AT_POSITION | IOE_F_STREAM_OFFSET)) == IOE_F_AT_POSITION ?
		      -1 : ev->offset + (int64_t)p->done;
	if (ioe_event_is_vectored(ev)) {
		size_t skip = 0;
		int i = 0;

		if (p->in_place && p->done) {	/* the program's vector: the kernel has read it */
			skip = p->done;
			i = ioe_iov_skip(ev->iov, (int)ev->len, &skip);
		}
		out->buf = NULL;
		out->iov = p->iov_rest ? p->iov_rest : ev->iov + i;
		out->skip = skip;
		/* Fault injection cuts a vectored IO at an iovec boundary. */
		out->len = piece_len(ev, p->iov_rest ? (size_t)p->iovcnt_rest : ev->len - (size_t)i);
	} else {
		size_t len = ev->len - p->done;

		out->buf = (char *)ev->buf + p->done;
		out->iov = NULL;
		out->skip = 0;
		out->len = piece_len(ev, len < IOE_MAX_RW ? len : IOE_MAX_RW);
	}
}
