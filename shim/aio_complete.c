/* SPDX-License-Identifier: MIT */
/*
 * A record's way to the engine and back, and its completion.
 *
 * Completion order: result stored, __error_code released, waiters woken,
 * then the notification from the record's copy of the sigevent, then the
 * record released; the aiocb is never touched after its __error_code
 * leaves EINPROGRESS.
 *
 * The hand-off and the completion live together: a write's completion may
 * release held requests of its fd (aio_fd_order.c), which go to the engine
 * from there, and a request the engine cannot take is completed at once,
 * or handed to glibc (to_glibc()).
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "aio_request.h"
#include "fdcache.h"

__thread enum ioe_wait_kind waits;

/* How this thread waits for r, for the engine's choice of path (see waits). */
static enum ioe_wait_kind waiter_of(const struct aio_req *r)
{
	if (r->group && r->group->mode == LIO_WAIT)
		return IOE_WAITS_ELSEWHERE;	/* on a futex: it reaps nothing */
	if (r->op == OP_WRITE && !shim_fsize_unlimited())
		return IOE_WAITS_ELSEWHERE;	/* never issued from the program's thread: see limits.c */
	return waits;
}

void submit_list(struct aio_req *r)
{
	while (r) {
		struct aio_req *next = r->fifo_next;

		r->fifo_next = NULL;
		engine_submit(shim_engine(), r);
		r = next;
	}
}

/* A counted request is done: the requests of its fd that it released go to the engine. */
static void out_done(struct fdq *q)
{
	struct aio_req *go = NULL;

	fdq_out_done(q, &go);
	submit_list(go);
}

/*
 * A read or write the engine does not do at the fd's position goes to glibc,
 * whose helper thread does it with read() or write(): a pipe or socket
 * (r->stream) the backend would have to block a thread for, or one that
 * was a file when the shim looked (the engine says ESPIPE). The record
 * stays ours until glibc has the request queued, so that an aio_suspend()
 * meanwhile waits for our wake-up below, not in glibc's aio_suspend()
 * (which takes a request it does not know for done). Its fd's next
 * request goes only then: glibc keeps the order from there.
 */
static void to_glibc(struct aio_req *r)
{
	struct fdq *q = r->counted ? r->q : NULL;

	atomic_store_explicit(&r->state, REQ_FOREIGN, memory_order_release);
	rec_state_moved(r);
	/* A record kept for glibc's notification may be gone once this returns. */
	if (!glibc_submit(r))
		release_rec(r, true);
	if (q)
		out_done(q);
	shim_stats_fallback(SHIM_FB_FD);
	done_seq_bump();
}

/* ---- completion ---- */

/*
 * A request the kernel fails at once (see refused_range(), is_dir()), done
 * here exactly as glibc's helper thread does it: pread, then read on ESPIPE.
 * Raw syscalls: aio_read() is not a cancellation point, pread() is.
 */
