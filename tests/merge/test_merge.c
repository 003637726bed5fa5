/* SPDX-License-Identifier: MIT */
/*
 * Merger tests: data through merged writes and reads, exact fan-out at EOF
 * and on error, limit boundaries, run breaking, use from a callback.
 *
 * Whether pieces went merged or alone is seen through O_DIRECT: a piece at a
 * misaligned offset or length fails alone with -EINVAL, while a merged run
 * that starts aligned and is a multiple of 4096 long succeeds.
 */
#include "mtest.h"

#define KB 1024

static int direct_trick;	/* the filesystem refuses misaligned O_DIRECT */

static void t_bad_input(struct ioe_context *ctx)
{
	struct ioe_merger *m;
	struct tgroup g = { 0 };
	struct tev t;
	int fd = test_file(0);

	errno = 0;
	CHECK(!ioe_merger_new(NULL, fd, IOE_READ, IOE_CHAN_READ, 4096) && errno == EINVAL);
	errno = 0;
	CHECK(!ioe_merger_new(ctx, fd, IOE_READ, IOE_CHAN_READ, 0) && errno == EINVAL);
	errno = 0;
	CHECK(!ioe_merger_new(ctx, fd, IOE_FSYNC, IOE_CHAN_READ, 4096) && errno == EINVAL);
	errno = 0;
	CHECK(!ioe_merger_new(ctx, fd, IOE_READV, IOE_CHAN_READ, 4096) && errno == EINVAL);
	errno = 0;
	CHECK(!ioe_merger_new(ctx, fd, IOE_READ, IOE_CHAN_MAX, 4096) && errno == EINVAL);
	errno = 0;
	CHECK(!ioe_merger_new(ctx, -1, IOE_READ, IOE_CHAN_READ, 4096) && errno == EINVAL);

	m = ioe_merger_new(ctx, fd, IOE_READ, IOE_CHAN_READ, 4096);
	CHECK(m);
	CHECK_EQ(ioe_merger_add(NULL, &t.ev), -EINVAL);
	CHECK_EQ(ioe_merger_add(m, NULL), -EINVAL);
	CHECK_EQ(ioe_merger_flush(NULL), -EINVAL);
	ioe_merger_free(NULL);

	tev_prep(&t, &g, IOE_READ, fd + 100, 100, 0);	/* another fd */
	CHECK_EQ(ioe_merger_add(m, &t.ev), -EINVAL);
	tev_release(&t, 1);
	tev_prep(&t, &g, IOE_WRITE, fd, 100, 0);	/* another action */
	CHECK_EQ(ioe_merger_add(m, &t.ev), -EINVAL);
	tev_release(&t, 1);
	tev_prep(&t, &g, IOE_READ, fd, 100, 0);
	t.ev.cb = NULL;					/* no callback */
	CHECK_EQ(ioe_merger_add(m, &t.ev), -EINVAL);
	t.ev.cb = tev_cb;
	t.ev.offset = -1;				/* bad offset */
	CHECK_EQ(ioe_merger_add(m, &t.ev), -EINVAL);
	/* Refused events are never called back. */
	CHECK_EQ(ioe_merger_flush(m), 0);
	ioe_merger_free(m);
	sleep_ms(5);
	CHECK_EQ(atomic_load(&g.done), 0);
	tev_release(&t, 1);
	close(fd);
}

