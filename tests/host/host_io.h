/* SPDX-License-Identifier: MIT */
/*
 * The IO a hostile-host case does where it wants to see the shim at work:
 * pread, pwrite and one POSIX AIO read (aio_read + aio_suspend) on a file
 * whose every byte is known, each shown as one line.
 */
#ifndef IOE_HOST_IO_H
#define IOE_HOST_IO_H

#include <aio.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>
#include "host.h"

#define HOST_IO_SIZE (64 * 1024)
#define HOST_IO_BS 4096

static inline char host_io_byte(off_t off)
{
	return (char)(off * 7 + 3);
}

static inline bool host_io_same(const char *buf, size_t len, off_t off)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != host_io_byte(off + (off_t)i))
			return false;
	return true;
}

/* Create path with HOST_IO_SIZE known bytes (plain write(): not routed); an O_RDWR fd. */
static inline int host_io_file(const char *path)
{
	static char b[HOST_IO_SIZE];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		HOST_DIE("open %s", path);
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = host_io_byte((off_t)i);
	if (write(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
		HOST_DIE("write %s", path);
	return fd;
}

/* errno before each call of host_io_*(): a call that succeeds leaves it so. */
#define HOST_IO_ERRNO 4242

/* Show one result as "WHO WHAT: ..." (see host_show()), and errno if a success changed it. */
static inline void host_io_show(const char *who, const char *what, long ret)
{
	char name[160];
	int e = errno;

	snprintf(name, sizeof(name), "%s %s", who, what);
	host_show(name, ret);
	if (ret != -1 && e != HOST_IO_ERRNO)
		printf("%s %s: succeeded but set errno to %s\n", who, what, strerrorname_np(e) ?: "?");
	errno = HOST_IO_ERRNO;
}

/*
 * pread, pwrite (the same bytes back, so that any number of processes may
 * do it at once), aio_read waited for with aio_suspend. buf: HOST_IO_BS
 * bytes of the caller's (a thread's own, or static).
 */
static inline void host_io_buf(const char *who, int fd, char *buf)
{
	struct aiocb cb;
	const struct aiocb *l[1] = { &cb };
	ssize_t n;
	int e;

	memset(buf, 0, HOST_IO_BS);
	errno = HOST_IO_ERRNO;
	n = pread(fd, buf, HOST_IO_BS, 4096);
	host_io_show(who, "pread", n);
	host_io_show(who, "pread data same", n == HOST_IO_BS && host_io_same(buf, HOST_IO_BS, 4096));
	for (int i = 0; i < HOST_IO_BS; i++)
		buf[i] = host_io_byte(8192 + i);
	host_io_show(who, "pwrite", pwrite(fd, buf, HOST_IO_BS, 8192));
	memset(buf, 0, HOST_IO_BS);
	memset(&cb, 0, sizeof(cb));
	cb.aio_fildes = fd;
	cb.aio_buf = buf;
	cb.aio_nbytes = HOST_IO_BS;
	cb.aio_offset = 12288;
	cb.aio_sigevent.sigev_notify = SIGEV_NONE;
	host_io_show(who, "aio_read", aio_read(&cb));
	while ((e = aio_error(&cb)) == EINPROGRESS)
		if (aio_suspend(l, 1, NULL) && errno != EINTR)
			HOST_DIE("aio_suspend");
	printf("%s aio_error: %s\n", who, e ? strerrorname_np(e) : "0");
	errno = HOST_IO_ERRNO;
	n = aio_return(&cb);
	host_io_show(who, "aio_return", n);
	host_io_show(who, "aio data same", n == HOST_IO_BS && host_io_same(buf, HOST_IO_BS, 12288));
}

static inline void host_io(const char *who, int fd)
{
	static char buf[HOST_IO_BS] __attribute__((aligned(4096)));

	host_io_buf(who, fd, buf);
}

/* A pread of fd's bytes after they left the page cache (RWF_NOWAIT: EAGAIN). */
static inline void host_io_uncached(const char *who, int fd)
{
	static char buf[HOST_IO_BS] __attribute__((aligned(4096)));
	ssize_t n;

	if (fdatasync(fd) || (errno = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)))
		HOST_DIE("dropping the page cache");
	errno = HOST_IO_ERRNO;
	n = pread(fd, buf, HOST_IO_BS, 4096);
	host_io_show(who, "uncached pread", n);
	host_io_show(who, "uncached pread data same", n == HOST_IO_BS && host_io_same(buf, HOST_IO_BS, 4096));
}

/* An O_DIRECT pread of fd (opened so by the caller); "-1 EINVAL" where the file system has none. */
static inline void host_io_direct(const char *who, int fd)
{
	static char buf[HOST_IO_BS] __attribute__((aligned(4096)));
	ssize_t n;

	errno = HOST_IO_ERRNO;
	n = pread(fd, buf, HOST_IO_BS, 4096);
	host_io_show(who, "O_DIRECT pread", n);
	host_io_show(who, "O_DIRECT pread data same", n == HOST_IO_BS && host_io_same(buf, HOST_IO_BS, 4096));
}

#endif
