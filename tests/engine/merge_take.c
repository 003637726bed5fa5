/* SPDX-License-Identifier: MIT */
/*
 * Merging in the engine's take (scheduler/merge_take.c): adjacent reads or
 * writes queued together go to the kernel as one IO, and each gets exactly
 * what a separate request gets (the same call made natively is the
 * reference). The gate holds the submitter while a test queues its events,
 * so that they wait together (held_or_queued(): IO that stays in flight);
 * the counters (ioe_merge_counts()) say what was merged.
 */
#include <signal.h>
#include <sys/resource.h>
#include "fault_hold.h"
#include "util.h"
#include "ioengine_internal.h"

#define BS 4096
#define N 16

struct counts {
	uint64_t runs, requests;
};

static struct counts counts_of(struct ioe_context *ctx)
{
	struct counts c;

	ioe_merge_counts(ctx, &c.runs, &c.requests);
	return c;
}

/* Submit evs[0..n) (each on the channel of its action) while the submitter waits at the gate; wait for all. */
static struct counts run_queued(struct ioe_context *ctx, int gate_fd, struct tev *t, int n)
{
	struct counts before = counts_of(ctx), after;
	struct waitgroup wg;
	struct gate g;

	wg_init(&wg, n);
	gate_close_submitter(ctx, &g, gate_fd);
	for (int i = 0; i < n; i++) {
		t[i].wg = &wg;
		CHECK_EQ(ioe_submit(ctx, &t[i].ev, chan_of(&t[i].ev)), 0);
	}
	gate_open(&g);
	wg_wait(&wg);
	for (int i = 0; i < n; i++)
		CHECK_EQ(atomic_load(&t[i].calls), 1);
	wg_destroy(&wg);
	after = counts_of(ctx);
	return (struct counts){ after.runs - before.runs, after.requests - before.requests };
}

/* 16 reads of 4 KiB over a file of 10 blocks and 100 bytes: full, short at EOF, 0 past it. */
static void reads_across_eof(enum ioe_backend b, int gate_fd)
{
	struct ioe_context *ctx = backend_context(b, 8, 0);
	const size_t size = 10 * BS + 100;
	static struct tev t[N];
	char *data = xalloc(N * BS), *file = xalloc(size);
	int fd = test_file(0);
	struct counts c;

	fill(file, size, 0, 1);
	CHECK_EQ(pwrite(fd, file, size, 0), (ssize_t)size);
	memset(data, 0xee, N * BS);
	for (int i = 0; i < N; i++) {
		tev_init(&t[i], NULL);
		ioe_prep_read(&t[i].ev, fd, data + i * BS, BS, (int64_t)i * BS);
		ioe_set_callback(&t[i].ev, tev_cb, &t[i]);
	}
	c = run_queued(ctx, gate_fd, t, N);
	CHECK_EQ(c.runs, 1);
	CHECK_EQ(c.requests, N);
	for (int i = 0; i < N; i++) {
		char native[BS];

		CHECK_EQ(t[i].ev.res, sys_res(pread(fd, native, BS, (int64_t)i * BS)));
		CHECK_EQ(t[i].ev.res, i < 10 ? BS : i == 10 ? 100 : 0);
		CHECK_EQ(t[i].ev.merged_next, NULL);
	}
	verify(data, size, 0, 1);
	free(data);
	free(file);
	close(fd);
	ioe_context_free(ctx);
}

/* O_DIRECT, one member's buffer misaligned: the vectored IO fails as a whole; only that member fails. */
static void direct_misaligned(enum ioe_backend b, int gate_fd)
{
	struct ioe_context *ctx = backend_context(b, 8, 0);
	int fd = test_file(O_DIRECT);
	char *file = xalloc(4 * BS), *data = xalloc(5 * BS), *bufs[4];
	static struct tev t[4];
	struct counts c;

	fill(file, 4 * BS, 0, 2);
	CHECK_EQ(pwrite(fd, file, 4 * BS, 0), 4 * BS);
	for (int i = 0; i < 4; i++) {
		bufs[i] = data + i * BS + (i == 2);	/* the third one byte off */
		tev_init(&t[i], NULL);
		ioe_prep_read(&t[i].ev, fd, bufs[i], BS, (int64_t)i * BS);
		ioe_set_callback(&t[i].ev, tev_cb, &t[i]);
	}
	c = run_queued(ctx, gate_fd, t, 4);
	CHECK_EQ(c.runs, 1);
	CHECK_EQ(c.requests, 4);
	for (int i = 0; i < 4; i++) {
		char *native = xalloc(BS + 1);

		CHECK_EQ(t[i].ev.res, sys_res(pread(fd, native + (i == 2), BS, (int64_t)i * BS)));
		CHECK_EQ(t[i].ev.res, i == 2 ? -EINVAL : BS);
		if (i != 2)
			verify(bufs[i], BS, (uint64_t)i * BS, 2);
		free(native);
	}
	free(file);
	free(data);
	close(fd);
	ioe_context_free(ctx);
}

