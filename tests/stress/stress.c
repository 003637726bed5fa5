/* SPDX-License-Identifier: MIT */
/*
 * Stress: many threads mix pread/pwrite/preadv/pwritev and POSIX AIO
 * (aio_read/aio_write/aio_fsync one by one and through lio_listio, some
 * batches over adjacent ranges that the engine merges into one IO, waited
 * for with aio_suspend or by polling, cancelled with aio_cancel, notified by
 * SIGEV_NONE, SIGEV_SIGNAL and SIGEV_THREAD) over many files, while a timer
 * sends signals to the process, children are forked and do their own IO, and
 * threads are cancelled in the middle of their IO. Meant to run under the
 * preloaded shim with IOENGINE_FAULT on (run_stress.sh), or linked with the
 * shim for the sanitizer builds.
 *
 * The model: every worker owns disjoint regions of the files and keeps their
 * expected bytes; a write carries a pattern of (file, offset, generation), so
 * a byte that lands in the wrong place or is lost is seen. Every read is
 * checked against the model, and at the end the files are read back with
 * read(2) (never interposed) and compared whole. With --eio, EIO is an
 * accepted result (and a short count before it): the range of a failed
 * write becomes unknown until it is written again.
 *
 * Every request must complete exactly once: each AIO request has an id, its
 * notification counts against the id (a second one, or one before the
 * result is visible, is an error), and at the end every id must have been
 * notified exactly as often as it asked (0 or 1).
 */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REGION		(64 * 1024)
#define RPT		2		/* regions per worker per file */
#define BATCH		8		/* AIO requests in flight per worker */
#define MAXIOV		8
#define NOTE_IDS	(1u << 22)	/* notification counters, by request id (wraps) */
#define SIG_NOTE	(SIGRTMIN + 3)	/* SIGEV_SIGNAL notifications */
#define SIG_TIMER	SIGUSR1		/* the disturbing timer */
#define VICTIMS		2
#define NOTE_WAIT_S	20		/* a notification later than this is lost */

static struct {
	const char *dir;
	int duration, threads, nfiles;
	bool eio, fork, cancel, direct, glibc;
	uint64_t seed;
} opt = { .dir = "/var/tmp", .duration = 5, .threads = 6, .nfiles = 8, .fork = true, .cancel = true,
	  .direct = true, .seed = 1 };

#include "asan_cancel.h"

static int *fds;
static bool *is_direct;
static off_t file_size;
static _Atomic bool stop;
static _Atomic int failures;

/* Statistics. */
static _Atomic uint64_t n_sync_ops, n_aio_ops, n_seq_batches, n_lio, n_fsync, n_verified_bytes, n_eio, n_short,
	n_canceled, n_cancel_calls, n_timer_sigs, n_notes, n_eintr, n_forks, n_thread_cancels;

/* Notifications by request id: how many arrived, how many are expected. */
static _Atomic uint8_t note_got[NOTE_IDS];
static uint8_t note_want[NOTE_IDS];
static uint8_t note_mode[NOTE_IDS];	/* its sigev_notify, for the failure message */
static struct aiocb *_Atomic note_cb[NOTE_IDS];
static _Atomic uint32_t next_id = 1;
static _Atomic uint64_t n_bad_notes;

#define FAILF(...) do { \
	fprintf(stderr, "stress: " __VA_ARGS__); \
	fputc('\n', stderr); \
	atomic_fetch_add(&failures, 1); \
} while (0)

#define DIE(...) do { \
	fprintf(stderr, "stress: " __VA_ARGS__); \
	fprintf(stderr, " (%s)\n", strerror(errno)); \
	exit(1); \
} while (0)

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The byte a write of generation gen puts at (file, off). */
static inline uint8_t pat(int file, off_t off, uint32_t gen)
{
	return (uint8_t)(mix(((uint64_t)file << 56) ^ ((uint64_t)gen << 32) ^ (uint64_t)(off >> 3)) >>
			 ((off & 7) * 8));
}

static void fill(uint8_t *b, int file, off_t off, size_t n, uint32_t gen)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pat(file, off + (off_t)i, gen);
}

/* ---- the model of a set of regions ---- */

struct region {
	int file;
	off_t base;
	uint8_t *expect;	/* REGION bytes */
	uint8_t *known;		/* 1: expect[] is certain */
};

static void region_init(struct region *r, int file, off_t base)
{
	r->file = file;
	r->base = base;
	r->expect = malloc(REGION);
	r->known = malloc(REGION);
	if (!r->expect || !r->known)
		DIE("malloc");
	fill(r->expect, file, base, REGION, 0);
	memset(r->known, 1, REGION);
}

/* Check got bytes read at region offset ro against the model. */
static void check_data(struct region *r, size_t ro, const uint8_t *buf, size_t got, const char *what)
{
	for (size_t i = 0; i < got; i++) {
		if (r->known[ro + i] && buf[i] != r->expect[ro + i]) {
			FAILF("%s: file %d offset %lld: byte 0x%02x, expected 0x%02x (%zu of %zu)", what, r->file,
			      (long long)(r->base + (off_t)(ro + i)), buf[i], r->expect[ro + i], i, got);
			return;
		}
	}
	atomic_fetch_add_explicit(&n_verified_bytes, got, memory_order_relaxed);
}

/* A write of n bytes at ro moved `done` bytes (the rest may or may not have landed). */
static void model_write(struct region *r, size_t ro, const uint8_t *buf, size_t n, size_t done)
{
	memcpy(r->expect + ro, buf, done);
	memset(r->known + ro, 1, done);
	memset(r->known + ro + done, 0, n - done);
}

/*
 * Is a result acceptable? want: bytes asked. Returns the bytes to account
 * (verify or model), or -1 for "failed, nothing certain". Records errors.
 */
