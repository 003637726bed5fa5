/* SPDX-License-Identifier: MIT */
/*
 * A program that closes its file descriptors after POSIX AIO ran (as a
 * daemon's "close every fd above 2", closefrom() or close_range() do), or
 * dup2()s a file over every fd number up to 1023: POSIX AIO and pread/pwrite on
 * files opened afterwards still work, in the thread that used them before
 * and in a new one, and the waits do not burn the CPU.
 *
 * Usage: host_close_fds range|loop|dup2
 */
#include <aio.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "host.h"

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* One POSIX AIO request, waited for with a 3 s timeout. */
static void aio_one(const char *name, struct aiocb *cb, int (*fn)(struct aiocb *))
{
	const struct aiocb *list[1] = { cb };
	struct timespec ts = { 3, 0 };
	char line[64];

	snprintf(line, sizeof(line), "%s", name);
	host_show(line, fn(cb));
	snprintf(line, sizeof(line), "%s aio_suspend", name);
	host_show(line, aio_suspend(list, 1, &ts));
	snprintf(line, sizeof(line), "%s aio_error", name);
	printf("%s: %s\n", line, strerrorname_np(aio_error(cb)) ?: "0");
	snprintf(line, sizeof(line), "%s aio_return", name);
	host_show(line, aio_return(cb));
}

static void close_all(const char *how)
{
	if (!strcmp(how, "range")) {
		host_show("close_range(3, ~0U)", syscall(SYS_close_range, 3, ~0U, 0));
	} else if (!strcmp(how, "loop")) {
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		printf("closed 3..1023\n");
	} else {
		int f = open("over", O_RDWR | O_CREAT | O_TRUNC, 0600);

		if (f < 0)
			HOST_DIE("open over");
		struct rlimit rl;
		int top = 1024;

		if (getrlimit(RLIMIT_NOFILE, &rl))
			HOST_DIE("getrlimit");
		if (rl.rlim_cur < (rlim_t)top)
			top = (int)rl.rlim_cur;
		for (int fd = 3; fd < top; fd++)
			if (fd != f && dup2(f, fd) != fd)
				HOST_DIE("dup2");
		printf("dup2 over every fd from 3 up to 1023 or the limit\n");
	}
}

static char buf[8192];

/* POSIX AIO and pread/pwrite on a file opened after the closing; prints under `who`. */
static void *after(void *arg)
{
	const char *who = arg;
	static char out[8192];
	struct aiocb cb;
	char name[64];
	double cpu;
	int fd;

	snprintf(name, sizeof(name), "after-%s", who);
	fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		HOST_DIE("open %s", name);
	printf("-- %s\n", who);
	cpu = cpu_seconds();
	cb = (struct aiocb){ .aio_fildes = fd, .aio_buf = buf, .aio_nbytes = 8192 };
	aio_one("aio_write", &cb, aio_write);
	cb = (struct aiocb){ .aio_fildes = fd, .aio_buf = out, .aio_nbytes = 4096, .aio_offset = 4096 };
	aio_one("aio_read", &cb, aio_read);
	host_show("data", !memcmp(out, buf, 4096));
	host_show("pwrite", pwrite(fd, buf, 100, 8192));
	host_show("pread", pread(fd, out, 8192, 4096));
	cb = (struct aiocb){ .aio_fildes = fd, .aio_buf = out, .aio_nbytes = 4096, .aio_offset = 8000 };
	aio_one("aio_read at 8000", &cb, aio_read);
	printf("cpu busy: %s\n", cpu_seconds() - cpu < 0.5 ? "no" : "yes");
	fflush(stdout);
	return NULL;
}

int main(int argc, char **argv)
{
	static char out[4096];
	struct aiocb cb;
	pthread_t t;
	int fd;

	if (argc != 2)
		HOST_DIE("usage");
	memset(buf, 'y', sizeof(buf));
	fd = open("before", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || pwrite(fd, buf, sizeof(buf), 0) != sizeof(buf))
		HOST_DIE("before");
	cb = (struct aiocb){ .aio_fildes = fd, .aio_buf = out, .aio_nbytes = 4096 };
	aio_one("aio_read before", &cb, aio_read);

	close_all(argv[1]);

	/* The thread that used POSIX AIO before, then one that never did. */
	after("main thread");
	if (pthread_create(&t, NULL, after, "new thread") || pthread_join(t, NULL))
		HOST_DIE("thread");
	return 0;
}
