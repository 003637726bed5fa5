/* SPDX-License-Identifier: MIT */
/*
 * fork() with the engine running: a parent thread keeps routing IO while the
 * main thread forks children (and one grandchild each); every process checks
 * its data and that its IO went through an engine of its own (threads in
 * this process; the child's stats summary shows routed reads).
 *
 * Children of _Fork() and of a raw clone() run no atfork handler: they must
 * keep off the parent's engine, whose threads they do not have (with IO in
 * flight there, their requests waited forever on it, or crashed on its AIO
 * ring), and use the real calls (no engine thread, nothing routed). Their
 * own fork() children have engines again.
 */
#include <aio.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "shim_test.h"

enum maker { BY_FORK, BY_UNDERSCORE_FORK, BY_RAW_CLONE };
static const enum maker makers[] = { BY_FORK, BY_FORK, BY_UNDERSCORE_FORK, BY_RAW_CLONE };
#define CHILDREN	((int)(sizeof(makers) / sizeof(makers[0])))
#define BLK		4096
#define REGION		(16 * BLK)	/* per process */
#define NPROC		(1 + 2 * CHILDREN)

static int fd;		/* O_DIRECT: always routed, fast path or not */
static _Atomic bool stop;

static void fill(unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 31 + i * 13);
}

/* Write the process's region from w, read it back into r, compare; `rounds` times. */
static void io_rounds_in(unsigned int who, int rounds, unsigned char *w, unsigned char *r)
{
	off_t base = (off_t)who * REGION;

	for (int i = 0; i < rounds; i++) {
		fill(w, REGION, who * 1000 + (unsigned int)i);
		CHECK_EQ(pwrite(fd, w, REGION, base), REGION);
		for (off_t off = 0; off < REGION; off += BLK)
			CHECK_EQ(pread(fd, r + off, BLK, base + off), BLK);
		CHECK(!memcmp(w, r, REGION));
	}
}

/* The region once more through POSIX AIO: a write, then a read back, each waited for. */
static void aio_round(unsigned int who, unsigned char *w, unsigned char *r)
{
	struct aiocb cb = { .aio_fildes = fd, .aio_buf = w, .aio_nbytes = REGION,
			    .aio_offset = (off_t)who * REGION };
	const struct aiocb *list[1] = { &cb };

	fill(w, REGION, who * 7 + 3);
	CHECK_EQ(aio_write(&cb), 0);
	while (aio_error(&cb) == EINPROGRESS)
		CHECK_EQ(aio_suspend(list, 1, NULL), 0);
	CHECK_EQ(aio_return(&cb), REGION);
	cb.aio_buf = r;
	CHECK_EQ(aio_read(&cb), 0);
	while (aio_error(&cb) == EINPROGRESS)
		CHECK_EQ(aio_suspend(list, 1, NULL), 0);
	CHECK_EQ(aio_return(&cb), REGION);
	CHECK(!memcmp(w, r, REGION));
}

static void io_rounds(unsigned int who, int rounds, bool aio)
{
	unsigned char *w, *r;

	CHECK(!posix_memalign((void **)&w, BLK, REGION));
	CHECK(!posix_memalign((void **)&r, BLK, REGION));
	io_rounds_in(who, rounds, w, r);
	if (aio)
		aio_round(who, w, r);
	free(w);
	free(r);
}

/*
 * Allocates nothing once running (main forks only after its first round, as
 * a new thread's start-up allocates): a child inherits no half-done buffers
 * to leak, and under ASan no allocator lock held by this thread. GCC 12's
 * libasan does not lock its allocator around fork(), so such a lock stays
 * locked in the child, whose engine threads then hang in their first malloc.
 */
static unsigned char *busy_buf[2];
static _Atomic bool busy_running;

static void *busy(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		io_rounds_in(0, 1, busy_buf[0], busy_buf[1]);
		atomic_store(&busy_running, true);
	}
	return NULL;
}

/* Only the forking thread came along: any engine thread here is ours. */
static void grandchild(unsigned int who)
{
	CHECK_EQ(count_threads("ioe-submit"), 0);
	io_rounds(who, 20, true);
	CHECK_EQ(count_threads("ioe-submit"), 1);
	exit(0);	/* exit(), not _exit(): the destructor writes the stats line */
}

