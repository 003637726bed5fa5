/* SPDX-License-Identifier: MIT */
/*
 * /proc/sys/fs/aio-max-nr exhausted before the first routed call: the
 * program takes every Linux AIO context the system has left (io_setup until
 * EAGAIN), then does pread, pwrite and POSIX AIO, then gives them back.
 * It takes them from every other process for a moment: RUN_SERIAL.
 */
#include <linux/aio_abi.h>
#include <sys/syscall.h>
#include "host_io.h"

#define MAX_CTX 65536

static aio_context_t ctx[MAX_CTX];

int main(void)
{
	long nr = 65536;
	int n = 0, fd = host_io_file("f"), dfd = open("f", O_RDONLY | O_DIRECT);

	/* Big ones first, then smaller, down to one event. */
	while (nr >= 1) {
		if (n == MAX_CTX)
			HOST_DIE("no EAGAIN after %d contexts", n);
		ctx[n] = 0;
		if (syscall(SYS_io_setup, nr, &ctx[n]) == 0)
			n++;
		else if (errno == EAGAIN)
			nr /= 2;
		else
			HOST_DIE("io_setup");
	}
	host_show("io_setup(1) once more", syscall(SYS_io_setup, 1, &(aio_context_t){ 0 }));
	host_io("no AIO context left", fd);
	host_io_direct("no AIO context left", dfd);
	host_io_uncached("no AIO context left", fd);
	for (int i = 0; i < n; i++)
		if (syscall(SYS_io_destroy, ctx[i]))
			HOST_DIE("io_destroy");
	host_io("contexts given back", fd);
	host_io_direct("contexts given back", dfd);
	host_io_uncached("contexts given back", fd);
	return 0;
}
