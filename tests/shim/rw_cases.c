/* SPDX-License-Identifier: MIT */
/*
 * Every case runs twice on identically prepared fds and buffers: once through
 * glibc's own function (looked up in libc.so.6) and once through the name the
 * program links to, which the preloaded shim interposes. Return value, errno
 * (untouched on success), buffer and file contents must be identical.
 * Then: signals during routed calls, and proof that an O_DIRECT pread is routed.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <limits.h>
#include "shim_test.h"

#define FILE_LEN	(3 * 4096 + 123)
#define DIRECT_LEN	(64 * 1024)
#define BIG_LEN		(256 * 1024)	/* K_PARTIAL: first half cached, second half not */
#define BUF_LEN		(1024 * 1024 + 8192)
#define ERRNO_MARK	4242

enum kind { K_FILE, K_RO, K_WO, K_APPEND, K_DIRECT, K_PARTIAL, K_PIPE, K_SOCK, K_DIR,
	    K_BADFD, K_NEGFD, K_DEVNULL, K_DEVZERO };
enum op { OP_PREAD, OP_PREAD64, OP_PWRITE, OP_PWRITE64, OP_PREADV, OP_PWRITEV, OP_PREADV2, OP_PWRITEV2,
	  OP_PREAD_CHK, OP_PREAD64_CHK };

/* glibc's _FORTIFY_SOURCE wrappers: what pread() is in a fortified program. */
extern ssize_t __pread_chk(int fd, void *buf, size_t nbytes, off_t offset, size_t buflen);
extern ssize_t __pread64_chk(int fd, void *buf, size_t nbytes, off64_t offset, size_t buflen);
static ssize_t (*libc_pread_chk)(int, void *, size_t, off_t, size_t);
static ssize_t (*libc_pread64_chk)(int, void *, size_t, off64_t, size_t);

struct tcase {
	const char *name;
	enum kind kind;
	enum op op;
	long long off;
	size_t len;		/* non-vectored */
	size_t buf_off;		/* misalignment of the buffer */
	int iovcnt;		/* vectored: the count passed */
	size_t seglen;		/* every segment, unless lens[] is given */
	size_t lens[4];
	int flags;		/* v2 */
	bool null_buf;
	bool bad_vec;		/* vectored: the iovec pointer itself is unmapped */
	bool torn_vec;		/* vectored: the second iovec is on an unmapped page */
	off_t seek;		/* lseek before the call (offset -1 cases) */
	size_t buflen;		/* the _chk calls: the buffer's size, if not all of it */
};

#define V(...) .lens = { __VA_ARGS__ }

