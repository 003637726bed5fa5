/* SPDX-License-Identifier: MIT */
/*
 * POSIX AIO scenarios that print a canonical transcript: run once against
 * glibc and once under libioengine-preload.so (run_diff.sh compares them).
 * Only what both implementations must agree on is printed; outcomes that
 * legitimately differ (cancellation races) are checked against the allowed
 * set here and printed as one verdict line.
 *
 * Usage: aio_diff DIR [shim-only]
 */
#include <aio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "aio_util.h"

#define SIG_NOTE (SIGRTMIN + 1)
#define BS 4096

static const char *dir, *dir_path;
static int nfile;

static int new_file(int flags, size_t size)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/aio-diff-%d-%d", dir, (int)getpid(), nfile++);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | flags, 0600);
	if (fd < 0)
		DIE("open %s: %s", path, strerror(errno));
	unlink(path);
	if (size) {
		char *b = malloc(size);

		for (size_t i = 0; i < size; i++)
			b[i] = (char)(i * 7 + 3);
		if (pwrite(fd, b, size, 0) != (ssize_t)size)
			DIE("fill");
		free(b);
	}
	return fd;
}

#define CALL(expr) do { \
	errno = 0; \
	long r_ = (long)(expr); \
	OUT("  %s = %ld%s%s", #expr, r_, r_ < 0 ? " errno=" : "", r_ < 0 ? strerrorname_np(errno) : ""); \
} while (0)

static const char *ename(int e)
{
	return e == 0 ? "0" : e == EINPROGRESS ? "EINPROGRESS" : strerrorname_np(e);
}

static void show(const char *what, struct aiocb *cb)
{
	int e = wait_one(cb);

	OUT("  %s: error=%s return=%zd", what, ename(e), aio_return(cb));
}

#include "asan_cancel.h"
#include "fault_hold.h"
#include "task_file.h"

/* ---- notifications ---- */

static _Atomic int sig_count, sig_code_ok, sig_val, sig_visible, sig_in_tid;
static struct aiocb *sig_cb;
static pid_t main_tid;

