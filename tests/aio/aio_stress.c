/* SPDX-License-Identifier: MIT */
/*
 * Many threads submit (aio_read, aio_write, aio_fsync, lio_listio), poll,
 * suspend and cancel at once; every request must end with a valid result and
 * its notification (signal or thread) must arrive exactly once.
 *
 * Usage: aio_stress DIR [THREADS ROUNDS]
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
#include <time.h>
#include <unistd.h>

#define BS	4096
#define BLOCKS	64		/* per thread */
#define BATCH	24
#define SIG_NOTE (SIGRTMIN + 2)

enum { N_NONE, N_SIGNAL, N_THREAD };

static int fd, nthreads = 8, rounds = 150;
static _Atomic int *notes;		/* per request id */
static int *expect;			/* notification kind per id */
static _Atomic int bad_code, errors;
static _Atomic long cancelled, total;

#define FAILF(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); atomic_fetch_add(&errors, 1); } while (0)

static void note_signal(int s, siginfo_t *si, void *u)
{
	(void)s;
	(void)u;
	if (si->si_code != SI_ASYNCIO)
		atomic_fetch_add(&bad_code, 1);
	atomic_fetch_add(&notes[si->si_value.sival_int], 1);
}

static void note_thread(union sigval v)
{
	atomic_fetch_add(&notes[v.sival_int], 1);
}

static char pattern(int t, int block, int i)
{
	return (char)(t * 31 + block * 7 + i);
}

static void fill(char *b, int t, int block)
{
	for (int i = 0; i < BS; i++)
		b[i] = pattern(t, block, i);
}

struct req {
	struct aiocb cb;
	int id;
	int kind;	/* 0 read, 1 write, 2 fsync */
	char *buf;
};

static void *worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	unsigned int seed = (unsigned int)t * 2654435761u;
	struct req r[BATCH];
	struct aiocb *lio[BATCH];
	int id_base = t * rounds * BATCH;

	for (int i = 0; i < BATCH; i++)
		r[i].buf = aligned_alloc(BS, BS);
	for (int round = 0; round < rounds; round++) {
		int use_lio = rand_r(&seed) % 4 == 0, nlio = 0;

		for (int i = 0; i < BATCH; i++) {
			struct req *q = &r[i];
			int block = rand_r(&seed) % BLOCKS, n = rand_r(&seed) % 3;

			q->id = id_base + round * BATCH + i;
			q->kind = i == BATCH - 1 && !use_lio ? 2 : rand_r(&seed) % 2;
			memset(&q->cb, 0, sizeof(q->cb));
			q->cb.aio_fildes = fd;
			q->cb.aio_buf = q->buf;
			q->cb.aio_nbytes = BS;
			q->cb.aio_offset = (off_t)(t * BLOCKS + block) * BS;
			if (q->kind == 1)
				fill(q->buf, t, block);
			expect[q->id] = n;
			q->cb.aio_sigevent.sigev_notify = n == N_NONE ? SIGEV_NONE :
							  n == N_SIGNAL ? SIGEV_SIGNAL : SIGEV_THREAD;
			q->cb.aio_sigevent.sigev_signo = SIG_NOTE;
			q->cb.aio_sigevent.sigev_notify_function = note_thread;
			q->cb.aio_sigevent.sigev_value.sival_int = q->id;
			if (use_lio) {
				q->cb.aio_lio_opcode = q->kind ? LIO_WRITE : LIO_READ;
				lio[nlio++] = &q->cb;
				continue;
			}
			for (;;) {
				int ret = q->kind == 2 ? aio_fsync(O_DSYNC, &q->cb) :
					  q->kind ? aio_write(&q->cb) : aio_read(&q->cb);

				if (!ret)
					break;
				if (errno != EAGAIN) {
					FAILF("submit: %s", strerror(errno));
					expect[q->id] = -1;
					break;
				}
				sched_yield();
			}
		}
		if (use_lio && lio_listio(LIO_NOWAIT, lio, nlio, NULL))
			FAILF("lio_listio: %s", strerror(errno));
		/* Cancel some: one by one, or the whole fd (other threads' too). */
		if (rand_r(&seed) % 5 == 0)
			aio_cancel(fd, &r[rand_r(&seed) % BATCH].cb);
		if (rand_r(&seed) % 17 == 0)
			aio_cancel(fd, NULL);
		/* Collect: poll, then suspend on what is left. */
		for (int left = BATCH; left;) {
			const struct aiocb *l[BATCH];
			struct timespec ts = { 0, 2000000 };

			left = 0;
			for (int i = 0; i < BATCH; i++) {
				int e = r[i].id >= 0 ? aio_error(&r[i].cb) : 0;

				l[i] = NULL;
				if (r[i].id < 0)
					continue;
				if (e == EINPROGRESS) {
					l[i] = &r[i].cb;
					left++;
					continue;
				}
				ssize_t ret = aio_return(&r[i].cb);

				atomic_fetch_add(&total, 1);
				if (e == ECANCELED) {
					atomic_fetch_add(&cancelled, 1);
					if (ret != -1)
						FAILF("cancelled request returned %zd", ret);
				} else if (e) {
					FAILF("request error %s", strerror(e));
				} else if (r[i].kind != 2 && ret != BS) {
					FAILF("short IO %zd", ret);
				} else if (r[i].kind == 0) {
					int block = (int)(r[i].cb.aio_offset / BS) - t * BLOCKS;

					for (int k = 0; k < BS; k++)
						if (r[i].buf[k] != pattern(t, block, k)) {
							FAILF("bad data t%d block %d", t, block);
							break;
						}
				}
				r[i].id = -1;
			}
			if (left && aio_suspend(l, BATCH, &ts) && errno != EAGAIN && errno != EINTR)
				FAILF("aio_suspend: %s", strerror(errno));
		}
	}
	for (int i = 0; i < BATCH; i++)
		free(r[i].buf);
	return NULL;
}

