/* SPDX-License-Identifier: MIT */
/*
 * ioe_cancel() of events the engine holds, on both backends:
 * - queued: with the gate holding the submitter nothing queued is taken;
 *   every other event is cancelled: IOE_CANCEL_DONE, its callback has run
 *   once, in this thread, with -ECANCELED before ioe_cancel() returned; a
 *   second cancel says IOE_CANCEL_ALLDONE; the rest complete normally.
 * - a completed event: IOE_CANCEL_ALLDONE; NULL: -EINVAL.
 * - from a callback: a queued event cancelled by another's callback is
 *   called back there, nested, before ioe_cancel() returns.
 * - racing completion: a second thread cancels each event as soon as it is
 *   submitted: every callback runs exactly once, with -ECANCELED exactly
 *   when ioe_cancel() said IOE_CANCEL_DONE.
 * Held events (ioe_submit_local()) and kernel cancels are in stream.c.
 */
#include <sys/syscall.h>
#include "util.h"

#define QUEUED 16
#define LEN 512

/* The callback's thread, to see that a queued event's runs in the canceller. */
struct cev {
	struct tev t;
	pid_t cb_tid;
};

static void cev_cb(struct ioe_event *ev, void *arg)
{
	struct cev *c = arg;

	c->cb_tid = gettid();
	tev_cb(ev, &c->t);
}

static void cev_init(struct cev *c, struct waitgroup *wg)
{
	tev_init(&c->t, wg);
	c->cb_tid = 0;
}

static void queued(enum ioe_backend b, int fd, unsigned int workers)
{
	static struct cev c[QUEUED];
	static char buf[QUEUED][LEN];
	struct ioe_context *ctx = backend_context(b, 4, workers);
	int answer[QUEUED];
	struct waitgroup wg;
	struct gate g;

	wg_init(&wg, QUEUED);
	/* With a worker the gate holds it: completions wait there for their callbacks. */
	if (workers)
		gate_close(ctx, &g, fd);
	else
		gate_close_submitter(ctx, &g, fd);
	for (int i = 0; i < QUEUED; i++) {
		cev_init(&c[i], &wg);
		ioe_prep_read(&c[i].t.ev, fd, buf[i], LEN, (int64_t)i * LEN);
		ioe_set_callback(&c[i].t.ev, cev_cb, &c[i]);
		CHECK_EQ(ioe_submit(ctx, &c[i].t.ev, i % 3 ? IOE_CHAN_READ : IOE_CHAN_PRIO), 0);
	}
	if (!workers)
		CHECK_EQ(ioe_pending(ctx), QUEUED);
	for (int i = 1; i < QUEUED; i += 2) {
		answer[i] = ioe_cancel(ctx, &c[i].t.ev);
		if (!workers) {
			CHECK_EQ(answer[i], IOE_CANCEL_DONE);
			CHECK_EQ(ioe_pending(ctx), QUEUED - (size_t)(i + 1) / 2);
		}
		if (answer[i] == IOE_CANCEL_DONE) {
			CHECK_EQ(atomic_load(&c[i].t.calls), 1);
			CHECK_EQ(c[i].t.ev.res, -ECANCELED);
			CHECK_EQ(c[i].cb_tid, gettid());
			CHECK_EQ(ioe_cancel(ctx, &c[i].t.ev), IOE_CANCEL_ALLDONE);
		}
	}
	gate_open(&g);
	wg_wait(&wg);
	for (int i = 0; i < QUEUED; i++) {
		CHECK_EQ(atomic_load(&c[i].t.calls), 1);
		if (i % 2 && answer[i] == IOE_CANCEL_DONE)
			CHECK_EQ(c[i].t.ev.res, -ECANCELED);
		else
			CHECK_EQ(c[i].t.ev.res, LEN);
		CHECK_EQ(ioe_cancel(ctx, &c[i].t.ev), IOE_CANCEL_ALLDONE);
	}
	ioe_context_free(ctx);
	wg_destroy(&wg);
}

