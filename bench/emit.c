/*
 * bench/emit.c - the emit floor: read a file and write it to fd 1 (a
 * socket, drained by the runner) with LF -> CRLF and byte-stuffing of
 * lines that start with ".", in one pass, with large reads and writes.
 *
 *   emit FILE
 *
 * This is the least a server must do to RETR every message of a mailbox
 * (less, in fact: it neither skips From_ lines nor frames responses).
 * It prints the octets it wrote on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK	(256 * 1024)

static int
write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(1, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			struct pollfd pf = { 1, POLLOUT, 0 };
			(void)poll(&pf, 1, -1);
			continue;
		}
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static char in[CHUNK], out[2 * CHUNK + 2];
	uint64_t total = 0;
	int fd, line_start = 1;

	if (argc != 2) {
		(void)fprintf(stderr, "usage: emit FILE\n");
		return 2;
	}
	if ((fd = open(argv[1], O_RDONLY | O_CLOEXEC)) < 0) {
		(void)fprintf(stderr, "emit: %s: %s\n", argv[1],
		    strerror(errno));
		return 2;
	}
	for (;;) {
		ssize_t n = read(fd, in, sizeof(in));
		const char *p = in, *e, *q;
		char *o = out;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 1;
		if (n == 0)
			break;
		e = in + n;
		while (p < e) {
			if (line_start && *p == '.')
				*o++ = '.';
			q = memchr(p, '\n', (size_t)(e - p));
			if (q == NULL) {
				memcpy(o, p, (size_t)(e - p));
				o += e - p;
				line_start = 0;
				break;
			}
			memcpy(o, p, (size_t)(q - p));
			o += q - p;
			*o++ = '\r';
			*o++ = '\n';
			line_start = 1;
			p = q + 1;
		}
		if (write_all(out, (size_t)(o - out)) != 0)
			return 1;
		total += (uint64_t)(o - out);
	}
	(void)close(fd);
	(void)fprintf(stderr, "octets %" PRIu64 "\n", total);
	return 0;
}
