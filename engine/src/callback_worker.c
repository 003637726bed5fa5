/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "callback_worker.h"
#include "thread.h"

static bool worker_ready(void *arg)
{
	struct ioe_cb_worker *w = arg;

	return !ioe_mpsc_empty(&w->queue) || atomic_load_explicit(&w->stop, memory_order_acquire);
}

static void *worker_main(void *arg)
{
	struct ioe_cb_worker *w = arg;

	for (;;) {
		struct ioe_event *ev;

		while ((ev = ioe_mpsc_pop(&w->queue)))
			ev->cb(ev, ev->cb_arg);
		/* stop is set only after the last event was pushed: drain, then leave. */
		if (atomic_load_explicit(&w->stop, memory_order_acquire) && ioe_mpsc_empty(&w->queue))
			return NULL;
		ioe_wait(&w->wake, worker_ready, w);
	}
}

int ioe_cb_workers_start(struct ioe_cb_workers *cbw, unsigned int n)
{
	unsigned int i;
	int ret;

	cbw->n = 0;
	cbw->w = NULL;
	if (!n)
		return 0;
	cbw->w = calloc(n, sizeof(*cbw->w));
	if (!cbw->w)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct ioe_cb_worker *w = &cbw->w[i];

		ioe_mpsc_init(&w->queue);
		ioe_waiter_init(&w->wake);
		atomic_init(&w->stop, false);
		ret = ioe_thread_start(&w->thread, "ioe-cb", worker_main, w);
		if (ret) {
			ioe_cb_workers_stop(cbw);
			return ret;
		}
		cbw->n = i + 1;
	}
	return 0;
}

void ioe_cb_workers_stop(struct ioe_cb_workers *cbw)
{
	for (unsigned int i = 0; i < cbw->n; i++) {
		atomic_store_explicit(&cbw->w[i].stop, true, memory_order_release);
		ioe_wake(&cbw->w[i].wake);
	}
	for (unsigned int i = 0; i < cbw->n; i++)
		pthread_join(cbw->w[i].thread, NULL);
	free(cbw->w);
	cbw->w = NULL;
	cbw->n = 0;
}
