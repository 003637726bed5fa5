/* SPDX-License-Identifier: MIT */
/*
 * ioengine-bench-stream: POSIX AIO on many connections. Each of CONNS
 * socketpairs (or pipes) has one aio_read() outstanding on its reading end;
 * in rounds, the program writes one SIZE-byte message to every connection,
 * then waits in aio_suspend() until every read of the round is done, each
 * read submitted again as soon as it is done (so it waits for the next
 * round's message). A plain POSIX AIO program: run it natively (glibc's
 * helper threads, one blocked in read() per connection) and under the shim
 * (tools/ioengine-run: on io_uring the reads wait in the kernel).
 *
 * Prints one line:
 *   RESULT stream kind=socket conns=N size=B requests=R seconds=S rps=X
 *          threads_start=T threads_peak=P
 * rps: reads completed per second; threads: this process's tasks
 * (/proc/self/task), at the start and at their peak, looked at after a
 * round every 10 ms.
 *
 * usage: ioengine-bench-stream [--conns N] [--size B] [--runtime S] [--pipe]
 */
#include <aio.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define MAX_SIZE 65536

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void die(const char *what)
{
	fprintf(stderr, "ioengine-bench-stream: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: ioengine-bench-stream [--conns N] [--size B] [--runtime S] [--pipe]\n");
	exit(2);
}

struct conn {
	int rfd, wfd;
	struct aiocb cb;
	char buf[];
};

static void submit(struct conn *c, size_t size)
{
	memset(&c->cb, 0, sizeof(c->cb));
	c->cb.aio_fildes = c->rfd;
	c->cb.aio_buf = c->buf;
	c->cb.aio_nbytes = size;
	c->cb.aio_sigevent.sigev_notify = SIGEV_NONE;
	if (aio_read(&c->cb))
		die("aio_read");
}

int main(int argc, char **argv)
{
	int nconns = 64, use_pipe = 0, start_tasks, peak;
	size_t size = 64;
	double runtime = 2, t0, t, sampled;
	unsigned long long requests = 0;
	struct conn **conns;
	const struct aiocb **list;
	char *msg;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--conns") && i + 1 < argc)
			nconns = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			size = (size_t)atol(argv[++i]);
		else if (!strcmp(argv[i], "--runtime") && i + 1 < argc)
			runtime = atof(argv[++i]);
		else if (!strcmp(argv[i], "--pipe"))
			use_pipe = 1;
		else
			usage();
	}
	if (nconns < 1 || nconns > MAX_CONNS || size < 1 || size > MAX_SIZE || runtime <= 0)
		usage();
	conns = calloc((size_t)nconns, sizeof(*conns));
	list = calloc((size_t)nconns, sizeof(*list));
	msg = malloc(size);
	if (!conns || !list || !msg)
		die("malloc");
	memset(msg, 'm', size);
	for (int i = 0; i < nconns; i++) {
		int fds[2];

		conns[i] = calloc(1, sizeof(*conns[i]) + size);
		if (!conns[i])
			die("malloc");
		if (use_pipe ? pipe(fds) : socketpair(AF_UNIX, SOCK_STREAM, 0, fds))
			die(use_pipe ? "pipe" : "socketpair");
		conns[i]->rfd = fds[0];
		conns[i]->wfd = fds[1];
	}
	start_tasks = peak = tasks();
	for (int i = 0; i < nconns; i++)
		submit(conns[i], size);
	t0 = sampled = now_s();
	do {
		int left = nconns, n;

		for (int i = 0; i < nconns; i++) {
			if (write(conns[i]->wfd, msg, size) != (ssize_t)size)
				die("write");
			list[i] = &conns[i]->cb;
		}
		while (left) {
			if (aio_suspend(list, nconns, NULL) && errno != EINTR)
				die("aio_suspend");
			for (int i = 0; i < nconns; i++) {
				ssize_t got;

				if (!list[i] || aio_error(list[i]) == EINPROGRESS)
					continue;
				got = aio_return(&conns[i]->cb);
				if (got <= 0) {
					errno = got < 0 ? aio_error(&conns[i]->cb) : EPIPE;
					die("read");
				}
				/* A stream may split the message: read the rest in this round. */
				requests++;
				if ((size_t)got < size) {
					conns[i]->cb.aio_buf = conns[i]->buf + got;
					conns[i]->cb.aio_nbytes = size - (size_t)got;
					if (aio_read(&conns[i]->cb))
						die("aio_read");
					continue;
				}
				list[i] = NULL;
				left--;
				submit(conns[i], size);
			}
		}
		t = now_s();
		if (t - sampled >= 0.01) {
			n = tasks();
			if (n > peak)
				peak = n;
			sampled = t;
		}
	} while (t - t0 < runtime);
	printf("RESULT stream kind=%s conns=%d size=%zu requests=%llu seconds=%.3f rps=%.0f "
	       "threads_start=%d threads_peak=%d\n", use_pipe ? "pipe" : "socket", nconns, size, requests,
	       t - t0, (double)requests / (t - t0), start_tasks, peak);
	return 0;
}
