/*
 * bench/sepscan.c - the separator-scan floor: find every From_ line of an
 * mbox ("From " at the start of the file or after an empty line) with
 * large reads and memchr-class scanning, and nothing else.
 *
 *   sepscan FILE     prints "messages N first_off A last_off B"
 *
 * A session that answers STAT must do at least this much work (unless it
 * keeps an index); the runner measures it as the floor for login+STAT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF	(1024 * 1024)
#define KEEP	7	/* a From_ line may straddle two reads */

int
main(int argc, char **argv)
{
	static char buf[KEEP + BUF];
	uint64_t base = 0, count = 0, first = 0, last = 0;
	size_t have = 0;
	int fd;

	if (argc != 2) {
		(void)fprintf(stderr, "usage: sepscan FILE\n");
		return 2;
	}
	if ((fd = open(argv[1], O_RDONLY | O_CLOEXEC)) < 0) {
		(void)fprintf(stderr, "sepscan: %s: %s\n", argv[1],
		    strerror(errno));
		return 2;
	}
	/* a virtual "\n\n" before the file: a From_ line at offset 0 counts */
	memcpy(buf, "\n\n", 2);
	have = 2;
	base = (uint64_t)-2;
	for (;;) {
		ssize_t n = read(fd, buf + have, BUF);
		const char *p, *e;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			(void)fprintf(stderr, "sepscan: read: %s\n",
			    strerror(errno));
			return 1;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		p = buf + 1;
		e = buf + have;
		/* line by line: memchr is faster here than memmem("\n\nFrom ") */
		while (e - p >= 6 && (p = memchr(p, '\n', (size_t)(e - p - 6)))
		    != NULL) {
			if (p[-1] == '\n' && memcmp(p + 1, "From ", 5) == 0) {
				uint64_t off = base + (uint64_t)(p - buf) + 1;
				if (count++ == 0)
					first = off;
				last = off;
			}
			p++;
		}
		/* keep the tail: a separator may start in it */
		size_t keep = have < KEEP ? have : KEEP;
		memmove(buf, e - keep, keep);
		base += have - keep;
		have = keep;
	}
	if (close(fd) != 0)
		return 1;
	(void)printf("messages %" PRIu64 " first_off %" PRIu64 " last_off %"
	    PRIu64 "\n", count, first, last);
	return 0;
}
