/* SPDX-License-Identifier: MIT */
/*
 * A sandboxed program: an allowlist seccomp filter whose default action
 * kills the process (SECCOMP_RET_KILL_PROCESS, as systemd's
 * SystemCallFilter= does), allowing exactly the system calls this program
 * makes natively. The shim must not make it die of one it would not have
 * made (io_uring_setup, io_setup, preadv2, fcntl, ...: status 159, SIGSYS).
 *
 * MODE (argv[1]):
 *   sync-before  filter in the main thread before the first pwrite/pread
 *   sync-after   filter after a first pwrite (the engine already started)
 *   aio-before   POSIX AIO under the filter (it allows what glibc's AIO
 *                needs: its helper threads)
 *   thread       a filter of one thread's own (no TSYNC), installed after
 *                the main thread's first pwrite; that thread does IO
 *   errno        no allowlist: io_uring and Linux AIO refused with EPERM
 *                (a sandbox that forbids them); no output differs either
 *   thread-child one thread installs a filter of its own that kills the
 *                shim's calls, then creates a thread, which inherits it
 *   inherited    a filter that kills io_uring's calls, installed before
 *                exec (as systemd does): the program runs itself again
 *   tsync        one that kills the shim's own calls (io_uring, Linux
 *                AIO, preadv2, fcntl), for every thread at once
 *                (SECCOMP_FILTER_FLAG_TSYNC) after the engine started,
 *                through syscall(SYS_seccomp)
 */
#include <aio.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "host.h"

#define ALLOW(nr) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define DENY(nr) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)
#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define CHECK_ARCH \
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0), \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)

/* What the synchronous program makes after the filter: IO, its output, exit. */
static struct sock_filter sync_list[] = {
	CHECK_ARCH, LOAD_NR,
	ALLOW(__NR_pread64), ALLOW(__NR_pwrite64), ALLOW(__NR_write), ALLOW(__NR_exit_group),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
};

/* A thread's, which also ends (thread exit: futex wake of the joiner, its stack kept for reuse). */
static struct sock_filter thread_list[] = {
	CHECK_ARCH, LOAD_NR,
	ALLOW(__NR_pread64), ALLOW(__NR_pwrite64), ALLOW(__NR_write), ALLOW(__NR_exit),
	ALLOW(__NR_madvise), ALLOW(__NR_futex), ALLOW(__NR_rt_sigprocmask), ALLOW(__NR_munmap),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
};

/* glibc's POSIX AIO: a helper thread per request, which waits for more work, then ends. */
static struct sock_filter aio_list[] = {
	CHECK_ARCH, LOAD_NR,
	ALLOW(__NR_pread64), ALLOW(__NR_pwrite64), ALLOW(__NR_write), ALLOW(__NR_exit_group),
	ALLOW(__NR_exit), ALLOW(__NR_futex), ALLOW(__NR_rt_sigprocmask), ALLOW(__NR_clone3),
	ALLOW(__NR_clone), ALLOW(__NR_mmap), ALLOW(__NR_mprotect), ALLOW(__NR_munmap),
	ALLOW(__NR_madvise), ALLOW(__NR_set_robust_list), ALLOW(__NR_rseq), ALLOW(__NR_brk),
	ALLOW(__NR_sched_yield), ALLOW(__NR_sched_getparam), ALLOW(__NR_sched_getscheduler),
	ALLOW(__NR_rt_sigaction),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
};

static struct sock_filter errno_list[] = {
	CHECK_ARCH, LOAD_NR,
	DENY(__NR_io_uring_setup), DENY(__NR_io_uring_enter), DENY(__NR_io_uring_register),
	DENY(__NR_io_setup), DENY(__NR_io_submit), DENY(__NR_io_getevents), DENY(__NR_io_destroy),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

/* Kill what only the shim calls; allow the rest. */
#define KILL(nr) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)
static struct sock_filter no_uring[] = {
	CHECK_ARCH, LOAD_NR,
	KILL(__NR_io_uring_setup), KILL(__NR_io_uring_enter), KILL(__NR_io_uring_register),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};
static struct sock_filter no_shim[] = {
	CHECK_ARCH, LOAD_NR,
	KILL(__NR_io_uring_setup), KILL(__NR_io_uring_enter), KILL(__NR_io_uring_register),
	KILL(__NR_io_setup), KILL(__NR_io_submit), KILL(__NR_io_getevents), KILL(__NR_io_destroy),
	KILL(__NR_preadv2), KILL(__NR_fcntl),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

#define PROG(list) (&(struct sock_fprog){ sizeof(list) / sizeof(list[0]), list })

static int fd;
static pthread_barrier_t go;

static void sandbox(struct sock_fprog *prog)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog))
		HOST_DIE("seccomp");
}

