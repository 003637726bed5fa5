/* SPDX-License-Identifier: MIT */
/*
 * aio_cancel(): a request held in the shim (aio_fd_order.c) is cancelled
 * here; one the engine has is cancelled by ioe_cancel() where the engine
 * still can (queued in it; on io_uring also blocked in the kernel, such as
 * a read of an empty pipe); one glibc has (no engine, or a pipe's or
 * socket's on Linux AIO) by glibc's aio_cancel(). Each cancelled request
 * completes with ECANCELED and -1, and is notified as any other, before
 * this returns AIO_CANCELED.
 */
#include <fcntl.h>
#include <time.h>
#include "aio_request.h"

/* cancel_rec(): the request is glibc's now. */
#define GLIBCS (-1)

/*
 * r's request was in state st, between two states: being handed to the
 * engine or to glibc, or completing, a few steps of another thread, which
 * may have lost its CPU. Sleep until r->state moves from st (the steps
 * wake a pinned record's sleepers: rec_state_moved()), 1 ms at most: the
 * step from marked as the engine's to queued in it moves no word.
 */
static void wait_state_moved(struct aio_req *r, uint32_t st)
{
	struct timespec most = { 0, 1000000 };

	ioe_futex_wait(&r->state, st, &most);
}

/*
 * What became of r's request, r pinned: AIO_CANCELED, AIO_NOTCANCELED,
 * AIO_ALLDONE (its result is out, or r holds another request by now), or
 * GLIBCS. A request being handed to the engine or to glibc, or completing,
 * is waited for (wait_state_moved()).
 */
static int cancel_rec(struct ioe_context *ctx, struct aio_req *r, int fd, const struct aiocb *cb)
{
	/* Pinned before the state is read: see rec_state_moved(). */
	atomic_thread_fence(memory_order_seq_cst);
	for (;;) {
		uint32_t st;

		if (cb ? atomic_load_explicit(&r->cb, memory_order_relaxed) != cb :
			 atomic_load_explicit(&r->fd, memory_order_relaxed) != fd)
			return AIO_ALLDONE;
		st = atomic_load_explicit(&r->state, memory_order_acquire);
		switch (st) {
		case REQ_ENGINE:
			switch (ioe_cancel(ctx, &r->ev)) {
			case IOE_CANCEL_DONE:
				/* Its callback may come from the reaping thread: the result is out once r is released. */
				rec_wait_released(r);
				return AIO_CANCELED;
			case IOE_CANCEL_RUNNING:
				return AIO_NOTCANCELED;
			default:
				break;	/* not yet with the engine, or its completion under way */
			}
			break;
		case REQ_DONE:
			rec_wait_released(r);
			return AIO_ALLDONE;
		case REQ_HELD:
			return AIO_NOTCANCELED;	/* submitted after take_held() looked */
		case REQ_FOREIGN:
			break;
		case REQ_GLIBC:
			return GLIBCS;
		default:
			/* Released: done, or handed to glibc (its aiocb still in progress). */
			return cb && cb_error(cb) == EINPROGRESS ? GLIBCS : AIO_ALLDONE;
		}
		wait_state_moved(r, st);
	}
}

/* Complete the requests take_held() took off their fd's FIFO as cancelled; whether there were any. */
static bool cancel_held(int fd, const struct aiocb *cb)
{
	struct aio_req *go = NULL, *got = take_held(fd, cb, &go);
	bool any = got != NULL;

	while (got) {
		struct aio_req *next = got->fifo_next;

		got->fifo_next = NULL;
		req_complete(got, -ECANCELED);
		got = next;
	}
	submit_list(go);
	return any;
}

/* POSIX: NOTCANCELED if any could not be, else CANCELED if any was, else ALLDONE. */
static int worst(int a, int b)
{
	if (a == AIO_NOTCANCELED || b == AIO_NOTCANCELED)
		return AIO_NOTCANCELED;
	if (a == AIO_CANCELED || b == AIO_CANCELED)
		return AIO_CANCELED;
	return AIO_ALLDONE;
}

static int cancel_cb(struct ioe_context *ctx, int fd, struct aiocb *cb)
{
	struct aio_req *r;
	int res = GLIBCS;

	if (cancel_held(fd, cb))
		return AIO_CANCELED;
	r = rec_of(cb);
	if (r) {
		rec_pin(r);
		res = cancel_rec(ctx, r, fd, cb);
		rec_unpin(r);
	}
	if (res != GLIBCS)
		return res;
	/* glibc's own request (or none any more: then glibc says AIO_ALLDONE). */
	return REAL(aio_cancel) ? shim_real.aio_cancel(fd, cb) : AIO_ALLDONE;
}

static int cancel_fd(struct ioe_context *ctx, int fd)
{
	int res = cancel_held(fd, NULL) ? AIO_CANCELED : AIO_ALLDONE;
	struct aio_req *r;
	uint32_t i = 0;

	while ((r = rec_next_on_fd(fd, &i))) {
		int one;

		rec_pin(r);
		one = cancel_rec(ctx, r, fd, NULL);
		rec_unpin(r);
		if (one != GLIBCS)
			res = worst(res, one);
	}
	/* glibc's, those handed over above too. */
	if (REAL(aio_cancel))
		res = worst(res, shim_real.aio_cancel(fd, NULL));
	return res;
}

SHIM_API int aio_cancel(int fd, struct aiocb *cb)
{
	struct ioe_context *ctx = shim_engine();
	int saved = errno, res;

	if (!ctx) {
		shim_stats_fallback(SHIM_FB_NO_ENGINE);
		/* No glibc yet (see REAL()): none of its requests can exist. */
		if (!REAL(aio_cancel))
			return fcntl(fd, F_GETFL) < 0 ? fail(EBADF) : AIO_ALLDONE;
		return shim_real.aio_cancel(fd, cb);
	}
	if (fcntl(fd, F_GETFL) < 0)
		return fail(EBADF);
	if (cb && cb->aio_fildes != fd)
		return fail(EINVAL);
	if (cb && cb_error(cb) != EINPROGRESS)
		return AIO_ALLDONE;
	res = cb ? cancel_cb(ctx, fd, cb) : cancel_fd(ctx, fd);
	if (res >= 0)
		errno = saved;
	return res;
}

AIO_ALIAS64(aio_cancel);
