/*
 * mdio.c - file I/O the maildrop's files share: reads and writes that
 * finish or fail whole, the directory fsync a rename or unlink needs to
 * be durable, and the one way a "cannot happen" failure ends the process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "md.h"

/* pread() that reads everything asked for; returns bytes read (short at
   end of file) or -1. */
ssize_t
md_pread(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
		    (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int
md_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
		    (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/* A rename or unlink in the mailbox's directory is durable after this. */
int
md_fsync_dir(struct maildrop *md)
{
	return fsync(md->f.dirfd);
}

char *
md_concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s;

	if (la + lb + 1 > PATH_MAX)
		return NULL;
	if ((s = malloc(la + lb + 1)) == NULL)
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

/* A failure that cannot happen (a privilege change the kernel refused):
   retrying could run with the wrong rights, so one log line and out. */
void
md_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(LOG_CRIT, fmt, ap);
	va_end(ap);
	_exit(EXIT_INTERNAL);
}
