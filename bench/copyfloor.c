/*
 * bench/copyfloor.c - the copy floor: read a file and write it to a new
 * file with large reads and writes, then fsync it.  An UPDATE that moves
 * every byte of the mailbox once, durably, costs about this much.
 *
 *   copyfloor SRC DST        (DST is created or truncated)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF	(1024 * 1024)

int
main(int argc, char **argv)
{
	static char buf[BUF];
	int in, out;

	if (argc != 3) {
		(void)fprintf(stderr, "usage: copyfloor SRC DST\n");
		return 2;
	}
	if ((in = open(argv[1], O_RDONLY | O_CLOEXEC)) < 0 ||
	    (out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0) {
		(void)fprintf(stderr, "copyfloor: %s\n", strerror(errno));
		return 2;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf)), done = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 1;
		if (n == 0)
			break;
		while (done < n) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return 1;
			done += w;
		}
	}
	if (fsync(out) != 0 || close(out) != 0 || close(in) != 0)
		return 1;
	return 0;
}
