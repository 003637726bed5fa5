/* SPDX-License-Identifier: MIT */
/*
 * ioe_wait_word(): a thread waits for its own events, submitted with
 * ioe_submit() or ioe_submit_local(), until their callbacks change a word.
 * Every event is called back once with the right data; the waiting thread
 * reaps them itself, and with ioe_submit_local() it submits them itself too
 * (the submitter stays asleep); events held back for a wait that never
 * comes still complete, also while other IO stays in flight; timeouts,
 * signal handlers (EINTR, or on with SA_RESTART as a futex wait goes on), errno, bad
 * arguments, a thread cancelled in its wait that leaves the engine
 * working, and a handler never cut short by such a cancel. ioe_wake_word()
 * wakes a thread asleep on the word at once, and makes no system call
 * while no thread sleeps. On Linux AIO, ioe_submit_local() looks up an
 * fd's flags once per many events, not per event, and an fd number reused
 * meanwhile for a buffered file still reads right.
 */
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "util.h"
#include "valgrind_annotate.h"
#include "scheduler/caller_wait.h"
#include "scheduler/context.h"
#include "asan_cancel.h"

#define BLK 4096

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The word's writer side: bump, then wake a futex sleeper. The waiter may
 * return between the two, so the words that callbacks bump are static: the
 * wake may come after the waiting function's frame is gone (memcheck checks
 * the futex word of a FUTEX_WAKE).
 */
