/* SPDX-License-Identifier: MIT */
/*
 * RLIMIT_NOFILE exhausted before the first routed call: the program opens
 * fds until EMFILE, then does pread, pwrite and POSIX AIO (the engine, if
 * it starts now, finds no fd for itself). Then it frees one fd and a
 * hundred and does its IO again.
 */
#include <sys/resource.h>
#include "host_io.h"

int main(void)
{
	struct rlimit rl = { 256, 256 };
	int fd, dfd, last = -1, n = 0;

	if (setrlimit(RLIMIT_NOFILE, &rl))
		HOST_DIE("setrlimit");
	fd = host_io_file("f");
	dfd = open("f", O_RDONLY | O_DIRECT);
	for (;;) {
		int d = open("/dev/null", O_RDONLY);

		if (d < 0) {
			host_show("open until it fails", d);
			break;
		}
		last = d;
		if (++n > 100000)
			HOST_DIE("no EMFILE");
	}
	host_io("no fd left", fd);
	host_io_direct("no fd left", dfd);
	host_io_uncached("no fd left", fd);
	host_show("open once more", open("/dev/null", O_RDONLY));
	close(last);
	host_io("one fd free", fd);
	host_io_direct("one fd free", dfd);
	host_io_uncached("one fd free", fd);
	for (int i = 0; i < 100; i++)
		close(last - 1 - i);
	host_io("101 fds free", fd);
	host_io_direct("101 fds free", dfd);
	host_io_uncached("101 fds free", fd);
	return 0;
}
