/* SPDX-License-Identifier: MIT */
/* Queue policy: see queue_policy.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>
#include "ioengine_internal.h"
#include "queue_policy.h"
#include "../tasks.h"

int ioe_fd_check(struct ioe_fd_check *c, int fd)
{
	unsigned int i;
	int err = 0;

	for (i = 0; i < c->n; i++)
		if (c->seen[i].fd == fd)
			return c->seen[i].err;
	if (lseek(fd, 0, SEEK_CUR) < 0)
		err = -errno;
	if (c->n < sizeof(c->seen) / sizeof(c->seen[0])) {
		c->seen[c->n].fd = fd;
		c->seen[c->n].err = err;
		c->n++;
	}
	return err;
}

/*
 * A read or write whose fd the submitter did not vouch for (IOE_F_FD_SEEN),
 * at an offset: one at the file's position (IOE_F_AT_POSITION) is for
 * exactly the files the check refuses.
 */
static bool fd_to_check(const struct ioe_event *ev)
{
	return ioe_event_is_rw(ev) && !(ev->flags & (IOE_F_FD_SEEN | IOE_F_AT_POSITION));
}

/*
 * 0, or the result of an event the kernel must not see: its fd refused, or
 * a stream event once the context stops (it could wait for its file for
 * ever; ioe_context_free() cancels those).
 */
static int refusal(struct ioe_shared_ctx *sh, struct ioe_fd_check *fdc, const struct ioe_event *ev)
{
	if ((ev->flags & IOE_F_AT_POSITION) && atomic_load_explicit(&sh->stopping, memory_order_acquire))
		return -ECANCELED;
	return fd_to_check(ev) ? ioe_fd_check(fdc, ev->fd) : 0;
}

/*
 * Take at most `budget` events of q into out[]; one that may go to the
 * kernel takes the events behind it that continue it along as one merged
 * IO (ioe_merge_take(), not on the priority channel). *popped counts every
 * event taken out of q.
 */
static unsigned int take(struct ioe_shared_ctx *sh, struct ioe_mpsc *q, bool merge, struct ioe_fd_check *fdc,
			 struct ioe_event **out, unsigned int budget, unsigned int *popped)
{
	unsigned int n = 0;
	struct ioe_event *ev;

	while (n < budget && (ev = ioe_mpsc_pop(q))) {
		++*popped;
		if (merge && !refusal(sh, fdc, ev))
			ev = ioe_merge_take(&sh->merge, ev, q, popped);
		out[n++] = ev;
	}
	return n;
}

/* The channels, priority first, then read and write in turn: see poll_request_from_queues(). */
static unsigned int take_channels(struct ioe_shared_ctx *sh, struct ioe_fd_check *fdc, struct ioe_event **out,
				  unsigned int budget)
{
	enum ioe_channel first = sh->read_first ? IOE_CHAN_READ : IOE_CHAN_WRITE;
	enum ioe_channel second = sh->read_first ? IOE_CHAN_WRITE : IOE_CHAN_READ;
	unsigned int n, popped = 0;

	n = take(sh, &sh->queues[IOE_CHAN_PRIO], false, fdc, out, budget, &popped);
	n += take(sh, &sh->queues[first], true, fdc, out + n, budget - n, &popped);
	n += take(sh, &sh->queues[second], true, fdc, out + n, budget - n, &popped);
	sh->read_first = !sh->read_first;
	if (popped)
		atomic_fetch_sub_explicit(&sh->total_count, popped, memory_order_relaxed);
	return n;
}

unsigned int poll_request_from_queues(struct ioe_shared_ctx *sh, struct ioe_event **out,
				      unsigned int budget)
{
	struct ioe_fd_check fdc;

	ioe_fd_check_reset(&fdc);
	return take_channels(sh, &fdc, out, budget);
}

bool ioe_fd_refuses(struct ioe_event *ev)
{
	struct ioe_fd_check fdc;

	ioe_fd_check_reset(&fdc);
	ev->res = fd_to_check(ev) ? ioe_fd_check(&fdc, ev->fd) : 0;
	return ev->res != 0;
}

