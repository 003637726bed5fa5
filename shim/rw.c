/* SPDX-License-Identifier: MIT */
/*
 * pread/pwrite and their 64, v and v2 variants, routed through the engine.
 *
 * Every case whose result the engine could phrase differently from the
 * kernel's positioned-IO syscalls goes to the real function instead, before
 * or after routing: count 0, negative offset, iovcnt out of range, bad fd,
 * wrong access mode, fds that are not regular files or block devices, flags
 * on the v2 calls. Which fds are routed is known from the fd cache without
 * a system call per call (fdcache.h, also for what a stale entry costs).
 * A routed call that fails without moving a byte is redone by the real
 * function, which then says exactly what the real call says (misaligned
 * O_DIRECT, ...): a failed read or write had no effect, so doing it again
 * is what the program would have seen. EIO is an exception: it is returned
 * as it came, since a retry could succeed and hide a device error from the
 * program. EFBIG is the other: the engine writes in the calling thread
 * (ioe_submit_wait()), where the kernel has raised SIGXFSZ already.
 *
 * A routed call is one call of the kernel's (IOE_F_ONE_CALL): its short
 * count is the result, as pwrite()'s at RLIMIT_FSIZE or the end of a
 * filesystem's space is; going on would raise SIGXFSZ or fail with bytes
 * written. (On a regular file or a block device, the only ones routed, a
 * read is short only at end of file, through any of the kernel's
 * interfaces; one call also spares the engine a copy of the vector.)
 * The fast path below may read in pieces: RWF_NOWAIT stops short of what
 * would block, which is no answer of the real call's.
 *
 * A read that the engine would do as a plain system call (an idle engine:
 * ioe_choose_path()) is the real function's call, once. Otherwise others
 * are queued, and a buffered read first tries RWF_NOWAIT in the caller's
 * thread (the fast path): only what would block is routed, remainder of a
 * partial read included.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"
#include "fdcache.h"

#define SHIM_API __attribute__((visibility("default")))

/*
 * The rest of a vector after a partial read is copied to the stack, this
 * many entries at a time (more are read piece by piece): no allocation,
 * as pread() makes none (a signal handler may call it), and a bounded frame.
 */
#define IOV_STACK 16
/* Non-blocking attempts on a read before the rest is routed. */
#define FAST_TRIES 4

/*
 * The tests' fault-injecting shim (engine/src/fault.h) has the engine's
 * plain runner make a plain-path read, so that IOENGINE_FAULT's faults
 * reach it; the shim a user loads makes the real call.
 */
#ifdef IOENGINE_FAULT_INJECTION
#define PLAIN_READ_BY_ENGINE true
#else
#define PLAIN_READ_BY_ENGINE false
#endif

enum rw_fn { FN_PREAD, FN_PWRITE, FN_PREADV, FN_PWRITEV, FN_PREADV2, FN_PWRITEV2 };

/* One call as the program made it, so that the real function can redo it. */
struct rw_call {
	enum rw_fn fn;
	int fd;
	void *buf;			/* FN_PREAD, FN_PWRITE */
	size_t len;
	const struct iovec *iov;	/* the v variants */
	int iovcnt;
	off_t off;
	int flags;			/* the v2 variants */
};

static bool is_vec(const struct rw_call *c)
{
	return c->fn != FN_PREAD && c->fn != FN_PWRITE;
}

static bool is_write(const struct rw_call *c)
{
	return c->fn == FN_PWRITE || c->fn == FN_PWRITEV || c->fn == FN_PWRITEV2;
}

#define LO(off) ((long)(off))
#define HI(off) ((long)((uint64_t)(off) >> 32))

