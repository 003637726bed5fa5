/* SPDX-License-Identifier: MIT */
/*
 * The priority channel goes first: at depth 1, with a backlog of reads (or
 * writes) queued, one PRIO event queued last is done before all of them.
 *
 * The gate holds the submitter while everything is queued, so nothing is
 * taken before the PRIO event is there (holding the poller instead let the
 * submitter take and reap backlog events meanwhile: seen on a busy CI
 * machine). Reads of the page cache complete inside their submission and
 * the submitter reaps each itself, so their callbacks come in the order
 * taken. Writes may go to io_uring's io-wq worker and be reaped by the
 * poller, whose callback can then trail the submitter's next ones (seen
 * under valgrind: a PRIO write's callback came 72nd); they append
 * (O_APPEND), so the file itself says in which order they were done.
 */
#include "util.h"

#define N	200
#define BLK	512
#define PRIO_BYTE 0xff	/* the backlog's blocks hold their index, < N */

static void run(enum ioe_backend b, int gate_fd, int fd, bool writes)
{
	struct ioe_context *ctx = backend_context(b, 1, 0);
	static struct tev t[N + 1];
	static unsigned char bufs[N + 1][BLK], back[(N + 1) * BLK];
	struct waitgroup wg;
	atomic_long order;
	struct gate g;
	long pos;

	atomic_init(&order, 0);
	wg_init(&wg, N + 1);
	gate_close_submitter(ctx, &g, gate_fd);
	for (int i = 0; i <= N; i++) {
		tev_init(&t[i], &wg);
		t[i].order = &order;
		if (writes) {
			memset(bufs[i], i == N ? PRIO_BYTE : i, BLK);
			ioe_prep_write(&t[i].ev, fd, bufs[i], BLK, 0);	/* O_APPEND: the offset is not used */
		} else {
			ioe_prep_read(&t[i].ev, fd, bufs[i], BLK, (int64_t)i * BLK);
		}
		CHECK_EQ(ioe_submit(ctx, &t[i].ev,
				    i == N ? IOE_CHAN_PRIO : writes ? IOE_CHAN_WRITE : IOE_CHAN_READ), 0);
	}
	CHECK_EQ(ioe_pending(ctx), N + 1);
	gate_open(&g);
	wg_wait(&wg);
	for (int i = 0; i <= N; i++) {
		CHECK_EQ(atomic_load(&t[i].calls), 1);
		CHECK_EQ(t[i].ev.res, BLK);
	}
	if (writes) {
		CHECK_EQ(pread(fd, back, sizeof(back), 0), sizeof(back));
		for (pos = 0; pos <= N && back[pos * BLK] != PRIO_BYTE; pos++)
			;
	} else {
		pos = t[N].seq;
	}
	fprintf(stderr, "%s: prio event done at position %ld of %d\n", writes ? "writes" : "reads", pos, N + 1);
	CHECK_EQ(pos, 0);
	ioe_context_free(ctx);
	wg_destroy(&wg);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	int fd = test_file(0), afd = test_file(O_APPEND);
	static char zero[(N + 1) * BLK];

	CHECK_EQ(pwrite(fd, zero, sizeof(zero), 0), sizeof(zero));
	run(b, fd, fd, false);
	run(b, fd, afd, true);
	close(fd);
	close(afd);
	return 0;
}
