/* SPDX-License-Identifier: MIT */
/*
 * The process's engine: created on first use, forgotten (never touched) in a
 * fork child, never torn down at exit. Constructor and destructor live here.
 *
 * A child of _Fork() or of a raw clone() without CLONE_VM runs no atfork
 * handler: it would take the parent's engine for its own, and wait for its
 * threads, which it does not have (a hang), or use its AIO ring, which it
 * has not mapped (a crash). It uses the real calls instead, as a vfork child
 * does; it is told by a word the kernel zeroes in every child of fork() and
 * its kin (MADV_WIPEONFORK), which fork()'s own handler then sets again. It
 * builds no engine of its own either: a child of a multi-threaded _Fork()
 * may only call async-signal-safe functions (pread() is one), and a malloc()
 * lock another thread held in the parent stays locked in it.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include "shim.h"

enum { ENG_NONE, ENG_STARTING, ENG_READY, ENG_FAILED };

static _Atomic int eng_state;
static struct ioe_context *eng;		/* published by eng_state == ENG_READY */
/* What a thread's seccomp filters must allow for it to use eng (sandbox.c). */
static unsigned int eng_needs;
/* The process the state above belongs to: a vfork child (no atfork handler
 * ran) sees another pid and keeps its hands off (see vfork.c). */
static _Atomic pid_t eng_pid;

/* The word zeroed in a child (see the top); with no WIPEONFORK, always OWN. */
enum { CHILD_UNSEEN, OWN, CHILD_SEEN };
static _Atomic int own_fallback = OWN;
static _Atomic int *_Atomic own_word = &own_fallback;	/* set at most once, maybe at start-up */

int shim_initialised;

static struct ioe_context *start(enum ioe_backend b, int *err)
{
	struct ioe_options o = { .depth = shim_cfg.depth, .workers = shim_cfg.workers, .backend = b };
	struct ioe_context *ctx = ioe_context_new_merging(&o, shim_cfg.merge_limit);

	*err = ctx ? 0 : errno;
	return ctx;
}

/* sb: the groups of system calls this thread's seccomp filters allow (SHIM_SB_*). */
static struct ioe_context *create(unsigned int sb)
{
	struct ioe_context *ctx = NULL;
	int saved = errno, err_uring = EPERM, err_aio = EPERM;

	/* Explicit backends here: the engine's own IOENGINE_BACKEND parsing
	 * would refuse a bad value that the shim already replaced by auto. */
	if (shim_cfg.backend != IOE_BACKEND_AIO && (sb & SHIM_SB_URING))
		ctx = start(IOE_BACKEND_URING, &err_uring);
	if (!ctx && shim_cfg.backend != IOE_BACKEND_URING && (sb & SHIM_SB_AIO))
		ctx = start(IOE_BACKEND_AIO, &err_aio);
	if (ctx) {
		eng_needs = SHIM_SB_CORE | (strcmp(ioe_backend_name(ctx), "aio") ? SHIM_SB_URING : SHIM_SB_AIO);
		shim_log(SHIM_LOG_INFO, "engine started in pid %d: backend=%s depth=%u workers=%u fastpath=%s",
			 (int)getpid(), ioe_backend_name(ctx), shim_cfg.depth, shim_cfg.workers,
			 shim_cfg.fastpath ? "on" : "off");
	} else if (shim_cfg.backend == IOE_BACKEND_AUTO) {
		/*
		 * Info, not a warning: the program runs as it would without
		 * the shim (a sandbox, an fd or AIO limit), and its stderr is
		 * its own. The stats summary says backend=none.
		 */
		shim_log(SHIM_LOG_INFO, "no IO backend could start (io_uring: %s, aio: %s); using the plain system calls",
			 strerrorname_np(err_uring), strerrorname_np(err_aio));
	} else {
		/* An explicit choice does not fall back to the other backend. */
		shim_log(SHIM_LOG_INFO, "IOENGINE_BACKEND=%s cannot start (%s); using the plain system calls",
			 shim_cfg.backend == IOE_BACKEND_URING ? "uring" : "aio",
			 strerrorname_np(shim_cfg.backend == IOE_BACKEND_URING ? err_uring : err_aio));
	}
	errno = saved;
	return ctx;
}

/* False in a child that ran no atfork handler (see the top); its first look resets the stats. */
static bool own_state(void)
{
	int w = atomic_load_explicit(own_word, memory_order_relaxed);

	if (w == OWN)
		return true;
	if (w == CHILD_UNSEEN && atomic_compare_exchange_strong(own_word, &w, CHILD_SEEN))
		shim_stats_reset();
	return false;
}

static void own_word_init(void)
{
	_Atomic int *word = ioe_fork_word_new();

	if (!word)
		return;
	*word = OWN;
	own_word = word;
}

/* This thread is creating the engine: what it calls meanwhile takes the real calls. */
static __thread bool starting_here;

