/* SPDX-License-Identifier: MIT */
/*
 * pread, pwrite and preadv called from a signal handler allocate nothing:
 * the handler may have interrupted malloc(). The program interposes the
 * allocator itself and counts the calls made while its handler runs. The
 * first handler makes the process's first file IO call (under the shim:
 * the engine is created there), the second one a later call, the third
 * one after POSIX AIO ran.
 */
#include <aio.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>
#include <unistd.h>
#include "host.h"

static volatile sig_atomic_t in_handler, allocs;

/* Frees count too: any call of the family inside the handler. */
static void host_malloc_hook(bool is_free)
{
	(void)is_free;
	if (in_handler)
		allocs++;
}

#include "malloc_hook.h"

static int fd;
static long res[3];
static char hbuf[3][4096];

static void handler(int sig)
{
	struct iovec iov[2] = { { hbuf[2], 1000 }, { hbuf[2] + 1000, 3000 } };

	(void)sig;
	in_handler = 1;
	res[0] = pwrite(fd, "handler", 7, 100);
	res[1] = pread(fd, hbuf[1], 4096, 0);
	res[2] = preadv(fd, iov, 2, 50);
	in_handler = 0;
}

static void run(const char *what)
{
	allocs = 0;
	raise(SIGUSR1);
	printf("%s: pwrite %ld, pread %ld, preadv %ld\n", what, res[0], res[1], res[2]);
	printf("%s: allocations in handler: %d\n", what, (int)allocs);
	fflush(stdout);
}

int main(void)
{
	static char buf[8192];
	struct aiocb cb = { .aio_buf = buf, .aio_nbytes = 4096 };
	const struct aiocb *list[1] = { &cb };

	memset(buf, 'x', sizeof(buf));
	fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);
	cb.aio_fildes = fd;
	if (fd < 0 || signal(SIGUSR1, handler) == SIG_ERR)
		HOST_DIE("setup");
	/* Made with write(), which the shim leaves alone: the handler's pwrite is the first. */
	if (write(fd, buf, sizeof(buf)) != sizeof(buf))
		HOST_DIE("write");
	run("first routed call in a handler");
	host_show("pread in main", pread(fd, buf, 4096, 4096));
	run("a later handler");
	host_show("data", !memcmp(hbuf[1] + 100, "handler", 7));
	/* With POSIX AIO done (under the shim: the engine's threads run). */
	host_show("aio_read", aio_read(&cb));
	host_show("aio_suspend", aio_suspend(list, 1, NULL));
	host_show("aio_return", aio_return(&cb));
	run("a handler after POSIX AIO");
	return 0;
}
