/* SPDX-License-Identifier: MIT */
/*
 * When the reports are written: every IOENGINE_STATS_INTERVAL seconds by a
 * thread of the shim's own (the summary line with the interval's rates,
 * and the metrics file), and once at exit by the destructor.
 *
 * The thread starts at the first call the shim counts, not at load time:
 * the constructor may run under a seccomp filter inherited at exec that
 * kills clone() (sandbox.c), and a thread changes what the program's own
 * unshare() or setuid() do; a process that does no IO through the shim
 * (a shell the service runs) gets no thread and writes nothing. It blocks
 * every signal (the program's handlers never run on it), and sleeps on a
 * futex that the exit path wakes: exit is never put off by an interval.
 *
 * Only the process that loaded the shim reports while it runs, and writes
 * the metrics file: threads do not survive fork(), and a fork child starts
 * none (the metrics file describes one process; a pre-forked worker or a
 * short-lived child would replace the service's series by its own). A
 * child still writes its own summary line at exit, as before. exec()
 * loads the shim anew: the new program is a process of its own, with its
 * own counters and thread.
 *
 * At exit the thread is stopped first (the lock below: it finishes the
 * round it is in, writes none after; a round held up by a full stderr
 * pipe holds up exit as the exit summary's own write would), then the
 * summary line and the metrics file are written from one snapshot: their
 * values are equal, and the last periodic output is never newer than
 * them. _exit() or a fatal signal end the thread with the process: each
 * line was one write() and the metrics file is replaced whole by rename(),
 * so what was written is complete (a temporary file can be left behind
 * only if the process dies between its creation and the rename: hidden,
 * and not *.prom).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>
#include "report.h"

enum { R_IDLE, R_STARTING, R_RUNNING, R_FAILED };

bool shim_report_pending;
static pid_t owner;
static _Atomic int state;
static pthread_t thread;
/* Held for each round of writing; `stopping` set under it by the exit path. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool stopping;
static _Atomic uint32_t wake_word;	/* set to 1 to end the thread's sleep */
static _Atomic bool reported;
/* The metrics text (the thread's and the exit path's, under lock). */
static char prom[32768];

void shim_report_init(pid_t pid)
{
	owner = pid;
	__atomic_store_n(&shim_report_pending, shim_cfg.interval && shim_stats_on, __ATOMIC_RELAXED);
}

/* A process that never called an interposed function says nothing. */
static bool anything(const struct shim_stats_snap *s)
{
	return s->routed_all || s->fast_hits || s->fallbacks_all || ioe_fault_count(IOE_FAULT_EIO);
}

static void write_line(const struct shim_stats_snap *s, const struct shim_stats_snap *prev, double secs)
{
	char line[1024];
	int n = shim_summary_format(line, sizeof(line), s, prev, secs);
	int fd = shim_report_open_stats();

	if (fd < 0)
		return;
	/* One write(): lines of several writers do not interleave (O_APPEND). */
	if (n > 0 && write(fd, line, (size_t)n) < 0)
		shim_log(SHIM_LOG_DEBUG, "stats summary not written (errno %d)", errno);
	if (fd != STDERR_FILENO)
		close(fd);
}

static void write_metrics(const struct shim_stats_snap *s)
{
	size_t n = shim_metrics_render(prom, sizeof(prom), s);

	if (n)
		shim_report_replace_metrics(prom, n);
}

/* Sleep until deadline (CLOCK_MONOTONIC ns) or until woken; true if woken. */
static bool sleep_until(uint64_t deadline)
{
	for (;;) {
		uint64_t now = shim_now_ns();
		struct timespec rel;

		if (atomic_load_explicit(&wake_word, memory_order_acquire))
			return true;
		if (now >= deadline)
			return false;
		rel.tv_sec = (time_t)((deadline - now) / 1000000000u);
		rel.tv_nsec = (long)((deadline - now) % 1000000000u);
		ioe_futex_wait(&wake_word, 0, &rel);
	}
}

static void *run(void *arg)
{
	static struct shim_stats_snap snaps[2];	/* this thread's alone */
	uint64_t period = (uint64_t)shim_cfg.interval * 1000000000u, t_prev = shim_now_ns(), next = t_prev + period;
	unsigned int cur = 1;

	(void)arg;
	shim_stats_snapshot(&snaps[0]);
	while (!sleep_until(next)) {
		uint64_t now = shim_now_ns();
		struct shim_stats_snap *s = &snaps[cur], *prev = &snaps[cur ^ 1];

		pthread_mutex_lock(&lock);
		if (stopping) {
			pthread_mutex_unlock(&lock);
			break;
		}
		shim_stats_snapshot(s);
		if (shim_cfg.stats)
			write_line(s, prev, (double)(now - t_prev) / 1e9);
		if (shim_cfg.metrics)
			write_metrics(s);
		pthread_mutex_unlock(&lock);
		t_prev = now;
		cur ^= 1;
		next += period;
		if (next <= now)	/* a round took longer than the interval: no burst to catch up */
			next = now + period;
	}
	return NULL;
}

void shim_report_start(void)
{
	int expect = R_IDLE, err;
	pthread_attr_t attr;
	sigset_t old;

	/* A thread whose seccomp filters may forbid clone(): another thread starts it. */
	if (!(shim_sandbox_mask() & SHIM_SB_CORE))
		return;
	if (getpid() != owner) {
		/* A vfork child shares the parent's memory: leave the parent's flag alone. */
		if (!__atomic_load_n(&shim_vfork_called, __ATOMIC_RELAXED))
			__atomic_store_n(&shim_report_pending, false, __ATOMIC_RELAXED);
		return;
	}
	if (!atomic_compare_exchange_strong(&state, &expect, R_STARTING))
		return;
	__atomic_store_n(&shim_report_pending, false, __ATOMIC_RELAXED);
	/* The thread inherits the mask: every signal blocked from its first instruction. */
	ioe_signals_block(&old);
	err = pthread_attr_init(&attr);
	if (!err) {
		pthread_attr_setstacksize(&attr, 128 * 1024);
		err = pthread_create(&thread, &attr, run, NULL);
		pthread_attr_destroy(&attr);
	}
	ioe_signals_restore(&old);
	if (!err)
		pthread_setname_np(thread, "ioe-stats");
	else
		shim_log(SHIM_LOG_WARN,
			 "cannot start the IOENGINE_STATS_INTERVAL thread (errno %d); reporting at exit only", err);
	atomic_store_explicit(&state, err ? R_FAILED : R_RUNNING, memory_order_release);
}

void shim_report_exit(void)
{
	struct shim_stats_snap s;
	bool here;
	int saved = errno;

	if (!shim_stats_on || atomic_exchange(&reported, true))
		return;
	/* A first call from a later destructor starts no thread. */
	__atomic_store_n(&shim_report_pending, false, __ATOMIC_RELAXED);
	here = getpid() == owner;
	if (here) {
		pthread_mutex_lock(&lock);
		stopping = true;
	}
	shim_stats_snapshot(&s);
	if (anything(&s)) {
		if (shim_cfg.stats)
			write_line(&s, NULL, 0);
		if (here && shim_cfg.metrics)
			write_metrics(&s);
	}
	if (!here)
		goto out;
	pthread_mutex_unlock(&lock);
	atomic_store_explicit(&wake_word, 1, memory_order_release);
	ioe_futex_wake(&wake_word, 1);
	if (atomic_load_explicit(&state, memory_order_acquire) == R_RUNNING)
		pthread_join(thread, NULL);
out:
	errno = saved;
}
