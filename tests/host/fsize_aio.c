/* SPDX-License-Identifier: MIT */
/*
 * RLIMIT_FSIZE and POSIX AIO writes: glibc's helper makes one pwrite() per
 * request, so a write across the limit completes with the bytes up to it,
 * and the process gets no signal. One at the limit is EFBIG, with SIGXFSZ
 * raised in glibc's helper thread, which blocks every signal: with the
 * default action the process lives on (the last steps), and the shim must
 * not raise it in a thread of the program's.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include "aio_show.h"

static char buf[8192];
static char dbuf[8192] __attribute__((aligned(4096)));

/* The same with O_DIRECT (which the shim may submit from the calling thread), limit 8192. */
static void direct(void)
{
	struct rlimit rl = { 8192, RLIM_INFINITY };
	int fd = open("d", O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
	struct aiocb cb;

	if (fd < 0) {
		printf("no O_DIRECT here: %s\n", strerrorname_np(errno));
		return;
	}
	if (setrlimit(RLIMIT_FSIZE, &rl))
		HOST_DIE("setrlimit");
	host_aio_prep(&cb, fd, LIO_WRITE, dbuf, 4096, 4096);
	host_aio_write("O_DIRECT aio_write 4096 at 4096", &cb);
	host_aio_prep(&cb, fd, LIO_WRITE, dbuf, 8192, 4096);
	host_aio_write("O_DIRECT aio_write 8192 at 4096", &cb);
	host_aio_prep(&cb, fd, LIO_WRITE, dbuf, 4096, 8192);
	host_aio_write("O_DIRECT aio_write 4096 at 8192 (SIGXFSZ default)", &cb);
	host_aio_prep(&cb, fd, LIO_WRITE, dbuf, 4096, 8192);
	host_lio_one("O_DIRECT lio_listio write 4096 at 8192 (SIGXFSZ default)", &cb);
	close(fd);
}

int main(void)
{
	struct rlimit rl = { 1000, RLIM_INFINITY };
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);
	struct aiocb cb;

	if (fd < 0)
		HOST_DIE("open");
	memset(buf, 'x', sizeof(buf));
	if (setrlimit(RLIMIT_FSIZE, &rl))
		HOST_DIE("setrlimit");
	host_aio_prep(&cb, fd, LIO_WRITE, buf, 4096, 0);
	host_aio_write("aio_write 4096 at 0", &cb);
	host_aio_prep(&cb, fd, LIO_WRITE, buf, 4096, 500);
	host_lio_one("lio_listio write 4096 at 500", &cb);
	host_aio_prep(&cb, fd, LIO_WRITE, buf, 4096, 900);
	host_aio_write("aio_write 4096 at 900", &cb);
	signal(SIGXFSZ, SIG_IGN);
	host_aio_prep(&cb, fd, LIO_WRITE, buf, 10, 1000);
	host_aio_write("aio_write 10 at 1000 (SIGXFSZ ignored)", &cb);
	host_aio_prep(&cb, fd, LIO_WRITE, buf, 10, 1000);
	host_lio_one("lio_listio write 10 at 1000 (SIGXFSZ ignored)", &cb);
	host_aio_prep(&cb, fd, LIO_WRITE, buf, 10, 990);
	host_aio_write("aio_write 10 at 990", &cb);
	signal(SIGXFSZ, SIG_DFL);
	host_aio_prep(&cb, fd, LIO_WRITE, buf, 10, 1000);
	host_aio_write("aio_write 10 at 1000 (SIGXFSZ default)", &cb);
	host_aio_prep(&cb, fd, LIO_WRITE, buf, 10, 1000);
	host_lio_one("lio_listio write 10 at 1000 (SIGXFSZ default)", &cb);
	direct();
	return 0;
}