static void note_handler(int s, siginfo_t *si, void *u)
{
	(void)s;
	(void)u;
	atomic_fetch_add(&sig_count, 1);
	atomic_store(&sig_code_ok, si->si_code == SI_ASYNCIO && si->si_pid == getpid());
	atomic_store(&sig_val, si->si_value.sival_int);
	atomic_store(&sig_visible, sig_cb && aio_error(sig_cb) != EINPROGRESS);
	atomic_store(&sig_in_tid, (pid_t)syscall(SYS_gettid) == main_tid);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Wait until *c reaches want (or 30 s), then a little longer to catch duplicates. */
static int settle(_Atomic int *c, int want)
{
	for (int i = 0; i < 30000 && atomic_load(c) < want; i++)
		sleep_ms(1);
	sleep_ms(30);
	return atomic_load(c);
}

static void sc_notify_signal(void)
{
	static char buf[BS];
	struct aiocb cb;
	int fd = new_file(0, 8192), n;

	OUT("notify_signal");
	prep(&cb, fd, buf, BS, 0);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = SIG_NOTE;
	cb.aio_sigevent.sigev_value.sival_int = 1234;
	atomic_store(&sig_count, 0);
	sig_cb = &cb;
	CALL(aio_read(&cb));
	n = settle(&sig_count, 1);
	OUT("  count=%d code_ok=%d value=%d visible=%d", n, atomic_load(&sig_code_ok),
	    atomic_load(&sig_val), atomic_load(&sig_visible));
	show("read", &cb);

	sig_cb = NULL;
	close(fd);
}

static _Atomic int thr_count, thr_val, thr_visible, thr_stack_ok;
static struct aiocb *thr_cb;

static void note_thread(union sigval v)
{
	pthread_attr_t a;
	size_t ss = 0;

	if (!pthread_getattr_np(pthread_self(), &a)) {
		pthread_attr_getstacksize(&a, &ss);
		pthread_attr_destroy(&a);
	}
	atomic_store(&thr_stack_ok, ss >= 1024 * 1024);
	atomic_store(&thr_visible, thr_cb && aio_error(thr_cb) != EINPROGRESS);
	atomic_store(&thr_val, v.sival_int);
	atomic_fetch_add(&thr_count, 1);
}

static void sc_notify_thread(void)
{
	static char buf[BS];
	struct aiocb cb;
	pthread_attr_t attr;
	int fd = new_file(0, 8192), n;

	OUT("notify_thread");
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 2 * 1024 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	prep(&cb, fd, buf, BS, 0);
	cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
	cb.aio_sigevent.sigev_notify_function = note_thread;
	cb.aio_sigevent.sigev_notify_attributes = &attr;
	cb.aio_sigevent.sigev_value.sival_int = 99;
	atomic_store(&thr_count, 0);
	thr_cb = &cb;
	CALL(aio_read(&cb));
	n = settle(&thr_count, 1);
	OUT("  count=%d value=%d visible=%d stack_ok=%d", n, atomic_load(&thr_val),
	    atomic_load(&thr_visible), atomic_load(&thr_stack_ok));
	show("read", &cb);
	/* No attributes. */
	prep(&cb, fd, buf, BS, 0);
	cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
	cb.aio_sigevent.sigev_notify_function = note_thread;
	cb.aio_sigevent.sigev_value.sival_int = 98;
	atomic_store(&thr_count, 0);
	CALL(aio_write(&cb));
	n = settle(&thr_count, 1);
	OUT("  count=%d value=%d visible=%d", n, atomic_load(&thr_val),
	    atomic_load(&thr_visible));
	show("write", &cb);
	thr_cb = NULL;
	/* SIGEV_NONE: nothing arrives. */
	prep(&cb, fd, buf, BS, 0);
	atomic_store(&sig_count, 0);
	atomic_store(&thr_count, 0);
	CALL(aio_read(&cb));
	show("none", &cb);
	sleep_ms(20);
	OUT("  none: signals=%d threads=%d", atomic_load(&sig_count), atomic_load(&thr_count));
	pthread_attr_destroy(&attr);
	close(fd);
}

/* ---- results and validation ---- */

static void sc_rw(void)
{
	static char w[3 * BS], r[3 * BS];
	struct aiocb a, b;
	int fd = new_file(0, 0), ro, wo;

	OUT("rw");
	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (char)(i * 13 + 1);
	prep(&a, fd, w, sizeof(w), 0);
	CALL(aio_write(&a));
	show("write", &a);
	prep(&b, fd, r, sizeof(r), 0);
	CALL(aio_read(&b));
	show("read", &b);
	OUT("  data %s", memcmp(w, r, sizeof(w)) ? "differs" : "same");
	prep(&b, fd, r, sizeof(r), 2 * BS);
	CALL(aio_read64((struct aiocb64 *)&b));
	show("short read at EOF", &b);
	prep(&b, fd, r, BS, 1 << 20);
	CALL(aio_read(&b));
	show("read past EOF", &b);
	prep(&b, fd, r, 0, 0);
	CALL(aio_read(&b));
	show("zero-length read", &b);
	OUT("  aio_return again = %zd", aio_return(&b));

	OUT("validation");
	prep(&b, fd, r, 100, -1);
	CALL(aio_read(&b));
	show("negative offset", &b);
	prep(&b, fd, r, 100, 0);
	b.aio_reqprio = -1;
	CALL(aio_read(&b));
	OUT("  aio_error=%s aio_return=%zd", ename(aio_error(&b)), aio_return(&b));
	prep(&b, fd, r, 100, 0);
	b.aio_reqprio = AIO_PRIO_DELTA_MAX + 1;
	CALL(aio_write(&b));
	OUT("  aio_error=%s", ename(aio_error(&b)));
	prep(&b, fd, r, 100, 0);
	b.aio_reqprio = AIO_PRIO_DELTA_MAX;
	CALL(aio_read(&b));
	show("max reqprio", &b);
	prep(&b, 999, r, 100, 0);
	CALL(aio_read(&b));
	show("bad fd read", &b);
	CALL(aio_write(&b));
	show("bad fd write", &b);
	CALL(aio_fsync(O_SYNC, &b));
	prep(&b, fd, r, 100, 0);
	CALL(aio_fsync(12345, &b));
	CALL(aio_fsync(O_RDWR, &b));
	ro = open("/proc/self/exe", O_RDONLY);
	prep(&b, ro, r, 100, 0);
	CALL(aio_write(&b));
	show("write on read-only fd", &b);
	wo = new_file(O_WRONLY, 0);
	prep(&b, wo, r, 100, 0);
	CALL(aio_read(&b));
	show("read on write-only fd", &b);
	prep(&b, fd, (void *)16, 100, 0);
	CALL(aio_read(&b));
	show("bad buffer", &b);
	close(ro);
	close(wo);

	OUT("append");
	{
		int afd, sfd = new_file(0, 5000);
		char path[64];
		struct stat st;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", sfd);
		afd = open(path, O_RDWR | O_APPEND);
		prep(&a, afd, w, 100, 0);
		CALL(aio_write(&a));
		show("append write", &a);
		CALL(aio_write(&a));
		show("append write", &a);
		fstat(sfd, &st);
		pread(sfd, r, 100, 5100);
		OUT("  size=%lld tail %s", (long long)st.st_size, memcmp(r, w, 100) ? "differs" : "same");
		close(afd);
		close(sfd);
	}
	close(fd);
}

/* ---- aio_suspend ---- */

static _Atomic int usr1;
static void usr1_handler(int s)
{
	(void)s;
	atomic_fetch_add(&usr1, 1);
}

/* A signal for a thread, some milliseconds later. */
struct kick {
	pthread_t thread;
	int sig, ms;
	pid_t waiter;	/* if set: first wait until this thread sleeps in a wait that lasts */
	_Atomic int *ran;	/* if set: then block_release() once the handler counted here */
};

static void block_release(void);

static void *kick(void *arg)
{
	struct kick *k = arg;

	for (int i = 0; k->waiter && i < 2000 && !thread_in_settled_wait(k->waiter, 1); i++)
		;
	sleep_ms(k->ms);
	pthread_kill(k->thread, k->sig);
	if (k->ran) {
		while (!atomic_load(k->ran))
			sleep_ms(1);
		block_release();
	}
	return NULL;
}

static void sc_suspend(void)
{
	static char buf[BS], pbuf[64];
	const struct aiocb *l[4];
	struct aiocb a, p, many[64];
	struct timespec t50 = { 0, 50 * 1000000 }, t0 = { 0, 0 };
	struct timespec ts;
	/* After the thread is seen in its wait: a signal before it would be lost. */
	struct kick usr1_kick = { pthread_self(), SIGUSR1, 5, (pid_t)syscall(SYS_gettid), NULL };
	pthread_t k;
	int fd = new_file(0, 64 * BS), pfd[2], done;
	uint64_t ms;

	OUT("suspend");
	if (pipe(pfd))
		DIE("pipe");
	/* Nothing in the list, or only NULLs: returns at once. */
	l[0] = l[1] = NULL;
	CALL(aio_suspend(l, 2, &t50));
	CALL(aio_suspend(l, 0, NULL));
	/* One already done, among NULLs: at once, also with a zero timeout. */
	prep(&a, fd, buf, BS, 0);
	aio_read(&a);
	wait_one(&a);
	l[0] = NULL;
	l[1] = &a;
	CALL(aio_suspend(l, 2, &t0));
	/* A pipe read that waits for data (the engine's on io_uring, glibc's on Linux AIO). */
	prep(&p, pfd[0], pbuf, sizeof(pbuf), 0);
	CALL(aio_read(&p));
	l[0] = &p;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	CALL(aio_suspend(l, 1, &t50));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 - ms;
	OUT("  waited >= 45 ms: %d", ms >= 45);
	CALL(aio_suspend(l, 1, &t0));
	/* A handler (no SA_RESTART) runs during the wait: EINTR. */
	pthread_create(&k, NULL, kick, &usr1_kick);
	CALL(aio_suspend(l, 1, NULL));
	pthread_join(k, NULL);
	pthread_create(&k, NULL, kick, &usr1_kick);
	ts.tv_sec = 5;
	ts.tv_nsec = 0;
	CALL(aio_suspend(l, 1, &ts));
	pthread_join(k, NULL);
	OUT("  handler ran %d times", atomic_load(&usr1));
	/* Mixed list: a file read completes while the pipe read waits. */
	prep(&a, fd, buf, BS, BS);
	CALL(aio_read(&a));
	l[0] = &p;
	l[1] = NULL;
	l[2] = &a;
	ts.tv_sec = 5;
	while (aio_error(&a) == EINPROGRESS)
		if (aio_suspend(l, 3, &ts))
			DIE("mixed suspend: %s", strerror(errno));
	OUT("  mixed: file read error=%s pipe read error=%s", ename(aio_error(&a)), ename(aio_error(&p)));
	aio_return(&a);
	/* Complete the pipe read. */
	if (write(pfd[1], "hello", 5) != 5)
		DIE("write");
	show("pipe read", &p);
	OUT("  pipe data %.5s", pbuf);
	/* Many in flight, any-of waits until all are done. */
	for (int i = 0; i < 64; i++) {
		prep(&many[i], fd, malloc(BS), BS, (off_t)i * BS);
		if (aio_read(&many[i]))
			DIE("aio_read");
	}
	done = 0;
	while (done < 64) {
		const struct aiocb *ml[64];

		for (int i = 0; i < 64; i++)
			ml[i] = aio_error(&many[i]) == EINPROGRESS ? &many[i] : NULL;
		if (aio_suspend(ml, 64, &ts))
			DIE("suspend many: %s", strerror(errno));
		done = 0;
		for (int i = 0; i < 64; i++)
			done += aio_error(&many[i]) != EINPROGRESS;
	}
	done = 0;
	for (int i = 0; i < 64; i++) {
		done += aio_return(&many[i]) == BS;
		free((void *)many[i].aio_buf);
	}
	OUT("  many: %d of 64 read %d bytes", done, BS);
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
}

/* ---- aio_cancel ---- */

static _Atomic int cancel_notes;

static void cancel_note(union sigval v)
{
	(void)v;
	atomic_fetch_add(&cancel_notes, 1);
}

static void sc_cancel(void)
{
	static char buf[BS];
	struct aiocb a, w[32], s;
	int fd = new_file(0, 64 * BS), other = new_file(0, 0), ok = 1, r, n;

	OUT("cancel");
	prep(&a, fd, buf, BS, 0);
	CALL(aio_cancel(999, NULL));
	CALL(aio_cancel(999, &a));
	CALL(aio_cancel(other, &a));
	CALL(aio_cancel(fd, NULL));
	aio_read(&a);
	wait_one(&a);
	CALL(aio_cancel(fd, &a));
	CALL(aio_cancel(fd, NULL));
	/* A pipe read blocked in the kernel: aio_stream.c (the shim on io_uring cancels it). */

	/*
	 * Writes then an fsync, cancelled at once: which ones were still queued
	 * differs (glibc: per-fd queue; shim: held behind the fsync), so only
	 * the invariants are printed.
	 */
	atomic_store(&cancel_notes, 0);
	for (int i = 0; i < 32; i++) {
		prep(&w[i], fd, buf, BS, (off_t)i * BS);
		w[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
		w[i].aio_sigevent.sigev_notify_function = cancel_note;
		if (aio_write(&w[i]))
			DIE("aio_write");
	}
	prep(&s, fd, NULL, 0, 0);
	s.aio_sigevent.sigev_notify = SIGEV_THREAD;
	s.aio_sigevent.sigev_notify_function = cancel_note;
	if (aio_fsync(O_SYNC, &s))
		DIE("aio_fsync");
	r = aio_cancel(fd, NULL);
	if (r != AIO_CANCELED && r != AIO_NOTCANCELED && r != AIO_ALLDONE)
		ok = 0;
	for (int i = 0; i <= 32; i++) {
		struct aiocb *c = i < 32 ? &w[i] : &s;
		int e = wait_one(c);
		ssize_t ret = aio_return(c);

		if (e == ECANCELED ? ret != -1 : e != 0 || ret != (i < 32 ? BS : 0))
			ok = 0;
		if (e == ECANCELED && r == AIO_ALLDONE)
			ok = 0;
	}
	n = settle(&cancel_notes, 33);
	OUT("  race: allowed outcome %d, notifications %d", ok, n);
	CALL(aio_cancel(fd, NULL));
	close(fd);
	close(other);
}

/* ---- aio_fsync ordering ---- */

static struct aiocb fw[16];
static _Atomic int fsync_saw_pending = -1;

static void fsync_note(union sigval v)
{
	int pending = 0;

	(void)v;
	for (int i = 0; i < 16; i++)
		pending += aio_error(&fw[i]) == EINPROGRESS;
	atomic_store(&fsync_saw_pending, pending);
}

static void sc_fsync(void)
{
	static char buf[16][BS];
	struct aiocb s;
	int fd = new_file(0, 0);

	OUT("fsync");
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 16; i++) {
			memset(buf[i], 'a' + i, BS);
			prep(&fw[i], fd, buf[i], BS, (off_t)i * BS);
			if (aio_write(&fw[i]))
				DIE("aio_write");
		}
		prep(&s, fd, NULL, 0, 0);
		s.aio_sigevent.sigev_notify = SIGEV_THREAD;
		s.aio_sigevent.sigev_notify_function = fsync_note;
		atomic_store(&fsync_saw_pending, -1);
		CALL(aio_fsync(round ? O_DSYNC : O_SYNC, &s));
		show("fsync", &s);
		for (int i = 0; i < 30000 && atomic_load(&fsync_saw_pending) < 0; i++)
			sleep_ms(1);
		OUT("  writes still pending when the fsync completed: %d", atomic_load(&fsync_saw_pending));
		for (int i = 0; i < 16; i++)
			if (wait_one(&fw[i]) || aio_return(&fw[i]) != BS)
				DIE("write %d", i);
	}
	CALL(aio_fsync(O_SYNC | O_DSYNC, &s));
	show("fsync O_SYNC|O_DSYNC", &s);
	close(fd);
}

