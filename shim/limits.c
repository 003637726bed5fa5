/* SPDX-License-Identifier: MIT */
/*
 * RLIMIT_FSIZE without a system call per write. The kernel raises SIGXFSZ
 * in the thread that issues a write at the limit. glibc's POSIX AIO issues
 * it from a helper thread that blocks every signal, so the program never
 * gets it (nor, with the default action, dies of it); the shim issues a
 * POSIX AIO write from the program's own thread (aio.c) only while no limit
 * is set. Whether one is set is asked of the kernel at the first such
 * write, and again after each call of the program's that may change it:
 * setrlimit(), prlimit() and their 64 names, interposed here, and syscall()
 * for either (sandbox.c). A limit that another process sets on this one
 * with prlimit(PID) is not seen (README, Limitations).
 *
 * Not instrumented by a sanitizer: its runtime calls setrlimit() while it
 * initialises itself, before instrumented code may run; and the system
 * call is made without libc's syscall(), which sandbox.c interposes.
 */
#include <errno.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"

#define SHIM_API __attribute__((visibility("default")))
#define NO_SANITIZE __attribute__((no_sanitize("address", "thread", "undefined")))

enum { FSIZE_UNKNOWN, FSIZE_UNLIMITED, FSIZE_LIMITED };

/* A generation (bumped by every change) << 2 | the state. */
static _Atomic unsigned int fsize;

NO_SANITIZE static void fsize_set(unsigned int state)
{
	unsigned int v = atomic_load_explicit(&fsize, memory_order_relaxed);

	while (!atomic_compare_exchange_weak(&fsize, &v, (((v >> 2) + 1) << 2) | state))
		;
}

NO_SANITIZE void shim_fsize_changing(void)
{
	fsize_set(FSIZE_LIMITED);	/* no write from the program's thread meanwhile */
}

NO_SANITIZE void shim_fsize_changed(void)
{
	fsize_set(FSIZE_UNKNOWN);
}

bool shim_fsize_unlimited(void)
{
	unsigned int v = atomic_load_explicit(&fsize, memory_order_acquire), state;
	struct rlimit rl;
	int saved;

	if ((v & 3) != FSIZE_UNKNOWN)
		return (v & 3) == FSIZE_UNLIMITED;
	saved = errno;
	state = !getrlimit(RLIMIT_FSIZE, &rl) && rl.rlim_cur == RLIM_INFINITY ? FSIZE_UNLIMITED : FSIZE_LIMITED;
	errno = saved;
	/* A change since the look above asks again: this answer may be older than it. */
	return atomic_compare_exchange_strong(&fsize, &v, (v & ~3u) | state) && state == FSIZE_UNLIMITED;
}

NO_SANITIZE static int change(pid_t pid, int resource, const void *limit, void *old)
{
	long ret;

	if (limit)
		shim_fsize_changing();
	ret = IOE_RAW(SYS_prlimit64, pid, resource, limit, old, 0, 0);
	if (limit)
		shim_fsize_changed();
	/* Not ioe_raw_errno(): its store to errno would be instrumented, and a sanitizer calls setrlimit() while it starts. */
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return 0;
}

/* glibc makes each of these one prlimit64 system call. */
NO_SANITIZE SHIM_API int setrlimit(__rlimit_resource_t resource, const struct rlimit *limit)
{
	return change(0, resource, limit, NULL);
}

NO_SANITIZE SHIM_API int setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *limit)
{
	return change(0, resource, limit, NULL);
}

NO_SANITIZE SHIM_API int prlimit(pid_t pid, __rlimit_resource_t resource, const struct rlimit *limit, struct rlimit *old)
{
	return change(pid, resource, limit, old);
}

NO_SANITIZE SHIM_API int prlimit64(pid_t pid, __rlimit_resource_t resource, const struct rlimit64 *limit,
		       struct rlimit64 *old)
{
	return change(pid, resource, limit, old);
}