/*
 * From a callback: at depth 1, with the gate holding the submitter, A and
 * then B are queued; once open, the submitter does A (a page-cache read,
 * done inside the submission) and calls it back itself, while B waits for
 * the slot: A's callback cancels B, whose callback runs there, nested.
 */
struct canceller_cb {
	struct tev t;
	struct ioe_context *ctx;
	struct tev *victim;
	int answer;
	bool victim_done;	/* when the cancel returned */
};

static void cancelling_cb(struct ioe_event *ev, void *arg)
{
	struct canceller_cb *c = arg;

	c->answer = ioe_cancel(c->ctx, &c->victim->ev);
	c->victim_done = atomic_load(&c->victim->calls) == 1;
	tev_cb(ev, &c->t);
}

static void from_callback(enum ioe_backend b, int fd)
{
	struct ioe_context *ctx = backend_context(b, 1, 0);
	struct canceller_cb a;
	char buf[2][LEN];
	struct waitgroup wg;
	struct tev victim;
	struct gate g;

	wg_init(&wg, 2);
	gate_close_submitter(ctx, &g, fd);
	tev_init(&a.t, &wg);
	a.ctx = ctx;
	a.victim = &victim;
	ioe_prep_read(&a.t.ev, fd, buf[0], LEN, 0);
	ioe_set_callback(&a.t.ev, cancelling_cb, &a);
	tev_init(&victim, &wg);
	ioe_prep_read(&victim.ev, fd, buf[1], LEN, LEN);
	CHECK_EQ(ioe_submit(ctx, &a.t.ev, IOE_CHAN_READ), 0);
	CHECK_EQ(ioe_submit(ctx, &victim.ev, IOE_CHAN_READ), 0);
	gate_open(&g);
	wg_wait(&wg);
	CHECK_EQ(a.answer, IOE_CANCEL_DONE);
	CHECK_EQ(a.t.ev.res, LEN);
	CHECK_EQ(victim.ev.res, -ECANCELED);
	CHECK_EQ(atomic_load(&victim.calls), 1);
	CHECK(a.victim_done);
	ioe_context_free(ctx);
	wg_destroy(&wg);
}

/*
 * The race: the submitting thread cancels each batch it submitted, the last
 * first, while a second thread cancels the same events, the first first:
 * two cancels of one event, racing each other and the completion.
 */
#define BATCH 32
#define BIG (8 << 20)

struct race {
	struct ioe_context *ctx;
	struct tev *t;
	int *answer[2];		/* [0]: the submitting thread's, [1]: the other's */
	long n;
	atomic_long submitted;
};

static void *canceller(void *arg)
{
	struct race *r = arg;

	for (long first = 0; first < r->n; first += BATCH) {
		while (atomic_load(&r->submitted) < first + BATCH)
			;
		for (long i = first; i < first + BATCH; i++)
			r->answer[1][i] = ioe_cancel(r->ctx, &r->t[i].ev);
	}
	return NULL;
}

