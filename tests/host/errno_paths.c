/* SPDX-License-Identifier: MIT */
/*
 * errno on every path of every interposed function: untouched by a call
 * that succeeds (it is set to 12345 before each, and printed after), set
 * as the real call sets it by one that fails (EBADF, EINVAL, ESPIPE,
 * EFAULT, EISDIR...). Buffered and O_DIRECT files, short counts at end of
 * file, POSIX AIO requests that succeed and fail, and the calls that change
 * what an fd stands for (close, dup2, dup3, close_range, closefrom, fcntl).
 */
#include <aio.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>
#include "aio_show.h"

#define MARK 12345

static char buf[3][8192] __attribute__((aligned(4096)));
/* Hidden from the compiler, which would refuse the calls that pass them. */
static void *volatile null;
static volatile int minus_one = -1;

/* "NAME: RESULT errno=E": E the name of errno, or MARK when untouched. */
static void show(const char *name, long ret, int err)
{
	if (err == MARK)
		printf("%s: %ld errno untouched\n", name, ret);
	else
		printf("%s: %ld errno=%s\n", name, ret, strerrorname_np(err) ?: "?");
	fflush(stdout);
}

#define CALL(name, expr) do { \
	long ret_; \
	errno = MARK; \
	ret_ = (long)(expr); \
	show(name, ret_, errno); \
} while (0)

static void rw_calls(const char *kind, int fd, int rdonly, off_t size)
{
	struct iovec iov[2] = { { buf[0], 4096 }, { buf[1], 4096 } };
	char name[128];

#define RW(what, expr) do { snprintf(name, sizeof(name), "%s %s", kind, what); CALL(name, expr); } while (0)
	RW("pwrite", pwrite(fd, buf[0], 4096, 0));
	RW("pwrite64", pwrite64(fd, buf[0], 4096, 4096));
	RW("pwritev", pwritev(fd, iov, 2, 0));
	RW("pwritev64", pwritev64(fd, iov, 2, 8192));
	RW("pwritev2 flags 0", pwritev2(fd, iov, 2, 0, 0));
	RW("pread", pread(fd, buf[2], 4096, 0));
	RW("pread64 across end of file", pread64(fd, buf[2], 8192, size - 4096));
	RW("pread at end of file", pread(fd, buf[2], 4096, size));
	RW("preadv", preadv(fd, iov, 2, 0));
	RW("preadv64 across end of file", preadv64(fd, iov, 2, size - 4096));
	RW("preadv2 flags 0", preadv2(fd, iov, 2, 4096, 0));
	RW("preadv2 RWF_HIPRI", preadv2(fd, iov, 1, 0, RWF_HIPRI));
	RW("pread negative offset", pread(fd, buf[2], 4096, -4096));
	RW("pwrite negative offset", pwrite(fd, buf[2], 4096, -4096));
	RW("preadv iovcnt -1", preadv(fd, iov, minus_one, 0));
	RW("pwritev iovcnt 0", pwritev(fd, iov, 0, 0));
	RW("pread count 0", pread(fd, buf[2], 0, 0));
	RW("pread NULL buffer", pread(fd, null, 4096, 0));
	RW("pwrite NULL buffer", pwrite(fd, null, 4096, 0));
	RW("preadv NULL vector", preadv(fd, null, 2, 0));
	RW("pread into read-only memory", pread(fd, (void *)"literal", 4, 0));
	RW("pwrite on a read-only fd", pwrite(rdonly, buf[0], 4096, 0));
	RW("pread 100 at 1 (O_DIRECT: misaligned)", pread(fd, buf[2] + 1, 100, 1));
#undef RW
}

