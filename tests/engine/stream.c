/* SPDX-License-Identifier: MIT */
/*
 * IOE_F_AT_POSITION: reads and writes at the file's position, for pipes,
 * sockets and FIFOs, and their cancellation.
 * - Linux AIO refuses them (-EOPNOTSUPP), as ioe_submit_wait() does on both.
 * - io_uring: a pipe and a socketpair read and written, a short read is one
 *   call's result, an empty O_NONBLOCK pipe says -EAGAIN, a regular file is
 *   read at its position (which moves).
 * - A blocked pipe read cancelled in the kernel: IOE_CANCEL_DONE, one
 *   callback with -ECANCELED; the bytes written afterwards are all still in
 *   the pipe.
 * - The same from a file read's callback, in the thread that reaps.
 * - A held event (ioe_submit_local()) cancelled: taken out, -ECANCELED;
 *   a blocked stream read alone makes it hold none.
 * - Blocked reads take no slot: at depth 2, four of them wait while file
 *   IO goes on, and do not wake the poller every millisecond (a 300 ms
 *   look: a window of time, not a wait for an event);
 *   ioe_context_free() cancels them (-ECANCELED, once), and refuses those
 *   still queued when it starts (-ECANCELED).
 * - Cancel racing completion: pipes written by another thread while their
 *   reads are cancelled: -ECANCELED exactly for IOE_CANCEL_DONE, and then
 *   the byte is still in the pipe; otherwise the read has it.
 */
#include <fcntl.h>
#include <sys/socket.h>
#include "util.h"
#include "valgrind_annotate.h"
#include "scheduler/context.h"

/* Wait (polling, as the gate does) until the engine has `running` with the kernel and nothing queued. */
static void wait_running(struct ioe_context *ctx, size_t running)
{
	for (int i = 0; ioe_running(ctx) != running || ioe_pending(ctx); i++) {
		CHECK(i < 50000);
		usleep(100);
	}
}

static void prep_stream_read(struct tev *t, struct waitgroup *wg, int fd, void *buf, size_t len)
{
	tev_init(t, wg);
	ioe_prep_read(&t->ev, fd, buf, len, 0);
	t->ev.flags |= IOE_F_AT_POSITION;
}

static void refused(enum ioe_backend b)
{
	struct ioe_context *ctx = backend_context(b, 4, 0);
	struct ioe_event ev;
	int p[2];
	char c;

	CHECK_EQ(pipe(p), 0);
	ioe_prep_read(&ev, p[0], &c, 1, 0);
	ev.flags |= IOE_F_AT_POSITION;
	CHECK_EQ(ioe_submit_wait(ctx, &ev, IOE_CHAN_READ), -EOPNOTSUPP);
	if (b == IOE_BACKEND_AIO) {
		ioe_set_callback(&ev, tev_cb, NULL);
		CHECK_EQ(ioe_submit(ctx, &ev, IOE_CHAN_READ), -EOPNOTSUPP);
		CHECK_EQ(ioe_submit_local(ctx, &ev, IOE_CHAN_READ), -EOPNOTSUPP);
	}
	ioe_context_free(ctx);
	close(p[0]);
	close(p[1]);
}

static ssize_t run_stream(struct ioe_context *ctx, struct ioe_event *ev)
{
	ev->flags |= IOE_F_AT_POSITION;
	return run_ev(ctx, ev);
}

