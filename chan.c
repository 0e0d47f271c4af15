/*
 * chan.c - the client channel: line input with the RFC 2449 length rule,
 * corked output, and the autologout timer on every wait.
 *
 * Input is read in big gulps and output corked until no input waits, so a
 * pipelined session costs few system calls.  Consumed input is wiped: it
 * may have held a password.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"
#include "tls.h"

void
chan_init(struct chan *c, int rfd, int wfd, int timeout_ms)
{
	/* the fields, not the buffers: bytes are only read where written,
	   and a page of them costs a fault only once it is used */
	memset(c, 0, offsetof(struct chan, in));
	c->rfd = rfd;
	c->wfd = wfd;
	c->timeout_ms = timeout_ms;
}

static int
wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { fd, events, 0 };
	int r;

	while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

static int
raw_write(struct chan *c, const char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if (c->tls != NULL)
			r = tls_write(c->tls, p, n, c->timeout_ms);
		else if ((r = write(c->wfd, p, n)) < 0 &&
		    (errno == EAGAIN || errno == EINTR)) {
			if (errno == EAGAIN &&
			    wait_fd(c->wfd, POLLOUT, c->timeout_ms) != 0)
				break;
			continue;
		}
		if (r <= 0)
			break;
		p += r;
		n -= (size_t)r;
	}
	if (n > 0)
		c->failed = 1;
	return n > 0 ? -1 : 0;
}

int
chan_flush(struct chan *c)
{
	int r = 0;

	if (c->failed)
		return -1;
	if (c->out_len > 0)
		r = raw_write(c, c->out, c->out_len);
	c->out_len = 0;
	c->mark = 0;
	return r;
}

