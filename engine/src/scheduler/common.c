/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "common.h"
#include "../fault.h"
#include "../futex.h"
#include "../tasks.h"
#include "../thread.h"
#include "../valgrind_annotate.h"

static unsigned int take(struct ioe_shared_ctx *sh, enum ioe_channel ch,
			 struct ioe_event **out, unsigned int budget)
{
	unsigned int n = 0;
	struct ioe_event *ev;

	while (n < budget && (ev = ioe_mpsc_pop(&sh->queues[ch])))
		out[n++] = ev;
	return n;
}

unsigned int poll_request_from_queues(struct ioe_shared_ctx *sh, struct ioe_event **out,
				      unsigned int budget)
{
	enum ioe_channel first = sh->read_first ? IOE_CHAN_READ : IOE_CHAN_WRITE;
	enum ioe_channel second = sh->read_first ? IOE_CHAN_WRITE : IOE_CHAN_READ;
	unsigned int n;

	n = take(sh, IOE_CHAN_PRIO, out, budget);
	n += take(sh, first, out + n, budget - n);
	n += take(sh, second, out + n, budget - n);
	sh->read_first = !sh->read_first;
	if (n)
		atomic_fetch_sub_explicit(&sh->total_count, n, memory_order_relaxed);
	return n;
}

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

bool ioe_fd_refuses(struct ioe_event *ev)
{
	struct ioe_fd_check fdc;

	ioe_fd_check_reset(&fdc);
	ev->res = ioe_event_is_rw(ev) ? ioe_fd_check(&fdc, ev->fd) : 0;
	return ev->res != 0;
}

/*
 * A vector is left to the kernel to read first, as preadv() does: a bad one
 * is then its EFAULT, not a crash in the engine (or, under the shim, in the
 * program's pwritev()). Its size is counted at the first result.
 */
#define WANT_UNCOUNTED SIZE_MAX

void ioe_progress_start(struct ioe_progress *p, const struct ioe_event *ev)
{
	p->done = 0;
	p->want = !ioe_event_is_rw(ev) ? 0 : ioe_event_is_vectored(ev) ? WANT_UNCOUNTED : ev->len;
	p->iov_rest = NULL;
	p->iovcnt_rest = 0;
	p->retries = 0;
}

static void finish(struct ioe_progress *p, struct ioe_event *ev, ssize_t res)
{
	ev->res = res;
	free(p->iov_rest);
	p->iov_rest = NULL;
}

/* After this many EINTR/EAGAIN in a row without progress, give up with the error. */
#define IOE_MAX_RETRIES 1000

bool ioe_progress_update(struct ioe_progress *p, struct ioe_event *ev, long res)
{
	if (res == -EINTR || res == -EAGAIN) {
		if (++p->retries < IOE_MAX_RETRIES)
			return false;
	}
	if (res < 0) {
		/* As pread() does: bytes already moved win over a later error. */
		finish(p, ev, p->done ? (ssize_t)p->done : res);
		return true;
	}
	p->retries = 0;
	if (!ioe_event_is_rw(ev)) {
		finish(p, ev, res);
		return true;
	}
	if (p->want == WANT_UNCOUNTED)
		p->want = ioe_event_bytes(ev);
	ioe_vg_read_landed(ev, p->done, (size_t)res);	/* the kernel filled them */
	p->done += (size_t)res;
	/* 0 means EOF for a read (and no progress for a write): stop there. */
	if (res == 0 || p->done >= p->want || (ev->flags & IOE_F_ONE_CALL)) {
		finish(p, ev, (ssize_t)p->done);
		return true;
	}
	if (ioe_event_is_vectored(ev)) {
		struct iovec *rest = ioe_iov_advance(ev->iov, (int)ev->len, p->done, &p->iovcnt_rest);

		if (!rest) {
			/* Cannot continue: report the bytes done, a valid short count. */
			finish(p, ev, (ssize_t)p->done);
			return true;
		}
		free(p->iov_rest);
		p->iov_rest = rest;
	}
	return false;
}