static void io(int fd)
{
	struct ioe_context *ctx = backend_context(IOE_BACKEND_URING, 4, 0);
	char buf[64], out[64];
	struct iovec iov[2] = { { buf, 3 }, { buf + 3, 61 } };
	struct ioe_event ev;
	int p[2], s[2];

	/* A pipe: one call's worth, short. */
	CHECK_EQ(pipe(p), 0);
	CHECK_EQ(write(p[1], "abc", 3), 3);
	ioe_prep_read(&ev, p[0], buf, sizeof(buf), -7);	/* the offset is not used */
	CHECK_EQ(run_stream(ctx, &ev), 3);
	CHECK(!memcmp(buf, "abc", 3));
	ioe_prep_write(&ev, p[1], "hello", 5, 0);
	CHECK_EQ(run_stream(ctx, &ev), 5);
	CHECK_EQ(read(p[0], out, sizeof(out)), 5);
	CHECK(!memcmp(out, "hello", 5));

	/* Empty and O_NONBLOCK: -EAGAIN, not retried. */
	CHECK_EQ(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	ioe_prep_read(&ev, p[0], buf, sizeof(buf), 0);
	CHECK_EQ(run_stream(ctx, &ev), -EAGAIN);
	close(p[0]);
	close(p[1]);

	/* A socketpair, vectored both ways. */
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	memcpy(out, "0123456789", 10);
	{
		struct iovec wv[2] = { { out, 4 }, { out + 4, 6 } };

		ioe_prep_writev(&ev, s[0], wv, 2, 0);
		CHECK_EQ(run_stream(ctx, &ev), 10);
	}
	ioe_prep_readv(&ev, s[1], iov, 2, 0);
	CHECK_EQ(run_stream(ctx, &ev), 10);
	CHECK(!memcmp(buf, "0123456789", 10));
	close(s[0]);
	close(s[1]);

	/* A regular file: at its position, which moves on. */
	fill(out, sizeof(out), 0, 7);
	CHECK_EQ(pwrite(fd, out, sizeof(out), 0), sizeof(out));
	CHECK_EQ(lseek(fd, 10, SEEK_SET), 10);
	ioe_prep_read(&ev, fd, buf, 20, 0);
	CHECK_EQ(run_stream(ctx, &ev), 20);
	verify(buf, 20, 10, 7);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 30);
	ioe_context_free(ctx);
}

/* A blocked read cancelled in the kernel, then the pipe written: nothing was taken. */
static void kernel_cancel(unsigned int workers)
{
	struct ioe_context *ctx = backend_context(IOE_BACKEND_URING, 4, workers);
	struct waitgroup wg;
	char buf[16], out[16];
	struct tev t;
	int p[2];

	CHECK_EQ(pipe(p), 0);
	wg_init(&wg, 1);
	prep_stream_read(&t, &wg, p[0], buf, sizeof(buf));
	CHECK_EQ(ioe_submit(ctx, &t.ev, IOE_CHAN_READ), 0);
	wait_running(ctx, 1);
	CHECK_EQ(ioe_cancel(ctx, &t.ev), IOE_CANCEL_DONE);
	wg_wait(&wg);
	CHECK_EQ(atomic_load(&t.calls), 1);
	CHECK_EQ(t.ev.res, -ECANCELED);
	CHECK_EQ(ioe_cancel(ctx, &t.ev), IOE_CANCEL_ALLDONE);
	CHECK_EQ(ioe_running(ctx), 0);

	CHECK_EQ(write(p[1], "after", 5), 5);
	CHECK_EQ(read(p[0], out, sizeof(out)), 5);
	CHECK(!memcmp(out, "after", 5));
	ioe_context_free(ctx);
	CHECK_EQ(atomic_load(&t.calls), 1);
	wg_destroy(&wg);
	close(p[0]);
	close(p[1]);
}

/*
 * A blocked read cancelled from a file read's callback (in the poller, the
 * submitter or a worker): the thread that reaps is the one that waits for
 * the kernel's answer.
 */
struct cancelling {
	struct tev t;
	struct ioe_context *ctx;
	struct ioe_event *victim;
	int answer;
};

static void cancelling_cb(struct ioe_event *ev, void *arg)
{
	struct cancelling *c = arg;

	c->answer = ioe_cancel(c->ctx, c->victim);
	tev_cb(ev, &c->t);
}

