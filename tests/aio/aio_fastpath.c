/* SPDX-License-Identifier: MIT */
/*
 * Which buffered aio_read()s the shim answers in the caller's thread (the
 * fast path), read off its stats summary by run_fastpath.sh:
 *   aio_fastpath alone FILE    200 reads, each waited for alone in
 *                              aio_suspend(): after the first, fast;
 *   aio_fastpath backlog FILE  a 1 MiB read of /dev/zero into a buffer
 *                              whose page faults a userfaultfd holds keeps
 *                              the engine busy while 40 reads of FILE are
 *                              queued without a wait: once 8 requests wait,
 *                              the rest are fast (exit 77: no userfaultfd);
 *   aio_fastpath large FILE    20 reads of all 160 KiB, each waited for
 *                              alone: none fast (above 64 KiB a read
 *                              is routed, so aio_read() never takes long).
 * FILE is written and read first with plain system calls (not the shim's
 * pread, whose own fast path would count), so that its pages are cached.
 * Every read is checked.
 */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "fault_hold.h"

#define BS 4096
#define HELD_LEN (1u << 20)	/* above what aio_read() does in the caller (64 KiB) */
#define NBACKLOG 40

static int fail(const char *what)
{
	fprintf(stderr, "aio_fastpath: %s: %s\n", what, strerror(errno));
	return 1;
}

static int wait_one(struct aiocb *cb)
{
	const struct aiocb *list[1] = { cb };
	unsigned char *p = (unsigned char *)cb->aio_buf;
	off_t off = cb->aio_offset;

	while (aio_error(cb) == EINPROGRESS)
		if (aio_suspend(list, 1, NULL) && errno != EINTR)
			return fail("aio_suspend");
	if (aio_return(cb) != BS)
		return fail("short read");
	if (p[0] != (unsigned char)(off / BS) || p[BS - 1] != (unsigned char)(off / BS))
		return fail("wrong data");
	return 0;
}

int main(int argc, char **argv)
{
	static unsigned char bufs[NBACKLOG][BS], block[BS];
	static struct fault_hold hold;
	struct aiocb cbs[NBACKLOG], zero;
	int fd, zero_fd, i;

	if (argc != 3 || (strcmp(argv[1], "alone") && strcmp(argv[1], "backlog") && strcmp(argv[1], "large"))) {
		fprintf(stderr, "usage: aio_fastpath alone|backlog|large FILE\n");
		return 2;
	}
	fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return fail("open");
	for (i = 0; i < NBACKLOG; i++) {
		memset(block, i, BS);
		if (syscall(SYS_pwrite64, fd, block, BS, (off_t)i * BS) != BS)
			return fail("pwrite");
	}
	/* Clean pages: an RWF_NOWAIT read of a page under writeback may say EAGAIN. */
	if (syscall(SYS_fdatasync, fd))
		return fail("fdatasync");
	for (i = 0; i < NBACKLOG; i++)
		if (syscall(SYS_pread64, fd, block, BS, (off_t)i * BS) != BS)
			return fail("pread");

	memset(cbs, 0, sizeof(cbs));
	for (i = 0; i < NBACKLOG; i++) {
		cbs[i].aio_fildes = fd;
		cbs[i].aio_buf = bufs[i];
		cbs[i].aio_nbytes = BS;
		cbs[i].aio_offset = (off_t)i * BS;
	}
	if (!strcmp(argv[1], "alone")) {
		for (i = 0; i < 200; i++) {
			struct aiocb *cb = &cbs[i % NBACKLOG];

			if (aio_read(cb))
				return fail("aio_read");
			if (wait_one(cb))
				return 1;
		}
		return 0;
	}
	if (!strcmp(argv[1], "large")) {
		cbs[0].aio_buf = bufs;
		cbs[0].aio_nbytes = sizeof(bufs);
		for (i = 0; i < 20; i++) {
			const struct aiocb *list[1] = { &cbs[0] };

			memset(bufs, 0xff, sizeof(bufs));
			if (aio_read(&cbs[0]))
				return fail("aio_read");
			while (aio_error(&cbs[0]) == EINPROGRESS)
				if (aio_suspend(list, 1, NULL) && errno != EINTR)
					return fail("aio_suspend");
			if (aio_return(&cbs[0]) != (ssize_t)sizeof(bufs))
				return fail("short read");
			for (int b = 0; b < NBACKLOG; b++)
				if (bufs[b][0] != b || bufs[b][BS - 1] != b)
					return fail("wrong data");
		}
		return 0;
	}

	if (!fault_hold_init(&hold, HELD_LEN)) {
		printf("skipped: no userfaultfd (%s)\n", strerror(errno));
		return 77;
	}
	zero_fd = open("/dev/zero", O_RDONLY);
	if (zero_fd < 0)
		return fail("/dev/zero");
	if (fault_hold_aio_read(&hold, &zero, zero_fd, HELD_LEN))
		return fail("aio_read /dev/zero");
	for (i = 0; i < NBACKLOG; i++)
		if (aio_read(&cbs[i]))
			return fail("aio_read");
	if (aio_error(&zero) != EINPROGRESS)
		return fail("the held read is not in progress");
	fault_hold_release(&hold);
	for (i = 0; i < NBACKLOG; i++)
		if (wait_one(&cbs[i]))
			return 1;
	while (aio_error(&zero) == EINPROGRESS)
		usleep(1000);
	if (aio_return(&zero) != HELD_LEN)
		return fail("/dev/zero read");
	return 0;
}
