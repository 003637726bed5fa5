/* SPDX-License-Identifier: MIT */
/*
 * RLIMIT_FSIZE: a pwrite() (and pwritev()) across the limit returns the
 * bytes up to it; one at the limit is -1 EFBIG with SIGXFSZ, here ignored
 * so that the program can print it. Continuing a short write would raise
 * SIGXFSZ where one call of the real function does not (default action:
 * the process dies).
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>
#include "host.h"

static char buf[8192];

int main(void)
{
	struct rlimit rl = { 1000, 1000 };
	struct iovec iov[2] = { { buf, 2048 }, { buf + 2048, 2048 } };
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		HOST_DIE("open");
	memset(buf, 'x', sizeof(buf));
	if (setrlimit(RLIMIT_FSIZE, &rl))
		HOST_DIE("setrlimit");
	/* Default SIGXFSZ: a second write past the limit would kill the process. */
	host_show("pwrite 4096 at 0", pwrite(fd, buf, 4096, 0));
	host_show("pwritev 4096 at 500", pwritev(fd, iov, 2, 500));
	host_show("pwrite 4096 at 900", pwrite64(fd, buf, 4096, 900));
	signal(SIGXFSZ, SIG_IGN);
	host_show("pwrite 10 at 1000 (SIGXFSZ ignored)", pwrite(fd, buf, 10, 1000));
	host_show("pwrite 10 at 990", pwrite(fd, buf, 10, 990));
	return 0;
}
