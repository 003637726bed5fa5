/* SPDX-License-Identifier: MIT */
/*
 * The driver base that both drivers embed: slots, the submission and
 * completion locks, the in-flight count, the submitter and poller threads,
 * and the poller's delivery of finished events.
 */
#ifndef IOE_DRIVER_H
#define IOE_DRIVER_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include "context.h"
#include "../map.h"

/*
 * Free slots travel poller -> submitter through a lock-free stack; the
 * submitter keeps a private list it refills with one exchange.
 */
struct ioe_slot_link {
	struct ioe_slot_link *next;
};

struct ioe_slot_stack {
	_Atomic(struct ioe_slot_link *) shared;
	struct ioe_slot_link *local;	/* consumer only */
};

static inline void ioe_slot_push(struct ioe_slot_stack *s, struct ioe_slot_link *l)
{
	struct ioe_slot_link *old = atomic_load_explicit(&s->shared, memory_order_relaxed);

	do {
		l->next = old;
	} while (!atomic_compare_exchange_weak_explicit(&s->shared, &old, l,
			memory_order_release, memory_order_relaxed));
}

static inline struct ioe_slot_link *ioe_slot_pop(struct ioe_slot_stack *s)
{
	struct ioe_slot_link *l = s->local;

	if (!l)
		l = atomic_exchange_explicit(&s->shared, NULL, memory_order_acquire);
	if (l)
		s->local = l->next;
	return l;
}

static inline bool ioe_slot_stack_empty(struct ioe_slot_stack *s)
{
	return !s->local && !atomic_load_explicit(&s->shared, memory_order_relaxed);
}

/*
 * A slot goes submitter -> kernel -> poller: the kernel orders the two sides,
 * but ThreadSanitizer cannot see that, so TSan builds are told explicitly.
 */
#ifdef __SANITIZE_THREAD__
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define ioe_kernel_handoff_release(p) __tsan_release(p)
#define ioe_kernel_handoff_acquire(p) __tsan_acquire(p)
#else
#define ioe_kernel_handoff_release(p) ((void)(p))
#define ioe_kernel_handoff_acquire(p) ((void)(p))
#endif

/*
 * Events refused at submission, or that the kernel must not see (see
 * ioe_take_round()), for ioe_poller_deliver() once no lock is held: their
 * callbacks may submit again.
 */
struct ioe_refusals {
	struct ioe_event *events;	/* linked through next_ */
	unsigned int slots;		/* the slots they gave back */
};

/*
 * What both drivers have besides their kernel interface and slot type: the
 * submitter's batch, slots in transit, the in-flight count, the completion
 * side's one-consumer lock, the poller's wake-up and the two threads. Each
 * driver embeds it first in its own structure.
 */
struct ioe_driver {
	struct ioe_shared_ctx *sh;
	struct ioe_event **batch;	/* submitter: one round's events */
	struct ioe_slot_stack free;	/* poller -> submitter */
	/* Submitted and not reaped. Counted after the submit (so the poller never
	 * waits in the kernel for IO that is not there yet); a fast completion
	 * reaped meanwhile takes it below 0 for a moment. */
	_Atomic int inflight;
	_Atomic bool sq_lock;		/* held by whoever takes free slots and submits */
	_Atomic bool cq_lock;		/* held by whoever consumes completions */
	_Atomic bool submitter_done;
	_Atomic int callers;		/* in ioe_wait_word(), reaping in their own thread */
	_Atomic uint32_t caller_visits;	/* ioe_wait_word() calls so far */
	uint32_t visits_seen;		/* poller only: caller_visits at its last nap */
	/*
	 * Submit held events, a round's worth at a time, while slots are free;
	 * the submission lock held. Returns how many reached the kernel; the
	 * refused ones are added to *rf (see ioe_submit_held()).
	 */
	unsigned int (*take_held)(struct ioe_driver *d, struct ioe_refusals *rf);
	/*
	 * Hand ev to the kernel from the calling thread: true with every signal
	 * blocked (the old mask in *old, as ioe_direct_begin() says), false when
	 * ev must be queued or is done already (*ret). The poller is not woken.
	 */
	bool (*direct_submit)(struct ioe_driver *d, struct ioe_event *ev, sigset_t *old, int *ret);
	uint32_t held_takes_seen;	/* poller only: see ioe_held_check() */
	uint64_t held_since;		/* 0: nothing held at the last look */
	struct ioe_waiter poll_wake;
	struct ioe_cb_batch sub_cbb, poll_cbb;
	pthread_t submitter, poller;
	bool started;			/* the threads run: see ioe_driver_start() */
};

