/* SPDX-License-Identifier: MIT */
/*
 * Telling the program that requests are done: the threads asleep in
 * aio_suspend() (done_seq), the request's sigevent (SIGEV_SIGNAL,
 * SIGEV_THREAD, SIGEV_THREAD_ID), and a lio_listio() group's waiter or
 * sigevent once its last member is done.
 */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "aio_request.h"

_Atomic uint32_t done_seq;

/*
 * A request's state changed (its result is out): wake the threads asleep
 * in aio_suspend(). ioe_wake_word() makes the system call only while one
 * sleeps on a futex; one that reaps in the kernel is woken there. The bump
 * comes after the result, and a waiter reads done_seq before it looks at
 * its list: either it sees the result, or its wait sees the bump.
 */
void done_seq_bump(void)
{
	atomic_fetch_add(&done_seq, 1);
	ioe_wake_word((uint32_t *)&done_seq);
}

/* ---- notification ---- */

struct notify_thread {
	void (*fn)(union sigval);
	union sigval val;
};

static void *notify_thread_main(void *arg)
{
	struct notify_thread nt = *(struct notify_thread *)arg;
	sigset_t none;

	free(arg);
	/* Created from an engine thread, which blocks every signal. */
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	nt.fn(nt.val);
	return NULL;
}

static void queue_signal(const struct sigevent *sev, pid_t tid)
{
	siginfo_t si;
	pid_t pid = getpid();

	memset(&si, 0, sizeof(si));
	si.si_signo = sev->sigev_signo;
	si.si_code = SI_ASYNCIO;
	si.si_pid = pid;
	si.si_uid = getuid();
	si.si_value = sev->sigev_value;
	if (tid)
		syscall(SYS_rt_tgsigqueueinfo, pid, tid, sev->sigev_signo, &si);
	else
		syscall(SYS_rt_sigqueueinfo, pid, sev->sigev_signo, &si);
}

void notify(const struct sigevent *sev)
{
	struct notify_thread *nt;
	pthread_attr_t def, *attr;
	pthread_t t;
	int ds = PTHREAD_CREATE_JOINABLE;

	switch (sev->sigev_notify) {
	case SIGEV_SIGNAL:
		queue_signal(sev, 0);
		break;
	case SIGEV_THREAD_ID:
		queue_signal(sev, sev->_sigev_un._tid);
		break;
	case SIGEV_THREAD:
		nt = malloc(sizeof(*nt));
		if (!nt) {
			shim_log(SHIM_LOG_ERROR, "aio: SIGEV_THREAD notification lost (no memory)");
			break;
		}
		nt->fn = sev->sigev_notify_function;
		nt->val = sev->sigev_value;
		attr = sev->sigev_notify_attributes;
		if (!attr) {
			pthread_attr_init(&def);
			pthread_attr_setdetachstate(&def, PTHREAD_CREATE_DETACHED);
			attr = &def;
		}
		if (pthread_create(&t, attr, notify_thread_main, nt)) {
			shim_log(SHIM_LOG_ERROR, "aio: SIGEV_THREAD notification lost (no thread)");
			free(nt);
		} else if (!pthread_attr_getdetachstate(attr, &ds) && ds == PTHREAD_CREATE_JOINABLE) {
			pthread_detach(t);	/* nobody can join it */
		}
		if (attr == &def)
			pthread_attr_destroy(&def);
		break;
	default:
		break;
	}
}

/*
 * glibc: when the completion signal cannot be queued because there is no
 * such signal, the request's result becomes that error (EINVAL, -1); the IO
 * itself was done. Signal 0 is queued (the kernel accepts it, sends nothing).
 */
ssize_t check_signal(struct sigevent *sev, ssize_t res)
{
	if (sev->sigev_notify == SIGEV_SIGNAL && (unsigned int)sev->sigev_signo >= _NSIG) {
		sev->sigev_notify = SIGEV_NONE;
		return -EINVAL;
	}
	return res;
}

/* ---- lio_listio groups ---- */

void group_put(struct lio_group *g)
{
	if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
		free(g);
}

/* One more member of g: its completion is counted, and it holds a reference. */
void group_add_member(struct lio_group *g)
{
	atomic_fetch_add_explicit(&g->pending, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

void group_member_done(struct lio_group *g, bool failed)
{
	if (failed)
		atomic_store_explicit(&g->failed, 1, memory_order_relaxed);
	if (atomic_fetch_sub_explicit(&g->pending, 1, memory_order_acq_rel) == 1) {
		if (g->mode == LIO_WAIT) {
			atomic_store_explicit(&g->done, 1, memory_order_release);
			ioe_futex_wake(&g->done, INT_MAX);
		} else if (g->has_sev) {
			notify(&g->sev);
		}
	}
	group_put(g);
}
