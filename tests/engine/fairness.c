/* SPDX-License-Identifier: MIT */
/*
 * A flood on one channel cannot starve the other: at a small depth, with
 * thousands of writes queued before a few reads, every read completes within
 * the first 8 * FEW events (the submitter alternates which channel goes
 * first each round); and the same with the roles swapped. The gate holds the submitter
 * while everything is queued, so the order is decided by the scheduler alone
 * (holding the poller, the submitter could take and reap flood events while
 * the few were still to come).
 *
 * Every IO is a 512-byte read of a file in the page cache, which both
 * backends complete at once, in the order submitted: the channel is what
 * differs. Real buffered writes may go to io_uring's io-wq worker and, on a
 * busy CPU, complete long after reads submitted later, and completion order
 * then says nothing of the scheduler's (5 failures in 100 runs of the
 * io_uring case beside three CPU hogs).
 */
#include "util.h"

#define FLOOD 4000
#define FEW 8

static void run(enum ioe_backend b, int fd, unsigned int depth, bool flood_writes)
{
	struct ioe_context *ctx = backend_context(b, depth, 0);
	static struct tev t[FLOOD + FEW];
	static char buf[FLOOD + FEW][512];
	long worst = 0;
	struct waitgroup wg;
	atomic_long order;
	struct gate g;

	atomic_init(&order, 0);
	wg_init(&wg, FLOOD + FEW);
	gate_close_submitter(ctx, &g, fd);
	for (int i = 0; i < FLOOD + FEW; i++) {
		bool flood = i < FLOOD;
		bool write = flood == flood_writes;

		tev_init(&t[i], &wg);
		t[i].order = &order;
		ioe_prep_read(&t[i].ev, fd, buf[i], 512, (int64_t)i * 512);
		CHECK_EQ(ioe_submit(ctx, &t[i].ev, write ? IOE_CHAN_WRITE : IOE_CHAN_READ), 0);
	}
	gate_open(&g);
	wg_wait(&wg);
	for (int i = 0; i < FLOOD + FEW; i++) {
		CHECK_EQ(atomic_load(&t[i].calls), 1);
		CHECK_EQ(t[i].ev.res, 512);
	}
	for (int i = FLOOD; i < FLOOD + FEW; i++)
		worst = t[i].seq > worst ? t[i].seq : worst;
	fprintf(stderr, "depth %u, %d on the %s channel then %d on the %s channel: "
		"last of the few completed at position %ld\n",
		depth, FLOOD, flood_writes ? "write" : "read", FEW, flood_writes ? "read" : "write", worst);
	/* Alternating, the few are all taken within ~2 * FEW + depth events (seen: 11-15). */
	CHECK(worst < 8 * FEW);
	ioe_context_free(ctx);
	wg_destroy(&wg);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	int fd = test_file(0);
	static char zero[(FLOOD + FEW) * 512];

	/* Completion order is the scheduler's only for unmerged reads (merge_take.c joins adjacent ones). */
	CHECK_EQ(setenv("IOENGINE_MERGE", "0", 1), 0);
	CHECK_EQ(pwrite(fd, zero, sizeof(zero), 0), sizeof(zero));
	for (unsigned int depth = 2; depth <= 4; depth += 2) {
		run(b, fd, depth, true);
		run(b, fd, depth, false);
	}
	close(fd);
	return 0;
}