/* ---- lio_listio ---- */

static _Atomic int lio_notes, lio_member_notes, lio_pending_at_note = -1;
static struct aiocb lc[4];

static void lio_note(union sigval v)
{
	int pending = 0;

	(void)v;
	for (int i = 0; i < 4; i++)
		pending += lc[i].aio_lio_opcode != LIO_NOP && aio_error(&lc[i]) == EINPROGRESS;
	atomic_store(&lio_pending_at_note, pending);
	atomic_fetch_add(&lio_notes, 1);
}

static void member_note(union sigval v)
{
	(void)v;
	atomic_fetch_add(&lio_member_notes, 1);
}

static void sc_lio(void)
{
	static char buf[4][BS];
	struct aiocb *l[6];
	struct sigevent sev;
	int fd = new_file(0, 8 * BS), n, m;

	OUT("lio");
	for (int i = 0; i < 4; i++) {
		prep(&lc[i], fd, buf[i], BS, (off_t)i * BS);
		lc[i].aio_lio_opcode = i == 3 ? LIO_WRITE : LIO_READ;
	}
	l[0] = &lc[0];
	l[1] = NULL;
	l[2] = &lc[1];
	l[3] = &lc[2];
	l[4] = &lc[3];
	lc[2].aio_lio_opcode = LIO_NOP;
	CALL(lio_listio(LIO_WAIT, l, 5, NULL));
	for (int i = 0; i < 4; i++)
		if (i != 2)
			OUT("  [%d] error=%s return=%zd", i, ename(aio_error(&lc[i])), aio_return(&lc[i]));
	CALL(lio_listio(7, l, 5, NULL));
	CALL(lio_listio(LIO_WAIT, l, 0, NULL));
	CALL(lio_listio(LIO_WAIT, l, -1, NULL));
	/* A failing member: EIO, its own error in aio_error. */
	lc[1].aio_fildes = 999;
	CALL(lio_listio(LIO_WAIT, l, 5, NULL));
	OUT("  bad fd member error=%s, others %s %s", ename(aio_error(&lc[1])), ename(aio_error(&lc[0])),
	    ename(aio_error(&lc[3])));
	lc[1].aio_fildes = fd;
	lc[1].aio_offset = -1;
	CALL(lio_listio(LIO_WAIT, l, 5, NULL));
	OUT("  negative offset member error=%s", ename(aio_error(&lc[1])));
	lc[1].aio_offset = BS;
	lc[1].aio_reqprio = -5;
	CALL(lio_listio(LIO_WAIT, l, 5, NULL));
	OUT("  bad reqprio member error=%s", ename(aio_error(&lc[1])));
	lc[1].aio_reqprio = 0;
	lc[1].aio_lio_opcode = 42;
	CALL(lio_listio(LIO_WAIT, l, 5, NULL));
	OUT("  bad opcode member error=%s return=%zd", ename(aio_error(&lc[1])), aio_return(&lc[1]));
	lc[1].aio_lio_opcode = LIO_READ;

	/* LIO_NOWAIT: one notification after every member is done; members notify too. */
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = lio_note;
	for (int i = 0; i < 4; i++) {
		lc[i].aio_sigevent.sigev_notify = i == 2 ? SIGEV_NONE : SIGEV_THREAD;
		lc[i].aio_sigevent.sigev_notify_function = member_note;
	}
	atomic_store(&lio_notes, 0);
	atomic_store(&lio_member_notes, 0);
	CALL(lio_listio(LIO_NOWAIT, l, 5, &sev));
	n = settle(&lio_notes, 1);
	m = settle(&lio_member_notes, 3);
	OUT("  nowait: group notes=%d pending at note=%d member notes=%d", n,
	    atomic_load(&lio_pending_at_note), m);
	for (int i = 0; i < 4; i++)
		if (i != 2)
			OUT("  [%d] error=%s return=%zd", i, ename(wait_one(&lc[i])), aio_return(&lc[i]));
	/* LIO_WAIT also honours the members' own sigevents. */
	atomic_store(&lio_member_notes, 0);
	CALL(lio_listio(LIO_WAIT, l, 5, &sev));
	OUT("  wait: member notes=%d", settle(&lio_member_notes, 3));
	/* All NOP: the group notification still comes. */
	for (int i = 0; i < 4; i++)
		lc[i].aio_lio_opcode = LIO_NOP;
	atomic_store(&lio_notes, 0);
	CALL(lio_listio(LIO_NOWAIT, l, 5, &sev));
	OUT("  all-NOP: group notes=%d", settle(&lio_notes, 1));
	CALL(lio_listio(LIO_NOWAIT, l, 5, NULL));
	close(fd);
}