static ssize_t judge(ssize_t got, int err, size_t want, const char *what)
{
	if (got == (ssize_t)want)
		return got;
	if (got < 0) {
		if (opt.eio && err == EIO) {
			atomic_fetch_add_explicit(&n_eio, 1, memory_order_relaxed);
			return -1;
		}
		FAILF("%s of %zu: -1, errno %d (%s)", what, want, err, strerror(err));
		return -1;
	}
	if (opt.eio && got < (ssize_t)want) {
		/* Bytes moved before an EIO win, as in pread(2). */
		atomic_fetch_add_explicit(&n_short, 1, memory_order_relaxed);
		return got;
	}
	FAILF("%s of %zu: %zd (no EOF inside a region)", what, want, got);
	return -1;
}

/* ---- workers ---- */

struct worker {
	int id;
	pthread_t thread;
	uint64_t rng;
	uint32_t gen;
	int nregions;
	struct region *regions;
	uint8_t *buf[BATCH];		/* REGION each, 4096-aligned */
};

static size_t pick_range(struct worker *w, struct region *r, size_t *ro)
{
	size_t len;

	if (is_direct[r->file]) {
		size_t blocks = REGION / 4096;
		size_t b0 = rnd(&w->rng) % blocks, nb = 1 + rnd(&w->rng) % (blocks - b0);

		if (nb > 4 && rnd(&w->rng) % 2)
			nb = 1 + nb % 4;
		*ro = b0 * 4096;
		return nb * 4096;
	}
	*ro = rnd(&w->rng) % REGION;
	len = 1 + rnd(&w->rng) % (REGION - *ro);
	if (len > 4096 && rnd(&w->rng) % 2)
		len = 1 + len % 4096;	/* small ones are the common case */
	return len;
}

/* Split [buf, buf+len) into up to MAXIOV pieces (whole blocks for O_DIRECT). */
static int make_iov(struct worker *w, struct iovec *iov, uint8_t *buf, size_t len, bool direct)
{
	size_t unit = direct ? 4096 : 1, units = len / unit;
	int cnt = 1 + (int)(rnd(&w->rng) % MAXIOV), i;

	if ((size_t)cnt > units)
		cnt = (int)units;
	for (i = 0; i < cnt - 1; i++) {
		size_t l = unit * (1 + rnd(&w->rng) % (units - (size_t)(cnt - 1 - i)));

		if (l / unit > units - (size_t)(cnt - 1 - i))
			l = unit;
		iov[i].iov_base = buf;
		iov[i].iov_len = l;
		buf += l;
		len -= l;
		units -= l / unit;
	}
	iov[i].iov_base = buf;
	iov[i].iov_len = len;
	return cnt;
}

static void sync_op(struct worker *w)
{
	struct region *r = &w->regions[rnd(&w->rng) % (uint64_t)w->nregions];
	int kind = (int)(rnd(&w->rng) % 4), fd = fds[r->file], cnt;
	size_t ro, len = pick_range(w, r, &ro);
	off_t off = r->base + (off_t)ro;
	uint8_t *buf = w->buf[0];
	struct iovec iov[MAXIOV];
	static const char *const names[] = { "pread", "pwrite", "preadv", "pwritev" };
	ssize_t got, n;
	int err;

	if (kind & 1)
		fill(buf, r->file, off, len, ++w->gen);
	errno = 0;
	switch (kind) {
	case 0:
		got = pread(fd, buf, len, off);
		break;
	case 1:
		got = pwrite(fd, buf, len, off);
		break;
	case 2:
		cnt = make_iov(w, iov, buf, len, is_direct[r->file]);
		got = preadv(fd, iov, cnt, off);
		break;
	default:
		cnt = make_iov(w, iov, buf, len, is_direct[r->file]);
		got = pwritev(fd, iov, cnt, off);
		break;
	}
	err = errno;
	if (got >= 0 && err)
		FAILF("%s: success but errno set to %d", names[kind], err);
	atomic_fetch_add_explicit(&n_sync_ops, 1, memory_order_relaxed);
	n = judge(got, err, len, names[kind]);
	if (kind & 1)
		model_write(r, ro, buf, len, n < 0 ? 0 : (size_t)n);
	else if (n > 0)
		check_data(r, ro, buf, (size_t)n, names[kind]);
}

/* ---- AIO ---- */

static void note_signal(int sig, siginfo_t *si, void *uc)
{
	uint32_t id = (uint32_t)si->si_value.sival_int;
	struct aiocb *cb;

	(void)sig;
	(void)uc;
	if (si->si_code != SI_ASYNCIO || id >= NOTE_IDS) {
		atomic_fetch_add(&n_bad_notes, 1);
		return;
	}
	cb = atomic_load(&note_cb[id]);
	/*
	 * aio_error is async-signal-safe (POSIX); the result must be visible
	 * before the notification. glibc's takes a mutex, which deadlocks when
	 * this handler interrupted a thread holding it: not checked there.
	 */
	if (cb && !opt.glibc && aio_error(cb) == EINPROGRESS)
		atomic_fetch_add(&n_bad_notes, 1);
	atomic_fetch_add(&note_got[id], 1);
	atomic_fetch_add_explicit(&n_notes, 1, memory_order_relaxed);
}

static void note_thread(union sigval v)
{
	uint32_t id = (uint32_t)v.sival_int;
	struct aiocb *cb = atomic_load(&note_cb[id]);

	if (cb && aio_error(cb) == EINPROGRESS)
		atomic_fetch_add(&n_bad_notes, 1);
	atomic_fetch_add(&note_got[id], 1);
	atomic_fetch_add_explicit(&n_notes, 1, memory_order_relaxed);
}

