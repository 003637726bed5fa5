/* SPDX-License-Identifier: MIT */
/*
 * pthread_cancel() of threads blocked in routed calls. The request lives on
 * the cancelled thread's stack, so the engine must be done with it before
 * the thread can unwind: each cancelled thread's stack is then reused (glibc
 * caches thread stacks) by a thread that watches a pattern on it for stray
 * writes. pread must stay a cancellation point. Run with IOENGINE_DEPTH=1
 * and two threads hogging the engine with large reads, so that a cancelled
 * thread's request waits in the queue long after a broken shim would have
 * let the thread go.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <time.h>
#include "shim_test.h"

#define BLK		4096
#define NBLK		2048		/* 8 MiB file */
#define RBLK		128		/* 512 KiB reads: in flight for a while */
#define ROUNDS		40
#define WATCH		(1024 * 1024)

static int fd;
static _Atomic unsigned long reads;
static _Atomic bool stop;
static sem_t first_read;		/* posted once per reader, after its first read */

static void *hog(void *arg)
{
	unsigned char *buf;

	(void)arg;
	CHECK(!posix_memalign((void **)&buf, BLK, 4 * RBLK * BLK));
	while (!atomic_load(&stop))
		CHECK_EQ(pread(fd, buf, 4 * RBLK * BLK, 0), 4 * RBLK * BLK);
	free(buf);
	return NULL;
}

static void *reader(void *arg)
{
	/* On the stack on purpose: the buffers the engine writes into. */
	unsigned char buf[RBLK * BLK] __attribute__((aligned(BLK)));
	unsigned int seed = (unsigned int)(uintptr_t)arg;
	bool posted = false;

	for (;;) {
		off_t off = (off_t)(rand_r(&seed) % (NBLK - RBLK)) * BLK;

		CHECK_EQ(pread(fd, buf, sizeof(buf), off), sizeof(buf));
		CHECK_EQ(buf[0], (unsigned char)(off / BLK));
		CHECK_EQ(buf[sizeof(buf) - 1], (unsigned char)(off / BLK + RBLK - 1));
		atomic_fetch_add(&reads, 1);
		if (!posted) {
			posted = true;
			CHECK(!sem_post(&first_read));
		}
	}
	return NULL;
}

/* Reuses the stack of the thread just joined; any write into it shows. */
static void *watcher(void *arg)
{
	volatile unsigned char area[WATCH];
	struct timespec ts = { 0, 20000000 };

	(void)arg;
	for (size_t i = 0; i < WATCH; i++)
		area[i] = (unsigned char)(i * 5 + 1);
	nanosleep(&ts, NULL);
	for (size_t i = 0; i < WATCH; i++)
		if (area[i] != (unsigned char)(i * 5 + 1))
			return (void *)1;
	return NULL;
}

int main(void)
{
	struct libc_fns libc;
	unsigned char *blk;
	char path[4096];
	unsigned int seed = 1;

	libc_fns_load(&libc);
	require_shim(&libc);
	snprintf(path, sizeof(path), "%s/shim-cancel-XXXXXX", test_dir());
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(!posix_memalign((void **)&blk, BLK, BLK));
	for (int i = 0; i < NBLK; i++) {
		memset(blk, i, BLK);
		CHECK_EQ(libc.pwrite(fd, blk, BLK, (off_t)i * BLK), BLK);
	}
	free(blk);
	close(fd);
	/* O_DIRECT: every read is routed and slow enough to be caught waiting. */
	fd = open(path, O_RDONLY | O_DIRECT);
	CHECK(fd >= 0);
	unlink(path);

	pthread_t hogs[2];

	CHECK(!sem_init(&first_read, 0, 0));
	for (int i = 0; i < 2; i++)
		CHECK(!pthread_create(&hogs[i], NULL, hog, NULL));
	/* One reader at a time: its stack is the next thread's (the watcher's). */
	for (int r = 0; r < ROUNDS; r++) {
		pthread_t t, w;
		void *res;
		struct timespec ts = { 0, 200000 + (long)(rand_r(&seed) % 3000) * 1000 };

		CHECK(!pthread_create(&t, NULL, reader, (void *)(uintptr_t)(r + 1)));
		/* Cancelled only after one checked read, in whatever comes next. */
		while (sem_wait(&first_read))
			CHECK(errno == EINTR);
		nanosleep(&ts, NULL);
		CHECK(!pthread_cancel(t));
		CHECK(!pthread_join(t, &res));
		CHECK(res == PTHREAD_CANCELED);
		CHECK(!pthread_create(&w, NULL, watcher, NULL));
		CHECK(!pthread_join(w, &res));
		CHECK(res == NULL);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		CHECK(!pthread_join(hogs[i], NULL));
	CHECK(atomic_load(&reads) >= ROUNDS);
	/* One engine at most (synchronous reads start none of its threads). */
	CHECK(count_threads("ioe-submit") <= 1);
	printf("ok cancel: %d rounds, %lu reads, cancelled threads never written to after unwinding\n",
	       ROUNDS, (unsigned long)atomic_load(&reads));
	return 0;
}
