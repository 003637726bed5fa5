/* SPDX-License-Identifier: MIT */
/*
 * Seccomp: the shim never makes the program die of a system call it would
 * not have made. Under a filter whose action for a call is KILL or TRAP
 * (systemd's SystemCallFilter= kills by default), each of the shim's own
 * calls (io_uring_setup, io_setup, preadv2, fcntl, clone for the engine's
 * threads, ...) could end the process. Before a thread uses any of them, the
 * shim knows what its filters do with them; what would not survive is left
 * to the real functions.
 *
 * What the shim knows comes from three places:
 *  - A filter inherited at exec (systemd, a container): the constructor
 *    reads "Seccomp:" in /proc/self/status with open/read/close, the calls
 *    the dynamic loader has just made under that same filter to load this
 *    library (prctl(PR_GET_SECCOMP) would be a call it never made). The
 *    first routed call then probes the shim's calls in a short-lived child
 *    that inherits the filter (below). The probe itself needs clone3() or
 *    clone(): a filter that kills those kills the program at its first
 *    routed call; see docs/services.md.
 *  - A filter the program installs itself, prctl(PR_SET_SECCOMP) or
 *    syscall(SYS_seccomp): both libc functions are interposed here. Before
 *    the real call, a child with the thread's current filters installs the
 *    new one too and probes; the clone3() it takes is made under filters
 *    already known to allow it. With SECCOMP_FILTER_FLAG_TSYNC the result
 *    holds for every thread; else for this thread only, and threads
 *    created afterwards may have inherited it (the shim cannot tell from
 *    whom): each is probed at its first routed call. glibc's
 *    pthread_create() made clone3() (or clone() after ENOSYS) under the
 *    filters it inherited, and the probe makes the same calls.
 *  - A filter installed by a raw system call instruction, or a SECCOMP_RET_
 *    USER_NOTIF/TRACE filter whose supervisor hangs on unknown calls: not
 *    seen or not probed; docs/services.md says so.
 *
 * The probe: clone3(CLONE_VM | CLONE_VFORK) with exit signal 0 (the
 * program's SIGCHLD handler and its waitpid(-1) never see it; waitid(__WALL)
 * reaps it, unless the child found that waitid() kills: then it stays a
 * zombie) on a small mmap'd stack. The child blocks every signal (a TRAP's SIGSYS
 * then kills it rather than running the program's handler on shared
 * memory), sets RLIMIT_CORE to 0 (no core file of the probe), and makes
 * each call with arguments that fail harmlessly (fd -1, length 0), writing
 * the step it is at into shared memory: if it dies, that step killed it.
 * Calls come in groups (the shim's own, io_uring's, Linux AIO's): a group
 * with a call that kills is not used, and a new child goes on with the next
 * group. Only raw system calls in the child: it shares the parent's memory
 * and TLS (errno).
 *
 * The cost on the hot path is one thread-local load and one relaxed global
 * load per routed call (shim.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "shim.h"

#define SHIM_API __attribute__((visibility("default")))

__thread unsigned int shim_sb_thread __attribute__((tls_model("initial-exec")));
/* Unknown (0) until /proc/self/status was read (shim_sandbox_init()). */
_Atomic unsigned int shim_sb_process;
static _Atomic bool status_read;

/* The process's filters are not probed yet / a thread is probing them. */
enum { PROC_PENDING = 0, PROC_PROBING = 1 };
static _Atomic unsigned int proc_probe_state = PROC_PENDING;
/* A thread installed a filter of its own (no TSYNC): new threads may have it. */
static _Atomic bool private_filters;


/* ---- what the shim and the engine call, with harmless arguments ---- */

struct probe_shared {
	int futex_word;
	struct stat st;
	struct timespec ts;
	uint64_t full_mask;
	struct rlimit no_core;
	volatile int at;		/* the step being made, or N_STEPS once all survived */
	int start;			/* first step to make */
	bool skip_rlimit;
	/* A filter to install first (the interposed call), else nr < 0. */
	long inst_nr, inst_a, inst_b, inst_c;
	long inst_ret;
};

struct step {
	long nr;
	unsigned int group;
	int ptr;	/* 1 + the index of the argument that is a P() offset, or 0 */
	long a[6];
};

/* A pthread_create() clone without CLONE_VM: EINVAL (CLONE_SIGHAND needs CLONE_VM), after the filter ran. */
#define CLONE_BAD (CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | \
		   CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

