/* SPDX-License-Identifier: MIT */
/*
 * Intrusive lists through struct ioe_event's next_ field: no allocation per IO.
 *
 * struct ioe_list is a plain FIFO for one owner. struct ioe_mpsc is a
 * lock-free multi-producer, single-consumer queue: producers push onto an
 * atomic LIFO stack with one CAS; the consumer takes the whole stack with one
 * exchange and reverses it into its private FIFO, so FIFO order is kept.
 */
#ifndef IOE_EMBEDDED_LIST_H
#define IOE_EMBEDDED_LIST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include "ioengine.h"

struct ioe_list {
	struct ioe_event *head, *tail;
};

static inline void ioe_list_init(struct ioe_list *l)
{
	l->head = l->tail = NULL;
}

static inline int ioe_list_empty(const struct ioe_list *l)
{
	return l->head == NULL;
}

static inline void ioe_list_push(struct ioe_list *l, struct ioe_event *ev)
{
	ev->next_ = NULL;
	if (l->tail)
		l->tail->next_ = ev;
	else
		l->head = ev;
	l->tail = ev;
}

static inline struct ioe_event *ioe_list_pop(struct ioe_list *l)
{
	struct ioe_event *ev = l->head;

	if (ev) {
		l->head = ev->next_;
		if (!l->head)
			l->tail = NULL;
		ev->next_ = NULL;
	}
	return ev;
}

struct ioe_mpsc {
	_Atomic(struct ioe_event *) stack;	/* producers */
	struct ioe_list fifo;			/* consumer only */
};

static inline void ioe_mpsc_init(struct ioe_mpsc *q)
{
	atomic_init(&q->stack, NULL);
	ioe_list_init(&q->fifo);
}

/* Any thread. Release: the event's fields are visible to the consumer. */
static inline void ioe_mpsc_push(struct ioe_mpsc *q, struct ioe_event *ev)
{
	struct ioe_event *old = atomic_load_explicit(&q->stack, memory_order_relaxed);

	do {
		ev->next_ = old;
	} while (!atomic_compare_exchange_weak_explicit(&q->stack, &old, ev,
			memory_order_release, memory_order_relaxed));
}

/* Consumer only: the producers' stack, if the FIFO is empty, moved to the FIFO (oldest first). */
static inline void ioe_mpsc_refill(struct ioe_mpsc *q)
{
	if (ioe_list_empty(&q->fifo)) {
		struct ioe_event *ev, *rev = NULL, *last;

		ev = atomic_exchange_explicit(&q->stack, NULL, memory_order_acquire);
		if (!ev)
			return;
		last = ev;
		while (ev) {
			struct ioe_event *next = ev->next_;

			ev->next_ = rev;
			rev = ev;
			ev = next;
		}
		q->fifo.head = rev;
		q->fifo.tail = last;
	}
}

/* Consumer only. */
static inline struct ioe_event *ioe_mpsc_pop(struct ioe_mpsc *q)
{
	ioe_mpsc_refill(q);
	return ioe_list_pop(&q->fifo);
}

/* Consumer only: the event the next pop would return, left in the queue (NULL: empty). */
static inline struct ioe_event *ioe_mpsc_peek(struct ioe_mpsc *q)
{
	ioe_mpsc_refill(q);
	return q->fifo.head;
}

/*
 * Consumer only: take ev out of the queue wherever it is, keeping the order
 * of the rest. The producers' stack goes to the FIFO first (as a pop would
 * move it), so that ev is looked for among everything pushed so far.
 * Returns false when ev is not in the queue.
 */
static inline bool ioe_mpsc_remove(struct ioe_mpsc *q, struct ioe_event *ev)
{
	struct ioe_event *e = atomic_exchange_explicit(&q->stack, NULL, memory_order_acquire);
	struct ioe_event *rev = NULL, *last = e, **link;

	while (e) {
		struct ioe_event *next = e->next_;

		e->next_ = rev;
		rev = e;
		e = next;
	}
	if (rev) {
		if (q->fifo.tail)
			q->fifo.tail->next_ = rev;
		else
			q->fifo.head = rev;
		q->fifo.tail = last;
	}
	for (link = &q->fifo.head, last = NULL; *link; last = *link, link = &(*link)->next_) {
		if (*link != ev)
			continue;
		*link = ev->next_;
		if (q->fifo.tail == ev)
			q->fifo.tail = last;
		ev->next_ = NULL;
		return true;
	}
	return false;
}

/* Consumer only: anything to pop? (producers may add more at any time) */
static inline int ioe_mpsc_empty(struct ioe_mpsc *q)
{
	return ioe_list_empty(&q->fifo) &&
	       atomic_load_explicit(&q->stack, memory_order_relaxed) == NULL;
}

#endif
