/* SPDX-License-Identifier: MIT */
/*
 * Injected faults as the program sees them, through the preloaded shim
 * (run_fault.sh sets LD_PRELOAD, IOENGINE_FAULT and IOENGINE_FASTPATH=0).
 *
 *   fault_visible eio DIR        IOENGINE_FAULT="eio=1": every routed call fails
 *                                exactly as a real EIO: pread/pwrite/preadv/
 *                                pwritev -1/EIO, aio_error EIO, aio_return -1,
 *                                lio_listio(LIO_WAIT) -1/EIO, aio_fsync EIO.
 *   fault_visible mixed DIR      eio=P: each call either succeeds exactly (data
 *                                checked) or fails with EIO; nothing else.
 *   fault_visible invisible DIR  short/eagain/enomem: results and data exact,
 *                                EOF short counts exact.
 */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define FAIL(...) do { \
	fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); \
	fputc('\n', stderr); \
	exit(1); \
} while (0)

#define FILE_LEN	(1024 * 1024 + 777)	/* the tail is not a whole block: EOF short counts */
#define MAXIO		(256 * 1024)

static uint64_t rng = 0x1234567;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned char pat(long off, unsigned int gen)
{
	return (unsigned char)((off * 131u) ^ (off >> 9) ^ (gen * 0x5bu));
}

static unsigned char *model;	/* expected file content */

static void fill(unsigned char *b, long off, size_t n, unsigned int gen)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pat(off + (long)i, gen);
}

