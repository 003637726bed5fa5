/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the hostile-host cases. A case prints what it observed, one
 * fact a line, to stdout: run_case.sh compares that (and the exit status
 * and stderr) between a native run and one under the shim. Print results
 * and errno names, never addresses, times or pids.
 */
#ifndef IOE_HOST_H
#define IOE_HOST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A step the case itself needs (not the behaviour it observes) failed. */
#define HOST_DIE(...) do { \
	fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); \
	fprintf(stderr, ": %s\n", strerrorname_np(errno) ?: "0"); \
	exit(99); \
} while (0)

/* "NAME: RESULT" or "NAME: -1 ERRNO" for a call that returns -1 on failure. */
static inline void host_show(const char *name, long ret)
{
	if (ret == -1)
		printf("%s: -1 %s\n", name, strerrorname_np(errno) ?: "?");
	else
		printf("%s: %ld\n", name, ret);
	fflush(stdout);
}

#endif
