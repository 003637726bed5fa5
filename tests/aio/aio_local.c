/* SPDX-License-Identifier: MIT */
/*
 * Which thread hands a program's O_DIRECT aio requests to the kernel.
 * aio_local DIR BACKEND: O_DIRECT aio_read()s of one file kept DEPTH deep,
 * as fio's posixaio engine keeps them: wait with aio_suspend() over all in
 * flight, check each one done, read the next block in its place. Under the
 * shim on io_uring a thread that waits for many submits its O_DIRECT
 * requests itself (held back for its aio_suspend()), so the engine's
 * submitter thread stays asleep: it must sleep fewer times than once per
 * 3 * DEPTH reads (seen: 8-64 times in 4000 reads; queued instead, it
 * wakes about once per aio_suspend(): 422-852 times).
 * On AIO the requests are queued; only the data is checked.
 */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "task_file.h"

#define BS 4096
#define DEPTH 8
#define READS 4000

static int fail(const char *what)
{
	fprintf(stderr, "aio_local: %s: %s\n", what, strerror(errno));
	return 1;
}

/* Read block n % 64 (whose bytes are all n % 64) into slot i. */
static int start(struct aiocb *cb, int fd, unsigned char *buf, int n)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_fildes = fd;
	cb->aio_buf = buf;
	cb->aio_nbytes = BS;
	cb->aio_offset = (off_t)(n % 64) * BS;
	return aio_read(cb) ? fail("aio_read") : 0;
}

/* reads requests, DEPTH in flight; returns 0 when all were right. */
static int stream(int fd, unsigned char *buf, int reads)
{
	struct aiocb cbs[DEPTH];
	const struct aiocb *list[DEPTH];
	int block[DEPTH], next = 0, done = 0;

	for (int i = 0; i < DEPTH; i++) {
		block[i] = next;
		list[i] = &cbs[i];
		if (start(&cbs[i], fd, buf + i * BS, next++))
			return 1;
	}
	while (done < reads) {
		if (aio_suspend(list, DEPTH, NULL) && errno != EINTR)
			return fail("aio_suspend");
		for (int i = 0; i < DEPTH; i++) {
			unsigned char want = (unsigned char)(block[i] % 64);
			unsigned char *p = buf + i * BS;

			if (!list[i] || aio_error(&cbs[i]) == EINPROGRESS)
				continue;
			if (aio_return(&cbs[i]) != BS)
				return fail("short read");
			if (p[0] != want || p[BS - 1] != want)
				return fail("wrong data");
			done++;
			list[i] = NULL;
			if (next < reads) {
				block[i] = next;
				list[i] = &cbs[i];
				if (start(&cbs[i], fd, p, next++))
					return 1;
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	char path[4096];
	unsigned char *buf;
	long sleeps;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: aio_local DIR BACKEND\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/aio-local.XXXXXX", argv[1]);
	fd = mkstemp(path);
	if (fd < 0 || posix_memalign((void **)&buf, BS, DEPTH * BS))
		return fail("setup");
	for (int b = 0; b < 64; b++) {
		memset(buf, b, BS);
		if (pwrite(fd, buf, BS, (off_t)b * BS) != BS)
			return fail("pwrite");
	}
	if (fsync(fd))
		return fail("fsync");
	close(fd);
	fd = open(path, O_RDONLY | O_DIRECT);
	unlink(path);
	if (fd < 0 && errno == EINVAL) {
		printf("aio_local: no O_DIRECT here, skipped\n");
		return 0;
	}
	if (fd < 0)
		return fail("open O_DIRECT");
	/* A first stream makes this a thread that waits for many; then the engine settles. */
	if (stream(fd, buf, DEPTH))
		return 1;
	usleep(100000);
	sleeps = threads_sleeps("ioe-submit");
	if (stream(fd, buf, READS))
		return 1;
	sleeps = threads_sleeps("ioe-submit") - sleeps;
	printf("aio_local: %d O_DIRECT reads %d deep, the submitter slept %ld times\n", READS, DEPTH, sleeps);
	if (!strcmp(argv[2], "uring") && sleeps >= READS / DEPTH / 3) {
		fprintf(stderr, "aio_local: the submitter took this thread's requests\n");
		return 1;
	}
	free(buf);
	close(fd);
	return 0;
}