static void word_bump(uint32_t *word)
{
	__atomic_fetch_add(word, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

struct wev {
	struct ioe_event ev;
	uint32_t *word;
	atomic_int calls;
	pid_t tid;		/* the thread that ran the callback */
};

static void wev_cb(struct ioe_event *ev, void *arg)
{
	struct wev *w = arg;

	CHECK(ev == &w->ev);
	CHECK_EQ(atomic_fetch_add(&w->calls, 1), 0);
	w->tid = (pid_t)syscall(SYS_gettid);
	word_bump(w->word);
}

/* The 64 blocks read_rounds() checks, into fd (buf: 64 blocks, scratch). */
static void write_blocks(int fd, unsigned char *buf)
{
	fill(buf, 64 * BLK, 0, 3);
	CHECK_EQ(pwrite(fd, buf, 64 * BLK, 0), 64 * BLK);
}

/*
 * Rounds of `depth` O_DIRECT reads, each waited for with ioe_wait_word()
 * alone. Returns how many callbacks ran in this thread.
 */
static long read_rounds(struct ioe_context *ctx, int fd, unsigned char *buf, int rounds, int depth,
			int (*submit)(struct ioe_context *, struct ioe_event *, enum ioe_channel))
{
	struct wev *w = calloc((size_t)depth, sizeof(*w));
	pid_t me = (pid_t)syscall(SYS_gettid);
	static uint32_t word;
	long here = 0;

	CHECK(w);
	word = 0;
	for (int r = 0; r < rounds; r++) {
		uint32_t seen = __atomic_load_n(&word, __ATOMIC_ACQUIRE), target = seen + (uint32_t)depth;

		memset(buf, 0, (size_t)depth * BLK);
		for (int i = 0; i < depth; i++) {
			ioe_prep_read(&w[i].ev, fd, buf + (size_t)i * BLK, BLK, (int64_t)((r + i) % 64) * BLK);
			ioe_set_callback(&w[i].ev, wev_cb, &w[i]);
			w[i].word = &word;
			atomic_init(&w[i].calls, 0);
			CHECK_EQ(submit(ctx, &w[i].ev, IOE_CHAN_READ), 0);
		}
		while (seen != target) {
			/* A bound, not a timing: a read nobody reaps would hang the test. */
			CHECK_EQ(ioe_wait_word(ctx, &word, seen, now_ns() + 60000000000ull), 0);
			seen = __atomic_load_n(&word, __ATOMIC_ACQUIRE);
		}
		for (int i = 0; i < depth; i++) {
			CHECK_EQ(atomic_load(&w[i].calls), 1);
			CHECK_EQ(w[i].ev.res, BLK);
			verify(buf + (size_t)i * BLK, BLK, (uint64_t)((r + i) % 64) * BLK, 3);
			here += w[i].tid == me;
		}
	}
	free(w);
	return here;
}

/* Until the submitter sleeps: ioe_submit_local() then hands events to the kernel itself. */
static void submitter_asleep(struct ioe_context *ctx)
{
	for (int i = 0; !atomic_load(&ctx->shared.submit_wake.sleeping); i++) {
		CHECK(i < 100000);	/* 10 s */
		usleep(100);
	}
}

/*
 * waiter_reaps: the callbacks must mostly run in the waiting thread, and
 * all of them one read at a time while the poller is held.
 * waiter_submits: with ioe_submit_local() the submitter must
 * also stay asleep, one read at a time (the caller submits it) and 8 at a
 * time (the first submitted by the caller, the others held back for its
 * wait, which submits them).
 */
static void reads(struct ioe_context *ctx, bool waiter_reaps, bool waiter_submits)
{
	enum { DEPTH = 8 };
	int fd = test_file(O_DIRECT), rounds = (int)scaled(200, 20);
	unsigned char *buf = xalloc(64 * BLK), *gate_blk = xalloc(BLK);
	struct gate poller;
	long here, sleeps;

	write_blocks(fd, buf);
	here = read_rounds(ctx, fd, buf, rounds, DEPTH, ioe_submit);
	/* Let the engine threads settle into their sleep. */
	usleep(100000);
	sleeps = engine_sleeps("ioe-submit");
	here += read_rounds(ctx, fd, buf, rounds, DEPTH, ioe_submit_local);
	sleeps = engine_sleeps("ioe-submit") - sleeps;
	fprintf(stderr, "%ld of %d callbacks ran in the waiting thread; %d at a time with "
		"ioe_submit_local(), the submitter slept %ld times in %d rounds\n",
		here, 2 * rounds * DEPTH, DEPTH, sleeps, rounds);
	/*
	 * Queued, every round wakes the submitter (263 sleeps in 200 rounds).
	 * Held, slow builds (TSan: 0-12 in 200, 3 in 25) and CPU load now and
	 * then see the first read done before the others are held, or a held
	 * one wait long enough to go to the submitter.
	 */
	if (waiter_reaps)
		CHECK(here > rounds * DEPTH);
	if (waiter_submits)
		CHECK(sleeps < rounds / 2);
	/*
	 * One at a time, the poller held in a callback. A poller asleep with
	 * nothing in flight is woken by each submission, and may take the
	 * completion before the waiter begins its wait: under CPU load a
	 * waiter late by a millisecond finds it so, round after round (0 of
	 * 25 in TSan). Held, it takes none: every read is reaped by the waiter,
	 * whose wait would otherwise never end.
	 */
	if (waiter_reaps)
		gate_close_poller(ctx, &poller, fd, gate_blk);
	submitter_asleep(ctx);
	sleeps = engine_sleeps("ioe-submit");
	here = read_rounds(ctx, fd, buf, rounds, 1, ioe_submit_local);
	sleeps = engine_sleeps("ioe-submit") - sleeps;
	if (waiter_reaps)
		gate_open(&poller);
	fprintf(stderr, "one at a time: %ld of %d in the waiting thread, the submitter slept %ld times\n",
		here, rounds, sleeps);
	if (waiter_reaps)
		CHECK_EQ(here, rounds);
	if (waiter_submits)
		CHECK(sleeps < rounds / 10);
	while (waiter_reaps && !atomic_load(&poller.left))
		usleep(100);
	free(gate_blk);
	free(buf);
	close(fd);
}

/*
 * An O_DIRECT fd closed and its number reused for a buffered file: on
 * Linux AIO the thread's cached answer (O_DIRECT) then sends reads of the
 * new file through io_submit() in this thread for a while. Each must
 * still be called back once with the right data.
 */
static void reused_fd(struct ioe_context *ctx)
{
	unsigned char *buf = xalloc(64 * BLK);
	int fd = test_file(O_DIRECT), again;

	write_blocks(fd, buf);
	read_rounds(ctx, fd, buf, 2, 8, ioe_submit_local);
	CHECK_EQ(close(fd), 0);
	again = test_file(0);
	CHECK_EQ(again, fd);
	write_blocks(again, buf);
	read_rounds(ctx, again, buf, 4, 8, ioe_submit_local);
	free(buf);
	close(again);
}

/* Wait with a plain futex wait (it submits nothing) until *word reaches target. */
/* Block i of fd into block i of buf with ioe_submit_local(); its callback bumps *word. */
static void local_read(struct ioe_context *ctx, struct wev *w, int fd, unsigned char *buf, int i, uint32_t *word)
{
	memset(w, 0, sizeof(*w));
	ioe_prep_read(&w->ev, fd, buf + (size_t)i * BLK, BLK, (int64_t)i * BLK);
	ioe_set_callback(&w->ev, wev_cb, w);
	w->word = word;
	CHECK_EQ(ioe_submit_local(ctx, &w->ev, IOE_CHAN_READ), 0);
}

static void futex_wait_until(uint32_t *word, uint32_t target)
{
	uint32_t seen;

	while ((seen = __atomic_load_n(word, __ATOMIC_ACQUIRE)) != target)
		CHECK_EQ(ioe_wait_word(NULL, word, seen, now_ns() + 10000000000ull), 0);
}

/*
 * Events that ioe_submit_local() holds back (IO is in flight) for a wait
 * that never comes: they go to the submitter after a moment, although the
 * IO in flight stays there (on io_uring, a read of an eventfd, done once
 * the test writes it; Linux AIO would do that read inside io_submit():
 * there the held events follow the first, which the caller submitted).
 * Then, freed at once after it held
 * events, the context still calls each back once.
 */
static void held_unwaited(enum ioe_backend b)
{
	enum { DEPTH = 4 };	/* fewer than a round's worth, which the holder submits */
	struct ioe_context *ctx = backend_context(b, 16, 0);
	int fd = test_file(O_DIRECT), efd = eventfd(0, 0);
	unsigned char *buf = xalloc(DEPTH * BLK), *gate_blk = xalloc(BLK);
	struct wev stuck = { 0 }, w[DEPTH];
	struct gate poller;
	static uint32_t word, stuck_word, prio_word;
	uint64_t count = 0;

	CHECK(efd >= 0);
	word = stuck_word = 0;
	fill(buf, DEPTH * BLK, 0, 5);
	CHECK_EQ(pwrite(fd, buf, DEPTH * BLK, 0), DEPTH * BLK);
	for (int round = 0; round < 2; round++) {
		bool stuck_read = b == IOE_BACKEND_URING && round == 0;

		if (stuck_read) {
			ioe_prep_read(&stuck.ev, efd, &count, sizeof(count), 0);
			ioe_set_callback(&stuck.ev, wev_cb, &stuck);
			stuck.word = &stuck_word;
			CHECK_EQ(ioe_submit(ctx, &stuck.ev, IOE_CHAN_READ), 0);
			/* With the kernel, and the submitter back asleep. */
			while (!ioe_running(ctx))
				usleep(100);
			usleep(50000);
		}
		if (stuck_read) {
			/* A PRIO event is never held: it goes to the submitter, first. */
			struct wev prio = { 0 };

			prio_word = 0;

			ioe_prep_read(&prio.ev, fd, buf, BLK, 0);
			ioe_set_callback(&prio.ev, wev_cb, &prio);
			prio.word = &prio_word;
			CHECK_EQ(ioe_submit_local(ctx, &prio.ev, IOE_CHAN_PRIO), 0);
			CHECK_EQ(atomic_load(&ctx->shared.held_count), 0);
			futex_wait_until(&prio_word, 1);
			CHECK_EQ(prio.ev.res, BLK);
		}
		memset(buf, 0, DEPTH * BLK);
		/*
		 * Held, and counted as pending: until the poller hands it on
		 * (after about a millisecond), so the poller is held meanwhile.
		 * (Under valgrind nothing is held: it goes to the submitter.)
		 */
		if (stuck_read)
			gate_close_poller(ctx, &poller, fd, gate_blk);
		for (int i = 0; i < DEPTH; i++) {
			local_read(ctx, &w[i], fd, buf, i, &word);
			if (stuck_read && i == 0 && !ioe_running_on_valgrind())
				CHECK_EQ(ioe_pending(ctx), 1);
		}
		if (stuck_read) {
			gate_open(&poller);
			while (!atomic_load(&poller.left))
				usleep(100);
		}
		if (round == 1) {
			/* Freed with events held (most runs): lossless all the same. */
			ioe_context_free(ctx);
			ctx = NULL;
		}
		futex_wait_until(&word, (uint32_t)(DEPTH * (round + 1)));
		for (int i = 0; i < DEPTH; i++) {
			CHECK_EQ(atomic_load(&w[i].calls), 1);
			CHECK_EQ(w[i].ev.res, BLK);
		}
		verify(buf, DEPTH * BLK, 0, 5);
		if (stuck_read) {
			CHECK_EQ(atomic_load(&stuck.calls), 0);
			CHECK_EQ(eventfd_write(efd, 1), 0);
			futex_wait_until(&stuck_word, 1);
			CHECK_EQ(stuck.ev.res, (ssize_t)sizeof(count));
			CHECK_EQ(count, 1);
		}
	}
	free(gate_blk);
	free(buf);
	close(fd);
	close(efd);
}

/*
 * Held events go to the kernel after about a millisecond even while other
 * IO stays in flight and no thread waits: a 32 MiB O_DIRECT read (20-60 ms
 * here) is with the kernel and the submitter asleep when they are held, and
 * they must leave the held list before it completes. (Their own completions
 * may queue behind it in the device.) A round in which it ends first proves
 * nothing and is tried again; without the poller's kick every round would.
 */
static void held_while_busy(enum ioe_backend b)
{
	enum { DEPTH = 4, BIG = 32 << 20, TRIES = 5 };
	struct ioe_context *ctx = backend_context(b, 16, 0);
	int fd = test_file(O_DIRECT);
	unsigned char *big = xalloc(BIG), *buf = xalloc(DEPTH * BLK);
	bool conclusive = false;

	memset(big, 0x5a, BIG);
	fill(big, DEPTH * BLK, 0, 9);
	CHECK_EQ(pwrite(fd, big, BIG, 0), BIG);
	CHECK_EQ(fsync(fd), 0);
	for (int try = 0; try < TRIES && !conclusive; try++) {
		static uint32_t busy_word, word;
		struct wev busy = { 0 }, w[DEPTH];

		busy_word = word = 0;

		ioe_prep_read(&busy.ev, fd, big, BIG, 0);
		ioe_set_callback(&busy.ev, wev_cb, &busy);
		busy.word = &busy_word;
		CHECK_EQ(ioe_submit(ctx, &busy.ev, IOE_CHAN_READ), 0);
		/* With the kernel, and the submitter back asleep: only a kick takes them now. */
		while (!(ioe_running(ctx) && atomic_load(&ctx->shared.submit_wake.sleeping)) &&
		       !atomic_load(&busy.calls))
			usleep(100);
		memset(buf, 0, DEPTH * BLK);
		for (int i = 0; i < DEPTH; i++)
			local_read(ctx, &w[i], fd, buf, i, &word);
		while (ioe_pending(ctx) && !atomic_load(&busy.calls))
			usleep(100);
		conclusive = !ioe_pending(ctx) && !atomic_load(&busy.calls);
		futex_wait_until(&word, DEPTH);
		futex_wait_until(&busy_word, 1);
		CHECK_EQ(busy.ev.res, BIG);
		for (int i = 0; i < DEPTH; i++) {
			CHECK_EQ(atomic_load(&w[i].calls), 1);
			CHECK_EQ(w[i].ev.res, BLK);
		}
		verify(buf, DEPTH * BLK, 0, 9);
	}
	CHECK(conclusive);
	ioe_context_free(ctx);
	free(big);
	free(buf);
	close(fd);
}

static atomic_int handled;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&handled, 1);
}

