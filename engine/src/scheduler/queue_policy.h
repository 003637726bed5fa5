/* SPDX-License-Identifier: MIT */
/*
 * What a submit round takes from the shared context's queues, and in which
 * order; which events the kernel must not see; when held events go to the
 * submitter; when the submitter may sleep or leave.
 */
#ifndef IOE_QUEUE_POLICY_H
#define IOE_QUEUE_POLICY_H

#include <stdbool.h>
#include "context.h"

/*
 * Take at most `budget` events: the priority queue first, then read and
 * write, the one that goes first alternating between rounds so that a flood
 * on one cannot starve the other. Returns how many were put in out[].
 */
unsigned int poll_request_from_queues(struct ioe_shared_ctx *sh, struct ioe_event **out,
				      unsigned int budget);

/*
 * pread() says -ESPIPE for a pipe or socket and -EBADF for a bad fd before it
 * looks at anything else; io_uring and AIO would read a pipe instead (or block
 * the submitter on it). One lseek() per distinct fd per submit round tells.
 */
struct ioe_fd_check {
	unsigned int n;
	struct { int fd; int err; } seen[8];
};

static inline void ioe_fd_check_reset(struct ioe_fd_check *c)
{
	c->n = 0;
}

int ioe_fd_check(struct ioe_fd_check *c, int fd);

/* For one event outside a round: true, with ev->res set, when its fd is refused. */
bool ioe_fd_refuses(struct ioe_event *ev);

/* Whether fd was opened O_DIRECT, from a small cache per thread (no system call per event). */
bool ioe_fd_is_direct(int fd);

/*
 * At most this many events go to the kernel in one submit round. A virtual
 * disk can complete a burst of 32 O_DIRECT IOs slower than the same IOs
 * handed over in groups of 8; page-cache IO pays for the extra submit calls,
 * but less than O_DIRECT IO gains.
 */
#define IOE_SUBMIT_BATCH 8

/* A round's budget: the free slots, up to IOE_SUBMIT_BATCH. */
static inline unsigned int ioe_round_budget(struct ioe_shared_ctx *sh)
{
	size_t free = atomic_load_explicit(&sh->free_slots_count, memory_order_acquire);

	return free < IOE_SUBMIT_BATCH ? (unsigned int)free : IOE_SUBMIT_BATCH;
}

/*
 * One submit round's intake: take at most `budget` events; those the kernel
 * must not see (a bad fd, a pipe or a socket) get their result and are
 * added to *refused (linked through next_), for the caller to deliver with
 * ioe_poller_deliver() once it holds no lock: their callbacks may submit
 * again. The accepted ones stay in out[]; returns how many.
 */
unsigned int ioe_take_round(struct ioe_shared_ctx *sh, struct ioe_event **out,
			    unsigned int budget, struct ioe_event **refused);

/*
 * The same for held events (see ioe_shared_ctx.held), in the order they
 * came. With no budget (no free slot), those held become the submitter's:
 * it takes them when slots come back.
 */
unsigned int ioe_take_held(struct ioe_shared_ctx *sh, struct ioe_event **out,
			   unsigned int budget, struct ioe_event **refused);

/* Held events the submitter is to take: nobody came to wait for them, or the context stops. */
static inline bool ioe_held_for_submitter(struct ioe_shared_ctx *sh)
{
	return atomic_load_explicit(&sh->held_count, memory_order_relaxed) &&
	       (atomic_load_explicit(&sh->held_kick, memory_order_relaxed) ||
		atomic_load_explicit(&sh->stopping, memory_order_acquire));
}

/* The submitter may sleep while this is false. */
static inline bool ioe_submitter_ready(struct ioe_shared_ctx *sh, bool retry_pending)
{
	if (retry_pending)
		return true;
	if (atomic_load_explicit(&sh->total_count, memory_order_relaxed) || ioe_held_for_submitter(sh))
		return atomic_load_explicit(&sh->free_slots_count, memory_order_acquire) > 0;
	return atomic_load_explicit(&sh->stopping, memory_order_acquire) &&
	       atomic_load_explicit(&sh->free_slots_count, memory_order_acquire) == sh->depth &&
	       (!sh->streams_cancelled || !atomic_load_explicit(&sh->streams, memory_order_acquire));
}

/*
 * The engine is idle: the queues are empty and a slot is free. A caller's
 * read runs plain then (ioe_choose_path()), and one of ioe_submit_local()
 * may hand its event to the kernel itself: nothing to overtake, room to go.
 */
static inline bool ioe_direct_possible(struct ioe_shared_ctx *sh)
{
	return !atomic_load_explicit(&sh->total_count, memory_order_relaxed) &&
	       atomic_load_explicit(&sh->free_slots_count, memory_order_acquire);
}

/* Shutting down, nothing queued, every slot home: the submitter may leave. */
static inline bool ioe_submitter_done(struct ioe_shared_ctx *sh)
{
	return atomic_load_explicit(&sh->stopping, memory_order_acquire) &&
	       !atomic_load_explicit(&sh->total_count, memory_order_relaxed) &&
	       !atomic_load_explicit(&sh->held_count, memory_order_relaxed) &&
	       atomic_load_explicit(&sh->free_slots_count, memory_order_acquire) == sh->depth &&
	       !atomic_load_explicit(&sh->streams, memory_order_acquire);
}

/*
 * Shutting down, nothing queued or held, every slot home, and stream events
 * still with the kernel, not yet cancelled: the submitter cancels them.
 */
static inline bool ioe_streams_to_cancel(struct ioe_shared_ctx *sh)
{
	return !sh->streams_cancelled && atomic_load_explicit(&sh->streams, memory_order_acquire) &&
	       atomic_load_explicit(&sh->stopping, memory_order_acquire) &&
	       !atomic_load_explicit(&sh->total_count, memory_order_relaxed) &&
	       !atomic_load_explicit(&sh->held_count, memory_order_relaxed) &&
	       atomic_load_explicit(&sh->free_slots_count, memory_order_acquire) == sh->depth;
}

/*
 * ioe_cancel(): take ev out of the channels' queues or the held events,
 * under the submission lock (their consumers hold it). True when it was
 * there: it is then the caller's, not counted any more.
 */
bool ioe_unqueue(struct ioe_shared_ctx *sh, struct ioe_event *ev);

/* Held events go to the submitter instead: it is woken to take them. */
void ioe_held_kick(struct ioe_shared_ctx *sh);

#endif