static const struct tcase cases[] = {
	{ "pread-page", K_FILE, OP_PREAD, 0, 4096 },
	{ "pread-cross-page", K_FILE, OP_PREAD, 4000, 4096 },
	{ "pread-short-eof", K_FILE, OP_PREAD, FILE_LEN - 100, 4096 },
	{ "pread-at-eof", K_FILE, OP_PREAD, FILE_LEN, 4096 },
	{ "pread-past-eof", K_FILE, OP_PREAD, FILE_LEN + 5000, 4096 },
	{ "pread-count0", K_FILE, OP_PREAD, 0, 0 },
	{ "pread-count0-badfd", K_BADFD, OP_PREAD, 0, 0 },
	{ "pread-neg-off", K_FILE, OP_PREAD, -1, 100 },
	{ "pread-neg-off-page", K_FILE, OP_PREAD, -4096, 100 },
	{ "pread-neg-off-badfd", K_BADFD, OP_PREAD, -1, 100 },
	{ "pread-badfd", K_BADFD, OP_PREAD, 0, 100 },
	{ "pread-negfd", K_NEGFD, OP_PREAD, 0, 100 },
	{ "pread-pipe", K_PIPE, OP_PREAD, 0, 100 },
	{ "pread-socket", K_SOCK, OP_PREAD, 0, 100 },
	{ "pread-dir", K_DIR, OP_PREAD, 0, 100 },
	{ "pread-writeonly", K_WO, OP_PREAD, 0, 100 },
	{ "pread-append-fd", K_APPEND, OP_PREAD, 10, 1000 },
	{ "pread-devnull", K_DEVNULL, OP_PREAD, 0, 100 },
	{ "pread-devzero", K_DEVZERO, OP_PREAD, 0, 100 },
	{ "pread-null-buf", K_FILE, OP_PREAD, 0, 100, .null_buf = true },
	{ "pread-odd-buf", K_FILE, OP_PREAD, 7, 3000, 3 },
	{ "pread64", K_FILE, OP_PREAD64, 123, 5000 },
	{ "pread-large", K_PARTIAL, OP_PREAD, 10000, 200000 },
	{ "pread-partly-cached", K_PARTIAL, OP_PREAD, 100 * 1024, 64 * 1024 },
	{ "pread-uncached", K_PARTIAL, OP_PREAD, 200 * 1024, 4096 },
	{ "pread-partly-cached-eof", K_PARTIAL, OP_PREAD, 100 * 1024, BIG_LEN },
	{ "pread-direct", K_DIRECT, OP_PREAD, 4096, 4096 },
	{ "pread-direct-multi", K_DIRECT, OP_PREAD, 0, 32768 },
	{ "pread-direct-eof", K_DIRECT, OP_PREAD, DIRECT_LEN - 4096, 8192 },
	{ "pread-direct-at-eof", K_DIRECT, OP_PREAD, DIRECT_LEN, 4096 },
	{ "pread-direct-bad-buf", K_DIRECT, OP_PREAD, 0, 4096, 1 },
	{ "pread-direct-bad-off", K_DIRECT, OP_PREAD, 100, 4096 },
	{ "pread-direct-bad-len", K_DIRECT, OP_PREAD, 0, 1000 },
	{ "pread_chk-page", K_FILE, OP_PREAD_CHK, 0, 4096 },
	{ "pread_chk-exact-buflen", K_FILE, OP_PREAD_CHK, 100, 3000, 5, .buflen = 3000 },
	{ "pread_chk-short-eof", K_FILE, OP_PREAD_CHK, FILE_LEN - 100, 4096 },
	{ "pread_chk-count0", K_FILE, OP_PREAD_CHK, 0, 0, .buflen = 0 },
	{ "pread_chk-neg-off", K_FILE, OP_PREAD_CHK, -1, 100 },
	{ "pread_chk-badfd", K_BADFD, OP_PREAD_CHK, 0, 100 },
	{ "pread_chk-pipe", K_PIPE, OP_PREAD_CHK, 0, 100 },
	{ "pread_chk-uncached", K_PARTIAL, OP_PREAD_CHK, 200 * 1024, 4096 },
	{ "pread_chk-direct", K_DIRECT, OP_PREAD_CHK, 4096, 4096 },
	{ "pread64_chk", K_FILE, OP_PREAD64_CHK, 123, 5000 },
	{ "pread64_chk-partly-cached", K_PARTIAL, OP_PREAD64_CHK, 100 * 1024, 64 * 1024 },
	{ "pread64_chk-direct-multi", K_DIRECT, OP_PREAD64_CHK, 0, 32768 },
	{ "preadv-3", K_FILE, OP_PREADV, 50, .iovcnt = 3, V(100, 4000, 300) },
	{ "preadv-cnt0", K_FILE, OP_PREADV, 0, .iovcnt = 0, .seglen = 10 },
	{ "preadv-bad-vector", K_FILE, OP_PREADV, 0, .iovcnt = 2, .seglen = 10, .bad_vec = true },
	{ "pwritev-bad-vector", K_FILE, OP_PWRITEV, 0, .iovcnt = 2, .seglen = 10, .bad_vec = true },
	{ "preadv-torn-vector", K_FILE, OP_PREADV, 0, .iovcnt = 2, .seglen = 10, .torn_vec = true },
	{ "pwritev-torn-vector", K_FILE, OP_PWRITEV, 0, .iovcnt = 2, .seglen = 10, .torn_vec = true },
	{ "preadv-direct-bad-vector", K_DIRECT, OP_PREADV, 0, .iovcnt = 2, .seglen = 4096, .bad_vec = true },
	{ "pwritev-direct-bad-vector", K_DIRECT, OP_PWRITEV, 0, .iovcnt = 2, .seglen = 4096, .bad_vec = true },
	{ "preadv-direct-torn-vector", K_DIRECT, OP_PREADV, 0, .iovcnt = 2, .seglen = 4096, .torn_vec = true },
	{ "pwritev-direct-torn-vector", K_DIRECT, OP_PWRITEV, 0, .iovcnt = 2, .seglen = 4096, .torn_vec = true },
	{ "preadv-cnt-neg", K_FILE, OP_PREADV, 0, .iovcnt = -1, .seglen = 10 },
	{ "preadv-cnt-big", K_FILE, OP_PREADV, 0, .iovcnt = IOV_MAX + 1, .seglen = 1 },
	{ "preadv-iov-max", K_FILE, OP_PREADV, 0, .iovcnt = IOV_MAX, .seglen = 1 },
	{ "preadv-zero-segs", K_FILE, OP_PREADV, 5, .iovcnt = 3, V(0, 10, 0) },
	{ "preadv-all-zero", K_FILE, OP_PREADV, 5, .iovcnt = 2, V(0, 0) },
	{ "preadv-short-eof", K_FILE, OP_PREADV, FILE_LEN - 150, .iovcnt = 3, V(100, 100, 100) },
	{ "preadv-pipe", K_PIPE, OP_PREADV, 0, .iovcnt = 2, V(10, 10) },
	{ "preadv-badfd", K_BADFD, OP_PREADV, 0, .iovcnt = 2, V(10, 10) },
	{ "preadv-partly-cached", K_PARTIAL, OP_PREADV, 96 * 1024, .iovcnt = 20, .seglen = 8192 },
	{ "preadv-partly-cached-few", K_PARTIAL, OP_PREADV, 120 * 1024, .iovcnt = 3, V(4096, 10000, 8192) },
	{ "preadv-uncached", K_PARTIAL, OP_PREADV, 200 * 1024, .iovcnt = 2, V(4096, 8192) },
	{ "preadv-dir", K_DIR, OP_PREADV, 0, .iovcnt = 2, V(10, 10) },
	{ "preadv-direct", K_DIRECT, OP_PREADV, 8192, .iovcnt = 2, V(4096, 8192) },
	{ "preadv-direct-bad", K_DIRECT, OP_PREADV, 8192, .iovcnt = 2, V(4096, 100) },
	{ "preadv2-0", K_FILE, OP_PREADV2, 11, .iovcnt = 2, V(2000, 3000) },
	{ "preadv2-hipri", K_FILE, OP_PREADV2, 0, .iovcnt = 1, V(100), .flags = RWF_HIPRI },
	{ "preadv2-nowait", K_FILE, OP_PREADV2, 0, .iovcnt = 1, V(100), .flags = RWF_NOWAIT },
	{ "preadv2-bad-flags", K_FILE, OP_PREADV2, 0, .iovcnt = 1, V(100), .flags = 0x40000000 },
	{ "preadv2-cur-pos", K_FILE, OP_PREADV2, -1, .iovcnt = 2, V(10, 20), .seek = 1000 },
	{ "preadv2-neg-off", K_FILE, OP_PREADV2, -2, .iovcnt = 1, V(10) },
	{ "preadv2-direct", K_DIRECT, OP_PREADV2, 0, .iovcnt = 2, V(4096, 4096) },
	{ "pwrite-page", K_FILE, OP_PWRITE, 0, 4096 },
	{ "pwrite-extend", K_FILE, OP_PWRITE, FILE_LEN + 1000, 5000 },
	{ "pwrite-count0", K_FILE, OP_PWRITE, 0, 0 },
	{ "pwrite-count0-ro", K_RO, OP_PWRITE, 0, 0 },
	{ "pwrite-neg-off", K_FILE, OP_PWRITE, -1, 100 },
	{ "pwrite-badfd", K_BADFD, OP_PWRITE, 0, 100 },
	{ "pwrite-negfd", K_NEGFD, OP_PWRITE, 0, 100 },
	{ "pwrite-readonly", K_RO, OP_PWRITE, 0, 100 },
	{ "pwrite-append", K_APPEND, OP_PWRITE, 0, 100 },
	{ "pwrite-writeonly", K_WO, OP_PWRITE, 10, 100 },
	{ "pwrite-pipe", K_PIPE, OP_PWRITE, 0, 100 },
	{ "pwrite-socket", K_SOCK, OP_PWRITE, 0, 100 },
	{ "pwrite-dir", K_DIR, OP_PWRITE, 0, 100 },
	{ "pwrite-devnull", K_DEVNULL, OP_PWRITE, 0, 100 },
	{ "pwrite-null-buf", K_FILE, OP_PWRITE, 0, 100, .null_buf = true },
	{ "pwrite-large", K_FILE, OP_PWRITE, 100, 1024 * 1024 },
	{ "pwrite-direct", K_DIRECT, OP_PWRITE, 8192, 8192 },
	{ "pwrite-direct-extend", K_DIRECT, OP_PWRITE, DIRECT_LEN, 4096 },
	{ "pwrite-direct-bad-buf", K_DIRECT, OP_PWRITE, 0, 4096, 1 },
	{ "pwrite-direct-bad-off", K_DIRECT, OP_PWRITE, 10, 4096 },
	{ "pwrite64", K_FILE, OP_PWRITE64, 77, 777 },
	{ "pwritev-3", K_FILE, OP_PWRITEV, 33, .iovcnt = 3, V(100, 4000, 300) },
	{ "pwritev-cnt-big", K_FILE, OP_PWRITEV, 0, .iovcnt = IOV_MAX + 1, .seglen = 1 },
	{ "pwritev-cnt0", K_FILE, OP_PWRITEV, 0, .iovcnt = 0, .seglen = 1 },
	{ "pwritev-iov-max", K_FILE, OP_PWRITEV, 3, .iovcnt = IOV_MAX, .seglen = 3 },
	{ "pwritev-many", K_FILE, OP_PWRITEV, 3, .iovcnt = 40, .seglen = 1000 },
	{ "pwritev-append", K_APPEND, OP_PWRITEV, 0, .iovcnt = 2, V(10, 20) },
	{ "pwritev-readonly", K_RO, OP_PWRITEV, 0, .iovcnt = 2, V(10, 20) },
	{ "pwritev-direct", K_DIRECT, OP_PWRITEV, 4096, .iovcnt = 2, V(4096, 4096) },
	{ "pwritev2-0", K_FILE, OP_PWRITEV2, 500, .iovcnt = 2, V(10, 20) },
	{ "pwritev2-append", K_FILE, OP_PWRITEV2, 0, .iovcnt = 2, V(10, 20), .flags = RWF_APPEND },
	{ "pwritev2-dsync", K_FILE, OP_PWRITEV2, 10, .iovcnt = 1, V(300), .flags = RWF_DSYNC },
	{ "pwritev2-cur-pos", K_FILE, OP_PWRITEV2, -1, .iovcnt = 2, V(10, 20), .seek = 77 },
};