/*
 * Fault injection's short pieces, which the engine hides by going on: not
 * for an IOE_F_ONE_CALL event, whose short count would be its result.
 */
static size_t piece_len(const struct ioe_event *ev, size_t len)
{
	return ev->flags & IOE_F_ONE_CALL ? len : ioe_fault_len(len);
}

void ioe_progress_next(const struct ioe_progress *p, const struct ioe_event *ev, struct ioe_piece *out)
{
	out->offset = ev->offset + (int64_t)p->done;
	if (ioe_event_is_vectored(ev)) {
		out->buf = NULL;
		out->iov = p->iov_rest ? p->iov_rest : ev->iov;
		/* Fault injection cuts a vectored IO at an iovec boundary. */
		out->len = piece_len(ev, p->iov_rest ? (size_t)p->iovcnt_rest : ev->len);
	} else {
		size_t len = ev->len - p->done;

		out->buf = (char *)ev->buf + p->done;
		out->iov = NULL;
		out->len = piece_len(ev, len < IOE_MAX_RW ? len : IOE_MAX_RW);
	}
}

/*
 * Keep the events of out[0..n) that may go to the kernel; the rest, with
 * their result set, are appended to *refused (linked through next_).
 */
static unsigned int keep_submittable(struct ioe_event **out, unsigned int n, struct ioe_event **refused)
{
	unsigned int kept = 0;
	struct ioe_fd_check fdc;

	while (*refused)
		refused = &(*refused)->next_;
	ioe_fd_check_reset(&fdc);
	for (unsigned int i = 0; i < n; i++) {
		struct ioe_event *ev = out[i];
		int err = ioe_event_is_rw(ev) ? ioe_fd_check(&fdc, ev->fd) : 0;

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

unsigned int ioe_take_round(struct ioe_shared_ctx *sh, struct ioe_event **out,
			    unsigned int budget, struct ioe_event **refused)
{
	return keep_submittable(out, poll_request_from_queues(sh, out, budget), refused);
}

unsigned int ioe_take_held(struct ioe_shared_ctx *sh, struct ioe_event **out,
			   unsigned int budget, struct ioe_event **refused)
{
	unsigned int n = 0;
	struct ioe_event *ev;

	if (!budget && atomic_load_explicit(&sh->held_count, memory_order_relaxed))
		atomic_store_explicit(&sh->held_kick, true, memory_order_relaxed);
	while (n < budget && (ev = ioe_mpsc_pop(&sh->held)))
		out[n++] = ev;
	if (n) {
		atomic_fetch_sub_explicit(&sh->held_count, n, memory_order_relaxed);
		atomic_fetch_add_explicit(&sh->held_takes, 1, memory_order_relaxed);
	}
	return keep_submittable(out, n, refused);
}

void ioe_poller_deliver(struct ioe_shared_ctx *sh, unsigned int freed, struct ioe_event *done,
			struct ioe_cb_batch *cbb)
{
	if (freed) {
		/* seq_cst: the slots are visible with the count, and the count before
		 * the checks below (the submitter checks the other way round). */
		atomic_fetch_add(&sh->free_slots_count, freed);
		if (atomic_load_explicit(&sh->total_count, memory_order_relaxed) ||
		    atomic_load_explicit(&sh->stopping, memory_order_relaxed) ||
		    ioe_held_for_submitter(sh))
			ioe_wake(&sh->submit_wake);
	}
	while (done) {
		struct ioe_event *next = done->next_;

		ioe_cb_dispatch(&sh->cb_workers, cbb, done);
		done = next;
	}
	ioe_cb_flush(&sh->cb_workers, cbb);
}

void ioe_held_kick(struct ioe_shared_ctx *sh)
{
	atomic_store_explicit(&sh->held_kick, true, memory_order_relaxed);
	ioe_wake(&sh->submit_wake);
}

void ioe_hold(struct ioe_driver *d, struct ioe_event *ev)
{
	struct ioe_shared_ctx *sh = d->sh;
	struct ioe_cb_batch cbb = { 0 };
	sigset_t all, old;

	atomic_fetch_add(&sh->held_count, 1);
	ioe_mpsc_push(&sh->held, ev);
	/* The last IO may have completed meanwhile, and the poller be asleep. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&d->inflight, memory_order_relaxed) <= 0) {
		ioe_held_kick(sh);
		return;
	}
	if (atomic_load_explicit(&sh->held_count, memory_order_relaxed) < IOE_SUBMIT_BATCH)
		return;
	/* No handler may run while this thread holds the submission lock. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ioe_submit_held(d, &cbb);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void ioe_submit_held(struct ioe_driver *d, struct ioe_cb_batch *cbb)
{
	struct ioe_refusals rf = { 0 };
	unsigned int n;

	ioe_sq_lock(d);
	n = d->take_held(d, &rf);
	ioe_sq_unlock(d);
	if (n) {
		atomic_fetch_add_explicit(&d->inflight, (int)n, memory_order_relaxed);
		ioe_wake(&d->poll_wake);
	}
	ioe_deliver_refusals(d, &rf, cbb);
}

int ioe_submit_here(struct ioe_driver *d, struct ioe_event *ev)
{
	sigset_t old;
	int ret;

	if (atomic_load_explicit(&d->inflight, memory_order_relaxed) > 0) {
		ioe_hold(d, ev);
		return 0;
	}
	if (!atomic_load_explicit(&d->sh->submit_wake.sleeping, memory_order_relaxed) ||
	    !d->direct_submit(d, ev, &old, &ret))
		return -EAGAIN;
	ioe_wake(&d->poll_wake);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

#define IOE_HOLD_MAX_NS 1000000

void ioe_held_check(struct ioe_driver *d)
{
	struct ioe_shared_ctx *sh = d->sh;
	uint32_t takes = atomic_load_explicit(&sh->held_takes, memory_order_relaxed);
	uint64_t now;

	if (!atomic_load_explicit(&sh->held_count, memory_order_relaxed)) {
		d->held_since = 0;
		return;
	}
	/* The clock starts when the poller first sees them held, or taken from. */
	now = ioe_now_ns();
	if (!d->held_since || takes != d->held_takes_seen) {
		d->held_takes_seen = takes;
		d->held_since = now;
	} else if (now - d->held_since >= IOE_HOLD_MAX_NS) {
		ioe_held_kick(sh);
		d->held_since = now;
	}
}

/* Seq_cst: either this sees a hold, or ioe_hold() sees nothing in flight and kicks itself. */
void ioe_held_before_sleep(struct ioe_driver *d)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&d->sh->held_count, memory_order_relaxed))
		ioe_held_kick(d->sh);
}

