/* SPDX-License-Identifier: MIT */
/*
 * A new POSIX AIO request: the checks glibc makes, the fast path, its
 * record, and its way out: answered in this thread, to the engine, or into
 * its fd's order (aio_fd_order.c).
 */
#include <limits.h>
#include "aio_request.h"
#include "fdcache.h"

/*
 * The kernel's access_ok() refuses a buffer that ends past the user address
 * space before it looks at anything else (EFAULT). Below this end every
 * x86-64 kernel accepts the range (4-level paging; 5-level and LAM only
 * widen it). Elsewhere only a length above SSIZE_MAX is known to be refused.
 */
#if defined(__x86_64__)
#define USER_SPACE_END	((1ull << 47) - 4096)
#else
#define USER_SPACE_END	UINTPTR_MAX
#endif

/*
 * The fast path (IOENGINE_FASTPATH, as for pread): a buffered read whose data
 * is all in the page cache is done by RWF_NOWAIT in the caller's thread and
 * completed at once, without a record or an engine round trip. Anything
 * else (would block, short, an error, O_DIRECT) goes to the engine, which
 * then decides the result.
 *
 * Taken when the engine says the caller should copy (ioe_caller_copies()).
 */

/*
 * Larger reads always go to the engine: aio_read() must not itself take long.
 * The fd cache can also be stale (fdcache.h): the fd may by now be a device
 * such as /dev/zero, whose 2 GiB read would otherwise run here (tens of
 * milliseconds).
 */
#define FAST_MAX_BYTES (64 * 1024)

static bool fast_read(struct ioe_context *ctx, struct aiocb *cb, size_t len, int opcode)
{
	struct iovec iov = { (void *)cb->aio_buf, len };
	struct sigevent sev;
	ssize_t n;
	int saved;

	if (!ioe_caller_copies(ctx, waits))
		return false;
	if (!len || len > FAST_MAX_BYTES || cb->aio_offset < 0 || !shim_fd_fast_ok(shim_fd_get(cb->aio_fildes)))
		return false;
	saved = errno;
	n = shim_real.preadv2(cb->aio_fildes, &iov, 1, cb->aio_offset, RWF_NOWAIT);
	if (n != (ssize_t)len) {
		if (n < 0 && errno == EOPNOTSUPP)
			shim_fd_nowait_bad(cb->aio_fildes);
		errno = saved;
		return false;
	}
	errno = saved;
	sev = cb->aio_sigevent;
	n = check_signal(&sev, n);
	if (opcode >= 0)
		cb->aio_lio_opcode = opcode;
	cb->__return_value = n < 0 ? -1 : n;
	__atomic_store_n(&cb->__error_code, n < 0 ? (int)-n : 0, __ATOMIC_RELEASE);
	done_seq_bump();
	if (shim_stats_on)
		shim_stats_fastpath(len, true);
	notify(&sev);
	return true;
}

/* The kernel moves at most this much in one read or write (MAX_RW_COUNT); set at load. */
size_t max_rw = 0x7ffff000;

/*
 * A read or write the kernel refuses whole before it looks at the file or
 * the buffer's contents: a length above SSIZE_MAX, or a buffer that ends
 * past the user address space. glibc's helper then gets EFAULT (or what the
 * fd or offset earns first: EBADF, EINVAL, ...); the engine would instead
 * move what it can piece by piece. (A buffer mapped above USER_SPACE_END,
 * which only a program asking for 5-level addresses gets, is then done in
 * the caller's thread too: the kernel's own result, only not asynchronous.)
 */
static bool refused_range(const struct aiocb *cb)
{
	uintptr_t a = (uintptr_t)cb->aio_buf;
	size_t n = cb->aio_nbytes;

	return n > SSIZE_MAX || a + n < a || a + n >= USER_SPACE_END;
}

/* glibc: a sync has no priority (aio_reqprio is set to 0), anything else is checked. */
static int check_reqprio(struct aiocb *cb, bool sync)
{
	if (!sync && (cb->aio_reqprio < 0 || cb->aio_reqprio > AIO_PRIO_DELTA_MAX)) {
		cb->__return_value = -1;
		__atomic_store_n(&cb->__error_code, EINVAL, __ATOMIC_RELEASE);
		return -EINVAL;
	}
	return 0;
}

/*
 * Whether the request is answered in this thread (see refused_range(),
 * OP_INVALID); *len: how much of a read or write goes.
 */
static bool answered_here(const struct aiocb *cb, int op, size_t *len)
{
	bool now = false;

	if (op == OP_READ || op == OP_WRITE) {
		now = refused_range(cb);
		/* Beyond this the kernel's pread()/pwrite() would stop: so does the request. */
		*len = cb->aio_nbytes < max_rw ? cb->aio_nbytes : max_rw;
	} else if (op == OP_INVALID) {
		now = true;
	}
	return now;
}

/*
 * The event flags the fd gives a read or write (see shim_fd_rw_flags()):
 * whether it goes at its fd's position (a pipe, a socket, ...), as glibc's
 * helper does it with read() or write() after pread() said ESPIPE, and
 * whether it may merge. A negative offset is never at the position:
 * pread() says EINVAL for it first.
 */
static unsigned int fd_flags(const struct aiocb *cb, int op, bool now)
{
	if ((op != OP_READ && op != OP_WRITE) || now || cb->aio_offset < 0)
		return 0;
	return shim_fd_rw_flags(cb->aio_fildes, cb->aio_offset);
}

