/* SPDX-License-Identifier: MIT */
/*
 * A thread whose own ring (or AIO context, own_queue.c) cannot be made for
 * a passing reason, here EMFILE at io_uring_setup() with the fd table full,
 * still gets its read done, and gets the ring on a later call once the
 * shortage is over: one thread's EMFILE does not turn per-thread rings off
 * for the process. The rings are counted in /proc/self/maps.
 */
#include <sys/resource.h>
#include <libaio.h>
#include <liburing.h>
#include "util.h"
#include "thread_queues.h"
#include "valgrind_annotate.h"

#define BLK 4096

/* Mappings of io_uring instances, or of AIO rings. */
static int rings(enum ioe_backend b)
{
	const char *what = b == IOE_BACKEND_URING ? "io_uring" : "/[aio]";
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	CHECK(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, what))
			n++;
	fclose(f);
	return n;
}

static ssize_t sync_pread(struct ioe_context *ctx, int fd, void *buf, size_t len, int64_t off)
{
	struct ioe_event ev;

	ioe_prep_read(&ev, fd, buf, len, off);
	CHECK_EQ(ioe_submit_wait(ctx, &ev, IOE_CHAN_READ), 0);
	return ev.res;
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	struct ioe_context *ctx = backend_context(b, 4, 0);
	int fd = test_file(0), lowest, before, during, after;
	char buf[BLK], out[BLK];
	struct rlimit rl, full;

	if (!thread_queues_possible(b)) {
		printf("no per-thread rings on this kernel: skipped\n");
		return 0;
	}
	fill(buf, BLK, 0, 7);
	CHECK_EQ(pwrite(fd, buf, BLK, 0), BLK);
	before = rings(b);

	/* The fd table full: the lowest free number is the limit. */
	lowest = dup(0);
	CHECK(lowest >= 0);
	close(lowest);
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	full = rl;
	full.rlim_cur = (rlim_t)lowest;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &full), 0);
	memset(out, 0, BLK);
	CHECK_EQ(sync_pread(ctx, fd, out, BLK, 0), BLK);
	CHECK(!memcmp(out, buf, BLK));
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	during = rings(b);

	memset(out, 0, BLK);
	CHECK_EQ(sync_pread(ctx, fd, out, BLK, 0), BLK);
	CHECK(!memcmp(out, buf, BLK));
	after = rings(b);
	printf("ring mappings: before %d, with the fd table full %d, after %d\n", before, during, after);
	if (b == IOE_BACKEND_URING)
		CHECK_EQ(during, before);	/* io_uring_setup(): EMFILE */
	CHECK(after > before);			/* made on a later call */

	ioe_context_free(ctx);
	close(fd);
	return 0;
}
