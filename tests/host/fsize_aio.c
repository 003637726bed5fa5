/* SPDX-License-Identifier: MIT */
/*
 * RLIMIT_FSIZE and POSIX AIO writes: glibc's helper makes one pwrite() per
 * request, so a write across the limit completes with the bytes up to it,
 * and the process gets no signal. One at the limit is EFBIG, with SIGXFSZ
 * (here ignored; with the default action glibc's helper thread would kill
 * the process, which the last step shows).
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include "aio_show.h"

static char buf[8192];

int main(void)
{
	struct rlimit rl = { 1000, 1000 };
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
	host_aio_write("aio_write 10 at 1000 (SIGXFSZ default: the process dies)", &cb);
	return 0;
}