/* An argument that points into the child's struct probe_shared: its offset there. */
#define P(field) ((long)offsetof(struct probe_shared, field))

/* Before the table: the child's own set-up, and waitid(), which the parent needs to reap it. */
enum { STEP_BLOCK, STEP_WAITID, STEP_RLIMIT, STEP_INSTALL, STEP_FIRST };

static const struct step steps[] = {
	/* The shim's own and the engine's common calls (threads, waits, fd checks, plain IO). */
	{ SYS_rt_sigprocmask, SHIM_SB_CORE, 0, { SIG_BLOCK, 0, 0, 8 } },
	{ SYS_futex, SHIM_SB_CORE, 1, { P(futex_word), FUTEX_WAKE_PRIVATE, 0 } },
	{ SYS_fcntl, SHIM_SB_CORE, 0, { -1, F_GETFL } },
	{ SYS_newfstatat, SHIM_SB_CORE, 3, { -1, (long)"", P(st), AT_EMPTY_PATH } },
	{ SYS_lseek, SHIM_SB_CORE, 0, { -1, 0, SEEK_CUR } },
	{ SYS_preadv2, SHIM_SB_CORE, 0, { -1, 0, 0, 0, 0, RWF_NOWAIT } },
	{ SYS_preadv, SHIM_SB_CORE, 0, { -1 } },
	{ SYS_pwritev, SHIM_SB_CORE, 0, { -1 } },
	{ SYS_pread64, SHIM_SB_CORE, 0, { -1 } },
	{ SYS_pwrite64, SHIM_SB_CORE, 0, { -1 } },
	{ SYS_fsync, SHIM_SB_CORE, 0, { -1 } },
	{ SYS_fdatasync, SHIM_SB_CORE, 0, { -1 } },
	{ SYS_getpid, SHIM_SB_CORE, 0, { 0 } },
	{ SYS_gettid, SHIM_SB_CORE, 0, { 0 } },
	{ SYS_clone, SHIM_SB_CORE, 0, { CLONE_BAD } },
	{ SYS_clone3, SHIM_SB_CORE, 0, { 0, 0 } },
	{ SYS_set_robust_list, SHIM_SB_CORE, 0, { 0, 0 } },
	{ SYS_rseq, SHIM_SB_CORE, 0, { 0, 0, 1, 0 } },
	{ SYS_mmap, SHIM_SB_CORE, 0, { 0, 0, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0 } },
	{ SYS_munmap, SHIM_SB_CORE, 0, { 0, 0 } },
	{ SYS_mprotect, SHIM_SB_CORE, 0, { 0, 0, PROT_NONE } },
	{ SYS_madvise, SHIM_SB_CORE, 0, { 0, 0, MADV_NORMAL } },
	{ SYS_brk, SHIM_SB_CORE, 0, { 0 } },
	{ SYS_prctl, SHIM_SB_CORE, 0, { PR_SET_NAME, (long)"ioe-probe" } },
	{ SYS_openat, SHIM_SB_CORE, 0, { -1, (long)"", O_RDONLY | O_CLOEXEC } },
	{ SYS_read, SHIM_SB_CORE, 0, { -1 } },
	{ SYS_write, SHIM_SB_CORE, 0, { -1 } },
	{ SYS_close, SHIM_SB_CORE, 0, { -1 } },
	{ SYS_sched_yield, SHIM_SB_CORE, 0, { 0 } },
	{ SYS_clock_nanosleep, SHIM_SB_CORE, 3, { CLOCK_REALTIME, 0, P(ts), 0 } },
	{ SYS_clock_gettime, SHIM_SB_CORE, 2, { CLOCK_MONOTONIC, P(ts) } },
	{ SYS_rt_sigqueueinfo, SHIM_SB_CORE, 0, { 0, 0, 0 } },
	{ SYS_rt_tgsigqueueinfo, SHIM_SB_CORE, 0, { 0, 0, 0, 0 } },
	{ SYS_tgkill, SHIM_SB_CORE, 0, { 0, 0, 0 } },
	/* io_uring */
	{ SYS_io_uring_setup, SHIM_SB_URING, 0, { 0, 0 } },
	{ SYS_io_uring_enter, SHIM_SB_URING, 0, { -1 } },
	{ SYS_io_uring_register, SHIM_SB_URING, 0, { -1 } },
	/* Linux AIO */
	{ SYS_io_setup, SHIM_SB_AIO, 0, { 0, 0 } },
	{ SYS_io_submit, SHIM_SB_AIO, 0, { 0, 0, 0 } },
	{ SYS_io_getevents, SHIM_SB_AIO, 0, { 0, 0, 0, 0, 0 } },
	{ SYS_io_cancel, SHIM_SB_AIO, 0, { 0, 0, 0 } },
	{ SYS_io_destroy, SHIM_SB_AIO, 0, { 0 } },
};

