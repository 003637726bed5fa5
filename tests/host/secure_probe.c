/* SPDX-License-Identifier: MIT */
/*
 * For secure_exec.sh: write and read back a file, through LIB's pwrite and
 * pread (dlopen: the loader ignores LD_PRELOAD with a slash in a set-user-ID
 * program, a dlopen by the program itself is what still loads the shim
 * there), or through libc's ("-"). Prints the results and whether the
 * process runs in secure-execution mode; the shim's own output (log lines,
 * stats file) is what secure_exec.sh looks at.
 * Usage: secure_probe LIB|- FILE
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <unistd.h>
#include "host.h"

int main(int argc, char **argv)
{
	ssize_t (*pw)(int, const void *, size_t, off_t) = pwrite;
	ssize_t (*pr)(int, void *, size_t, off_t) = pread;
	char in[16] = { 0 };
	int fd;

	if (argc != 3)
		HOST_DIE("usage: secure_probe LIB|- FILE");
	if (strcmp(argv[1], "-")) {
		void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);

		if (!h || !(pw = dlsym(h, "pwrite")) || !(pr = dlsym(h, "pread"))) {
			fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
			return 99;
		}
	}
	printf("secure: %lu\n", getauxval(AT_SECURE));
	fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		HOST_DIE("open %s", argv[2]);
	host_show("pwrite 6 at 0", pw(fd, "hello\n", 6, 0));
	host_show("pread 16 at 0", pr(fd, in, sizeof(in), 0));
	printf("read: %s", in);
	return 0;
}