/* Writes then reads through mergers, checked byte by byte. */
static void t_write_read(struct ioe_context *ctx, int direct)
{
	enum { N = 200 };
	static struct tev w[N], r[N];
	struct tgroup gw = { 0 }, gr = { 0 };
	size_t limit = direct ? 64 * KB : 16 * KB;
	int fd = test_file(direct ? O_DIRECT : 0);
	struct ioe_merger *mw, *mr;
	int64_t off = 0, total;
	uint8_t *file;

	mw = ioe_merger_new(ctx, fd, IOE_WRITE, IOE_CHAN_WRITE, limit);
	mr = ioe_merger_new(ctx, fd, IOE_READ, IOE_CHAN_READ, limit);
	CHECK(mw && mr);
	for (int i = 0; i < N; i++) {
		/* Buffered: odd sizes, so copies land at odd places in the run. */
		size_t len = direct ? 4096 * (size_t)(1 + i % 3) : 1 + (size_t)(i * 7919) % 5000;

		tev_prep(&w[i], &gw, IOE_WRITE, fd, len, off);
		fill(w[i].buf, off, len, 1);
		CHECK_EQ(ioe_merger_add(mw, &w[i].ev), 0);
		off += (int64_t)len;
	}
	CHECK_EQ(ioe_merger_flush(mw), 0);
	wait_done(&gw, N);
	check_once(w, N);
	for (int i = 0; i < N; i++)
		CHECK_EQ(w[i].ev.res, w[i].ev.len);
	total = off;

	file = abuf((size_t)total);
	CHECK_EQ(pread(fd, file, (size_t)total, 0), total);
	CHECK_PAT(file, 0, total, 1);
	free(file);

	for (int i = 0; i < N; i++) {
		tev_prep(&r[i], &gr, IOE_READ, fd, w[i].ev.len, w[i].ev.offset);
		CHECK_EQ(ioe_merger_add(mr, &r[i].ev), 0);
	}
	ioe_merger_free(mr);	/* flushes */
	wait_done(&gr, N);
	check_once(r, N);
	for (int i = 0; i < N; i++) {
		CHECK_EQ(r[i].ev.res, r[i].ev.len);
		CHECK_PAT(r[i].buf, r[i].ev.offset, r[i].ev.len, 1);
	}
	ioe_merger_free(mw);
	tev_release(w, N);
	tev_release(r, N);
	close(fd);
}

/* A run of more events than one vectored IO may carry (IOV_MAX) is split. */
static void t_many(struct ioe_context *ctx)
{
	enum { N = 2500 };
	static struct tev t[N];
	struct tgroup g = { 0 };
	int fd = test_file(0);
	struct ioe_merger *m = ioe_merger_new(ctx, fd, IOE_WRITE, IOE_CHAN_WRITE, 1024 * KB);

	CHECK(m);
	for (int i = 0; i < N; i++) {
		tev_prep(&t[i], &g, IOE_WRITE, fd, 1, i);
		fill(t[i].buf, i, 1, 5);
		CHECK_EQ(ioe_merger_add(m, &t[i].ev), 0);
	}
	ioe_merger_free(m);	/* flushes */
	wait_done(&g, N);
	check_once(t, N);
	for (int i = 0; i < N; i++)
		CHECK_EQ(t[i].ev.res, 1);
	{
		uint8_t *file = abuf(N);

		CHECK_EQ(pread(fd, file, N, 0), N);
		CHECK_PAT(file, 0, N, 5);
		free(file);
	}
	tev_release(t, N);
	close(fd);
}

/*
 * A merged read that stops at EOF: each sub-event gets what pread() of its
 * own range returns (full, partial or 0), and those bytes.
 */
static void eof_case(struct ioe_context *ctx, int fd, int direct, int64_t start, const size_t *lens, int n)
{
	struct tev t[16];
	struct tgroup g = { 0 };
	struct ioe_merger *m = ioe_merger_new(ctx, fd, IOE_READ, IOE_CHAN_READ, 1024 * KB);
	int64_t off = start;

	CHECK(m && n <= 16);
	for (int i = 0; i < n; i++) {
		tev_prep(&t[i], &g, IOE_READ, fd, lens[i], off);
		CHECK_EQ(ioe_merger_add(m, &t[i].ev), 0);
		off += (int64_t)lens[i];
	}
	CHECK_EQ(ioe_merger_flush(m), 0);
	wait_done(&g, n);
	check_once(t, n);
	for (int i = 0; i < n; i++) {
		void *b = abuf(lens[i]);
		ssize_t want = pread(fd, b, lens[i], t[i].ev.offset);

		CHECK(want >= 0);
		CHECK_EQ(t[i].ev.res, want);
		CHECK_PAT(t[i].buf, t[i].ev.offset, want, 2);
		/*
		 * Past the count, the buffer is as pread() leaves it: untouched,
		 * except that O_DIRECT writes the zeros it read past EOF (a
		 * separate read only in the block that holds EOF, a merged one
		 * up to the end of its range).
		 */
		for (size_t k = (size_t)want; k < lens[i]; k++) {
			uint8_t got = ((uint8_t *)t[i].buf)[k];

			CHECK(got == ((uint8_t *)b)[k] || (direct && got == 0));
		}
		free(b);
	}
	ioe_merger_free(m);
	tev_release(t, n);
}