/*
 * A raw clone() child's glibc still has the parent's thread id: it does no
 * POSIX AIO (glibc's would start a thread), only what is async-signal-safe.
 */
static void child(unsigned int who, enum maker by)
{
	bool engine = by == BY_FORK;
	pid_t gc;
	int st;

	CHECK_EQ(count_threads("ioe-submit"), 0);
	gc = fork();
	CHECK(gc >= 0);
	if (!gc)
		grandchild(who + CHILDREN);
	io_rounds(who, 20, by != BY_RAW_CLONE);
	CHECK_EQ(count_threads("ioe-submit"), engine ? 1 : 0);
	CHECK_EQ(waitpid(gc, &st, 0), gc);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	exit(0);
}

static pid_t make_child(enum maker by)
{
	switch (by) {
	case BY_FORK:
		return fork();
	case BY_UNDERSCORE_FORK:
		return _Fork();
	case BY_RAW_CLONE:
		return (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
	}
	return -1;
}

/*
 * Every child wrote one summary line: a fork() child's with routed reads,
 * from the expected backend; the others' with none, and no backend.
 */
static void check_stats(const char *path, pid_t *pids, int n)
{
	const char *want = getenv("IOENGINE_BACKEND");
	char line[1024];
	int found = 0;
	FILE *f = fopen(path, "r");

	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		int pid = 0;
		unsigned long long reads = 0;
		char backend[32] = "";
		const char *p = strstr(line, "pid="), *q = strstr(line, "routed_reads="),
			   *b = strstr(line, "backend=");

		CHECK(p && q && b);
		sscanf(p, "pid=%d", &pid);
		sscanf(q, "routed_reads=%llu", &reads);
		sscanf(b, "backend=%31s", backend);
		for (int i = 0; i < n; i++) {
			if (pids[i] != pid)
				continue;
			if (makers[i] != BY_FORK) {
				CHECK_EQ(reads, 0);
				CHECK(!strcmp(backend, "none"));
				CHECK(strstr(line, " fallbacks=0 ") == NULL);
				found++;
				continue;
			}
			CHECK(reads >= 20 * REGION / BLK);
			if (want && !strcmp(want, "aio"))
				CHECK(!strcmp(backend, "aio"));
			else
				CHECK(!strcmp(backend, "io_uring"));
			found++;
		}
	}
	fclose(f);
	CHECK_EQ(found, n);
}

int main(void)
{
	const char *stats = getenv("IOENGINE_STATS");
	struct libc_fns libc;
	char path[4096];
	pid_t pids[CHILDREN];
	pthread_t t;
	int st;

	libc_fns_load(&libc);
	require_shim(&libc);
	CHECK(stats && *stats && strcmp(stats, "1"));
	unlink(stats);
	snprintf(path, sizeof(path), "%s/shim-fork-XXXXXX", test_dir());
	fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	fd = open(path, O_RDWR | O_DIRECT);
	CHECK(fd >= 0);
	unlink(path);
	CHECK(!ftruncate(fd, (off_t)NPROC * REGION));

	io_rounds(0, 2, true);
	CHECK_EQ(count_threads("ioe-submit"), 1);
	CHECK(!posix_memalign((void **)&busy_buf[0], BLK, REGION));
	CHECK(!posix_memalign((void **)&busy_buf[1], BLK, REGION));
	CHECK(!pthread_create(&t, NULL, busy, NULL));
	while (!atomic_load(&busy_running))	/* past its start-up, which allocates */
		usleep(1000);
	for (int i = 0; i < CHILDREN; i++) {
		pids[i] = make_child(makers[i]);
		CHECK(pids[i] >= 0);
		if (!pids[i])
			child(1 + (unsigned int)i, makers[i]);
	}
	for (int i = 0; i < CHILDREN; i++) {
		CHECK_EQ(waitpid(pids[i], &st, 0), pids[i]);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	atomic_store(&stop, true);
	CHECK(!pthread_join(t, NULL));
	free(busy_buf[0]);
	free(busy_buf[1]);
	/* The parent's engine is untouched by all that. */
	io_rounds(0, 5, true);
	CHECK_EQ(count_threads("ioe-submit"), 1);
	check_stats(stats, pids, CHILDREN);
	printf("ok fork: parent and %d children (+%d grandchildren) routed their own IO; "
	       "a _Fork() and a clone() child used the real calls\n", CHILDREN, CHILDREN);
	return 0;
}
