/* SPDX-License-Identifier: MIT */
/*
 * The engine decides where a synchronous read runs (ioe_choose_path()), and
 * the shim asks it first. On an idle engine a read of a cached page is the
 * program's own call (the plain path); while the engine is busy (its one
 * slot, IOENGINE_DEPTH=1, taken by a POSIX AIO read that a userfaultfd
 * holds in the kernel) the same read is answered by the fast path, without
 * queueing behind it: it returns while that read is still in progress.
 * run_fastpath_busy.sh checks the counts in the stats summary: two reads
 * on the plain path, one fast-path hit, one request through the queue.
 */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fault_hold.h"

#define HELD_LEN (1u << 20)	/* above what the shim's aio_read() does in the caller (64 KiB) */
#define BS 4096

static void die(const char *what)
{
	fprintf(stderr, "fastpath_busy: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void read_page(int fd, char c)
{
	char buf[BS];

	if (pread(fd, buf, BS, 0) != BS)
		die("pread");
	for (int i = 0; i < BS; i++)
		if (buf[i] != c)
			die("pread data");
}

int main(void)
{
	static struct fault_hold hold;
	const char *dir = getenv("IOENGINE_TEST_DIR");
	char path[4096];
	struct aiocb cb;
	const struct aiocb *list[1] = { &cb };
	char *data;
	int fd, faults;

	if (!fault_hold_init(&hold, HELD_LEN)) {
		printf("skipped: no userfaultfd (%s)\n", strerror(errno));
		return 77;
	}
	snprintf(path, sizeof(path), "%s/fastpath_busy.%d", dir ? dir : "/tmp", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	data = malloc(HELD_LEN);
	if (fd < 0 || !data)
		die("open");
	unlink(path);
	memset(data, 'f', HELD_LEN);
	/* Written through the page cache: every page of the file is cached. */
	if (write(fd, data, HELD_LEN) != HELD_LEN)
		die("write");
	free(data);
	/* A read that outlives its bound ends the test: a read queued behind the held one never returns. */
	alarm(60);

	/* Idle: the plain path. */
	read_page(fd, 'f');

	/* Busy: the one slot held by a read in the kernel until released. */
	faults = fault_hold_arm(&hold);
	memset(&cb, 0, sizeof(cb));
	cb.aio_fildes = fd;
	cb.aio_buf = hold.buf;
	cb.aio_nbytes = HELD_LEN;
	if (aio_read(&cb))
		die("aio_read");
	fault_hold_wait(&hold, faults);
	read_page(fd, 'f');
	if (aio_error(&cb) != EINPROGRESS)
		die("the held read is not in progress");

	fault_hold_release(&hold);
	while (aio_error(&cb) == EINPROGRESS)
		if (aio_suspend(list, 1, NULL) && errno != EINTR)
			die("aio_suspend");
	if (aio_return(&cb) != HELD_LEN)
		die("aio_return");

	/* Idle again: the plain path. */
	read_page(fd, 'f');
	printf("ok\n");
	return 0;
}
