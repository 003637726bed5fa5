/* SPDX-License-Identifier: MIT */
/*
 * Short reads at EOF, as pread() and preadv() give them: a read straddling
 * EOF returns the bytes up to EOF, a read at or past EOF returns 0; for READ
 * and READV, buffered and O_DIRECT.
 */
#include "util.h"

#define FSIZE 10000

static ssize_t eng_preadv(struct ioe_context *ctx, int fd, const struct iovec *iov, int n, int64_t off)
{
	struct ioe_event ev;

	ioe_prep_readv(&ev, fd, iov, n, off);
	return run_ev(ctx, &ev);
}

static void check_read(struct ioe_context *ctx, int fd, int64_t off, size_t len, ssize_t want)
{
	unsigned char *a = xalloc(len), *b = xalloc(len);

	memset(a, 0xee, len);
	CHECK_EQ(eng_pread(ctx, fd, a, len, off), want);
	CHECK_EQ(sys_res(pread(fd, b, len, off)), want);
	if (want > 0)
		verify(a, (size_t)want, (uint64_t)off, 5);
	/* Nothing written past what was read (O_DIRECT may zero the rest of the
	 * last block, as pread() does). */
	for (size_t i = want > 0 ? (size_t)want : 0; i < len && !is_direct(fd); i++)
		CHECK_EQ(a[i], 0xee);
	free(a);
	free(b);
}

/* Three iovecs; want may end inside any of them. */
static void check_readv(struct ioe_context *ctx, int fd, int64_t off, size_t unit, ssize_t want)
{
	struct iovec iov[3], sys[3];
	size_t pos = 0;

	for (int i = 0; i < 3; i++) {
		iov[i].iov_len = sys[i].iov_len = unit * (size_t)(i + 1);
		iov[i].iov_base = xalloc(iov[i].iov_len);
		sys[i].iov_base = xalloc(iov[i].iov_len);
		memset(iov[i].iov_base, 0xee, iov[i].iov_len);
	}
	CHECK_EQ(eng_preadv(ctx, fd, iov, 3, off), want);
	CHECK_EQ(sys_res(preadv(fd, sys, 3, off)), want);
	for (int i = 0; i < 3; i++) {
		unsigned char *p = iov[i].iov_base;

		for (size_t j = 0; j < iov[i].iov_len; j++, pos++) {
			if ((ssize_t)pos < want)
				CHECK_EQ(p[j], pat((uint64_t)off + pos, 5));
			else if (!is_direct(fd))
				CHECK_EQ(p[j], 0xee);
		}
		free(iov[i].iov_base);
		free(sys[i].iov_base);
	}
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	struct ioe_context *ctx = backend_context(b, 8, 0);
	int fd = test_file(0), dfd;
	unsigned char data[FSIZE];

	fill(data, FSIZE, 0, 5);
	CHECK_EQ(pwrite(fd, data, FSIZE, 0), FSIZE);
	/* The same file through O_DIRECT: its size stays unaligned. */
	{
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		dfd = open(path, O_RDWR | O_DIRECT);
		CHECK(dfd >= 0);
	}

	/* READ: straddling (partial), exactly at EOF and past it (zero). */
	check_read(ctx, fd, 4096, 8192, FSIZE - 4096);
	check_read(ctx, fd, FSIZE - 1, 100, 1);
	check_read(ctx, fd, FSIZE, 100, 0);
	check_read(ctx, fd, FSIZE + 5000, 4096, 0);
	check_read(ctx, fd, 0, FSIZE, FSIZE);

	/* READV: EOF inside the first, second and third iovec, and at/after EOF. */
	check_readv(ctx, fd, FSIZE - 100, 1000, 100);
	check_readv(ctx, fd, FSIZE - 1500, 1000, 1500);
	check_readv(ctx, fd, FSIZE - 4000, 1000, 4000);
	check_readv(ctx, fd, FSIZE, 1000, 0);
	check_readv(ctx, fd, FSIZE + 1, 1000, 0);
	check_readv(ctx, fd, 0, 1000, 6000);

	/* O_DIRECT: aligned requests, the kernel stops at the unaligned EOF. */
	check_read(ctx, dfd, 8192, 8192, FSIZE - 8192);
	check_read(ctx, dfd, 12288, 4096, 0);
	check_read(ctx, dfd, 0, 3 * 4096, FSIZE);
	check_readv(ctx, dfd, 8192, 4096, FSIZE - 8192);
	check_readv(ctx, dfd, 12288, 4096, 0);

	ioe_context_free(ctx);
	close(dfd);
	close(fd);
	return 0;
}
