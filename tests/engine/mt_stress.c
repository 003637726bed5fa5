/* SPDX-License-Identifier: MIT */
/*
 * Several threads submitting together to one context: each owns a region of
 * 512-byte blocks and, pass after pass, writes all of them with a new
 * pattern, then reads all of them back. Every event is called back exactly
 * once (a second callback fails on the spot), every byte is checked.
 * While reading, each thread cancels one of its last few reads now and
 * then (ioe_cancel(), racing the engine): a read's result is -ECANCELED
 * exactly when its cancel said IOE_CANCEL_DONE, and such a block is read
 * again with pread().
 * 4 threads x 9375 blocks x 2 x 4 passes = 300k events; IOENGINE_TEST_SCALE
 * divides the block count.
 */
#include <pthread.h>
#include "util.h"

#define THREADS 4
#define PASSES 4
#define BS 512

static struct ioe_context *ctx;
static int fd;
static long nblocks;
static atomic_long total_events, cancelled;

/* A read cancelled now and then: one of the last 8 submitted, its answer kept. */
static void maybe_cancel(struct tev *t, int *answer, long i, unsigned int *seed)
{
	long k;

	if (rand_r(seed) % 8)
		return;
	k = i - rand_r(seed) % 8;
	if (k < 0 || answer[k] >= 0)
		return;
	answer[k] = ioe_cancel(ctx, &t[k].ev);
	CHECK(answer[k] >= IOE_CANCEL_DONE && answer[k] <= IOE_CANCEL_ALLDONE);
}

/* The cancels' answers agree with the results; a cancelled block is read again. */
static void check_reads(struct tev *t, const int *answer, unsigned char *buf, int64_t base)
{
	for (long i = 0; i < nblocks; i++) {
		CHECK_EQ(atomic_load(&t[i].calls), 1);
		CHECK_EQ(answer[i] == IOE_CANCEL_DONE, t[i].ev.res == -ECANCELED);
		if (answer[i] != IOE_CANCEL_DONE) {
			CHECK_EQ(t[i].ev.res, BS);
			continue;
		}
		atomic_fetch_add(&cancelled, 1);
		CHECK_EQ(pread(fd, buf + i * BS, BS, base + i * BS), BS);
	}
}

static void *worker(void *arg)
{
	long id = (long)arg;
	struct tev *t = calloc((size_t)nblocks, sizeof(*t));
	int *answer = malloc((size_t)nblocks * sizeof(*answer));
	unsigned char *buf = malloc((size_t)nblocks * BS);
	int64_t base = id * nblocks * BS;
	unsigned int seed = (unsigned int)id + 1;
	struct waitgroup wg;

	CHECK(t && answer && buf);
	wg_init(&wg, 0);
	for (uint32_t pass = 0; pass < PASSES; pass++) {
		uint32_t salt = pass * THREADS + (uint32_t)id;

		fill(buf, (size_t)nblocks * BS, (uint64_t)base, salt);
		for (int phase = 0; phase < 2; phase++) {
			wg_add(&wg, nblocks);
			for (long i = 0; i < nblocks; i++)
				answer[i] = -1;
			for (long i = 0; i < nblocks; i++) {
				void *p = buf + i * BS;

				tev_init(&t[i], &wg);
				if (phase == 0)
					ioe_prep_write(&t[i].ev, fd, p, BS, base + i * BS);
				else
					ioe_prep_read(&t[i].ev, fd, p, BS, base + i * BS);
				/* Some go on the priority channel, to mix the queues. */
				CHECK_EQ(ioe_submit(ctx, &t[i].ev, i % 16 == 0 ? IOE_CHAN_PRIO : chan_of(&t[i].ev)), 0);
				if (phase == 1)
					maybe_cancel(t, answer, i, &seed);
			}
			wg_wait(&wg);
			if (phase == 1) {
				check_reads(t, answer, buf, base);
			} else {
				for (long i = 0; i < nblocks; i++) {
					CHECK_EQ(atomic_load(&t[i].calls), 1);
					CHECK_EQ(t[i].ev.res, BS);
				}
			}
			atomic_fetch_add(&total_events, nblocks);
			if (phase == 0)
				memset(buf, 0, (size_t)nblocks * BS);
		}
		verify(buf, (size_t)nblocks * BS, (uint64_t)base, salt);
	}
	wg_destroy(&wg);
	free(t);
	free(answer);
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	pthread_t th[THREADS];

	nblocks = scaled(9375, 200);
	fd = test_file(0);
	ctx = backend_context(b, 64, 2);
	for (long i = 0; i < THREADS; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);
	CHECK_EQ(ioe_pending(ctx), 0);
	CHECK_EQ(ioe_running(ctx), 0);
	ioe_context_free(ctx);
	CHECK_EQ(atomic_load(&total_events), (long)THREADS * PASSES * 2 * nblocks);
	fprintf(stderr, "%ld events, %ld reads cancelled\n", atomic_load(&total_events), atomic_load(&cancelled));
	close(fd);
	return 0;
}