/*
 * The other side of a wait_kicked(): SIGUSR1 once the waiter sleeps, then,
 * once the handler has run, the word bumped: at once (a wait that goes on
 * after the handler returns 0 only so), or only after the wait returned
 * (eintr: it must return for the handler, not for the word). Nothing here
 * depends on how long anything takes.
 */
struct later {
	pthread_t target;
	pid_t tid;
	uint32_t *word;
	bool eintr;
	atomic_int returned;
	bool bumped_late;	/* eintr, but the wait had not returned 5 s after the handler */
};

static void *later_main(void *arg)
{
	struct later *l = arg;

	/* In ioe_wait_word(), which blocks every signal while it sleeps: not in a lock on its way. */
	for (int i = 0; !(thread_in_wait(l->tid) && thread_blocks_signal(l->tid, SIGUSR1, false)); i++) {
		CHECK(i < 100000);	/* 10 s */
		usleep(100);
	}
	pthread_kill(l->target, SIGUSR1);
	while (!atomic_load(&handled))
		usleep(100);
	for (int i = 0; l->eintr && !atomic_load(&l->returned); i++) {
		if (i == 50000) {
			l->bumped_late = true;
			break;
		}
		usleep(100);
	}
	word_bump(l->word);
	return NULL;
}

/* Wait with a handler for a SIGUSR1 that comes in the wait; the word moves after it (see later). */
static int wait_kicked(struct ioe_context *ctx, int flags, uint64_t deadline, bool eintr)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = flags };
	uint32_t word = 0;
	struct later l = { pthread_self(), gettid(), &word, eintr, 0, false };
	pthread_t t;
	int ret;

	sigemptyset(&sa.sa_mask);
	CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
	atomic_store(&handled, 0);
	CHECK_EQ(pthread_create(&t, NULL, later_main, &l), 0);
	ret = ioe_wait_word(ctx, &word, 0, deadline);
	atomic_store(&l.returned, 1);
	pthread_join(t, NULL);
	CHECK_EQ(atomic_load(&handled), 1);
	CHECK(!l.bumped_late);
	return ret;
}