/* A fresh request id, its notification mode set in sev (cb: checked at notification, or NULL). */
static uint32_t new_note(struct worker *w, struct sigevent *sev, struct aiocb *cb)
{
	uint32_t id = atomic_fetch_add(&next_id, 1) % NOTE_IDS;
	int mode = (int)(rnd(&w->rng) % 3);

#if defined(__SANITIZE_THREAD__)
	/*
	 * No SIGEV_SIGNAL under TSan: its runtime takes every signal itself and
	 * runs the program's handler later, from one pending slot per signal
	 * number, so queued instances of a real-time signal merge and their
	 * values are lost (10 sigqueue()s of one blocked RT signal: the handler
	 * runs once with GCC 12's libtsan, 10 times without it). Each request
	 * waits for its own notification, so runs fail with "never arrived".
	 */
	if (mode == 1)
		mode = 2;
#endif

	/* The previous owner of this id was checked already (note_wait): start clean. */
	atomic_store(&note_got[id], 0);
	atomic_store(&note_cb[id], cb);
	memset(sev, 0, sizeof(*sev));
	sev->sigev_value.sival_int = (int)id;
	note_mode[id] = (uint8_t)mode;
	if (mode == 0) {
		sev->sigev_notify = SIGEV_NONE;
		note_want[id] = 0;
	} else if (mode == 1) {
		sev->sigev_notify = SIGEV_SIGNAL;
		sev->sigev_signo = SIG_NOTE;
		note_want[id] = 1;
	} else {
		sev->sigev_notify = SIGEV_THREAD;
		sev->sigev_notify_function = note_thread;
		note_want[id] = 1;
	}
	return id;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * After completion: the notification arrives, once (a late duplicate is
 * caught at the end). The wait counts only time in which this thread ran:
 * the virtual machine may stall for a minute (the kernel then logs a
 * workqueue lockup), after which the clock is past any deadline while the
 * notifying thread has not run yet.
 */
#define STALL_NS 1000000000

static void note_wait(uint32_t id, const char *what)
{
	int64_t waited = 0, last = mono_ns();

	while (atomic_load(&note_got[id]) < note_want[id]) {
		int64_t now = mono_ns();

		if (now - last < STALL_NS)
			waited += now - last;
		last = now;
		if (waited > (int64_t)NOTE_WAIT_S * 1000000000) {
			FAILF("%s: %s notification for request %u never arrived", what,
			      note_mode[id] == 1 ? "SIGEV_SIGNAL" : "SIGEV_THREAD", id);
			break;
		}
		usleep(50);
	}
	if (atomic_load(&note_got[id]) > note_want[id])
		FAILF("%s: request %u notified %d times", what, id, atomic_load(&note_got[id]));
	atomic_store(&note_cb[id], NULL);
}

struct req {
	struct aiocb cb;
	struct region *r;
	size_t ro;
	uint32_t id;
	int op;			/* 0 read, 1 write, 2 fsync */
	bool submitted;
};

static void wait_all(struct worker *w, struct req *q, int n)
{
	const struct aiocb *list[BATCH + 1];
	bool poll = rnd(&w->rng) % 4 == 0;

	for (;;) {
		int left = 0, rc;

		for (int i = 0; i < n; i++) {
			list[i] = NULL;
			if (q[i].submitted && aio_error(&q[i].cb) == EINPROGRESS)
				list[left++] = &q[i].cb;
		}
		if (!left)
			return;
		if (poll) {
			sched_yield();
			continue;
		}
		/* Room for a NULL entry, which aio_suspend must skip. */
		list[left] = NULL;
		if (rnd(&w->rng) % 2) {
			struct timespec ts = { 0, (long)(rnd(&w->rng) % 2000000) };

			rc = aio_suspend(list, left + 1, &ts);
		} else {
			rc = aio_suspend(list, left + 1, NULL);
		}
		if (rc && errno == EINTR)
			atomic_fetch_add_explicit(&n_eintr, 1, memory_order_relaxed);
		else if (rc && errno != EAGAIN)
			FAILF("aio_suspend: errno %d", errno);
	}
}

/* Account one completed request against the model. */
static void finish_req(struct req *q)
{
	int err = aio_error(&q->cb);
	ssize_t got = aio_return(&q->cb), n;
	static const char *const names[] = { "aio_read", "aio_write", "aio_fsync" };

	if (err == EINPROGRESS) {
		FAILF("%s: still in progress after the wait", names[q->op]);
		return;
	}
	if (err == ECANCELED) {
		/* Cancelled before it started: no effect. */
		if (got != -1)
			FAILF("%s: ECANCELED but aio_return %zd", names[q->op], got);
		atomic_fetch_add_explicit(&n_canceled, 1, memory_order_relaxed);
		return;
	}
	if ((err == 0) != (got >= 0))
		FAILF("%s: aio_error %d but aio_return %zd", names[q->op], err, got);
	if (q->op == 2) {
		n = judge(got, err, 0, names[q->op]);
		return;
	}
	n = judge(got, err, q->cb.aio_nbytes, names[q->op]);
	if (q->op == 1)
		model_write(q->r, q->ro, (const uint8_t *)q->cb.aio_buf, q->cb.aio_nbytes, n < 0 ? 0 : (size_t)n);
	else if (n > 0)
		check_data(q->r, q->ro, (const uint8_t *)q->cb.aio_buf, (size_t)n, names[q->op]);
}

/*
 * A sequential batch's ranges: up to n of one region, each starting where
 * the one before it ends (whole blocks on an O_DIRECT file). All reads or
 * all writes (aio_batch()), they are what the engine merges into one IO
 * when they wait together. Returns how many fit (the first always does),
 * with q[i].ro and len[i] set.
 */
static int seq_ranges(struct worker *w, struct region *r, struct req *q, size_t *len, int n)
{
	size_t unit = is_direct[r->file] ? 4096 : 1, ro = unit * (rnd(&w->rng) % (REGION / unit / 2));
	int i;

	for (i = 0; i < n; i++) {
		size_t l = is_direct[r->file] ? 4096 * (1 + rnd(&w->rng) % 2) : 1 + rnd(&w->rng) % 4096;

		if (ro + l > REGION)
			break;
		q[i].ro = ro;
		len[i] = l;
		ro += l;
	}
	return i;
}

static void aio_batch(struct worker *w)
{
	struct req q[BATCH];
	struct aiocb *list[BATCH];
	struct sigevent lsev;
	size_t lens[BATCH];
	int n = 1 + (int)(rnd(&w->rng) % (BATCH < w->nregions ? BATCH : w->nregions));
	int how = (int)(rnd(&w->rng) % 4), first = (int)(rnd(&w->rng) % (uint64_t)w->nregions);
	bool seq = rnd(&w->rng) % 3 == 0;
	int seq_op = (int)(rnd(&w->rng) % 2);
	uint32_t lid = 0;
	bool lio_eio = false;

	if (opt.glibc && how < 3)
		how = 0;	/* neither aio_cancel nor LIO_WAIT: see usage() */
	if (seq) {
		n = seq_ranges(w, &w->regions[first], q, lens, 2 + (int)(rnd(&w->rng) % (BATCH - 1)));
		atomic_fetch_add_explicit(&n_seq_batches, 1, memory_order_relaxed);
	}
	/* Distinct regions, or adjacent ranges of one: requests in flight together never overlap. */
	for (int i = 0; i < n; i++) {
		struct region *r = &w->regions[seq ? first : (first + i) % w->nregions];
		size_t len = seq ? lens[i] : pick_range(w, r, &q[i].ro);

		memset(&q[i].cb, 0, sizeof(q[i].cb));
		q[i].r = r;
		q[i].op = seq ? seq_op : (int)(rnd(&w->rng) % 2);
		q[i].submitted = false;
		q[i].cb.aio_fildes = fds[r->file];
		q[i].cb.aio_buf = w->buf[i];
		q[i].cb.aio_nbytes = len;
		q[i].cb.aio_offset = r->base + (off_t)q[i].ro;
		q[i].cb.aio_reqprio = (int)(rnd(&w->rng) % 3);
		q[i].cb.aio_lio_opcode = q[i].op ? LIO_WRITE : LIO_READ;
		if (q[i].op)
			fill(w->buf[i], r->file, q[i].cb.aio_offset, len, ++w->gen);
		q[i].id = new_note(w, &q[i].cb.aio_sigevent, &q[i].cb);
		list[i] = &q[i].cb;
	}
	/* Now and then an fsync behind the writes: the shim holds it, and what comes after. */
	if (n < BATCH && rnd(&w->rng) % 6 == 0 && how != 2) {
		struct req *f = &q[n];

		memset(&f->cb, 0, sizeof(f->cb));
		f->r = q[0].r;
		f->op = 2;
		f->submitted = false;
		f->cb.aio_fildes = q[0].cb.aio_fildes;
		f->id = new_note(w, &f->cb.aio_sigevent, &f->cb);
		n++;
	}
	atomic_fetch_add_explicit(&n_aio_ops, (uint64_t)n, memory_order_relaxed);
	if (how == 2 || how == 3) {
		int mode = how == 2 ? LIO_WAIT : LIO_NOWAIT, ret;

		memset(&lsev, 0, sizeof(lsev));
		lsev.sigev_notify = SIGEV_NONE;
		if (mode == LIO_NOWAIT)
			lid = new_note(w, &lsev, NULL);
		for (int i = 0; i < n; i++)
			q[i].submitted = q[i].op != 2;
		ret = lio_listio(mode, list, n - (q[n - 1].op == 2), &lsev);
		atomic_fetch_add_explicit(&n_lio, 1, memory_order_relaxed);
		/* LIO_WAIT: EIO when a member failed (EIO, or ECANCELED by another worker's aio_cancel). */
		lio_eio = ret && errno == EIO && mode == LIO_WAIT;
		if (ret && !(errno == EINTR && mode == LIO_WAIT) && !lio_eio)
			FAILF("lio_listio(%s): errno %d", mode == LIO_WAIT ? "LIO_WAIT" : "LIO_NOWAIT", errno);
		if (ret && errno == EINTR)
			atomic_fetch_add_explicit(&n_eintr, 1, memory_order_relaxed);
		if (q[n - 1].op == 2) {
			if (aio_fsync(O_DSYNC, &q[n - 1].cb))
				FAILF("aio_fsync: errno %d", errno);
			else
				q[n - 1].submitted = true;
		}
	} else {
		for (int i = 0; i < n; i++) {
			int ret = q[i].op == 2 ? aio_fsync(rnd(&w->rng) % 2 ? O_SYNC : O_DSYNC, &q[i].cb) :
				  q[i].op ? aio_write(&q[i].cb) : aio_read(&q[i].cb);

			if (ret)
				FAILF("aio submit op %d: errno %d", q[i].op, errno);
			else
				q[i].submitted = true;
		}
	}
	/* Cancel one of them, or everything of ours (and other workers') on one fd. */
	if (how == 1) {
		int i = (int)(rnd(&w->rng) % (uint64_t)n), ret;

		if (rnd(&w->rng) % 2)
			ret = aio_cancel(q[i].cb.aio_fildes, &q[i].cb);
		else
			ret = aio_cancel(q[i].cb.aio_fildes, NULL);
		atomic_fetch_add_explicit(&n_cancel_calls, 1, memory_order_relaxed);
		if (ret != AIO_CANCELED && ret != AIO_NOTCANCELED && ret != AIO_ALLDONE)
			FAILF("aio_cancel: %d errno %d", ret, errno);
	}
	wait_all(w, q, n);
	for (int i = 0; i < n; i++) {
		if (!q[i].submitted) {
			note_want[q[i].id] = 0;
			continue;
		}
		if (q[i].op != 2 && aio_error(&q[i].cb))
			lio_eio = false;
		finish_req(&q[i]);
		if (q[i].op == 2)
			atomic_fetch_add_explicit(&n_fsync, 1, memory_order_relaxed);
	}
	if (lio_eio)
		FAILF("lio_listio(LIO_WAIT): -1/EIO, but every member succeeded");
	for (int i = 0; i < n; i++) {
		static const char *const hows[] = { "one by one", "one by one, aio_cancel", "LIO_WAIT",
						    "LIO_NOWAIT" };
		char what[96];

		snprintf(what, sizeof(what), "aio (op %d, %s, aio_error %d)", q[i].op, hows[how],
			 q[i].submitted ? aio_error(&q[i].cb) : -1);
		note_wait(q[i].id, what);
	}
	if (lid)
		note_wait(lid, "lio_listio group");
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load_explicit(&stop, memory_order_relaxed) && !atomic_load(&failures)) {
		if (rnd(&w->rng) % 3)
			sync_op(w);
		else
			aio_batch(w);
	}
	return NULL;
}