void *ioe_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void ioe_unmap(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

int ioe_driver_init(struct ioe_driver *d, struct ioe_shared_ctx *sh)
{
	d->sh = sh;
	d->batch = ioe_map(sh->depth * sizeof(*d->batch));
	if (!d->batch)
		return -ENOMEM;
	atomic_init(&d->free.shared, NULL);
	d->free.local = NULL;
	atomic_init(&d->inflight, 0);
	atomic_init(&d->sq_lock, false);
	atomic_init(&d->cq_lock, false);
	atomic_init(&d->submitter_done, false);
	atomic_init(&d->callers, 0);
	atomic_init(&d->caller_visits, 0);
	d->visits_seen = 0;
	d->held_takes_seen = 0;
	d->held_since = 0;
	ioe_waiter_init(&d->poll_wake);
	d->sub_cbb = d->poll_cbb = (struct ioe_cb_batch){ 0 };
	d->started = false;
	return 0;
}

void ioe_driver_fini(struct ioe_driver *d)
{
	ioe_unmap(d->batch, d->sh->depth * sizeof(*d->batch));
}

int ioe_driver_start(struct ioe_driver *d, void *(*submitter)(void *), void *(*poller)(void *), void *arg)
{
	int ret = ioe_thread_start(&d->poller, "ioe-poll", poller, arg);

	if (ret)
		return ret;
	ret = ioe_thread_start(&d->submitter, "ioe-submit", submitter, arg);
	if (ret) {
		/* No submitter: tell the idle poller to leave. */
		ioe_driver_submitter_exit(d);
		pthread_join(d->poller, NULL);
		atomic_store_explicit(&d->submitter_done, false, memory_order_relaxed);
		return ret;
	}
	d->started = true;
	return 0;
}

void ioe_driver_join(struct ioe_driver *d)
{
	if (!d->started)
		return;
	pthread_join(d->submitter, NULL);
	pthread_join(d->poller, NULL);
}

void ioe_driver_submitter_exit(struct ioe_driver *d)
{
	atomic_store_explicit(&d->submitter_done, true, memory_order_release);
	ioe_wake(&d->poll_wake);
}

static bool poller_ready(void *arg)
{
	struct ioe_driver *d = arg;

	if (atomic_load_explicit(&d->inflight, memory_order_relaxed) > 0)
		return !atomic_load_explicit(&d->cq_lock, memory_order_relaxed);
	return atomic_load_explicit(&d->submitter_done, memory_order_acquire);
}

bool ioe_poller_acquire(struct ioe_driver *d)
{
	for (;;) {
		if (atomic_load_explicit(&d->inflight, memory_order_acquire) <= 0 &&
		    atomic_load_explicit(&d->submitter_done, memory_order_acquire))
			return false;
		if (!poller_ready(d) || !ioe_cq_trylock(d)) {
			if (atomic_load_explicit(&d->inflight, memory_order_relaxed) <= 0)
				ioe_held_before_sleep(d);
			ioe_wait(&d->poll_wake, poller_ready, d);
			continue;
		}
		/* Re-check under the lock: another thread may have taken them all. */
		if (atomic_load_explicit(&d->inflight, memory_order_acquire) > 0)
			return true;
		ioe_cq_unlock(d);
	}
}

struct ioe_slot_link *ioe_direct_begin(struct ioe_driver *d, struct ioe_event *ev, sigset_t *old, int *ret)
{
	struct ioe_shared_ctx *sh = d->sh;
	struct ioe_slot_link *l;
	sigset_t all;

	*ret = -EAGAIN;
	if (!ioe_direct_possible(sh))
		return NULL;
	if (ioe_fd_refuses(ev)) {
		*ret = 0;
		return NULL;
	}
	if (old) {
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, old);
	}
	ioe_sq_lock(d);
	if (!ioe_direct_possible(sh)) {
		ioe_sq_unlock(d);
		if (old)
			pthread_sigmask(SIG_SETMASK, old, NULL);
		return NULL;
	}
	l = ioe_slot_pop(&d->free);
	atomic_fetch_sub_explicit(&sh->free_slots_count, 1, memory_order_relaxed);
	return l;
}