/*
 * IO in flight whose completion is near: anything but stream events (see
 * ioe_shared_ctx.streams), which may wait in the kernel for as long as
 * their file has nothing. What a caller's event waits for when it is held.
 */
static inline bool ioe_file_io_in_flight(struct ioe_driver *d)
{
	return atomic_load_explicit(&d->inflight, memory_order_relaxed) >
	       (int)atomic_load_explicit(&d->sh->streams, memory_order_relaxed);
}

/* No allocation but ioe_map() (../map.h). */
int ioe_driver_init(struct ioe_driver *d, struct ioe_shared_ctx *sh);
void ioe_driver_fini(struct ioe_driver *d);
/*
 * Start the poller and the submitter (arg is the driver); 0 or -errno. Not
 * at the context's creation: when the first request needs them (see
 * threads_start() in context.c).
 */
int ioe_driver_start(struct ioe_driver *d, void *(*submitter)(void *), void *(*poller)(void *), void *arg);
/* After ioe_context_free() set stopping: the threads drain and leave (if they ever started). */
void ioe_driver_join(struct ioe_driver *d);
/* The submitter's last act: the poller may leave once nothing is in flight. */
void ioe_driver_submitter_exit(struct ioe_driver *d);

/*
 * Poller, about to sleep with nothing in flight: no completion will bring a
 * waiter, so held events go to the submitter.
 */
void ioe_held_before_sleep(struct ioe_driver *d);

/* A poller's sleep in the kernel for a completion ends after this at the latest. */
#define IOE_POLL_RECHECK_NS 1000000

/*
 * Waiting for another thread's lock, which it holds briefly: it may have lost
 * its CPU (on a machine with few cores), so yield now and then.
 */
static inline void ioe_backoff(unsigned int *spins)
{
	if (++*spins & 63)
		ioe_cpu_relax();
	else
		sched_yield();
}

/*
 * The submission side (free slots, and for io_uring the SQ) has one user at
 * a time: the submitter's rounds, or a caller of ioe_submit_local() handing
 * its own event to the kernel.
 */
static inline bool ioe_sq_trylock(struct ioe_driver *d)
{
	return !atomic_exchange_explicit(&d->sq_lock, true, memory_order_acquire);
}

static inline void ioe_sq_lock(struct ioe_driver *d)
{
	for (unsigned int spins = 0; !ioe_sq_trylock(d);)
		ioe_backoff(&spins);
}

static inline void ioe_sq_unlock(struct ioe_driver *d)
{
	atomic_store_explicit(&d->sq_lock, false, memory_order_release);
}

/*
 * Completions have one consumer at a time: the poller, the submitter taking
 * a quick look right after it submitted to an idle ring, or a caller of
 * ioe_wait_word().
 */
static inline bool ioe_cq_trylock(struct ioe_driver *d)
{
	return !atomic_exchange_explicit(&d->cq_lock, true, memory_order_acquire);
}

static inline void ioe_cq_unlock(struct ioe_driver *d)
{
	atomic_store_explicit(&d->cq_lock, false, memory_order_release);
}

/*
 * Poller: wait until something is in flight and the completion side is free,
 * and take it. Returns false when the poller should leave (the submitter is
 * done and nothing is in flight), true with the lock held and IO in flight.
 * Another thread that released the side with IO in flight wakes the poller.
 */
bool ioe_poller_acquire(struct ioe_driver *d);

/*
 * Submitter, after n IOs went to the kernel: count them; if the ring was
 * idle, give `reap` (which takes and finishes the completions that are
 * ready; the lock is held) a chance to complete a page-cache IO right here,
 * which spares the poller's wake-up (which costs more than such an IO);
 * wake the poller if IO is still in flight.
 */
void ioe_driver_submitted(struct ioe_driver *d, unsigned int n, void (*reap)(struct ioe_driver *));

/*
 * Poller side, after a batch: give `freed` slots back, wake the submitter if
 * it can use them, and deliver the finished events (linked through next_).
 */
void ioe_poller_deliver(struct ioe_shared_ctx *sh, unsigned int freed, struct ioe_event *done,
			struct ioe_cb_batch *cbb);

/* The refused events of a submission (with the slots they freed). */
static inline void ioe_deliver_refusals(struct ioe_driver *d, struct ioe_refusals *rf, struct ioe_cb_batch *cbb)
{
	if (rf->events)
		ioe_poller_deliver(d->sh, rf->slots, rf->events, cbb);
}

/* The transient refusals of a submission (io_uring_enter(), io_submit()): retried. */
static inline bool ioe_submit_transient(long ret)
{
	return ret == -EAGAIN || ret == -EBUSY || ret == -ENOMEM || ret == -EINTR;
}

#endif