/* ---- victims: cancelled by the controller in the middle of their IO ---- */

struct victim {
	pthread_t thread;
	bool running;
	struct region r;		/* its own region of its own file */
	uint64_t rng;
	uint32_t gen;
	uint8_t *buf;
	/* The write in progress, as the controller must judge it after a cancel. */
	_Atomic bool writing;
	size_t w_ro, w_len;
	uint32_t w_gen;
	struct aiocb acb;		/* an aio_read it may be suspended on */
	_Atomic bool aio_out;
};

static void *victim_main(void *arg)
{
	struct victim *v = arg;
	sigset_t note;

	/*
	 * No notification handler here: glibc 2.36 acts on a cancel that comes
	 * while a handler runs on top of one of its cancellable waits (usleep()
	 * below), unwinding the handler before it counts (fixed in glibc 2.41).
	 * The shim's own waits never do (wait_word.c checks).
	 */
	sigemptyset(&note);
	sigaddset(&note, SIG_NOTE);
	pthread_sigmask(SIG_BLOCK, &note, NULL);
	for (;;) {
		/* Small IO: victims are there to be cancelled, not to eat the CPU. */
		size_t ro = rnd(&v->rng) % REGION, len = 1 + rnd(&v->rng) % (REGION - ro) % 16384;
		int kind = (int)(rnd(&v->rng) % 3);
		off_t off = v->r.base + (off_t)ro;
		ssize_t got;

		if (kind == 0) {
			got = pread(fds[v->r.file], v->buf, len, off);
			if (judge(got, errno, len, "victim pread") > 0)
				check_data(&v->r, ro, v->buf, (size_t)got, "victim pread");
		} else if (kind == 1) {
			fill(v->buf, v->r.file, off, len, ++v->gen);
			v->w_ro = ro;
			v->w_len = len;
			v->w_gen = v->gen;
			atomic_store(&v->writing, true);
			got = pwrite(fds[v->r.file], v->buf, len, off);
			/* No cancellation point from here to the store (judge only prints on failure). */
			got = judge(got, errno, len, "victim pwrite");
			model_write(&v->r, ro, v->buf, len, got < 0 ? 0 : (size_t)got);
			atomic_store(&v->writing, false);
		} else {
			const struct aiocb *l[1] = { &v->acb };

			memset(&v->acb, 0, sizeof(v->acb));
			v->acb.aio_fildes = fds[v->r.file];
			v->acb.aio_buf = v->buf;
			v->acb.aio_nbytes = len;
			v->acb.aio_offset = off;
			v->acb.aio_sigevent.sigev_notify = SIGEV_NONE;
			v->w_ro = ro;
			if (aio_read(&v->acb) == 0) {
				atomic_store(&v->aio_out, true);
				while (aio_error(&v->acb) == EINPROGRESS)
					aio_suspend(l, 1, NULL);	/* a cancellation point */
				atomic_store(&v->aio_out, false);
				got = aio_return(&v->acb);
				if (judge(got, aio_error(&v->acb), len, "victim aio_read") > 0)
					check_data(&v->r, ro, v->buf, (size_t)got, "victim aio_read");
			} else {
				FAILF("victim aio_read: errno %d", errno);
			}
		}
		atomic_fetch_add_explicit(kind == 2 ? &n_aio_ops : &n_sync_ops, 1, memory_order_relaxed);
		pthread_testcancel();
		/* Leave the engine to the workers; the cancel may land here too. */
		usleep(100);
	}
	return NULL;
}

