/* SPDX-License-Identifier: MIT */
/*
 * vfork() with the engine and its threads running: the child shares the parent's memory, so
 * it sees the parent's engine, whose threads use the parent's file
 * descriptors. The child must use the real calls: it points the parent's
 * O_DIRECT fd at another file (its own descriptor table) and must read that
 * file; the parent's IO, before and after, still goes through its engine.
 */
#include <aio.h>
#include <sys/wait.h>
#include "shim_test.h"

#define BLK 4096

/* A file of one block of byte c, opened O_DIRECT (always routed), unlinked. */
static int block_file(char c)
{
	char path[4096];
	unsigned char *b;
	int fd;

	snprintf(path, sizeof(path), "%s/shim-vfork-XXXXXX", test_dir());
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(!posix_memalign((void **)&b, BLK, BLK));
	memset(b, c, BLK);
	CHECK_EQ(write(fd, b, BLK), BLK);
	free(b);
	close(fd);
	fd = open(path, O_RDONLY | O_DIRECT);
	CHECK(fd >= 0);
	unlink(path);
	return fd;
}

/* Synchronous calls start none of the engine's threads: a POSIX AIO read does. */
static void start_engine_threads(int fd, unsigned char *buf)
{
	struct aiocb cb = { .aio_fildes = fd, .aio_buf = buf, .aio_nbytes = BLK };
	const struct aiocb *list[1] = { &cb };

	CHECK_EQ(aio_read(&cb), 0);
	CHECK_EQ(aio_suspend(list, 1, NULL), 0);
	CHECK_EQ(aio_return(&cb), BLK);
}

static void read_block(int fd, unsigned char *buf, char want)
{
	memset(buf, 0, BLK);
	CHECK_EQ(pread(fd, buf, BLK, 0), BLK);
	CHECK(buf[0] == want && buf[BLK - 1] == want);
}

int main(void)
{
	struct libc_fns libc;
	unsigned char *buf, *child_buf;
	int a = block_file('a'), b = block_file('b'), st;
	pid_t pid;

	libc_fns_load(&libc);
	require_shim(&libc);
	CHECK(!posix_memalign((void **)&buf, BLK, BLK));
	CHECK(!posix_memalign((void **)&child_buf, BLK, BLK));
	read_block(a, buf, 'a');
	start_engine_threads(a, buf);
	CHECK_EQ(count_threads("ioe-submit"), 1);

	/* The child calls nothing that allocates: it runs on the parent's heap. */
	pid = vfork();
	CHECK(pid >= 0);
	if (!pid) {
		memset(child_buf, 0, BLK);
		if (dup2(b, a) != a)
			_exit(2);
		if (pread(a, child_buf, BLK, 0) != BLK)
			_exit(3);
		_exit(child_buf[0] == 'b' && child_buf[BLK - 1] == 'b' ? 0 : 4);
	}
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st));
	if (WEXITSTATUS(st) == 4)
		fprintf(stderr, "the vfork child read the parent's file: the parent's engine did its pread\n");
	CHECK_EQ(WEXITSTATUS(st), 0);

	for (int i = 0; i < 10; i++)
		read_block(a, buf, 'a');
	CHECK_EQ(count_threads("ioe-submit"), 1);
	free(buf);
	free(child_buf);
	printf("ok vfork: the child read its own file with the real call, the parent's engine routed the rest\n");
	return 0;
}