static void t_eof(struct ioe_context *ctx, int direct)
{
	int fd = test_file(0), rfd = direct ? reopen(fd, O_DIRECT) : fd;
	uint8_t *b = abuf(10000);

	fill(b, 0, 10000, 2);
	CHECK_EQ(pwrite(fd, b, 10000, 0), 10000);
	free(b);
	if (direct) {
		static const size_t d1[] = { 4096, 4096, 4096, 4096, 4096 };	/* full, full, 1808, 0, 0 */
		static const size_t d2[] = { 8192, 4096 };			/* 5904, 0 */

		eof_case(ctx, rfd, direct, 0, d1, 5);
		eof_case(ctx, rfd, direct, 4096, d2, 2);
		eof_case(ctx, rfd, direct, 12288, d2, 2);			/* all past EOF: 0, 0 */
	} else {
		static const size_t b1[] = { 3000, 3000, 3000, 3000, 3000, 3000 };	/* ..., 1000, 0, 0 */
		static const size_t b2[] = { 2500, 4000, 3499, 1, 1, 700 };		/* 1 byte partial */
		static const size_t b3[] = { 1000, 1000, 1000 };

		eof_case(ctx, rfd, direct, 0, b1, 6);
		eof_case(ctx, rfd, direct, 0, b2, 6);
		eof_case(ctx, rfd, direct, 7000, b3, 3);	/* EOF at a sub-event boundary */
		eof_case(ctx, rfd, direct, 9999, b3, 3);	/* 1, 0, 0 */
		eof_case(ctx, rfd, direct, 20000, b3, 3);	/* run entirely past EOF */
	}
	if (rfd != fd)
		close(rfd);
	close(fd);
}

/* An error on the merged IO fails every sub-event with it, once. */
static void t_error(struct ioe_context *ctx)
{
	enum { N = 6 };
	struct tev r[N], w[N];
	struct tgroup g = { 0 };
	int fd = test_file(0);
	struct ioe_merger *mr = ioe_merger_new(ctx, fd, IOE_READ, IOE_CHAN_READ, 64 * KB);
	struct ioe_merger *mw = ioe_merger_new(ctx, fd, IOE_WRITE, IOE_CHAN_WRITE, 64 * KB);

	CHECK(mr && mw);
	CHECK_EQ(ftruncate(fd, 64 * KB), 0);
	close(fd);
	for (int i = 0; i < N; i++) {
		tev_prep(&r[i], &g, IOE_READ, fd, 1000, 1000 * i);
		tev_prep(&w[i], &g, IOE_WRITE, fd, 1000, 1000 * i);
		CHECK_EQ(ioe_merger_add(mr, &r[i].ev), 0);
		CHECK_EQ(ioe_merger_add(mw, &w[i].ev), 0);
	}
	CHECK_EQ(ioe_merger_flush(mr), 0);
	CHECK_EQ(ioe_merger_flush(mw), 0);
	wait_done(&g, 2 * N);
	check_once(r, N);
	check_once(w, N);
	for (int i = 0; i < N; i++) {
		CHECK_EQ(r[i].ev.res, -EBADF);
		CHECK_EQ(w[i].ev.res, -EBADF);
	}
	ioe_merger_free(mr);
	ioe_merger_free(mw);
	tev_release(r, N);
	tev_release(w, N);
}

/* Add pieces (len, offset) to a write merger; returns how many. */
static int add_pieces(struct ioe_merger *m, struct tev *t, struct tgroup *g, int fd,
		      const size_t (*p)[2], int n)
{
	for (int i = 0; i < n; i++) {
		tev_prep(&t[i], g, IOE_WRITE, fd, p[i][0], (int64_t)p[i][1]);
		fill(t[i].buf, (int64_t)p[i][1], p[i][0], 3);
		CHECK_EQ(ioe_merger_add(m, &t[i].ev), 0);
	}
	return n;
}

static void check_file(int fd, int64_t off, size_t len)
{
	uint8_t *b = abuf(len);

	CHECK_EQ(pread(fd, b, len, off), len);
	CHECK_PAT(b, off, len, 3);
	free(b);
}