/* ---- what glibc does with odd arguments ---- */

static const char *opname(int op)
{
	static char b[32];

	snprintf(b, sizeof(b), "%d", op);
	return b;
}

/* A file's size and a checksum of its contents: a refused write must leave it alone. */
static void show_file(int fd)
{
	static char b[64 * 1024];
	unsigned long sum = 0;
	ssize_t n;
	off_t off = 0;

	while ((n = pread(fd, b, sizeof(b), off)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			sum = sum * 31 + (unsigned char)b[i];
		off += n;
	}
	OUT("  file: %lld bytes, sum %lx", (long long)off, sum);
}

/*
 * Lengths the kernel refuses (above SSIZE_MAX, or past the address space):
 * glibc's helper gets the kernel's answer, EFAULT. A length it only cuts
 * (one read or write moves at most MAX_RW_COUNT) is cut the same way.
 */
static void sc_lengths(void)
{
	static char buf[BS];
	static const size_t lens[] = { SSIZE_MAX, (size_t)SSIZE_MAX + 1, SIZE_MAX, (size_t)1 << 40 };
	struct aiocb a, b, *l[2];
	int fd = new_file(0, 2 * BS), null = open("/dev/null", O_RDWR), pfd[2];

	OUT("lengths");
	if (null < 0 || pipe(pfd))
		DIE("open");
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		prep(&a, fd, buf, lens[i], BS);
		a.aio_lio_opcode = 77;
		CALL(aio_read(&a));
		OUT("  read of %zu: opcode now %d", lens[i], a.aio_lio_opcode);
		show("read", &a);
	}
	for (size_t i = 0; i < 3; i++) {
		prep(&a, fd, buf, lens[i], 0);
		CALL(aio_write(&a));
		show("write", &a);
	}
	show_file(fd);
	prep(&a, 999, buf, SIZE_MAX, 0);
	CALL(aio_read(&a));
	show("bad fd", &a);
	prep(&a, fd, buf, SIZE_MAX, -1);
	CALL(aio_read(&a));
	show("negative offset", &a);
	prep(&a, pfd[0], buf, SIZE_MAX, 0);
	CALL(aio_read(&a));
	show("pipe", &a);
	prep(&a, pfd[1], buf, SIZE_MAX, 0);
	CALL(aio_write(&a));
	show("pipe write", &a);
	/* /dev/null takes any length without touching the buffer: one write moves MAX_RW_COUNT. */
	prep(&a, null, buf, (size_t)1 << 32, 0);
	CALL(aio_write(&a));
	show("2^32 to /dev/null", &a);
	prep(&a, null, buf, (size_t)1 << 40, 0);
	CALL(aio_read(&a));
	show("2^40 from /dev/null", &a);
	/* Notified like any other request; and as lio_listio() members. */
	prep(&a, fd, buf, SIZE_MAX, 0);
	a.aio_sigevent.sigev_notify = SIGEV_THREAD;
	a.aio_sigevent.sigev_notify_function = note_thread;
	a.aio_sigevent.sigev_value.sival_int = 5;
	atomic_store(&thr_count, 0);
	CALL(aio_read(&a));
	show("notified", &a);
	OUT("  notifications %d", settle(&thr_count, 1));
	prep(&a, fd, buf, SIZE_MAX, 0);
	a.aio_lio_opcode = LIO_READ;
	prep(&b, fd, buf, BS, 0);
	b.aio_lio_opcode = LIO_READ;
	l[0] = &a;
	l[1] = &b;
	CALL(lio_listio(LIO_WAIT, l, 2, NULL));
	OUT("  members: %s %zd, %s %zd", ename(aio_error(&a)), aio_return(&a), ename(aio_error(&b)),
	    aio_return(&b));
	a.aio_lio_opcode = LIO_WRITE;
	a.aio_fildes = pfd[1];
	CALL(lio_listio(LIO_WAIT, l, 2, NULL));
	OUT("  pipe member: %s %zd", ename(aio_error(&a)), aio_return(&a));
	close(pfd[0]);
	close(pfd[1]);
	close(null);
	close(fd);
}