/* After the victim was cancelled and joined: its pending IO, judged and folded into the model. */
static void victim_settle(struct victim *v)
{
	int fd = fds[v->r.file];

	if (atomic_load(&v->aio_out)) {
		/* Cancelled in aio_suspend: the request is still the program's to wait for. */
		const struct aiocb *l[1] = { &v->acb };
		ssize_t got;

		while (aio_error(&v->acb) == EINPROGRESS)
			aio_suspend(l, 1, NULL);
		got = aio_return(&v->acb);
		if (judge(got, aio_error(&v->acb), v->acb.aio_nbytes, "cancelled victim aio_read") > 0)
			check_data(&v->r, v->w_ro, v->buf, (size_t)got, "cancelled victim aio_read");
		atomic_store(&v->aio_out, false);
	}
	if (atomic_load(&v->writing)) {
		/* Cancelled around a pwrite: it happened entirely or not at all. */
		uint8_t *now = malloc(v->w_len), *neu = malloc(v->w_len);
		off_t off = v->r.base + (off_t)v->w_ro;
		bool old_ok = true, new_ok;

		if (!now || !neu)
			DIE("malloc");
		if (lseek(fd, off, SEEK_SET) != off || read(fd, now, v->w_len) != (ssize_t)v->w_len)
			DIE("victim re-read");
		fill(neu, v->r.file, off, v->w_len, v->w_gen);
		new_ok = !memcmp(now, neu, v->w_len);
		for (size_t i = 0; i < v->w_len; i++)
			if (v->r.known[v->w_ro + i] && now[i] != v->r.expect[v->w_ro + i])
				old_ok = false;
		if (!old_ok && !new_ok && !opt.eio)
			FAILF("cancelled pwrite of %zu at %lld: neither old nor new content", v->w_len,
			      (long long)off);
		model_write(&v->r, v->w_ro, now, v->w_len, (old_ok || new_ok) ? v->w_len : 0);
		atomic_store(&v->writing, false);
		free(now);
		free(neu);
	}
}

