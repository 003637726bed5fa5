/* SPDX-License-Identifier: MIT */
/* Helpers shared by the merge tests: counted events, patterns, waiting. */
#ifndef IOE_MTEST_H
#define IOE_MTEST_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include "check.h"
#include "merge.h"

/* A test event: counts its callbacks so "exactly once" can be checked. */
struct tev {
	struct ioe_event ev;	/* first: the callback gets &ev */
	atomic_int calls;
	void *buf;
};

struct tgroup {
	atomic_int done;
};

static inline void tev_cb(struct ioe_event *ev, void *arg)
{
	struct tev *t = (struct tev *)ev;
	struct tgroup *g = arg;

	atomic_fetch_add(&t->calls, 1);
	atomic_fetch_add(&g->done, 1);
}

static inline uint8_t pat(int64_t off, unsigned int seed)
{
	return (uint8_t)((uint64_t)off * 31 + ((uint64_t)off >> 9) * 7 + seed);
}

static inline void fill(void *buf, int64_t off, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = pat(off + (int64_t)i, seed);
}

/* Byte by byte, with the first bad offset in the message. */
#define CHECK_PAT(buf, off, len, seed) do { \
	for (size_t i_ = 0; i_ < (size_t)(len); i_++) { \
		if (((uint8_t *)(buf))[i_] != pat((int64_t)(off) + (int64_t)i_, seed)) { \
			fprintf(stderr, "%s:%d: byte at file offset %lld differs\n", __FILE__, __LINE__, \
				(long long)(off) + (long long)i_); \
			exit(1); \
		} \
	} \
} while (0)

static inline void *abuf(size_t len)
{
	void *p = NULL;

	CHECK(posix_memalign(&p, 4096, len ? len : 1) == 0);
	memset(p, 0xee, len);
	return p;
}

static inline void tev_prep(struct tev *t, struct tgroup *g, enum ioe_action a, int fd,
			    size_t len, int64_t off)
{
	memset(t, 0, sizeof(*t));
	t->buf = abuf(len);
	if (a == IOE_WRITE)
		ioe_prep_write(&t->ev, fd, t->buf, len, off);
	else
		ioe_prep_read(&t->ev, fd, t->buf, len, off);
	ioe_set_callback(&t->ev, tev_cb, g);
}

static inline void tev_release(struct tev *t, int n)
{
	for (int i = 0; i < n; i++)
		free(t[i].buf);
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait until n callbacks ran in total, then a little more to see any extra. */
static inline void wait_done(struct tgroup *g, int n)
{
	time_t deadline = time(NULL) + 30;

	while (atomic_load(&g->done) < n) {
		if (time(NULL) > deadline) {
			fprintf(stderr, "timeout: %d of %d callbacks\n", atomic_load(&g->done), n);
			CHECK(!"callbacks missing");
		}
		usleep(100);
	}
	sleep_ms(5);
	CHECK_EQ(atomic_load(&g->done), n);
}

static inline void check_once(struct tev *t, int n)
{
	for (int i = 0; i < n; i++)
		CHECK_EQ(atomic_load(&t[i].calls), 1);
}

/* O_DIRECT on the same file as fd, through /proc (test_file() unlinks). */
static inline int reopen(int fd, int flags)
{
	char p[64];
	int nfd;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	nfd = open(p, O_RDWR | flags);
	CHECK(nfd >= 0);
	return nfd;
}

/* Does this filesystem refuse a misaligned O_DIRECT write? The limit and
 * run tests use that to see whether pieces went merged or alone. */
static inline int direct_refuses_misaligned(int dfd)
{
	void *b = abuf(4096);
	ssize_t r = pwrite(dfd, b, 1000, 0);
	int refuses = r < 0 && errno == EINVAL;

	free(b);
	return refuses;
}

#endif