#define N_STEPS (STEP_FIRST + (int)(sizeof(steps) / sizeof(steps[0])))

__attribute__((no_sanitize("address", "undefined"), always_inline))
static inline long step_arg(struct probe_shared *p, const struct step *s, int i)
{
	return s->ptr == i + 1 ? (long)((char *)p + s->a[i]) : s->a[i];
}

__attribute__((no_sanitize("address", "undefined"), noinline))
static int probe_child(void *argp)
{
	struct probe_shared *p = argp;

	p->at = STEP_BLOCK;
	IOE_RAW(SYS_rt_sigprocmask, SIG_SETMASK, &p->full_mask, 0, 8, 0, 0);
	p->at = STEP_WAITID;
	IOE_RAW(SYS_waitid, P_ALL, 0, 0, WEXITED | WNOHANG | __WALL, 0, 0);	/* no child: ECHILD */
	if (!p->skip_rlimit) {
		p->at = STEP_RLIMIT;
		IOE_RAW(SYS_prlimit64, 0, RLIMIT_CORE, &p->no_core, 0, 0, 0);
	}
	if (p->inst_nr >= 0) {
		p->at = STEP_INSTALL;
		p->inst_ret = IOE_RAW(p->inst_nr, p->inst_a, p->inst_b, p->inst_c, 0, 0, 0);
		if (p->inst_ret < 0)
			IOE_RAW(SYS_exit, 0, 0, 0, 0, 0, 0);
	}
	for (int i = p->start; i < N_STEPS; i++) {
		const struct step *s = &steps[i - STEP_FIRST];

		p->at = i;
		IOE_RAW(s->nr, step_arg(p, s, 0), step_arg(p, s, 1), step_arg(p, s, 2), step_arg(p, s, 3), step_arg(p, s, 4), step_arg(p, s, 5));
	}
	p->at = N_STEPS;
	IOE_RAW(SYS_exit, 0, 0, 0, 0, 0, 0);
	return 0;
}

#define PROBE_STACK (64 * 1024)

#if defined(__x86_64__)
/*
 * clone3() as glibc's pthread_create() makes it, so that a thread it
 * created is known to survive it (or to get ENOSYS, and clone() then):
 * the child starts on the new stack and calls fn(arg), then exits.
 */
static long clone3_vfork(void *stack, int (*fn)(void *), void *arg)
{
	struct clone_args {
		uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	} ca = { .flags = CLONE_VM | CLONE_VFORK, .stack = (uintptr_t)stack, .stack_size = PROBE_STACK };
	register long rax __asm__("rax") = SYS_clone3;
	register void *r12 __asm__("r12") = (void *)fn;
	register void *r13 __asm__("r13") = arg;

	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "mov %%r13, %%rdi\n\t"
			 "call *%%r12\n\t"
			 "mov $60, %%eax\n\t"		/* SYS_exit */
			 "xor %%edi, %%edi\n\t"
			 "syscall\n\t"
			 "hlt\n"
			 "1:"
			 : "+a"(rax)
			 : "D"(&ca), "S"(sizeof(ca)), "r"(r12), "r"(r13)
			 : "rcx", "r11", "memory");
	return rax;
}
#else
static long clone3_vfork(void *stack, int (*fn)(void *), void *arg)
{
	(void)stack, (void)fn, (void)arg;
	return -ENOSYS;
}
#endif

/* One child from p->start on; false if it could not run or cannot be reaped. */
static bool run_child(struct probe_shared *p, void *stack)
{
	siginfo_t si;
	long pid;

	p->at = -1;
	p->inst_ret = 0;
	pid = clone3_vfork(stack, probe_child, p);
	if (pid == -ENOSYS) {
		pid = clone(probe_child, (char *)stack + PROBE_STACK, CLONE_VM | CLONE_VFORK, p);
		if (pid < 0)
			pid = -errno;
	}
	if (pid < 0)
		return false;
	/* A filter that kills waitid() (the child died making it): left a zombie, nothing known. */
	if (p->at <= STEP_WAITID)
		return false;
	while (IOE_RAW(SYS_waitid, P_PID, pid, &si, WEXITED | __WALL, 0, 0) == -EINTR)
		;
	return true;
}