static void victim_start(struct victim *v)
{
	if (pthread_create(&v->thread, NULL, victim_main, v))
		DIE("pthread_create victim");
	v->running = true;
}

static void victim_cancel(struct victim *v)
{
	pthread_cancel(v->thread);
	pthread_join(v->thread, NULL);
	v->running = false;
	atomic_fetch_add_explicit(&n_thread_cancels, 1, memory_order_relaxed);
	victim_settle(v);
}

/* ---- forked children: their own engine, their own file ---- */

static int child_main(uint64_t seed)
{
	char path[4096];
	uint8_t *a = aligned_alloc(4096, REGION), *b = aligned_alloc(4096, REGION);
	int fd, bad = 0;
	uint64_t rng = seed | 1;

	snprintf(path, sizeof(path), "%s/stress-child-%d", opt.dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !a || !b)
		return 3;
	unlink(path);
	for (int i = 0; i < 40; i++) {
		size_t len = 1 + rnd(&rng) % REGION;
		off_t off = (off_t)(rnd(&rng) % (4 * REGION));
		struct aiocb cb;
		const struct aiocb *l[1] = { &cb };
		ssize_t got;

		fill(a, 99, off, len, (uint32_t)i + 1);
		got = pwrite(fd, a, len, off);
		if (got != (ssize_t)len) {
			if (!(opt.eio && (got >= 0 || errno == EIO)))
				bad = 4;
			continue;
		}
		memset(&cb, 0, sizeof(cb));
		cb.aio_fildes = fd;
		cb.aio_buf = b;
		cb.aio_nbytes = len;
		cb.aio_offset = off;
		if (aio_read(&cb)) {
			bad = 5;
			continue;
		}
		while (aio_error(&cb) == EINPROGRESS)
			aio_suspend(l, 1, NULL);
		got = aio_return(&cb);
		/* An EIO after part of the read moved bytes: a short count, as pread() gives. */
		if ((got != (ssize_t)len || memcmp(a, b, len)) &&
		    !(opt.eio && (aio_error(&cb) == EIO ||
				  (got >= 0 && got < (ssize_t)len && !memcmp(a, b, (size_t)got)))))
			bad = 6;
		got = pread(fd, b, len, off);
		if ((got != (ssize_t)len || memcmp(a, b, len)) && !(opt.eio && (got >= 0 || errno == EIO)))
			bad = 7;
	}
	close(fd);
	free(a);
	free(b);
	return bad;	/* the last check that failed: 4 pwrite, 5 aio_read, 6 its result, 7 pread */
}

static pid_t fork_child(void)
{
	uint64_t seed = mix((uint64_t)time(NULL) ^ atomic_load(&n_forks));
	pid_t pid = fork();

	if (pid == 0) {
#if defined(__SANITIZE_ADDRESS__)
		/* The child forgets the parent's engine without freeing it, by design: no leak report. */
		_exit(child_main(seed));
#else
		/* exit(): the shim's destructor runs in the child too. */
		exit(child_main(seed));
#endif
	}
	if (pid < 0)
		FAILF("fork: errno %d", errno);
	else
		atomic_fetch_add_explicit(&n_forks, 1, memory_order_relaxed);
	return pid;
}

