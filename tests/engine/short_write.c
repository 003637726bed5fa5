/* SPDX-License-Identifier: MIT */
/*
 * Short writes under RLIMIT_FSIZE (SIGXFSZ ignored): a write straddling the
 * limit moves the bytes up to it, then the continuation meets -EFBIG and the
 * event must report the partial count, exactly as pwrite()/pwritev() do on
 * the same input; a write wholly past the limit gives -EFBIG.
 */
#include <signal.h>
#include <sys/resource.h>
#include "util.h"

#define LIMIT 100000

static void compare_write(struct ioe_context *ctx, int64_t off, size_t len, ssize_t want)
{
	int fe = test_file(0), fs = test_file(0);
	unsigned char *buf = xalloc(len), *back = xalloc(len);
	ssize_t r;

	fill(buf, len, (uint64_t)off, 3);
	r = sys_res(pwrite(fs, buf, len, off));
	CHECK_EQ(r, want);
	CHECK_EQ(eng_pwrite(ctx, fe, buf, len, off), r);
	if (r > 0) {
		CHECK_EQ(pread(fe, back, (size_t)r, off), r);
		verify(back, (size_t)r, (uint64_t)off, 3);
	}
	CHECK_EQ(lseek(fe, 0, SEEK_END), lseek(fs, 0, SEEK_END));
	free(buf);
	free(back);
	close(fe);
	close(fs);
}

static void compare_writev(struct ioe_context *ctx, int64_t off, ssize_t want)
{
	static const size_t sz[] = { 1000, 3000, 7, 5000, 9000 };
	int fe = test_file(0), fs = test_file(0);
	struct iovec iov[5];
	struct ioe_event ev;
	size_t pos = 0;
	ssize_t r;

	for (int i = 0; i < 5; i++) {
		iov[i].iov_base = malloc(sz[i]);
		iov[i].iov_len = sz[i];
		fill(iov[i].iov_base, sz[i], (uint64_t)off + pos, 4);
		pos += sz[i];
	}
	r = sys_res(pwritev(fs, iov, 5, off));
	CHECK_EQ(r, want);
	ioe_prep_writev(&ev, fe, iov, 5, off);
	CHECK_EQ(run_ev(ctx, &ev), r);
	CHECK_EQ(lseek(fe, 0, SEEK_END), lseek(fs, 0, SEEK_END));
	for (int i = 0; i < 5; i++)
		free(iov[i].iov_base);
	close(fe);
	close(fs);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	struct rlimit rl = { .rlim_cur = LIMIT, .rlim_max = LIMIT };
	struct ioe_context *ctx;

	/* Process-wide: the engine's threads (and io_uring's workers) share it. */
	CHECK(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	CHECK_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ctx = backend_context(b, 8, 0);

	compare_write(ctx, LIMIT - 4000, 8192, 4000);
	compare_write(ctx, LIMIT - 1, 2, 1);
	compare_write(ctx, LIMIT - 8192, 8192, 8192);
	compare_write(ctx, LIMIT, 10, -EFBIG);
	compare_write(ctx, LIMIT + 4096, 4096, -EFBIG);
	compare_writev(ctx, LIMIT - 4500, 4500);	/* limit inside the 3rd iovec */
	compare_writev(ctx, LIMIT - 1000, 1000);	/* at an iovec boundary */
	compare_writev(ctx, LIMIT, -EFBIG);
	ioe_context_free(ctx);
	return 0;
}