ssize_t do_inline(const struct aiocb *cb, int op)
{
	int saved = errno;
	long n;

	do {
		n = syscall(op == OP_READ ? SYS_pread64 : SYS_pwrite64, cb->aio_fildes, cb->aio_buf,
			    cb->aio_nbytes, cb->aio_offset);
		if (n < 0 && errno == ESPIPE)
			n = syscall(op == OP_READ ? SYS_read : SYS_write, cb->aio_fildes, cb->aio_buf,
				    cb->aio_nbytes);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	errno = saved;
	return n;
}

static bool is_dir(int fd)
{
	struct stat st;

	return !fstat(fd, &st) && S_ISDIR(st.st_mode);
}

void req_complete(struct aio_req *r, ssize_t res)
{
	struct aiocb *cb = atomic_load_explicit(&r->cb, memory_order_relaxed);
	struct lio_group *g = r->group;
	struct sigevent sev = r->sev;
	int err;

	res = check_signal(&sev, res);
	err = res < 0 ? (int)-res : 0;

	if (shim_stats_on && res >= 0 && !r->inline_done)
		shim_stats_routed(r->op == OP_READ ? SHIM_STAT_READ :
				  r->op == OP_WRITE ? SHIM_STAT_WRITE : SHIM_STAT_SYNC, r->path,
				  (size_t)res, shim_now_ns() - r->t0);
	atomic_store_explicit(&r->state, REQ_DONE, memory_order_release);
	rec_state_moved(r);
	/*
	 * No longer outstanding once the program can see the result: a program
	 * that resubmits at once, at the limit, must not get EAGAIN. (A record
	 * may then be missing from the pool a moment: rec_pop() grows it.)
	 */
	atomic_fetch_sub_explicit(&outstanding, 1, memory_order_relaxed);
	cb->__return_value = res < 0 ? -1 : res;
	/* Release: the result is visible to whoever sees the error code change. */
	__atomic_store_n(&cb->__error_code, err, __ATOMIC_RELEASE);
	/* From here on cb may be reused or freed by the program. */
	done_seq_bump();
	if (r->counted)
		out_done(r->q);
	notify(&sev);
	if (g)
		group_member_done(g, err != 0);
	/* Last: an aio_cancel() waits for this (rec_wait_released()), notifications sent. */
	release_rec(r, false);
}

/* The engine's callback of every record (set by submit()). */
void on_engine_done(struct ioe_event *ev, void *arg)
{
	struct aio_req *r = arg;

	(void)ev;
	if (r->ev.res == -ESPIPE && (r->op == OP_READ || r->op == OP_WRITE)) {
		to_glibc(r);
		return;
	}
	/*
	 * EAGAIN of a request whose fd the cache took for a pipe or socket
	 * (IOE_F_STREAM_OFFSET) that is by now something else, O_NONBLOCK: the
	 * engine's RWF_NOWAIT, which pread() would not say (shim_fd_rw_flags()).
	 */
	if (r->ev.res == -EAGAIN && (r->ev.flags & IOE_F_STREAM_OFFSET) &&
	    !(shim_fd_refresh(r->ev.fd, -1) & (SHIM_FDC_PIPE | SHIM_FDC_SOCKET))) {
		to_glibc(r);
		return;
	}
	/*
	 * A directory has no read_iter, so Linux AIO (not pread) says EINVAL:
	 * ask pread, which fails at once on a directory (EISDIR, or EFAULT ...).
	 */
	if (r->ev.res == -EINVAL && (r->op == OP_READ || r->op == OP_WRITE) && is_dir(r->ev.fd)) {
		req_complete(r, do_inline(atomic_load_explicit(&r->cb, memory_order_relaxed), r->op));
		return;
	}
	req_complete(r, r->ev.res);
}

/*
 * Hand r to the engine. If the engine cannot take it because it could not
 * start its threads (a thread or memory limit, where glibc's helper with
 * its smaller stack might still start), the request is done now in this
 * thread, as the synchronous calls are: its result is the same. A
 * stream's request never waits in this thread: a backend that would block
 * one of its threads for it refuses it (-EOPNOTSUPP), and it goes to glibc,
 * as it does without engine threads.
 */
void engine_submit(struct ioe_context *ctx, struct aio_req *r)
{
	enum ioe_channel ch = r->op == OP_READ ? IOE_CHAN_READ : IOE_CHAN_WRITE;
	int ret;

	if (ctx && shim_stats_on)
		shim_stats_queue_depth(ioe_pending(ctx) + ioe_running(ctx) + 1);
	r->path = IOE_PATH_SHARED;
	if (!ctx)
		ret = -ESHUTDOWN;
	else
		ret = ioe_submit_for(ctx, &r->ev, ch, waiter_of(r));

	if (ret == -ESHUTDOWN || ret == -EINVAL)
		req_complete(r, ret == -ESHUTDOWN ? -EAGAIN : ret);
	else if (ret && r->stream)
		to_glibc(r);
	else if (ret && ioe_submit_wait_path(ctx, &r->ev, ch, &r->path))
		req_complete(r, -EAGAIN);
	else if (ret)
		on_engine_done(&r->ev, r);	/* not called by ioe_submit_wait() */
}