/*
 * aio_fsync(): only O_SYNC and O_DSYNC exactly; the fd must be open (any
 * access mode); aio_reqprio is not checked but set to 0; aio_lio_opcode
 * becomes glibc's sync opcode. aio_read()/aio_write() set it to theirs.
 */
static void sc_fsync_ops(void)
{
	static char buf[BS];
	static const int ops[] = { O_SYNC, O_DSYNC, O_SYNC | O_DSYNC, O_SYNC & ~O_DSYNC, 0, O_RDWR,
				   O_DSYNC | O_RDWR, O_SYNC | O_APPEND, -1 };
	static const int prios[] = { 0, -1, AIO_PRIO_DELTA_MAX + 1, INT_MIN };
	struct aiocb a;
	int fd = new_file(0, BS), ro, pfd[2];
	char path[64];

	OUT("fsync_ops");
	if (pipe(pfd))
		DIE("pipe");
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		prep(&a, fd, buf, BS, 0);
		a.aio_lio_opcode = 77;
		errno = 0;
		int r = aio_fsync(ops[i], &a), e = errno;

		OUT("  aio_fsync(%#x) = %d%s%s, opcode %d", (unsigned int)ops[i], r, r ? " errno=" : "",
		    r ? strerrorname_np(e) : "", a.aio_lio_opcode);
		if (!r)
			show("fsync", &a);
	}
	for (size_t i = 0; i < sizeof(prios) / sizeof(prios[0]); i++) {
		prep(&a, fd, buf, BS, 0);
		a.aio_reqprio = prios[i];
		CALL(aio_fsync(i & 1 ? O_DSYNC : O_SYNC, &a));
		OUT("  reqprio %d: now %d, opcode %d", prios[i], a.aio_reqprio, a.aio_lio_opcode);
		show("fsync", &a);
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY);
	prep(&a, ro, buf, BS, 0);
	CALL(aio_fsync(O_SYNC, &a));
	show("read-only fd", &a);
	prep(&a, pfd[0], buf, BS, 0);
	CALL(aio_fsync(O_DSYNC, &a));
	show("pipe", &a);
	prep(&a, fd, buf, 10, 0);
	a.aio_lio_opcode = 3;
	CALL(aio_read(&a));
	show("read", &a);
	OUT("  opcode after aio_read %d", a.aio_lio_opcode);
	a.aio_lio_opcode = LIO_NOP;
	CALL(aio_write(&a));
	show("write", &a);
	OUT("  opcode after aio_write %d", a.aio_lio_opcode);
	prep(&a, fd, buf, 10, 0);
	a.aio_reqprio = -1;
	a.aio_lio_opcode = 42;
	CALL(aio_read(&a));
	OUT("  refused: opcode %d", a.aio_lio_opcode);
	close(pfd[0]);
	close(pfd[1]);
	close(ro);
	close(fd);
}

/*
 * lio_listio() opcodes as glibc's helper reads them: the low 7 bits make a
 * read or write; 3 and 4 exactly are its fdatasync and fsync (priority not
 * checked, set to 0); anything else is accepted and fails with EINVAL, with
 * the member's own notification.
 */
static void sc_lio_ops(void)
{
	static char buf[2][BS];
	static const int ops[] = { LIO_READ | 128, LIO_WRITE | 128, 256, 257, -128, -127, 3, 4, 5, 130, 131,
				   132, 42, -1, INT_MIN };
	struct aiocb a, w, *l[2], *ll[4] = { &lc[0], &lc[1], &lc[2], &lc[3] };
	struct sigevent sev;
	int fd = new_file(0, 2 * BS), n;

	OUT("lio_ops");
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		for (int prio = 0; prio >= -1; prio--) {
			prep(&a, fd, buf[0], BS, 0);
			a.aio_lio_opcode = ops[i];
			a.aio_reqprio = prio;
			a.aio_sigevent.sigev_notify = SIGEV_THREAD;
			a.aio_sigevent.sigev_notify_function = note_thread;
			a.aio_sigevent.sigev_value.sival_int = (int)i;
			l[0] = &a;
			atomic_store(&thr_count, 0);
			errno = 0;
			int r = lio_listio(LIO_WAIT, l, 1, NULL), e = errno;

			OUT("  opcode %s prio %d: lio_listio = %d%s%s, member %s %zd, opcode %d prio %d, notes %d",
			    opname(ops[i]), prio, r, r ? " errno=" : "", r ? strerrorname_np(e) : "",
			    ename(aio_error(&a)), aio_return(&a), a.aio_lio_opcode, a.aio_reqprio,
			    settle(&thr_count, r && e == EINVAL ? 0 : 1));
		}
	}
	/* A sync in a list waits for the writes before it on its fd, as aio_fsync() does. */
	memset(buf[1], 'w', BS);
	prep(&w, fd, buf[1], BS, BS);
	w.aio_lio_opcode = LIO_WRITE;
	prep(&a, fd, NULL, 0, 0);
	a.aio_lio_opcode = 3;
	l[0] = &w;
	l[1] = &a;
	CALL(lio_listio(LIO_WAIT, l, 2, NULL));
	OUT("  write %s %zd, sync %s %zd", ename(aio_error(&w)), aio_return(&w), ename(aio_error(&a)),
	    aio_return(&a));
	show_file(fd);
	/* LIO_NOWAIT: a bad opcode still ends in the group's notification. */
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = lio_note;
	for (int i = 0; i < 4; i++) {
		prep(&lc[i], fd, buf[0], 100, 0);
		lc[i].aio_lio_opcode = i == 1 ? 9 : i == 2 ? LIO_NOP : LIO_READ;
	}
	atomic_store(&lio_notes, 0);
	CALL(lio_listio(LIO_NOWAIT, ll, 4, &sev));
	n = settle(&lio_notes, 1);
	OUT("  nowait with a bad opcode: group notes %d, pending at note %d", n,
	    atomic_load(&lio_pending_at_note));
	for (int i = 0; i < 4; i++)
		if (i != 2)
			OUT("  [%d] error=%s return=%zd", i, ename(wait_one(&lc[i])), aio_return(&lc[i]));
	/* lio_listio on a bad fd: a sync member fails in aio_error, not in the call. */
	prep(&a, 999, NULL, 0, 0);
	a.aio_lio_opcode = 4;
	l[0] = &a;
	CALL(lio_listio(LIO_WAIT, l, 1, NULL));
	OUT("  sync on bad fd: %s %zd", ename(aio_error(&a)), aio_return(&a));
	close(fd);
}