/* Limit boundaries, with an 8 KiB limit. */
static void t_limits(struct ioe_context *ctx)
{
	int fd = test_file(0), dfd = reopen(fd, O_DIRECT);
	const size_t L = 8 * KB;
	struct ioe_merger *m = ioe_merger_new(ctx, dfd, IOE_WRITE, IOE_CHAN_WRITE, L);
	struct tev t[4];
	struct tgroup g;

	CHECK(m);
	/* A run that reaches exactly the limit goes at once, merged (aligned). */
	{
		static const size_t p[][2] = { { 1000, 0 }, { 7192, 1000 } };

		atomic_init(&g.done, 0);
		add_pieces(m, t, &g, dfd, p, 2);
		wait_done(&g, 2);	/* no flush() */
		check_once(t, 2);
		CHECK_EQ(t[0].ev.res, 1000);
		CHECK_EQ(t[1].ev.res, 7192);
		check_file(fd, 0, L);
		tev_release(t, 2);
	}
	/* One byte over: the first piece goes alone, the second waits for flush(). */
	{
		static const size_t p[][2] = { { 1000, 0 }, { 7193, 1000 } };

		atomic_init(&g.done, 0);
		add_pieces(m, t, &g, dfd, p, 2);
		wait_done(&g, 1);
		CHECK_EQ(atomic_load(&t[0].calls), 1);
		CHECK_EQ(atomic_load(&t[1].calls), 0);
		CHECK_EQ(ioe_merger_flush(m), 0);
		wait_done(&g, 2);
		check_once(t, 2);
		if (direct_trick) {
			CHECK_EQ(t[0].ev.res, -EINVAL);
			CHECK_EQ(t[1].ev.res, -EINVAL);
		}
		tev_release(t, 2);
	}
	/* An event larger than the limit flushes the run and goes alone, at once. */
	{
		static const size_t p[][2] = { { 1000, 0 }, { 11288, 1000 } };

		atomic_init(&g.done, 0);
		add_pieces(m, t, &g, dfd, p, 2);
		wait_done(&g, 2);
		check_once(t, 2);
		if (direct_trick) {
			CHECK_EQ(t[0].ev.res, -EINVAL);
			CHECK_EQ(t[1].ev.res, -EINVAL);
		}
		tev_release(t, 2);
	}
	/* An event of exactly the limit goes alone, at once; so does the run before it. */
	{
		static const size_t p[][2] = { { 4096, 0 }, { 8192, 4096 }, { 4096, 12288 } };

		atomic_init(&g.done, 0);
		add_pieces(m, t, &g, dfd, p, 3);
		wait_done(&g, 2);
		CHECK_EQ(atomic_load(&t[2].calls), 0);
		CHECK_EQ(ioe_merger_flush(m), 0);
		wait_done(&g, 3);
		check_once(t, 3);
		CHECK_EQ(t[0].ev.res, 4096);
		CHECK_EQ(t[1].ev.res, 8192);
		CHECK_EQ(t[2].ev.res, 4096);
		check_file(fd, 0, 16 * KB);
		tev_release(t, 3);
	}
	ioe_merger_free(m);
	close(dfd);
	close(fd);
}

/* An event that does not continue the run flushes it and starts a new one. */
static void t_nonseq(struct ioe_context *ctx)
{
	int fd = test_file(0), dfd = reopen(fd, O_DIRECT);
	struct ioe_merger *m = ioe_merger_new(ctx, dfd, IOE_WRITE, IOE_CHAN_WRITE, 64 * KB);
	struct tev t[8];
	struct tgroup g;

	CHECK(m);
	/* Overlapping: a and x go alone (together they would be aligned). */
	if (direct_trick) {
		static const size_t p[][2] = { { 1000, 0 }, { 3096, 2000 } };

		atomic_init(&g.done, 0);
		add_pieces(m, t, &g, dfd, p, 2);
		CHECK_EQ(ioe_merger_flush(m), 0);
		wait_done(&g, 2);
		check_once(t, 2);
		CHECK_EQ(t[0].ev.res, -EINVAL);
		CHECK_EQ(t[1].ev.res, -EINVAL);
		tev_release(t, 2);
	}
	/* Three runs (forward gap, then backwards): each merged, data in place. */
	{
		static const size_t p[][2] = {
			{ 1000, 0 }, { 3096, 1000 },		/* run 0..4096 */
			{ 1000, 8192 }, { 3096, 9192 },		/* gap: run 8192..12288 */
			{ 1000, 4096 }, { 3096, 5096 },		/* back: run 4096..8192 */
		};

		atomic_init(&g.done, 0);
		add_pieces(m, t, &g, dfd, p, 6);
		CHECK_EQ(ioe_merger_flush(m), 0);
		wait_done(&g, 6);
		check_once(t, 6);
		for (int i = 0; i < 6; i++)
			CHECK_EQ(t[i].ev.res, p[i][0]);
		check_file(fd, 0, 12 * KB);
		tev_release(t, 6);
	}
	ioe_merger_free(m);
	close(dfd);
	close(fd);
}

