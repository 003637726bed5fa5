/* SPDX-License-Identifier: MIT */
/* Minimal test harness: checks that abort the test with file:line on failure. */
#ifndef IOE_TEST_CHECK_H
#define IOE_TEST_CHECK_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ioengine.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK failed: %s (errno %d)\n", __FILE__, __LINE__, #cond, errno); \
		exit(1); \
	} \
} while (0)

#define CHECK_EQ(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) { \
		fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", \
			__FILE__, __LINE__, #a, a_, #b, b_); \
		exit(1); \
	} \
} while (0)

/* The backend named by argv[1] ("uring" or "aio"). */
static inline enum ioe_backend test_backend(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s uring|aio\n", argv[0]);
		exit(2);
	}
	if (!strcmp(argv[1], "uring"))
		return IOE_BACKEND_URING;
	if (!strcmp(argv[1], "aio"))
		return IOE_BACKEND_AIO;
	fprintf(stderr, "unknown backend %s\n", argv[1]);
	exit(2);
}

static inline struct ioe_context *test_context(enum ioe_backend b, unsigned int depth, unsigned int workers)
{
	struct ioe_options o = { .depth = depth, .workers = workers, .backend = b };
	struct ioe_context *ctx = ioe_context_new_opts(&o);

	CHECK(ctx != NULL);
	return ctx;
}

/* A new empty file in IOENGINE_TEST_DIR (a real filesystem, O_DIRECT capable), unlinked. */
static inline int test_file(int extra_flags)
{
	const char *dir = getenv("IOENGINE_TEST_DIR");
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/ioe-test-XXXXXX", dir && *dir ? dir : "/var/tmp");
	fd = mkostemp(path, O_RDWR | extra_flags);
	CHECK(fd >= 0);
	unlink(path);
	return fd;
}

#endif
