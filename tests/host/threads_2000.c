/* SPDX-License-Identifier: MIT */
/*
 * 2000 threads each call pread once (created in batches of 250, every one
 * joined): the sum of their results and how many saw the right bytes.
 */
#include <pthread.h>
#include "host_io.h"

#define THREADS 2000
#define BATCH 250

static int fd;
static long results[THREADS];
static int same[THREADS];

static void *reader(void *arg)
{
	long i = (long)arg;
	off_t off = (off_t)(i * 97 % (HOST_IO_SIZE - 512));
	char buf[512];
	ssize_t n = pread(fd, buf, sizeof(buf), off);

	results[i] = n < 0 ? -errno : n;
	same[i] = n == (ssize_t)sizeof(buf) && host_io_same(buf, sizeof(buf), off);
	return NULL;
}

int main(void)
{
	pthread_attr_t attr;
	pthread_t t[BATCH];
	long sum = 0, nsame = 0;

	fd = host_io_file("f");
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (long b = 0; b < THREADS; b += BATCH) {
		for (long i = 0; i < BATCH; i++)
			if ((errno = pthread_create(&t[i], &attr, reader, (void *)(b + i))))
				HOST_DIE("pthread_create %ld", b + i);
		for (long i = 0; i < BATCH; i++)
			if ((errno = pthread_join(t[i], NULL)))
				HOST_DIE("pthread_join");
	}
	for (int i = 0; i < THREADS; i++) {
		sum += results[i];
		nsame += same[i];
	}
	printf("threads: %d, sum of pread results %ld, data same %ld\n", THREADS, sum, nsame);
	host_io("main after", fd);
	return 0;
}
