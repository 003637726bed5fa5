/* SPDX-License-Identifier: MIT */
/*
 * What the shim needs to know about an fd without a system call per call.
 *
 * Deciding per call costs an fcntl(F_GETFL), a system call that is a large
 * fraction of a 4 KiB page-cache pread itself. So one word per fd caches
 * "regular file or block device (or pipe, or socket), opened with O_DIRECT
 * or not, RWF_NOWAIT supported", re-read from the kernel (fcntl + fstat) every
 * SHIM_FDC_RECHECK uses (fast-path decisions and routed calls).
 *
 * close(), dup2(), dup3(), close_range(), closefrom() and fcntl() forget
 * the fds they change (fd_changes.c). What bypasses them (a raw system
 * call, libc's own closes inside fclose() or posix_spawn(), a close by the
 * program's own io_uring) can leave an entry stale until the next check.
 * That only ever changes where a call runs, never its result:
 * - an fd that became O_DIRECT (or was reused for an O_DIRECT file, or a
 *   device such as /dev/zero) may have up to SHIM_FDC_RECHECK reads done by
 *   RWF_NOWAIT in the caller's thread (same bytes, same errors) before it
 *   is routed again;
 * - an fd reused for a pipe or socket fails the fast path's preadv2()
 *   (ESPIPE: the entry is looked at again), or is refused by the engine
 *   (-ESPIPE, its lseek() check) and the call redone by the real function;
 * - the access mode and O_PATH are the kernel's to check: a routed call it
 *   refuses (-EBADF) is redone by the real function, which says the same;
 * - O_APPEND is applied by the kernel to a write through any interface
 *   (pwrite, io_uring, Linux AIO): at the end of the file, whatever the offset.
 */
#ifndef IOE_SHIM_FDCACHE_H
#define IOE_SHIM_FDCACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SHIM_FDC_VALID		1u
#define SHIM_FDC_ROUTABLE	2u	/* regular file or block device */
#define SHIM_FDC_DIRECT		4u	/* O_DIRECT when last looked at */
#define SHIM_FDC_NOWAIT_BAD	8u	/* RWF_NOWAIT said EOPNOTSUPP */
#define SHIM_FDC_PIPE		16u	/* a pipe or FIFO */
#define SHIM_FDC_SOCKET		32u
#define SHIM_FDC_USE		(1u << 8)	/* uses left, in the upper bits */
#define SHIM_FDC_RECHECK	256u
#define SHIM_FDC_SIZE		65536

extern _Atomic uint32_t shim_fdc[SHIM_FDC_SIZE];

/* Look at the fd again (flags: its F_GETFL, or -1 to fetch it); 0 for a bad fd. */
uint32_t shim_fd_refresh(int fd, int flags);

/* The entry for a fast-path decision; counts one use. */
static inline uint32_t shim_fd_get(int fd)
{
	uint32_t e;

	if ((unsigned int)fd >= SHIM_FDC_SIZE)
		return shim_fd_refresh(fd, -1);
	e = atomic_load_explicit(&shim_fdc[fd], memory_order_relaxed);
	if (!(e & SHIM_FDC_VALID) || e < SHIM_FDC_USE)
		return shim_fd_refresh(fd, -1);
	/* Not an atomic RMW: a lost decrement between threads only delays a check. */
	atomic_store_explicit(&shim_fdc[fd], e - SHIM_FDC_USE, memory_order_relaxed);
	return e;
}

static inline bool shim_fd_fast_ok(uint32_t e)
{
	return (e & (SHIM_FDC_VALID | SHIM_FDC_ROUTABLE | SHIM_FDC_DIRECT | SHIM_FDC_NOWAIT_BAD)) ==
	       (SHIM_FDC_VALID | SHIM_FDC_ROUTABLE);
}

/*
 * The entry for a routed call; counts one use. "Not routable" is looked at
 * again every time: the fd may have been reused for a file, and such calls
 * (pipes, sockets) are rare.
 */
static inline uint32_t shim_fd_route_entry(int fd)
{
	uint32_t e = shim_fd_get(fd);

	return (e & SHIM_FDC_ROUTABLE) ? e : shim_fd_refresh(fd, -1);
}

/*
 * How a read or write of fd at offset goes, as ev->flags: 0 at offset (a
 * file, or what the engine finds out, see below), IOE_F_NO_MERGE at offset
 * on anything else that can seek (a character device), or IOE_F_AT_POSITION
 * when fd reads and writes only at its position (pread() says ESPIPE: a
 * pipe, FIFO, socket or terminal), with IOE_F_STREAM_OFFSET when the
 * kernel may be given offset, which the stream ignores.
 *
 * The answer comes from the entry for a pipe or FIFO, and for a socket at
 * offset 0 (a socket says ESPIPE for any other): no system call. Should
 * the entry be stale (the fd closed behind the cache's back and its number
 * reused), no answer is wrong:
 * - a file where the entry says pipe or socket is read or written at
 *   offset, as pread()/pwrite() would (IOE_F_STREAM_OFFSET), and glibc's
 *   helper does (an O_NONBLOCK one's EAGAIN, which the engine's RWF_NOWAIT
 *   gives and pread() would not, sends the request to glibc); a socket
 *   where it says pipe (offset not 0) says ESPIPE, and the request goes
 *   to glibc, which reads at the position;
 * - a pipe or socket where the entry says file goes at offset: the engine
 *   refuses it (-ESPIPE, its lseek() check) and it goes to glibc;
 * - on Linux AIO every stream request goes to glibc (pread(), then read()
 *   on ESPIPE), whatever the entry says.
 * Any other fd that is not a file (a terminal, a character device) costs
 * one lseek() per request: a terminal would ignore offset, but its
 * number reused for a file would be read at the file's position. An entry
 * that says file where the fd is by now a character device lets its
 * adjacent reads merge until the entry's next look.
 */
unsigned int shim_fd_rw_flags(int fd, int64_t offset);

/* The fd number now stands for something else, or nothing (fd_changes.c): look again at its next use. */
void shim_fd_forget(int fd);
void shim_fd_forget_range(unsigned int first, unsigned int last);

/* RWF_NOWAIT is not supported on this fd (its filesystem): stop trying. */
void shim_fd_nowait_bad(int fd);

#endif
