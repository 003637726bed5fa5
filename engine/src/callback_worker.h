/* SPDX-License-Identifier: MIT */
/*
 * Completion workers: the poller hands finished events to n worker threads
 * (round robin, one wake-up per worker per batch), or with n == 0 runs the
 * callbacks itself.
 */
#ifndef IOE_CALLBACK_WORKER_H
#define IOE_CALLBACK_WORKER_H

#include <pthread.h>
#include <stdint.h>
#include "embedded_list.h"
#include "wake.h"

struct ioe_cb_worker {
	pthread_t thread;
	struct ioe_mpsc queue;
	struct ioe_waiter wake;
	_Atomic bool stop;
};

struct ioe_cb_workers {
	unsigned int n;
	struct ioe_cb_worker *w;
};

/* Per dispatching thread: round robin position and workers to wake. */
struct ioe_cb_batch {
	unsigned int next;
	uint64_t woken;
};

int ioe_cb_workers_start(struct ioe_cb_workers *cbw, unsigned int n);
/* Drain every queue, then join and free the workers. */
void ioe_cb_workers_stop(struct ioe_cb_workers *cbw);

/* Deliver one completed event; b belongs to the calling thread. */
static inline void ioe_cb_dispatch(struct ioe_cb_workers *cbw, struct ioe_cb_batch *b,
				   struct ioe_event *ev)
{
	unsigned int i;

	if (!cbw->n) {
		ev->cb(ev, ev->cb_arg);
		return;
	}
	i = b->next;
	b->next = i + 1 == cbw->n ? 0 : i + 1;
	ioe_mpsc_push(&cbw->w[i].queue, ev);
	b->woken |= 1ull << i;
}

/* Wake the workers that were given events: once per batch, not per event. */
static inline void ioe_cb_flush(struct ioe_cb_workers *cbw, struct ioe_cb_batch *b)
{
	uint64_t m = b->woken;

	b->woken = 0;
	while (m) {
		ioe_wake(&cbw->w[__builtin_ctzll(m)].wake);
		m &= m - 1;
	}
}

#endif
