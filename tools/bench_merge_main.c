/* SPDX-License-Identifier: MIT */
/*
 * ioengine-bench-merge [DIR [uring|aio|both]]: the merge benchmark on its
 * own. DIR defaults to $IOENGINE_TEST_DIR, else /var/tmp; it must allow
 * O_DIRECT (not tmpfs). Backend defaults to both.
 */
#include <stdlib.h>
#include <string.h>
#include "bench_merge.h"

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : getenv("IOENGINE_TEST_DIR");
	const char *which = argc > 2 ? argv[2] : "both";
	int uring = !strcmp(which, "uring") || !strcmp(which, "both");
	int aio = !strcmp(which, "aio") || !strcmp(which, "both");
	int ret = 0, r;

	if (!dir || !*dir)
		dir = "/var/tmp";
	if (argc > 3 || (!uring && !aio)) {
		fprintf(stderr, "usage: %s [DIR [uring|aio|both]]\n", argv[0]);
		return 2;
	}
	if (uring && (r = bench_merge(dir, IOE_BACKEND_URING, stdout))) {
		fprintf(stderr, "io_uring: %s\n", strerror(-r));
		ret = 1;
	}
	if (aio && (r = bench_merge(dir, IOE_BACKEND_AIO, stdout))) {
		fprintf(stderr, "aio: %s\n", strerror(-r));
		ret = 1;
	}
	return ret;
}