struct result {
	ssize_t res;
	int err;
	off_t pos;
	size_t file_len;
	unsigned char *buf;
	unsigned char *file;
};

struct world {
	int fd;		/* what the call gets */
	int other;	/* the pipe's or socket's other end */
	char path[4096];
};

static struct libc_fns libc;
static unsigned char *iobuf;

static void pattern(unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 7 + seed + i / 4096) & 0xff);
}

static void make_file(struct world *w, size_t len, int flags)
{
	static unsigned char data[BIG_LEN];
	int fd;

	snprintf(w->path, sizeof(w->path), "%s/shim-rw-XXXXXX", test_dir());
	fd = mkstemp(w->path);
	CHECK(fd >= 0);
	pattern(data, len, 1);
	CHECK_EQ(libc.pwrite(fd, data, len, 0), len);
	close(fd);
	w->fd = open(w->path, flags);
	CHECK(w->fd >= 0);
}

static void world_make(struct world *w, const struct tcase *t)
{
	int p[2];
	bool wr = t->op == OP_PWRITE || t->op == OP_PWRITE64 || t->op == OP_PWRITEV || t->op == OP_PWRITEV2;

	w->other = -1;
	w->path[0] = 0;
	switch (t->kind) {
	case K_FILE: make_file(w, FILE_LEN, O_RDWR); break;
	case K_RO: make_file(w, FILE_LEN, O_RDONLY); break;
	case K_WO: make_file(w, FILE_LEN, O_WRONLY); break;
	case K_APPEND: make_file(w, FILE_LEN, O_RDWR | O_APPEND); break;
	case K_DIRECT: make_file(w, DIRECT_LEN, O_RDWR | O_DIRECT); break;
	case K_PARTIAL:
		make_file(w, BIG_LEN, O_RDWR);
		CHECK(!fdatasync(w->fd));
		CHECK(!posix_fadvise(w->fd, 0, 0, POSIX_FADV_DONTNEED));
		CHECK_EQ(libc.pread(w->fd, iobuf, BIG_LEN / 2, 0), BIG_LEN / 2);
		break;
	case K_PIPE:
		CHECK(!pipe(p));
		CHECK_EQ(write(p[1], "0123456789", 10), 10);
		w->fd = wr ? p[1] : p[0];
		w->other = wr ? p[0] : p[1];
		break;
	case K_SOCK:
		CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, p));
		CHECK_EQ(write(p[1], "0123456789", 10), 10);
		w->fd = p[0];
		w->other = p[1];
		break;
	case K_DIR: w->fd = open(test_dir(), O_RDONLY | O_DIRECTORY); break;
	case K_BADFD: w->fd = 999; close(999); break;
	case K_NEGFD: w->fd = -1; break;
	case K_DEVNULL: w->fd = open("/dev/null", O_RDWR); break;
	case K_DEVZERO: w->fd = open("/dev/zero", O_RDONLY); break;
	}
	if (t->kind != K_BADFD && t->kind != K_NEGFD)
		CHECK(w->fd >= 0);
	if (t->seek)
		CHECK_EQ(lseek(w->fd, t->seek, SEEK_SET), t->seek);
}

