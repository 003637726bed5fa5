/* SPDX-License-Identifier: MIT */
/*
 * Backend choice. IOENGINE_BACKEND picks the backend for AUTO contexts, an
 * explicit choice in the options wins over it, a bad value is EINVAL. Then,
 * in a child where a seccomp filter makes io_uring_setup() fail with EPERM
 * (as a container policy would): AUTO falls back to AIO and does IO, while
 * an explicit io_uring (by option or by IOENGINE_BACKEND) fails with
 * NULL/EPERM instead of switching. argv's backend is the explicit choice.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "util.h"

#if defined(__x86_64__)
#define THIS_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define THIS_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define THIS_ARCH AUDIT_ARCH_I386
#endif

static const char *name_of(enum ioe_backend b)
{
	return b == IOE_BACKEND_URING ? "io_uring" : "aio";
}

/* The context works: a write and a read back through it. */
static void does_io(struct ioe_context *ctx)
{
	int fd = test_file(0);
	char a[4096], c[4096];

	fill(a, sizeof(a), 0, 77);
	CHECK_EQ(eng_pwrite(ctx, fd, a, sizeof(a), 0), sizeof(a));
	CHECK_EQ(eng_pread(ctx, fd, c, sizeof(c), 0), sizeof(c));
	verify(c, sizeof(c), 0, 77);
	close(fd);
}

static struct ioe_context *auto_ctx(void)
{
	return ioe_context_new(4, 0);
}

/* NULL and this errno, or the named backend, working. */
static void expect(struct ioe_context *ctx, const char *name, int err)
{
	if (!name) {
		CHECK(ctx == NULL);
		CHECK_EQ(errno, err);
		return;
	}
	CHECK(ctx != NULL);
	if (strcmp(ioe_backend_name(ctx), name)) {
		fprintf(stderr, "backend %s, expected %s\n", ioe_backend_name(ctx), name);
		exit(1);
	}
	does_io(ctx);
	ioe_context_free(ctx);
}

static void env_choice(enum ioe_backend b)
{
	struct ioe_options o = { .depth = 4, .workers = 0, .backend = b };

	CHECK_EQ(setenv("IOENGINE_BACKEND", "aio", 1), 0);
	expect(auto_ctx(), "aio", 0);
	CHECK_EQ(setenv("IOENGINE_BACKEND", "uring", 1), 0);
	expect(auto_ctx(), "io_uring", 0);
	CHECK_EQ(setenv("IOENGINE_BACKEND", "auto", 1), 0);
	expect(auto_ctx(), "io_uring", 0);	/* io_uring works here: auto takes it */
	CHECK_EQ(unsetenv("IOENGINE_BACKEND"), 0);
	expect(auto_ctx(), "io_uring", 0);

	CHECK_EQ(setenv("IOENGINE_BACKEND", "bogus", 1), 0);
	errno = 0;
	expect(auto_ctx(), NULL, EINVAL);
	/* An explicit option does not read the variable at all. */
	expect(ioe_context_new_opts(&o), name_of(b), 0);
	/* Nor does it yield to it. */
	CHECK_EQ(setenv("IOENGINE_BACKEND", b == IOE_BACKEND_URING ? "aio" : "uring", 1), 0);
	expect(ioe_context_new_opts(&o), name_of(b), 0);
	CHECK_EQ(unsetenv("IOENGINE_BACKEND"), 0);
}

static void deny_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, THIS_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	CHECK_EQ(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	CHECK_EQ(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
}

static void no_uring_child(enum ioe_backend b)
{
	struct ioe_options o = { .depth = 4, .workers = 1, .backend = b };

	CHECK_EQ(unsetenv("IOENGINE_BACKEND"), 0);
	deny_io_uring();
	/* The filter works: io_uring is really gone. */
	CHECK_EQ(syscall(__NR_io_uring_setup, 4, NULL), -1);
	CHECK_EQ(errno, EPERM);

	expect(auto_ctx(), "aio", 0);
	CHECK_EQ(setenv("IOENGINE_BACKEND", "auto", 1), 0);
	expect(auto_ctx(), "aio", 0);
	CHECK_EQ(setenv("IOENGINE_BACKEND", "aio", 1), 0);
	expect(auto_ctx(), "aio", 0);
	/* Explicit io_uring through the variable: an error, no fallback. */
	CHECK_EQ(setenv("IOENGINE_BACKEND", "uring", 1), 0);
	errno = 0;
	expect(auto_ctx(), NULL, EPERM);
	CHECK_EQ(unsetenv("IOENGINE_BACKEND"), 0);
	/* And through the options. */
	errno = 0;
	expect(ioe_context_new_opts(&o), b == IOE_BACKEND_URING ? NULL : "aio", EPERM);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	int status;
	pid_t pid;

	/* Fork first, while this process has no engine threads. */
	fflush(stderr);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		no_uring_child(b);
		exit(0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	env_choice(b);
	return 0;
}