static void cancel_from_callback(int fd, unsigned int workers)
{
	struct ioe_context *ctx = backend_context(IOE_BACKEND_URING, 4, workers);
	struct cancelling a = { .ctx = ctx };
	char buf[16], data[512] = { 0 };
	struct waitgroup wg;
	struct tev blocked;
	int p[2];

	CHECK_EQ(pwrite(fd, data, sizeof(data), 0), sizeof(data));
	CHECK_EQ(pipe(p), 0);
	wg_init(&wg, 2);
	prep_stream_read(&blocked, &wg, p[0], buf, sizeof(buf));
	CHECK_EQ(ioe_submit(ctx, &blocked.ev, IOE_CHAN_READ), 0);
	wait_running(ctx, 1);
	tev_init(&a.t, &wg);
	a.victim = &blocked.ev;
	ioe_prep_read(&a.t.ev, fd, data, sizeof(data), 0);
	ioe_set_callback(&a.t.ev, cancelling_cb, &a);
	CHECK_EQ(ioe_submit(ctx, &a.t.ev, IOE_CHAN_READ), 0);
	wg_wait(&wg);
	CHECK_EQ(a.answer, IOE_CANCEL_DONE);
	CHECK_EQ(blocked.ev.res, -ECANCELED);
	ioe_context_free(ctx);
	CHECK_EQ(atomic_load(&blocked.calls), 1);
	wg_destroy(&wg);
	close(p[0]);
	close(p[1]);
}

/*
 * A held event: the gate holds the poller (which would hand held events to
 * the submitter after 1 ms), and a file read's completion waits unreaped
 * (a blocked pipe read keeps the submitter from reaping it: the ring is
 * not idle): ioe_submit_local() then holds its event for a wait that never
 * comes. A blocked stream read alone holds none: its completion may never
 * come, so the file read before goes to the kernel.
 */
static void held_cancel(int fd)
{
	struct ioe_context *ctx = backend_context(IOE_BACKEND_URING, 4, 0);
	struct waitgroup wg;
	struct tev blocked, held, unreaped;
	char buf[16], data[512] = { 0 }, more[512];
	struct gate g;
	int p[2];

	CHECK_EQ(pwrite(fd, data, sizeof(data), 0), sizeof(data));
	CHECK_EQ(pipe(p), 0);
	wg_init(&wg, 3);
	prep_stream_read(&blocked, &wg, p[0], buf, sizeof(buf));
	CHECK_EQ(ioe_submit(ctx, &blocked.ev, IOE_CHAN_READ), 0);
	wait_running(ctx, 1);
	/* IO in flight: the submitter does not reap the gate's read itself. */
	gate_close(ctx, &g, fd);
	CHECK(thread_named(g.holder, "ioe-poll"));
	/* Only the pipe read in flight: not held (it would stay pending), but sent. */
	tev_init(&unreaped, &wg);
	ioe_prep_read(&unreaped.ev, fd, more, sizeof(more), 0);
	CHECK_EQ(ioe_submit_local(ctx, &unreaped.ev, IOE_CHAN_READ), 0);
	wait_running(ctx, 2);

	tev_init(&held, &wg);
	ioe_prep_read(&held.ev, fd, data, sizeof(data), 0);
	CHECK_EQ(ioe_submit_local(ctx, &held.ev, IOE_CHAN_READ), 0);
	CHECK_EQ(ioe_pending(ctx), 1);
	CHECK_EQ(ioe_cancel(ctx, &held.ev), IOE_CANCEL_DONE);
	CHECK_EQ(atomic_load(&held.calls), 1);
	CHECK_EQ(held.ev.res, -ECANCELED);
	CHECK_EQ(ioe_pending(ctx), 0);

	/* The poller is held: this thread reaps the cancel (and the others). */
	CHECK_EQ(ioe_cancel(ctx, &blocked.ev), IOE_CANCEL_DONE);
	gate_open(&g);
	wg_wait(&wg);
	CHECK_EQ(blocked.ev.res, -ECANCELED);
	CHECK_EQ(unreaped.ev.res, sizeof(more));
	ioe_context_free(ctx);
	CHECK_EQ(atomic_load(&blocked.calls), 1);
	wg_destroy(&wg);
	close(p[0]);
	close(p[1]);
}

/* Blocked reads hold no slot; ioe_context_free() cancels them. */
#define BLOCKED 4
#define FILE_READS 64

