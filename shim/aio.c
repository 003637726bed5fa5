/* SPDX-License-Identifier: MIT */
/*
 * POSIX AIO on the engine: aio_read, aio_write, aio_fsync, lio_listio,
 * aio_error, aio_return, aio_suspend, aio_cancel, aio_init and their 64 names
 * (on LP64 glibc struct aiocb64 has the layout of struct aiocb). This file
 * has the interposed functions but aio_suspend() (aio_wait.c) and
 * aio_cancel() (aio_cancel.c); the other parts are listed in aio_request.h.
 *
 * Differences from glibc 2.36 that remain (also listed in the README's
 * Limitations), each for a reason:
 * - the same aiocb submitted again while in flight: -1/EAGAIN, the first
 *   request is untouched (glibc queues it twice and both results land in
 *   the one aiocb);
 * - lio_listio() with nent > the outstanding limit: -1/EINVAL (glibc has no
 *   limit: arrays of nent entries on its stack, and it reads the whole list);
 * - SIGEV_THREAD_ID is honoured (glibc 2.36 sends nothing for it);
 * - in a fork child, requests work (glibc's wait for a helper thread that
 *   only the parent has);
 * - aio_cancel() on io_uring cancels a read or write of a pipe or socket
 *   that waits in the kernel (ioe_cancel(): IORING_OP_ASYNC_CANCEL), where
 *   glibc says AIO_NOTCANCELED (its helper thread is in read() or write());
 *   tests/aio/aio_stream.c asserts it (stream_shim_only.uring.expected).
 *   Requests on files that the kernel already has are AIO_NOTCANCELED (on
 *   Linux AIO io_cancel() refuses them), also those it has not started,
 *   which glibc's queue would still have cancelled: the engine sends many
 *   at once where glibc runs one per fd; held in the shim or still queued
 *   in the engine, they are cancelled;
 * - aio_suspend() on a list that mixes engine requests with glibc's (a pipe's
 *   or socket's on Linux AIO, see below) polls glibc's every
 *   SUSPEND_POLL_NS; a timeout whose deadline still has
 *   tv_nsec out of range (after glibc's one carry) is EINVAL where glibc
 *   fails an assertion (abort); a signal for a thread asleep in it is
 *   handled at the end of that sleep (1 ms at most: it sleeps with signals
 *   blocked, see ioe_wait_word()), then EINTR or not as glibc's futex wait
 *   decides, and a cancel that comes meanwhile never unwinds the handler
 *   (glibc's does);
 * - a completion signal the kernel refuses for lack of resources (EAGAIN)
 *   is lost and the result kept (glibc makes the result EAGAIN): the result
 *   is published before the signal is sent, so that a handler sees it.
 * Pipes, FIFOs, sockets and other files without positions (fd_flags(), aio_submit.c):
 * each request is one read() or write() at the fd's position, as glibc's
 * helper does it, and one fd's requests go one at a time in their order
 * (aio_fd_order.c). On io_uring the engine does them, and a blocked one
 * waits in the kernel, not in a thread; on Linux AIO, which would block
 * one of the engine's threads, glibc does them (aio_glibc.c).
 * Same as glibc (checked by tests/aio/aio_diff.c and aio_stream.c against
 * glibc itself):
 * aio_return() may be called again; a bad aio_reqprio fails the call
 * (EINVAL, also in aio_error) except for a sync, whose aio_reqprio is set
 * to 0 unchecked; aio_read/aio_write/aio_fsync store glibc's opcode in
 * aio_lio_opcode (LIO_READ, LIO_WRITE, GLIBC_LIO_SYNC, GLIBC_LIO_DSYNC);
 * lio_listio() opcodes are read as glibc's helper reads them (lio_op());
 * a length above SSIZE_MAX or a buffer that ends past the user address
 * space gets the kernel's answer (EFAULT, ...), done in the caller's thread
 * as the kernel refuses it at once, and any other length is cut at
 * MAX_RW_COUNT; a negative offset or bad fd fails in aio_error; aio_fsync()
 * takes O_SYNC or O_DSYNC exactly and checks only that its fd is open
 * (EBADF in the call); SIGEV_SIGNAL with no such signal makes the result
 * EINVAL; nent <= 0 is 0 for lio_listio(), nent < 0 EINVAL for
 * aio_suspend(), whose timeout is only looked at when it waits; LIO_WAIT
 * returns EIO if any request failed, even one the call refused;
 * aio_suspend() is a cancellation point when it waits (not when it returns
 * at once).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "aio_request.h"

/*
 * glibc's internal opcodes, as its aio_fsync() stores them in aio_lio_opcode
 * and as its helper thread accepts them from a lio_listio() list.
 */
