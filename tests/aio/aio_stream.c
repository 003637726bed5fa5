/* SPDX-License-Identifier: MIT */
/*
 * POSIX AIO on pipes and sockets, differential like aio_diff.c (run_diff.sh
 * runs it against glibc and under the shim, on each backend): cancelling
 * requests queued or blocked on a socket, by fd and by aiocb, with each
 * notification; cancel racing completion; lio_listio() on a socketpair and a
 * pipe; aio_suspend() on pipes and sockets; the order of one fd's requests.
 *
 * A request blocked in the kernel is cancelled by the shim on io_uring,
 * where glibc says AIO_NOTCANCELED (its helper thread is in write()). So the
 * transcript prints what both must agree on (POSIX's rules, what was
 * written, what arrived), and the shim-only run prints the details, which
 * stream_shim_only.BACKEND.expected asserts.
 *
 * Every wait has a time limit (DIE), and every outcome is decided by the
 * kernel, not by timing: a request counts as blocked once a thread of this
 * process sleeps in its system call on the fd (glibc's helper) or one of
 * the process's rings has it waiting for the fd to be ready (io_uring's
 * poll list, in the ring's fdinfo).
 *
 * Usage: aio_stream DIR [shim-only]
 */
#include <aio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "aio_util.h"
#include "task_file.h"

#define SIG_NOTE	(SIGRTMIN + 1)
#define SIG_LIST	(SIGRTMIN + 2)
#define NREQ		5
#define NOTE_MAX	256

static const char *dir;
static bool details;	/* the shim-only run: only the lines that may differ from glibc */
/*
 * The shim on Linux AIO, where glibc has a pipe's or socket's requests: a
 * SIGEV_THREAD_ID one is notified by a thread glibc starts for it (as its
 * list notification, see shim/aio_glibc.c), maybe after aio_cancel() returned.
 */
static bool glibc_notes;
static pid_t main_tid;

#define MAIN(...) do { if (!details) OUT(__VA_ARGS__); } while (0)
#define DETAIL(...) do { if (details) OUT(__VA_ARGS__); } while (0)

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static const char *ename(int e)
{
	return e == 0 ? "0" : e == EINPROGRESS ? "EINPROGRESS" : strerrorname_np(e);
}

/* ---- where a request is ---- */

/* How many threads of this process sleep in system call nr on fd. */
static int threads_in(int fd, long nr)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (!d)
		DIE("/proc/self/task: %s", strerror(errno));
	while ((de = readdir(d))) {
		char line[128], *end;

		if (de->d_name[0] == '.' || !task_file((pid_t)atoi(de->d_name), "syscall", line, sizeof(line)))
			continue;
		if (strtol(line, &end, 10) == nr && strtol(end, NULL, 16) == fd)
			n++;
	}
	closedir(d);
	return n;
}

/* Requests waiting for their file to be ready in this process's io_urings (their fdinfo's PollList). */
static int uring_polls(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		DIE("/proc/self/fd: %s", strerror(errno));
	while ((de = readdir(d))) {
		char path[300], target[64], line[256];
		ssize_t len;
		bool in_list = false;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = 0;
		if (strcmp(target, "anon_inode:[io_uring]"))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "PollList:", 9))
				in_list = true;
			else if (in_list && !strncmp(line, "  op=", 5))
				n++;
			else
				in_list = false;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

/*
 * Wait until n requests, one on each of fds[0..n), are blocked: each fd has
 * a thread asleep in system call nr, or the rings have n requests waiting.
 */
static void wait_blocked(const int *fds, int n, long nr)
{
	for (int i = 0; i < 30000; i++) {
		int threads = 0;

		for (int j = 0; j < n; j++)
			threads += threads_in(fds[j], nr) > 0;
		if (threads == n || uring_polls() >= n)
			return;
		sleep_ms(1);
	}
	DIE("%d requests did not block in 30 s", n);
}

/* ---- notifications: each request's sigev_value is its own number ---- */

enum note { NOTE_NONE, NOTE_SIGNAL, NOTE_THREAD, NOTE_THREAD_ID };
static const char *note_names[] = { "none", "signal", "thread", "thread id" };
static _Atomic int notes[NOTE_MAX], notes_total, notes_elsewhere;

