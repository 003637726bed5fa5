/* SPDX-License-Identifier: MIT */
/*
 * Built by rw_fortify.bats with -O2 -D_FORTIFY_SOURCE=2: the buffer's size is
 * known and the count is not, so each pread() below is a call to glibc's
 * __pread_chk (__pread64_chk with -D_FILE_OFFSET_BITS=64).
 *
 * Usage: rw_fortify FILE COUNT ROUNDS — reads COUNT bytes ROUNDS times into a
 * 4096-byte buffer, at offsets 0, 4096, ... (mod 16 blocks), prints a sum.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static unsigned char buf[4096];
	unsigned long sum = 0;
	size_t count;
	long rounds;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: %s FILE COUNT ROUNDS\n", argv[0]);
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	count = strtoul(argv[2], NULL, 0);
	rounds = atol(argv[3]);
	for (long i = 0; i < rounds; i++) {
		ssize_t n = pread(fd, buf, count, (off_t)(i % 16) * 4096);

		if (n < 0) {
			perror("pread");
			return 1;
		}
		for (ssize_t j = 0; j < n; j++)
			sum = sum * 31 + buf[j];
	}
	printf("read %ld times, sum %lu\n", rounds, sum);
	return 0;
}