static void world_end(struct world *w, struct result *r)
{
	r->pos = w->fd >= 0 ? lseek(w->fd, 0, SEEK_CUR) : -1;
	r->file = NULL;
	r->file_len = 0;
	if (w->path[0]) {
		int fd = open(w->path, O_RDONLY);
		struct stat st;

		CHECK(fd >= 0 && !fstat(fd, &st));
		r->file_len = (size_t)st.st_size;
		r->file = malloc(r->file_len + 1);
		CHECK(r->file);
		CHECK_EQ(libc.pread(fd, r->file, r->file_len, 0), r->file_len);
		close(fd);
		unlink(w->path);
	}
	if (w->fd >= 0)
		close(w->fd);
	if (w->other >= 0)
		close(w->other);
}

/* An iovec at the very end of a page whose next page is unmapped: the kernel says EFAULT. */
static struct iovec *torn_vector(const struct iovec *first)
{
	static char *pages;

	if (!pages) {
		pages = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(pages != MAP_FAILED);
		CHECK(!munmap(pages + 4096, 4096));
	}
	memcpy(pages + 4096 - sizeof(*first), first, sizeof(*first));
	return (struct iovec *)(pages + 4096 - sizeof(*first));
}

static void run(const struct tcase *t, bool shim, struct result *r)
{
	static struct iovec iov_space[IOV_MAX + 2];
	/* Never mapped (the lowest page): the kernel says EFAULT. */
	struct iovec *iov = t->bad_vec ? (struct iovec *)(uintptr_t)64 : iov_space;
	unsigned char *buf = t->null_buf ? NULL : iobuf + t->buf_off;
	int nseg = t->iovcnt > 0 ? t->iovcnt : 2;
	size_t at = t->buf_off;
	size_t chk_len = t->buflen || t->len == 0 ? t->buflen : BUF_LEN - t->buf_off;
	struct world w;

	world_make(&w, t);
	pattern(iobuf, BUF_LEN, 99);
	for (int i = 0; i < nseg; i++) {
		iov_space[i].iov_base = iobuf + at;
		iov_space[i].iov_len = t->lens[0] || t->lens[1] ? t->lens[i] : t->seglen;
		at += iov_space[i].iov_len;
	}
	if (t->torn_vec)
		iov = torn_vector(iov_space);
	errno = ERRNO_MARK;
	switch (t->op) {
	case OP_PREAD:
		r->res = shim ? pread(w.fd, buf, t->len, t->off) : libc.pread(w.fd, buf, t->len, t->off);
		break;
	case OP_PREAD64:
		r->res = shim ? pread64(w.fd, buf, t->len, t->off) : libc.pread64(w.fd, buf, t->len, t->off);
		break;
	case OP_PWRITE:
		r->res = shim ? pwrite(w.fd, buf, t->len, t->off) : libc.pwrite(w.fd, buf, t->len, t->off);
		break;
	case OP_PWRITE64:
		r->res = shim ? pwrite64(w.fd, buf, t->len, t->off) : libc.pwrite64(w.fd, buf, t->len, t->off);
		break;
	case OP_PREADV:
		r->res = shim ? preadv(w.fd, iov, t->iovcnt, t->off) : libc.preadv(w.fd, iov, t->iovcnt, t->off);
		break;
	case OP_PWRITEV:
		r->res = shim ? pwritev(w.fd, iov, t->iovcnt, t->off) : libc.pwritev(w.fd, iov, t->iovcnt, t->off);
		break;
	case OP_PREADV2:
		r->res = shim ? preadv2(w.fd, iov, t->iovcnt, t->off, t->flags) :
				libc.preadv2(w.fd, iov, t->iovcnt, t->off, t->flags);
		break;
	case OP_PWRITEV2:
		r->res = shim ? pwritev2(w.fd, iov, t->iovcnt, t->off, t->flags) :
				libc.pwritev2(w.fd, iov, t->iovcnt, t->off, t->flags);
		break;
	case OP_PREAD_CHK:
		r->res = shim ? __pread_chk(w.fd, buf, t->len, t->off, chk_len) :
				libc_pread_chk(w.fd, buf, t->len, t->off, chk_len);
		break;
	case OP_PREAD64_CHK:
		r->res = shim ? __pread64_chk(w.fd, buf, t->len, t->off, chk_len) :
				libc_pread64_chk(w.fd, buf, t->len, t->off, chk_len);
		break;
	}
	r->err = errno;
	r->buf = malloc(BUF_LEN);
	CHECK(r->buf);
	memcpy(r->buf, iobuf, BUF_LEN);
	world_end(&w, r);
}

