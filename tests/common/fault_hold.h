/* SPDX-License-Identifier: MIT */
/*
 * A buffer whose page faults a userfaultfd holds until the test lets each
 * one go: a read into it (pread, aio_read, an engine event) stays in
 * progress in the kernel for as long as the test wants, with no timing.
 * One per process; its server thread lives until exit.
 */
#ifndef IOE_TEST_FAULT_HOLD_H
#define IOE_TEST_FAULT_HOLD_H

#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct fault_hold {
	char *buf;
	size_t len;
	int uffd, go[2];
	atomic_int faults;	/* faults seen so far */
};

static inline void fault_hold_die(const char *what)
{
	fprintf(stderr, "fault_hold: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Serve each fault once the test has written a byte to go[1]. */
static inline void *fault_hold_server(void *arg)
{
	struct fault_hold *h = arg;
	struct uffdio_zeropage z = { .range = { (uintptr_t)h->buf, h->len } };
	struct uffd_msg m;
	char c;

	for (;;) {
		if (read(h->uffd, &m, sizeof(m)) != sizeof(m)) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fault_hold_die("userfaultfd read");
		}
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		atomic_fetch_add(&h->faults, 1);
		while (read(h->go[0], &c, 1) != 1)
			if (errno != EINTR)
				fault_hold_die("go read");
		z.zeropage = 0;
		if (ioctl(h->uffd, UFFDIO_ZEROPAGE, &z) && errno != EEXIST)
			fault_hold_die("UFFDIO_ZEROPAGE");
	}
	return NULL;
}

/* Set up len bytes (once; again a no-op); false where userfaultfd is not allowed. */
static inline bool fault_hold_init(struct fault_hold *h, size_t len)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	pthread_t t;

	if (h->buf)
		return true;
	h->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (h->uffd < 0)
		return false;
	h->len = len;
	h->buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	reg.range.start = (uintptr_t)h->buf;
	reg.range.len = len;
	if (h->buf == MAP_FAILED || ioctl(h->uffd, UFFDIO_API, &api) || ioctl(h->uffd, UFFDIO_REGISTER, &reg) ||
	    pipe(h->go) || pthread_create(&t, NULL, fault_hold_server, h))
		fault_hold_die("set-up");
	pthread_detach(t);
	return true;
}

/* Make the pages missing again, so that the next access faults; the faults seen so far. */
static inline int fault_hold_arm(struct fault_hold *h)
{
	if (madvise(h->buf, h->len, MADV_DONTNEED))
		fault_hold_die("madvise");
	return atomic_load(&h->faults);
}

/* Wait until a fault after fault_hold_arm() is held (30 s at most). */
static inline void fault_hold_wait(struct fault_hold *h, int before)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; atomic_load(&h->faults) == before; i++) {
		if (i == 30000) {
			errno = ETIMEDOUT;
			fault_hold_die("no fault held in 30 s");
		}
		nanosleep(&ms, NULL);
	}
}

/*
 * An aio_read() of len bytes of fd into the held buffer, in progress in the
 * kernel when this returns: 0, or aio_read()'s -1 with errno (nothing held).
 */
static inline int fault_hold_aio_read(struct fault_hold *h, struct aiocb *cb, int fd, size_t len)
{
	int before = fault_hold_arm(h);

	memset(cb, 0, sizeof(*cb));
	cb->aio_fildes = fd;
	cb->aio_buf = h->buf;
	cb->aio_nbytes = len;
	if (aio_read(cb))
		return -1;
	fault_hold_wait(h, before);
	return 0;
}

/* Let one held fault go. */
static inline void fault_hold_release(struct fault_hold *h)
{
	if (write(h->go[1], "x", 1) != 1)
		fault_hold_die("go write");
}

#endif
