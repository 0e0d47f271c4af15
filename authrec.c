/*
 * authrec.c - encoding and the strict reading of the records between the
 * pre-authentication process and root (formats in authrec.h).
 *
 * Root reads nothing else from the front before login, so this reader is
 * the wall: it accepts only a complete record of a known type with the
 * exact field count, and nothing it accepts is ever a verdict root made.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authrec.h"

#define HDR_LEN	3

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if ((r = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				/* the peer reads records as they come: a
				   full socket buffer drains without a bound */
				struct pollfd pf = { fd, POLLOUT, 0 };
				if (poll(&pf, 1, -1) < 0 && errno != EINTR)
					return -1;
				continue;
			}
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
send_raw(int fd, int type, const char *payload, size_t len)
{
	char buf[HDR_LEN + AUTHREC_MAX];
	int r;

	if (len > AUTHREC_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	buf[0] = (char)type;
	buf[1] = (char)(len >> 8);
	buf[2] = (char)(len & 0xff);
	memcpy(buf + HDR_LEN, payload, len);
	r = write_all(fd, buf, HDR_LEN + len);	/* one write: no torn pair */
	explicit_bzero(buf, HDR_LEN + len);
	return r;
}

int
authrec_make(struct authrec *r, int type, const char *const *fields, int n)
{
	size_t len = 0, l;

	authrec_wipe(r);
	if (n > REC_FIELDS) {
		errno = EINVAL;
		return -1;
	}
	for (int i = 0; i < n; i++) {
		l = strlen(fields[i]);
		if (len + l + (i > 0) > AUTHREC_TEXT_MAX) {
			errno = EMSGSIZE;
			return -1;
		}
		if (i > 0)
			r->data[len++] = '\0';
		r->field[i] = r->data + len;
		memcpy(r->data + len, fields[i], l);
		len += l;
	}
	r->type = type;
	r->len = len;
	r->nfields = n;
	return 0;
}

int
authrec_send(int fd, int type, const char *const *fields, int n)
{
	struct authrec r;
	int ret = -1;

	if (authrec_make(&r, type, fields, n) == 0)
		ret = send_raw(fd, type, r.data, r.len);
	authrec_wipe(&r);
	return ret;
}

int
authrec_send_handoff(int fd, int mode, const char *p, size_t n)
{
	char payload[1 + IN_BUF];

	if (n > IN_BUF) {
		errno = EMSGSIZE;
		return -1;
	}
	payload[0] = (char)mode;
	memcpy(payload + 1, p, n);
	return send_raw(fd, REC_HANDOFF, payload, n + 1);
}

static long
ms_left(const struct timespec *end)
{
	struct timespec now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return (end->tv_sec - now.tv_sec) * 1000L +
	    (end->tv_nsec - now.tv_nsec) / 1000000L;
}

/* Exactly n bytes; 1, 0 at EOF before the first byte, -1 (errno). */
static int
read_exact(int fd, char *p, size_t n, int timeout_ms,
    const struct timespec *end)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		struct pollfd pf = { fd, POLLIN, 0 };
		long left = timeout_ms < 0 ? -1 : ms_left(end);

		if (timeout_ms >= 0 && left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (poll(&pf, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if ((r = read(fd, p + got, n - got)) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EPIPE;
			return got == 0 ? 0 : -1;
		}
		got += (size_t)r;
	}
	return 1;
}

/* How many text fields a type has; -1: not a type the front sends. */
static int
fields_of(int type)
{
	switch (type) {
	case REC_READY:
		return 0;
	case REC_SETUP:
	case REC_HELLO:
	case REC_PEER:
		return 1;
	case REC_PASS:
	case REC_APOP:
	case REC_VERDICT:
		return 2;
	case REC_PLAIN:
		return 3;
	default:
		return -1;
	}
}

static int
split_fields(struct authrec *r, int want)
{
	char *p = r->data, *end = r->data + r->len;

	r->nfields = 0;
	if (want == 0)
		return r->len == 0 ? 0 : -1;
	for (;;) {
		char *nul = memchr(p, '\0', (size_t)(end - p));

		if (r->nfields == want)
			return -1;
		r->field[r->nfields++] = p;
		if (nul == NULL || nul == end)
			break;
		p = nul + 1;
	}
	return r->nfields == want ? 0 : -1;
}

int
authrec_recv(int fd, struct authrec *r, int timeout_ms, const char **why)
{
	struct timespec end;
	unsigned char hdr[HDR_LEN];
	int got, want;

	authrec_wipe(r);
	(void)clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	*why = "short record";
	got = read_exact(fd, (char *)hdr, HDR_LEN, timeout_ms, &end);
	if (got <= 0) {
		if (got < 0 && errno == ETIMEDOUT)
			*why = "timed out";
		return got;
	}
	r->type = hdr[0];
	r->len = (size_t)hdr[1] << 8 | hdr[2];
	if (r->len > AUTHREC_MAX) {
		*why = "oversized record";
		return -1;
	}
	if (read_exact(fd, r->data, r->len, timeout_ms, &end) != 1) {
		*why = errno == ETIMEDOUT ? "timed out" : "short record";
		return -1;
	}
	r->data[r->len] = '\0';
	if (r->type != REC_HANDOFF && r->len > AUTHREC_TEXT_MAX) {
		*why = "oversized record";
		return -1;
	}
	if (r->type == REC_HANDOFF) {
		if (r->len < 1 || (r->data[0] != HANDOFF_FD &&
		    r->data[0] != HANDOFF_RELAY) || r->len - 1 > IN_BUF) {
			*why = "malformed hand-off";
			return -1;
		}
		return 1;
	}
	if ((want = fields_of(r->type)) < 0) {
		*why = "unknown record type";
		return -1;
	}
	if (split_fields(r, want) != 0) {
		*why = "wrong number of fields";
		return -1;
	}
	return 1;
}

void
authrec_wipe(struct authrec *r)
{
	explicit_bzero(r, sizeof(*r));
}
