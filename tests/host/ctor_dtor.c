/* SPDX-License-Identifier: MIT */
/*
 * IO from the program's own constructors and destructors and from its
 * atexit handlers: pread, pwrite and POSIX AIO in each, around main()'s.
 */
#include "host_io.h"

static int fd = -1;

static void at_exit_io(void)
{
	host_io("atexit handler", fd);
}

__attribute__((constructor(101))) static void first_ctor(void)
{
	fd = host_io_file("f");
	host_io("constructor 101", fd);
}

__attribute__((constructor)) static void ctor(void)
{
	host_io("constructor", fd);
	/* Registered in a constructor: runs after main()'s own handlers. */
	atexit(at_exit_io);
}

__attribute__((destructor)) static void dtor(void)
{
	host_io("destructor", fd);
}

__attribute__((destructor(101))) static void last_dtor(void)
{
	host_io("destructor 101", fd);
}

static void main_exit_io(void)
{
	host_io("main's atexit handler", fd);
}

int main(void)
{
	atexit(main_exit_io);
	host_io("main", fd);
	return 0;
}