static void depth_and_free(int fd, unsigned int workers)
{
	struct ioe_context *ctx = backend_context(IOE_BACKEND_URING, 2, workers);
	static struct tev blocked[BLOCKED], reads[FILE_READS];
	static char buf[BLOCKED][16], data[FILE_READS][512];
	struct waitgroup wg_blocked, wg_reads;
	int p[BLOCKED][2];

	CHECK_EQ(pwrite(fd, data, sizeof(data), 0), sizeof(data));
	wg_init(&wg_blocked, BLOCKED);
	wg_init(&wg_reads, FILE_READS);
	for (int i = 0; i < BLOCKED; i++) {
		CHECK_EQ(pipe(p[i]), 0);
		prep_stream_read(&blocked[i], &wg_blocked, p[i][0], buf[i], sizeof(buf[i]));
		CHECK_EQ(ioe_submit(ctx, &blocked[i].ev, IOE_CHAN_READ), 0);
	}
	wait_running(ctx, BLOCKED);
	for (int i = 0; i < FILE_READS; i++) {
		tev_init(&reads[i], &wg_reads);
		ioe_prep_read(&reads[i].ev, fd, data[i], 512, (int64_t)i * 512);
		CHECK_EQ(ioe_submit(ctx, &reads[i].ev, IOE_CHAN_READ), 0);
	}
	wg_wait(&wg_reads);
	for (int i = 0; i < FILE_READS; i++)
		CHECK_EQ(reads[i].ev.res, 512);
	CHECK_EQ(ioe_running(ctx), BLOCKED);
	for (int i = 0; i < BLOCKED; i++)
		CHECK_EQ(atomic_load(&blocked[i].calls), 0);
	{
		/* Waiting reads do not wake the poller every millisecond (about 20 times in 300 ms). */
		long before = engine_sleeps("ioe-poll"), woke;

		usleep(300000);
		woke = engine_sleeps("ioe-poll") - before;
		fprintf(stderr, "poller woke %ld times in 300 ms with %d reads waiting\n", woke, BLOCKED);
		CHECK(woke < 100);
	}

	ioe_context_free(ctx);
	for (int i = 0; i < BLOCKED; i++) {
		CHECK_EQ(atomic_load(&blocked[i].calls), 1);
		CHECK_EQ(blocked[i].ev.res, -ECANCELED);
		close(p[i][0]);
		close(p[i][1]);
	}
	wg_destroy(&wg_blocked);
	wg_destroy(&wg_reads);
}

/*
 * Stream reads still queued when ioe_context_free() starts: the gate holds
 * the submitter until the context stops (its shared part says so), then
 * they are refused with -ECANCELED, though their pipes have a byte each
 * (still there afterwards), and the file read queued with them is done.
 */
static void *free_context(void *ctx)
{
	ioe_context_free(ctx);
	return NULL;
}

static void free_queued(int fd)
{
	struct ioe_context *ctx = backend_context(IOE_BACKEND_URING, 4, 0);
	static struct tev blocked[BLOCKED];
	static char buf[BLOCKED][16];
	char data[512] = { 0 }, back[512];
	struct tev file_read;
	int p[BLOCKED][2];
	struct gate g;
	pthread_t th;

	CHECK_EQ(pwrite(fd, data, sizeof(data), 0), sizeof(data));
	gate_close_submitter(ctx, &g, fd);
	for (int i = 0; i < BLOCKED; i++) {
		CHECK_EQ(pipe(p[i]), 0);
		prep_stream_read(&blocked[i], NULL, p[i][0], buf[i], sizeof(buf[i]));
		CHECK_EQ(ioe_submit(ctx, &blocked[i].ev, IOE_CHAN_READ), 0);
	}
	tev_init(&file_read, NULL);
	ioe_prep_read(&file_read.ev, fd, back, sizeof(back), 0);
	CHECK_EQ(ioe_submit(ctx, &file_read.ev, IOE_CHAN_READ), 0);
	CHECK_EQ(ioe_pending(ctx), BLOCKED + 1);
	CHECK_EQ(pthread_create(&th, NULL, free_context, ctx), 0);
	for (int i = 0; !atomic_load(&ctx->shared.stopping); i++) {
		CHECK(i < 50000);
		usleep(100);
	}
	for (int i = 0; i < BLOCKED; i++)
		CHECK_EQ(write(p[i][1], "y", 1), 1);
	gate_open(&g);
	CHECK_EQ(pthread_join(th, NULL), 0);
	for (int i = 0; i < BLOCKED; i++) {
		char c;

		CHECK_EQ(atomic_load(&blocked[i].calls), 1);
		CHECK_EQ(blocked[i].ev.res, -ECANCELED);
		CHECK_EQ(read(p[i][0], &c, 1), 1);
		close(p[i][0]);
		close(p[i][1]);
	}
	CHECK_EQ(atomic_load(&file_read.calls), 1);
	CHECK_EQ(file_read.ev.res, sizeof(back));
}

