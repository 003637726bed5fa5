/* SPDX-License-Identifier: MIT */
/*
 * IOENGINE_FAULT in the environment of an ordinary program (run_case.sh sets
 * it in both runs: "eio=1", every IO fails). Only the tests' own
 * fault-injection build reads it; the shim a program is run with must not,
 * so the writes and reads below give what they give natively.
 */
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>
#include "host.h"

int main(void)
{
	char out[4096], in[4096] = { 0 };
	struct iovec iov = { in, sizeof(in) };
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		HOST_DIE("open");
	memset(out, 'q', sizeof(out));
	host_show("pwrite 4096 at 0", pwrite(fd, out, sizeof(out), 0));
	host_show("pwrite 4096 at 8192", pwrite(fd, out, sizeof(out), 8192));
	host_show("fsync", fsync(fd));
	host_show("pread 4096 at 0", pread(fd, in, sizeof(in), 0));
	printf("read back the same: %s\n", memcmp(in, out, sizeof(in)) ? "no" : "yes");
	host_show("preadv 4096 at 8192", preadv(fd, &iov, 1, 8192));
	printf("read back the same: %s\n", memcmp(in, out, sizeof(in)) ? "no" : "yes");
	host_show("pread 4096 at 4096 (hole)", pread(fd, in, sizeof(in), 4096));
	return 0;
}
