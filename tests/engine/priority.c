/* SPDX-License-Identifier: MIT */
/*
 * The priority channel goes first: at depth 1, with a backlog of reads (or
 * writes) queued, one PRIO event queued last completes before nearly all of
 * them. The gate holds the poller while the backlog is queued, so the
 * submitter has taken at most one backlog event when the PRIO one arrives.
 */
#include "util.h"

#define N 200

static void run(enum ioe_backend b, int fd, enum ioe_channel ch)
{
	struct ioe_context *ctx = backend_context(b, 1, 0);
	static struct tev t[N + 1];
	static char bufs[N + 1][512];
	struct waitgroup wg;
	atomic_long order;
	struct gate g;
	struct tev *prio = &t[N];

	atomic_init(&order, 0);
	wg_init(&wg, N + 1);
	gate_close(ctx, &g, fd);
	for (int i = 0; i <= N; i++) {
		tev_init(&t[i], &wg);
		t[i].order = &order;
		if (ch == IOE_CHAN_READ)
			ioe_prep_read(&t[i].ev, fd, bufs[i], 512, (int64_t)i * 512);
		else
			ioe_prep_write(&t[i].ev, fd, bufs[i], 512, (int64_t)i * 512);
		CHECK_EQ(ioe_submit(ctx, &t[i].ev, i == N ? IOE_CHAN_PRIO : ch), 0);
	}
	CHECK(ioe_pending(ctx) >= N);
	gate_open(&g);
	wg_wait(&wg);
	for (int i = 0; i <= N; i++) {
		CHECK_EQ(atomic_load(&t[i].calls), 1);
		CHECK_EQ(t[i].ev.res, 512);
	}
	/* Queued last, done first (after the one read the submitter already had). */
	fprintf(stderr, "%s: prio event completed at position %ld of %d\n",
		ch == IOE_CHAN_READ ? "reads" : "writes", prio->seq, N + 1);
	CHECK(prio->seq <= 2);
	ioe_context_free(ctx);
	wg_destroy(&wg);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	int fd = test_file(0);
	static char zero[(N + 1) * 512];

	CHECK_EQ(pwrite(fd, zero, sizeof(zero), 0), sizeof(zero));
	run(b, fd, IOE_CHAN_READ);
	run(b, fd, IOE_CHAN_WRITE);
	close(fd);
	return 0;
}
