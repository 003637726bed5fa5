/* SPDX-License-Identifier: MIT */
/*
 * The engine decides where a synchronous read runs (ioe_choose_path()), and
 * the shim asks it first. On an idle engine a read of a cached page is the
 * program's own call (the plain path); while the engine is busy (its one
 * slot, IOENGINE_DEPTH=1, taken by a POSIX AIO read that a userfaultfd
 * holds in the kernel) the same read is answered by the fast path, without
 * queueing behind it: it returns while that read is still in progress.
 * run_fastpath_busy.sh checks the counts in the stats summary. Modes:
 *
 * basic: a cached read on the idle engine, on the busy one, on the idle one
 *   again: two reads on the plain path, one fast-path hit.
 * fd_change: while busy, fd N is a cached file (a fast-path hit), then
 *   stands for /dev/zero by one call of the program's (close, dup2, dup3,
 *   close_range, closefrom, fcntl F_DUPFD and F_DUPFD_CLOEXEC), the fd
 *   cache's only news of it: the next read of N is the real call, not a
 *   fast-path hit on an entry that still says "file". Then N, a cached file
 *   again, is made O_DIRECT by fcntl(F_SETFL): its next read is routed,
 *   queued behind the held read. Every result is compared with the
 *   kernel's own.
 * partial: while busy, a read whose first page is cached and whose second
 *   is not: the fast path reads the first page, the engine the second;
 *   every byte is counted once. (The fast path's first look starts the
 *   second page's read; should it be done by the next look, the read is
 *   whole, and is tried again with a new file.)
 *
 * A read that must queue behind the held read runs in a thread of its own;
 * the held read is let go once that thread sleeps in the engine (a futex
 * wait, seen in /proc) or has returned.
 */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "fault_hold.h"

#define HELD_LEN (1u << 20)	/* above what the shim's aio_read() does in the caller (64 KiB) */
#define BS 4096
#define PARTIAL_TRIES 10
#define FDC_SIZE 65536		/* the shim's fd cache (fdcache.h): above it, no entry to go stale */

static struct fault_hold hold;
static struct aiocb held_cb;
static const char *test_dir;

static void die(const char *what)
{
	fprintf(stderr, "fastpath_busy: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* An unlinked file of len bytes c, written through the page cache: every page cached. */
static int cached_file(const char *name, char c, size_t len)
{
	char path[4096];
	char *data = malloc(len);
	int fd;

	snprintf(path, sizeof(path), "%s/fastpath_busy.%s.%d", test_dir, name, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !data)
		die("open");
	unlink(path);
	memset(data, c, len);
	if (write(fd, data, len) != (ssize_t)len)
		die("write");
	free(data);
	return fd;
}

static void check_bytes(const char *buf, size_t len, char c, const char *what)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != c) {
			errno = EIO;
			die(what);
		}
}

static void read_page(int fd, char c)
{
	char buf[BS];

	if (pread(fd, buf, BS, 0) != BS)
		die("pread");
	check_bytes(buf, BS, c, "pread data");
}

/* Busy: the engine's one slot held by a read in the kernel until busy_end(). */
static void busy_begin(int held_fd)
{
	if (fault_hold_aio_read(&hold, &held_cb, held_fd, HELD_LEN))
		die("aio_read");
}

static void busy_check(void)
{
	if (aio_error(&held_cb) != EINPROGRESS)
		die("the held read is not in progress");
}

static void busy_end(void)
{
	const struct aiocb *list[1] = { &held_cb };

	busy_check();
	fault_hold_release(&hold);
	while (aio_error(&held_cb) == EINPROGRESS)
		if (aio_suspend(list, 1, NULL) && errno != EINTR)
			die("aio_suspend");
	if (aio_return(&held_cb) != HELD_LEN)
		die("aio_return");
}

/* A pread in a thread of its own, which may queue behind the held read. */
struct reader {
	int fd;
	void *buf;
	size_t len;
	ssize_t res;
	atomic_int tid;		/* 0 until known */
	atomic_bool done;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	atomic_store(&r->tid, (int)gettid());
	r->res = pread(r->fd, r->buf, r->len, 0);
	atomic_store(&r->done, true);
	return NULL;
}

/* The thread sleeps in FUTEX_WAIT (its system call, from /proc): the engine's wait for its event. */
static bool sleeps_in_futex(int tid)
{
	char path[64], line[256];
	unsigned long nr, uaddr, op;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return false;
	line[n] = '\0';
	/* "running" while it runs; else the system call's number and arguments. */
	if (sscanf(line, "%lu 0x%lx 0x%lx", &nr, &uaddr, &op) != 3)
		return false;
	return nr == SYS_futex && (op & FUTEX_CMD_MASK) == FUTEX_WAIT;
}

