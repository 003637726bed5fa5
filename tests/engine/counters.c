/* SPDX-License-Identifier: MIT */
/*
 * ioe_pending() and ioe_running(): 0 on a new context; while the gate holds
 * the engine thread that ran its callback, the counts are exact: if it holds
 * the poller, the submitter fills every slot and the rest stays queued
 * (running == depth, pending == the rest); if it holds the submitter (which
 * completes an idle ring's IO itself), everything stays queued. 0 and 0 once
 * all completed.
 */
#include <time.h>
#include "util.h"

#define N 100
#define DEPTH 4

/* Wait (up to 5 s) for the counts to reach one of the two gated states. */
static void wait_counts(struct ioe_context *ctx)
{
	for (int i = 0; i < 50000; i++) {
		size_t pending = ioe_pending(ctx), running = ioe_running(ctx);

		if ((pending == N - DEPTH && running == DEPTH) || (pending == N && running == 0))
			return;
		usleep(100);
	}
	CHECK_EQ(ioe_pending(ctx), N - DEPTH);
	CHECK_EQ(ioe_running(ctx), DEPTH);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	static struct tev t[N];
	static char buf[N][512];
	struct ioe_context *ctx;
	struct waitgroup wg;
	struct gate g;
	int fd = test_file(0);

	CHECK_EQ(pwrite(fd, buf, sizeof(buf), 0), sizeof(buf));
	for (unsigned int workers = 0; workers <= 1; workers++) {
		ctx = backend_context(b, DEPTH, workers);
		CHECK_EQ(ioe_pending(ctx), 0);
		CHECK_EQ(ioe_running(ctx), 0);

		wg_init(&wg, N);
		gate_close(ctx, &g, fd);
		/* With workers the gate holds a callback worker, not the poller:
		 * then only "never more than depth running" can be said. */
		for (int i = 0; i < N; i++) {
			tev_init(&t[i], &wg);
			ioe_prep_write(&t[i].ev, fd, buf[i], 512, (int64_t)i * 512);
			CHECK_EQ(ioe_submit(ctx, &t[i].ev, i % 2 ? IOE_CHAN_WRITE : IOE_CHAN_PRIO), 0);
			CHECK(ioe_running(ctx) <= DEPTH);
		}
		if (!workers)
			wait_counts(ctx);
		gate_open(&g);
		wg_wait(&wg);
		/* The slot is home before the callback runs. */
		CHECK_EQ(ioe_pending(ctx), 0);
		CHECK_EQ(ioe_running(ctx), 0);
		for (int i = 0; i < N; i++)
			CHECK_EQ(t[i].ev.res, 512);
		ioe_context_free(ctx);
		wg_destroy(&wg);
	}
	close(fd);
	return 0;
}
