/* SPDX-License-Identifier: MIT */
/*
 * A full filesystem: a 64 KiB tmpfs, mounted in a private mount namespace.
 * A write across the end of the space returns the bytes that fit; the next
 * one fails with ENOSPC: the same for pwrite(), pwritev() and aio_write()
 * as natively (glibc's helper makes one pwrite() per request). A write that
 * is continued after its short count would turn into -1 ENOSPC after bytes
 * were written, or write what a later free made room for.
 * Without the privilege to mount, the case says so and skips.
 */
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "aio_show.h"

static char buf[65536];

int main(void)
{
	struct iovec iov[3] = { { buf, 12288 }, { buf + 12288, 12288 }, { buf + 24576, 8192 } };
	struct aiocb cb;
	int fd;

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mkdir("mnt", 0700) || mount("host-enospc", "mnt", "tmpfs", 0, "size=64k")) {
		printf("skip: cannot mount a tmpfs in a private mount namespace (%s)\n",
		       strerrorname_np(errno));
		return 0;
	}
	fd = open("mnt/f", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		HOST_DIE("open");
	memset(buf, 'x', sizeof(buf));
	host_show("pwrite 32768 at 0", pwrite(fd, buf, 32768, 0));
	host_show("pwritev 24576 at 32768", pwritev(fd, iov, 2, 32768));
	host_show("pwrite 16384 at 57344 (8 KiB left)", pwrite(fd, buf, 16384, 57344));
	host_show("pwrite 100 at 65536 (full)", pwrite(fd, buf, 100, 65536));
	host_show("pwritev 32768 at 65536 (full)", pwritev(fd, iov, 3, 65536));

	if (ftruncate(fd, 40960))
		HOST_DIE("ftruncate");
	host_show("pwritev 32768 at 40960 (24 KiB left)", pwritev(fd, iov, 3, 40960));

	if (ftruncate(fd, 40960))
		HOST_DIE("ftruncate");
	host_aio_prep(&cb, fd, LIO_WRITE, buf, 32768, 40960);
	host_aio_write("aio_write 32768 at 40960 (24 KiB left)", &cb);
	host_aio_prep(&cb, fd, LIO_WRITE, buf, 10, 65536);
	host_aio_write("aio_write 10 at 65536 (full)", &cb);
	if (ftruncate(fd, 61440))
		HOST_DIE("ftruncate");
	host_aio_prep(&cb, fd, LIO_WRITE, buf, 8192, 61440);
	host_lio_one("lio_listio write 8192 at 61440 (4 KiB left)", &cb);
	host_aio_prep(&cb, fd, LIO_WRITE, buf, 8192, 65536);
	host_lio_one("lio_listio write 8192 at 65536 (full)", &cb);
	host_show("file size", lseek(fd, 0, SEEK_END));
	return 0;
}