#define GLIBC_LIO_DSYNC	(LIO_NOP + 1)
#define GLIBC_LIO_SYNC	(LIO_NOP + 2)

static int rw(struct aiocb *cb, int op)
{
	struct ioe_context *ctx = shim_engine();
	int ret;

	if (!ctx) {
		int (*real)(struct aiocb *) = op == OP_READ ? REAL(aio_read) : REAL(aio_write);

		shim_stats_fallback(SHIM_FB_NO_ENGINE);
		return real ? real(cb) : fail(EAGAIN);
	}
	ret = submit(ctx, cb, op, op == OP_READ ? LIO_READ : LIO_WRITE, NULL);
	return ret ? fail(-ret) : 0;
}

SHIM_API int aio_read(struct aiocb *cb)
{
	return rw(cb, OP_READ);
}

SHIM_API int aio_write(struct aiocb *cb)
{
	return rw(cb, OP_WRITE);
}

SHIM_API int aio_fsync(int op, struct aiocb *cb)
{
	struct ioe_context *ctx = shim_engine();
	int ret;

	if (!ctx) {
		shim_stats_fallback(SHIM_FB_NO_ENGINE);
		return REAL(aio_fsync) ? shim_real.aio_fsync(op, cb) : fail(EAGAIN);
	}
	if (op != O_SYNC && op != O_DSYNC)
		return fail(EINVAL);
	/* glibc checks the fd in the call, not in aio_error(). */
	if (fcntl(cb->aio_fildes, F_GETFL) < 0)
		return fail(EBADF);
	ret = submit(ctx, cb, op == O_SYNC ? OP_FSYNC : OP_FDATASYNC,
		     op == O_SYNC ? GLIBC_LIO_SYNC : GLIBC_LIO_DSYNC, NULL);
	return ret ? fail(-ret) : 0;
}

SHIM_API int aio_error(const struct aiocb *cb)
{
	return cb_error(cb);
}

SHIM_API ssize_t aio_return(struct aiocb *cb)
{
	/* Like glibc: the stored result, as often as asked. */
	return cb->__return_value;
}

/* ---- lio_listio ---- */

/*
 * A member's opcode as glibc's helper thread reads it: the low 7 bits make a
 * read or a write (bit 7 marks the 64-bit variant, the same on LP64); its
 * internal sync opcodes, exactly, an fdatasync or fsync (with aio_reqprio
 * set to 0, unchecked); anything else is accepted and then fails with
 * EINVAL, with the member's own notification.
 */
static int lio_op(int opcode)
{
	if ((opcode & 127) == LIO_READ)
		return OP_READ;
	if ((opcode & 127) == LIO_WRITE)
		return OP_WRITE;
	if (opcode == GLIBC_LIO_DSYNC)
		return OP_FDATASYNC;
	if (opcode == GLIBC_LIO_SYNC)
		return OP_FSYNC;
	return OP_INVALID;
}