/* The real function; the raw syscall while dlsym() has not answered yet. */
static ssize_t real_call(const struct rw_call *c)
{
	shim_resolve();
	switch (c->fn) {
	case FN_PREAD:
		if (shim_real.pread)
			return shim_real.pread(c->fd, c->buf, c->len, c->off);
		return syscall(SYS_pread64, c->fd, c->buf, c->len, c->off);
	case FN_PWRITE:
		if (shim_real.pwrite)
			return shim_real.pwrite(c->fd, c->buf, c->len, c->off);
		return syscall(SYS_pwrite64, c->fd, c->buf, c->len, c->off);
	case FN_PREADV:
		if (shim_real.preadv)
			return shim_real.preadv(c->fd, c->iov, c->iovcnt, c->off);
		return syscall(SYS_preadv, c->fd, c->iov, c->iovcnt, LO(c->off), HI(c->off));
	case FN_PWRITEV:
		if (shim_real.pwritev)
			return shim_real.pwritev(c->fd, c->iov, c->iovcnt, c->off);
		return syscall(SYS_pwritev, c->fd, c->iov, c->iovcnt, LO(c->off), HI(c->off));
	case FN_PREADV2:
		if (shim_real.preadv2)
			return shim_real.preadv2(c->fd, c->iov, c->iovcnt, c->off, c->flags);
		return syscall(SYS_preadv2, c->fd, c->iov, c->iovcnt, LO(c->off), HI(c->off), c->flags);
	case FN_PWRITEV2:
		if (shim_real.pwritev2)
			return shim_real.pwritev2(c->fd, c->iov, c->iovcnt, c->off, c->flags);
		return syscall(SYS_pwritev2, c->fd, c->iov, c->iovcnt, LO(c->off), HI(c->off), c->flags);
	}
	errno = ENOSYS;
	return -1;
}

static ssize_t fallback(const struct rw_call *c, enum shim_fallback_reason why)
{
	shim_stats_fallback(why);
	return real_call(c);
}

/* Non-blocking read in the caller's thread: the real preadv2 (a cancellation point, as pread is). */
static ssize_t nowait_read(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	if (shim_real.preadv2)
		return shim_real.preadv2(fd, iov, iovcnt, off, RWF_NOWAIT);
	return syscall(SYS_preadv2, fd, iov, iovcnt, LO(off), HI(off), RWF_NOWAIT);
}

/*
 * Whether the shim may take the call, as far as can be told without reading
 * its vector (the kernel reads it first, wherever the call goes: a bad one
 * is its EFAULT): not for count 0, a negative offset (preadv2 would even
 * take -1 as "current position"), iovcnt out of range or a NULL vector.
 */
static bool plausible(const struct rw_call *c)
{
	if (c->off < 0)
		return false;
	if (!is_vec(c))
		return c->len && c->len <= SSIZE_MAX;
	return c->iovcnt > 0 && c->iovcnt <= IOV_MAX && c->iov;
}

/*
 * Bytes a plausible call asks for, its vector read by the kernel already; or
 * -1 when the real function must decide: a total of 0, or one the kernel
 * refuses (EINVAL).
 */
static ssize_t total(const struct rw_call *c)
{
	size_t n = 0;

	if (!is_vec(c))
		return (ssize_t)c->len;
	for (int i = 0; i < c->iovcnt; i++) {
		if (c->iov[i].iov_len > SSIZE_MAX - n)
			return -1;
		n += c->iov[i].iov_len;
	}
	return n ? (ssize_t)n : -1;
}

/*
 * The next piece of the call after `done` bytes, as an event's buffer or
 * vector: all of the rest, or (a vector's) its next IOV_STACK entries.
 */
struct rest {
	struct iovec small[IOV_STACK];
	struct iovec *iov;		/* NULL for non-vectored */
	int iovcnt;
	size_t bytes;			/* in this piece; counted only when done > 0 */
	bool more;			/* the rest goes on after this piece */
};

static void rest_init(struct rest *r, const struct rw_call *c, size_t done)
{
	int i;

	r->iov = NULL;
	r->more = false;
	r->bytes = c->len - done;
	if (!is_vec(c))
		return;
	if (!done) {
		/* The program's own, not read here: the kernel reads it first (see plausible()). */
		r->iov = (struct iovec *)c->iov;
		r->iovcnt = c->iovcnt;
		return;
	}
	i = ioe_iov_skip(c->iov, c->iovcnt, &done);
	r->iovcnt = c->iovcnt - i;
	if (r->iovcnt > IOV_STACK) {
		r->iovcnt = IOV_STACK;
		r->more = true;
	}
	r->iov = r->small;
	memcpy(r->iov, c->iov + i, sizeof(*r->iov) * (size_t)r->iovcnt);
	ioe_iov_trim(&r->iov[0], done);
	r->bytes = 0;
	for (int k = 0; k < r->iovcnt; k++)
		r->bytes += r->iov[k].iov_len;
}

