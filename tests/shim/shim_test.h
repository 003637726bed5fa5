/* SPDX-License-Identifier: MIT */
/* Helpers for the shim tests: they run with libioengine-preload.so preloaded. */
#ifndef IOE_SHIM_TEST_H
#define IOE_SHIM_TEST_H

#include <dirent.h>
#include <dlfcn.h>
#include <sys/uio.h>
#include "check.h"
#include "task_file.h"

/* glibc's own functions, whatever is preloaded: looked up in libc.so.6 itself. */
struct libc_fns {
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*pread64)(int, void *, size_t, off64_t);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	ssize_t (*pwrite64)(int, const void *, size_t, off64_t);
	ssize_t (*preadv)(int, const struct iovec *, int, off_t);
	ssize_t (*pwritev)(int, const struct iovec *, int, off_t);
	ssize_t (*preadv2)(int, const struct iovec *, int, off_t, int);
	ssize_t (*pwritev2)(int, const struct iovec *, int, off_t, int);
};

static inline void libc_fns_load(struct libc_fns *f)
{
	void *h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);

	CHECK(h != NULL);
	*(void **)&f->pread = dlsym(h, "pread");
	*(void **)&f->pread64 = dlsym(h, "pread64");
	*(void **)&f->pwrite = dlsym(h, "pwrite");
	*(void **)&f->pwrite64 = dlsym(h, "pwrite64");
	*(void **)&f->preadv = dlsym(h, "preadv");
	*(void **)&f->pwritev = dlsym(h, "pwritev");
	*(void **)&f->preadv2 = dlsym(h, "preadv2");
	*(void **)&f->pwritev2 = dlsym(h, "pwritev2");
	CHECK(f->pread && f->pwrite && f->preadv && f->pwritev && f->preadv2 && f->pwritev2);
}

/* The shim must be what the program's pread resolves to, or the test proves nothing. */
static inline void require_shim(const struct libc_fns *f)
{
	void *p = dlsym(RTLD_DEFAULT, "pread");

	if (p == (void *)f->pread) {
		fprintf(stderr, "libioengine-preload.so is not preloaded (LD_PRELOAD=%s)\n",
			getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "");
		exit(1);
	}
}

/* Threads of this process named `name` (engine threads: ioe-submit, ioe-poll). */
static inline int count_threads(const char *name)
{
	int n = threads_named(name);

	CHECK(n >= 0);
	return n;
}

static inline const char *test_dir(void)
{
	const char *d = getenv("IOENGINE_TEST_DIR");

	return d && *d ? d : "/var/tmp";
}

#endif