static void semantics(struct ioe_context *ctx)
{
	uint32_t word = 5;
	uint64_t t0, took;

	/* Arguments; a word that moved already; errno left alone. */
	CHECK_EQ(ioe_wait_word(ctx, NULL, 0, 0), -EINVAL);
	errno = 1234;
	CHECK_EQ(ioe_wait_word(ctx, &word, 4, 0), 0);
	CHECK_EQ(errno, 1234);
	/* Timeouts: in the past, and 30 ms ahead. */
	CHECK_EQ(ioe_wait_word(ctx, &word, 5, 1), -ETIMEDOUT);
	t0 = now_ns();
	CHECK_EQ(ioe_wait_word(ctx, &word, 5, t0 + 30000000), -ETIMEDOUT);
	took = now_ns() - t0;
	CHECK(took >= 30000000);
	CHECK_EQ(errno, 1234);
	/* Another thread moves the word (with a futex wake only), after the handler ran. */
	CHECK_EQ(wait_kicked(ctx, SA_RESTART, 0, false), 0);
	/* Handlers: as a futex wait, EINTR unless SA_RESTART without a timeout. */
	CHECK_EQ(wait_kicked(ctx, 0, 0, true), -EINTR);
	CHECK_EQ(wait_kicked(ctx, SA_RESTART, now_ns() + 5000000000ull, true), -EINTR);
	CHECK_EQ(errno, 1234);
	signal(SIGUSR1, SIG_IGN);
}

