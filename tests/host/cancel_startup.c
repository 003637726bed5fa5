/* SPDX-License-Identifier: MIT */
/*
 * A thread cancelled during the engine's start-up: thread A has a cancel
 * pending when it makes the process's first pwrite(), so the cancel acts
 * at the first cancellation point inside the call. Under the shim that was
 * the write() of the IOENGINE_LOG=info start-up line, which left the engine
 * "starting" forever: the main thread's next call then waited with no end.
 * The log goes to /dev/null here (stderr must match the native run's).
 */
#include <aio.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include "host.h"

static pthread_barrier_t go;
static int fd;

static void *thread_a(void *arg)
{
	(void)arg;
	/* Not a cancellation point: the cancel sent meanwhile stays pending. */
	pthread_barrier_wait(&go);
	pwrite(fd, "aaaa", 4, 0);
	return NULL;
}

int main(void)
{
	const struct aiocb *list[1];
	struct aiocb cb = { 0 };
	char buf[8] = { 0 };
	pthread_t a;
	void *ret;
	int null = open("/dev/null", O_WRONLY);

	fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || null < 0 || dup2(null, STDERR_FILENO) < 0)
		HOST_DIE("open");
	if (pthread_barrier_init(&go, NULL, 2) || pthread_create(&a, NULL, thread_a, NULL))
		HOST_DIE("thread");
	pthread_cancel(a);
	pthread_barrier_wait(&go);
	pthread_join(a, &ret);
	printf("thread A cancelled: %s\n", ret == PTHREAD_CANCELED ? "yes" : "no");
	fflush(stdout);
	host_show("main pwrite", pwrite(fd, "mmmm", 4, 0));
	host_show("main pread", pread(fd, buf, sizeof(buf), 0));
	printf("read: %s\n", buf);
	cb.aio_fildes = fd;
	cb.aio_buf = buf;
	cb.aio_nbytes = 2;
	cb.aio_offset = 2;
	host_show("aio_read", aio_read(&cb));
	list[0] = &cb;
	while (aio_error(&cb) == EINPROGRESS)
		aio_suspend(list, 1, NULL);
	host_show("aio_return", aio_return(&cb));
	return 0;
}