/* A completion signal that does not exist: glibc makes the request's result EINVAL. */
static void sc_signo(void)
{
	static char buf[BS];
	static const int signos[] = { 0, 65, -3, 1000, INT_MIN };
	struct aiocb a, *l[1];
	int fd = new_file(0, BS), dir = open(dir_path, O_RDONLY | O_DIRECTORY);

	OUT("signo");
	for (size_t i = 0; i < sizeof(signos) / sizeof(signos[0]); i++) {
		prep(&a, fd, buf, 100, 0);
		a.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
		a.aio_sigevent.sigev_signo = signos[i];
		CALL(aio_read(&a));
		show("read", &a);
		prep(&a, fd, buf, 100, 0);
		a.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
		a.aio_sigevent.sigev_signo = signos[i];
		CALL(aio_fsync(O_SYNC, &a));
		show("fsync", &a);
	}
	/* And a directory: pread says EISDIR. */
	OUT("directory");
	prep(&a, dir, buf, 100, 0);
	CALL(aio_read(&a));
	show("read", &a);
	a.aio_lio_opcode = LIO_READ;
	l[0] = &a;
	CALL(lio_listio(LIO_WAIT, l, 1, NULL));
	OUT("  member: %s %zd", ename(aio_error(&a)), aio_return(&a));
	close(dir);
	close(fd);
}

/* ---- slow requests: aio_suspend() arguments and cancellation ---- */

/*
 * A read of /dev/zero into `len` bytes that are one 1 MiB memfd mapped over
 * and over, with little memory, in glibc's helper thread or in the engine
 * alike. /dev/zero is seekable, so the shim routes it. Once the pages are
 * mapped the kernel spends only ~35 us per MiB here (1 GiB: ~35 ms; the
 * first read, which maps them, ~0.4 ms per MiB): the largest read stays
 * just under the kernel's MAX_RW_COUNT (2 GiB - 4 KiB) and takes ~70 ms.
 */
#define SLOW_CHUNK (1u << 20)
#define SLOW_MAX (2047u * SLOW_CHUNK)
static char *slow_buf;
static int slow_zero = -1;

static int zero_fd(void)
{
	if (slow_zero < 0)
		slow_zero = open("/dev/zero", O_RDONLY);
	if (slow_zero < 0)
		DIE("/dev/zero");
	return slow_zero;
}

static void slow_start(struct aiocb *cb, size_t len)
{
	if (!slow_buf) {
		int mfd = (int)syscall(SYS_memfd_create, "aio-diff", 0);

		slow_buf = mmap(NULL, SLOW_MAX, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mfd < 0 || ftruncate(mfd, SLOW_CHUNK) || slow_buf == MAP_FAILED)
			DIE("slow buffer: %s", strerror(errno));
		for (size_t off = 0; off < SLOW_MAX; off += SLOW_CHUNK)
			if (mmap(slow_buf + off, SLOW_CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, mfd,
				 0) == MAP_FAILED)
				DIE("mmap: %s", strerror(errno));
		close(mfd);
	}
	prep(cb, zero_fd(), slow_buf, len, 0);
	if (aio_read(cb))
		DIE("slow aio_read: %s", strerror(errno));
}

/*
 * A request that stays in progress until the test lets it end: a 1 MiB read
 * of /dev/zero into pages that a userfaultfd keeps missing. Whichever thread
 * does the read (glibc's helper, the engine's submitter, an io_uring
 * worker) blocks in the kernel on the first page until block_release(); it
 * is larger than what the shim does in the caller's thread (64 KiB), so
 * aio_read() returns at once. block_start() returns once the reader is
 * blocked. Without userfaultfd (vm.unprivileged_userfaultfd=0 and no
 * CAP_SYS_PTRACE) the request is a slow read instead, and the callers retry
 * until it was still in progress where they needed it to be.
 */
#define BLOCK_LEN (1u << 20)
static struct fault_hold block;

/* Start a request that is in progress until block_release(); false: a slow read (see above). */
static bool block_start(struct aiocb *cb, size_t slow_len)
{
	static int state;	/* 0: not tried, 1: works, -1: not here */
	int before;

	if (!state)
		state = fault_hold_init(&block, BLOCK_LEN) ? 1 : -1;
	if (state < 0) {
		slow_start(cb, slow_len);
		return false;
	}
	before = fault_hold_arm(&block);
	prep(cb, zero_fd(), block.buf, BLOCK_LEN, 0);
	if (aio_read(cb))
		DIE("blocked aio_read: %s", strerror(errno));
	fault_hold_wait(&block, before);
	return true;
}

static void block_release(void)
{
	if (block.buf)
		fault_hold_release(&block);
}

/* Its end, with room for a loaded machine (each wait_one() wait is 10 s at most). */
static void slow_end(struct aiocb *cb, size_t len)
{
	for (int i = 0; i < 6 && aio_error(cb) == EINPROGRESS; i++) {
		const struct aiocb *l[1] = { cb };
		struct timespec ts = { 10, 0 };

		aio_suspend(l, 1, &ts);
	}
	if (wait_one(cb) || aio_return(cb) != (ssize_t)len)
		DIE("slow read: %s %zd", ename(aio_error(cb)), aio_return(cb));
}

/* End a request of block_start() (blocked: what it returned), released unless it was already. */
static void block_end(struct aiocb *cb, bool blocked, bool release, size_t slow_len)
{
	if (blocked && release)
		block_release();
	slow_end(cb, blocked ? BLOCK_LEN : slow_len);
}

static void sc_suspend_args(void)
{
	static char pbuf[16];
	struct aiocb a, p;
	const struct aiocb *l[2];
	bool blocked;
	struct timespec bad = { 0, 2000000000L }, neg = { -1, 0 }, negn = { 0, -1 }, huge = { LONG_MAX, 0 };
	int pfd[2];

	OUT("suspend_args");
	if (pipe(pfd))
		DIE("pipe");
	prep(&a, pfd[0], pbuf, 1, 0);
	l[0] = &a;
	CALL(aio_suspend(l, -1, NULL));
	CALL(aio_suspend(l, INT_MIN, &bad));
	/* Nothing to wait for: the timeout is not looked at. */
	CALL(aio_suspend(l, 0, &bad));
	slow_start(&a, 16 * SLOW_CHUNK);
	slow_end(&a, 16 * SLOW_CHUNK);
	CALL(aio_suspend(l, 1, &bad));
	CALL(aio_suspend(l, 1, &neg));
	/* In progress: a timeout that ends in the past (or wraps) is at once EAGAIN. */
	blocked = block_start(&a, SLOW_MAX);
	CALL(aio_suspend(l, 1, &neg));
	CALL(aio_suspend(l, 1, &negn));
	CALL(aio_suspend(l, 1, &huge));
	/* Mixed with a pipe read (glibc's own request on Linux AIO): the same. */
	prep(&p, pfd[0], pbuf, 1, 0);
	CALL(aio_read(&p));
	l[1] = &p;
	CALL(aio_suspend(l, 2, &neg));
	OUT("  slow read still in progress: %d", aio_error(&a) == EINPROGRESS);
	block_end(&a, blocked, true, SLOW_MAX);
	if (write(pfd[1], "x", 1) != 1)
		DIE("write");
	show("pipe read", &p);
	close(pfd[0]);
	close(pfd[1]);
}

