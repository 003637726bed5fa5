/* SPDX-License-Identifier: MIT */
/*
 * An address-space limit (RLIMIT_AS) that leaves room for glibc's POSIX AIO
 * helper thread (a minimal stack) but not for a thread with a default 8 MiB
 * stack: the engine cannot start its threads. POSIX AIO requests still
 * complete with their results, as glibc's do.
 */
#include <sys/resource.h>
#include "host_io.h"

/* An aio_write (the same bytes back) and an aio_fsync, each waited for. */
static void aio_write_sync(int fd)
{
	static char buf[HOST_IO_BS];
	struct aiocb cb = { .aio_fildes = fd, .aio_buf = buf, .aio_nbytes = HOST_IO_BS, .aio_offset = 0 };
	const struct aiocb *l[1] = { &cb };

	for (int i = 0; i < HOST_IO_BS; i++)
		buf[i] = host_io_byte(i);
	for (int op = 0; op < 2; op++) {
		host_show(op ? "aio_fsync" : "aio_write", op ? aio_fsync(O_SYNC, &cb) : aio_write(&cb));
		while (aio_error(&cb) == EINPROGRESS)
			aio_suspend(l, 1, NULL);
		printf("aio_error: %s\n", strerrorname_np(aio_error(&cb)) ?: "0");
		host_show("aio_return", aio_return(&cb));
	}
}

/* VmSize of this process, in bytes; 0 if unknown. */
static unsigned long vm_size(void)
{
	char line[256];
	unsigned long kb = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

int main(void)
{
	int fd = host_io_file("f");
	unsigned long vm;
	struct rlimit rl;

	/* A synchronous call starts no engine thread. */
	host_show("pwrite before the limit", pwrite(fd, "x", 1, HOST_IO_SIZE));
	vm = vm_size();
	/* A sanitizer's shadow memory: no limit can be set around it. */
	if (!vm || vm > (1ul << 40)) {
		printf("skip: the address space cannot be limited (%s)\n", vm ? "a sanitizer's shadow" : "no VmSize");
		return 0;
	}
	rl.rlim_cur = rl.rlim_max = vm + (4ul << 20);
	if (setrlimit(RLIMIT_AS, &rl))
		HOST_DIE("setrlimit");
	host_io("under the limit", fd);
	aio_write_sync(fd);
	return 0;
}