/*
 * Read in a thread while busy; the held read is let go once the thread has
 * returned (answered in the caller's thread) or sleeps in the engine
 * (*slept: a routed request, queued behind it). The thread's result.
 */
static ssize_t read_then_end_busy(int fd, void *buf, size_t len, bool *slept)
{
	struct reader r = { .fd = fd, .buf = buf, .len = len };
	struct timespec ms = { 0, 1000000 };
	pthread_t t;
	int tid;

	*slept = false;
	if (pthread_create(&t, NULL, reader_main, &r))
		die("pthread_create");
	for (int i = 0;; i++) {
		if (i == 30000) {
			errno = ETIMEDOUT;
			die("the reader neither returned nor slept in 30 s");
		}
		tid = atomic_load(&r.tid);
		if (atomic_load(&r.done))
			break;
		if (tid && sleeps_in_futex(tid)) {
			*slept = true;
			break;
		}
		nanosleep(&ms, NULL);
	}
	busy_end();
	if (pthread_join(t, NULL))
		die("pthread_join");
	return r.res;
}

static void mode_basic(void)
{
	int fd = cached_file("basic", 'f', HELD_LEN);

	/* Idle: the plain path. */
	read_page(fd, 'f');
	/* Busy: a fast-path hit, while the held read is in progress. */
	busy_begin(fd);
	read_page(fd, 'f');
	busy_end();
	/* Idle again: the plain path. */
	read_page(fd, 'f');
}

/* Ways to make fd n stand for /dev/zero (zero) that the shim sees; n was a file. */
enum change { CH_CLOSE, CH_DUP2, CH_DUP3, CH_CLOSE_RANGE, CH_CLOSEFROM, CH_DUPFD, CH_DUPFD_CLOEXEC, CH_N };

static const char *const change_name[CH_N] = {
	"close", "dup2", "dup3", "close_range", "closefrom", "F_DUPFD", "F_DUPFD_CLOEXEC",
};

/* Put oldfd at n by the raw system call: the shim does not see it. */
static void raw_dup_to(int oldfd, int n)
{
	if (syscall(SYS_dup3, oldfd, n, 0) != n)
		die("dup3 (raw)");
}

static void change_to_zero(enum change ch, int n, int zero)
{
	int ret = 0;

	switch (ch) {
	case CH_CLOSE:
		ret = close(n);
		break;
	case CH_DUP2:
		ret = dup2(zero, n) == n ? 0 : -1;
		break;
	case CH_DUP3:
		ret = dup3(zero, n, O_CLOEXEC) == n ? 0 : -1;
		break;
	case CH_CLOSE_RANGE:
		ret = close_range((unsigned int)n, (unsigned int)n, 0);
		break;
	case CH_CLOSEFROM:
		closefrom(n);	/* n is the highest fd open */
		break;
	case CH_DUPFD:
	case CH_DUPFD_CLOEXEC:
		if (syscall(SYS_close, n))
			die("close (raw)");
		ret = fcntl(zero, ch == CH_DUPFD ? F_DUPFD : F_DUPFD_CLOEXEC, n) == n ? 0 : -1;
		break;
	case CH_N:
		break;
	}
	if (ret)
		die(change_name[ch]);
	/* Those that only closed n: /dev/zero put there behind the shim's back. */
	if (ch == CH_CLOSE || ch == CH_CLOSE_RANGE || ch == CH_CLOSEFROM)
		raw_dup_to(zero, n);
}