static void note_handler(int s, siginfo_t *si, void *u)
{
	int v = si->si_value.sival_int;

	(void)s;
	(void)u;
	if (si->si_code != SI_ASYNCIO || v < 0 || v >= NOTE_MAX)
		DIE("odd notification: code %d value %d", si->si_code, v);
	if ((pid_t)syscall(SYS_gettid) != main_tid)
		atomic_fetch_add(&notes_elsewhere, 1);
	atomic_fetch_add(&notes[v], 1);
	atomic_fetch_add(&notes_total, 1);
}

static void note_thread(union sigval v)
{
	atomic_fetch_add(&notes[v.sival_int], 1);
	atomic_fetch_add(&notes_total, 1);
}

static void notes_reset(void)
{
	for (int i = 0; i < NOTE_MAX; i++)
		atomic_store(&notes[i], 0);
	atomic_store(&notes_total, 0);
	atomic_store(&notes_elsewhere, 0);
}

static void set_note(struct aiocb *cb, enum note how, int value)
{
	struct sigevent *sev = &cb->aio_sigevent;

	sev->sigev_value.sival_int = value;
	switch (how) {
	case NOTE_NONE:
		sev->sigev_notify = SIGEV_NONE;
		break;
	case NOTE_SIGNAL:
		sev->sigev_notify = SIGEV_SIGNAL;
		sev->sigev_signo = SIG_NOTE;
		break;
	case NOTE_THREAD:
		sev->sigev_notify = SIGEV_THREAD;
		sev->sigev_notify_function = note_thread;
		break;
	case NOTE_THREAD_ID:
		sev->sigev_notify = SIGEV_THREAD_ID;
		sev->sigev_signo = SIG_NOTE;
		sev->_sigev_un._tid = main_tid;
		break;
	}
}

/* Wait until notes_total reaches want (30 s at most), then a little longer to catch duplicates. */
static int notes_settle(int want)
{
	for (int i = 0; i < 30000 && atomic_load(&notes_total) < want; i++)
		sleep_ms(1);
	sleep_ms(30);
	return atomic_load(&notes_total);
}

/* Whether the requests first..first+n-1 were each notified exactly once (none: never). */
static bool notes_once(int first, int n, enum note how)
{
	for (int i = first; i < first + n; i++)
		if (atomic_load(&notes[i]) != (how == NOTE_NONE ? 0 : 1))
			return false;
	return true;
}

/* ---- sockets ---- */

static void dgram_pair(int sv[2])
{
	struct timeval tv = { 10, 0 };

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		DIE("socketpair: %s", strerror(errno));
	/* A receive that never comes is a failure, not a hang. */
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static size_t sndbuf(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len) || v < 4096)
		DIE("SO_SNDBUF");
	return (size_t)v;
}

/* The next datagram's first byte (its tag), waiting 10 s at most. */
static int recv_tag(int fd, char *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		DIE("recv: %s", n ? strerror(errno) : "end");
	return (unsigned char)buf[0];
}