/* Pipes written one by one by another thread while their reads are cancelled. */
#define PIPES 64

struct writer {
	int (*p)[2];
	long rounds;
};

static void *write_pipes(void *arg)
{
	struct writer *w = arg;

	for (long r = 0; r < w->rounds; r++)
		for (int i = 0; i < PIPES; i++)
			CHECK_EQ(write(w->p[i][1], "x", 1), 1);
	return NULL;
}

static void race(unsigned int workers)
{
	struct ioe_context *ctx = backend_context(IOE_BACKEND_URING, 8, workers);
	long rounds = scaled(100, 10), counts[3] = { 0 };
	static struct tev t[PIPES];
	static char buf[PIPES];
	struct writer w = { .rounds = rounds };
	int p[PIPES][2];
	struct waitgroup wg;
	pthread_t th;

	for (int i = 0; i < PIPES; i++)
		CHECK_EQ(pipe(p[i]), 0);
	w.p = p;
	CHECK_EQ(pthread_create(&th, NULL, write_pipes, &w), 0);
	for (long r = 0; r < rounds; r++) {
		wg_init(&wg, PIPES);
		for (int i = 0; i < PIPES; i++) {
			prep_stream_read(&t[i], &wg, p[i][0], &buf[i], 1);
			CHECK_EQ(ioe_submit(ctx, &t[i].ev, IOE_CHAN_READ), 0);
		}
		for (int i = 0; i < PIPES; i++) {
			int ret = ioe_cancel(ctx, &t[i].ev);

			CHECK(ret >= IOE_CANCEL_DONE && ret <= IOE_CANCEL_ALLDONE);
			counts[ret]++;
			t[i].seq = ret;
		}
		wg_wait(&wg);
		for (int i = 0; i < PIPES; i++) {
			char c;

			CHECK_EQ(atomic_load(&t[i].calls), 1);
			CHECK_EQ(t[i].seq == IOE_CANCEL_DONE, t[i].ev.res == -ECANCELED);
			if (t[i].seq != IOE_CANCEL_DONE) {
				CHECK_EQ(t[i].ev.res, 1);
				continue;
			}
			/* A cancelled read took nothing: this round's byte is read here (once written). */
			CHECK_EQ(read(p[i][0], &c, 1), 1);
		}
		wg_destroy(&wg);
	}
	CHECK_EQ(pthread_join(th, NULL), 0);
	/* Every byte was read exactly once: the pipes are empty. */
	for (int i = 0; i < PIPES; i++) {
		char c;

		CHECK_EQ(fcntl(p[i][0], F_SETFL, O_NONBLOCK), 0);
		CHECK_EQ(read(p[i][0], &c, 1), -1);
		CHECK_EQ(errno, EAGAIN);
		close(p[i][0]);
		close(p[i][1]);
	}
	printf("stream race workers %u: %ld done, %ld running, %ld alldone\n", workers, counts[IOE_CANCEL_DONE],
	       counts[IOE_CANCEL_RUNNING], counts[IOE_CANCEL_ALLDONE]);
	ioe_context_free(ctx);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	int fd = test_file(0);

	refused(b);
	if (b == IOE_BACKEND_URING) {
		io(fd);
		/* io_uring callers submit themselves only outside valgrind (see ring_open()). */
		if (!ioe_running_on_valgrind())
			held_cancel(fd);
		else
			fprintf(stderr, "stream: under valgrind, the held event's cancel skipped\n");
		for (unsigned int workers = 0; workers <= 1; workers++) {
			kernel_cancel(workers);
			cancel_from_callback(fd, workers);
			depth_and_free(fd, workers);
			if (!workers)
				free_queued(fd);
			race(workers);
		}
	}
	close(fd);
	return 0;
}
