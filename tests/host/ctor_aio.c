/* SPDX-License-Identifier: MIT */
/*
 * Every interposed function from another library's constructor (before the
 * shim's own constructor ran), from main, from an atexit handler and from
 * that library's destructor (after the shim's): see ctor_aio_lib.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

void ctor_aio_exercise(const char *when);

static void at_exit(void)
{
	ctor_aio_exercise("atexit");
}

/* This program again, whose library's constructor makes only the call `first`. */
static void run_first(const char *first)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		exit(99);
	if (!pid) {
		setenv("HOST_CTOR_FIRST", first, 1);
		execl("/proc/self/exe", "host_ctor_aio", (char *)NULL);
		_exit(98);
	}
	if (waitpid(pid, &status, 0) != pid)
		exit(99);
	printf("%s first: %s %d\n", first, WIFEXITED(status) ? "exit" : "signal",
	       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

int main(void)
{
	static const char *const firsts[] = { "aio_read", "aio_write", "aio_fsync", "lio_listio",
					      "aio_cancel", "aio_suspend", "aio_error", "aio_init",
					      "pwrite", "pread" };

	if (getenv("HOST_CTOR_FIRST"))
		return 0;
	for (size_t i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++)
		run_first(firsts[i]);
	ctor_aio_exercise("main");
	if (atexit(at_exit))
		return 99;
	return 0;
}
