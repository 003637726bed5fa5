/* SPDX-License-Identifier: MIT */
/*
 * READV/WRITEV round trips: iovecs of odd sizes written with one shape and
 * read back with another, checked against the file as pread() sees it; and an
 * O_DIRECT vectored round trip with aligned iovecs.
 */
#include "util.h"

static const size_t wsz[] = { 1, 7, 4096, 333, 10000, 2, 65536, 511, 3 };
static const size_t rsz[] = { 5000, 1, 1, 60000, 13, 15474 };
#define NW (sizeof(wsz) / sizeof(wsz[0]))
#define NR (sizeof(rsz) / sizeof(rsz[0]))

static size_t total(const size_t *sz, size_t n)
{
	size_t t = 0;

	for (size_t i = 0; i < n; i++)
		t += sz[i];
	return t;
}

static void buffered(struct ioe_context *ctx, int64_t off)
{
	int fd = test_file(0);
	struct iovec wiov[NW], riov[NR];
	size_t len = total(wsz, NW), pos = 0;
	unsigned char *flat = malloc(len);
	struct ioe_event ev;

	CHECK_EQ(len, total(rsz, NR));
	for (size_t i = 0; i < NW; i++) {
		wiov[i].iov_base = malloc(wsz[i]);
		wiov[i].iov_len = wsz[i];
		fill(wiov[i].iov_base, wsz[i], (uint64_t)off + pos, 11);
		pos += wsz[i];
	}
	ioe_prep_writev(&ev, fd, wiov, NW, off);
	CHECK_EQ(run_ev(ctx, &ev), len);
	/* What the kernel holds, seen without the engine. */
	CHECK_EQ(pread(fd, flat, len, off), len);
	verify(flat, len, (uint64_t)off, 11);

	for (size_t i = 0; i < NR; i++) {
		riov[i].iov_base = calloc(1, rsz[i]);
		riov[i].iov_len = rsz[i];
	}
	ioe_prep_readv(&ev, fd, riov, NR, off);
	CHECK_EQ(run_ev(ctx, &ev), len);
	pos = 0;
	for (size_t i = 0; i < NR; i++) {
		verify(riov[i].iov_base, rsz[i], (uint64_t)off + pos, 11);
		pos += rsz[i];
		free(riov[i].iov_base);
	}
	for (size_t i = 0; i < NW; i++)
		free(wiov[i].iov_base);

	/* iovcnt 0 is a zero-length IO, as for preadv(). */
	ioe_prep_readv(&ev, fd, riov, 0, 0);
	CHECK_EQ(run_ev(ctx, &ev), 0);
	free(flat);
	close(fd);
}

static void direct(struct ioe_context *ctx)
{
	int fd = test_file(O_DIRECT);
	struct iovec iov[5];
	size_t len = 0, pos;
	struct ioe_event ev;
	int i;

	for (i = 0; i < 5; i++) {
		iov[i].iov_len = (size_t)ALIGN * (size_t)(1 + i * 3 % 4);
		iov[i].iov_base = xalloc(iov[i].iov_len);
		fill(iov[i].iov_base, iov[i].iov_len, 8 * ALIGN + len, 12);
		len += iov[i].iov_len;
	}
	ioe_prep_writev(&ev, fd, iov, 5, 8 * ALIGN);
	CHECK_EQ(run_ev(ctx, &ev), len);
	for (i = 0; i < 5; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
	ioe_prep_readv(&ev, fd, iov, 5, 8 * ALIGN);
	CHECK_EQ(run_ev(ctx, &ev), len);
	for (i = 0, pos = 0; i < 5; i++) {
		verify(iov[i].iov_base, iov[i].iov_len, 8 * ALIGN + pos, 12);
		pos += iov[i].iov_len;
		free(iov[i].iov_base);
	}
	close(fd);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	struct ioe_context *ctx = backend_context(b, 8, 1);

	buffered(ctx, 0);
	buffered(ctx, 12345);
	direct(ctx);
	ioe_context_free(ctx);
	return 0;
}
