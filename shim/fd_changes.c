/* SPDX-License-Identifier: MIT */
/*
 * The calls that change what an fd number stands for, interposed so that
 * the fd cache (fdcache.h) forgets the fd at once: close(), dup2(), dup3(),
 * close_range(), closefrom(), and fcntl() (F_SETFL may set or clear
 * O_DIRECT; F_DUPFD gives a number that may have a stale entry). Each does
 * the real call first and forgets after it, so that no entry made before
 * the change outlives it. What bypasses these (a raw system call, libc's
 * own closes inside fclose() or posix_spawn()) is caught by the cache's
 * periodic look, and never changes a result meanwhile (fdcache.h).
 *
 * errno is the real call's; forgetting is a store, no system call.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"
#include "fdcache.h"

#define SHIM_API __attribute__((visibility("default")))

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* The real call's result, after the fd numbers it changed are forgotten. */
static int forget_new(int fd, int ret)
{
	if (ret >= 0)
		shim_fd_forget(fd);
	return ret;
}

SHIM_API int close(int fd)
{
	int ret;

	shim_resolve();
	ret = shim_real.close ? shim_real.close(fd) : (int)ioe_raw_errno(IOE_RAW(SYS_close, fd, 0, 0, 0, 0, 0));
	/* Whatever it returned: after EINTR or EIO the number is free all the same. */
	shim_fd_forget(fd);
	return ret;
}

/* dup2() by system calls: dup3() refuses oldfd == newfd, which dup2() checks and returns. */
static int raw_dup2(int oldfd, int newfd)
{
	if (oldfd == newfd)
		return ioe_raw_errno(IOE_RAW(SYS_fcntl, oldfd, F_GETFD, 0, 0, 0, 0)) < 0 ? -1 : newfd;
	return (int)ioe_raw_errno(IOE_RAW(SYS_dup3, oldfd, newfd, 0, 0, 0, 0));
}

SHIM_API int dup2(int oldfd, int newfd)
{
	shim_resolve();
	return forget_new(newfd, shim_real.dup2 ? shim_real.dup2(oldfd, newfd) : raw_dup2(oldfd, newfd));
}

SHIM_API int dup3(int oldfd, int newfd, int flags)
{
	shim_resolve();
	return forget_new(newfd, shim_real.dup3 ? shim_real.dup3(oldfd, newfd, flags) :
						  (int)ioe_raw_errno(IOE_RAW(SYS_dup3, oldfd, newfd, flags, 0, 0, 0)));
}

SHIM_API int close_range(unsigned int first, unsigned int last, int flags)
{
	int ret;

	shim_resolve();
	ret = shim_real.close_range ? shim_real.close_range(first, last, flags) :
				      (int)ioe_raw_errno(IOE_RAW(SYS_close_range, first, last, flags, 0, 0, 0));
	/* CLOEXEC only marks them: each still stands for what it did. */
	if (!ret && !(flags & CLOSE_RANGE_CLOEXEC))
		shim_fd_forget_range(first, last);
	return ret;
}

SHIM_API void closefrom(int lowfd)
{
	shim_resolve();
	if (shim_real.closefrom)
		shim_real.closefrom(lowfd);
	else
		ioe_raw_errno(IOE_RAW(SYS_close_range, (unsigned int)lowfd, ~0U, 0, 0, 0, 0));
	if (lowfd >= 0)
		shim_fd_forget_range((unsigned int)lowfd, ~0U);
}

static int fcntl_forget(int fd, int cmd, int ret)
{
	if (cmd == F_SETFL)
		return forget_new(fd, ret);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		return forget_new(ret, ret);
	return ret;
}

/*
 * fcntl() and fcntl64() (the name a program built with 64-bit file offsets
 * calls): the third argument passed on as glibc reads it, one word whatever
 * cmd is.
 */
#define INTERPOSE_FCNTL(name)									\
SHIM_API int name(int fd, int cmd, ...)								\
{												\
	va_list ap;										\
	void *arg;										\
												\
	va_start(ap, cmd);									\
	arg = va_arg(ap, void *);								\
	va_end(ap);										\
	shim_resolve();										\
	return fcntl_forget(fd, cmd, shim_real.name ? shim_real.name(fd, cmd, arg) :		\
						   (int)ioe_raw_errno(IOE_RAW(SYS_fcntl, fd, cmd, arg, 0, 0, 0)));	\
}

INTERPOSE_FCNTL(fcntl)
INTERPOSE_FCNTL(fcntl64)