/*
 * Route the plausible call from byte `done` on; fde: its fd's cache entry
 * (shim_fd_route_entry(), looked up once per call). Returns the call's
 * result: done plus what the engine moved; or, when the engine cannot take
 * it or it failed with nothing done, what the real function says. seen:
 * the fast path's preadv2() has just read from the fd or said EAGAIN
 * (IOE_F_FD_SEEN).
 */
static ssize_t route(const struct rw_call *c, uint32_t fde, size_t done, bool seen, int saved_errno)
{
	struct ioe_context *ctx;
	struct ioe_event ev;
	struct rest r;
	enum ioe_path path;
	enum shim_fallback_reason why = SHIM_FB_FD;
	uint64_t t0 = 0;
	size_t routed;
	ssize_t res;

	if (!(fde & SHIM_FDC_ROUTABLE))
		goto real;
	why = SHIM_FB_NO_ENGINE;
	ctx = shim_engine();
	if (!ctx)
		goto real;
	if (shim_stats_on) {
		shim_stats_queue_depth(ioe_pending(ctx) + ioe_running(ctx) + 1);
		t0 = shim_now_ns();
	}
	routed = done;
	/* One piece, unless a read's rest is a long vector (see IOV_STACK): a short piece is its end. */
	for (;;) {
		rest_init(&r, c, done);
		if (is_vec(c)) {
			if (is_write(c))
				ioe_prep_writev(&ev, c->fd, r.iov, r.iovcnt, c->off + (off_t)done);
			else
				ioe_prep_readv(&ev, c->fd, r.iov, r.iovcnt, c->off + (off_t)done);
		} else {
			if (is_write(c))
				ioe_prep_write(&ev, c->fd, (char *)c->buf + done, c->len - done, c->off + (off_t)done);
			else
				ioe_prep_read(&ev, c->fd, (char *)c->buf + done, c->len - done, c->off + (off_t)done);
		}
		/* What one call of the real function returns: see the top. */
		ev.flags = IOE_F_ONE_CALL | (seen ? IOE_F_FD_SEEN : 0);
		res = shim_sync_submit(ctx, &ev, is_write(c) ? IOE_CHAN_WRITE : IOE_CHAN_READ, &path);
		if (res < 0 || !r.more || (size_t)res < r.bytes)
			break;
		done += (size_t)res;
	}
	if ((res == -EIO || res == -EFBIG) && !done) {
		/*
		 * A device error is the answer, not a phrasing to redo: a retry
		 * could hide it. EFBIG too: the engine wrote in this thread (see
		 * ioe_submit_wait()), which has had its SIGXFSZ; a retry would
		 * raise another.
		 */
		errno = (int)-res;
		return -1;
	}
	why = SHIM_FB_REDONE;
	if (res < 0)
		goto real;
	if (shim_stats_on)
		shim_stats_routed(is_write(c) ? SHIM_STAT_WRITE : SHIM_STAT_READ, path, done - routed + (size_t)res,
				  shim_now_ns() - t0);
	errno = saved_errno;
	return (ssize_t)done + res;
real:
	/* The program's errno, not what the fast path or a check left: the real call sets its own. */
	errno = saved_errno;
	/* Bytes already moved win over a later failure, as in pread(). */
	if (done)
		return (ssize_t)done;
	return fallback(c, why);
}

/*
 * The fast path, for a plausible call. Returns true with *res set when the
 * call is answered; false with *done set to what was read so far when the
 * rest must be routed (*seen: the fd took the positioned read, see route();
 * *fde: the fd's entry, looked at again after an error).
 */
