/* SPDX-License-Identifier: MIT */
/* One line of a thread's /proc file (comm, syscall, ...): what tests look at to see where a thread is. */
#ifndef IOE_TEST_TASK_FILE_H
#define IOE_TEST_TASK_FILE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

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

#endif
