/* SPDX-License-Identifier: MIT */
/* Helpers shared by the engine tests: waiting for callbacks, data patterns. */
#ifndef IOE_TEST_UTIL_H
#define IOE_TEST_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "check.h"
#include "task_file.h"

#define ALIGN 4096

/* Counts callbacks down to zero; wait() returns once every one ran. */
struct waitgroup {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_long left;
};

static inline void wg_init(struct waitgroup *wg, long n)
{
	pthread_mutex_init(&wg->lock, NULL);
	pthread_cond_init(&wg->cond, NULL);
	atomic_init(&wg->left, n);
}

static inline void wg_add(struct waitgroup *wg, long n)
{
	atomic_fetch_add(&wg->left, n);
}

static inline void wg_done(struct waitgroup *wg)
{
	/* Under the lock: the waiter cannot miss the signal, and cannot free the
	 * waitgroup before this thread is done with it. */
	pthread_mutex_lock(&wg->lock);
	CHECK(atomic_load(&wg->left) > 0);
	if (atomic_fetch_sub(&wg->left, 1) == 1)
		pthread_cond_broadcast(&wg->cond);
	pthread_mutex_unlock(&wg->lock);
}

static inline void wg_wait(struct waitgroup *wg)
{
	pthread_mutex_lock(&wg->lock);
	while (atomic_load(&wg->left) > 0)
		pthread_cond_wait(&wg->cond, &wg->lock);
	pthread_mutex_unlock(&wg->lock);
}

static inline void wg_destroy(struct waitgroup *wg)
{
	pthread_mutex_destroy(&wg->lock);
	pthread_cond_destroy(&wg->cond);
}

/* An event that counts its callbacks and signals a waitgroup. */
struct tev {
	struct ioe_event ev;
	struct waitgroup *wg;
	atomic_int calls;
	atomic_long *order;	/* completion sequence, if recorded */
	long seq;
};

static inline void tev_cb(struct ioe_event *ev, void *arg)
{
	struct tev *t = arg;

	CHECK(ev == &t->ev);
	if (t->order)
		t->seq = atomic_fetch_add(t->order, 1);
	/* A second callback is a failure on the spot. */
	CHECK_EQ(atomic_fetch_add(&t->calls, 1), 0);
	if (t->wg)
		wg_done(t->wg);
}

static inline void tev_init(struct tev *t, struct waitgroup *wg)
{
	memset(t, 0, sizeof(*t));
	t->wg = wg;
	atomic_init(&t->calls, 0);
	ioe_set_callback(&t->ev, tev_cb, t);
}

/* Submit one prepared event, wait for it, return its result. */
static inline ssize_t run_one(struct ioe_context *ctx, struct ioe_event *ev, enum ioe_channel ch)
{
	struct waitgroup wg;
	struct tev t;
	ssize_t res;

	wg_init(&wg, 1);
	tev_init(&t, &wg);
	/* Keep the caller's request, route the callback through t. */
	t.ev = *ev;
	ioe_set_callback(&t.ev, tev_cb, &t);
	CHECK_EQ(ioe_submit(ctx, &t.ev, ch), 0);
	wg_wait(&wg);
	CHECK_EQ(atomic_load(&t.calls), 1);
	res = t.ev.res;
	wg_destroy(&wg);
	return res;
}

static inline enum ioe_channel chan_of(const struct ioe_event *ev)
{
	return ev->action == IOE_READ || ev->action == IOE_READV ? IOE_CHAN_READ : IOE_CHAN_WRITE;
}

static inline ssize_t run_ev(struct ioe_context *ctx, struct ioe_event *ev)
{
	return run_one(ctx, ev, chan_of(ev));
}

static inline ssize_t eng_pread(struct ioe_context *ctx, int fd, void *buf, size_t len, int64_t off)
{
	struct ioe_event ev;

	ioe_prep_read(&ev, fd, buf, len, off);
	return run_ev(ctx, &ev);
}

static inline ssize_t eng_pwrite(struct ioe_context *ctx, int fd, const void *buf, size_t len, int64_t off)
{
	struct ioe_event ev;

	ioe_prep_write(&ev, fd, buf, len, off);
	return run_ev(ctx, &ev);
}

/* pread()/pwrite() style result: bytes or -errno. */
static inline ssize_t sys_res(ssize_t r)
{
	return r < 0 ? -errno : r;
}

/* Byte i of a file written with pattern `salt`: never constant over a block. */
static inline unsigned char pat(uint64_t pos, uint32_t salt)
{
	uint64_t x = (pos + 1) * 0x9e3779b97f4a7c15ull ^ salt;

	return (unsigned char)(x >> 56 ^ x >> 17 ^ pos);
}

static inline void fill(void *buf, size_t len, uint64_t pos, uint32_t salt)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = pat(pos + i, salt);
}

