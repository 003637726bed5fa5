/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <signal.h>
#include "thread.h"
#include "signals.h"

int ioe_thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg)
{
	sigset_t old;
	int ret;

	/* The new thread inherits the mask: it never runs the host's handlers. */
	ioe_signals_block(&old);
	ret = pthread_create(t, NULL, fn, arg);
	ioe_signals_restore(&old);
	if (ret)
		return -ret;
	pthread_setname_np(*t, name);
	return 0;
}
