/* SPDX-License-Identifier: MIT */
/*
 * What the POSIX AIO test programs share: their transcript's output and
 * fatal-error lines, and a request prepared and waited for.
 */
#ifndef IOE_TEST_AIO_UTIL_H
#define IOE_TEST_AIO_UTIL_H

#include <aio.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A line of the transcript, flushed at once (a child's or a crash's lines keep their order). */
#define OUT(...) do { printf(__VA_ARGS__); putchar('\n'); fflush(stdout); } while (0)
/* A line that ends the transcript where the caller stands, and the program with status 1. */
#define DIE(...) do { printf("FATAL %s:%d: ", __FILE__, __LINE__); OUT(__VA_ARGS__); exit(1); } while (0)

/* cb: n bytes at off of fd into or from buf, with no notification. */
static inline void prep(struct aiocb *cb, int fd, void *buf, size_t n, off_t off)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_fildes = fd;
	cb->aio_buf = buf;
	cb->aio_nbytes = n;
	cb->aio_offset = off;
	cb->aio_sigevent.sigev_notify = SIGEV_NONE;
}

/* Wait for cb with aio_suspend() (10 s at most, then DIE); returns its aio_error(). */
static inline int wait_one(struct aiocb *cb)
{
	const struct aiocb *l[1] = { cb };
	struct timespec ts = { 10, 0 };

	while (aio_error(cb) == EINPROGRESS)
		if (aio_suspend(l, 1, &ts) && errno == EAGAIN)
			DIE("request did not complete in 10 s");
	return aio_error(cb);
}

#endif