/* Writes of one call each across RLIMIT_FSIZE: what four separate pwrite() calls give. */
static void writes_across_fsize(enum ioe_backend b, int gate_fd)
{
	struct ioe_context *ctx = backend_context(b, 8, 0);
	const rlim_t limit = 2 * BS + 1808;
	int fd = test_file(0), ref = test_file(0);
	char *src = xalloc(4 * BS), *back = xalloc(4 * BS);
	struct rlimit old, rl;
	static struct tev t[4];
	ssize_t expect[4];
	struct counts c;

	fill(src, 4 * BS, 0, 3);
	CHECK_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
	rl = old;
	rl.rlim_cur = limit;
	CHECK_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
	for (int i = 0; i < 4; i++) {
		expect[i] = sys_res(pwrite(ref, src + i * BS, BS, (int64_t)i * BS));
		tev_init(&t[i], NULL);
		ioe_prep_write(&t[i].ev, fd, src + i * BS, BS, (int64_t)i * BS);
		t[i].ev.flags = IOE_F_ONE_CALL;
		ioe_set_callback(&t[i].ev, tev_cb, &t[i]);
	}
	CHECK_EQ(expect[2], 1808);
	CHECK_EQ(expect[3], -EFBIG);
	c = run_queued(ctx, gate_fd, t, 4);
	CHECK_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
	CHECK_EQ(c.runs, 1);
	CHECK_EQ(c.requests, 4);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(t[i].ev.res, expect[i]);
	CHECK_EQ(pread(fd, back, 4 * BS, 0), (ssize_t)limit);
	verify(back, limit, 0, 3);
	free(src);
	free(back);
	close(fd);
	close(ref);
	ioe_context_free(ctx);
}

/* w0 w1 fsync w2 w3 on the write channel; then reads of fd a, one of fd b between: never merged across. */
static void breaks(enum ioe_backend b, int gate_fd)
{
	struct ioe_context *ctx = backend_context(b, 8, 0);
	int fd = test_file(0), other = test_file(0);
	char *src = xalloc(4 * BS), *dst = xalloc(5 * BS);
	static struct tev t[5];
	struct counts c;

	fill(src, 4 * BS, 0, 4);
	for (int i = 0, k = 0; i < 5; i++) {
		tev_init(&t[i], NULL);
		if (i == 2) {
			ioe_prep_fsync(&t[i].ev, fd);
		} else {
			ioe_prep_write(&t[i].ev, fd, src + k * BS, BS, (int64_t)k * BS);
			k++;
		}
		ioe_set_callback(&t[i].ev, tev_cb, &t[i]);
	}
	c = run_queued(ctx, gate_fd, t, 5);
	CHECK_EQ(c.runs, 2);
	CHECK_EQ(c.requests, 4);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(t[i].ev.res, i == 2 ? 0 : BS);
	CHECK_EQ(pread(fd, dst, 4 * BS, 0), 4 * BS);
	verify(dst, 4 * BS, 0, 4);

	CHECK_EQ(pwrite(other, src, 4 * BS, 0), 4 * BS);
	for (int i = 0; i < 5; i++) {
		int k = i < 2 ? i : i - 1;

		tev_init(&t[i], NULL);
		if (i == 2)
			ioe_prep_read(&t[i].ev, other, dst + 4 * BS, BS, 2 * BS);
		else
			ioe_prep_read(&t[i].ev, fd, dst + k * BS, BS, (int64_t)k * BS);
		ioe_set_callback(&t[i].ev, tev_cb, &t[i]);
	}
	memset(dst, 0, 5 * BS);
	c = run_queued(ctx, gate_fd, t, 5);
	CHECK_EQ(c.runs, 2);
	CHECK_EQ(c.requests, 4);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(t[i].ev.res, BS);
	verify(dst, 4 * BS, 0, 4);
	verify(dst + 4 * BS, BS, 2 * BS, 4);
	free(src);
	free(dst);
	close(fd);
	close(other);
	ioe_context_free(ctx);
}

