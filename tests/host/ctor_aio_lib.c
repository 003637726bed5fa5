/* SPDX-License-Identifier: MIT */
/*
 * A library whose constructor, destructor and an atexit handler (registered
 * by the program) use every interposed function. Linked into the program
 * (DT_NEEDED), its constructor runs before the preloaded shim's, and its
 * destructor after the shim's: the shim must work at either time.
 */
#include <aio.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>
#include "host.h"

static char buf[3][4096];
/*
 * Static, not on a stack frame that ends when the call returns: glibc's
 * helper reads an aiocb's aio_sigevent to notify after it published the
 * result, so a caller that saw the result may already be gone.
 */
static struct aiocb cbs[2];

static void wait_done(struct aiocb *cb, const char *what)
{
	const struct aiocb *list[1] = { cb };
	int ret;

	/* glibc's aio_suspend may return early (EINTR); loop as a program does. */
	while ((ret = aio_error(cb)) == EINPROGRESS)
		if (aio_suspend(list, 1, NULL) && errno != EINTR)
			HOST_DIE("aio_suspend");
	printf("%s: aio_error %s, aio_return %zd\n", what, ret ? strerrorname_np(ret) : "0", aio_return(cb));
	fflush(stdout);
}

static void prep(struct aiocb *cb, int fd, int op, int i, off_t off)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_fildes = fd;
	cb->aio_buf = buf[i];
	cb->aio_nbytes = sizeof(buf[i]);
	cb->aio_offset = off;
	cb->aio_lio_opcode = op;
}

void ctor_aio_exercise(const char *when);

void ctor_aio_exercise(const char *when)
{
	struct aioinit init = { .aio_threads = 2, .aio_num = 8 };
	struct aiocb *cb = cbs, *list[2] = { &cb[0], &cb[1] };
	struct iovec iov[2] = { { buf[2], 100 }, { buf[2] + 100, 200 } };
	char name[64];
	int fd;

	printf("-- %s\n", when);
	snprintf(name, sizeof(name), "%s.dat", when);
	fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		HOST_DIE("open");
	memset(buf, 'a', sizeof(buf));
	/* The first calls are POSIX AIO: nothing resolved the real functions yet. */
	prep(&cb[0], fd, LIO_READ, 1, 0);
	host_show("aio_read (empty file)", aio_read(&cb[0]));
	wait_done(&cb[0], "aio_read (empty file)");
	aio_init(&init);

	prep(&cb[0], fd, LIO_WRITE, 0, 8192);
	host_show("aio_write", aio_write(&cb[0]));
	wait_done(&cb[0], "aio_write");
	prep(&cb[0], fd, LIO_READ, 1, 8000);
	host_show("aio_read", aio_read(&cb[0]));
	wait_done(&cb[0], "aio_read");
	prep(&cb[0], fd, 0, 0, 0);
	host_show("aio_fsync", aio_fsync(O_SYNC, &cb[0]));
	wait_done(&cb[0], "aio_fsync");
	host_show("aio_cancel (all done)", aio_cancel(fd, &cb[0]));

	prep(&cb[0], fd, LIO_WRITE, 0, 12288);
	prep(&cb[1], fd, LIO_READ, 1, 0);
	host_show("lio_listio LIO_WAIT", lio_listio(LIO_WAIT, list, 2, NULL));
	wait_done(&cb[0], "lio write");
	wait_done(&cb[1], "lio read");
	prep(&cb[0], fd, LIO_READ, 1, 12000);
	host_show("lio_listio LIO_NOWAIT", lio_listio(LIO_NOWAIT, list, 1, NULL));
	wait_done(&cb[0], "lio nowait read");
	host_show("aio_cancel fd", aio_cancel(fd, NULL));
	host_show("pwrite", pwrite(fd, buf[0], 4096, 0));
	host_show("pread", pread(fd, buf[1], 4096, 0));
	host_show("pwritev", pwritev(fd, iov, 2, 4096));
	host_show("preadv", preadv(fd, iov, 2, 4000));
	host_show("file size", lseek(fd, 0, SEEK_END));
	close(fd);
}

/*
 * HOST_CTOR_FIRST=NAME: the constructor makes only that call, the first of
 * the process (ctor_aio.c runs itself again for each). Each of these
 * entry points must resolve what it needs itself.
 */
static void first_call(const char *name)
{
	struct aiocb *cb = &cbs[0], *list[1] = { cb };
	struct aioinit init = { .aio_threads = 2, .aio_num = 8 };
	int fd = open("first.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		HOST_DIE("open");
	prep(cb, fd, LIO_WRITE, 0, 0);
	printf("-- first call in a constructor: %s\n", name);
	if (!strcmp(name, "aio_read")) {
		host_show(name, aio_read(cb));
	} else if (!strcmp(name, "aio_write")) {
		host_show(name, aio_write(cb));
	} else if (!strcmp(name, "aio_fsync")) {
		host_show(name, aio_fsync(O_DSYNC, cb));
	} else if (!strcmp(name, "lio_listio")) {
		host_show(name, lio_listio(LIO_NOWAIT, list, 1, NULL));
	} else if (!strcmp(name, "aio_cancel")) {
		host_show(name, aio_cancel(fd, NULL));
		return;
	} else if (!strcmp(name, "aio_suspend")) {
		/* In progress for all it can tell, but no request of glibc's: it returns at once. */
		cb->__error_code = EINPROGRESS;
		host_show(name, aio_suspend((const struct aiocb *const *)list, 1, NULL));
		return;
	} else if (!strcmp(name, "aio_error")) {
		host_show(name, aio_error(cb));
		host_show("aio_return", aio_return(cb));
		return;
	} else if (!strcmp(name, "aio_init")) {
		aio_init(&init);
		host_show(name, 0);
		host_show("aio_write", aio_write(cb));
	} else if (!strcmp(name, "pwrite")) {
		host_show(name, pwrite(fd, buf[0], 10, 0));
		return;
	} else {
		host_show(name, pread(fd, buf[0], 10, 0));
		return;
	}
	wait_done(cb, name);
}

__attribute__((constructor)) static void lib_init(void)
{
	const char *first = getenv("HOST_CTOR_FIRST");

	if (first)
		first_call(first);
	else
		ctor_aio_exercise("constructor");
}

__attribute__((destructor)) static void lib_fini(void)
{
	if (!getenv("HOST_CTOR_FIRST"))
		ctor_aio_exercise("destructor");
}
