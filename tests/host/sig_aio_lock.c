/* SPDX-License-Identifier: MIT */
/*
 * aio_suspend(), aio_error() and aio_return() from a signal handler that
 * interrupted aio_write(): POSIX makes the three async-signal-safe. The
 * handler is raised from inside the program's own calloc() (the malloc
 * family is the program's to replace), when aio_write() first allocates: under
 * the shim that is with the per-fd lock held (a new fd's queue), natively
 * inside glibc's aio_write() (its mutex is recursive). The handler waits
 * (100 ms at most) for an earlier write on another fd of the same lock
 * bucket (fd + 256); should its aio_suspend() complete that write and then
 * wait for the lock, the program hangs. Natively glibc's helper cannot
 * finish a request while the interrupted call holds its mutex: the
 * handler's results depend on timing and are not printed.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <unistd.h>
#include "aio_show.h"

#define ROUNDS 100
#define BUCKETS 256	/* the shim's per-fd lock table, shim/aio_fd_order.c */

static volatile sig_atomic_t armed;
static struct aiocb first[4];
static char buf[4096];

/* The first allocation once armed (in aio_write()) raises the signal. */
static void host_malloc_hook(bool is_free)
{
	if (armed && !is_free) {
		armed = 0;
		raise(SIGUSR1);
	}
}

#include "malloc_hook.h"

static void on_signal(int sig)
{
	static const struct timespec wait = { 0, 100 * 1000 * 1000 };
	const struct aiocb *list[4] = { &first[0], &first[1], &first[2], &first[3] };
	int saved = errno;

	(void)sig;
	aio_suspend(list, 4, &wait);
	for (int i = 0; i < 4; i++)
		if (aio_error(&first[i]) != EINPROGRESS)
			(void)aio_return(&first[i]);
	errno = saved;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct rlimit rl;
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);
	int rounds = ROUNDS;
	long bad = 0;

	if (fd < 0)
		HOST_DIE("open");
	if (getrlimit(RLIMIT_NOFILE, &rl))
		HOST_DIE("getrlimit");
	/* fd numbers up to fd + 256 * rounds, within the hard limit. */
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)fd + BUCKETS * ROUNDS + 1)
		rounds = (int)((rl.rlim_max - (rlim_t)fd - 1) / BUCKETS);
	if (rounds < 10) {
		printf("skip: RLIMIT_NOFILE too low\n");
		return 0;
	}
	rl.rlim_cur = (rlim_t)fd + BUCKETS * (rlim_t)rounds + 1;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		HOST_DIE("setrlimit");
	if (sigaction(SIGUSR1, &sa, NULL))
		HOST_DIE("sigaction");
	memset(buf, 'l', sizeof(buf));
	for (int r = 1; r <= rounds; r++) {
		int fd2 = fd + BUCKETS * r;
		struct aiocb cb;

		if (dup2(fd, fd2) != fd2)
			HOST_DIE("dup2");
		/* Writes on fd in flight, then the first write on fd2: its queue is new. */
		for (int i = 0; i < 4; i++) {
			host_aio_prep(&first[i], fd, LIO_WRITE, buf, sizeof(buf), (off_t)i * 4096);
			if (aio_write(&first[i]))
				HOST_DIE("aio_write");
		}
		host_aio_prep(&cb, fd2, LIO_WRITE, buf, sizeof(buf), 4 * 4096);
		armed = 1;
		if (aio_write(&cb))
			HOST_DIE("aio_write");
		armed = 0;
		for (int i = 0; i < 4; i++) {
			const struct aiocb *list[1] = { &first[i] };

			while (aio_error(&first[i]) == EINPROGRESS)
				aio_suspend(list, 1, NULL);
			bad += aio_return(&first[i]) != 4096;
		}
		while (aio_error(&cb) == EINPROGRESS) {
			const struct aiocb *list[1] = { &cb };

			aio_suspend(list, 1, NULL);
		}
		bad += aio_return(&cb) != 4096;
		close(fd2);
	}
	printf("rounds: %d, failed or short writes: %ld\n", rounds, bad);
	host_show("file size", lseek(fd, 0, SEEK_END));
	return 0;
}
