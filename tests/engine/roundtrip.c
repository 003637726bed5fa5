/* SPDX-License-Identifier: MIT */
/*
 * Buffered and O_DIRECT round trips: many writes in flight at once, then
 * reads of the same ranges, every byte checked; with callbacks inline
 * (workers 0) and on callback workers (workers 2).
 */
#include "util.h"

#define NEV 64

/* Write NEV pieces at distinct offsets together, read them back together. */
static void roundtrip(struct ioe_context *ctx, int fd, bool direct, uint32_t salt)
{
	static struct tev t[NEV];
	static unsigned char *bufs[NEV];
	size_t len[NEV];
	int64_t off[NEV], pos = 0;
	struct waitgroup wg;
	int i;

	for (i = 0; i < NEV; i++) {
		/* O_DIRECT: aligned sizes; buffered: odd ones too. */
		len[i] = direct ? (size_t)ALIGN * (1 + i % 5) : (size_t)(1 + i * 997 % 20000);
		off[i] = pos;
		pos += (int64_t)len[i] + (direct ? ALIGN : i % 3);
		bufs[i] = xalloc(len[i]);
		fill(bufs[i], len[i], (uint64_t)off[i], salt);
	}
	wg_init(&wg, NEV);
	for (i = 0; i < NEV; i++) {
		tev_init(&t[i], &wg);
		ioe_prep_write(&t[i].ev, fd, bufs[i], len[i], off[i]);
		CHECK_EQ(ioe_submit(ctx, &t[i].ev, IOE_CHAN_WRITE), 0);
	}
	wg_wait(&wg);
	for (i = 0; i < NEV; i++) {
		CHECK_EQ(atomic_load(&t[i].calls), 1);
		CHECK_EQ(t[i].ev.res, len[i]);
		memset(bufs[i], 0, len[i]);
	}
	wg_add(&wg, NEV);
	for (i = 0; i < NEV; i++) {
		tev_init(&t[i], &wg);
		ioe_prep_read(&t[i].ev, fd, bufs[i], len[i], off[i]);
		CHECK_EQ(ioe_submit(ctx, &t[i].ev, IOE_CHAN_READ), 0);
	}
	wg_wait(&wg);
	for (i = 0; i < NEV; i++) {
		CHECK_EQ(atomic_load(&t[i].calls), 1);
		CHECK_EQ(t[i].ev.res, len[i]);
		verify(bufs[i], len[i], (uint64_t)off[i], salt);
		free(bufs[i]);
	}
	wg_destroy(&wg);
	CHECK_EQ(ioe_pending(ctx), 0);
	CHECK_EQ(ioe_running(ctx), 0);
}

/* The engine's writes are what a plain pread() sees, and the other way round. */
static void cross_check(struct ioe_context *ctx, int fd)
{
	size_t len = 3 * ALIGN;
	unsigned char *a = xalloc(len), *b = xalloc(len);

	fill(a, len, 1 << 20, 99);
	CHECK_EQ(eng_pwrite(ctx, fd, a, len, 1 << 20), len);
	CHECK_EQ(pread(fd, b, len, 1 << 20), len);
	verify(b, len, 1 << 20, 99);
	fill(a, len, 2 << 20, 98);
	CHECK_EQ(pwrite(fd, a, len, 2 << 20), len);
	memset(b, 0, len);
	CHECK_EQ(eng_pread(ctx, fd, b, len, 2 << 20), len);
	verify(b, len, 2 << 20, 98);
	free(a);
	free(b);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	unsigned int workers[] = { 0, 2 };

	for (int w = 0; w < 2; w++) {
		struct ioe_context *ctx = backend_context(b, 32, workers[w]);
		int fd = test_file(0), dfd = test_file(O_DIRECT);

		roundtrip(ctx, fd, false, 1 + w);
		cross_check(ctx, fd);
		roundtrip(ctx, dfd, true, 3 + w);
		cross_check(ctx, dfd);
		ioe_context_free(ctx);
		close(fd);
		close(dfd);
	}
	return 0;
}