/* ---- system calls made ---- */

static volatile sig_atomic_t trapped;

static void on_sigsys(int sig)
{
	(void)sig;
	trapped++;
}

/*
 * In a child, with every system call nr whose second argument is arg1 and,
 * unless addr is NULL, whose first is addr (its low 32 bits) trapped
 * (SIGSYS, counted; the call itself fails with ENOSYS): run fn(arg).
 * Returns how many were made, 250 at most.
 */
static int trapped_calls_at(long nr, const void *addr, long arg1, void (*fn)(void *), void *arg)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 6),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)arg1, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(uintptr_t)addr, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, addr ? SECCOMP_RET_ALLOW : SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };
	int status;
	pid_t pid;

	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		signal(SIGSYS, on_sigsys);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			_exit(255);
		fn(arg);
		_exit(trapped < 250 ? trapped : 250);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK(WEXITSTATUS(status) != 255);
	return WEXITSTATUS(status);
}

static int trapped_calls(long nr, long arg1, void (*fn)(void *), void *arg)
{
	return trapped_calls_at(nr, NULL, arg1, fn, arg);
}

/* ---- ioe_wake_word() ---- */

struct waker {
	void (*wake)(uint32_t *);
};

/* 1000 times: move the word, then wake it. */
static void move_and_wake(void *arg)
{
	struct waker *w = arg;
	uint32_t word = 0;

	for (int i = 0; i < 1000; i++) {
		__atomic_fetch_add(&word, 1, __ATOMIC_RELEASE);
		w->wake(&word);
	}
}

