/* SPDX-License-Identifier: MIT */
/*
 * ioe_submit_wait(): results as the syscalls give them; the calling thread
 * does the IO itself when the engine is idle (the engine threads stay
 * asleep); writes and syncs done in the calling thread, even with the
 * queues busy; many threads at once mixed with ioe_submit() traffic and short of
 * slots; a signal handler that calls it while the thread it interrupted
 * is inside it; threads that come and go, and a fork child.
 */
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <dirent.h>
#include "run_inline.h"
#include "util.h"
#include "valgrind_annotate.h"

#define BLK 4096

/* semantics() runs twice: through the engine, then as a handler that
 * interrupted its own thread's queueing does its IO (run_inline.c). */
static bool run_inline;

static ssize_t wait_ev(struct ioe_context *ctx, struct ioe_event *ev, enum ioe_channel ch)
{
	if (run_inline)
		ioe_event_run_inline(ev);
	else
		CHECK_EQ(ioe_submit_wait(ctx, ev, ch), 0);
	return ev->res;
}

static ssize_t sync_pread(struct ioe_context *ctx, int fd, void *buf, size_t len, int64_t off)
{
	struct ioe_event ev;

	ioe_prep_read(&ev, fd, buf, len, off);
	return wait_ev(ctx, &ev, IOE_CHAN_READ);
}

static ssize_t sync_pwrite(struct ioe_context *ctx, int fd, const void *buf, size_t len, int64_t off)
{
	struct ioe_event ev;

	ioe_prep_write(&ev, fd, buf, len, off);
	return wait_ev(ctx, &ev, IOE_CHAN_WRITE);
}