static void mode_fd_change(void)
{
	static _Alignas(BS) char dbuf[BS];
	int held = cached_file("held", 'h', HELD_LEN);
	int file = cached_file("change", 'c', BS);
	int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	char buf[BS], native[BS];
	struct rlimit rl;
	bool slept;
	int n, fl;

	/* Written back: an O_DIRECT read with RWF_NOWAIT says EAGAIN over dirty pages. */
	if (zero < 0 || fdatasync(file))
		die("set-up");
	/* n: the highest fd open (for closefrom()), one the fd cache has an entry for. */
	if (getrlimit(RLIMIT_NOFILE, &rl))
		die("getrlimit");
	n = (int)((rl.rlim_cur < FDC_SIZE ? rl.rlim_cur : FDC_SIZE) - 1);
	if (syscall(SYS_pread64, zero, native, BS, 0) != BS)
		die("pread /dev/zero (raw)");

	busy_begin(held);
	for (enum change ch = 0; ch < CH_N; ch++) {
		raw_dup_to(file, n);
		read_page(n, 'c');			/* a fast-path hit: the entry says file */
		change_to_zero(ch, n, zero);
		memset(buf, 'x', sizeof(buf));
		if (pread(n, buf, BS, 0) != BS || memcmp(buf, native, BS)) {
			fprintf(stderr, "fastpath_busy: after %s: not what /dev/zero reads\n", change_name[ch]);
			exit(1);
		}
		busy_check();
		if (close(n))
			die("close");
	}

	/* Made O_DIRECT: routed, queued behind the held read, which then is let go. */
	raw_dup_to(file, n);
	read_page(n, 'c');
	fl = fcntl(n, F_GETFL);
	if (fl < 0 || fcntl(n, F_SETFL, fl | O_DIRECT))
		die("fcntl F_SETFL O_DIRECT");
	memset(dbuf, 'x', sizeof(dbuf));
	if (read_then_end_busy(n, dbuf, BS, &slept) != BS)
		die("pread O_DIRECT");
	if (!slept) {
		fprintf(stderr, "fastpath_busy: after F_SETFL O_DIRECT: answered while the engine was busy\n");
		exit(1);
	}
	check_bytes(dbuf, BS, 'c', "pread O_DIRECT data");
	close(n);
}

/* Whether each page of fd's first len bytes is in the page cache (mincore()). */
static void resident(int fd, size_t len, unsigned char *vec)
{
	void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED || mincore(p, len, vec) || munmap(p, len))
		die("mincore");
}

/*
 * One try of the partial read: true when it was partial (the reader slept
 * in the engine, its rest queued), false when the fast path read it whole:
 * the second page's read, which the fast path's first look started, was
 * done by the time it looked again.
 */
static bool partial_try(int held, int i)
{
	char path[4096], buf[2 * BS];
	unsigned char vec[2];
	char *data = aligned_alloc(BS, 2 * BS);
	int wfd, fd;
	bool partial;

	/* Written with O_DIRECT: nothing of the file in the page cache. */
	snprintf(path, sizeof(path), "%s/fastpath_busy.partial.%d.%d", test_dir, (int)getpid(), i);
	wfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0600);
	fd = open(path, O_RDONLY);
	if (wfd < 0 || fd < 0 || !data)
		die("open");
	unlink(path);
	memset(data, 'p', 2 * BS);
	if (write(wfd, data, 2 * BS) != 2 * BS)
		die("write O_DIRECT");
	free(data);
	close(wfd);
	/* No readahead: reading the first page caches that page alone. */
	if (posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM))
		die("posix_fadvise");
	read_page(fd, 'p');	/* idle: the plain path */
	resident(fd, 2 * BS, vec);
	if ((vec[0] & 1) != 1 || (vec[1] & 1) != 0) {
		printf("skipped: want the first page cached and the second not, have %d and %d\n", vec[0] & 1,
		       vec[1] & 1);
		exit(77);
	}

	busy_begin(held);
	memset(buf, 'x', sizeof(buf));
	if (read_then_end_busy(fd, buf, sizeof(buf), &partial) != (ssize_t)sizeof(buf))
		die("pread partial");
	check_bytes(buf, sizeof(buf), 'p', "pread partial data");
	close(fd);
	return partial;
}

/* Tries until one is partial; prints how many were read whole, for the counts. */
static void mode_partial(void)
{
	int held = cached_file("held", 'h', HELD_LEN);

	for (int whole = 0; whole < PARTIAL_TRIES; whole++) {
		if (partial_try(held, whole)) {
			printf("whole=%d\n", whole);
			return;
		}
	}
	printf("skipped: the fast path read the second page too, %d times\n", PARTIAL_TRIES);
	exit(77);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "basic";

	test_dir = getenv("IOENGINE_TEST_DIR") ? getenv("IOENGINE_TEST_DIR") : "/tmp";
	if (!fault_hold_init(&hold, HELD_LEN)) {
		printf("skipped: no userfaultfd (%s)\n", strerror(errno));
		return 77;
	}
	/* A read that outlives its bound ends the test: a read queued behind the held one never returns. */
	alarm(60);
	if (!strcmp(mode, "basic")) {
		mode_basic();
	} else if (!strcmp(mode, "fd_change")) {
		mode_fd_change();
	} else if (!strcmp(mode, "partial")) {
		mode_partial();
	} else {
		fprintf(stderr, "fastpath_busy: unknown mode %s\n", mode);
		return 2;
	}
	printf("ok\n");
	return 0;
}
