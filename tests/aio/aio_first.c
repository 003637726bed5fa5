/* SPDX-License-Identifier: MIT */
/*
 * A multi-threaded program's first calls come together: aio_first DIR
 * starts THREADS threads that, released at once, each make their first
 * AIO calls (an aio_write, then a lio_listio(LIO_WAIT) of two more) while
 * the shim is still creating its engine. No call may go to glibc's AIO
 * meanwhile (run_first.sh checks the summary's fallbacks=0); every byte
 * lands where it was written.
 */
#include <aio.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 8
#define BS 512

static int fd;
static pthread_barrier_t go;

static void prep(struct aiocb *cb, char *buf, int block)
{
	memset(cb, 0, sizeof(*cb));
	memset(buf, 'a' + block % 26, BS);
	cb->aio_fildes = fd;
	cb->aio_buf = buf;
	cb->aio_nbytes = BS;
	cb->aio_offset = (off_t)block * BS;
	cb->aio_lio_opcode = LIO_WRITE;
}

static void *writer(void *arg)
{
	int t = (int)(long)arg;
	char bufs[3][BS];
	struct aiocb cbs[3];
	struct aiocb *list[2] = { &cbs[1], &cbs[2] };
	const struct aiocb *one[1] = { &cbs[0] };

	for (int i = 0; i < 3; i++)
		prep(&cbs[i], bufs[i], t * 3 + i);
	pthread_barrier_wait(&go);
	if (aio_write(&cbs[0]) || lio_listio(LIO_WAIT, list, 2, NULL))
		return (void *)"submit";
	while (aio_error(&cbs[0]) == EINPROGRESS)
		aio_suspend(one, 1, NULL);
	for (int i = 0; i < 3; i++)
		if (aio_error(&cbs[i]) || aio_return(&cbs[i]) != BS)
			return (void *)"result";
	return NULL;
}

int main(int argc, char **argv)
{
	char path[4096], buf[THREADS * 3 * BS];
	pthread_t th[THREADS];
	int bad = 0;

	if (argc != 2)
		return 2;
	snprintf(path, sizeof(path), "%s/aio-first.XXXXXX", argv[1]);
	fd = mkstemp(path);
	if (fd < 0)
		return 2;
	unlink(path);
	pthread_barrier_init(&go, NULL, THREADS);
	for (long t = 0; t < THREADS; t++)
		if (pthread_create(&th[t], NULL, writer, (void *)t))
			return 2;
	for (int t = 0; t < THREADS; t++) {
		void *err;

		pthread_join(th[t], &err);
		if (err) {
			fprintf(stderr, "aio_first: thread %d: %s failed: %s\n", t, (char *)err, strerror(errno));
			bad = 1;
		}
	}
	/* read(2) is not interposed. */
	if (read(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		return 3;
	for (int b = 0; b < THREADS * 3; b++)
		for (int i = 0; i < BS; i++)
			if (buf[b * BS + i] != 'a' + b % 26) {
				fprintf(stderr, "aio_first: block %d byte %d wrong\n", b, i);
				return 1;
			}
	return bad;
}
