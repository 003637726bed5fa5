/* SPDX-License-Identifier: MIT */
/* Signal-aware waits of callers, and the poller's naps: see caller_wait.h. */
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include "caller_wait.h"
#include "../signals.h"
#include "../futex.h"

/* The next signal after *sig that is pending and that the caller's mask lets in: false when none is left. */
static bool next_due(const sigset_t *pending, const sigset_t *caller_mask, int *sig)
{
	while (++*sig < _NSIG)
		if (sigismember(pending, *sig) == 1 && sigismember(caller_mask, *sig) != 1)
			return true;
	return false;
}

/* Whether sig runs a handler of the program (not SIG_DFL nor SIG_IGN); its action in *sa. */
static bool runs_handler(int sig, struct sigaction *sa)
{
	return !sigaction(sig, NULL, sa) && sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN;
}

bool ioe_signal_due(const sigset_t *caller_mask, bool timed, bool *restart)
{
	sigset_t pending;
	bool due = false;

	*restart = true;
	if (sigpending(&pending))
		return false;
	for (int sig = 0; next_due(&pending, caller_mask, &sig);) {
		struct sigaction sa;

		due = true;
		if (!runs_handler(sig, &sa))
			continue;
		if (timed || !(sa.sa_flags & SA_RESTART))
			*restart = false;
	}
	return due;
}

void ioe_signals_let_defaults(const sigset_t *caller_mask)
{
	sigset_t pending, mask;
	bool any = false;

	if (sigpending(&pending))
		return;
	sigfillset(&mask);
	for (int sig = 0; next_due(&pending, caller_mask, &sig);) {
		struct sigaction sa;

		if (runs_handler(sig, &sa))
			continue;
		sigdelset(&mask, sig);
		any = true;
	}
	if (!any)
		return;
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	sigfillset(&mask);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
}

void ioe_word_wait_begin(struct ioe_word_waiter *ww, struct ioe_driver *d)
{
	ww->d = NULL;
	ioe_signals_block(&ww->mask);
	if (d)
		ioe_word_wait_join(ww, d);
}

void ioe_word_wait_join(struct ioe_word_waiter *ww, struct ioe_driver *d)
{
	ww->d = d;
	atomic_fetch_add(&d->callers, 1);
	atomic_fetch_add_explicit(&d->caller_visits, 1, memory_order_relaxed);
}

void ioe_word_wait_end(void *arg)
{
	struct ioe_word_waiter *ww = arg;

	if (ww->d)
		atomic_fetch_sub(&ww->d->callers, 1);
	ioe_signals_restore(&ww->mask);
}

_Atomic unsigned int ioe_word_sleepers;

static void word_sleep_end(void *arg)
{
	(void)arg;
	atomic_fetch_sub(&ioe_word_sleepers, 1);
}

/* Seq_cst count, then the kernel's look at the word: see ioe_wake_word(). */
IOE_CANCEL_FRAME void ioe_word_sleep(uint32_t *word, uint32_t old, long ns)
{
	struct timespec ts = { 0, ns };
	int oldtype;

	atomic_fetch_add(&ioe_word_sleepers, 1);
	pthread_cleanup_push(word_sleep_end, NULL);
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &oldtype);
	ioe_futex_wait(word, old, &ts);
	pthread_setcanceltype(oldtype, NULL);
	pthread_cleanup_pop(1);
}

#define IOE_POLL_NAP_NS 1000000

bool ioe_poller_nap(struct ioe_driver *d)
{
	uint32_t visits = atomic_load_explicit(&d->caller_visits, memory_order_relaxed);
	struct timespec nap = { 0, IOE_POLL_NAP_NS };

	if (!atomic_load_explicit(&d->callers, memory_order_relaxed) && visits == d->visits_seen)
		return false;
	d->visits_seen = visits;
	nanosleep(&nap, NULL);
	return true;
}