static int group_end(unsigned int group)
{
	int i = STEP_FIRST;

	while (i < N_STEPS && steps[i - STEP_FIRST].group != group)
		i++;
	while (i < N_STEPS && steps[i - STEP_FIRST].group == group)
		i++;
	return i;
}

/*
 * The groups that survive this thread's filters, plus the one given by
 * inst_* (nr < 0: none) installed first. *refused: the install itself
 * failed (the real call will too).
 */
static unsigned int probe(long inst_nr, long inst_a, long inst_b, long inst_c, bool *refused)
{
	struct probe_shared p = {
		.full_mask = ~0ull, .start = STEP_FIRST, .inst_nr = inst_nr,
		.inst_a = inst_a, .inst_b = inst_b, .inst_c = inst_c,
	};
	unsigned int mask = SHIM_SB_ALL;
	int saved = errno;
	void *stack;

	*refused = false;
	stack = (void *)IOE_RAW(SYS_mmap, 0, PROBE_STACK, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if ((unsigned long)stack > -4096ul)
		return 0;
	while (p.start < N_STEPS) {
		if (!run_child(&p, stack)) {
			mask = 0;	/* no child: nothing can be known */
			break;
		}
		if (p.at == N_STEPS)
			break;
		if (p.at == STEP_INSTALL && p.inst_ret < 0) {
			*refused = true;
			break;
		}
		if (p.at == STEP_RLIMIT) {
			p.skip_rlimit = true;
			continue;
		}
		if (p.at < STEP_FIRST) {
			mask = 0;
			break;
		}
		/* Step p.at killed the child: its group is out, the next group goes on. */
		mask &= ~steps[p.at - STEP_FIRST].group;
		if (!(mask & SHIM_SB_CORE)) {
			mask = 0;
			break;
		}
		p.start = group_end(steps[p.at - STEP_FIRST].group);
	}
	IOE_RAW(SYS_munmap, stack, PROBE_STACK, 0, 0, 0, 0);
	errno = saved;
	return mask;
}

/* ---- the per-thread and per-process answers ---- */

/* Probe the filters every thread has (inherited at exec); once, by the first thread that asks. */
static unsigned int process_probe(void)
{
	unsigned int expect = PROC_PENDING, mask;
	bool refused;

	if (!atomic_compare_exchange_strong(&proc_probe_state, &expect, PROC_PROBING))
		return 0;	/* another thread is probing: real calls meanwhile */
	mask = probe(-1, 0, 0, 0, &refused);
	if (mask != SHIM_SB_ALL)
		shim_log(SHIM_LOG_INFO, "a seccomp filter kills%s%s%s; the plain calls are used instead",
			 mask & SHIM_SB_CORE ? "" : " the shim's own calls (threads, fd checks, preadv2)",
			 mask & SHIM_SB_URING ? "" : " io_uring's calls",
			 mask & SHIM_SB_AIO ? "" : " Linux AIO's calls");
	atomic_store_explicit(&shim_sb_process, SHIM_SB_KNOWN | mask, memory_order_release);
	return SHIM_SB_KNOWN | mask;
}

unsigned int shim_sandbox_slow(void)
{
	unsigned int t = shim_sb_thread, p;

	if (!(t & SHIM_SB_KNOWN)) {
		/*
		 * First call in this thread. Its filters are the process's,
		 * unless a thread installed one of its own, which this one may
		 * have inherited: then they are probed (pthread_create() made
		 * the clone3() or clone() for it under them).
		 */
		bool refused;

		t = SHIM_SB_KNOWN | (atomic_load(&private_filters) ? probe(-1, 0, 0, 0, &refused) : SHIM_SB_ALL);
		shim_sb_thread = t;
	}
	if (!atomic_load(&status_read))
		shim_sandbox_init();	/* before the constructor: from another library's */
	p = atomic_load_explicit(&shim_sb_process, memory_order_acquire);
	if (!(p & SHIM_SB_KNOWN) && (t & SHIM_SB_CORE))
		p = process_probe();
	return t & p & SHIM_SB_ALL;
}

/*
 * The constructor: is a filter in force (inherited at exec)? Returns the
 * pid read beside it (0 if unknown), so that the constructor needs no
 * getpid(), a call the filter may forbid.
 */
pid_t shim_sandbox_init(void)
{
	char buf[4096], *s;
	long fd, n, len = 0;
	pid_t pid = 0;
	int mode = -1;

	fd = IOE_RAW(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd >= 0) {
		while (len < (long)sizeof(buf) - 1 &&
		       (n = IOE_RAW(SYS_read, fd, buf + len, sizeof(buf) - 1 - (size_t)len, 0, 0, 0)) > 0)
			len += n;
		IOE_RAW(SYS_close, fd, 0, 0, 0, 0, 0);
		buf[len] = 0;
		if ((s = strstr(buf, "\nTgid:")))
			pid = (pid_t)strtol(s + 6, NULL, 10);
		/* No "Seccomp:" line: a kernel without seccomp. */
		mode = (s = strstr(buf, "\nSeccomp:")) ? (int)strtol(s + 9, NULL, 10) : 0;
	}
	if (mode == 0)
		atomic_store(&shim_sb_process, SHIM_SB_KNOWN | SHIM_SB_ALL);
	else if (mode == SECCOMP_MODE_STRICT)
		atomic_store(&shim_sb_process, SHIM_SB_KNOWN);
	else
		atomic_store(&shim_sb_process, 0);	/* a filter, or unknown: probe on first use */
	atomic_store(&status_read, true);
	return pid;
}

/* ---- filters the program installs ---- */

/*
 * Called before the program's own call that installs a filter: probe with
 * the filter installed in the child, then make the real call and record
 * the answer if it succeeded.
 */
static long install(long nr, long a, long b, long c, bool strict, bool tsync)
{
	unsigned int now = shim_sandbox_mask(), mask = 0;
	bool refused = false;
	long ret;

	/* A NEW_LISTENER filter's supervisor would be asked about the probe's calls: not probed. */
	if (!strict && (now & SHIM_SB_CORE) &&
	    !(nr == SYS_seccomp && (b & SECCOMP_FILTER_FLAG_NEW_LISTENER)))
		mask = probe(nr, a, b, c, &refused) & now;
	if (!refused) {
		if (tsync)
			atomic_fetch_and(&shim_sb_process, mask | SHIM_SB_KNOWN);
		else
			atomic_store(&private_filters, true);
	}
	ret = IOE_RAW(nr, a, b, c, 0, 0, 0);
	if (ret >= 0)
		shim_sb_thread = SHIM_SB_KNOWN | mask;
	return ret;
}

#if IOE_RAW_BYPASSES_LIBC
SHIM_API int prctl(int option, ...)
{
	unsigned long a[4];
	va_list ap;

	va_start(ap, option);
	for (int i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	if (option == PR_SET_SECCOMP && (a[0] == SECCOMP_MODE_FILTER || a[0] == SECCOMP_MODE_STRICT))
		return (int)ioe_raw_errno(install(SYS_prctl, option, (long)a[0], (long)a[1],
					      a[0] == SECCOMP_MODE_STRICT, false));
	return (int)ioe_raw_errno(IOE_RAW(SYS_prctl, option, a[0], a[1], a[2], a[3], 0));
}

/*
 * Six arguments are read whatever the call takes, as glibc's syscall()
 * does (the sixth from the caller's stack): not an error for AddressSanitizer.
 */
__attribute__((no_sanitize("address")))
SHIM_API long syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_seccomp && (a[0] == SECCOMP_SET_MODE_FILTER || a[0] == SECCOMP_SET_MODE_STRICT))
		return ioe_raw_errno(install(nr, a[0], a[1], a[2], a[0] == SECCOMP_SET_MODE_STRICT,
					 a[0] == SECCOMP_SET_MODE_FILTER && (a[1] & SECCOMP_FILTER_FLAG_TSYNC)));
	if (nr == SYS_prlimit64 || nr == SYS_setrlimit) {
		long ret;

		shim_fsize_changing();
		ret = ioe_raw_errno(IOE_RAW(nr, a[0], a[1], a[2], a[3], a[4], a[5]));
		shim_fsize_changed();
		return ret;
	}
	return ioe_raw_errno(IOE_RAW(nr, a[0], a[1], a[2], a[3], a[4], a[5]));
}
#endif
