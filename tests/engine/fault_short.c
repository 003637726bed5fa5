/* SPDX-License-Identifier: MIT */
/*
 * Short-IO continuation under fault injection: with IOENGINE_FAULT set before
 * the first IO, half of the engine's reads and writes are submitted for only
 * part of their length, so the kernel really returns short counts. Large
 * events must still complete in full, with the right data: through the
 * queues, and as synchronous calls on the idle engine (plain system calls
 * in the caller, a vector's rest walked in place).
 */
#include "util.h"
#include "fault.h"

#define BIG (1 << 20)

static void big_roundtrip(struct ioe_context *ctx, int fd, uint32_t salt)
{
	unsigned char *buf = xalloc(BIG);

	for (int i = 0; i < 4; i++) {
		int64_t off = (int64_t)i * BIG;

		fill(buf, BIG, (uint64_t)off, salt);
		CHECK_EQ(eng_pwrite(ctx, fd, buf, BIG, off), BIG);
	}
	/* Also what the kernel holds, read without the engine. */
	CHECK_EQ(pread(fd, buf, BIG, BIG), BIG);
	verify(buf, BIG, BIG, salt);
	for (int i = 0; i < 4; i++) {
		int64_t off = (int64_t)i * BIG;

		memset(buf, 0, BIG);
		CHECK_EQ(eng_pread(ctx, fd, buf, BIG, off), BIG);
		verify(buf, BIG, (uint64_t)off, salt);
	}
	free(buf);
}

/* Many events in flight at once, some continued while others complete. */
static void many(struct ioe_context *ctx, int fd, bool direct)
{
	enum { N = 64, LEN = 64 * 1024 };
	static struct tev t[N];
	unsigned char *buf = xalloc((size_t)N * LEN);
	size_t len = direct ? LEN : LEN - 3;
	struct waitgroup wg;

	fill(buf, (size_t)N * LEN, 0, 21);
	wg_init(&wg, N);
	for (int i = 0; i < N; i++) {
		tev_init(&t[i], &wg);
		ioe_prep_write(&t[i].ev, fd, buf + (size_t)i * LEN, len, (int64_t)i * LEN);
		CHECK_EQ(ioe_submit(ctx, &t[i].ev, IOE_CHAN_WRITE), 0);
	}
	wg_wait(&wg);
	for (int i = 0; i < N; i++)
		CHECK_EQ(t[i].ev.res, len);
	memset(buf, 0, (size_t)N * LEN);
	wg_add(&wg, N);
	for (int i = 0; i < N; i++) {
		tev_init(&t[i], &wg);
		ioe_prep_read(&t[i].ev, fd, buf + (size_t)i * LEN, len, (int64_t)i * LEN);
		CHECK_EQ(ioe_submit(ctx, &t[i].ev, IOE_CHAN_READ), 0);
	}
	wg_wait(&wg);
	for (int i = 0; i < N; i++) {
		CHECK_EQ(t[i].ev.res, len);
		verify(buf + (size_t)i * LEN, len, (uint64_t)i * LEN, 21);
	}
	wg_destroy(&wg);
	free(buf);
}

/* sync: ioe_submit_wait(), else through the queues. */
static ssize_t run_as(struct ioe_context *ctx, struct ioe_event *ev, bool sync)
{
	if (!sync)
		return run_ev(ctx, ev);
	CHECK_EQ(ioe_submit_wait(ctx, ev, chan_of(ev)), 0);
	return ev->res;
}

static void vectored(struct ioe_context *ctx, int fd, bool direct, bool sync)
{
	struct iovec iov[6];
	size_t len = 0, pos = 0;
	struct ioe_event ev;

	for (int i = 0; i < 6; i++) {
		iov[i].iov_len = direct ? (size_t)(i + 1) * 64 * 1024 : (size_t)(i + 1) * 50001;
		iov[i].iov_base = xalloc(iov[i].iov_len);
		fill(iov[i].iov_base, iov[i].iov_len, 4096 + len, 31);
		len += iov[i].iov_len;
	}
	ioe_prep_writev(&ev, fd, iov, 6, 4096);
	CHECK_EQ(run_as(ctx, &ev, sync), len);
	for (int i = 0; i < 6; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
	ioe_prep_readv(&ev, fd, iov, 6, 4096);
	CHECK_EQ(run_as(ctx, &ev, sync), len);
	for (int i = 0; i < 6; i++) {
		verify(iov[i].iov_base, iov[i].iov_len, 4096 + pos, 31);
		pos += iov[i].iov_len;
		free(iov[i].iov_base);
	}
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	struct ioe_context *ctx;

	/* Parsed once per process, at the first IO: set it before anything. */
	CHECK_EQ(setenv("IOENGINE_FAULT", "seed=7,short=0.5", 1), 0);

	for (unsigned int workers = 0; workers <= 2; workers += 2) {
		int fd = test_file(0), dfd = test_file(O_DIRECT);

		ctx = backend_context(b, 16, workers);
		big_roundtrip(ctx, fd, 1 + workers);
		big_roundtrip(ctx, dfd, 2 + workers);
		many(ctx, fd, false);
		many(ctx, dfd, true);
		vectored(ctx, fd, false, false);
		vectored(ctx, dfd, true, false);
		vectored(ctx, fd, false, true);
		vectored(ctx, dfd, true, true);
		ioe_context_free(ctx);
		close(fd);
		close(dfd);
	}
	/* The engine really cut IOs short: the continuations were exercised. */
	CHECK(ioe_fault_count(IOE_FAULT_SHORT) > 100);
	fprintf(stderr, "%llu IOs cut short\n", (unsigned long long)ioe_fault_count(IOE_FAULT_SHORT));
	return 0;
}