static bool nothing_more(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/* ---- cancelling writes queued on a socket ---- */

static const char *cancel_name(int r)
{
	return r == AIO_CANCELED ? "AIO_CANCELED" : r == AIO_NOTCANCELED ? "AIO_NOTCANCELED" :
	       r == AIO_ALLDONE ? "AIO_ALLDONE" : "error";
}

/*
 * Whether r is what POSIX says aio_cancel(fd, NULL) returns for requests
 * left in states err[] (looked at after it returned). settled: none of
 * them could end meanwhile; else one it did not cancel may have.
 */
static bool fd_result_ok(int r, const int *err, int n, bool settled)
{
	bool in_progress = false, cancelled = false, not_cancelled = false;

	for (int i = 0; i < n; i++) {
		in_progress |= err[i] == EINPROGRESS;
		cancelled |= err[i] == ECANCELED;
		not_cancelled |= err[i] != ECANCELED;
	}
	if (!settled && r == AIO_NOTCANCELED)
		return not_cancelled;
	return r == (in_progress ? AIO_NOTCANCELED : cancelled ? AIO_CANCELED : AIO_ALLDONE);
}

/*
 * Whether r is what POSIX says aio_cancel(fd, cb) returns when it leaves cb
 * in state err (looked at after it returned: one not cancelled may have
 * ended meanwhile).
 */
static bool cb_result_ok(int r, int err, ssize_t ret)
{
	switch (r) {
	case AIO_CANCELED:
		return err == ECANCELED && ret == -1;
	case AIO_NOTCANCELED:
		return err != ECANCELED;
	case AIO_ALLDONE:
		return err != EINPROGRESS && err != ECANCELED;
	default:
		return false;
	}
}

/*
 * NREQ writes of half the socket buffer each to one end of a datagram
 * socketpair: the first ones go through, the next one blocks until the
 * peer reads, the rest wait behind it. Then aio_cancel(), by fd or for
 * each request by aiocb, then the peer reads what was not cancelled.
 * at_once: the cancel right after the writes, wherever they are (how many
 * went through is then timing: only the rules are printed).
 */
static void sock_cancel(bool by_fd, enum note how, bool at_once)
{
	static char buf[NREQ][256 * 1024], rbuf[256 * 1024];
	struct aiocb w[NREQ];
	int sv[2], err[NREQ], res[NREQ], done = 0, left = 0, in_progress = 0, got, r = -1;
	bool posix_ok = true, rets_ok = true, rest_cancelled = true, order_ok = true, one_ok = true;
	bool noted = true;	/* SIGEV_THREAD_ID: each cancelled one's signal handled before the cancel returned */
	size_t len;

	dgram_pair(sv);
	len = sndbuf(sv[0]) / 2;
	if (len > sizeof(buf[0]))
		DIE("socket buffer %zu", 2 * len);
	notes_reset();
	for (int i = 0; i < NREQ; i++) {
		memset(buf[i], 'a' + i, len);
		prep(&w[i], sv[0], buf[i], len, 0);
		set_note(&w[i], how, i);
		if (aio_write(&w[i]))
			DIE("aio_write: %s", strerror(errno));
	}
	MAIN("sock_cancel by %s, notify %s%s", by_fd ? "fd" : "aiocb", note_names[how], at_once ? ", at once" : "");
	if (!at_once) {
		wait_blocked(&sv[0], 1, SYS_write);
		for (done = 0; done < NREQ && aio_error(&w[done]) != EINPROGRESS; done++)
			if (aio_error(&w[done]) || aio_return(&w[done]) != (ssize_t)len)
				DIE("write %d: %s", done, ename(aio_error(&w[done])));
		MAIN("  before the cancel: %d written, the next one blocked", done);
	}
	if (by_fd) {
		r = aio_cancel(sv[0], NULL);
		for (int i = 0; i < NREQ; i++) {
			err[i] = aio_error(&w[i]);
			rets_ok &= err[i] != ECANCELED || aio_return(&w[i]) == -1;
			noted &= err[i] != ECANCELED || atomic_load(&notes[i]) == 1;
		}
		posix_ok = fd_result_ok(r, err, NREQ, !at_once);
	} else {
		for (int i = 0; i < NREQ; i++) {
			res[i] = aio_cancel(sv[0], &w[i]);
			noted &= res[i] != AIO_CANCELED || atomic_load(&notes[i]) == 1;
			err[i] = aio_error(&w[i]);
			posix_ok &= cb_result_ok(res[i], err[i], aio_return(&w[i]));
			rets_ok &= err[i] != ECANCELED || aio_return(&w[i]) == -1;
			/* In progress, so every one before it is done. */
			for (int j = 0; j < i && err[i] == EINPROGRESS; j++)
				one_ok &= aio_error(&w[j]) != EINPROGRESS;
		}
		for (int i = 0; i < done; i++)
			posix_ok &= res[i] == AIO_ALLDONE;
	}
	for (int i = 0; i < NREQ; i++) {
		left += err[i] != ECANCELED;
		in_progress += err[i] == EINPROGRESS;
	}
	MAIN("  aio_cancel's result as POSIX has it for what it left: %d", posix_ok);
	MAIN("  cancelled ones: ECANCELED and -1 when it returned: %d", rets_ok);
	/* glibc: one request of an fd runs at a time, the others wait for it. */
	MAIN("  one in progress at a time: %d", one_ok && (!by_fd || in_progress <= 1));
	if (!at_once) {
		for (int i = done + 1; i < NREQ; i++)
			rest_cancelled &= err[i] == ECANCELED;
		MAIN("  the ones queued behind the blocked one: cancelled %d", rest_cancelled);
	}
	/* The peer reads what was written, and what was not cancelled gets written. */
	for (int i = 0, want = 0; i < left; i++, want++) {
		while (err[want] == ECANCELED)
			want++;
		got = recv_tag(sv[1], rbuf, sizeof(rbuf));
		order_ok &= got == 'a' + want;
	}
	for (int i = 0; i < NREQ; i++) {
		int e = wait_one(&w[i]);

		if (err[i] == ECANCELED ? e != ECANCELED || aio_return(&w[i]) != -1 :
					  e || aio_return(&w[i]) != (ssize_t)len)
			DIE("request %d ended %s %zd after %s", i, ename(e), aio_return(&w[i]), ename(err[i]));
	}
	order_ok &= nothing_more(sv[1]);
	MAIN("  the peer got the others, in order, and nothing else: %d", order_ok);
	got = notes_settle(how == NOTE_NONE ? 0 : NREQ);
	MAIN("  notifications: %d, one for each request: %d", got, notes_once(0, NREQ, how));
	if (!at_once && by_fd) {
		DETAIL("sock_cancel by fd, notify %s: %s, %d cancelled, %d in progress", note_names[how],
		       cancel_name(r), NREQ - left, in_progress);
	} else if (!at_once) {
		char line[128];
		int o = 0;

		for (int i = 0; i < NREQ; i++)
			o += snprintf(line + o, sizeof(line) - o, " %s", cancel_name(res[i]));
		DETAIL("sock_cancel by aiocb, notify %s:%s", note_names[how], line);
	}
	if (how == NOTE_THREAD_ID)
		DETAIL("  notifications %d, one for each request: %d, all to this thread: %d, the cancelled ones' "
		       "before aio_cancel returned: %s", got, notes_once(0, NREQ, how), !atomic_load(&notes_elsewhere),
		       glibc_notes ? "-" : noted ? "1" : "0");
	close(sv[0]);
	close(sv[1]);
}

/* ---- a blocked pipe read cancelled, then the pipe written ---- */

static void pipe_cancel(void)
{
	static char buf[16];
	struct aiocb p;
	int pfd[2], r, e, got_aio = 0, got_plain = 0;
	char rest[16];
	ssize_t n;

	if (pipe(pfd))
		DIE("pipe");
	MAIN("pipe_cancel");
	prep(&p, pfd[0], buf, sizeof(buf), 0);
	if (aio_read(&p))
		DIE("aio_read: %s", strerror(errno));
	wait_blocked(&pfd[0], 1, SYS_read);
	r = aio_cancel(pfd[0], &p);
	e = aio_error(&p);
	MAIN("  aio_cancel's result as POSIX has it: %d", cb_result_ok(r, e, aio_return(&p)));
	if (write(pfd[1], "hello", 5) != 5)
		DIE("write");
	e = wait_one(&p);
	if (!e && aio_return(&p) == 5 && !memcmp(buf, "hello", 5))
		got_aio = 1;
	else if (e != ECANCELED || aio_return(&p) != -1)
		DIE("cancelled read: %s %zd", ename(e), aio_return(&p));
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	n = read(pfd[0], rest, sizeof(rest));
	if (n == 5 && !memcmp(rest, "hello", 5))
		got_plain = 1;
	else if (n >= 0 || errno != EAGAIN)
		DIE("read after: %zd", n);
	MAIN("  the data read once, by the request or after it: %d", got_aio + got_plain == 1);
	DETAIL("pipe_cancel: %s, the request read %d", cancel_name(r), got_aio);
	close(pfd[0]);
	close(pfd[1]);
}

/*
 * Cancel racing completion: a byte written, and at once the read waiting
 * for it cancelled. Whatever wins, the byte is read exactly once, the
 * result is what aio_cancel() says, and the request is notified once.
 */
static void cancel_race(bool sock)
{
	enum { ROUNDS = 200 };
	int fds[2], ok = 1, outcomes[3] = { 0 };
	struct aiocb p;
	char buf[8], c;

	MAIN("cancel_race on a %s", sock ? "socket" : "pipe");
	if (sock)
		dgram_pair(fds);
	else if (pipe(fds))
		DIE("pipe");
	notes_reset();
	for (int i = 0; i < ROUNDS; i++) {
		int r, e, plain;

		prep(&p, fds[0], buf, sizeof(buf), 0);
		set_note(&p, NOTE_THREAD, i % NOTE_MAX);
		if (aio_read(&p))
			DIE("aio_read: %s", strerror(errno));
		if (write(fds[1], "x", 1) != 1)
			DIE("write");
		r = aio_cancel(fds[0], &p);
		e = aio_error(&p);
		if (!cb_result_ok(r, e, aio_return(&p)))
			ok = 0;
		if (r >= 0 && r <= 2)
			outcomes[r]++;
		e = wait_one(&p);
		/* Done: the byte is still there if the request did not read it. */
		fcntl(fds[0], F_SETFL, O_NONBLOCK);
		plain = read(fds[0], &c, 1) == 1;
		fcntl(fds[0], F_SETFL, 0);
		if (e == ECANCELED ? !plain : e || aio_return(&p) != 1 || plain)
			ok = 0;
	}
	MAIN("  %d rounds: results as POSIX has them, the byte read once: %d", ROUNDS, ok);
	MAIN("  notifications: %d", notes_settle(ROUNDS));
	close(fds[0]);
	close(fds[1]);
}

/* ---- order of one fd's requests ---- */

static void order(void)
{
	static char wbuf[8][100];
	char rb[3][16], big[128];
	struct aiocb w[8], r[3];
	int sv[2], pfd[2], ok = 1;

	MAIN("order");
	dgram_pair(sv);
	for (int i = 0; i < 8; i++) {
		memset(wbuf[i], 'a' + i, sizeof(wbuf[i]));
		prep(&w[i], sv[0], wbuf[i], sizeof(wbuf[i]), 0);
		if (aio_write(&w[i]))
			DIE("aio_write");
	}
	for (int i = 0; i < 8; i++)
		ok &= wait_one(&w[i]) == 0 && aio_return(&w[i]) == 100;
	for (int i = 0; i < 8; i++)
		ok &= recv_tag(sv[1], big, sizeof(big)) == 'a' + i;
	MAIN("  8 datagrams written in order: %d", ok);
	/* Reads queued on a socket get the datagrams in their order. */
	ok = 1;
	for (int i = 0; i < 3; i++) {
		prep(&r[i], sv[1], rb[i], sizeof(rb[i]), 0);
		if (aio_read(&r[i]))
			DIE("aio_read");
	}
	wait_blocked(&sv[1], 1, SYS_read);
	for (int i = 0; i < 3; i++) {
		char d[2] = { (char)('0' + i), 0 };

		if (send(sv[0], d, 2, 0) != 2)
			DIE("send");
	}
	for (int i = 0; i < 3; i++)
		ok &= wait_one(&r[i]) == 0 && aio_return(&r[i]) == 2 && rb[i][0] == '0' + i;
	MAIN("  3 reads of a socket, in order: %d", ok);
	/* And on a pipe: three 1-byte reads, then "abc" in one write. */
	if (pipe(pfd))
		DIE("pipe");
	ok = 1;
	for (int i = 0; i < 3; i++) {
		prep(&r[i], pfd[0], rb[i], 1, 0);
		if (aio_read(&r[i]))
			DIE("aio_read");
	}
	wait_blocked(&pfd[0], 1, SYS_read);
	if (write(pfd[1], "abc", 3) != 3)
		DIE("write");
	for (int i = 0; i < 3; i++)
		ok &= wait_one(&r[i]) == 0 && aio_return(&r[i]) == 1 && rb[i][0] == 'a' + i;
	MAIN("  3 reads of a pipe, in order: %d", ok);
	close(pfd[0]);
	close(pfd[1]);
	close(sv[0]);
	close(sv[1]);
}

/* ---- lio_listio ---- */

static _Atomic int list_signals, list_threads, list_pending_at_note = -1;
static struct aiocb *lio_members[8];
static int lio_nmembers;

static void list_handler(int s, siginfo_t *si, void *u)
{
	(void)s;
	(void)u;
	if (si->si_code == SI_ASYNCIO && si->si_value.sival_int == 42)
		atomic_fetch_add(&list_signals, 1);
}

static void list_thread(union sigval v)
{
	int pending = 0;

	(void)v;
	for (int i = 0; i < lio_nmembers; i++)
		pending += aio_error(lio_members[i]) == EINPROGRESS;
	atomic_store(&list_pending_at_note, pending);
	atomic_fetch_add(&list_threads, 1);
}

static int wait_count(_Atomic int *c, int want)
{
	for (int i = 0; i < 30000 && atomic_load(c) < want; i++)
		sleep_ms(1);
	sleep_ms(30);
	return atomic_load(c);
}

struct reader {
	int fd, n;
	char tags[8];
};

static void *read_datagrams(void *p)
{
	static char b[256 * 1024];
	struct reader *rd = p;

	for (int i = 0; i < rd->n && i < (int)sizeof(rd->tags); i++)
		rd->tags[i] = (char)recv_tag(rd->fd, b, sizeof(b));
	return NULL;
}

static void lio_socket(void)
{
	static char buf[4][256 * 1024], rbuf[256 * 1024];
	struct aiocb w[4], *l[4];
	struct sigevent sev;
	struct reader rd;
	pthread_t t;
	int sv[2], ok = 1, r;
	size_t len;

	MAIN("lio_socket");
	dgram_pair(sv);
	len = sndbuf(sv[0]) / 2;
	for (int i = 0; i < 4; i++) {
		memset(buf[i], 'a' + i, len);
		prep(&w[i], sv[0], buf[i], len, 0);
		w[i].aio_lio_opcode = LIO_WRITE;
		l[i] = &w[i];
	}
	/* LIO_NOWAIT, the list's signal: the peer reads until it comes. */
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIG_LIST;
	sev.sigev_value.sival_int = 42;
	atomic_store(&list_signals, 0);
	r = lio_listio(LIO_NOWAIT, l, 4, &sev);
	MAIN("  lio_listio(LIO_NOWAIT, 4 writes, signal) = %d", r);
	for (int i = 0; i < 4; i++)
		ok &= recv_tag(sv[1], rbuf, sizeof(rbuf)) == 'a' + i;
	r = wait_count(&list_signals, 1);
	MAIN("  the peer read them in order: %d; list signals %d", ok, r);
	for (int i = 0; i < 4; i++)
		MAIN("  [%d] %s %d", i, ename(aio_error(&w[i])), aio_return(&w[i]) == (ssize_t)len);
	/* LIO_WAIT: a thread reads meanwhile. */
	rd.fd = sv[1];
	rd.n = 4;
	pthread_create(&t, NULL, read_datagrams, &rd);
	errno = 0;
	r = lio_listio(LIO_WAIT, l, 4, NULL);
	pthread_join(t, NULL);
	MAIN("  lio_listio(LIO_WAIT, 4 writes) = %d, the peer read them in order: %d", r,
	     !memcmp(rd.tags, "abcd", 4));
	for (int i = 0; i < 4; i++)
		MAIN("  [%d] %s %d", i, ename(aio_error(&w[i])), aio_return(&w[i]) == (ssize_t)len);
	MAIN("  nothing more at the peer: %d", nothing_more(sv[1]));
	close(sv[0]);
	close(sv[1]);
}

/* Reads of a pipe listed before the writes that feed them, in one list. */
static void lio_pipe(void)
{
	static char wb[3][100], rb[3][100];
	struct aiocb m[6], *l[7];
	struct sigevent sev;
	int pfd[2], r, ok;

	MAIN("lio_pipe");
	if (pipe(pfd))
		DIE("pipe");
	for (int i = 0; i < 3; i++) {
		memset(wb[i], 'a' + i, sizeof(wb[i]));
		prep(&m[i], pfd[0], rb[i], sizeof(rb[i]), 0);
		m[i].aio_lio_opcode = LIO_READ;
		prep(&m[3 + i], pfd[1], wb[i], sizeof(wb[i]), 0);
		m[3 + i].aio_lio_opcode = LIO_WRITE;
	}
	for (int i = 0; i < 6; i++)
		l[i] = lio_members[i] = &m[i];
	lio_nmembers = 6;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = list_thread;
	for (int round = 0; round < 2; round++) {
		int mode = round ? LIO_WAIT : LIO_NOWAIT;

		memset(rb, 0, sizeof(rb));
		atomic_store(&list_threads, 0);
		atomic_store(&list_pending_at_note, -1);
		r = lio_listio(mode, l, 6, &sev);
		MAIN("  lio_listio(%s, 3 reads then 3 writes, thread) = %d", round ? "LIO_WAIT" : "LIO_NOWAIT", r);
		if (!round) {
			int n = wait_count(&list_threads, 1);

			MAIN("  list notes %d, pending at the note %d", n, atomic_load(&list_pending_at_note));
		}
		ok = 1;
		for (int i = 0; i < 6; i++)
			ok &= wait_one(&m[i]) == 0 && aio_return(&m[i]) == 100;
		for (int i = 0; i < 3; i++)
			ok &= !memcmp(rb[i], wb[i], 100);
		MAIN("  all done, the reads got the writes in order: %d", ok);
	}
	/* A member that fails: LIO_WAIT says EIO, the member its own error. */
	prep(&m[0], pfd[1], rb[0], 10, 0);
	m[0].aio_lio_opcode = LIO_READ;
	prep(&m[1], pfd[1], wb[0], 10, 0);
	m[1].aio_lio_opcode = LIO_WRITE;
	prep(&m[2], pfd[0], rb[1], 10, 0);
	m[2].aio_lio_opcode = LIO_READ;
	errno = 0;
	r = lio_listio(LIO_WAIT, l, 3, NULL);
	MAIN("  lio_listio(LIO_WAIT, a read of the write end, a write, a read) = %d %s", r,
	     r ? strerrorname_np(errno) : "");
	MAIN("  members: %s %zd, %s %zd, %s %zd", ename(aio_error(&m[0])), aio_return(&m[0]),
	     ename(aio_error(&m[1])), aio_return(&m[1]), ename(aio_error(&m[2])), aio_return(&m[2]));
	lio_nmembers = 0;
	close(pfd[0]);
	close(pfd[1]);
}

/* ---- aio_suspend ---- */

struct feeder {
	pid_t waiter;
	int fd;
};

/* Write a datagram once the waiter sleeps (or after 10 s: the result is the same). */
static void *feed(void *p)
{
	struct feeder *f = p;

	for (int i = 0; i < 10000 && !thread_in_wait(f->waiter); i++)
		usleep(1000);
	if (write(f->fd, "fed", 3) != 3)
		DIE("feed: %s", strerror(errno));
	return NULL;
}

static void suspend_streams(void)
{
	static char pb[16], sb[16], big[256 * 1024], fb[4096];
	struct timespec t0 = { 0, 0 }, t50 = { 0, 50 * 1000000 }, t10 = { 10, 0 };
	struct aiocb p, s, w[3], f;
	const struct aiocb *l[3];
	struct feeder fe = { main_tid, -1 };
	pthread_t t;
	uint64_t ms;
	int pfd[2], sv[2], fd, r, e;
	char path[4096];
	size_t len;

	MAIN("suspend_streams");
	if (pipe(pfd))
		DIE("pipe");
	dgram_pair(sv);
	prep(&p, pfd[0], pb, sizeof(pb), 0);
	prep(&s, sv[1], sb, sizeof(sb), 0);
	if (aio_read(&p) || aio_read(&s))
		DIE("aio_read");
	l[0] = &p;
	l[1] = &s;
	errno = 0;
	r = aio_suspend(l, 2, &t0);
	MAIN("  pipe and socket reads, zero timeout: %d %s", r, r ? strerrorname_np(errno) : "");
	{
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		errno = 0;
		r = aio_suspend(l, 2, &t50);
		e = errno;
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms = (uint64_t)((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000);
	}
	MAIN("  50 ms timeout: %d %s, waited >= 45 ms: %d", r, r ? strerrorname_np(e) : "", ms >= 45);
	/* Fed while it sleeps, no timeout: the pipe read is done, the socket read goes on. */
	fe.fd = pfd[1];
	pthread_create(&t, NULL, feed, &fe);
	r = aio_suspend(l, 2, NULL);
	pthread_join(t, NULL);
	MAIN("  fed pipe, no timeout: %d; pipe %s, socket %s", r, ename(aio_error(&p)), ename(aio_error(&s)));
	if (wait_one(&p) || aio_return(&p) != 3 || memcmp(pb, "fed", 3))
		DIE("pipe read");
	/* With a timeout, the socket fed. */
	l[0] = NULL;
	fe.fd = sv[0];
	pthread_create(&t, NULL, feed, &fe);
	r = aio_suspend(l, 2, &t10);
	pthread_join(t, NULL);
	MAIN("  fed socket, 10 s timeout: %d; socket %s %zd", r, ename(wait_one(&s)), aio_return(&s));
	/* A write blocked on a full socket, with a file read done meanwhile. */
	len = sndbuf(sv[0]) / 2;
	for (int i = 0; i < 3; i++) {
		prep(&w[i], sv[0], big, len, 0);
		if (aio_write(&w[i]))
			DIE("aio_write");
	}
	wait_blocked(&sv[0], 1, SYS_write);
	snprintf(path, sizeof(path), "%s/aio-stream-%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || pwrite(fd, fb, sizeof(fb), 0) != sizeof(fb))
		DIE("file %s", path);
	unlink(path);
	prep(&f, fd, fb, sizeof(fb), 0);
	l[0] = &w[2];
	errno = 0;
	r = aio_suspend(l, 1, &t50);
	MAIN("  blocked socket write, 50 ms timeout: %d %s", r, r ? strerrorname_np(errno) : "");
	if (aio_read(&f))
		DIE("aio_read file");
	l[1] = &f;
	while (aio_error(&f) == EINPROGRESS)
		if (aio_suspend(l, 2, &t10))
			DIE("mixed suspend: %s", strerror(errno));
	MAIN("  with a file read: file %s %zd, socket write %s", ename(aio_error(&f)), aio_return(&f),
	     ename(aio_error(&w[2])));
	for (int i = 0; i < 3; i++)
		recv_tag(sv[1], big, sizeof(big));
	r = aio_suspend(l, 1, &t10);
	MAIN("  the peer read: %d; socket write %s %d", r, ename(wait_one(&w[2])),
	     aio_return(&w[2]) == (ssize_t)len);
	close(fd);
	close(pfd[0]);
	close(pfd[1]);
	close(sv[0]);
	close(sv[1]);
}

/* ---- threads: a blocked read in glibc holds a thread, on io_uring none ---- */

static void blocked_threads(void)
{
	enum { N = 16 };
	static char b[N][8];
	struct aiocb r[N];
	int p[N][2], fds[N], asleep = 0;

	for (int i = 0; i < N; i++) {
		if (pipe(p[i]))
			DIE("pipe");
		fds[i] = p[i][0];
		prep(&r[i], p[i][0], b[i], sizeof(b[i]), 0);
	}
	for (int i = 0; i < N; i++)
		if (aio_read(&r[i]))
			DIE("aio_read");
	wait_blocked(fds, N, SYS_read);
	for (int i = 0; i < N; i++)
		asleep += threads_in(fds[i], SYS_read);
	for (int i = 0; i < N; i++) {
		if (write(p[i][1], "x", 1) != 1)
			DIE("write");
		if (wait_one(&r[i]) || aio_return(&r[i]) != 1)
			DIE("read %d", i);
		close(p[i][0]);
		close(p[i][1]);
	}
	DETAIL("blocked_threads: %d blocked pipe reads, threads asleep in them: %d", N, asleep);
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [shim-only]\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	details = argc > 2 && !strcmp(argv[2], "shim-only");
	glibc_notes = getenv("IOENGINE_BACKEND") && !strcmp(getenv("IOENGINE_BACKEND"), "aio");
	main_tid = (pid_t)syscall(SYS_gettid);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = note_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIG_NOTE, &sa, NULL);
	sa.sa_sigaction = list_handler;
	sigaction(SIG_LIST, &sa, NULL);

	for (int by_fd = 1; by_fd >= 0; by_fd--) {
		for (enum note how = NOTE_NONE; how <= NOTE_THREAD; how++)
			sock_cancel(by_fd, how, false);
		if (!details) {
			sock_cancel(by_fd, NOTE_SIGNAL, true);
			sock_cancel(by_fd, NOTE_THREAD, true);
		}
	}
	if (details) {
		/* glibc 2.36 sends nothing for SIGEV_THREAD_ID. */
		sock_cancel(true, NOTE_THREAD_ID, false);
		sock_cancel(false, NOTE_THREAD_ID, false);
	}
	pipe_cancel();
	if (!details) {
		cancel_race(false);
		cancel_race(true);
		order();
		lio_socket();
		lio_pipe();
		suspend_streams();
	}
	if (details)
		blocked_threads();
	MAIN("end");
	return 0;
}