static void aio_calls(const char *kind, int fd)
{
	struct aiocb cb, *list[2] = { &cb, NULL };
	const struct aiocb *clist[1] = { &cb };
	struct aioinit init = { .aio_threads = 4, .aio_num = 64 };
	char name[128];

#define A(what, expr) do { snprintf(name, sizeof(name), "%s %s", kind, what); CALL(name, expr); } while (0)
#define WAIT(what) do { \
	while (aio_error(&cb) == EINPROGRESS) \
		aio_suspend(clist, 1, NULL); \
	A(what " aio_error", aio_error(&cb)); \
	A(what " aio_return", aio_return(&cb)); \
} while (0)
	errno = MARK;
	aio_init(&init);
	show("aio_init", 0, errno);
	host_aio_prep(&cb, fd, LIO_WRITE, buf[0], 4096, 0);
	A("aio_write", aio_write(&cb));
	WAIT("aio_write");
	A("aio_suspend (done)", aio_suspend(clist, 1, NULL));
	host_aio_prep(&cb, fd, LIO_READ, buf[2], 8192, 8192);
	A("aio_read across end of file", aio_read(&cb));
	WAIT("aio_read");
	host_aio_prep(&cb, fd, 0, NULL, 0, 0);
	A("aio_fsync", aio_fsync(O_SYNC, &cb));
	WAIT("aio_fsync");
	A("aio_fsync bad op", aio_fsync(12345, &cb));
	A("aio_cancel (all done)", aio_cancel(fd, &cb));
	A("aio_cancel fd", aio_cancel(fd, NULL));
	host_aio_prep(&cb, fd, LIO_READ, buf[2], 4096, 0);
	A("lio_listio LIO_WAIT", lio_listio(LIO_WAIT, list, 2, NULL));
	A("lio_listio aio_error", aio_error(&cb));
	A("lio_listio bad mode", lio_listio(12345, list, 1, NULL));
	A("aio_suspend nent -1", aio_suspend(clist, -1, NULL));
	host_aio_prep(&cb, fd, LIO_READ, buf[2], 4096, -1);
	A("aio_read negative offset", aio_read(&cb));
	WAIT("aio_read negative offset");
	host_aio_prep(&cb, -1, LIO_READ, buf[2], 4096, 0);
	A("aio_read fd -1", aio_read(&cb));
	WAIT("aio_read fd -1");
	host_aio_prep(&cb, fd, LIO_WRITE, NULL, 4096, 0);
	A("aio_write NULL buffer", aio_write(&cb));
	WAIT("aio_write NULL buffer");
	A("aio_cancel fd 999", aio_cancel(999, NULL));
#undef WAIT
#undef A
}

/* The calls the shim watches to keep its fd cache right: results and errno as the real ones. */
static void fd_calls(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	CALL("fcntl F_GETFL", fcntl(fd, F_GETFL) == flags);
	CALL("fcntl F_SETFL O_DIRECT", fcntl(fd, F_SETFL, flags | O_DIRECT));
	CALL("fcntl F_GETFL after", (fcntl(fd, F_GETFL) & O_DIRECT) != 0);
	CALL("fcntl F_SETFL back", fcntl(fd, F_SETFL, flags));
	CALL("fcntl F_DUPFD 100", fcntl(fd, F_DUPFD, 100));
	CALL("fcntl bad cmd", fcntl(fd, 12345));
	CALL("fcntl fd -1", fcntl(-1, F_GETFL));
	CALL("dup2 onto 101", dup2(fd, 101));
	CALL("dup2 onto itself", dup2(fd, fd));
	CALL("dup2 fd -1", dup2(-1, 102));
	CALL("dup3 onto 102", dup3(fd, 102, O_CLOEXEC));
	CALL("dup3 onto itself", dup3(fd, fd, 0));
	CALL("dup3 bad flags", dup3(fd, 103, 12345));
	CALL("close_range 101..102 CLOEXEC", close_range(101, 102, CLOSE_RANGE_CLOEXEC));
	CALL("close_range 101..102", close_range(101, 102, 0));
	CALL("close_range bad flags", close_range(101, 102, 12345));
	CALL("close 100", close(100));
	CALL("close 100 again", close(100));
	CALL("close fd -1", close(-1));
	CALL("dup2 onto 200", dup2(fd, 200));
	errno = MARK;
	closefrom(200);
	show("closefrom 200", 0, errno);
	CALL("fcntl on 200 after closefrom", fcntl(200, F_GETFD));
}

static int open_file(const char *name, int flags)
{
	int fd = open(name, flags, 0600);

	if (fd < 0)
		HOST_DIE("open %s", name);
	return fd;
}

int main(void)
{
	int p[2], fd, ro, dfd, dro, dir;

	memset(buf, 'e', sizeof(buf));
	fd = open_file("b", O_RDWR | O_CREAT | O_TRUNC);
	ro = open_file("b", O_RDONLY);
	dfd = open("d", O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
	dro = open_file("d", O_RDONLY | O_CREAT);
	if (pipe(p))
		HOST_DIE("pipe");
	dir = open_file(".", O_RDONLY | O_DIRECTORY);

	rw_calls("buffered", fd, ro, 12288);
	if (dfd >= 0)
		rw_calls("O_DIRECT", dfd, dro, 12288);
	else
		printf("no O_DIRECT here\n");
	CALL("pread fd -1", pread(-1, buf[2], 4096, 0));
	CALL("pwrite closed fd 999", pwrite(999, buf[2], 4096, 0));
	CALL("pread on a pipe", pread(p[0], buf[2], 4096, 0));
	CALL("pwritev on a pipe", pwritev(p[1], &(struct iovec){ buf[0], 10 }, 1, 0));
	CALL("pread on a directory", pread(dir, buf[2], 4096, 0));
	CALL("preadv on a directory", preadv(dir, &(struct iovec){ buf[2], 10 }, 1, 0));
	aio_calls("buffered", fd);
	if (dfd >= 0)
		aio_calls("O_DIRECT", dfd);
	fd_calls(fd);
	return 0;
}