void ioe_driver_submitted(struct ioe_driver *d, unsigned int n, void (*reap)(struct ioe_driver *))
{
	if (atomic_fetch_add_explicit(&d->inflight, (int)n, memory_order_relaxed) == 0 &&
	    ioe_cq_trylock(d))
		reap(d);
	if (atomic_load_explicit(&d->inflight, memory_order_relaxed) > 0)
		ioe_wake(&d->poll_wake);
}

bool ioe_signal_due(const sigset_t *caller_mask, bool timed, bool *restart)
{
	sigset_t pending;
	bool due = false;

	*restart = true;
	if (sigpending(&pending))
		return false;
	for (int sig = 1; sig < _NSIG; sig++) {
		struct sigaction sa;

		if (sigismember(&pending, sig) != 1 || sigismember(caller_mask, sig) == 1)
			continue;
		due = true;
		if (sigaction(sig, NULL, &sa) || sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)
			continue;
		if (timed || !(sa.sa_flags & SA_RESTART))
			*restart = false;
	}
	return due;
}

void ioe_word_wait_begin(struct ioe_word_waiter *ww, struct ioe_driver *d)
{
	ww->d = NULL;
	sigfillset(&ww->all);
	pthread_sigmask(SIG_SETMASK, &ww->all, &ww->mask);
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
	pthread_sigmask(SIG_SETMASK, &ww->mask, NULL);
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