/*
 * A member's cancel while its master is being fanned out: the first
 * member's callback cancels the last, which is not called back yet:
 * IOE_CANCEL_RUNNING, and its callback comes once, with its bytes.
 */
struct canceller {
	struct tev *self;
	struct ioe_context *ctx;
	struct tev *victim;
	int answer;
	int victim_calls;	/* when the cancel returned */
};

static void cancelling_cb(struct ioe_event *ev, void *arg)
{
	struct canceller *c = arg;

	c->answer = ioe_cancel(c->ctx, &c->victim->ev);
	c->victim_calls = atomic_load(&c->victim->calls);
	tev_cb(ev, c->self);
}

static void cancel_member(enum ioe_backend b, int gate_fd, int fd)
{
	struct ioe_context *ctx = backend_context(b, 8, 0);
	static struct canceller first;
	static struct tev t[4];
	char *data = xalloc(4 * BS);
	struct counts c;

	for (int i = 0; i < 4; i++) {
		tev_init(&t[i], NULL);
		ioe_prep_read(&t[i].ev, fd, data + i * BS, BS, (int64_t)i * BS);
		ioe_set_callback(&t[i].ev, tev_cb, &t[i]);
	}
	first.self = &t[0];
	first.ctx = ctx;
	first.victim = &t[3];
	ioe_set_callback(&t[0].ev, cancelling_cb, &first);
	c = run_queued(ctx, gate_fd, t, 4);
	CHECK_EQ(c.runs, 1);
	CHECK_EQ(first.answer, IOE_CANCEL_RUNNING);
	CHECK_EQ(first.victim_calls, 0);
	CHECK_EQ(t[3].ev.res, BS);
	CHECK_EQ(ioe_cancel(ctx, &t[3].ev), IOE_CANCEL_ALLDONE);
	verify(data, 4 * BS, 0, 5);
	free(data);
	ioe_context_free(ctx);
}

/*
 * Events of ioe_submit_local() while IO is in flight are held (io_uring),
 * or queued (Linux AIO: its submitter is inside io_submit() meanwhile),
 * and merged when taken. The IO in flight: a 1 MiB read of /dev/zero into
 * pages a userfaultfd keeps missing until the test lets it go.
 */
#define BLOCK_LEN (1u << 20)

static void held_or_queued(enum ioe_backend b, int fd)
{
	static struct fault_hold hold;
	struct ioe_context *ctx;
	char *data;
	static struct tev t[8];
	struct counts before, after;
	struct waitgroup wg, bwg;
	struct tev blocked;
	int zero, faults;

	if (!fault_hold_init(&hold, BLOCK_LEN)) {
		printf("held_or_queued: skipped, no userfaultfd (%s)\n", strerror(errno));
		return;
	}
	ctx = backend_context(b, 16, 0);
	data = xalloc(8 * BS);
	before = counts_of(ctx);
	zero = open("/dev/zero", O_RDONLY);
	CHECK(zero >= 0);
	faults = fault_hold_arm(&hold);
	wg_init(&bwg, 1);
	tev_init(&blocked, &bwg);
	ioe_prep_read(&blocked.ev, zero, hold.buf, BLOCK_LEN, 0);
	CHECK_EQ(ioe_submit(ctx, &blocked.ev, IOE_CHAN_READ), 0);
	fault_hold_wait(&hold, faults);
	wg_init(&wg, 8);
	for (int i = 0; i < 8; i++) {
		tev_init(&t[i], &wg);
		ioe_prep_read(&t[i].ev, fd, data + i * BS, BS, (int64_t)i * BS);
		CHECK_EQ(ioe_submit_local(ctx, &t[i].ev, IOE_CHAN_READ), 0);
	}
	fault_hold_release(&hold);
	wg_wait(&bwg);
	wg_wait(&wg);
	CHECK_EQ(blocked.ev.res, BLOCK_LEN);
	after = counts_of(ctx);
	CHECK_EQ(after.runs - before.runs, 1);
	CHECK_EQ(after.requests - before.requests, 8);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(t[i].ev.res, BS);
	verify(data, 8 * BS, 0, 5);
	ioe_context_free(ctx);
	wg_destroy(&wg);
	wg_destroy(&bwg);
	close(zero);
	free(data);
}

