/* SPDX-License-Identifier: MIT */
/*
 * No backend can start (seccomp makes io_uring_setup and io_setup fail with
 * ENOSYS): the program keeps working on the real calls, silently at the
 * default log level (its stderr is its own), with exactly one message at
 * IOENGINE_LOG=info.
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "shim_test.h"

static void deny_backends(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_setup, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	CHECK(!prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	CHECK(!prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog));
}

/* In the restricted process: IO through the shim equals the real calls. */
static int work(void)
{
	struct libc_fns libc;
	unsigned char a[8192], b[8192];
	char path[4096];
	int fd;

	libc_fns_load(&libc);
	require_shim(&libc);
	snprintf(path, sizeof(path), "%s/shim-nobackend-XXXXXX", test_dir());
	fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	for (int i = 0; i < 100; i++) {
		memset(a, i, sizeof(a));
		CHECK_EQ(pwrite(fd, a, sizeof(a), i * 100), sizeof(a));
		CHECK_EQ(pread(fd, b, sizeof(b), i * 100), sizeof(b));
		CHECK(!memcmp(a, b, sizeof(a)));
	}
	errno = 0;
	CHECK_EQ(pread(fd, b, 10, -1), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(count_threads("ioe-"), 0);
	return 0;
}

/* Run this program again restricted, with IOENGINE_LOG=log; return its stderr lines. */
static int run(const char *log, char *out, size_t outlen)
{
	int p[2], st;
	ssize_t n, len = 0;
	pid_t pid;

	CHECK(!pipe(p));
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		dup2(p[1], 2);
		close(p[0]);
		if (log)
			setenv("IOENGINE_LOG", log, 1);
		else
			unsetenv("IOENGINE_LOG");
		setenv("IOENGINE_FASTPATH", "0", 1);	/* every call wants the engine */
		deny_backends();
		execl("/proc/self/exe", "nobackend", "child", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], out + len, outlen - 1 - (size_t)len)) > 0)
		len += n;
	out[len] = 0;
	close(p[0]);
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	n = 0;
	for (char *c = out; *c; c++)
		n += *c == '\n';
	return (int)n;
}

int main(int argc, char **argv)
{
	char out[4096];

	if (argc > 1 && !strcmp(argv[1], "child"))
		return work();
	CHECK_EQ(run("info", out, sizeof(out)), 1);
	CHECK(strstr(out, "ioengine: ") && strstr(out, "plain system calls"));
	printf("ok one message at IOENGINE_LOG=info: %s", out);
	CHECK_EQ(run(NULL, out, sizeof(out)), 0);
	printf("ok default log level: silent\n");
	return 0;
}
