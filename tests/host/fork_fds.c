/* SPDX-License-Identifier: MIT */
/*
 * A fork child inherits no descriptor of the engine's: after pread and
 * POSIX AIO in the parent, the child counts its fds that are none of the
 * program's files (anon inodes: an io_uring, an eventfd, ...).
 */
#include <aio.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "host.h"

static int foreign_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], target[256];
	int n = 0;

	if (!d)
		HOST_DIE("opendir");
	while ((e = readdir(d))) {
		ssize_t len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = 0;
		if (!strncmp(target, "anon_inode:", 11))
			n++;
	}
	closedir(d);
	return n;
}

int main(void)
{
	static char buf[4096];
	const struct aiocb *list[1];
	struct aiocb cb = { 0 };
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600), status;
	pid_t pid;

	if (fd < 0 || pwrite(fd, buf, sizeof(buf), 0) != sizeof(buf))
		HOST_DIE("setup");
	host_show("pread", pread(fd, buf, sizeof(buf), 0));
	cb = (struct aiocb){ .aio_fildes = fd, .aio_buf = buf, .aio_nbytes = 4096 };
	host_show("aio_read", aio_read(&cb));
	list[0] = &cb;
	host_show("aio_suspend", aio_suspend(list, 1, NULL));
	host_show("aio_return", aio_return(&cb));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		HOST_DIE("fork");
	if (!pid) {
		printf("child: anon-inode fds: %d\n", foreign_fds());
		host_show("child pread", pread(fd, buf, sizeof(buf), 0));
		printf("child after pread: anon-inode fds: %d\n", foreign_fds());
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		HOST_DIE("waitpid");
	host_show("child status", status);
	return 0;
}
