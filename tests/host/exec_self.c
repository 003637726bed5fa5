/* SPDX-License-Identifier: MIT */
/*
 * exec of itself after the engine started: IO (pread, pwrite, POSIX AIO)
 * before the exec, and again in the new image, on a file descriptor that
 * survives the exec and on one opened anew.
 */
#include "host_io.h"

int main(int argc, char **argv)
{
	char self[4096], fdarg[16];
	ssize_t n;
	int fd;

	if (argc > 2 && !strcmp(argv[1], "after")) {
		host_io("after exec, inherited fd", atoi(argv[2]));
		fd = open("f", O_RDWR);
		if (fd < 0)
			HOST_DIE("open f");
		host_io("after exec, new fd", fd);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		HOST_DIE("readlink");
	self[n] = 0;
	fd = host_io_file("f");
	host_io("before exec", fd);
	snprintf(fdarg, sizeof(fdarg), "%d", fd);
	execl(self, self, "after", fdarg, (char *)NULL);
	HOST_DIE("execl");
}