static bool fast_read(const struct rw_call *c, uint32_t *fde, size_t *done, bool *seen, ssize_t *res,
		      int saved_errno)
{
	struct iovec one = { c->buf, c->len };
	ssize_t n, want = -1;
	struct rest r;
	size_t size;

	n = nowait_read(c->fd, is_vec(c) ? c->iov : &one, is_vec(c) ? c->iovcnt : 1, c->off);
	/* Bytes, EAGAIN or EOPNOTSUPP: the kernel has read the vector, so the shim may too. */
	if (n >= 0 || errno == EAGAIN || errno == EOPNOTSUPP) {
		want = total(c);
		if (want < 0) {
			*res = real_call(c);
			return true;
		}
	}
	*seen = n >= 0 || errno == EAGAIN;
	if (n < 0) {
		/*
		 * EAGAIN is the point. Any other error is for the routed path to
		 * phrase, after a fresh look at the fd: it may have been reused.
		 * EOPNOTSUPP on a file means its filesystem has no RWF_NOWAIT.
		 */
		if (errno != EAGAIN && ((*fde = shim_fd_refresh(c->fd, -1)) & SHIM_FDC_ROUTABLE) &&
		    errno == EOPNOTSUPP)
			shim_fd_nowait_bad(c->fd);
		return false;
	}
	size = (size_t)want;
	*done = (size_t)n;
	for (int tries = 1; *done < size && n > 0 && tries < FAST_TRIES; tries++) {
		/* Short: end of file, or the rest is not cached. One more look tells. */
		rest_init(&r, c, *done);
		if (r.iov)
			n = nowait_read(c->fd, r.iov, r.iovcnt, c->off + (off_t)*done);
		else
			n = nowait_read(c->fd, &(struct iovec){ (char *)c->buf + *done, size - *done }, 1,
					c->off + (off_t)*done);
		if (n > 0)
			*done += (size_t)n;
	}
	if (*done < size && n != 0) {
		/* Not at EOF: the rest would block. */
		if (shim_stats_on)
			shim_stats_fastpath(*done, false);
		errno = saved_errno;
		return false;
	}
	if (shim_stats_on)
		shim_stats_fastpath(*done, true);
	errno = saved_errno;
	*res = (ssize_t)*done;
	return true;
}

/*
 * A read that the engine would run on its plain path (ioe_choose_path()):
 * the program's own call, the real function, once. Counted, when it
 * succeeds, as a routed read on the plain path: it ran where the engine
 * would have run it. Its result, an error included, is the real call's own.
 */
static ssize_t plain_read(const struct rw_call *c)
{
	uint64_t t0;
	ssize_t res;

	if (!shim_stats_on)
		return real_call(c);
	shim_stats_queue_depth(1);
	t0 = shim_now_ns();
	res = real_call(c);
	if (res >= 0)
		shim_stats_routed(SHIM_STAT_READ, IOE_PATH_PLAIN, (size_t)res, shim_now_ns() - t0);
	return res;
}

/*
 * The engine decides where a read runs (ioe_choose_path()): on its plain
 * path the read is the real call straight away; on the shared path others
 * are queued, and the fast path answers a cached read without queueing
 * behind them; what it cannot answer is routed.
 */
static ssize_t do_read(const struct rw_call *c)
{
	struct ioe_context *ctx;
	int saved = errno;
	bool seen = false;
	size_t done = 0;
	uint32_t fde;
	ssize_t res;

	if (!__atomic_load_n(&shim_initialised, __ATOMIC_ACQUIRE) || !plausible(c) ||
	    !(shim_sandbox_mask() & SHIM_SB_CORE))
		return real_call(c);
	fde = shim_fd_route_entry(c->fd);
	if ((fde & SHIM_FDC_ROUTABLE) && (ctx = shim_engine()) && ioe_choose_path(ctx, true) == IOE_PATH_PLAIN)
		return PLAIN_READ_BY_ENGINE ? route(c, fde, 0, false, saved) : plain_read(c);
	if (shim_cfg.fastpath && shim_fd_fast_ok(fde) && fast_read(c, &fde, &done, &seen, &res, saved))
		return res;
	return route(c, fde, done, seen, saved);
}

static ssize_t do_write(const struct rw_call *c)
{
	if (!__atomic_load_n(&shim_initialised, __ATOMIC_ACQUIRE) || !plausible(c) ||
	    !(shim_sandbox_mask() & SHIM_SB_CORE))
		return real_call(c);
	return route(c, shim_fd_route_entry(c->fd), 0, false, errno);
}