/* Fill r for the request: what its completion needs, and its engine event. */
static void prep_record(struct aio_req *r, const struct aiocb *cb, int op, size_t len, bool now,
			struct lio_group *g)
{
	unsigned int fdf = fd_flags(cb, op, now);

	r->op = op;
	r->stream = fdf & IOE_F_AT_POSITION;
	r->counted = false;
	r->inline_done = now;
	r->group = g;
	r->fifo_next = NULL;
	r->sev = cb->aio_sigevent;
	r->t0 = shim_stats_on ? shim_now_ns() : 0;
	switch (op) {
	case OP_READ:
		ioe_prep_read(&r->ev, cb->aio_fildes, (void *)cb->aio_buf, len, cb->aio_offset);
		break;
	case OP_WRITE:
		ioe_prep_write(&r->ev, cb->aio_fildes, (const void *)cb->aio_buf, len, cb->aio_offset);
		break;
	case OP_FSYNC:
		ioe_prep_fsync(&r->ev, cb->aio_fildes);
		break;
	case OP_FDATASYNC:
		ioe_prep_fdatasync(&r->ev, cb->aio_fildes);
		break;
	default:
		break;		/* OP_INVALID: never goes to the engine */
	}
	/*
	 * glibc's helper makes one pwrite(): a short write at a limit is the
	 * result. A read goes on after a short count: on a character device
	 * (/dev/zero) io_uring stops short where pread() does not.
	 */
	if (op == OP_WRITE)
		r->ev.flags = IOE_F_ONE_CALL;
	if (r->stream)
		r->ev.flags = fdf;	/* one read() or write(), the engine's or glibc's */
	else
		r->ev.flags |= fdf;	/* IOE_F_NO_MERGE, or nothing */
	ioe_set_callback(&r->ev, on_engine_done, r);
}

/*
 * The aiocb shows the request in flight (EINPROGRESS, opcode stored if >= 0)
 * and carries r's hint for rec_of(); r is cb's from here on.
 */
static void mark_in_flight(struct aiocb *cb, struct aio_req *r, int opcode)
{
	if (opcode >= 0)
		cb->aio_lio_opcode = opcode;
	cb->__return_value = 0;
	__atomic_store_n(&cb->__error_code, EINPROGRESS, __ATOMIC_RELAXED);
	cb->__abs_prio = (int)r->idx;
	cb->__policy = (int)(r->idx ^ HINT_MAGIC);
	atomic_store_explicit(&r->fd, cb->aio_fildes, memory_order_relaxed);
	atomic_store_explicit(&r->cb, cb, memory_order_relaxed);
	atomic_store_explicit(&r->state, REQ_ENGINE, memory_order_release);
}

/* Failed at once with no effect, so out of order with the fd's queue is unseen. */
static void complete_here(struct aio_req *r, const struct aiocb *cb, int op)
{
	ssize_t res = -EINVAL;

	if (op != OP_INVALID) {
		shim_stats_fallback(SHIM_FB_INLINE);
		res = do_inline(cb, op);
	}
	req_complete(r, res);
}

/* A write, a sync or a stream's request on fd: to the engine now, or held until what is before it on fd is done. */
static void submit_in_fd_order(struct ioe_context *ctx, struct aio_req *r, int fd)
{
	struct aio_req *go = NULL;
	bool held = fdq_enter(fd, r, &go);

	submit_list(go);
	if (!held)
		engine_submit(ctx, r);	/* without an fdq (no memory): unordered, still correct per request */
}

/*
 * Returns 0, or -errno for the call itself (the aiocb then carries it as glibc
 * does). opcode: what glibc stores in aio_lio_opcode when it accepts the
 * request (LIO_READ, LIO_WRITE, GLIBC_LIO_SYNC, GLIBC_LIO_DSYNC), or -1 to
 * leave it (a lio_listio() member keeps its own).
 */
static int submit_req(struct ioe_context *ctx, struct aiocb *cb, int op, int opcode, struct lio_group *g)
{
	bool sync = op == OP_FSYNC || op == OP_FDATASYNC;
	bool now;	/* answered in this thread: see answered_here() */
	struct aio_req *r;
	size_t len = 0;
	int ret;

	ret = check_reqprio(cb, sync);
	if (ret)
		return ret;
	/* Still in flight (its result not out yet): the first request is left alone. */
	if (cb_error(cb) == EINPROGRESS && rec_of(cb))
		return -EAGAIN;
	if (sync)
		cb->aio_reqprio = 0;
	now = answered_here(cb, op, &len);
	if (op == OP_READ && !now && shim_cfg.fastpath && fast_read(ctx, cb, len, opcode))
		return 0;
	r = rec_take();
	if (!r)
		return -EAGAIN;
	prep_record(r, cb, op, len, now, g);
	if (g)
		group_add_member(g);
	mark_in_flight(cb, r, opcode);

	if (now)
		complete_here(r, cb, op);
	else if (op == OP_READ && !r->stream)
		engine_submit(ctx, r);
	else
		submit_in_fd_order(ctx, r, cb->aio_fildes);
	return 0;
}

/* submit_req(), errno kept: the fd checks and the engine on the way may change it. */
int submit(struct ioe_context *ctx, struct aiocb *cb, int op, int opcode, struct lio_group *g)
{
	int saved = errno, ret = submit_req(ctx, cb, op, opcode, g);

	errno = saved;
	return ret;
}