/*
 * The merger driven from completion callbacks: a plain event's callback
 * starts the first run; the last sub-event of each run adds the next one to
 * the same merger (from inside the merged IO's fan-out).
 */
enum { CB_RUNS = 4, CB_PER_RUN = 16, CB_LEN = 1500 };

struct cb_state {
	struct ioe_merger *m;
	struct tev t[CB_RUNS * CB_PER_RUN];
	struct tgroup g;
	int fd;
	atomic_int failed;
};

static void add_run(struct cb_state *s, int run);

static void run_cb(struct ioe_event *ev, void *arg)
{
	struct cb_state *s = arg;
	struct tev *t = (struct tev *)ev;
	int i = (int)(t - s->t);

	atomic_fetch_add(&t->calls, 1);
	if (i % CB_PER_RUN == CB_PER_RUN - 1 && i / CB_PER_RUN + 1 < CB_RUNS)
		add_run(s, i / CB_PER_RUN + 1);
	atomic_fetch_add(&s->g.done, 1);
}

static void add_run(struct cb_state *s, int run)
{
	for (int k = 0; k < CB_PER_RUN; k++) {
		int i = run * CB_PER_RUN + k;
		int64_t off = (int64_t)i * CB_LEN;

		tev_prep(&s->t[i], &s->g, IOE_WRITE, s->fd, CB_LEN, off);
		fill(s->t[i].buf, off, CB_LEN, 4);
		ioe_set_callback(&s->t[i].ev, run_cb, s);
		if (ioe_merger_add(s->m, &s->t[i].ev))
			atomic_fetch_add(&s->failed, 1);
	}
	if (ioe_merger_flush(s->m))
		atomic_fetch_add(&s->failed, 1);
}

static void start_cb(struct ioe_event *ev, void *arg)
{
	struct cb_state *s = arg;

	if (ev->res != 0)
		atomic_fetch_add(&s->failed, 1);
	add_run(s, 0);
}

static void t_from_callback(enum ioe_backend b, unsigned int workers)
{
	enum { N = CB_RUNS * CB_PER_RUN };
	struct ioe_context *ctx = test_context(b, 32, workers);
	static struct cb_state s;
	struct ioe_event start;
	uint8_t *file;

	memset(&s, 0, sizeof(s));
	s.fd = test_file(0);
	s.m = ioe_merger_new(ctx, s.fd, IOE_WRITE, IOE_CHAN_WRITE, 1024 * KB);
	CHECK(s.m);
	/* Owned by the main thread until the callback below takes it over. */
	ioe_prep_fsync(&start, s.fd);
	ioe_set_callback(&start, start_cb, &s);
	CHECK_EQ(ioe_submit(ctx, &start, IOE_CHAN_PRIO), 0);
	wait_done(&s.g, N);
	CHECK_EQ(atomic_load(&s.failed), 0);
	check_once(s.t, N);
	for (int i = 0; i < N; i++)
		CHECK_EQ(s.t[i].ev.res, CB_LEN);
	file = abuf(N * CB_LEN);
	CHECK_EQ(pread(s.fd, file, N * CB_LEN, 0), N * CB_LEN);
	CHECK_PAT(file, 0, N * CB_LEN, 4);
	free(file);
	ioe_merger_free(s.m);
	tev_release(s.t, N);
	close(s.fd);
	ioe_context_free(ctx);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	unsigned int workers[] = { 0, 2 };

	{
		int fd = test_file(O_DIRECT);

		direct_trick = direct_refuses_misaligned(fd);
		close(fd);
		if (!direct_trick)
			fprintf(stderr, "note: misaligned O_DIRECT accepted here; merged/alone checks skipped\n");
	}
	for (unsigned int i = 0; i < 2; i++) {
		struct ioe_context *ctx = test_context(b, 64, workers[i]);

		t_bad_input(ctx);
		t_write_read(ctx, 0);
		t_write_read(ctx, 1);
		t_many(ctx);
		t_eof(ctx, 0);
		t_eof(ctx, 1);
		t_error(ctx);
		t_limits(ctx);
		t_nonseq(ctx);
		ioe_context_free(ctx);
		t_from_callback(b, workers[i]);
		t_shutdown(b, workers[i]);
	}
	printf("merge tests passed (%s)\n", argv[1]);
	return 0;
}