/*
 * Keep the events of out[0..n) that may go to the kernel; the rest, with
 * their result set, are appended to *refused (linked through next_).
 */
static unsigned int keep_submittable(struct ioe_shared_ctx *sh, struct ioe_fd_check *fdc, struct ioe_event **out,
				     unsigned int n, struct ioe_event **refused)
{
	unsigned int kept = 0;

	while (*refused)
		refused = &(*refused)->next_;
	for (unsigned int i = 0; i < n; i++) {
		struct ioe_event *ev = out[i];
		int err = refusal(sh, fdc, ev);

		if (err) {
			ev->res = err;
			ev->next_ = NULL;
			*refused = ev;
			refused = &ev->next_;
		} else {
			out[kept++] = ev;
		}
	}
	return kept;
}

/* The fd check is shared with the take: an fd that a merge looked at is not looked at again. */
unsigned int ioe_take_round(struct ioe_shared_ctx *sh, struct ioe_event **out,
			    unsigned int budget, struct ioe_event **refused)
{
	struct ioe_fd_check fdc;

	ioe_fd_check_reset(&fdc);
	return keep_submittable(sh, &fdc, out, take_channels(sh, &fdc, out, budget), refused);
}

unsigned int ioe_take_held(struct ioe_shared_ctx *sh, struct ioe_event **out,
			   unsigned int budget, struct ioe_event **refused)
{
	unsigned int n, popped = 0;
	struct ioe_fd_check fdc;

	if (!budget && atomic_load_explicit(&sh->held_count, memory_order_relaxed))
		atomic_store_explicit(&sh->held_kick, true, memory_order_relaxed);
	ioe_fd_check_reset(&fdc);
	n = take(sh, &sh->held, true, &fdc, out, budget, &popped);
	if (popped) {
		atomic_fetch_sub_explicit(&sh->held_count, popped, memory_order_relaxed);
		atomic_fetch_add_explicit(&sh->held_takes, 1, memory_order_relaxed);
	}
	return keep_submittable(sh, &fdc, out, n, refused);
}

bool ioe_unqueue(struct ioe_shared_ctx *sh, struct ioe_event *ev)
{
	for (int ch = 0; ch < IOE_CHAN_MAX; ch++) {
		if (ioe_mpsc_remove(&sh->queues[ch], ev)) {
			atomic_fetch_sub_explicit(&sh->total_count, 1, memory_order_relaxed);
			return true;
		}
	}
	if (!ioe_mpsc_remove(&sh->held, ev))
		return false;
	atomic_fetch_sub_explicit(&sh->held_count, 1, memory_order_relaxed);
	return true;
}

void ioe_held_kick(struct ioe_shared_ctx *sh)
{
	atomic_store_explicit(&sh->held_kick, true, memory_order_relaxed);
	ioe_wake(&sh->submit_wake);
}

/*
 * Whether fd was opened O_DIRECT, from a small cache per thread that looks
 * again (fcntl) every DIRECT_RECHECK uses: a system call per event costs
 * about a microsecond, a large share of what the calling thread spends on
 * each O_DIRECT event at a deep queue. Between two looks an entry can be
 * stale (the fd closed and reused for another file): at most that many
 * events then take another path (see caller_takes() in context.c, its
 * only caller). Where it runs, never the result.
 */
#define DIRECT_CACHE 16
#define DIRECT_RECHECK 64

struct direct_entry {
	int fd;
	bool direct;
	unsigned int uses_left;
};

static __thread struct direct_entry direct_cache[DIRECT_CACHE];

bool ioe_fd_is_direct(int fd)
{
	struct direct_entry *e = &direct_cache[(unsigned int)fd % DIRECT_CACHE];
	int flags;

	if (e->uses_left && e->fd == fd) {
		e->uses_left--;
		return e->direct;
	}
	flags = fcntl(fd, F_GETFL);
	e->fd = fd;
	e->direct = flags >= 0 && (flags & O_DIRECT);
	e->uses_left = DIRECT_RECHECK;
	return e->direct;
}