/*
 * Another thread is creating the engine: wait for it, rather than give this
 * call to glibc (a multi-threaded program's first calls come together; a
 * lio_listio(LIO_WAIT) that glibc's AIO took and a signal interrupted
 * leaves its wait list on the stack, and glibc's helper later writes there
 * and frees garbage: the stress program's workers crashed so).
 */
static int wait_started(void)
{
	int s, saved = errno;

	while ((s = atomic_load_explicit(&eng_state, memory_order_acquire)) == ENG_STARTING)
		ioe_futex_wait(&eng_state, ENG_STARTING, NULL);
	errno = saved;
	return s;
}

/*
 * Build the engine in this thread, which other threads wait for: it must
 * finish whatever the thread does meanwhile. Cancellation is off (the
 * start-up log line is a write(), a cancellation point; a pending cancel
 * acts at the caller's next one, as for a call that had its effect), and
 * signals are blocked, so that no handler of the program runs in the middle
 * and leaves it by longjmp() or pthread_exit(). Signals wait the few
 * milliseconds of a start-up, or go to another thread.
 */
static void start_here(unsigned int sb)
{
	sigset_t old;
	int cancel;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	ioe_signals_block(&old);
	starting_here = true;
	if (own_word == &own_fallback)
		own_word_init();	/* put off by a seccomp filter at load time (shim_init()) */
	eng = create(sb);
	starting_here = false;
	if (eng)
		shim_stats_engine(eng);
	atomic_store_explicit(&eng_state, eng ? ENG_READY : ENG_FAILED, memory_order_release);
	ioe_futex_wake(&eng_state, INT_MAX);
	ioe_signals_restore(&old);
	pthread_setcancelstate(cancel, NULL);
}

struct ioe_context *shim_engine(void)
{
	int s = atomic_load_explicit(&eng_state, memory_order_acquire);
	unsigned int sb;

	if (!own_state() || !__atomic_load_n(&shim_initialised, __ATOMIC_ACQUIRE))
		return NULL;
	/* A seccomp filter that forbids the engine's system calls in this thread: real calls. */
	sb = shim_sandbox_mask();
	if (s == ENG_READY)
		return (sb & eng_needs) == eng_needs &&
		       (!__atomic_load_n(&shim_vfork_called, __ATOMIC_RELAXED) ||
			getpid() == atomic_load_explicit(&eng_pid, memory_order_relaxed)) ? eng : NULL;
	/* Failed, being created by this thread, or a vfork child (see vfork.c): real calls. */
	if (s == ENG_FAILED || starting_here || !(sb & SHIM_SB_CORE) ||
	    getpid() != atomic_load_explicit(&eng_pid, memory_order_relaxed))
		return NULL;
	if (s == ENG_STARTING || !atomic_compare_exchange_strong(&eng_state, &s, ENG_STARTING))
		return wait_started() == ENG_READY ? eng : NULL;
	start_here(sb);
	return eng;
}

/*
 * The child has none of the engine's threads, and an io_uring's rings are
 * still mapped in it: forget the parent's engine without touching it (its
 * memory is leaked in the child, deliberately). The child starts its own on
 * first use.
 */
static void atfork_child(void)
{
	/* Its descriptors (the shared ring's fd) are no business of the child's. */
	ioe_context_forget(eng);
	eng = NULL;
	atomic_store_explicit(&eng_pid, getpid(), memory_order_relaxed);
	atomic_store_explicit(&eng_state, ENG_NONE, memory_order_release);
	shim_stats_reset();	/* the backend too */
	atomic_store_explicit(own_word, OWN, memory_order_release);
}

/*
 * Under a seccomp filter inherited at exec, the constructor makes no system
 * call the dynamic loader did not make (see sandbox.c): the pid comes from
 * /proc/self/status, the fork word waits for a start-up the filter allows.
 */
__attribute__((constructor)) static void shim_init(void)
{
	pid_t pid;

	shim_resolve();
	shim_config_load();
	pid = shim_sandbox_init();
	if (atomic_load(&shim_sb_process) == (SHIM_SB_KNOWN | SHIM_SB_ALL))
		own_word_init();
	if (!pid)
		pid = getpid();
	atomic_store_explicit(&eng_pid, pid, memory_order_relaxed);
	shim_report_init(pid);
	pthread_atfork(NULL, NULL, atfork_child);
	__atomic_store_n(&shim_initialised, 1, __ATOMIC_RELEASE);
}

/*
 * Other destructors may still call pread() after this one: the engine keeps
 * running (the kernel cleans up at exit); only the reports are written.
 * A child that ran no atfork handler resets the stats at its first look
 * (own_state()): it reports nothing of its parent's.
 */
__attribute__((destructor)) static void shim_fini(void)
{
	own_state();
	shim_report_exit();
}
