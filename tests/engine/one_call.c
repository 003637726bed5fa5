/* SPDX-License-Identifier: MIT */
/*
 * IOE_F_ONE_CALL: an event's result is what one pread()/pwrite() of it
 * returns. A write across RLIMIT_FSIZE ends with the bytes up to the limit,
 * and no write is made at the limit: ioe_submit_wait() writes in the calling
 * thread, where such a write would raise SIGXFSZ (counted by a handler
 * here). Without the flag the engine goes on, meets the limit, and reports
 * the same count (short_write.c); the signal shows the second call. Reads
 * across end of file and vectored IO give pread()'s and preadv()'s counts
 * through both the caller's path and the drivers'.
 */
#include <signal.h>
#include <sys/resource.h>
#include "util.h"

#define LIMIT 100000

static volatile sig_atomic_t xfsz;

static void on_xfsz(int sig)
{
	(void)sig;
	xfsz++;
}

static ssize_t wait_ev(struct ioe_context *ctx, struct ioe_event *ev, enum ioe_channel ch)
{
	CHECK_EQ(ioe_submit_wait(ctx, ev, ch), 0);
	return ev->res;
}

static void write_across(struct ioe_context *ctx, uint32_t flags, long want_signals)
{
	unsigned char *buf = xalloc(8192);
	struct iovec iov[2] = { { buf, 3000 }, { buf + 3000, 5192 } };
	struct ioe_event ev;
	int fd = test_file(0);

	fill(buf, 8192, 0, 5);
	xfsz = 0;
	ioe_prep_write(&ev, fd, buf, 8192, LIMIT - 4000);
	ev.flags = flags;
	CHECK_EQ(wait_ev(ctx, &ev, IOE_CHAN_WRITE), 4000);
	ioe_prep_writev(&ev, fd, iov, 2, LIMIT - 1000);
	ev.flags = flags;
	CHECK_EQ(wait_ev(ctx, &ev, IOE_CHAN_WRITE), 1000);
	CHECK_EQ(xfsz, want_signals);
	/* Through the drivers: the same count either way. */
	ioe_prep_write(&ev, fd, buf, 8192, LIMIT - 2000);
	ev.flags = flags;
	CHECK_EQ(run_ev(ctx, &ev), 2000);
	ioe_prep_write(&ev, fd, buf, 10, LIMIT);
	ev.flags = flags;
	CHECK_EQ(run_ev(ctx, &ev), -EFBIG);
	CHECK_EQ(lseek(fd, 0, SEEK_END), LIMIT);
	free(buf);
	close(fd);
}

static void read_across_eof(struct ioe_context *ctx)
{
	unsigned char *buf = xalloc(65536), *back = xalloc(65536);
	struct iovec iov[20];
	struct ioe_event ev;
	int fd = test_file(0);

	fill(buf, 65536, 0, 6);
	CHECK_EQ(pwrite(fd, buf, 10000, 0), 10000);
	for (int i = 0; i < 20; i++)
		iov[i] = (struct iovec){ back + i * 3000, 3000 };
	ioe_prep_read(&ev, fd, back, 65536, 4096);
	ev.flags = IOE_F_ONE_CALL;
	CHECK_EQ(wait_ev(ctx, &ev, IOE_CHAN_READ), 10000 - 4096);
	ioe_prep_read(&ev, fd, back, 65536, 4096);
	ev.flags = IOE_F_ONE_CALL;
	CHECK_EQ(run_ev(ctx, &ev), 10000 - 4096);
	verify(back, 10000 - 4096, 4096, 6);
	ioe_prep_readv(&ev, fd, iov, 20, 100);
	ev.flags = IOE_F_ONE_CALL;
	CHECK_EQ(wait_ev(ctx, &ev, IOE_CHAN_READ), 9900);
	ioe_prep_readv(&ev, fd, iov, 20, 100);
	ev.flags = IOE_F_ONE_CALL;
	CHECK_EQ(run_ev(ctx, &ev), 9900);
	verify(back, 9900, 100, 6);
	ioe_prep_read(&ev, fd, back, 100, 10000);
	ev.flags = IOE_F_ONE_CALL;
	CHECK_EQ(run_ev(ctx, &ev), 0);
	free(buf);
	free(back);
	close(fd);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	struct rlimit rl = { .rlim_cur = LIMIT, .rlim_max = LIMIT };
	struct sigaction sa = { .sa_handler = on_xfsz };
	struct ioe_context *ctx;

	CHECK_EQ(sigaction(SIGXFSZ, &sa, NULL), 0);
	CHECK_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ctx = backend_context(b, 8, 0);
	write_across(ctx, IOE_F_ONE_CALL, 0);
	write_across(ctx, 0, 2);
	read_across_eof(ctx);
	ioe_context_free(ctx);
	return 0;
}