static _Atomic int susp_entered, susp_returned, susp_tid;

struct susp_arg {
	const struct aiocb *const *list;
	int n;
	bool self_cancel;
};

/* No other cancellation point between the start and aio_suspend()'s return. */
static void *suspender(void *p)
{
	struct susp_arg *s = p;

	if (s->self_cancel)
		pthread_cancel(pthread_self());
	atomic_store(&susp_tid, (pid_t)syscall(SYS_gettid));
	atomic_store(&susp_entered, 1);
	aio_suspend(s->list, s->n, NULL);
	atomic_store(&susp_returned, 1);
	return NULL;
}

/*
 * A thread blocked in aio_suspend() is cancelled by pthread_cancel() (POSIX
 * and glibc: a cancellation point), and a pending cancel acts once it blocks;
 * it does not act when aio_suspend() returns at once. The request goes on.
 * The request is blocked until the thread has gone (block_start()); without
 * userfaultfd the result is conclusive only if the slow read was still in
 * progress then, and a longer one is tried if not.
 */
static void sc_suspend_cancel(void)
{
	static const char *what[] = { "blocked", "blocked, mixed list", "cancel pending at the call",
				      "cancel pending, request done" };
	static char pbuf[16];
	struct aiocb a, p;
	const struct aiocb *l[2] = { &a, &p };
	int pfd[2];

	OUT("suspend_cancel");
	if (pipe(pfd))
		DIE("pipe");
	prep(&p, pfd[0], pbuf, 1, 0);
	if (aio_read(&p))
		DIE("aio_read pipe");
	for (int c = 0; c < 4; c++) {
		struct susp_arg s = { l, c == 1 ? 2 : 1, c >= 2 };
		bool conclusive = false, cancelled = false;
		size_t len = SLOW_MAX / 8;

		for (int tries = 0; tries < 20 && !conclusive; tries++, len *= 2) {
			pthread_t t;
			void *res;
			bool blocked;

			if (len > SLOW_MAX)
				len = SLOW_MAX;
			blocked = block_start(&a, len);
			if (c == 3)
				block_end(&a, blocked, true, len);
			atomic_store(&susp_entered, 0);
			atomic_store(&susp_returned, 0);
			if (pthread_create(&t, NULL, suspender, &s))
				DIE("pthread_create");
			if (c < 2) {
				while (!atomic_load(&susp_entered))
					sleep_ms(1);
				/* Into its wait (a cancel that comes before acts there too). */
				for (int i = 0; i < 10000 && !thread_in_wait(atomic_load(&susp_tid)); i++)
					usleep(200);
				pthread_cancel(t);
			}
			pthread_join(t, &res);
			cancelled = res == PTHREAD_CANCELED;
			conclusive = c == 3 || aio_error(&a) == EINPROGRESS;
			if (c != 3)
				block_end(&a, blocked, true, len);
		}
		if (conclusive)
			OUT("  %s: cancelled %d, returned from aio_suspend %d", what[c], cancelled,
			    atomic_load(&susp_returned));
		else
			OUT("  %s: the request always completed before the thread had gone", what[c]);
	}
	/* Nothing was left behind: requests and waits go on as before. */
	slow_start(&a, SLOW_CHUNK);
	show("after", &a);
	if (write(pfd[1], "x", 1) != 1)
		DIE("write");
	show("pipe read", &p);
	close(pfd[0]);
	close(pfd[1]);
}

/*
 * A handler runs while aio_suspend() waits for a request in progress:
 * without SA_RESTART it says EINTR; with SA_RESTART it goes on waiting when
 * it has no timeout, and says EINTR when it has one (glibc's futex wait, as
 * the kernel restarts it). The request is blocked (block_start()) until
 * the handler has run. Without userfaultfd it is a slow read: conclusive
 * only if the handler ran in the wait and, for a wait that went on, the
 * request ended well after it (the shim delivers a signal up to 1 ms
 * late); a longer request is tried if not. The
 * signal comes 2 ms after the thread is seen in the wait: a fixed delay from
 * the call was inconclusive 4 times in a row in one CI run (the 256 MiB to
 * 1 GiB reads of /dev/zero take 9-36 ms once their pages are mapped).
 */
static _Atomic int usr2;
static _Atomic uint64_t usr2_ms;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void usr2_handler(int s)
{
	(void)s;
	atomic_store(&usr2_ms, now_ms());
	atomic_fetch_add(&usr2, 1);
}

static void sc_suspend_signal(void)
{
	static const char *what[] = { "no SA_RESTART, no timeout", "SA_RESTART, no timeout",
				      "SA_RESTART, 5 s timeout" };
	struct sigaction sa;
	struct kick usr2_kick = { pthread_self(), SIGUSR2, 2, (pid_t)syscall(SYS_gettid), NULL };
	pthread_t k;
	struct aiocb a;
	const struct aiocb *l[1] = { &a };
	struct timespec five = { 5, 0 };

	OUT("suspend_signal");
	for (int c = 0; c < 3; c++) {
		bool conclusive = false;
		size_t len = SLOW_MAX / 4;
		long r = 0;
		int err = 0;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = usr2_handler;
		sa.sa_flags = c ? SA_RESTART : 0;
		sigaction(SIGUSR2, &sa, NULL);
		for (int tries = 0; tries < 20 && !conclusive; tries++, len *= 2) {
			bool blocked;

			if (len > SLOW_MAX)
				len = SLOW_MAX;
			atomic_store(&usr2, 0);
			blocked = block_start(&a, len);
			/* A blocked request ends only after the handler ran. */
			usr2_kick.ran = blocked ? &usr2 : NULL;
			pthread_create(&k, NULL, kick, &usr2_kick);
			errno = 0;
			r = aio_suspend(l, 1, c == 2 ? &five : NULL);
			err = r ? errno : 0;
			/* The handler ran in the wait. */
			conclusive = atomic_load(&usr2) == 1 &&
				     (blocked || r || now_ms() > atomic_load(&usr2_ms) + 5);
			pthread_join(k, NULL);
			block_end(&a, blocked, false, len);
		}
		if (conclusive)
			OUT("  %s: aio_suspend = %ld%s%s", what[c], r, r ? " errno=" : "",
			    r ? strerrorname_np(err) : "");
		else
			OUT("  %s: the request always completed before the signal", what[c]);
	}
	signal(SIGUSR2, SIG_DFL);
}

