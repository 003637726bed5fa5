/* SPDX-License-Identifier: MIT */
/*
 * A program that makes only synchronous calls (pread, pwrite, preadv on a
 * regular file; the reads while nothing else is under way) stays
 * single-threaded: its thread count, the threads listed in /proc/self/task
 * (what ps -T shows), and unshare(CLONE_NEWUSER), which the kernel refuses
 * (EINVAL) to a multi-threaded process.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/uio.h>
#include <unistd.h>
#include "host.h"

static int status_threads(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	int n = -1;

	if (!f)
		HOST_DIE("fopen /proc/self/status");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static int task_entries(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		HOST_DIE("opendir /proc/self/task");
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int main(void)
{
	char buf[8192], out[8192];
	struct iovec iov[2] = { { out, 100 }, { out + 100, 4000 } };
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		HOST_DIE("open");
	memset(buf, 'x', sizeof(buf));
	host_show("pwrite 8192 at 0", pwrite(fd, buf, sizeof(buf), 0));
	host_show("pread 4096 at 0", pread(fd, out, 4096, 0));
	host_show("pread 4096 at 6000", pread(fd, out, 4096, 6000));
	host_show("preadv 4100 at 10", preadv(fd, iov, 2, 10));
	host_show("pwrite 10 at 8192", pwrite(fd, buf, 10, 8192));
	host_show("pread 100 at 8190", pread(fd, out, 100, 8190));
	host_show("data", !memcmp(out, buf, 12));
	printf("Threads: %d\n", status_threads());
	printf("tasks in /proc/self/task: %d\n", task_entries());
	host_show("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
	return 0;
}
