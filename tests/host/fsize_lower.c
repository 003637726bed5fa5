/* SPDX-License-Identifier: MIT */
/*
 * RLIMIT_FSIZE lowered after POSIX AIO writes ran without a limit, by
 * setrlimit(), prlimit() or syscall(SYS_prlimit64) (argv[1]), then an
 * O_DIRECT aio_write at the new limit with SIGXFSZ at its default action:
 * glibc's helper thread gets the signal, blocked, and the process lives
 * (EFBIG). The shim must see the change before its next write.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "aio_show.h"

static char buf[8192] __attribute__((aligned(4096)));

static int lower(const char *how, struct rlimit *rl)
{
	if (!strcmp(how, "prlimit"))
		return prlimit(0, RLIMIT_FSIZE, rl, NULL);
	if (!strcmp(how, "syscall"))
		return (int)syscall(SYS_prlimit64, 0, RLIMIT_FSIZE, rl, NULL);
	return setrlimit(RLIMIT_FSIZE, rl);
}

int main(int argc, char **argv)
{
	struct rlimit rl = { 8192, RLIM_INFINITY };
	int fd = open("d", O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
	struct aiocb cb;

	if (fd < 0) {
		printf("no O_DIRECT here: %s\n", strerrorname_np(errno));
		return 0;
	}
	for (int i = 0; i < 3; i++) {
		host_aio_prep(&cb, fd, LIO_WRITE, buf, 4096, 4096 * i);
		host_aio_write("O_DIRECT aio_write 4096, no limit", &cb);
	}
	host_show(argc > 1 ? argv[1] : "setrlimit", lower(argc > 1 ? argv[1] : "setrlimit", &rl));
	host_aio_prep(&cb, fd, LIO_WRITE, buf, 4096, 8192);
	host_aio_write("O_DIRECT aio_write 4096 at 8192 (SIGXFSZ default)", &cb);
	return 0;
}