static void reap(pid_t *kids, int *nkids, bool block)
{
	for (int i = 0; i < *nkids;) {
		int st;
		pid_t p = waitpid(kids[i], &st, block ? 0 : WNOHANG);

		if (p < 0 && errno == EINTR)
			continue;
		if (p == 0) {
			i++;
			continue;
		}
		if (p < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			FAILF("child %d: %s %d", (int)kids[i], p < 0 ? "waitpid errno" : WIFEXITED(st) ? "exit" : "signal",
			      p < 0 ? errno : WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		kids[i] = kids[--*nkids];
	}
}

/* ---- setup and the end ---- */

static void on_timer(int sig)
{
	(void)sig;
	atomic_fetch_add_explicit(&n_timer_sigs, 1, memory_order_relaxed);
}

static void open_files(void)
{
	uint8_t *b = aligned_alloc(4096, (size_t)file_size);

	fds = calloc((size_t)opt.nfiles + 1, sizeof(*fds));
	is_direct = calloc((size_t)opt.nfiles + 1, sizeof(*is_direct));
	if (!b || !fds || !is_direct)
		DIE("malloc");
	/* The last file belongs to the victims. */
	for (int f = 0; f <= opt.nfiles; f++) {
		char path[4096];
		int fd;

		snprintf(path, sizeof(path), "%s/stress-%d-XXXXXX", opt.dir, f);
		fd = mkstemp(path);
		if (fd < 0)
			DIE("mkstemp %s", path);
		unlink(path);
		fill(b, f, 0, (size_t)file_size, 0);
		/* write(2) is not interposed: the initial content never sees a fault. */
		if (write(fd, b, (size_t)file_size) != file_size)
			DIE("write");
		fds[f] = fd;
		if (f == 0 && opt.direct) {
			int dfd;

			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			dfd = open(path, O_RDWR | O_DIRECT);
			if (dfd >= 0) {
				fsync(fd);
				close(fd);
				fds[f] = dfd;
				is_direct[f] = true;
			}
		}
	}
	free(b);
}

/* Every file, read whole with read(2), is what the models say. */
static void final_check(struct worker *ws, struct victim *vs)
{
	uint8_t *b = aligned_alloc(4096, (size_t)file_size);
	uint64_t unknown = 0;

	if (!b)
		DIE("malloc");
	for (int f = 0; f <= opt.nfiles; f++) {
		if (lseek(fds[f], 0, SEEK_SET) != 0 || read(fds[f], b, (size_t)file_size) != file_size)
			DIE("final read of file %d", f);
		for (int t = 0; t < opt.threads + VICTIMS; t++) {
			int nr = t < opt.threads ? ws[t].nregions : 1;

			for (int i = 0; i < nr; i++) {
				struct region *r = t < opt.threads ? &ws[t].regions[i] : &vs[t - opt.threads].r;

				if (r->file != f)
					continue;
				for (size_t k = 0; k < REGION; k++) {
					if (!r->known[k]) {
						unknown++;
						continue;
					}
					if (b[r->base + (off_t)k] != r->expect[k]) {
						FAILF("final: file %d offset %lld: 0x%02x, expected 0x%02x", f,
						      (long long)(r->base + (off_t)k), b[r->base + (off_t)k],
						      r->expect[k]);
						break;
					}
				}
				atomic_fetch_add(&n_verified_bytes, REGION);
			}
		}
	}
	printf("stress: final check of %d files done (%llu bytes left unknown by EIO)\n", opt.nfiles + 1,
	       (unsigned long long)unknown);
	free(b);
}

static void check_notes(void)
{
	uint32_t n = atomic_load(&next_id);
	uint64_t bad = 0;

	if (n > NOTE_IDS)
		n = NOTE_IDS;	/* wrapped: the older ids were checked one by one */
	for (uint32_t id = 1; id < n; id++)
		if (atomic_load(&note_got[id]) != note_want[id])
			bad++;
	if (bad)
		FAILF("%llu requests notified a wrong number of times", (unsigned long long)bad);
	if (atomic_load(&n_bad_notes))
		FAILF("%llu notifications with a bad si_code or before the result was visible",
		      (unsigned long long)atomic_load(&n_bad_notes));
}

static void usage(const char *p)
{
	fprintf(stderr,
		"usage: %s [--dir D] [--duration S] [--threads N] [--files N] [--seed N]\n"
		"          [--eio] [--no-fork] [--no-cancel] [--no-direct] [--glibc]\n"
		"--glibc: a sanity run of this test against glibc's own AIO, without what glibc 2.36\n"
		"does not survive: lio_listio(LIO_WAIT) interrupted by a signal leaves its wait list\n"
		"on the stack (a later completion writes there and crashes), aio_cancel() under this\n"
		"load leaves requests EINPROGRESS forever, a fork child deadlocks on its locks, and\n"
		"with threads cancelled meanwhile a SIGEV notification can go missing; its aio_error()\n"
		"takes a mutex, so a signal handler that calls it can deadlock (not done then).\n", p);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dir", 1, NULL, 'd' }, { "duration", 1, NULL, 't' }, { "threads", 1, NULL, 'n' },
		{ "files", 1, NULL, 'f' }, { "seed", 1, NULL, 's' }, { "eio", 0, NULL, 'e' },
		{ "no-fork", 0, NULL, 'F' }, { "no-cancel", 0, NULL, 'C' }, { "no-direct", 0, NULL, 'D' },
		{ "glibc", 0, NULL, 'G' },
		{ NULL, 0, NULL, 0 }
	};
	struct sigaction sa;
	struct sigevent tsev;
	struct itimerspec its = { { 0, 1000000 }, { 0, 1000000 } };	/* 1 kHz */
	timer_t timer;
	struct worker *ws;
	struct victim vs[VICTIMS];
	pid_t kids[64];
	int nkids = 0, c;
	struct timespec start, now;
	uint64_t tick = 0;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': opt.dir = optarg; break;
		case 't': opt.duration = atoi(optarg); break;
		case 'n': opt.threads = atoi(optarg); break;
		case 'f': opt.nfiles = atoi(optarg); break;
		case 's': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'e': opt.eio = true; break;
		case 'F': opt.fork = false; break;
		case 'C': opt.cancel = false; break;
		case 'D': opt.direct = false; break;
		case 'G': opt.glibc = opt.cancel = opt.fork = false; opt.glibc = true; break;
		default: usage(argv[0]);
		}
	}
	if (opt.duration < 0 || opt.threads < 1 || opt.threads > 64 || opt.nfiles < 1 || opt.nfiles > 64)
		usage(argv[0]);
	file_size = (off_t)opt.threads * RPT * REGION;
	if (file_size < VICTIMS * REGION)
		file_size = VICTIMS * REGION;
	open_files();
	{
		/*
		 * One routed call first: while the shim's engine starts, concurrent
		 * calls go to glibc, and glibc's AIO threads crash under TSan.
		 */
		uint8_t one;
		ssize_t n;
		int tries = 0;

		/* With --eio, the injected EIO may hit this read as any other: it goes again. */
		while ((n = pread(fds[opt.nfiles], &one, 1, 0)) < 0 && errno == EIO && opt.eio && ++tries < 100)
			;
		if (n != 1)
			DIE("first pread");
	}
	printf("stress: pid %d\n", (int)getpid());
	fflush(stdout);	/* before any fork */

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = note_signal;
	sa.sa_flags = SA_SIGINFO;	/* no SA_RESTART: waits see EINTR */
	sigaction(SIG_NOTE, &sa, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_timer;
	sigaction(SIG_TIMER, &sa, NULL);

	ws = calloc((size_t)opt.threads, sizeof(*ws));
	if (!ws)
		DIE("calloc");
	for (int t = 0; t < opt.threads; t++) {
		struct worker *w = &ws[t];

		w->id = t;
		w->rng = mix(opt.seed * 1000 + (uint64_t)t) | 1;
		w->gen = (uint32_t)t << 24;
		w->nregions = opt.nfiles * RPT;
		w->regions = calloc((size_t)w->nregions, sizeof(*w->regions));
		if (!w->regions)
			DIE("calloc");
		for (int i = 0; i < w->nregions; i++)
			region_init(&w->regions[i], i % opt.nfiles, (off_t)(t * RPT + i / opt.nfiles) * REGION);
		for (int i = 0; i < BATCH; i++)
			if (!(w->buf[i] = aligned_alloc(4096, REGION)))
				DIE("aligned_alloc");
	}
	for (int i = 0; i < VICTIMS; i++) {
		memset(&vs[i], 0, sizeof(vs[i]));
		region_init(&vs[i].r, opt.nfiles, (off_t)i * REGION);
		vs[i].rng = mix(opt.seed * 7 + (uint64_t)i) | 1;
		vs[i].gen = (uint32_t)(64 + i) << 24;
		vs[i].buf = aligned_alloc(4096, REGION);
		if (!vs[i].buf)
			DIE("aligned_alloc");
	}

	memset(&tsev, 0, sizeof(tsev));
	tsev.sigev_notify = SIGEV_SIGNAL;
	tsev.sigev_signo = SIG_TIMER;
	if (timer_create(CLOCK_MONOTONIC, &tsev, &timer) || timer_settime(timer, 0, &its, NULL))
		DIE("timer");

	for (int t = 0; t < opt.threads; t++)
		if (pthread_create(&ws[t].thread, NULL, worker_main, &ws[t]))
			DIE("pthread_create");
	if (opt.cancel)
		for (int i = 0; i < VICTIMS; i++)
			victim_start(&vs[i]);

	/* The controller: cancel victims, fork children, until the time is up. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct timespec ts = { 0, 20 * 1000000 };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		tick++;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= opt.duration || atomic_load(&failures))
			break;
		if (opt.cancel && tick % 3 == 0) {
			struct victim *v = &vs[tick % VICTIMS];

			victim_cancel(v);
			victim_start(v);
		}
		if (opt.fork && tick % 10 == 0 && nkids < 64)
			kids[nkids++] = fork_child();
		reap(kids, &nkids, false);
	}
	atomic_store(&stop, true);
	for (int t = 0; t < opt.threads; t++)
		pthread_join(ws[t].thread, NULL);
	for (int i = 0; i < VICTIMS; i++)
		if (vs[i].running)
			victim_cancel(&vs[i]);
	timer_delete(timer);
	reap(kids, &nkids, true);

	final_check(ws, vs);
	check_notes();
	printf("stress: %s%d s, %d threads, %d files%s: %llu sync calls, %llu AIO requests (%llu sequential batches, "
	       "%llu lio_listio, %llu fsync), %llu aio_cancel calls, %llu ECANCELED, %llu EIO results, %llu short results, "
	       "%llu bytes verified, %llu notifications, %llu timer signals, %llu EINTR, %llu children, "
	       "%llu threads cancelled\n",
	       opt.eio ? "eio mode, " : "", opt.duration, opt.threads, opt.nfiles,
	       is_direct[0] ? " (one O_DIRECT)" : "",
	       (unsigned long long)n_sync_ops, (unsigned long long)n_aio_ops, (unsigned long long)n_seq_batches,
	       (unsigned long long)n_lio,
	       (unsigned long long)n_fsync, (unsigned long long)n_cancel_calls, (unsigned long long)n_canceled,
	       (unsigned long long)n_eio, (unsigned long long)n_short, (unsigned long long)n_verified_bytes,
	       (unsigned long long)n_notes, (unsigned long long)n_timer_sigs, (unsigned long long)n_eintr,
	       (unsigned long long)n_forks, (unsigned long long)n_thread_cancels);
	/* Freed for the leak checker: whatever it still reports belongs to the library. */
	for (int t = 0; t < opt.threads; t++) {
		for (int i = 0; i < ws[t].nregions; i++) {
			free(ws[t].regions[i].expect);
			free(ws[t].regions[i].known);
		}
		free(ws[t].regions);
		for (int i = 0; i < BATCH; i++)
			free(ws[t].buf[i]);
	}
	for (int i = 0; i < VICTIMS; i++) {
		free(vs[i].r.expect);
		free(vs[i].r.known);
		free(vs[i].buf);
	}
	free(ws);
	if (atomic_load(&failures)) {
		printf("stress: FAILED (%d errors)\n", atomic_load(&failures));
		return 1;
	}
	printf("stress: OK: %llu requests, every one completed once with the right result and data\n",
	       (unsigned long long)(n_sync_ops + n_aio_ops));
	return 0;
}