/* IOENGINE_MERGE=0 merges nothing; IOENGINE_MERGE_MAX bounds a master; bad values: the default. */
static void settings(enum ioe_backend b, int gate_fd, int fd)
{
	static const struct { const char *on, *max; uint64_t runs; } cases[] = {
		{ "0", NULL, 0 }, { "1", "8192", N / 2 }, { "yes", NULL, 1 }, { NULL, "100", 1 }, { NULL, NULL, 1 },
	};
	char *data = xalloc(N * BS);
	static struct tev t[N];
	size_t limit = 1;

	for (unsigned int k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct ioe_context *ctx;
		struct counts c;

		if (cases[k].on)
			CHECK_EQ(setenv("IOENGINE_MERGE", cases[k].on, 1), 0);
		if (cases[k].max)
			CHECK_EQ(setenv("IOENGINE_MERGE_MAX", cases[k].max, 1), 0);
		ctx = backend_context(b, 8, 0);
		CHECK_EQ(unsetenv("IOENGINE_MERGE"), 0);
		CHECK_EQ(unsetenv("IOENGINE_MERGE_MAX"), 0);
		for (int i = 0; i < N; i++) {
			tev_init(&t[i], NULL);
			ioe_prep_read(&t[i].ev, fd, data + i * BS, BS, (int64_t)i * BS);
			ioe_set_callback(&t[i].ev, tev_cb, &t[i]);
		}
		c = run_queued(ctx, gate_fd, t, N);
		CHECK_EQ(c.runs, cases[k].runs);
		CHECK_EQ(c.requests, cases[k].runs ? N : 0);
		for (int i = 0; i < N; i++)
			CHECK_EQ(t[i].ev.res, BS);
		verify(data, N * BS, 0, 5);
		ioe_context_free(ctx);
	}
	CHECK_EQ(ioe_merge_parse("0", NULL, &limit), 0);
	CHECK_EQ(limit, 0);
	CHECK_EQ(ioe_merge_parse(NULL, "65536", &limit), 0);
	CHECK_EQ(limit, 65536);
	CHECK_EQ(ioe_merge_parse("", "", &limit), 0);
	CHECK_EQ(limit, 128 * 1024);
	CHECK_EQ(ioe_merge_parse("2", NULL, &limit), -EINVAL);
	CHECK_EQ(ioe_merge_parse(NULL, "4095", &limit), -EINVAL);
	CHECK_EQ(ioe_merge_parse(NULL, "64k", &limit), -EINVAL);
	CHECK_EQ(ioe_merge_parse(NULL, "99999999999999999999999", &limit), -EINVAL);
	CHECK_EQ(limit, 128 * 1024);
	free(data);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	int gate_fd = test_file(0), fd = test_file(0), direct;
	char *file = xalloc(N * BS);

	CHECK(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	CHECK_EQ(unsetenv("IOENGINE_MERGE"), 0);
	CHECK_EQ(unsetenv("IOENGINE_MERGE_MAX"), 0);
	CHECK_EQ(pwrite(gate_fd, "g", 1, 0), 1);
	fill(file, N * BS, 0, 5);
	CHECK_EQ(pwrite(fd, file, N * BS, 0), N * BS);
	reads_across_eof(b, gate_fd);
	direct_misaligned(b, gate_fd);
	writes_across_fsize(b, gate_fd);
	breaks(b, gate_fd);
	cancel_member(b, gate_fd, fd);
	settings(b, gate_fd, fd);
	direct = test_file(O_DIRECT);
	CHECK_EQ(pwrite(direct, file, N * BS, 0), N * BS);
	held_or_queued(b, direct);
	close(direct);
	free(file);
	close(fd);
	close(gate_fd);
	return 0;
}
