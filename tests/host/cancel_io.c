/* SPDX-License-Identifier: MIT */
/*
 * pthread_cancel() of a thread inside an interposed call that is a
 * cancellation point; afterwards the program must go on as natively: the
 * thread ended through its cleanup handler, no other thread hangs, and
 * everyone's IO still works.
 *
 * MODE (argv[1]):
 *   suspend  the thread waits in aio_suspend() on an aio_read() of a pipe
 *            that has no data yet (the test sees it asleep in its wait
 *            before it cancels); the request completes once the test
 *            writes to the pipe, and the main thread collects it
 *   pread    the thread loops in pread() on a regular file (with another
 *            thread doing the same); it is cancelled in mid-loop
 */
#include <aio.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "host.h"

static int fd, pipefd[2];
static sem_t started;
static pid_t tid;
static int cleaned;
static struct aiocb pipe_cb;

static void cleanup(void *arg)
{
	(void)arg;
	cleaned++;
}

/*
 * The threads' clean-up is a thread-specific value's destructor, which a
 * cancelled thread runs too. The ASan build: a cancel unwinds instrumented
 * frames (the shim's, the case's) without unpoisoning their redzones, and
 * the sanitizer runtime's own sigaltstack() calls on that stack then trip
 * on them: in __asan_handle_no_return(), which a pthread_cleanup_push()
 * frame calls, and at thread exit unless ASAN_OPTIONS has use_sigaltstack=0
 * (set for these cases in CMakeLists.txt).
 */
static pthread_key_t key;

static void *suspender(void *arg)
{
	const struct aiocb *list[1] = { &pipe_cb };

	(void)arg;
	tid = (pid_t)syscall(SYS_gettid);
	pthread_setspecific(key, &key);
	sem_post(&started);
	for (;;)
		aio_suspend(list, 1, NULL);
	return NULL;
}

static void *reader(void *arg)
{
	char buf[4096];
	long n = 0;

	pthread_setspecific(key, &key);
	for (;;) {
		if (pread(fd, buf, sizeof(buf), (n % 16) * 4096) != sizeof(buf))
			HOST_DIE("pread in the loop");
		if (++n == 1000 && arg)
			sem_post(&started);
	}
	return NULL;
}

/*
 * Until the thread is asleep in aio_suspend()'s wait, as /proc shows: futex()
 * (glibc's, or the shim's on Linux AIO, where glibc has the pipe read), or
 * io_uring_enter() (the shim's on io_uring, where the engine has it).
 */
static void wait_asleep(void)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	for (;;) {
		int f = open(path, O_RDONLY);
		ssize_t n = f < 0 ? -1 : read(f, buf, sizeof(buf) - 1);

		if (f >= 0)
			close(f);
		if (n < 0)
			HOST_DIE("read %s", path);
		buf[n] = 0;
		if (atoi(buf) == SYS_futex || atoi(buf) == SYS_io_uring_enter)
			return;
		sched_yield();
	}
}

static void collect(struct aiocb *cb, const char *name)
{
	const struct aiocb *list[1] = { cb };

	while (aio_error(cb) == EINPROGRESS)
		aio_suspend(list, 1, NULL);
	host_show(name, aio_return(cb));
}

/* IO of everyone else, after the cancel. */
static void others_io(void)
{
	struct aiocb cb = { .aio_fildes = fd, .aio_nbytes = 4, .aio_offset = 8,
			    .aio_sigevent.sigev_notify = SIGEV_NONE };
	char buf[8] = { 0 };

	host_show("main pwrite", pwrite(fd, "wxyz", 4, 8));
	host_show("main pread", pread(fd, buf, 4, 8));
	printf("main read: %s\n", buf);
	cb.aio_buf = buf;
	host_show("main aio_read", aio_read(&cb));
	collect(&cb, "main aio_return");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	static char block[16 * 4096];
	pthread_t t, t2;
	void *ret;

	fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || pipe(pipefd) || sem_init(&started, 0, 0))
		HOST_DIE("setup");
	memset(block, 'b', sizeof(block));
	if (pwrite(fd, block, sizeof(block), 0) != sizeof(block))
		HOST_DIE("pwrite");
	if (!strcmp(mode, "suspend")) {
		char buf[8] = { 0 };

		pipe_cb.aio_fildes = pipefd[0];
		pipe_cb.aio_buf = buf;
		pipe_cb.aio_nbytes = 5;
		pipe_cb.aio_sigevent.sigev_notify = SIGEV_NONE;
		host_show("aio_read of the pipe", aio_read(&pipe_cb));
		if (pthread_key_create(&key, cleanup) || pthread_create(&t, NULL, suspender, NULL))
			HOST_DIE("thread");
		sem_wait(&started);
		wait_asleep();
		pthread_cancel(t);
		pthread_join(t, &ret);
		printf("cancelled: %s, clean-up ran: %d\n", ret == PTHREAD_CANCELED ? "yes" : "no", cleaned);
		host_show("aio_error of the pipe read", aio_error(&pipe_cb) == EINPROGRESS);
		if (write(pipefd[1], "hello", 5) != 5)
			HOST_DIE("write");
		collect(&pipe_cb, "aio_return of the pipe read");
		printf("pipe read: %s\n", buf);
	} else if (!strcmp(mode, "pread")) {
		if (pthread_key_create(&key, cleanup) || pthread_create(&t, NULL, reader, "posts") || pthread_create(&t2, NULL, reader, NULL))
			HOST_DIE("thread");
		sem_wait(&started);
		pthread_cancel(t);
		pthread_join(t, &ret);
		printf("cancelled: %s, clean-up ran: %d\n", ret == PTHREAD_CANCELED ? "yes" : "no", cleaned);
		others_io();
		pthread_cancel(t2);
		pthread_join(t2, &ret);
		printf("second reader cancelled: %s, clean-ups ran: %d\n",
		       ret == PTHREAD_CANCELED ? "yes" : "no", cleaned);
	} else {
		HOST_DIE("mode %s", mode);
	}
	others_io();
	return 0;
}
