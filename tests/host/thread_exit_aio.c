/* SPDX-License-Identifier: MIT */
/*
 * A thread submits POSIX AIO requests and exits (pthread_exit) while they
 * are in flight; the main thread then waits for them with aio_suspend and
 * takes their results. The thread first waits for one request itself, so
 * that the shim treats it as a thread that waits for its own requests
 * (which may hold them back for its next aio_suspend(): there is none).
 * With the argument "direct" the file is read and written with O_DIRECT.
 */
#include <pthread.h>
#include "host_io.h"

#define N 32

static struct aiocb cbs[N];
static char bufs[N][HOST_IO_BS] __attribute__((aligned(4096)));
static int fd;

static void prep(struct aiocb *cb, int i, int write)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_fildes = fd;
	cb->aio_buf = bufs[i];
	cb->aio_nbytes = HOST_IO_BS;
	cb->aio_offset = (off_t)(i % (HOST_IO_SIZE / HOST_IO_BS)) * HOST_IO_BS;
	cb->aio_sigevent.sigev_notify = SIGEV_NONE;
	if (write)
		for (int j = 0; j < HOST_IO_BS; j++)
			bufs[i][j] = host_io_byte(cb->aio_offset + j);
}

static void *submitter(void *arg)
{
	const struct aiocb *l[1] = { &cbs[0] };
	int bad = 0;

	(void)arg;
	prep(&cbs[0], 0, 0);
	if (aio_read(&cbs[0]))
		HOST_DIE("aio_read");
	while (aio_error(&cbs[0]) == EINPROGRESS)
		aio_suspend(l, 1, NULL);
	/* Every other request is left in flight. */
	for (int i = 1; i < N; i++) {
		prep(&cbs[i], i, i % 4 == 3);
		if (i % 4 == 3 ? aio_write(&cbs[i]) : aio_read(&cbs[i]))
			bad++;
	}
	pthread_exit((void *)(long)bad);
}

int main(int argc, char **argv)
{
	long total = 0, same = 0, errors = 0;
	pthread_t t;
	void *bad;

	fd = host_io_file("f");
	if (argc > 1 && !strcmp(argv[1], "direct")) {
		fd = open("f", O_RDWR | O_DIRECT);
		if (fd < 0)
			HOST_DIE("open O_DIRECT");
	}
	if (pthread_create(&t, NULL, submitter, NULL) || pthread_join(t, &bad))
		HOST_DIE("thread");
	printf("submissions refused: %ld\n", (long)bad);
	for (int i = 0; i < N; i++) {
		const struct aiocb *l[1] = { &cbs[i] };
		int e;

		while ((e = aio_error(&cbs[i])) == EINPROGRESS)
			if (aio_suspend(l, 1, NULL) && errno != EINTR)
				HOST_DIE("aio_suspend");
		errors += e != 0;
		total += aio_return(&cbs[i]);
		same += host_io_same(bufs[i], HOST_IO_BS, cbs[i].aio_offset);
	}
	printf("requests: %d, errors %ld, bytes %ld, data same %ld\n", N, errors, total, same);
	host_io("main after", fd);
	return 0;
}