/* ---- reuse, fork, exit ---- */

static void sc_reuse(void)
{
	static char buf[512];
	struct aiocb a;
	int fd = new_file(0, 4096), bad = 0;

	OUT("reuse");
	for (int i = 0; i < 2000; i++) {
		prep(&a, fd, buf, sizeof(buf), (i % 8) * 512);
		if (i & 1 ? aio_write(&a) : aio_read(&a))
			DIE("submit %d: %s", i, strerror(errno));
		if (wait_one(&a) || aio_return(&a) != (ssize_t)sizeof(buf))
			bad++;
	}
	OUT("  2000 requests on one aiocb, bad=%d", bad);
	close(fd);
}

static void sc_exit(void)
{
	int fd = new_file(0, 64 * BS), st;
	pid_t pid;

	OUT("exit");
	/* Exit with requests in flight: no hang, status kept. */
	pid = fork();
	if (!pid) {
		static struct aiocb m[64];
		static char b[64][BS];

		for (int i = 0; i < 64; i++) {
			prep(&m[i], fd, b[i], BS, (off_t)i * BS);
			aio_read(&m[i]);
		}
		exit(7);
	}
	waitpid(pid, &st, 0);
	OUT("  exit with requests in flight: status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	close(fd);
}

/*
 * glibc's AIO does not work in the child of a process that used it (the
 * child's request waits for a helper thread that only the parent has), so
 * this is shim-only: the child starts with no requests and a working engine.
 */
static void sc_fork(void)
{
	static char buf[BS];
	struct aiocb a, m[16];
	int fd = new_file(0, 64 * BS), st;
	pid_t pid;

	OUT("fork");
	for (int i = 0; i < 16; i++) {
		prep(&m[i], fd, malloc(BS), BS, (off_t)i * BS);
		aio_read(&m[i]);
	}
	pid = fork();
	if (!pid) {
		prep(&a, fd, buf, BS, BS);
		if (aio_read(&a) || wait_one(&a) || aio_return(&a) != BS)
			_exit(3);
		_exit(aio_cancel(fd, NULL) == AIO_ALLDONE ? 0 : 4);
	}
	waitpid(pid, &st, 0);
	OUT("  child: exit %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	for (int i = 0; i < 16; i++)
		if (wait_one(&m[i]) || aio_return(&m[i]) != BS)
			DIE("parent request %d", i);
	for (int i = 0; i < 16; i++)
		free((void *)m[i].aio_buf);
	close(fd);
}

/* ---- only under the shim (glibc differs on purpose) ---- */

/* glibc 2.36 ignores SIGEV_THREAD_ID for AIO; the shim queues the signal to that thread. */
static void sc_thread_id(void)
{
	static char buf[BS];
	struct aiocb cb;
	int fd = new_file(0, 8192), n;

	OUT("notify_thread_id");
	/* SIGEV_THREAD_ID: to this thread. */
	prep(&cb, fd, buf, BS, BS);
	cb.aio_sigevent.sigev_notify = SIGEV_THREAD_ID;
	cb.aio_sigevent.sigev_signo = SIG_NOTE;
	cb.aio_sigevent.sigev_value.sival_int = 77;
	cb.aio_sigevent._sigev_un._tid = main_tid;
	atomic_store(&sig_count, 0);
	atomic_store(&sig_in_tid, 0);
	CALL(aio_read(&cb));
	n = settle(&sig_count, 1);
	OUT("  thread_id: count=%d code_ok=%d value=%d in_tid=%d", n,
	    atomic_load(&sig_code_ok), atomic_load(&sig_val), atomic_load(&sig_in_tid));
	show("read", &cb);
	close(fd);
}

static void sc_shim_only(void)
{
	static char buf[BS];
	struct aiocb a, *l[1];
	int fd = new_file(0, BS), pfd[2];

	OUT("shim-only");
	if (pipe(pfd))
		DIE("pipe");
	/* The same aiocb again while in flight: refused, first request intact. */
	prep(&a, fd, buf, BS, 0);
	for (int i = 0; i < 100; i++) {
		int r1 = aio_read(&a), r2 = aio_read(&a), e2 = errno;

		if (r1 || (r2 && e2 != EAGAIN) || wait_one(&a) || aio_return(&a) != BS)
			DIE("duplicate: %d %d %d", r1, r2, e2);
		if (r2 == 0)
			wait_one(&a);	/* the first had already finished */
	}
	OUT("  duplicate submission: ok");
	l[0] = &a;
	CALL(lio_listio(LIO_WAIT, l, 100000000, NULL));
	close(fd);
	close(pfd[0]);
	close(pfd[1]);
	sc_fork();
	sc_thread_id();
}

/* Run with IOENGINE_AIO_MAX=1: a second request while one is out is EAGAIN. */
static void sc_limit(void)
{
	static char buf[64][512];
	struct aiocb a[64];
	int fd = new_file(0, 64 * 512), eagain = 0, other = 0, bad = 0;

	OUT("limit");
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 64; i++) {
			prep(&a[i], fd, buf[i], 512, (off_t)i * 512);
			if (aio_read(&a[i])) {
				if (errno == EAGAIN)
					eagain++;
				else
					other++;
				a[i].aio_fildes = -1;
			}
		}
		for (int i = 0; i < 64; i++)
			if (a[i].aio_fildes >= 0 && (wait_one(&a[i]) || aio_return(&a[i]) != 512))
				bad++;
	}
	OUT("  EAGAIN seen: %d, other errors %d, bad results %d", eagain > 0, other, bad);
	close(fd);
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [shim-only]\n", argv[0]);
		return 2;
	}
	dir = dir_path = argv[1];
	main_tid = (pid_t)syscall(SYS_gettid);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = note_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIG_NOTE, &sa, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = usr1_handler;	/* no SA_RESTART: aio_suspend says EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	if (argc > 2 && !strcmp(argv[2], "limit")) {
		sc_limit();
		return 0;
	}
	if (argc > 2 && !strcmp(argv[2], "shim-only")) {
		sc_shim_only();
		return 0;
	}
	sc_rw();
	sc_notify_signal();
	sc_notify_thread();
	sc_suspend();
	sc_cancel();
	sc_fsync();
	sc_lio();
	sc_lengths();
	sc_fsync_ops();
	sc_lio_ops();
	sc_signo();
	sc_suspend_args();
	sc_suspend_cancel();
	sc_suspend_signal();
	sc_reuse();
	sc_exit();
	OUT("end");
	return 0;
}