static int open_file(const char *dir)
{
	char path[4096];
	unsigned char *b = malloc(FILE_LEN);
	int fd;

	snprintf(path, sizeof(path), "%s/fault-visible-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0 || !b)
		FAIL("mkstemp %s: %s", path, strerror(errno));
	unlink(path);
	fill(b, 0, FILE_LEN, 0);
	/* write(2) is not interposed: the initial content never sees a fault. */
	if (write(fd, b, FILE_LEN) != FILE_LEN)
		FAIL("write: %s", strerror(errno));
	model = b;
	return fd;
}

static void aio_wait(struct aiocb *cb)
{
	const struct aiocb *l[1] = { cb };

	while (aio_error(cb) == EINPROGRESS)
		if (aio_suspend(l, 1, NULL) && errno != EINTR)
			FAIL("aio_suspend: %s", strerror(errno));
}

/* How many bytes a read of n at off gives on a healthy file. */
static size_t expect_len(long off, size_t n)
{
	if (off >= FILE_LEN)
		return 0;
	return off + (long)n > FILE_LEN ? (size_t)(FILE_LEN - off) : n;
}

static void check_read(const unsigned char *b, long off, ssize_t got, size_t n, const char *what)
{
	if (got != (ssize_t)expect_len(off, n))
		FAIL("%s at %ld len %zu: %zd, expected %zu (errno %d)", what, off, n, got,
		     expect_len(off, n), errno);
	if (got > 0 && memcmp(b, model + off, (size_t)got))
		FAIL("%s at %ld len %zu: data differs", what, off, n);
}

/* Split b[0..n) into up to 4 pieces. */
static int split(struct iovec *iov, unsigned char *b, size_t n)
{
	int cnt = 1 + (int)(rnd() % 4);
	size_t left = n;

	for (int i = 0; i < cnt; i++) {
		size_t l = i == cnt - 1 ? left : left / 2;

		iov[i].iov_base = b;
		iov[i].iov_len = l;
		b += l;
		left -= l;
	}
	return cnt;
}

enum { T_PREAD, T_PWRITE, T_PREADV, T_PWRITEV, T_AIO_READ, T_AIO_WRITE, T_LIO, T_FSYNC, T_KINDS };
static const char *const tname[] = { "pread", "pwrite", "preadv", "pwritev", "aio_read", "aio_write",
				     "lio_listio", "aio_fsync" };

/*
 * One operation. Returns 1 if it failed with EIO, 0 if it succeeded exactly;
 * anything else fails the test. eio_ok: EIO is an acceptable outcome; a
 * failed write leaves its range unknown, so later checks of that range are
 * skipped (tracked by re-filling the model from the file with the real read).
 */
static int one_op(int fd, int kind, bool eio_ok, bool eio_must, unsigned int gen)
{
	static unsigned char buf[MAXIO], buf2[MAXIO];
	struct iovec iov[4];
	struct aiocb cb, cb2, *list[3];
	size_t n = 1 + rnd() % MAXIO;
	long off = (long)(rnd() % (FILE_LEN + 4096));
	bool wr = kind == T_PWRITE || kind == T_PWRITEV || kind == T_AIO_WRITE;
	ssize_t got;
	int err = 0;

	if (rnd() % 2)
		n &= ~4095ul;	/* whole blocks, the engine may then cut at block boundaries */
	if (!n)
		n = 4096;
	if (wr) {
		if (off + (long)n > FILE_LEN)
			off = FILE_LEN - (long)n;	/* the file keeps its length */
		fill(buf, off, n, gen);
	}
	memset(&cb, 0, sizeof(cb));
	cb.aio_fildes = fd;
	cb.aio_buf = buf;
	cb.aio_nbytes = n;
	cb.aio_offset = off;
	errno = 4242;
	switch (kind) {
	case T_PREAD:
		got = pread(fd, buf, n, off);
		break;
	case T_PWRITE:
		got = pwrite(fd, buf, n, off);
		break;
	case T_PREADV:
		got = preadv(fd, iov, split(iov, buf, n), off);
		break;
	case T_PWRITEV:
		got = pwritev(fd, iov, split(iov, buf, n), off);
		break;
	case T_AIO_READ:
	case T_AIO_WRITE:
		if ((kind == T_AIO_READ ? aio_read(&cb) : aio_write(&cb)) != 0)
			FAIL("%s refused: %s", tname[kind], strerror(errno));
		aio_wait(&cb);
		err = aio_error(&cb);
		got = aio_return(&cb);
		if (err && got != -1)
			FAIL("%s: aio_error %d but aio_return %zd", tname[kind], err, got);
		if (err)
			errno = err;
		break;
	case T_LIO:
		/* Two reads: LIO_WAIT says -1/EIO if either failed. */
		cb2 = cb;
		cb2.aio_buf = buf2;
		cb.aio_lio_opcode = cb2.aio_lio_opcode = LIO_READ;
		list[0] = &cb;
		list[1] = NULL;
		list[2] = &cb2;
		got = lio_listio(LIO_WAIT, list, 3, NULL);
		if (got == 0) {
			check_read(buf, off, aio_return(&cb), n, "lio member 1");
			check_read(buf2, off, aio_return(&cb2), n, "lio member 2");
			return 0;
		}
		if (errno != EIO)
			FAIL("lio_listio: %zd errno %d, expected EIO", got, errno);
		if (!eio_ok)
			FAIL("lio_listio failed without faults");
		for (int i = 0; i < 3; i += 2) {
			int e = aio_error(list[i]);

			if (e == EIO ? aio_return(list[i]) != -1 : e != 0)
				FAIL("lio member: aio_error %d aio_return %zd", e, aio_return(list[i]));
		}
		if (eio_must && (aio_error(&cb) != EIO || aio_error(&cb2) != EIO))
			FAIL("lio_listio: a member escaped eio=1");
		return 1;
	case T_FSYNC:
		if (aio_fsync(O_DSYNC, &cb))
			FAIL("aio_fsync refused: %s", strerror(errno));
		aio_wait(&cb);
		err = aio_error(&cb);
		if (err == 0 && aio_return(&cb) == 0) {
			if (eio_must)
				FAIL("aio_fsync succeeded under eio=1");
			return 0;
		}
		if (err != EIO || aio_return(&cb) != -1 || !eio_ok)
			FAIL("aio_fsync: aio_error %d aio_return %zd", err, aio_return(&cb));
		return 1;
	default:
		abort();
	}
	if (got < 0) {
		if (got != -1 || errno != EIO || !eio_ok)
			FAIL("%s at %ld len %zu: %zd errno %d (%s)", tname[kind], off, n, got, errno,
			     strerror(errno));
		if (wr) {
			/* Unknown now: learn the range from the file, with the real read. */
			if (lseek(fd, off, SEEK_SET) != off || read(fd, model + off, n) != (ssize_t)n)
				FAIL("re-reading a failed write's range: %s", strerror(errno));
		}
		return 1;
	}
	if (eio_must)
		FAIL("%s at %ld len %zu: %zd, escaped eio=1", tname[kind], off, n, got);
	if (errno != 4242 && kind != T_AIO_READ && kind != T_AIO_WRITE)
		FAIL("%s: errno changed to %d on success", tname[kind], errno);
	if (wr) {
		if (got != (ssize_t)n)
			FAIL("%s at %ld len %zu: %zd", tname[kind], off, n, got);
		memcpy(model + off, buf, n);
	} else {
		check_read(buf, off, got, n, tname[kind]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int fd, eio = 0, ops, counts[T_KINDS][2] = { { 0 } };
	bool eio_ok, eio_must;
	unsigned char *back;

	if (argc != 3) {
		fprintf(stderr, "usage: %s eio|mixed|invisible DIR\n", argv[0]);
		return 2;
	}
	eio_must = !strcmp(argv[1], "eio");
	eio_ok = eio_must || !strcmp(argv[1], "mixed");
	if (!eio_ok && strcmp(argv[1], "invisible"))
		FAIL("unknown mode %s", argv[1]);
	fd = open_file(argv[2]);
	ops = eio_must ? 200 : 1500;
	for (int i = 0; i < ops; i++) {
		int kind = (int)(rnd() % T_KINDS), r = one_op(fd, kind, eio_ok, eio_must, (unsigned int)i + 1);

		counts[kind][r]++;
		eio += r;
	}
	/* The file, read with the real read(2), is what the model says. */
	back = malloc(FILE_LEN);
	if (!back || lseek(fd, 0, SEEK_SET) != 0 || read(fd, back, FILE_LEN) != FILE_LEN)
		FAIL("final read: %s", strerror(errno));
	if (memcmp(back, model, FILE_LEN))
		FAIL("final file content differs from the model");
	free(back);
	for (int k = 0; k < T_KINDS; k++)
		printf("%-10s ok=%d eio=%d\n", tname[k], counts[k][0], counts[k][1]);
	printf("%s: %d operations, %d failed with EIO, all results and data exact\n", argv[1], ops, eio);
	if (eio_ok && !eio)
		FAIL("no EIO seen: fault injection did not reach the program");
	if (!eio_ok && eio)
		FAIL("EIO without eio faults");
	for (int k = 0; eio_ok && k < T_KINDS; k++)
		if (!counts[k][1])
			FAIL("%s never saw an injected EIO", tname[k]);
	return 0;
}