static int compare(const struct tcase *t)
{
	struct result a, b;
	int bad = 0;

	run(t, false, &a);
	run(t, true, &b);
	if (a.res != b.res || a.err != b.err) {
		fprintf(stderr, "FAIL %s: real %zd errno %d, shim %zd errno %d\n", t->name, a.res, a.err,
			b.res, b.err);
		bad = 1;
	} else if (a.res >= 0 && a.err != ERRNO_MARK) {
		fprintf(stderr, "FAIL %s: errno changed on success (%d)\n", t->name, a.err);
		bad = 1;
	} else if (memcmp(a.buf, b.buf, BUF_LEN)) {
		fprintf(stderr, "FAIL %s: buffers differ\n", t->name);
		bad = 1;
	} else if (a.file_len != b.file_len || (a.file_len && memcmp(a.file, b.file, a.file_len))) {
		fprintf(stderr, "FAIL %s: files differ (%zu vs %zu bytes)\n", t->name, a.file_len, b.file_len);
		bad = 1;
	} else if (a.pos != b.pos) {
		fprintf(stderr, "FAIL %s: file position %lld vs %lld\n", t->name, (long long)a.pos, (long long)b.pos);
		bad = 1;
	}
	if (!bad)
		printf("ok %s: %zd%s%s\n", t->name, a.res, a.res < 0 ? " " : "", a.res < 0 ? strerrorname_np(a.err) : "");
	free(a.buf);
	free(b.buf);
	free(a.file);
	free(b.file);
	return bad;
}

