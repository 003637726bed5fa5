/* SPDX-License-Identifier: MIT */
/*
 * Shutdown. (1) Thousands of events queued and in flight when
 * ioe_context_free() is called at once: every one is called back exactly
 * once, with its full result. (2) A thread submits without pause while the
 * context is freed: every accepted event is called back once, the first
 * refusal is -ESHUTDOWN and gets no callback, and a submit from a callback
 * during the free is refused too.
 *
 * In (2) the racer must never call ioe_submit() after ioe_context_free()
 * returned: a sentinel event, accepted before the free, blocks in its
 * callback until the racer has seen -ESHUTDOWN, and the free cannot return
 * before that callback does.
 */
#include <pthread.h>
#include <sched.h>
#include "util.h"

#define BS 512
static const char block[BS];

static void immediate(enum ioe_backend b, unsigned int workers)
{
	long n = scaled(5000, 500);
	struct ioe_context *ctx = backend_context(b, 4, workers);
	struct tev *t = calloc((size_t)n, sizeof(*t));
	int fd = test_file(0);

	CHECK(t != NULL);
	for (long i = 0; i < n; i++) {
		tev_init(&t[i], NULL);
		if (i % 100 == 99)
			ioe_prep_fdatasync(&t[i].ev, fd);
		else if (i % 3 == 2)
			ioe_prep_read(&t[i].ev, fd, (void *)block, 0, i * BS);	/* zero length */
		else
			ioe_prep_write(&t[i].ev, fd, block, BS, i * BS);
		CHECK_EQ(ioe_submit(ctx, &t[i].ev, (enum ioe_channel)(i % IOE_CHAN_MAX)), 0);
	}
	ioe_context_free(ctx);
	/* The threads were joined: their writes are visible here. */
	for (long i = 0; i < n; i++) {
		CHECK_EQ(atomic_load(&t[i].calls), 1);
		CHECK_EQ(t[i].ev.res, t[i].ev.action == IOE_WRITE ? BS : 0);
	}
	free(t);
	close(fd);
}

struct race {
	struct ioe_context *ctx;
	int fd;
	long n;			/* events before the racer waits for the free */
	long cap;		/* all events */
	struct tev *t;
	int *ret;
	atomic_long submitted;
	atomic_int freeing, racer_done;
	long refused_at;
	/* The sentinel. */
	struct ioe_event sentinel, spare;
	atomic_int sentinel_calls, spare_calls;
	int spare_ret;
};

static void *racer(void *arg)
{
	struct race *r = arg;

	for (long i = 0; i < r->cap; i++) {
		if (i >= r->n) {
			/* Reserve: only once the free is on its way, slowly. */
			while (!atomic_load(&r->freeing))
				sched_yield();
			sched_yield();
		}
		r->ret[i] = ioe_submit(r->ctx, &r->t[i].ev, IOE_CHAN_WRITE);
		atomic_store(&r->submitted, i + 1);
		if (r->ret[i] == -ESHUTDOWN) {
			r->refused_at = i;
			atomic_store(&r->racer_done, 1);
			return NULL;
		}
		CHECK_EQ(r->ret[i], 0);
	}
	fprintf(stderr, "racer ran out of events before the free began\n");
	exit(1);
}

static void spare_cb(struct ioe_event *ev, void *arg)
{
	struct race *r = arg;

	(void)ev;
	atomic_fetch_add(&r->spare_calls, 1);
}

static void sentinel_cb(struct ioe_event *ev, void *arg)
{
	struct race *r = arg;

	(void)ev;
	/* Bounded: a free that never refuses must fail, not hang. */
	for (long i = 0; !atomic_load(&r->racer_done); i++) {
		if (i == 20000) {
			fprintf(stderr, "the racer never got -ESHUTDOWN from a context being freed\n");
			exit(1);
		}
		usleep(1000);
	}
	/* The free has begun: a callback's submit is refused as well. */
	ioe_prep_write(&r->spare, r->fd, block, BS, 0);
	ioe_set_callback(&r->spare, spare_cb, r);
	r->spare_ret = ioe_submit(r->ctx, &r->spare, IOE_CHAN_WRITE);
	atomic_fetch_add(&r->sentinel_calls, 1);
}

static void race(enum ioe_backend b, unsigned int workers)
{
	struct race *r = calloc(1, sizeof(*r));
	pthread_t th;

	CHECK(r != NULL);
	r->n = scaled(20000, 2000);
	r->cap = r->n + 100000;
	r->t = calloc((size_t)r->cap, sizeof(*r->t));
	r->ret = calloc((size_t)r->cap, sizeof(*r->ret));
	CHECK(r->t && r->ret);
	r->fd = test_file(0);
	r->ctx = backend_context(b, 8, workers);
	r->refused_at = -1;
	for (long i = 0; i < r->cap; i++) {
		tev_init(&r->t[i], NULL);
		/* Distinct offsets, a small file: wrap every 1024 blocks. */
		ioe_prep_write(&r->t[i].ev, r->fd, block, BS, (i % 1024) * BS);
	}
	CHECK_EQ(pthread_create(&th, NULL, racer, r), 0);
	/* Let it get going, so that events are queued and in flight. */
	while (atomic_load(&r->submitted) < r->n / 10)
		sched_yield();
	ioe_prep_fsync(&r->sentinel, r->fd);
	ioe_set_callback(&r->sentinel, sentinel_cb, r);
	CHECK_EQ(ioe_submit(r->ctx, &r->sentinel, IOE_CHAN_PRIO), 0);
	atomic_store(&r->freeing, 1);
	ioe_context_free(r->ctx);
	/* The sentinel ran, so the racer has stopped submitting. */
	CHECK_EQ(pthread_join(th, NULL), 0);

	CHECK_EQ(atomic_load(&r->sentinel_calls), 1);
	CHECK_EQ(r->sentinel.res, 0);
	CHECK_EQ(r->spare_ret, -ESHUTDOWN);
	CHECK_EQ(atomic_load(&r->spare_calls), 0);
	CHECK(r->refused_at >= r->n / 10);
	for (long i = 0; i < r->refused_at; i++) {
		CHECK_EQ(r->ret[i], 0);
		CHECK_EQ(atomic_load(&r->t[i].calls), 1);
		CHECK_EQ(r->t[i].ev.res, BS);
	}
	CHECK_EQ(r->ret[r->refused_at], -ESHUTDOWN);
	CHECK_EQ(atomic_load(&r->t[r->refused_at].calls), 0);
	fprintf(stderr, "workers %u: %ld accepted, then -ESHUTDOWN\n", workers, r->refused_at);
	close(r->fd);
	free(r->t);
	free(r->ret);
	free(r);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);

	for (unsigned int workers = 0; workers <= 2; workers += 2) {
		immediate(b, workers);
		race(b, workers);
	}
	return 0;
}