static void race(enum ioe_backend b, int fd, unsigned int workers)
{
	long n = scaled(5000, 512) / BATCH * BATCH;
	struct race r = { .n = n };
	static char buf[64][LEN];
	long counts[3] = { 0 };
	int zero_fd = open("/dev/zero", O_RDONLY);
	char *big = xalloc(BIG);
	struct waitgroup wg;
	pthread_t th;

	r.ctx = backend_context(b, 8, workers);
	r.t = calloc((size_t)n, sizeof(*r.t));
	r.answer[0] = calloc((size_t)n, sizeof(int));
	r.answer[1] = calloc((size_t)n, sizeof(int));
	CHECK(r.t && r.answer[0] && r.answer[1]);
	atomic_init(&r.submitted, 0);
	wg_init(&wg, n);
	CHECK_EQ(pthread_create(&th, NULL, canceller, &r), 0);
	for (long first = 0; first < n; first += BATCH) {
		for (long i = first; i < first + BATCH; i++) {
			tev_init(&r.t[i], &wg);
			/* The batch's first is long (a copy inside the submission): the rest may queue behind it. */
			if (i == first)
				ioe_prep_read(&r.t[i].ev, zero_fd, big, BIG, 0);
			else
				ioe_prep_read(&r.t[i].ev, fd, buf[i % 64], LEN, (i % QUEUED) * LEN);
			CHECK_EQ(ioe_submit(r.ctx, &r.t[i].ev, i % 2 ? IOE_CHAN_READ : IOE_CHAN_WRITE), 0);
		}
		atomic_store(&r.submitted, first + BATCH);
		for (long i = first + BATCH - 1; i >= first; i--)
			r.answer[0][i] = ioe_cancel(r.ctx, &r.t[i].ev);
	}
	CHECK_EQ(pthread_join(th, NULL), 0);
	wg_wait(&wg);
	for (long i = 0; i < n; i++) {
		int done = 0;

		CHECK_EQ(atomic_load(&r.t[i].calls), 1);
		for (int k = 0; k < 2; k++) {
			CHECK(r.answer[k][i] >= IOE_CANCEL_DONE && r.answer[k][i] <= IOE_CANCEL_ALLDONE);
			done += r.answer[k][i] == IOE_CANCEL_DONE;
			counts[r.answer[k][i]]++;
		}
		CHECK(done <= 1);
		CHECK_EQ(done == 1, r.t[i].ev.res == -ECANCELED);
		if (!done)
			CHECK_EQ(r.t[i].ev.res, i % BATCH ? LEN : BIG);
	}
	printf("race %s workers %u: %ld done, %ld running, %ld alldone\n", ioe_backend_name(r.ctx), workers,
	       counts[IOE_CANCEL_DONE], counts[IOE_CANCEL_RUNNING], counts[IOE_CANCEL_ALLDONE]);
	ioe_context_free(r.ctx);
	wg_destroy(&wg);
	free(r.t);
	free(r.answer[0]);
	free(r.answer[1]);
	free(big);
	close(zero_fd);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	static char data[QUEUED * LEN];
	struct ioe_context *ctx;
	struct waitgroup wg;
	struct ioe_event ev;
	struct tev t;
	int fd = test_file(0);

	/*
	 * Adjacent reads queued together would be merged, and a member is never
	 * cancelled (merge_take.c): only the race runs with merging (the default).
	 */
	CHECK_EQ(setenv("IOENGINE_MERGE", "0", 1), 0);
	CHECK_EQ(pwrite(fd, data, sizeof(data), 0), sizeof(data));
	CHECK_EQ(ioe_cancel(NULL, &ev), -EINVAL);

	ctx = backend_context(b, 4, 0);
	CHECK_EQ(ioe_cancel(ctx, NULL), -EINVAL);
	/* No thread yet, so nothing in flight. */
	CHECK_EQ(ioe_cancel(ctx, &ev), IOE_CANCEL_ALLDONE);
	wg_init(&wg, 1);
	tev_init(&t, &wg);
	ioe_prep_read(&t.ev, fd, data, LEN, 0);
	CHECK_EQ(ioe_submit(ctx, &t.ev, IOE_CHAN_READ), 0);
	wg_wait(&wg);
	CHECK_EQ(t.ev.res, LEN);
	CHECK_EQ(ioe_cancel(ctx, &t.ev), IOE_CANCEL_ALLDONE);
	CHECK_EQ(atomic_load(&t.calls), 1);
	wg_destroy(&wg);
	ioe_context_free(ctx);

	from_callback(b, fd);
	for (unsigned int workers = 0; workers <= 1; workers++)
		queued(b, fd, workers);
	CHECK_EQ(unsetenv("IOENGINE_MERGE"), 0);
	for (unsigned int workers = 0; workers <= 1; workers++)
		race(b, fd, workers);
	close(fd);
	return 0;
}