static bool makes_futex_wake(void (*wake)(uint32_t *))
{
	struct waker w = { wake };

	return trapped_calls(SYS_futex, FUTEX_WAKE_PRIVATE, move_and_wake, &w) > 0;
}

/* ---- what ioe_submit_local() asks the kernel per event ---- */

static void local_reads(void *arg)
{
	enum ioe_backend b = *(enum ioe_backend *)arg;
	struct ioe_context *ctx = backend_context(b, 16, 0);
	int fd = test_file(O_DIRECT);
	unsigned char *buf = xalloc(64 * BLK);

	write_blocks(fd, buf);
	read_rounds(ctx, fd, buf, 200, 8, ioe_submit_local);
	ioe_context_free(ctx);
	free(buf);
	close(fd);
}

/*
 * Linux AIO takes only O_DIRECT events from a caller, so it must know an
 * fd's flags; one fcntl(F_GETFL) per event cost ~1 us, and up to 40% of
 * fio posixaio's O_DIRECT IOPS under the shim. 1600 events may make a
 * few (one per 64 uses of an fd): here each fails (ENOSYS), so the events
 * go to the submitter, with the right data all the same.
 */
static void flags_looked_up(enum ioe_backend b)
{
	int calls;

	if (ioe_running_on_valgrind())
		return;
	calls = trapped_calls(SYS_fcntl, F_GETFL, local_reads, &b);
	printf("1600 ioe_submit_local() reads made %d fcntl(F_GETFL)\n", calls);
	CHECK(calls <= 1600 / 32);
}

static void raw_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

struct sleeper {
	uint32_t *word, old;
	_Atomic pid_t tid;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *sl = arg;

	atomic_store(&sl->tid, (pid_t)syscall(SYS_gettid));
	CHECK_EQ(ioe_wait_word(NULL, sl->word, sl->old, 0), 0);
	return NULL;
}

/* The word of wake_sleepers(), where the filter of trapped_calls_at() can name it. */
static uint32_t sleepers_word;

/*
 * Up to 20 times: a thread sleeps on sleepers_word in ioe_wait_word()
 * (counted in ioe_word_sleepers and in its futex); the word moves and
 * ioe_wake_word() wakes it. Stops at the first wake made: a sleep ends
 * every IOE_WAIT_RECHECK_NS, and a wake that comes between two (the
 * sleeper not counted) is rightly not made. The trapped wake fails
 * (ENOSYS): the sleeper then sees the word at the end of its sleep.
 */
static void wake_sleepers(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20 && !trapped; i++) {
		struct sleeper sl = { &sleepers_word, __atomic_load_n(&sleepers_word, __ATOMIC_RELAXED), 0 };
		pthread_t t;

		CHECK_EQ(pthread_create(&t, NULL, sleeper_main, &sl), 0);
		while (!atomic_load(&sl.tid) || !thread_in_wait(atomic_load(&sl.tid)) ||
		       !atomic_load(&ioe_word_sleepers))
			sched_yield();
		__atomic_fetch_add(&sleepers_word, 1, __ATOMIC_RELEASE);
		ioe_wake_word(&sleepers_word);
		CHECK_EQ(pthread_join(t, NULL), 0);
	}
}

static void wake_word(void)
{
	if (ioe_running_on_valgrind())
		return;
	/* Nobody asleep: no system call (the filter does catch a raw one). */
	CHECK(makes_futex_wake(raw_wake));
	CHECK(!makes_futex_wake(ioe_wake_word));
	/* A sleeper (a futex sleep: no context) is woken at once, by a wake of its word. */
	CHECK_EQ(trapped_calls_at(SYS_futex, &sleepers_word, FUTEX_WAKE_PRIVATE, wake_sleepers, NULL), 1);
}