static void semantics(struct ioe_context *ctx)
{
	int fd = test_file(0), pipefd[2];
	char buf[3 * BLK], out[3 * BLK];
	struct iovec iov[3] = { { out, 0 }, { out, BLK }, { out + BLK, 2 * BLK } };
	struct ioe_event ev;
	char *half;

	fill(buf, sizeof(buf), 0, 5);
	CHECK_EQ(sync_pwrite(ctx, fd, buf, sizeof(buf), 0), sizeof(buf));
	CHECK_EQ(sync_pread(ctx, fd, out, sizeof(out), 0), sizeof(out));
	verify(out, sizeof(out), 0, 5);
	/* Short at end of file, 0 past it. */
	CHECK_EQ(sync_pread(ctx, fd, out, sizeof(out), BLK + 100), 2 * BLK - 100);
	verify(out, 2 * BLK - 100, BLK + 100, 5);
	CHECK_EQ(sync_pread(ctx, fd, out, sizeof(out), 10 * BLK), 0);
	memset(out, 0, sizeof(out));
	ioe_prep_readv(&ev, fd, iov, 3, 0);
	CHECK_EQ(wait_ev(ctx, &ev, IOE_CHAN_PRIO), sizeof(out));
	verify(out, sizeof(out), 0, 5);
	ioe_prep_readv(&ev, fd, iov, 3, BLK + 100);
	CHECK_EQ(wait_ev(ctx, &ev, IOE_CHAN_PRIO), 2 * BLK - 100);
	verify(out, 2 * BLK - 100, BLK + 100, 5);
	/* A buffer that ends in an unmapped page: the bytes before it count.
	 * (memcheck reports the unmapped page it is given.) */
	if (!ioe_running_on_valgrind()) {
		half = mmap(NULL, 2 * BLK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(half != MAP_FAILED);
		CHECK_EQ(munmap(half + BLK, BLK), 0);
		fill(half, BLK, 0, 5);
		CHECK_EQ(sync_pwrite(ctx, fd, half, 2 * BLK, 0), BLK);
		CHECK_EQ(sync_pwrite(ctx, fd, half + BLK, BLK, 0), -EFAULT);
		munmap(half, BLK);
	}
	ioe_prep_fdatasync(&ev, fd);
	CHECK_EQ(wait_ev(ctx, &ev, IOE_CHAN_WRITE), 0);
	/* The errors pread() gives before it looks at anything else. */
	CHECK_EQ(sync_pread(ctx, -1, out, 1, 0), -EBADF);
	CHECK_EQ(pipe(pipefd), 0);
	CHECK_EQ(write(pipefd[1], "x", 1), 1);
	CHECK_EQ(sync_pread(ctx, pipefd[0], out, 1, 0), -ESPIPE);
	close(pipefd[0]);
	close(pipefd[1]);
	/* Refused before anything happens, as ioe_submit() refuses. */
	ioe_prep_read(&ev, fd, out, 1, -1);
	CHECK_EQ(ioe_submit_wait(ctx, &ev, IOE_CHAN_READ), -EINVAL);
	CHECK_EQ(ioe_submit_wait(ctx, &ev, IOE_CHAN_MAX), -EINVAL);
	CHECK_EQ(ioe_submit_wait(NULL, &ev, IOE_CHAN_READ), -EINVAL);
	close(fd);
}

/*
 * O_DIRECT reads one after the other: each takes tens of microseconds, long
 * enough for an engine thread that handled it to fall asleep after it. Done
 * by the caller, they leave the engine threads asleep.
 */
static void caller_does_the_io(struct ioe_context *ctx)
{
	enum { N = 200 };
	int fd = test_file(O_DIRECT);
	unsigned char *buf = xalloc(N * BLK);
	long before;

	fill(buf, N * BLK, 0, 9);
	CHECK_EQ(pwrite(fd, buf, N * BLK, 0), N * BLK);
	/* Let the engine threads settle into their sleep. */
	usleep(100000);
	before = engine_sleeps("ioe-");
	for (int i = 0; i < N; i++)
		CHECK_EQ(sync_pread(ctx, fd, buf + (size_t)i * BLK, BLK, (int64_t)i * BLK), BLK);
	fprintf(stderr, "engine threads slept %ld times during %d direct reads\n",
		engine_sleeps("ioe-") - before, N);
	CHECK(engine_sleeps("ioe-") - before < N / 10);
	verify(buf, N * BLK, 0, 9);
	free(buf);
	close(fd);
}

/*
 * Writes (buffered and O_DIRECT) and syncs are done in the calling thread
 * with the plain system calls, queues busy or not: io_uring would hand a
 * buffered write or a sync to a kernel worker of the thread's (a thread of
 * this process named iou-wrk-TID), to block in the same call while the
 * caller waits.
 */
struct plain_writer {
	struct ioe_context *ctx;
	int fd;
};

static void *plain_writer_main(void *arg)
{
	struct plain_writer *p = arg;
	unsigned char *buf = xalloc(BLK), *out = xalloc(BLK);
	int direct = test_file(O_DIRECT);
	char worker[32];
	struct ioe_event ev;

	snprintf(worker, sizeof(worker), "iou-wrk-%d", (int)gettid());
	for (int i = 0; i < 20; i++) {
		fill(buf, BLK, (uint64_t)i * BLK, 3);
		CHECK_EQ(sync_pwrite(p->ctx, p->fd, buf, BLK, (int64_t)i * BLK), BLK);
		CHECK_EQ(sync_pwrite(p->ctx, direct, buf, BLK, (int64_t)i * BLK), BLK);
		ioe_prep_fdatasync(&ev, p->fd);
		CHECK_EQ(wait_ev(p->ctx, &ev, IOE_CHAN_WRITE), 0);
	}
	ioe_prep_fsync(&ev, p->fd);
	CHECK_EQ(wait_ev(p->ctx, &ev, IOE_CHAN_WRITE), 0);
	/* Its workers would outlive the IO (seconds): while this thread lives, so would they. */
	CHECK_EQ(threads_named(worker), 0);
	for (int i = 0; i < 20; i++) {
		CHECK_EQ(pread(p->fd, out, BLK, (int64_t)i * BLK), BLK);
		verify(out, BLK, (uint64_t)i * BLK, 3);
		CHECK_EQ(pread(direct, out, BLK, (int64_t)i * BLK), BLK);
		verify(out, BLK, (uint64_t)i * BLK, 3);
	}
	close(direct);
	free(buf);
	free(out);
	return NULL;
}

/* busy: the submitter is held and reads wait in the queues meanwhile. */
static void writes_in_this_thread(enum ioe_backend b, bool busy)
{
	enum { QUEUED = 3 };
	struct ioe_context *ctx = backend_context(b, 4, 0);
	struct plain_writer p = { ctx, test_file(0) };
	int gate_fd = test_file(0);
	struct tev queued[QUEUED];
	struct waitgroup wg;
	char bytes[QUEUED];
	struct timespec until;
	struct gate g;
	pthread_t th;

	CHECK_EQ(pwrite(gate_fd, "gate", 4, 0), 4);
	wg_init(&wg, QUEUED);
	if (busy) {
		gate_close_submitter(ctx, &g, gate_fd);
		for (int i = 0; i < QUEUED; i++) {
			tev_init(&queued[i], &wg);
			ioe_prep_read(&queued[i].ev, gate_fd, &bytes[i], 1, i);
			ioe_set_callback(&queued[i].ev, tev_cb, &queued[i]);
			CHECK_EQ(ioe_submit(ctx, &queued[i].ev, IOE_CHAN_READ), 0);
		}
		CHECK(ioe_pending(ctx) > 0);
	}
	CHECK_EQ(pthread_create(&th, NULL, plain_writer_main, &p), 0);
	/* Queued behind the held submitter, the writes would wait for the gate. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	CHECK_EQ(pthread_timedjoin_np(th, NULL, &until), 0);
	if (busy) {
		CHECK(ioe_pending(ctx) > 0);
		gate_open(&g);
		wg_wait(&wg);
	}
	wg_destroy(&wg);
	ioe_context_free(ctx);
	close(gate_fd);
	close(p.fd);
}

/* Several callers at once, with asynchronous events from another thread and
 * fewer slots than IO: both the direct and the queued path, every result right. */
struct worker {
	struct ioe_context *ctx;
	int fd;
	int id;
	long rounds;
};

#define WBLKS 16

static void *sync_worker(void *arg)
{
	struct worker *w = arg;
	unsigned char *buf = xalloc(WBLKS * BLK);

	for (long r = 0; r < w->rounds; r++) {
		int64_t off = ((int64_t)w->id * WBLKS + r % WBLKS) * BLK;
		uint32_t salt = (uint32_t)(r * 8 + w->id);

		fill(buf, BLK, (uint64_t)off, salt);
		CHECK_EQ(sync_pwrite(w->ctx, w->fd, buf, BLK, off), BLK);
		memset(buf, 0, BLK);
		CHECK_EQ(sync_pread(w->ctx, w->fd, buf, BLK, off), BLK);
		verify(buf, BLK, (uint64_t)off, salt);
	}
	free(buf);
	return NULL;
}

static void *async_worker(void *arg)
{
	enum { N = 32 };
	struct worker *w = arg;
	static struct tev t[N];
	unsigned char *buf = xalloc(N * BLK);
	struct waitgroup wg;

	wg_init(&wg, 0);
	for (long r = 0; r < w->rounds / 8; r++) {
		wg_add(&wg, N);
		for (int i = 0; i < N; i++) {
			tev_init(&t[i], &wg);
			ioe_prep_read(&t[i].ev, w->fd, buf + (size_t)i * BLK, BLK, (int64_t)i * BLK);
			CHECK_EQ(ioe_submit(w->ctx, &t[i].ev, IOE_CHAN_READ), 0);
		}
		wg_wait(&wg);
		for (int i = 0; i < N; i++)
			CHECK_EQ(t[i].ev.res, BLK);
	}
	wg_destroy(&wg);
	free(buf);
	return NULL;
}

static void concurrent(enum ioe_backend b, int flags)
{
	enum { T = 4 };
	struct ioe_context *ctx = backend_context(b, 8, 0);
	struct worker w[T + 1];
	pthread_t th[T + 1];
	int fd = test_file(flags);

	CHECK_EQ(ftruncate(fd, (T + 1) * WBLKS * BLK), 0);
	for (int i = 0; i <= T; i++) {
		w[i] = (struct worker){ .ctx = ctx, .fd = fd, .id = i, .rounds = scaled(3000, 50) };
		CHECK_EQ(pthread_create(&th[i], NULL, i < T ? sync_worker : async_worker, &w[i]), 0);
	}
	for (int i = 0; i <= T; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);
	ioe_context_free(ctx);
	close(fd);
}

/* The handler reads the file's first block through the engine, every time. */
static struct ioe_context *sig_ctx;
static int sig_fd;
static atomic_long sig_runs;

static void on_alarm(int sig)
{
	unsigned char b[BLK] __attribute__((aligned(BLK)));
	int saved = errno;

	(void)sig;
	CHECK_EQ(sync_pread(sig_ctx, sig_fd, b, BLK, 0), BLK);
	verify(b, BLK, 0, 77);
	atomic_fetch_add(&sig_runs, 1);
	errno = saved;
}

static void reentrant(enum ioe_backend b, int flags)
{
	struct itimerval it = { { 0, 500 }, { 0, 500 } };
	unsigned char *buf = xalloc(8 * BLK);
	long n = scaled(20000, 500);

	sig_ctx = backend_context(b, 4, 0);
	sig_fd = test_file(flags);
	fill(buf, 8 * BLK, 0, 77);
	CHECK_EQ(pwrite(sig_fd, buf, 8 * BLK, 0), 8 * BLK);
	atomic_store(&sig_runs, 0);
	CHECK(signal(SIGALRM, on_alarm) != SIG_ERR);
	CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
	for (long i = 0; i < n; i++) {
		CHECK_EQ(sync_pread(sig_ctx, sig_fd, buf, 8 * BLK, 0), 8 * BLK);
		verify(buf, 8 * BLK, 0, 77);
	}
	memset(&it, 0, sizeof(it));
	CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
	/* Not SIG_DFL: a signal still pending (valgrind delivers late) would kill. */
	signal(SIGALRM, SIG_IGN);
	fprintf(stderr, "%ld reads, %ld handler reads\n", n, atomic_load(&sig_runs));
	CHECK(atomic_load(&sig_runs) > 0);
	ioe_context_free(sig_ctx);
	close(sig_fd);
	free(buf);
}

/* Open descriptors, and mappings of io_uring rings, of this process. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	CHECK(d != NULL);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Mappings of io_uring rings and Linux AIO contexts. */
static int count_queue_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "io_uring") || strstr(line, "/[aio]");
	fclose(f);
	return n;
}