/* Byte by byte, with the first bad position on failure. */
static inline void verify(const void *buf, size_t len, uint64_t pos, uint32_t salt)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		if (p[i] != pat(pos + i, salt)) {
			fprintf(stderr, "data mismatch at file offset %llu: got %#x want %#x\n",
				(unsigned long long)(pos + i), p[i], pat(pos + i, salt));
			exit(1);
		}
	}
}

static inline void *xalloc(size_t len)
{
	void *p = NULL;

	CHECK_EQ(posix_memalign(&p, ALIGN, len ? len : 1), 0);
	return p;
}

/* IOENGINE_TEST_SCALE=N (default 1) divides the sizes of the heavy tests by N:
 * the sanitizer builds run them smaller. */
static inline long test_scale(void)
{
	const char *s = getenv("IOENGINE_TEST_SCALE");
	long v = s && *s ? strtol(s, NULL, 10) : 1;

	return v > 1 ? v : 1;
}

static inline long scaled(long n, long min)
{
	long v = n / test_scale();

	return v < min ? min : v;
}

/* A context on argv's backend that must really be that backend. */
static inline struct ioe_context *backend_context(enum ioe_backend b, unsigned int depth, unsigned int workers)
{
	struct ioe_context *ctx = test_context(b, depth, workers);

	CHECK(!strcmp(ioe_backend_name(ctx), b == IOE_BACKEND_URING ? "io_uring" : "aio"));
	return ctx;
}

/*
 * An event whose callback blocks until opened. With workers == 0 it holds
 * the thread that reaps it: the poller, or the submitter (which reaps what
 * completes inside its own submission, a page-cache read). Holding the
 * poller, completions that need it pile up unreaped; holding the submitter,
 * nothing queued is taken at all.
 */
struct gate {
	struct ioe_event ev;
	atomic_int entered, open, left;
	pid_t holder;
	char byte;
};

static inline void gate_cb(struct ioe_event *ev, void *arg)
{
	struct gate *g = arg;

	(void)ev;
	g->holder = gettid();
	atomic_store(&g->entered, 1);
	while (!atomic_load(&g->open))
		usleep(100);
	atomic_store(&g->left, 1);
}

/* Submit a read of len bytes at 0 into buf through the gate and wait until it holds its reaper. */
static inline void gate_close_into(struct ioe_context *ctx, struct gate *g, int fd, void *buf, size_t len)
{
	atomic_init(&g->entered, 0);
	atomic_init(&g->open, 0);
	atomic_init(&g->left, 0);
	ioe_prep_read(&g->ev, fd, buf, len, 0);
	ioe_set_callback(&g->ev, gate_cb, g);
	CHECK_EQ(ioe_submit(ctx, &g->ev, IOE_CHAN_READ), 0);
	while (!atomic_load(&g->entered))
		usleep(100);
}

/* Submit a 1-byte read through the gate and wait until it holds its reaper. */
static inline void gate_close(struct ioe_context *ctx, struct gate *g, int fd)
{
	gate_close_into(ctx, g, fd, &g->byte, 1);
}

static inline void gate_open(struct gate *g)
{
	atomic_store(&g->open, 1);
}

/*
 * gate_close() until the gate holds the submitter (fd: a file in the page
 * cache, so that the read completes inside the submission). Then nothing is
 * taken until the gate opens, and after it the submitter takes, submits and
 * reaps one event at a time in its own thread (at depth 1, while the IO
 * completes inside its submission), so callbacks come in the order taken.
 */
static inline void gate_close_submitter(struct ioe_context *ctx, struct gate *g, int fd)
{
	for (int tries = 0; ; tries++) {
		gate_close(ctx, g, fd);
		if (thread_named(g->holder, "ioe-submit"))
			return;
		CHECK(tries < 1000);
		gate_open(g);
		while (!atomic_load(&g->left))
			usleep(100);
	}
}

/*
 * gate_close() until the gate holds the poller (fd: opened with O_DIRECT,
 * blk: an aligned block of ALIGN bytes, so that the read completes after
 * its submission and the poller, not the submitter, reaps it). Then no
 * completion is reaped but by a caller of ioe_wait_word() until the gate
 * opens.
 */
static inline void gate_close_poller(struct ioe_context *ctx, struct gate *g, int fd, void *blk)
{
	for (int tries = 0; ; tries++) {
		gate_close_into(ctx, g, fd, blk, ALIGN);
		if (thread_named(g->holder, "ioe-poll"))
			return;
		CHECK(tries < 1000);
		gate_open(g);
		while (!atomic_load(&g->left))
			usleep(100);
	}
}

static inline bool is_direct(int fd)
{
	return fcntl(fd, F_GETFL) & O_DIRECT;
}

/* Voluntary context switches of the engine threads named prefix*: how often they slept. */
static inline long engine_sleeps(const char *prefix)
{
	long n = threads_sleeps(prefix);

	CHECK(n >= 0);
	return n;
}

#endif
