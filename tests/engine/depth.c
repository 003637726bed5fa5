/* SPDX-License-Identifier: MIT */
/*
 * Depth 1 and IOE_MAX_DEPTH: twice as many events as slots (and many more at
 * depth 1) written and read back together, every byte checked.
 */
#include "util.h"

#define BS 512

static void run(enum ioe_backend b, unsigned int depth, unsigned int workers, long n)
{
	struct ioe_context *ctx = backend_context(b, depth, workers);
	struct tev *t = calloc((size_t)n, sizeof(*t));
	unsigned char *buf = xalloc((size_t)n * BS);
	int fd = test_file(0);
	struct waitgroup wg;

	CHECK(t != NULL);
	fill(buf, (size_t)n * BS, 0, depth);
	wg_init(&wg, n);
	for (long i = 0; i < n; i++) {
		tev_init(&t[i], &wg);
		ioe_prep_write(&t[i].ev, fd, buf + i * BS, BS, i * BS);
		CHECK_EQ(ioe_submit(ctx, &t[i].ev, IOE_CHAN_WRITE), 0);
	}
	wg_wait(&wg);
	for (long i = 0; i < n; i++)
		CHECK_EQ(t[i].ev.res, BS);
	memset(buf, 0, (size_t)n * BS);
	wg_add(&wg, n);
	for (long i = 0; i < n; i++) {
		tev_init(&t[i], &wg);
		ioe_prep_read(&t[i].ev, fd, buf + i * BS, BS, i * BS);
		CHECK_EQ(ioe_submit(ctx, &t[i].ev, IOE_CHAN_READ), 0);
	}
	wg_wait(&wg);
	for (long i = 0; i < n; i++) {
		CHECK_EQ(atomic_load(&t[i].calls), 1);
		CHECK_EQ(t[i].ev.res, BS);
	}
	verify(buf, (size_t)n * BS, 0, depth);
	CHECK_EQ(ioe_running(ctx), 0);
	ioe_context_free(ctx);
	wg_destroy(&wg);
	free(buf);
	free(t);
	close(fd);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);

	run(b, 1, 0, scaled(2000, 100));
	run(b, 1, 2, scaled(2000, 100));
	run(b, IOE_MAX_DEPTH, 0, 2 * IOE_MAX_DEPTH);
	run(b, IOE_MAX_DEPTH, 2, 2 * IOE_MAX_DEPTH);
	return 0;
}