static void sync_io(const char *who)
{
	char buf[16] = { 0 }, name[64];

	snprintf(name, sizeof(name), "%s pwrite", who);
	host_show(name, pwrite(fd, "0123456789", 10, 0));
	snprintf(name, sizeof(name), "%s pread", who);
	host_show(name, pread(fd, buf, sizeof(buf), 2));
	printf("%s read: %s\n", who, buf);
	fflush(stdout);
}

static void aio_io(void)
{
	struct aiocb w = { .aio_fildes = fd, .aio_buf = "abcdef", .aio_nbytes = 6,
			  .aio_sigevent.sigev_notify = SIGEV_NONE };
	struct aiocb r = { .aio_fildes = fd, .aio_nbytes = 4, .aio_offset = 1,
			  .aio_sigevent.sigev_notify = SIGEV_NONE };
	const struct aiocb *list[1];
	char buf[8] = { 0 };

	r.aio_buf = buf;
	host_show("aio_write", aio_write(&w));
	list[0] = &w;
	while (aio_error(&w) == EINPROGRESS)
		aio_suspend(list, 1, NULL);
	host_show("aio_return write", aio_return(&w));
	host_show("aio_read", aio_read(&r));
	list[0] = &r;
	while (aio_error(&r) == EINPROGRESS)
		aio_suspend(list, 1, NULL);
	host_show("aio_return read", aio_return(&r));
	printf("aio read: %s\n", buf);
	fflush(stdout);
}

static void *sync_io_thread(void *arg)
{
	sync_io(arg);
	return NULL;
}

static void *sandboxed_thread(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&go);
	sandbox(PROG(thread_list));
	sync_io("thread");
	return NULL;
}

/* Creates a thread after a filter of its own, which the new one inherits. */
static void *filter_then_thread(void *arg)
{
	pthread_t t2;

	(void)arg;
	sandbox(PROG(no_shim));
	if (pthread_create(&t2, NULL, sync_io_thread, "grandchild") || pthread_join(t2, NULL))
		HOST_DIE("thread");
	return NULL;
}

/* Created before a TSYNC filter, which it gets too. */
static void *plain_thread(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&go);
	sync_io("thread");
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	pthread_t t;

	/* stdio's buffer and fstat now, before any filter. */
	printf("mode %s\n", mode);
	fflush(stdout);
	fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		HOST_DIE("open");
	if (!strcmp(mode, "sync-before")) {
		sandbox(PROG(sync_list));
		sync_io("main");
	} else if (!strcmp(mode, "sync-after")) {
		sync_io("before");
		sandbox(PROG(sync_list));
		sync_io("main");
	} else if (!strcmp(mode, "aio-before")) {
		sandbox(PROG(aio_list));
		aio_io();
	} else if (!strcmp(mode, "thread")) {
		if (pthread_barrier_init(&go, NULL, 2) || pthread_create(&t, NULL, sandboxed_thread, NULL))
			HOST_DIE("thread");
		sync_io("main");
		pthread_barrier_wait(&go);
		pthread_join(t, NULL);
		sync_io("main again");
	} else if (!strcmp(mode, "errno")) {
		sandbox(PROG(errno_list));
		sync_io("main");
		aio_io();
	} else if (!strcmp(mode, "thread-child")) {
		sync_io("main");
		if (pthread_create(&t, NULL, filter_then_thread, NULL) || pthread_join(t, NULL))
			HOST_DIE("thread");
		sync_io("main again");
	} else if (!strcmp(mode, "inherited")) {
		sandbox(PROG(no_uring));
		execl("/proc/self/exe", argv[0], "inherited-run", (char *)NULL);
		HOST_DIE("exec");
	} else if (!strcmp(mode, "inherited-run")) {
		sync_io("main");
		aio_io();
	} else if (!strcmp(mode, "tsync")) {
		if (pthread_barrier_init(&go, NULL, 2) || pthread_create(&t, NULL, plain_thread, NULL))
			HOST_DIE("thread");
		sync_io("main");
		aio_io();
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, PROG(no_shim)))
			HOST_DIE("seccomp");
		pthread_barrier_wait(&go);
		pthread_join(t, NULL);
		sync_io("main again");
		aio_io();
	} else {
		HOST_DIE("mode %s", mode);
	}
	return 0;
}
