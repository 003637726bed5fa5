/* SPDX-License-Identifier: MIT */
/*
 * A thread's /proc files (comm, syscall, status): what tests look at to see
 * where a thread is and how often it slept.
 */
#ifndef IOE_TEST_TASK_FILE_H
#define IOE_TEST_TASK_FILE_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>

/* The first line of /proc/self/task/TID/NAME into buf; false if the thread has ended. */
static inline bool task_file(pid_t tid, const char *name, char *buf, int len)
{
	char path[96];
	FILE *f;
	bool got;

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", (int)tid, name);
	f = fopen(path, "r");
	if (!f)
		return false;
	got = fgets(buf, len, f) != NULL;
	fclose(f);
	return got;
}

/*
 * Whether thread tid sleeps in a wait (its /proc syscall): a futex (glibc's
 * aio_suspend(), the engine's sleeps on a word), io_uring_enter(),
 * io_getevents() or io_pgetevents() (libaio), or ppoll().
 */
static inline bool thread_in_wait(pid_t tid)
{
	char line[32];
	long nr;

	if (!task_file(tid, "syscall", line, sizeof(line)) || line[0] < '0' || line[0] > '9')
		return false;
	nr = strtol(line, NULL, 10);
	return nr == SYS_futex || nr == SYS_io_uring_enter || nr == SYS_io_getevents ||
	       nr == SYS_io_pgetevents || nr == SYS_ppoll;
}

/* The value of field key ("SigBlk:", ...) of thread tid's /proc status, parsed with base; false if absent or ended. */
static inline bool task_status_field(pid_t tid, const char *key, int base, unsigned long long *val)
{
	char path[96], line[256];
	size_t len = strlen(key);
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len)) {
			*val = strtoull(line + len, NULL, base);
			found = true;
		}
	fclose(f);
	return found;
}

/* How often thread tid slept (voluntary context switches); -1 once it has ended. */
static inline long thread_sleeps(pid_t tid)
{
	unsigned long long n;

	return task_status_field(tid, "voluntary_ctxt_switches:", 10, &n) ? (long)n : -1;
}

/*
 * Whether thread tid sleeps in a wait (thread_in_wait()) and has not woken
 * for ms: one sleep that lasts, not a passing wait for some lock on its way.
 */
static inline bool thread_in_settled_wait(pid_t tid, int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	long before;

	if (!thread_in_wait(tid) || (before = thread_sleeps(tid)) < 0)
		return false;
	nanosleep(&ts, NULL);
	return thread_in_wait(tid) && thread_sleeps(tid) == before;
}

/* Whether signal sig is blocked in thread tid, and (with pending) also pending there (its /proc status). */
static inline bool thread_blocks_signal(pid_t tid, int sig, bool pending)
{
	unsigned long long pnd, blk, bit = 1ull << (sig - 1);

	return task_status_field(tid, "SigBlk:", 16, &blk) && (blk & bit) &&
	       (!pending || (task_status_field(tid, "SigPnd:", 16, &pnd) && (pnd & bit)));
}

/* Whether thread tid of this process is named prefix* (false once it has ended). */
static inline bool thread_named(pid_t tid, const char *prefix)
{
	char comm[32];

	return task_file(tid, "comm", comm, sizeof(comm)) && !strncmp(comm, prefix, strlen(prefix));
}

/* The /proc/self/task entry of dir's next thread named prefix*; NULL at the end. */
static inline const char *next_thread_named(DIR *dir, const char *prefix)
{
	struct dirent *de;

	while ((de = readdir(dir)))
		if (de->d_name[0] != '.' && thread_named((pid_t)atoi(de->d_name), prefix))
			return de->d_name;
	return NULL;
}

/* How many threads of this process are named prefix*; -1 on error. */
static inline int threads_named(const char *prefix)
{
	DIR *dir = opendir("/proc/self/task");
	int n = 0;

	if (!dir)
		return -1;
	while (next_thread_named(dir, prefix))
		n++;
	closedir(dir);
	return n;
}

/* How often this process's threads named prefix* slept (voluntary context switches); -1 on error. */
static inline long threads_sleeps(const char *prefix)
{
	DIR *dir = opendir("/proc/self/task");
	const char *tid;
	long total = 0;

	if (!dir)
		return -1;
	while ((tid = next_thread_named(dir, prefix))) {
		long n = thread_sleeps((pid_t)atoi(tid));

		if (n > 0)
			total += n;	/* (-1: ended meanwhile) */
	}
	closedir(dir);
	return total;
}

#endif