int
chan_write(struct chan *c, const char *p, size_t n)
{
	if (c->failed)
		return -1;
	if (c->out_len + n > OUT_BUF && chan_flush(c) != 0)
		return -1;
	if (n >= OUT_BUF / 2 && c->out_len == 0)
		return raw_write(c, p, n);	/* big: skip the copy */
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

char *
chan_room(struct chan *c, size_t min, size_t *len)
{
	if (c->failed || min > OUT_BUF)
		return NULL;
	if (OUT_BUF - c->out_len < min && chan_flush(c) != 0)
		return NULL;
	*len = OUT_BUF - c->out_len;
	return c->out + c->out_len;
}

void
chan_put(struct chan *c, size_t n)
{
	c->out_len += n;
}

int
chan_printf(struct chan *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	return chan_write(c, buf, (size_t)n < sizeof(buf) ? (size_t)n :
	    sizeof(buf) - 1);
}

/*
 * Read input into c->in, waiting at most timeout_ms; -1 with errno
 * ETIMEDOUT when none came.  With 0 it answers "is more input here
 * already?" by reading it: over TLS a readable socket may hold only part
 * of a record, or a record without data (a KeyUpdate), which is no
 * reason to keep replies corked.
 */
static ssize_t
chan_read(struct chan *c, int timeout_ms)
{
	char *p = c->in + c->in_len;
	size_t room = IN_BUF - c->in_len;
	ssize_t n;

	if (c->tls != NULL)
		return tls_read(c->tls, p, room, timeout_ms);
	if (timeout_ms == 0 && wait_fd(c->rfd, POLLIN, 0) != 0)
		return -1;	/* a terminal blocks: ask poll first */
	for (;;) {
		if ((n = read(c->rfd, p, room)) >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || wait_fd(c->rfd, POLLIN,
		    timeout_ms) != 0)
			return -1;
	}
}

/* Drop consumed input, wiping it: it may have held a password. */
static void
chan_compact(struct chan *c)
{
	size_t keep = c->in_len - c->in_pos;

	if (c->in_pos == 0)
		return;
	memmove(c->in, c->in + c->in_pos, keep);
	explicit_bzero(c->in + keep, c->in_pos);
	c->in_len = keep;
	c->in_pos = 0;
}

/*
 * The next command line, without its CRLF or LF, NUL-terminated.  The
 * output is flushed only when no further input is waiting (PIPELINING).
 */
enum gl
chan_getline(struct chan *c, char *line, size_t *len)
{
	for (;;) {
		char *start = c->in + c->in_pos;
		size_t avail = c->in_len - c->in_pos;
		char *lf = memchr(start, '\n', avail);
		ssize_t n;

		if (lf != NULL) {
			size_t total = (size_t)(lf - start) + 1, l = total - 1;
			enum gl r = GL_LINE;

			if (c->discarding || total > CMD_LINE_MAX) {
				r = GL_TOOLONG;	/* RFC 2449: one -ERR */
				c->discarding = 0;
			} else {
				if (l > 0 && start[l - 1] == '\r')
					l--;
				memcpy(line, start, l);
				line[l] = '\0';
				*len = l;
			}
			explicit_bzero(start, total);
			c->in_pos += total;
			return r;
		}
		if (avail >= CMD_LINE_MAX)
			c->discarding = 1;
		if (c->discarding) {
			explicit_bzero(start, avail);
			c->in_pos = c->in_len;
		}
		chan_compact(c);
		if (c->eof)
			return GL_EOF;
		/* PIPELINING: replies go out when no input is waiting */
		if ((n = chan_read(c, 0)) < 0 && errno == ETIMEDOUT) {
			if (chan_flush(c) != 0)
				return GL_ERROR;
			n = chan_read(c, chan_wait_ms(c));
		}
		if (n < 0)
			return errno == ETIMEDOUT ? GL_TIMEOUT : GL_ERROR;
		if (n == 0)
			c->eof = 1;
		c->in_len += (size_t)n;
	}
}

void
set_nonblocking(int fd)
{
	int fl;

	/* a terminal is shared with the shell: leave it alone */
	if (isatty(fd) || (fl = fcntl(fd, F_GETFL)) < 0)
		return;
	(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void
chan_mark(struct chan *c)
{
	c->mark = c->out_len;
}

void
chan_cut(struct chan *c)
{
	explicit_bzero(c->out + c->mark, c->out_len - c->mark);
	c->out_len = c->mark;
	(void)chan_flush(c);
	c->failed = 1;		/* nothing more may follow the cut */
}

void
chan_wipe_input(struct chan *c)
{
	explicit_bzero(c->in, sizeof(c->in));
	c->in_pos = c->in_len = 0;
	c->discarding = 0;
}

int
chan_preload(struct chan *c, const char *p, size_t n)
{
	if (n > IN_BUF - c->in_len)
		return -1;
	memcpy(c->in + c->in_len, p, n);
	c->in_len += n;
	return 0;
}

size_t
chan_pending(const struct chan *c, const char **p)
{
	*p = c->in + c->in_pos;
	return c->in_len - c->in_pos;
}

void
chan_last_words(struct chan *c, const char *msg, size_t n)
{
	c->timeout_ms = 1000;	/* one short try to say why */
	c->out_len = c->mark = 0;
	(void)chan_write(c, msg, n);
	(void)chan_flush(c);
}

void
chan_set_deadline(struct chan *c, int ms)
{
	c->has_deadline = ms >= 0;
	if (ms < 0)
		return;
	(void)clock_gettime(CLOCK_MONOTONIC, &c->deadline);
	c->deadline.tv_sec += ms / 1000;
	c->deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (c->deadline.tv_nsec >= 1000000000L) {
		c->deadline.tv_sec++;
		c->deadline.tv_nsec -= 1000000000L;
	}
}

int
chan_wait_ms(const struct chan *c)
{
	struct timespec now;
	long left;

	if (!c->has_deadline)
		return c->timeout_ms;
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	left = (c->deadline.tv_sec - now.tv_sec) * 1000L +
	    (c->deadline.tv_nsec - now.tv_nsec) / 1000000L;
	if (left <= 0)
		return 0;
	return left < c->timeout_ms ? (int)left : c->timeout_ms;
}
