/* SPDX-License-Identifier: MIT */
/*
 * Adjacent POSIX AIO requests that wait together, which the engine merges
 * under the shim (engine/src/scheduler/merge_take.h): the transcript (each
 * request's aio_error() and aio_return(), the data's checksums) must be
 * glibc's (run_merge_diff.sh compares, and checks the shim's counts of
 * merged requests). Each scenario first starts a request that stays in
 * progress (a read into pages a userfaultfd keeps missing): at
 * IOENGINE_DEPTH=1 what comes after it waits until it is let go, all
 * together. "random" mode: reads of blocks none of which is next to
 * another, which nothing may merge; "chardev": adjacent reads of
 * /dev/zero, a character device, which nothing may merge either.
 *
 * Usage: aio_merge_diff DIR seq|random|chardev
 */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "aio_util.h"
#include "fault_hold.h"

#define BS 4096
#define RUN 32
#define SIG_LIST (SIGRTMIN + 2)

static const char *dir;
static int nfile;

static uint32_t sum(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static void *abuf(size_t len)
{
	void *p;

	if (posix_memalign(&p, BS, len))
		DIE("posix_memalign");
	memset(p, 0xee, len);
	return p;
}

/* A new file of `size` bytes of a pattern, opened with flags (O_DIRECT or 0), unlinked. */
static int new_file(int flags, size_t size)
{
	char path[4096];
	char *b = abuf(size + BS);
	int fd, wfd;

	snprintf(path, sizeof(path), "%s/aio-merge-%d-%d", dir, (int)getpid(), nfile++);
	wfd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	fd = open(path, O_RDWR | flags);
	if (wfd < 0 || fd < 0)
		DIE("open %s: %s", path, strerror(errno));
	unlink(path);
	for (size_t i = 0; i < size; i++)
		b[i] = (char)(i * 7 + i / 4093 + 3);
	if (size && pwrite(wfd, b, size, 0) != (ssize_t)size)
		DIE("fill");
	close(wfd);
	free(b);
	return fd;
}

/* --- a request in progress until block_release() (see the top) --- */
#define BLOCK_LEN (1u << 20)
static struct fault_hold block;
static int zero;
static struct aiocb block_cb;

static void block_init(void)
{
	zero = open("/dev/zero", O_RDONLY);
	if (zero < 0 || !fault_hold_init(&block, BLOCK_LEN))
		DIE("userfaultfd set-up: %s", strerror(errno));
}

static void wait_all(struct aiocb **l, int n)
{
	for (int i = 0; i < n; i++)
		while (aio_error(l[i]) == EINPROGRESS)
			if (aio_suspend((const struct aiocb *const *)&l[i], 1, NULL) && errno != EINTR)
				DIE("aio_suspend: %s", strerror(errno));
}

static void block_start(void)
{
	if (fault_hold_aio_read(&block, &block_cb, zero, BLOCK_LEN))
		DIE("blocked aio_read: %s", strerror(errno));
}

static void block_release(void)
{
	struct aiocb *l[1] = { &block_cb };

	fault_hold_release(&block);
	wait_all(l, 1);
	if (aio_return(&block_cb) != BLOCK_LEN)
		DIE("blocked read");
}

static void print_results(const char *what, struct aiocb *cb, int n, const char *buf)
{
	for (int i = 0; i < n; i++) {
		ssize_t r = aio_return(&cb[i]);

		OUT("%s %d: error %d return %zd sum %08x", what, i, aio_error(&cb[i]), r,
		    buf && r > 0 ? sum(buf + (size_t)i * BS, (size_t)r) : 0);
	}
}

/* n reads of BS at offs[] into buf, queued behind the blocked request; their results. */
static void reads(const char *what, int fd, char *buf, const off_t *offs, int n)
{
	static struct aiocb cb[RUN];
	struct aiocb *l[RUN];

	block_start();
	for (int i = 0; i < n; i++) {
		prep(&cb[i], fd, buf + (size_t)i * BS, BS, offs[i]);
		l[i] = &cb[i];
		if (aio_read(&cb[i]))
			DIE("aio_read: %s", strerror(errno));
	}
	block_release();
	wait_all(l, n);
	print_results(what, cb, n, buf);
}

static void seq_reads(const char *what, int flags)
{
	/* 20 blocks and 100 bytes: 20 full, one of 100, the rest 0. */
	int fd = new_file(flags, 20 * BS + 100);
	char *buf = abuf(RUN * BS);
	off_t offs[RUN];

	for (int i = 0; i < RUN; i++)
		offs[i] = (off_t)i * BS;
	reads(what, fd, buf, offs, RUN);
	free(buf);
	close(fd);
}

/* Adjacent writes (one sync between them with `sync_at`), then the file read back. */
static void seq_writes(const char *what, int flags, int sync_at)
{
	int fd = new_file(flags, 0);
	char *buf = abuf(RUN * BS), *back = abuf(RUN * BS);
	static struct aiocb cb[RUN + 1];
	struct aiocb *l[RUN + 1];
	int n = 0;

	for (size_t i = 0; i < RUN * BS; i++)
		buf[i] = (char)(i * 13 + i / 4091);
	block_start();
	for (int i = 0; i < RUN; i++, n++) {
		if (i == sync_at) {
			prep(&cb[n], fd, NULL, 0, 0);
			l[n] = &cb[n];
			if (aio_fsync(O_SYNC, &cb[n++]))
				DIE("aio_fsync: %s", strerror(errno));
		}
		prep(&cb[n], fd, buf + (size_t)i * BS, BS, (off_t)i * BS);
		l[n] = &cb[n];
		if (aio_write(&cb[n]))
			DIE("aio_write: %s", strerror(errno));
	}
	block_release();
	wait_all(l, n);
	print_results(what, cb, n, NULL);
	OUT("%s: file %zd bytes, sum %08x", what, pread(fd, back, RUN * BS, 0), sum(back, RUN * BS));
	free(buf);
	free(back);
	close(fd);
}

/* One member's buffer unmapped: EFAULT for it alone, as separate reads give. */
static void unmapped_member(void)
{
	int fd = new_file(0, RUN * BS);
	char *buf = mmap(NULL, 8 * BS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static struct aiocb cb[8];
	struct aiocb *l[8];

	if (buf == MAP_FAILED || munmap(buf + 3 * BS, BS))
		DIE("mmap: %s", strerror(errno));
	block_start();
	for (int i = 0; i < 8; i++) {
		prep(&cb[i], fd, buf + (size_t)i * BS, BS, (off_t)i * BS);
		l[i] = &cb[i];
		if (aio_read(&cb[i]))
			DIE("aio_read: %s", strerror(errno));
	}
	block_release();
	wait_all(l, 8);
	for (int i = 0; i < 8; i++) {
		ssize_t r = aio_return(&cb[i]);

		OUT("unmapped %d: error %d return %zd sum %08x", i, aio_error(&cb[i]), r,
		    i != 3 && r > 0 ? sum(buf + (size_t)i * BS, (size_t)r) : 0);
	}
	close(fd);
}

/* lio_listio(LIO_NOWAIT) of adjacent reads: one list signal once all are done; a subset suspended on. */
static void listio(void)
{
	int fd = new_file(0, RUN * BS);
	char *buf = abuf(RUN * BS);
	static struct aiocb cb[RUN];
	struct aiocb *l[RUN];
	const struct aiocb *subset[2];
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIG_LIST };
	struct timespec none = { 0, 0 };
	siginfo_t si;
	sigset_t set;
	int got = 0;

	sigemptyset(&set);
	sigaddset(&set, SIG_LIST);
	sev.sigev_value.sival_int = 4242;
	for (int i = 0; i < RUN; i++) {
		prep(&cb[i], fd, buf + (size_t)i * BS, BS, (off_t)i * BS);
		cb[i].aio_lio_opcode = LIO_READ;
		l[i] = &cb[i];
	}
	block_start();
	if (lio_listio(LIO_NOWAIT, l, RUN, &sev))
		DIE("lio_listio: %s", strerror(errno));
	block_release();
	subset[0] = &cb[5];
	subset[1] = &cb[17];
	while (aio_error(subset[0]) == EINPROGRESS || aio_error(subset[1]) == EINPROGRESS)
		if (aio_suspend(subset, 2, NULL) && errno != EINTR)
			DIE("aio_suspend: %s", strerror(errno));
	OUT("subset: %zd %zd", aio_return(&cb[5]), aio_return(&cb[17]));
	wait_all(l, RUN);
	if (sigwaitinfo(&set, &si) == SIG_LIST && si.si_value.sival_int == 4242)
		got++;
	while (sigtimedwait(&set, &si, &none) == SIG_LIST)
		got++;
	OUT("list signals: %d", got);
	for (int i = 0; i < RUN; i++)
		if (i != 5 && i != 17)
			OUT("list %d: error %d return %zd sum %08x", i, aio_error(&cb[i]), aio_return(&cb[i]),
			    sum(buf + (size_t)i * BS, BS));
	free(buf);
	close(fd);
}

/* aio_cancel() of a member while they wait: glibc may cancel it, the shim may not: either, consistently. */
static void cancel_member(void)
{
	int fd = new_file(0, RUN * BS);
	char *buf = abuf(8 * BS);
	static struct aiocb cb[8];
	struct aiocb *l[8];
	int ans;
	ssize_t r;

	block_start();
	for (int i = 0; i < 8; i++) {
		prep(&cb[i], fd, buf + (size_t)i * BS, BS, (off_t)i * BS);
		l[i] = &cb[i];
		if (aio_read(&cb[i]))
			DIE("aio_read: %s", strerror(errno));
	}
	block_release();
	ans = aio_cancel(fd, &cb[6]);
	wait_all(l, 8);
	r = aio_return(&cb[6]);
	if ((ans == AIO_CANCELED && r == -1) || ((ans == AIO_NOTCANCELED || ans == AIO_ALLDONE) && r == BS))
		OUT("cancel: consistent");
	else
		OUT("cancel: answer %d but return %zd (error %d)", ans, r, aio_error(&cb[6]));
	for (int i = 0; i < 8; i++)
		if (i != 6)
			OUT("cancel %d: error %d return %zd sum %08x", i, aio_error(&cb[i]), aio_return(&cb[i]),
			    sum(buf + (size_t)i * BS, BS));
	free(buf);
	close(fd);
}

/* Blocks none of which is next to another, in a shuffled order. */
static void random_reads(void)
{
	int fd = new_file(O_DIRECT, 2 * RUN * BS);
	char *buf = abuf(RUN * BS);
	off_t offs[RUN];

	for (int i = 0; i < RUN; i++)
		offs[i] = (off_t)((i * 13) % RUN) * 2 * BS;
	reads("random", fd, buf, offs, RUN);
	free(buf);
	close(fd);
}

/* Adjacent reads of /dev/zero: a character device, which nothing may merge. */
static void chardev_reads(void)
{
	int fd = open("/dev/zero", O_RDONLY);
	char *buf = abuf(RUN * BS);
	off_t offs[RUN];

	if (fd < 0)
		DIE("/dev/zero: %s", strerror(errno));
	for (int i = 0; i < RUN; i++)
		offs[i] = (off_t)i * BS;
	reads("read /dev/zero", fd, buf, offs, RUN);
	free(buf);
	close(fd);
}

int main(int argc, char **argv)
{
	sigset_t set;

	if (argc != 3)
		DIE("usage: aio_merge_diff DIR seq|random|chardev");
	dir = argv[1];
	sigemptyset(&set);
	sigaddset(&set, SIG_LIST);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	block_init();
	if (!strcmp(argv[2], "random")) {
		random_reads();
		return 0;
	}
	if (!strcmp(argv[2], "chardev")) {
		chardev_reads();
		return 0;
	}
	seq_reads("read", 0);
	seq_reads("read direct", O_DIRECT);
	seq_writes("write", 0, -1);
	seq_writes("write direct", O_DIRECT, -1);
	seq_writes("write fsync", O_DIRECT, RUN / 2);
	unmapped_member();
	listio();
	cancel_member();
	return 0;
}