int main(int argc, char **argv)
{
	char path[4096], *b = aligned_alloc(BS, BS);
	struct sigaction sa;
	pthread_t th[64];
	int n, dup = 0, missing = 0, spurious = 0, miss_kind[3] = { 0 };

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [THREADS ROUNDS]\n", argv[0]);
		return 2;
	}
	if (argc > 3) {
		nthreads = atoi(argv[2]);
		rounds = atoi(argv[3]);
	}
	if (nthreads < 1 || nthreads > 64 || rounds < 1)
		return 2;
	snprintf(path, sizeof(path), "%s/aio-stress-%d", argv[1], (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return perror("open"), 1;
	unlink(path);
	for (int t = 0; t < nthreads; t++)
		for (int k = 0; k < BLOCKS; k++) {
			fill(b, t, k);
			if (pwrite(fd, b, BS, (off_t)(t * BLOCKS + k) * BS) != BS)
				return perror("pwrite"), 1;
		}
	free(b);
	n = nthreads * rounds * BATCH;
	notes = calloc((size_t)n, sizeof(*notes));
	expect = calloc((size_t)n, sizeof(*expect));
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = note_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIG_NOTE, &sa, NULL);
	for (int t = 0; t < nthreads; t++)
		pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
	for (int t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	/*
	 * Notifications may trail the results by a little: wait for them (30 s
	 * at most: a bound for a loaded machine, not a measure), then a bit more.
	 */
	for (int w = 0; w < 3000; w++) {
		missing = 0;
		for (int i = 0; i < n; i++)
			missing += expect[i] > 0 && !atomic_load(&notes[i]);
		if (!missing)
			break;
		usleep(10000);
	}
	usleep(50000);
	for (int i = 0; i < n; i++)
		if (expect[i] > 0 && !atomic_load(&notes[i]))
			miss_kind[expect[i]]++;
	for (int i = 0; i < n; i++) {
		int c = atomic_load(&notes[i]);

		if (expect[i] > 0 && c > 1)
			dup++;
		if (expect[i] <= 0 && c)
			spurious++;
	}
	printf("requests %ld cancelled %ld errors %d missing %d (signal %d, thread %d) duplicate %d "
	       "spurious %d bad_si_code %d\n",
	       atomic_load(&total), atomic_load(&cancelled), atomic_load(&errors), missing,
	       miss_kind[N_SIGNAL], miss_kind[N_THREAD], dup, spurious, atomic_load(&bad_code));
	if (atomic_load(&errors) || missing || dup || spurious || atomic_load(&bad_code) ||
	    atomic_load(&total) != n)
		return 1;
	printf("ok\n");
	return 0;
}