/* A thread cancelled in its wait; the engine goes on reaping without it. */
static void *cancelled_waiter(void *arg)
{
	static uint32_t never;

	(void)ioe_wait_word(arg, &never, 0, 0);
	return NULL;
}

static void cancel(struct ioe_context *ctx)
{
	int fd = test_file(0);
	unsigned char buf[BLK];
	pthread_t t;
	void *res;

	for (int i = 0; i < 3; i++) {
		struct timespec ts = { 0, 20000000 };

		CHECK_EQ(pthread_create(&t, NULL, cancelled_waiter, ctx), 0);
		nanosleep(&ts, NULL);
		CHECK_EQ(pthread_cancel(t), 0);
		CHECK_EQ(pthread_join(t, &res), 0);
		CHECK(res == PTHREAD_CANCELED);
	}
	/* Nobody waits: the poller reaps and calls back. */
	fill(buf, BLK, 0, 8);
	CHECK_EQ(eng_pwrite(ctx, fd, buf, BLK, 0), BLK);
	memset(buf, 0, BLK);
	CHECK_EQ(eng_pread(ctx, fd, buf, BLK, 0), BLK);
	verify(buf, BLK, 0, 8);
	close(fd);
}

/*
 * A handler that runs in a waiting thread is never cut short by that
 * thread's cancellation. (glibc before 2.41 acts on a cancel request in the
 * middle of a handler that interrupted an asynchronously cancellable wait,
 * its aio_suspend()'s among them: 39 of 13112 handlers cut short in 850
 * cancels here.) The handler signals it is in, and spins until the thread's
 * cancel was sent.
 */
static atomic_int in_handler, handler_done, cancel_sent;

static void on_usr2(int sig)
{
	uint64_t give_up = now_ns() + 2000000000ull;

	(void)sig;
	atomic_store(&in_handler, 1);
	while (!atomic_load(&cancel_sent) && now_ns() < give_up)
		;
	atomic_store(&handler_done, 1);
}

static void handlers_whole(struct ioe_context *ctx)
{
	struct sigaction sa = { .sa_handler = on_usr2 };

	sigemptyset(&sa.sa_mask);
	CHECK_EQ(sigaction(SIGUSR2, &sa, NULL), 0);
	for (int i = 0; i < 5; i++) {
		struct timespec settle = { 0, 2000000 };
		pthread_t t;

		atomic_store(&in_handler, 0);
		atomic_store(&handler_done, 0);
		atomic_store(&cancel_sent, 0);
		CHECK_EQ(pthread_create(&t, NULL, cancelled_waiter, ctx), 0);
		nanosleep(&settle, NULL);	/* into its wait */
		CHECK_EQ(pthread_kill(t, SIGUSR2), 0);
		while (!atomic_load(&in_handler))
			sched_yield();
		CHECK_EQ(pthread_cancel(t), 0);
		nanosleep(&settle, NULL);	/* the cancel request arrives in the handler */
		atomic_store(&cancel_sent, 1);
		CHECK_EQ(pthread_join(t, NULL), 0);
		CHECK_EQ(atomic_load(&handler_done), 1);
	}
	signal(SIGUSR2, SIG_DFL);
}

int main(int argc, char **argv)
{
	enum ioe_backend b = test_backend(argc, argv);
	struct ioe_context *ctx;
	bool uring_direct;

	/* First, while this process has one thread: the child makes a context. */
	flags_looked_up(b);
	ctx = backend_context(b, 16, 0);
	wake_word();
	semantics(ctx);
	semantics(NULL);
	handlers_whole(ctx);
	handlers_whole(NULL);
	/*
	 * The waiter reaps and submits (io_uring: not under valgrind, where it
	 * waits on the futex).
	 */
	uring_direct = b == IOE_BACKEND_URING && !ioe_running_on_valgrind();
	reads(ctx, b == IOE_BACKEND_AIO || uring_direct, b == IOE_BACKEND_AIO || uring_direct);
	reused_fd(ctx);
	cancel(ctx);
	ioe_context_free(ctx);
	held_unwaited(b);
	held_while_busy(b);
	/* With callback workers the callbacks run there; the wait is the same. */
	ctx = backend_context(b, 16, 2);
	reads(ctx, false, false);
	ioe_context_free(ctx);
	return 0;
}
