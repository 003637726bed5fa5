/* SPDX-License-Identifier: MIT */
/*
 * The merge buffer "cannot be allocated" (IOENGINE_FAULT=merge_nomem=1):
 * every run goes as separate events, with the same results and data.
 */
#include "fault.h"
#include "mtest.h"

static void t_separate(struct ioe_context *ctx)
{
	enum { N = 64 };
	static struct tev w[N], r[N];
	struct tgroup gw = { 0 }, gr = { 0 };
	int fd = test_file(0);
	struct ioe_merger *mw = ioe_merger_new(ctx, fd, IOE_WRITE, IOE_CHAN_WRITE, 16384);
	struct ioe_merger *mr = ioe_merger_new(ctx, fd, IOE_READ, IOE_CHAN_READ, 16384);
	int64_t off = 0;

	CHECK(mw && mr);
	for (int i = 0; i < N; i++) {
		size_t len = 1 + (size_t)(i * 7919) % 3000;

		tev_prep(&w[i], &gw, IOE_WRITE, fd, len, off);
		fill(w[i].buf, off, len, 5);
		CHECK_EQ(ioe_merger_add(mw, &w[i].ev), 0);
		off += (int64_t)len;
	}
	CHECK_EQ(ioe_merger_flush(mw), 0);
	wait_done(&gw, N);
	check_once(w, N);
	for (int i = 0; i < N; i++)
		CHECK_EQ(w[i].ev.res, w[i].ev.len);
	/* Reads, the last ones past EOF: pread's results exactly. */
	for (int i = 0; i < N; i++) {
		tev_prep(&r[i], &gr, IOE_READ, fd, 2000, off - 50000 + 2000 * i);
		CHECK_EQ(ioe_merger_add(mr, &r[i].ev), 0);
	}
	CHECK_EQ(ioe_merger_flush(mr), 0);
	wait_done(&gr, N);
	check_once(r, N);
	for (int i = 0; i < N; i++) {
		void *b = abuf(2000);
		ssize_t want = pread(fd, b, 2000, r[i].ev.offset);

		CHECK_EQ(r[i].ev.res, want);
		CHECK_PAT(r[i].buf, r[i].ev.offset, want, 5);
		free(b);
	}
	ioe_merger_free(mw);
	ioe_merger_free(mr);
	tev_release(w, N);
	tev_release(r, N);
	close(fd);
}

/* Proof that the pieces really went alone: merged they would be aligned. */
static void t_alone(struct ioe_context *ctx)
{
	struct tev t[2];
	struct tgroup g = { 0 };
	int fd = test_file(O_DIRECT);
	struct ioe_merger *m = ioe_merger_new(ctx, fd, IOE_WRITE, IOE_CHAN_WRITE, 65536);

	CHECK(m);
	if (!direct_refuses_misaligned(fd)) {
		fprintf(stderr, "note: misaligned O_DIRECT accepted here; check skipped\n");
		goto out;
	}
	tev_prep(&t[0], &g, IOE_WRITE, fd, 1000, 0);
	tev_prep(&t[1], &g, IOE_WRITE, fd, 3096, 1000);
	CHECK_EQ(ioe_merger_add(m, &t[0].ev), 0);
	CHECK_EQ(ioe_merger_add(m, &t[1].ev), 0);
	CHECK_EQ(ioe_merger_flush(m), 0);
	wait_done(&g, 2);
	check_once(t, 2);
	CHECK_EQ(t[0].ev.res, -EINVAL);
	CHECK_EQ(t[1].ev.res, -EINVAL);
	tev_release(t, 2);
out:
	ioe_merger_free(m);
	close(fd);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);

	/* Before the engine reads it (once). */
	setenv("IOENGINE_FAULT", "merge_nomem=1", 1);
	for (unsigned int workers = 0; workers <= 2; workers += 2) {
		struct ioe_context *ctx = test_context(b, 32, workers);

		t_separate(ctx);
		t_alone(ctx);
		ioe_context_free(ctx);
		t_shutdown(b, workers);	/* separate submits failing */
	}
	/* The switch really fired (it is behind IOENGINE_FAULT_INJECTION). */
	CHECK(ioe_fault_count(IOE_FAULT_MERGE_NOMEM) > 0);
	printf("merge nomem tests passed (%s)\n", argv[1]);
	return 0;
}