SHIM_API int lio_listio(int mode, struct aiocb *const list[], int nent, struct sigevent *sev)
{
	struct lio_group *g;
	struct ioe_context *ctx = shim_engine();
	int ret = 0, err = 0, members = 0;
	bool failed;

	if (!ctx) {
		shim_stats_fallback(SHIM_FB_NO_ENGINE);
		return REAL(lio_listio) ? shim_real.lio_listio(mode, list, nent, sev) : fail(EAGAIN);
	}
	if (mode != LIO_WAIT && mode != LIO_NOWAIT)
		return fail(EINVAL);
	if (nent > 0 && (uint32_t)nent > effective_max())
		return fail(EINVAL);
	g = calloc(1, sizeof(*g));
	if (!g)
		return fail(EAGAIN);
	g->mode = mode;
	atomic_init(&g->pending, 1);
	atomic_init(&g->refs, mode == LIO_WAIT ? 2 : 1);
	if (mode == LIO_NOWAIT && sev && sev->sigev_notify != SIGEV_NONE) {
		g->has_sev = true;
		g->sev = *sev;
	}
	for (int i = 0; i < nent; i++) {
		struct aiocb *cb = list[i];
		int r;

		if (!cb || cb->aio_lio_opcode == LIO_NOP)
			continue;
		r = submit(ctx, cb, lio_op(cb->aio_lio_opcode), -1, g);
		if (r) {
			ret = -1;
			err = -r;
		} else {
			members++;
		}
	}
	/* Drop the submitting guard: the group may complete now. */
	group_member_done(g, false);
	if (mode == LIO_NOWAIT)
		return ret ? fail(err) : 0;
	while (!atomic_load_explicit(&g->done, memory_order_acquire)) {
		if (ioe_futex_wait(&g->done, 0, NULL) < 0 && errno == EINTR) {
			group_put(g);
			return -1;
		}
	}
	failed = atomic_load_explicit(&g->failed, memory_order_relaxed);
	group_put(g);
	/* glibc: once it waited for anything, any failure (even a refused request) is EIO. */
	if (members && (failed || ret))
		return fail(EIO);
	return ret ? fail(err) : 0;
}

SHIM_API void aio_init(const struct aioinit *init)
{
	/* aio_num: how many requests the program expects at once; never lowers the limit. */
	if (!aio_max_from_env && init->aio_num > 0 && (uint32_t)init->aio_num > aio_max)
		aio_max = (uint32_t)init->aio_num > AIO_HARD_MAX ? AIO_HARD_MAX : (uint32_t)init->aio_num;
	if (REAL(aio_init))
		shim_real.aio_init(init);
}

/* The 64 names (see AIO_ALIAS64()); aio_suspend64 and aio_cancel64 are with their functions. */
AIO_ALIAS64(aio_read);
AIO_ALIAS64(aio_write);
AIO_ALIAS64(aio_error);
AIO_ALIAS64(aio_return);
AIO_ALIAS64(aio_fsync);
AIO_ALIAS64(lio_listio);
_Static_assert(sizeof(struct aiocb) == sizeof(struct aiocb64), "aiocb64 is aiocb on this ABI");

/* ---- process lifecycle ---- */

static void aio_atfork_child(void)
{
	/* The parent's requests are not ours. */
	fdq_atfork_child();
	rec_atfork_child();
}

__attribute__((constructor)) static void aio_setup(void)
{
	const char *v = secure_getenv("IOENGINE_AIO_MAX");

	long page = sysconf(_SC_PAGESIZE);

	if (page > 0 && !(page & (page - 1)))
		max_rw = (size_t)INT_MAX & ~((size_t)page - 1);
	if (v && *v) {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(v, &end, 10);
		if (errno || *end || !n || n > AIO_HARD_MAX)
			shim_log(SHIM_LOG_WARN, "IOENGINE_AIO_MAX=%s: want 1..%u, using %u", v,
				 AIO_HARD_MAX, AIO_DEFAULT_MAX);
		else {
			aio_max = (uint32_t)n;
			aio_max_from_env = true;
		}
	}
	pthread_atfork(NULL, NULL, aio_atfork_child);
}
