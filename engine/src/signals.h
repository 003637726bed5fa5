/* SPDX-License-Identifier: MIT */
/*
 * Every signal blocked in the calling thread, for a region where no handler
 * of the program's may run: while the thread holds an engine lock or runs
 * other events' callbacks (a handler's pread() or aio_suspend() would wait
 * for what the interrupted frame holds), or starts a thread that must
 * never run the program's handlers (it inherits the mask). A signal that
 * arrives meanwhile is delivered when the mask is back. Each side is one
 * system call.
 */
#ifndef IOE_SIGNALS_H
#define IOE_SIGNALS_H

#include <pthread.h>
#include <signal.h>

/* Block every signal; *old keeps the thread's mask for ioe_signals_restore(). */
static inline void ioe_signals_block(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, old);
}

static inline void ioe_signals_restore(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

#endif