static volatile sig_atomic_t signals;

static void on_alarm(int sig)
{
	(void)sig;
	signals++;
}

/* Routed calls (O_DIRECT always is) under a 100 us interval timer: no EINTR, exact data. */
static int signal_phase(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval it = { { 0, 100 }, { 0, 100 } };
	unsigned char expect[DIRECT_LEN];
	struct tcase t = { .kind = K_DIRECT };
	struct world w;
	struct result r;
	int bad = 0;

	world_make(&w, &t);
	pattern(expect, DIRECT_LEN, 1);
	sigemptyset(&sa.sa_mask);
	CHECK(!sigaction(SIGALRM, &sa, NULL));
	CHECK(!setitimer(ITIMER_REAL, &it, NULL));
	for (int i = 0; i < 3000 && !bad; i++) {
		off_t off = (off_t)(i % (DIRECT_LEN / 4096)) * 4096;
		ssize_t n = pread(w.fd, iobuf, 4096, off);

		if (n != 4096 || memcmp(iobuf, expect + off, 4096)) {
			fprintf(stderr, "FAIL signals: pread %zd errno %d at %lld\n", n, errno, (long long)off);
			bad = 1;
		}
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	world_end(&w, &r);
	free(r.file);
	if (!signals) {
		fprintf(stderr, "FAIL signals: no signal arrived\n");
		bad = 1;
	}
	if (!bad)
		printf("ok signals: %d handlers ran during routed reads\n", (int)signals);
	return bad;
}

static volatile sig_atomic_t xfsz;

static void on_xfsz(int sig)
{
	(void)sig;
	xfsz++;
}

/*
 * A write past RLIMIT_FSIZE: -1 EFBIG and one SIGXFSZ, in the writing
 * thread, as the real call gives; buffered and O_DIRECT, pwrite and pwritev.
 */
static int xfsz_phase(void)
{
	struct rlimit old, rl = { FILE_LEN, RLIM_INFINITY };
	struct sigaction sa = { .sa_handler = on_xfsz }, old_sa;
	struct iovec iov = { iobuf, 4096 };
	int bad = 0;

	CHECK(!getrlimit(RLIMIT_FSIZE, &old));
	rl.rlim_max = old.rlim_max;
	CHECK(!sigaction(SIGXFSZ, &sa, &old_sa));
	CHECK(!setrlimit(RLIMIT_FSIZE, &rl));
	for (int i = 0; i < 8; i++) {
		bool shim = i & 1, direct = i & 2, vec = i & 4;
		struct world w;
		struct result r;
		ssize_t n;
		int err;

		make_file(&w, FILE_LEN, O_RDWR | (direct ? O_DIRECT : 0));
		xfsz = 0;
		errno = 0;
		if (vec)
			n = shim ? pwritev(w.fd, &iov, 1, 4 * 4096) : libc.pwritev(w.fd, &iov, 1, 4 * 4096);
		else
			n = shim ? pwrite(w.fd, iobuf, 4096, 4 * 4096) : libc.pwrite(w.fd, iobuf, 4096, 4 * 4096);
		err = errno;
		world_end(&w, &r);
		free(r.file);
		if (n != -1 || err != EFBIG || xfsz != 1) {
			fprintf(stderr, "FAIL xfsz (%s, %s, %s): %zd %s, %d signals (want -1 EFBIG, 1)\n",
				shim ? "shim" : "libc", direct ? "O_DIRECT" : "buffered", vec ? "pwritev" : "pwrite",
				n, strerrorname_np(err), (int)xfsz);
			bad = 1;
		}
	}
	CHECK(!setrlimit(RLIMIT_FSIZE, &old));
	CHECK(!sigaction(SIGXFSZ, &old_sa, NULL));
	if (!bad)
		printf("ok xfsz: one SIGXFSZ per write past RLIMIT_FSIZE\n");
	return bad;
}

/*
 * The O_DIRECT cases are always routed: a fork child's one O_DIRECT pread
 * is in the summary it writes at exit (IOENGINE_STATS; a child counts its
 * own calls) as a routed read, done as a plain system call on the idle
 * engine.
 */
static int routed_phase(void)
{
	const char *stats = getenv("IOENGINE_STATS");
	struct tcase t = { .kind = K_DIRECT };
	char line[4096], me[32];
	bool found = false;
	struct result r;
	struct world w;
	int status;
	pid_t pid;
	FILE *f;

	CHECK(stats);
	world_make(&w, &t);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid)
		exit(pread(w.fd, iobuf, 4096, 0) == 4096 ? 0 : 1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status));
	world_end(&w, &r);
	free(r.file);
	snprintf(me, sizeof(me), "pid=%d ", (int)pid);
	f = fopen(stats, "r");
	CHECK(f);
	while (fgets(line, sizeof(line), f))
		found |= strstr(line, me) && strstr(line, " routed_reads=1 ") && strstr(line, " plain_syscalls=1 ");
	fclose(f);
	if (!found) {
		fprintf(stderr, "FAIL: the child's O_DIRECT pread was not routed (%s)\n", stats);
		return 1;
	}
	printf("ok routed: an O_DIRECT pread is routed, a plain system call on the idle engine\n");
	return 0;
}

int main(void)
{
	int bad = 0;

	libc_fns_load(&libc);
	require_shim(&libc);
	*(void **)&libc_pread_chk = dlsym(dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD), "__pread_chk");
	*(void **)&libc_pread64_chk = dlsym(dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD), "__pread64_chk");
	CHECK(libc_pread_chk && libc_pread64_chk && libc_pread_chk != __pread_chk);
	CHECK(!posix_memalign((void **)&iobuf, 4096, BUF_LEN));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		bad += compare(&cases[i]);
	bad += signal_phase();
	bad += xfsz_phase();
	bad += routed_phase();
	printf("%d cases, %d failed\n", (int)(sizeof(cases) / sizeof(cases[0])) + 3, bad);
	return bad ? 1 : 0;
}
