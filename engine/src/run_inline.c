/* SPDX-License-Identifier: MIT */
/*
 * An event done with plain syscalls in the calling thread, by the engine's
 * result rules (progress.c, the same as for the drivers, fault injection
 * included): a read or write goes on after a short count until it is
 * complete, meets EOF or fails, and bytes moved win over a later error;
 * one with IOE_F_ONE_CALL or IOE_F_AT_POSITION is one call (retried only
 * on EINTR or EAGAIN), the latter read() or write() at the file's position.
 * Async-signal-safe (no allocation, no lock: a vector's rest is walked in
 * place): it serves a signal handler's pread(), also one that interrupted
 * its own thread while that thread was queueing.
 *
 * A synchronous write, fsync or fdatasync, whatever the queues hold, and a
 * synchronous read that finds the engine idle (ioe_choose_path() in
 * scheduler/context.c) take no ring or AIO context: they are done with the
 * plain system call (ioe_event_run_inline()), which the caller waits for
 * anyway. io_uring hands a buffered write (ext4 has no async buffered
 * writes) or a sync to its io-wq worker thread, to block in the same call
 * two context switches later (an O_DIRECT write into new blocks too, seen
 * in tests/engine/sync_wait.c); an O_DIRECT write takes longer through
 * either kernel interface than through pwrite(), which does the same work
 * in the caller with one system call; and a read on a ring or AIO context
 * costs at least the same system call (io_uring_enter, or io_submit and
 * io_getevents) plus a check that the fd is no pipe (lseek(): io_uring and
 * Linux AIO read a pipe at any offset), where pread() is one call whose
 * ESPIPE or EBADF is the kernel's own. A SIGXFSZ is so raised in the
 * calling thread, as by pwrite().
 */
#include <errno.h>
#include <sys/syscall.h>
#include "fault.h"
#include "iov.h"
#include "raw_syscall.h"
#include "run_inline.h"
#include "tasks.h"
#include "scheduler/progress.h"

/*
 * One read or write of ev's kind: iov[0..cnt) at off, the first skip bytes
 * of iov[0] left out (then only the rest of iov[0]). Raw system calls
 * (the shim wraps pread()): the result or -errno.
 */
static long rw_syscall(const struct ioe_event *ev, const struct iovec *iov, int cnt, size_t skip, int64_t off)
{
	bool write = ioe_event_is_write(ev);

	if (ev->flags & IOE_F_AT_POSITION) {	/* at the file's position: off is not used */
		struct ioe_event at_off = *ev;	/* IOE_F_STREAM_OFFSET: at off, until that says ESPIPE */
		long res;

		at_off.flags &= ~IOE_F_AT_POSITION;
		if ((ev->flags & IOE_F_STREAM_OFFSET) &&
		    (res = rw_syscall(&at_off, iov, cnt, skip, off)) != -ESPIPE)
			return res;
		if (skip || cnt == 1)
			return IOE_RAW(write ? SYS_write : SYS_read, ev->fd, (char *)iov->iov_base + skip,
				       iov->iov_len - skip, 0, 0, 0);
		return IOE_RAW(write ? SYS_writev : SYS_readv, ev->fd, iov, cnt, 0, 0, 0);
	}
	if (skip || cnt == 1) {
		size_t len = iov->iov_len - skip;

		return IOE_RAW(write ? SYS_pwrite64 : SYS_pread64, ev->fd, (char *)iov->iov_base + skip,
			       len < IOE_MAX_RW ? len : IOE_MAX_RW, off, 0, 0);
	}
	/* The high half of the offset is 0 on 64-bit kernels, which ignore it. */
	return IOE_RAW(write ? SYS_pwritev : SYS_preadv, ev->fd, iov, cnt, off, (uint64_t)off >> 32, 0);
}

static long sync_syscall(const struct ioe_event *ev)
{
	return IOE_RAW(ev->action == IOE_FSYNC ? SYS_fsync : SYS_fdatasync, ev->fd, 0, 0, 0, 0, 0);
}

/* One piece by a plain system call: its result or -errno. */
static long plain_piece(const struct ioe_event *ev, const struct ioe_progress *prog)
{
	struct ioe_piece p;
	struct iovec one;
	long res;

	if (!ioe_event_is_rw(ev)) {
		res = sync_syscall(ev);
	} else {
		ioe_progress_next(prog, ev, &p);
		one = (struct iovec){ p.buf, p.len };
		res = ioe_event_is_vectored(ev) ? rw_syscall(ev, p.iov, (int)p.len, p.skip, p.offset) :
						  rw_syscall(ev, &one, 1, 0, p.offset);
	}
	return res;
}

void ioe_event_finish_inline(struct ioe_progress *p, struct ioe_event *ev)
{
	int saved = errno;

	while (!ioe_progress_update(p, ev, ioe_fault_result(plain_piece(ev, p))))
		;
	errno = saved;
}

void ioe_event_run_inline(struct ioe_event *ev)
{
	struct ioe_progress prog;

	ioe_progress_start(&prog, ev);
	prog.in_place = true;
	ioe_event_finish_inline(&prog, ev);
}
