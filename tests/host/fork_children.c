/* SPDX-License-Identifier: MIT */
/*
 * Children of every kind do IO: fork(), _Fork() (no atfork handlers run in
 * its child), vfork() + exec, posix_spawn() and system() (both exec this
 * program again). The parent does pread/pwrite before them and all of its
 * IO after. The parent makes no POSIX AIO request before its children:
 * glibc's AIO does not work in the child of a process that used it.
 */
#include <spawn.h>
#include <sys/wait.h>
#include "host_io.h"

extern char **environ;

static void show_status(const char *who, int st)
{
	if (WIFEXITED(st))
		printf("%s: exit %d\n", who, WEXITSTATUS(st));
	else
		printf("%s: signal %d\n", who, WTERMSIG(st));
	fflush(stdout);
}

/* Its own function: nothing of main()'s is live across vfork(). */
static pid_t vfork_exec(char *const args[])
{
	pid_t pid = vfork();

	if (!pid) {
		execv(args[0], args);
		_exit(127);
	}
	return pid;
}

static void wait_child(const char *who, pid_t pid)
{
	int st;

	if (pid < 0)
		HOST_DIE("%s", who);
	if (waitpid(pid, &st, 0) != pid)
		HOST_DIE("waitpid %s", who);
	show_status(who, st);
}

int main(int argc, char **argv)
{
	char self[4096], cmd[4200];
	char *args[] = { self, "child", NULL, NULL };
	ssize_t n;
	pid_t pid;
	int fd;

	if (argc > 2 && !strcmp(argv[1], "child")) {
		/* An exec'd child: the file is already there. */
		fd = open("f", O_RDWR);
		if (fd < 0)
			HOST_DIE("open f");
		host_io(argv[2], fd);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		HOST_DIE("readlink");
	self[n] = 0;
	fd = host_io_file("f");
	errno = HOST_IO_ERRNO;
	host_io_show("parent before", "pread", pread(fd, (char[HOST_IO_BS]){ 0 }, HOST_IO_BS, 0));
	host_io_show("parent before", "pwrite", pwrite(fd, "\x03", 1, 0));

	pid = fork();
	if (!pid) {
		host_io("fork child", fd);
		exit(0);
	}
	wait_child("fork child", pid);

	pid = _Fork();
	if (!pid) {
		host_io("_Fork child", fd);
		fflush(stdout);
		_exit(0);
	}
	wait_child("_Fork child", pid);

	args[2] = "vfork";
	wait_child("vfork child", vfork_exec(args));

	args[2] = "posix_spawn";
	if ((errno = posix_spawn(&pid, self, NULL, NULL, args, environ)))
		HOST_DIE("posix_spawn");
	wait_child("posix_spawn child", pid);

	snprintf(cmd, sizeof(cmd), "exec '%s' child system", self);
	show_status("system child", system(cmd));

	host_io("parent after", fd);
	return 0;
}
