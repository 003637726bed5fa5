/* SPDX-License-Identifier: MIT */
/* FSYNC and FDATASYNC: 0 on a file with dirty data, -EBADF on a bad fd. */
#include "util.h"

static ssize_t sync_ev(struct ioe_context *ctx, int fd, bool data, enum ioe_channel ch)
{
	struct ioe_event ev;

	if (data)
		ioe_prep_fdatasync(&ev, fd);
	else
		ioe_prep_fsync(&ev, fd);
	return run_one(ctx, &ev, ch);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	struct ioe_context *ctx = backend_context(b, 4, 0);
	int fd = test_file(0), closed = test_file(0);
	char buf[8192];

	close(closed);
	for (int i = 0; i < 2; i++) {
		fill(buf, sizeof(buf), 0, (uint32_t)i);
		CHECK_EQ(eng_pwrite(ctx, fd, buf, sizeof(buf), 0), sizeof(buf));
		CHECK_EQ(sync_ev(ctx, fd, i, IOE_CHAN_WRITE), 0);
		/* Any channel may carry a sync. */
		CHECK_EQ(sync_ev(ctx, fd, i, IOE_CHAN_PRIO), 0);
		CHECK_EQ(sync_ev(ctx, fd, i, IOE_CHAN_READ), 0);
		CHECK_EQ(sync_ev(ctx, -1, i, IOE_CHAN_WRITE), -EBADF);
		CHECK_EQ(sync_ev(ctx, closed, i, IOE_CHAN_WRITE), -EBADF);
		/* As fsync() itself says. */
		CHECK_EQ(sys_res(i ? fdatasync(closed) : fsync(closed)), -EBADF);
	}
	ioe_context_free(ctx);
	close(fd);
	return 0;
}
