/* SPDX-License-Identifier: MIT */
/*
 * An event done with plain syscalls in the calling thread, by the engine's
 * result rules: a read or write goes on after a short count until it is
 * complete, meets EOF or fails, and bytes moved win over a later error;
 * one with IOE_F_ONE_CALL or IOE_F_AT_POSITION is one call (retried only
 * on EINTR), the latter read() or write() at the file's position.
 * Async-signal-safe (no allocation, no lock): it serves a signal handler
 * that interrupted its own thread while that thread was queueing.
 *
 * A synchronous write, fsync or fdatasync takes neither the thread's own
 * ring or AIO context (scheduler/own_queue.c) nor the queues, whatever the
 * queues hold (ioe_write_or_sync_run_inline()): it is done with the plain
 * system call, which the caller waits for anyway. io_uring hands a buffered
 * write (ext4 has no async buffered writes) or a sync to its io-wq worker
 * thread, to block in the same call two context switches later (an
 * O_DIRECT write into new blocks too, seen in tests/engine/sync_wait.c);
 * and an O_DIRECT write takes longer through either kernel interface than
 * through pwrite(), which does the same work in the caller with one system
 * call. A SIGXFSZ is so raised in the calling thread, as by pwrite().
 */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "fault.h"
#include "iov.h"
#include "run_inline.h"
#include "tasks.h"
#include "scheduler/progress.h"

long ioe_rw_syscall(const struct ioe_event *ev, const struct iovec *iov, int cnt, size_t skip, int64_t off)
{
	bool write = ioe_event_is_write(ev);

	if (ev->flags & IOE_F_AT_POSITION) {	/* at the file's position: off is not used */
		struct ioe_event at_off = *ev;	/* IOE_F_STREAM_OFFSET: at off, until that says ESPIPE */
		long res;

		at_off.flags &= ~IOE_F_AT_POSITION;
		if ((ev->flags & IOE_F_STREAM_OFFSET) &&
		    ((res = ioe_rw_syscall(&at_off, iov, cnt, skip, off)) != -1 || errno != ESPIPE))
			return res;
		if (skip || cnt == 1)
			return syscall(write ? SYS_write : SYS_read, ev->fd, (char *)iov->iov_base + skip,
				       iov->iov_len - skip);
		return syscall(write ? SYS_writev : SYS_readv, ev->fd, iov, cnt);
	}
	if (skip || cnt == 1) {
		size_t len = iov->iov_len - skip;

		return syscall(write ? SYS_pwrite64 : SYS_pread64, ev->fd, (char *)iov->iov_base + skip,
			       len < IOE_MAX_RW ? len : IOE_MAX_RW, (long)off);
	}
	/* The high half of the offset is 0 on 64-bit kernels, which ignore it. */
	return syscall(write ? SYS_pwritev : SYS_preadv, ev->fd, iov, cnt, (long)off,
		       (long)((uint64_t)off >> 32));
}

static long rw_all(const struct ioe_event *ev)
{
	struct iovec one = { ev->buf, ev->len };
	const struct iovec *iov = ioe_event_is_vectored(ev) ? ev->iov : &one;
	int cnt = ioe_event_is_vectored(ev) ? (int)ev->len : 1;
	size_t done = 0, skip = 0;	/* skip: bytes of iov[0] already moved */
	int i;

	do {
		long res = ioe_rw_syscall(ev, iov, cnt, skip, ev->offset + (int64_t)done);

		if (res < 0 && errno == EINTR)
			continue;
		if (res <= 0)
			return done ? (long)done : res < 0 ? -errno : 0;
		done += (size_t)res;
		if (ioe_event_one_call(ev))
			break;
		skip += (size_t)res;
		i = ioe_iov_skip(iov, cnt, &skip);
		iov += i;
		cnt -= i;
	} while (cnt);
	return (long)done;
}

long ioe_sync_syscall(const struct ioe_event *ev)
{
	return syscall(ev->action == IOE_FSYNC ? SYS_fsync : SYS_fdatasync, ev->fd);
}

void ioe_event_run_inline(struct ioe_event *ev)
{
	int saved = errno;
	long res;

	if (ioe_event_is_rw(ev))
		res = rw_all(ev);
	else if ((res = ioe_sync_syscall(ev)) < 0)
		res = -errno;
	ev->res = res;
	errno = saved;
}

/* One piece by a plain system call: its result or -errno. */
static long plain_piece(const struct ioe_event *ev, const struct ioe_progress *prog)
{
	struct ioe_piece p;
	struct iovec one;
	long res;

	if (!ioe_event_is_rw(ev)) {
		res = ioe_sync_syscall(ev);
	} else {
		ioe_progress_next(prog, ev, &p);
		one = (struct iovec){ p.buf, p.len };
		res = ioe_event_is_vectored(ev) ? ioe_rw_syscall(ev, p.iov, (int)p.len, 0, p.offset) :
						  ioe_rw_syscall(ev, &one, 1, 0, p.offset);
	}
	return res < 0 ? -errno : res;
}

void ioe_event_finish_inline(struct ioe_progress *p, struct ioe_event *ev)
{
	int saved = errno;

	while (!ioe_progress_update(p, ev, ioe_fault_result(plain_piece(ev, p))))
		;
	errno = saved;
}

void ioe_write_or_sync_run_inline(struct ioe_event *ev)
{
	struct ioe_progress prog;

	ioe_progress_start(&prog, ev);
	ioe_event_finish_inline(&prog, ev);
}
