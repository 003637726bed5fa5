/* SPDX-License-Identifier: MIT */
/*
 * A signal while a pread() waits for the engine. The engine's one slot
 * (IOENGINE_DEPTH=1) is taken by an aio_read() that a userfaultfd holds in
 * the kernel, and the fast path is off (IOENGINE_FASTPATH=0): the pread()
 * is queued behind it and sleeps. A thread sends the signal to the reader
 * once it sleeps in a wait with the signal blocked (under the shim) or once
 * its pread() has returned (natively, where a read of a cached file does
 * not wait).
 *
 * MODE (argv[1]):
 *   longjmp  SIGUSR1, whose handler leaves by siglongjmp(). Natively a
 *            handler does not interrupt a read of a regular file: it runs
 *            once the read has returned, its bytes in the buffer. So under
 *            the shim. Were the handler to run while the read waits in the
 *            engine, the jump would leave the engine an event in a dead
 *            stack frame, which it would complete later: write its result
 *            there, call its callback from there. The held read goes once
 *            the reader has jumped and filled the stack below the jump with
 *            a pattern, or while the signal waits, blocked; then the case
 *            collects it, reads once more (behind whatever is still queued)
 *            and looks at the pattern.
 *   term     SIGTERM, no handler: the process ends by it at once, as
 *            natively, though the held read is never let go.
 */
#include <aio.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "fault_hold.h"
#include "host.h"
#include "task_file.h"

#define HELD_LEN (1u << 20)	/* above what the shim's aio_read() does in the caller */
#define BS 4096
#define PATTERN 0xa5
#define STACK_SPAN (64 * 1024)	/* below the jump's target: the read's frames */

static struct fault_hold hold;
static struct aiocb held_cb;
static sigjmp_buf back;
static atomic_int reader_tid;
static atomic_bool returned, filled;
static int fd;
static bool term;

static void on_usr1(int sig)
{
	(void)sig;
	siglongjmp(back, 1);
}

/*
 * Once the reader sleeps in the engine (in a wait, the signal blocked: not
 * in some lock on its way there), or has returned: the signal. The held
 * read goes (SIGUSR1) once the reader has jumped and filled its stack, or
 * while the signal waits, blocked, for the reader's read (no handler runs
 * in it). A library that waited with the signal open would never be sent
 * it, and the case would end at its time limit.
 */
static void *kicker(void *arg)
{
	int tid;

	while (!(tid = atomic_load(&reader_tid)))	/* set once the jump's target is */
		usleep(100);
	while (!atomic_load(&returned) && !(thread_in_wait(tid) && thread_blocks_signal(tid, term ? SIGTERM : SIGUSR1, false)))
		usleep(100);
	if (pthread_kill(*(pthread_t *)arg, term ? SIGTERM : SIGUSR1))
		HOST_DIE("pthread_kill");
	if (term)
		return NULL;	/* the process ends */
	while (!atomic_load(&filled) && !thread_blocks_signal(tid, SIGUSR1, true))
		usleep(100);
	fault_hold_release(&hold);
	return NULL;
}

static void collect_held(void)
{
	const struct aiocb *list[1] = { &held_cb };

	while (aio_error(&held_cb) == EINPROGRESS)
		aio_suspend(list, 1, NULL);
	host_show("held aio_return", aio_return(&held_cb));
}

/* The stack below the jump's target filled, the engine given time to finish what it has, then looked at. */
static __attribute__((noinline)) void stack_after(void)
{
	volatile unsigned char span[STACK_SPAN];
	char buf[BS];
	size_t changed = 0;

	for (size_t i = 0; i < sizeof(span); i++)
		span[i] = PATTERN;
	atomic_store(&filled, true);
	collect_held();
	host_show("second pread", pread(fd, buf, BS, BS));
	for (size_t i = 0; i < sizeof(span); i++)
		changed += span[i] != PATTERN;
	printf("stack below the jump: %s\n", changed ? "changed" : "intact");
}

int main(int argc, char **argv)
{
	static char data[2 * BS], buf[BS];
	struct sigaction sa = { .sa_handler = on_usr1 };
	pthread_t k, self = pthread_self();
	int held;

	term = argc > 1 && !strcmp(argv[1], "term");
	if (!fault_hold_init(&hold, HELD_LEN))
		HOST_DIE("userfaultfd");
	memset(data, 'd', sizeof(data));
	fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);
	held = open("held", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || held < 0 || write(fd, data, sizeof(data)) != (ssize_t)sizeof(data) ||
	    ftruncate(held, HELD_LEN))
		HOST_DIE("setup");
	if (sigaction(SIGUSR1, &sa, NULL))
		HOST_DIE("sigaction");
	if (fault_hold_aio_read(&hold, &held_cb, held, HELD_LEN))
		HOST_DIE("aio_read");
	if (pthread_create(&k, NULL, kicker, &self))
		HOST_DIE("pthread_create");
	if (!sigsetjmp(back, 1)) {
		atomic_store(&reader_tid, (int)syscall(SYS_gettid));
		(void)pread(fd, buf, BS, 0);
		atomic_store(&returned, true);
		for (;;)
			pause();	/* until the handler jumps */
	}
	printf("jumped; the buffer %s\n", buf[0] == 'd' && buf[BS - 1] == 'd' ? "has the bytes" : "lacks them");
	stack_after();
	pthread_join(k, NULL);
	return 0;
}