SHIM_API ssize_t pread(int fd, void *buf, size_t count, off_t offset)
{
	struct rw_call c = { .fn = FN_PREAD, .fd = fd, .buf = buf, .len = count, .off = offset };

	return do_read(&c);
}

SHIM_API ssize_t pread64(int fd, void *buf, size_t count, off64_t offset)
{
	struct rw_call c = { .fn = FN_PREAD, .fd = fd, .buf = buf, .len = count, .off = offset };

	return do_read(&c);
}

SHIM_API ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	struct rw_call c = { .fn = FN_PWRITE, .fd = fd, .buf = (void *)buf, .len = count, .off = offset };

	return do_write(&c);
}

SHIM_API ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset)
{
	struct rw_call c = { .fn = FN_PWRITE, .fd = fd, .buf = (void *)buf, .len = count, .off = offset };

	return do_write(&c);
}

SHIM_API ssize_t preadv(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	struct rw_call c = { .fn = FN_PREADV, .fd = fd, .iov = iov, .iovcnt = iovcnt, .off = offset };

	return do_read(&c);
}

SHIM_API ssize_t preadv64(int fd, const struct iovec *iov, int iovcnt, off64_t offset)
{
	struct rw_call c = { .fn = FN_PREADV, .fd = fd, .iov = iov, .iovcnt = iovcnt, .off = offset };

	return do_read(&c);
}

SHIM_API ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	struct rw_call c = { .fn = FN_PWRITEV, .fd = fd, .iov = iov, .iovcnt = iovcnt, .off = offset };

	return do_write(&c);
}

SHIM_API ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t offset)
{
	struct rw_call c = { .fn = FN_PWRITEV, .fd = fd, .iov = iov, .iovcnt = iovcnt, .off = offset };

	return do_write(&c);
}

/* Flags change the call's meaning (RWF_APPEND, RWF_NOWAIT, RWF_DSYNC, ...): only 0 is routed. */
SHIM_API ssize_t preadv2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags)
{
	struct rw_call c = { .fn = FN_PREADV2, .fd = fd, .iov = iov, .iovcnt = iovcnt, .off = offset,
			     .flags = flags };

	return flags ? real_call(&c) : do_read(&c);
}

SHIM_API ssize_t preadv64v2(int fd, const struct iovec *iov, int iovcnt, off64_t offset, int flags)
{
	return preadv2(fd, iov, iovcnt, offset, flags);
}

SHIM_API ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags)
{
	struct rw_call c = { .fn = FN_PWRITEV2, .fd = fd, .iov = iov, .iovcnt = iovcnt, .off = offset,
			     .flags = flags };

	return flags ? real_call(&c) : do_write(&c);
}

SHIM_API ssize_t pwritev64v2(int fd, const struct iovec *iov, int iovcnt, off64_t offset, int flags)
{
	return pwritev2(fd, iov, iovcnt, offset, flags);
}

/*
 * _FORTIFY_SOURCE: where the compiler knows the buffer's size but not the
 * count, a program's pread() is a call to one of these (glibc's
 * debug/pread_chk.c). The same check as glibc's first, a count larger than
 * the buffer ends the program in __chk_fail() ("*** buffer overflow
 * detected ***: terminated", SIGABRT), then the call is a pread.
 */
extern void __chk_fail(void) __attribute__((noreturn));

SHIM_API ssize_t __pread_chk(int fd, void *buf, size_t nbytes, off_t offset, size_t buflen)
{
	struct rw_call c = { .fn = FN_PREAD, .fd = fd, .buf = buf, .len = nbytes, .off = offset };

	if (nbytes > buflen)
		__chk_fail();
	return do_read(&c);
}

SHIM_API ssize_t __pread64_chk(int fd, void *buf, size_t nbytes, off64_t offset, size_t buflen)
{
	struct rw_call c = { .fn = FN_PREAD, .fd = fd, .buf = buf, .len = nbytes, .off = offset };

	if (nbytes > buflen)
		__chk_fail();
	return do_read(&c);
}
