/* SPDX-License-Identifier: MIT */
/*
 * What the shim's fd cache says about an fd that is not a regular file
 * (shim/fdcache.h), seen from a program's POSIX AIO requests.
 *
 * count N: N one-byte aio_read()s of a pipe, each waited for. Counted
 * with strace (run_fd_class.sh), they make no lseek() each: the cache
 * knows the pipe.
 *
 * stale: an fd's number taken over behind the cache's back (a raw dup3(),
 * which the shim does not see) by something else; each request must still
 * be answered as glibc answers it:
 * - a pipe's number, then a file's: an aio_read() and an aio_write() at an
 *   offset go at that offset, and leave the file's position alone; also
 *   when the file is O_NONBLOCK and out of the page cache;
 * - a socket's number (read at offset 0), then a file's: at offset 0 and
 *   at another;
 * - a file's number, then a pipe's: the read reads the pipe;
 * - a pipe made O_NONBLOCK where the shim does not see it: EAGAIN.
 * The program checks each answer itself (natively too), and says FATAL on
 * a wrong one.
 */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "aio_util.h"

#define FILE_LEN 4096

static const char *dir;

static char pat(size_t i)
{
	return (char)(i * 7 + 3);
}

/* A new file of FILE_LEN bytes of pat(), unlinked, opened with flags. */
static int new_file_flags(int flags)
{
	char path[4096], b[FILE_LEN];
	int fd;

	snprintf(path, sizeof(path), "%s/aio-fd-class-%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | flags, 0600);
	if (fd < 0)
		DIE("open %s: %s", path, strerror(errno));
	unlink(path);
	for (size_t i = 0; i < FILE_LEN; i++)
		b[i] = pat(i);
	if (pwrite(fd, b, FILE_LEN, 0) != FILE_LEN)
		DIE("fill");
	return fd;
}

static int new_file(void)
{
	return new_file_flags(0);
}

/* Put what is at fd on number at, which is closed first: the shim does not see it. */
static void take_over(int fd, int at)
{
	if (syscall(SYS_dup3, fd, at, 0) != at)
		DIE("dup3: %s", strerror(errno));
	close(fd);
}

/* One request (op: 'r' or 'w') of n bytes at off of fd, waited for; its result, and its aio_error() in *err. */
static ssize_t one_err(char op, int fd, void *buf, size_t n, off_t off, int *err)
{
	struct aiocb cb;

	prep(&cb, fd, buf, n, off);
	if (op == 'r' ? aio_read(&cb) : aio_write(&cb))
		DIE("aio_%s: %s", op == 'r' ? "read" : "write", strerror(errno));
	*err = wait_one(&cb);
	return aio_return(&cb);
}

static ssize_t one(char op, int fd, void *buf, size_t n, off_t off)
{
	int err;

	return one_err(op, fd, buf, n, off, &err);
}

/* A read of 4 bytes at off of the file at fd: pat() from off, and its position still 0. */
static void file_read_at(int fd, off_t off)
{
	char b[4];

	if (one('r', fd, b, sizeof(b), off) != sizeof(b))
		DIE("read at %ld: short or failed", (long)off);
	for (int i = 0; i < 4; i++)
		if (b[i] != pat((size_t)off + i))
			DIE("read at %ld: got the bytes of another place", (long)off);
	if (lseek(fd, 0, SEEK_CUR) != 0)
		DIE("read at %ld: the file's position moved", (long)off);
}

static void pipe_then_file(void)
{
	char b[4] = "abcd", c;
	int p[2];

	if (pipe(p))
		DIE("pipe: %s", strerror(errno));
	if (write(p[1], "x", 1) != 1 || one('r', p[0], &c, 1, 0) != 1 || c != 'x')
		DIE("pipe read");
	take_over(new_file(), p[0]);
	file_read_at(p[0], 100);
	if (one('w', p[0], b, sizeof(b), 200) != sizeof(b))
		DIE("write at 200");
	if (pread(p[0], b, sizeof(b), 200) != sizeof(b) || memcmp(b, "abcd", 4))
		DIE("write at 200: not there");
	if (lseek(p[0], 0, SEEK_CUR) != 0)
		DIE("write at 200: the file's position moved");
	close(p[0]);
	close(p[1]);
	OUT("pipe, then a file: read and write at their offsets");
}

/*
 * The same with an O_NONBLOCK file whose pages are not in the page cache:
 * pread() reads it (O_NONBLOCK means nothing to a file), where a read
 * that must not wait says EAGAIN.
 */
static void pipe_then_nonblocking_file(void)
{
	int p[2], fd;
	char c;

	if (pipe(p))
		DIE("pipe: %s", strerror(errno));
	if (write(p[1], "x", 1) != 1 || one('r', p[0], &c, 1, 0) != 1 || c != 'x')
		DIE("pipe read");
	fd = new_file_flags(O_NONBLOCK);
	if (fsync(fd) || posix_fadvise(fd, 0, FILE_LEN, POSIX_FADV_DONTNEED))
		DIE("fsync, fadvise: %s", strerror(errno));
	take_over(fd, p[0]);
	file_read_at(p[0], 100);
	close(p[0]);
	close(p[1]);
	OUT("pipe, then an O_NONBLOCK file out of the page cache: read at its offset");
}

static void socket_then_file(void)
{
	int sv[2];
	char c;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		DIE("socketpair: %s", strerror(errno));
	if (write(sv[1], "y", 1) != 1 || one('r', sv[0], &c, 1, 0) != 1 || c != 'y')
		DIE("socket read");
	take_over(new_file(), sv[0]);
	file_read_at(sv[0], 0);
	file_read_at(sv[0], 300);
	close(sv[0]);
	close(sv[1]);
	OUT("socket, then a file: reads at their offsets");
}

static void file_then_pipe(void)
{
	int fd = new_file(), p[2];
	char c;

	file_read_at(fd, 100);
	if (pipe(p))
		DIE("pipe: %s", strerror(errno));
	take_over(p[0], fd);
	if (write(p[1], "z", 1) != 1 || one('r', fd, &c, 1, 100) != 1 || c != 'z')
		DIE("file, then a pipe: the read did not read the pipe");
	close(fd);
	close(p[1]);
	OUT("file, then a pipe: the read reads the pipe");
}

/*
 * O_NONBLOCK is the open file description's: set through a dup, or with
 * ioctl(FIONBIO), it holds for the fd too, with nothing the shim sees done
 * to the fd. A read of the empty pipe then says EAGAIN, as read() would
 * (the engine looks at the flag per request: a cached one would wait).
 */
static void nonblock_elsewhere(void)
{
	int p[2], d, on = 1, err;
	char c;

	if (pipe(p))
		DIE("pipe: %s", strerror(errno));
	if (write(p[1], "n", 1) != 1 || one('r', p[0], &c, 1, 0) != 1 || c != 'n')
		DIE("pipe read");
	d = dup(p[0]);
	if (d < 0 || fcntl(d, F_SETFL, O_NONBLOCK))
		DIE("dup, F_SETFL: %s", strerror(errno));
	if (one_err('r', p[0], &c, 1, 0, &err) != -1 || err != EAGAIN)
		DIE("O_NONBLOCK through a dup: the empty pipe's read said %s, not EAGAIN", strerror(err));
	if (fcntl(d, F_SETFL, 0) || write(p[1], "o", 1) != 1 || one('r', p[0], &c, 1, 0) != 1 || c != 'o')
		DIE("blocking again");
	if (ioctl(d, FIONBIO, &on))
		DIE("FIONBIO: %s", strerror(errno));
	if (one_err('r', p[0], &c, 1, 0, &err) != -1 || err != EAGAIN)
		DIE("O_NONBLOCK by FIONBIO: the empty pipe's read said %s, not EAGAIN", strerror(err));
	close(d);
	close(p[0]);
	close(p[1]);
	OUT("O_NONBLOCK set through a dup or by FIONBIO: an empty pipe's read says EAGAIN");
}

static void count(int n)
{
	int p[2];

	if (pipe(p))
		DIE("pipe: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		char c = (char)i, got;

		if (write(p[1], &c, 1) != 1)
			DIE("write");
		if (one('r', p[0], &got, 1, 0) != 1 || got != c)
			DIE("read %d of the pipe", i);
	}
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "count")) {
		dir = argv[2];
		count(atoi(argv[3]));
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "stale")) {
		fprintf(stderr, "usage: %s count DIR N | stale DIR\n", argv[0]);
		return 2;
	}
	dir = argv[2];
	pipe_then_file();
	pipe_then_nonblocking_file();
	socket_then_file();
	file_then_pipe();
	nonblock_elsewhere();
	return 0;
}
