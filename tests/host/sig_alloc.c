/* SPDX-License-Identifier: MIT */
/*
 * pread(), pwrite() and preadv() from a signal handler must neither
 * allocate nor take a lock that the interrupted thread may hold: they are
 * async-signal-safe. The program counts the malloc family's calls made
 * inside its handler (natively none), which runs on an alternate stack of
 * SIGSTKSZ bytes, N times, while the main thread loops in pread(), pwrite()
 * and POSIX AIO. The handler reads across end of file, buffered and
 * O_DIRECT, with vectors of more than 16 entries too. The engine is started
 * by the main thread first.
 */
#include <aio.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>
#include "host.h"

#define HANDLER_RUNS 200
#define FILE_SIZE 10000

static volatile sig_atomic_t in_handler;
static _Atomic long allocs, frees;

static void host_malloc_hook(bool is_free)
{
	if (in_handler)
		is_free ? frees++ : allocs++;
}

#include "malloc_hook.h"

static int fd_b, fd_d, fd_w, fd_dw;
static char bbuf[20 * 1000];
static char dbuf[20 * 4096] __attribute__((aligned(4096)));
static char wbuf[4096] __attribute__((aligned(4096)));
static _Atomic int handled;
static long wrong;

static void expect(ssize_t got, ssize_t want)
{
	if (got != want)
		wrong++;
}

static void on_signal(int sig)
{
	struct iovec biov[40], diov[20];
	int saved = errno;

	(void)sig;
	in_handler = 1;
	for (int i = 0; i < 40; i++)
		biov[i] = (struct iovec){ bbuf + i * 500, 500 };
	for (int i = 0; i < 20; i++)
		diov[i] = (struct iovec){ dbuf + i * 4096, 4096 };
	expect(pread(fd_b, bbuf, 4096, 8192), FILE_SIZE - 8192);
	expect(preadv(fd_b, biov, 40, 0), FILE_SIZE);
	expect(preadv(fd_b, biov, 3, 9000), FILE_SIZE - 9000);
	expect(pread(fd_d, dbuf, 4096, 8192), FILE_SIZE - 8192);
	expect(preadv(fd_d, diov, 2, 4096), FILE_SIZE - 4096);
	expect(preadv(fd_d, diov, 20, 0), FILE_SIZE);
	expect(pwrite(fd_w, wbuf, 100, 0), 100);
	expect(pwrite(fd_dw, wbuf, 4096, 0), 4096);
	in_handler = 0;
	atomic_fetch_add(&handled, 1);
	errno = saved;
}

static void *signaller(void *arg)
{
	pthread_t main_thread = *(pthread_t *)arg;

	for (int i = 0; i < HANDLER_RUNS; i++) {
		pthread_kill(main_thread, SIGUSR1);
		while (atomic_load(&handled) <= i)
			sched_yield();
	}
	return NULL;
}

static int open_file(const char *name, int flags)
{
	int fd = open(name, O_RDWR | O_CREAT | flags, 0600);

	if (fd < 0)
		HOST_DIE("open %s", name);
	return fd;
}

int main(void)
{
	size_t stack_size = SIGSTKSZ;
	stack_t ss = { .ss_size = stack_size };
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_ONSTACK | SA_RESTART };
	pthread_t self = pthread_self(), t;
	struct aiocb cb;
	long rounds = 0;
	size_t used = 0;
	int fd_m;

	memset(bbuf, 'b', sizeof(bbuf));
	fd_b = open_file("b", 0);
	if (pwrite(fd_b, bbuf, FILE_SIZE, 0) != FILE_SIZE)
		HOST_DIE("pwrite");
	fd_d = open_file("b", O_DIRECT);
	fd_w = open_file("w", 0);
	fd_dw = open_file("dw", O_DIRECT);
	fd_m = open_file("m", O_DIRECT);
	/* The engine starts here, in the main thread (a routed O_DIRECT read). */
	host_show("main: O_DIRECT pread across end of file", pread(fd_d, dbuf, 4096, 8192));

	ss.ss_sp = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ss.ss_sp == MAP_FAILED)
		HOST_DIE("mmap");
	memset(ss.ss_sp, 0xa5, stack_size);
	if (sigaltstack(&ss, NULL) || sigaction(SIGUSR1, &sa, NULL))
		HOST_DIE("sigaltstack");
	if (pthread_create(&t, NULL, signaller, &self))
		HOST_DIE("pthread_create");
	while (atomic_load(&handled) < HANDLER_RUNS) {
		const struct aiocb *list[1] = { &cb };

		if (pread(fd_d, dbuf, 4096, 0) != 4096 || pwrite(fd_m, wbuf, 4096, 4096) != 4096)
			wrong++;
		memset(&cb, 0, sizeof(cb));
		cb.aio_fildes = fd_m;
		cb.aio_buf = wbuf;
		cb.aio_nbytes = 4096;
		if (aio_write(&cb))
			HOST_DIE("aio_write");
		while (aio_error(&cb) == EINPROGRESS)
			aio_suspend(list, 1, NULL);
		if (aio_return(&cb) != 4096)
			wrong++;
		rounds++;
	}
	pthread_join(t, NULL);
	while (used < stack_size && ((unsigned char *)ss.ss_sp)[used] == 0xa5)
		used++;
	if (getenv("HOST_SHOW_STACK"))
		fprintf(stderr, "alternate stack: %zu of %zu bytes used\n", stack_size - used, stack_size);
	printf("handler runs: %d, unexpected results: %ld\n", atomic_load(&handled), wrong);
	printf("in the handler: allocations %ld, frees %ld\n", atomic_load(&allocs), atomic_load(&frees));
	return 0;
}