struct short_lived {
	struct ioe_context *ctx;
	int fd;
	pthread_barrier_t *alive;
};

static void *short_lived_main(void *arg)
{
	struct short_lived *s = arg;
	unsigned char *buf = xalloc(BLK);

	for (int i = 0; i < 50; i++) {
		CHECK_EQ(sync_pread(s->ctx, s->fd, buf, BLK, (int64_t)(i % 8) * BLK), BLK);
		verify(buf, BLK, (uint64_t)(i % 8) * BLK, 31);
	}
	pthread_barrier_wait(s->alive);	/* all alive and done: counted */
	pthread_barrier_wait(s->alive);
	free(buf);
	return NULL;
}

/*
 * Threads that do synchronous IO and exit, and a fork child that does some:
 * every result right; on the idle engine no descriptor of the program's
 * taken and no ring or AIO context made while the threads live (their
 * reads are plain system calls); a child of fork() or _Fork() that makes
 * its own context.
 */
static void threads_and_fork(enum ioe_backend b, int flags)
{
	enum { T = 6 };
	struct ioe_context *ctx = backend_context(b, 16, 0);
	unsigned char *buf = xalloc(8 * BLK);
	pthread_barrier_t alive;
	struct short_lived s = { ctx, test_file(flags), &alive };
	pthread_t th[T];
	int fds, maps, status;
	pid_t pid;

	fill(buf, 8 * BLK, 0, 31);
	CHECK_EQ(pwrite(s.fd, buf, 8 * BLK, 0), 8 * BLK);
	CHECK_EQ(sync_pread(ctx, s.fd, buf, BLK, 0), BLK);
	fds = count_fds();
	maps = count_queue_maps();
	CHECK_EQ(pthread_barrier_init(&alive, NULL, T + 1), 0);
	for (int i = 0; i < T; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, short_lived_main, &s), 0);
	pthread_barrier_wait(&alive);
	CHECK_EQ(count_fds(), fds);
	CHECK_EQ(count_queue_maps(), maps);
	pthread_barrier_wait(&alive);
	for (int i = 0; i < T; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);
	CHECK_EQ(count_queue_maps(), maps);
	CHECK_EQ(pthread_barrier_destroy(&alive), 0);

	/* Forked with no engine threads (TSan: a multi-threaded fork's child cannot make threads). */
	ioe_context_free(ctx);
	/* _Fork() runs no atfork handler: the child must find out by itself. (valgrind
	 * does not treat it as a fork: its leak check fails in the child.) */
	for (int how = 0; how < (ioe_running_on_valgrind() ? 1 : 2); how++) {
		pid = how ? _Fork() : fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			struct ioe_context *child = backend_context(b, 16, 0);

			for (int i = 0; i < 8; i++) {
				memset(buf, 0, BLK);
				CHECK_EQ(sync_pread(child, s.fd, buf, BLK, (int64_t)i * BLK), BLK);
				verify(buf, BLK, (uint64_t)i * BLK, 31);
			}
			ioe_context_free(child);
			_exit(0);
		}
		CHECK_EQ(waitpid(pid, &status, 0), pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ctx = backend_context(b, 16, 0);
	CHECK_EQ(sync_pread(ctx, s.fd, buf, BLK, 0), BLK);	/* the parent's engine still works */
	verify(buf, BLK, 0, 31);
	ioe_context_free(ctx);
	close(s.fd);
	free(buf);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	struct ioe_context *ctx = backend_context(b, 16, 0);

	semantics(ctx);
	run_inline = true;
	semantics(ctx);
	run_inline = false;
	/* io_uring callers submit themselves only outside valgrind (see uring_start()). */
	if (b == IOE_BACKEND_AIO || !ioe_running_on_valgrind())
		caller_does_the_io(ctx);
	ioe_context_free(ctx);
	writes_in_this_thread(b, false);
	writes_in_this_thread(b, true);
	concurrent(b, 0);
	concurrent(b, O_DIRECT);
	reentrant(b, 0);
	reentrant(b, O_DIRECT);
	threads_and_fork(b, 0);
	threads_and_fork(b, O_DIRECT);
	return 0;
}
