/*
 * mbox.c - the scanner: where each message of a Unix mbox begins and
 * ends, and the exact size RETR will send for it (README "Maildrop").
 *
 * One streaming pass over big reads.  A message starts at a From_ line
 * at the start of the file or after an empty line; that empty line
 * belongs to the separator.  A header's Content-Length is trusted when it
 * lands exactly on the end of the file or on such a separator (Dovecot's
 * LDA and other c-client-style writers leave body From_ lines unquoted);
 * otherwise it is ignored.  The first message is hidden only when it is
 * a genuine c-client folder-internal pseudo-message.  Every byte read is
 * also handed to the proof (proof.c), so the file is read once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "md.h"

#define PSEUDO_SUBJECT "DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA"
#define PSEUDO_FROM	"From MAILER-DAEMON "

/* What the first message's header has shown of a pseudo-message. */
enum { PS_DAEMON = 1, PS_SUBJECT = 2, PS_IMAP = 4,
    PS_ALL = PS_DAEMON | PS_SUBJECT | PS_IMAP };

struct scanner {
	struct maildrop *md;
	scan_fn *fn;
	uint64_t from, to;
	struct scan_msg m;
	int have_msg;
	int in_line;		/* a line began in an earlier buffer */
	uint64_t line_off;
	int line_is_sep;	/* the current line is the From_ line */
	int pending;		/* a blank line waits for the next line */
	uint64_t pend_off;
	unsigned pend_len;
	int in_header;
	uint64_t clen;		/* Content-Length of this header, or 0 */
	int have_clen;
	uint64_t body_end;	/* no separator before this offset */
	unsigned pseudo;	/* PS_* seen in the first message */
	char last_byte;		/* last byte of the previous buffer */
	int stopped, bad;
};

int
md_is_from_line(const char *p, size_t avail)
{
	return avail >= 6 && memcmp(p, "From ", 5) == 0 && p[5] != ' ' &&
	    p[5] != '\t' && p[5] != '\r' && p[5] != '\n';
}

/* Does the header line at p (avail bytes, up to its LF) start with the
   field name, case-insensitively?  Then *val is its value. */
static int
header_is(const char *p, size_t avail, const char *name, const char **val)
{
	size_t n = strlen(name);

	if (avail < n || strncasecmp(p, name, n) != 0)
		return 0;
	for (p += n, avail -= n; avail > 0 && (*p == ' ' || *p == '\t');
	    p++, avail--)
		;
	*val = p;
	return 1;
}

/* The value up to its line end, without CR and trailing blanks. */
static size_t
value_len(const char *v, const char *line, size_t avail)
{
	size_t n = avail - (size_t)(v - line);

	while (n > 0 && (v[n - 1] == '\n' || v[n - 1] == '\r' ||
	    v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	return n;
}

static int
parse_clen(const char *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0 || n > CLEN_DIGITS_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return 0;
}

/* A header line (the whole line is in [p, p + avail) when it ends in LF
   there; longer lines are none of the fields below). */
static void
scan_header_line(struct scanner *s, const char *p, size_t avail)
{
	const char *v;
	size_t n;

	if (avail == 0 || p[avail - 1] != '\n')
		return;
	/* most header lines are none of these: one look at the first byte */
	if (strchr("CcSsXx", p[0]) == NULL)
		return;
	if (header_is(p, avail, "Content-Length:", &v)) {
		n = value_len(v, p, avail);
		s->have_clen = parse_clen(v, n, &s->clen) == 0;
	}
	if (s->md->ix.nmsg > 0 || s->m.off != 0)
		return;
	if (header_is(p, avail, "Subject:", &v) &&
	    value_len(v, p, avail) == sizeof(PSEUDO_SUBJECT) - 1 &&
	    memcmp(v, PSEUDO_SUBJECT, sizeof(PSEUDO_SUBJECT) - 1) == 0)
		s->pseudo |= PS_SUBJECT;
	if (header_is(p, avail, "X-IMAP:", &v) ||
	    header_is(p, avail, "X-IMAPbase:", &v))
		s->pseudo |= PS_IMAP;
}

/*
 * The header ended; its body starts at off.  Content-Length N holds when
 * off + N is the end of the file or the start of a separator's empty line
 * (an empty line, then a From_ line, or the empty line ending the file).
 */
static void
scan_check_clen(struct scanner *s, uint64_t off)
{
	char next[CLEN_PEEK];
	uint64_t end;
	ssize_t n;

	if (!s->have_clen)
		return;
	s->m.clen = 1;
	if (s->clen > s->to - off)
		return;
	end = off + s->clen;
	if (end == s->to) {
		s->body_end = end;
		return;
	}
	if ((n = md_pread(s->md->f.fd, next, sizeof(next), end)) < 1)
		return;
	/* the empty line that ends the file belongs to the separator too */
	if ((n == 1 && next[0] == '\n') ||
	    (n == 2 && next[0] == '\r' && next[1] == '\n'))
		s->body_end = end;
	else if (next[0] == '\n' && md_is_from_line(next + 1, (size_t)n - 1))
		s->body_end = end;
	else if (n > 2 && next[0] == '\r' && next[1] == '\n' &&
	    md_is_from_line(next + 2, (size_t)n - 2))
		s->body_end = end;
}

static int
scan_finish_msg(struct scanner *s)
{
	if (!s->have_msg)
		return 0;
	s->have_msg = 0;
	s->m.hidden = s->m.off == 0 && s->pseudo == PS_ALL;
	if (s->fn(s->md, &s->m) != 0) {
		s->stopped = 1;
		return -1;
	}
	return 0;
}

static int
scan_new_msg(struct scanner *s, const char *p, size_t avail, uint64_t off)
{
	if (scan_finish_msg(s) != 0)
		return -1;
	memset(&s->m, 0, sizeof(s->m));
	s->m.off = off;
	s->m.end = off;
	s->have_msg = 1;
	s->in_header = 1;
	s->have_clen = 0;
	s->pending = 0;
	if (off == 0 && avail >= sizeof(PSEUDO_FROM) - 1 &&
	    memcmp(p, PSEUDO_FROM, sizeof(PSEUDO_FROM) - 1) == 0)
		s->pseudo = PS_DAEMON;
	return 0;
}

/* A line starts at p (file offset off); avail bytes of it are here. */
static int
scan_line_start(struct scanner *s, const char *p, size_t avail,
    uint64_t off)
{
	int sep = off >= s->body_end && md_is_from_line(p, avail) &&
	    (off == s->from || s->pending);

	s->line_off = off;
	s->line_is_sep = sep;
	if (sep)
		return scan_new_msg(s, p, avail, off);
	if (!s->have_msg) {
		s->bad = 1;	/* not an mbox */
		return -1;
	}
	if (s->pending) {
		/* the blank line was part of the body after all */
		s->m.size += 2;
		s->m.end = s->pend_off + s->pend_len;
		s->pending = 0;
	}
	if (s->in_header)
		scan_header_line(s, p, avail);
	return 0;
}

/* The current line ends at q (its LF) or, with q == NULL, at EOF. */
static void
scan_line_end(struct scanner *s, const char *buf, const char *q,
    uint64_t end_off)
{
	uint64_t len = end_off - s->line_off;
	char before = q == NULL ? 0 : q > buf ? q[-1] : s->last_byte;
	int cr = q != NULL && before == '\r';

	if (s->line_is_sep) {
		s->m.sep_len = len;
		s->m.end = end_off;
		return;
	}
	if (q != NULL && (len == 1 || (len == 2 && cr))) {
		/* an empty line: the body's end, unless more body follows */
		if (s->in_header) {
			s->in_header = 0;
			scan_check_clen(s, end_off);
		}
		s->pending = 1;
		s->pend_off = s->line_off;
		s->pend_len = (unsigned)len;
		return;
	}
	/* LF becomes CRLF; a CRLF stays; a last line without LF gets CRLF */
	s->m.size += len + (q == NULL ? 2 : !cr);
	s->m.end = end_off;
}

/*
 * Feed one buffer holding the file bytes [base, base + len).  Returns the
 * number of bytes consumed; the rest (a short line head) is carried over.
 */
static size_t
scan_buffer(struct scanner *s, const char *buf, size_t len, uint64_t base,
    int final)
{
	const char *p = buf, *e = buf + len, *q;

	while (p < e) {
		q = memchr(p, '\n', (size_t)(e - p));
		if (!s->in_line) {
			if (q == NULL && e - p < HEAD_MIN && !final)
				break;	/* carry the short head over */
			if (scan_line_start(s, p, (size_t)((q != NULL ?
			    q + 1 : e) - p), base + (uint64_t)(p - buf)) != 0) {
				s->stopped = 1;
				return 0;
			}
			s->in_line = 1;
		}
		if (q == NULL) {
			p = e;
			break;
		}
		scan_line_end(s, buf, q, base + (uint64_t)(q + 1 - buf));
		s->in_line = 0;
		p = q + 1;
	}
	if (p > buf)
		s->last_byte = p[-1];
	return (size_t)(p - buf);
}

/* Read the next buffer at off, after the carry; n: bytes read. */
static enum md_status
scan_read(struct scanner *s, uint64_t off, size_t carry, size_t *n,
    const char **why)
{
	struct maildrop *md = s->md;
	size_t want = SCAN_BUF - carry;
	ssize_t r;

	if (want > s->to - off)
		want = (size_t)(s->to - off);
	*n = want;
	if (want == 0)
		return MD_OK;
	if ((r = md_pread(md->f.fd, md->b.scan + carry, want, off)) < 0) {
		syslog(LOG_ERR, "read %s: %s", md->f.path, strerror(errno));
		*why = "cannot read the mailbox";
		return MD_TEMP;
	}
	if ((size_t)r != want) {
		syslog(LOG_ERR, "%s shrank while it was indexed", md->f.path);
		*why = "mailbox was changed by another program";
		return MD_TEMP;
	}
	if (md_proof_feed(md, md->b.scan + carry, want, off) != 0) {
		syslog(LOG_ERR, "cannot fingerprint %s", md->f.path);
		*why = "cannot fingerprint the mailbox";
		return MD_TEMP;
	}
	return MD_OK;
}

/*
 * Find the messages in [from, to), calling fn for each.  *stop is where
 * the scan stopped when fn refused a message (else to).
 */
enum md_status
md_scan(struct maildrop *md, uint64_t from, uint64_t to, scan_fn *fn,
    uint64_t *stop, const char **why)
{
	struct scanner s;
	uint64_t off = from;
	size_t carry = 0, used, n;
	enum md_status st;

	memset(&s, 0, sizeof(s));
	s.md = md;
	s.fn = fn;
	s.from = from;
	s.to = to;
	*stop = to;
	if (md->b.scan == NULL &&
	    (md->b.scan = malloc(SCAN_BUF + HEAD_MIN)) == NULL) {
		*why = "out of memory";
		return MD_TEMP;
	}
	while (off < to || carry > 0) {
		if ((st = scan_read(&s, off, carry, &n, why)) != MD_OK)
			return st;
		used = scan_buffer(&s, md->b.scan, carry + n, off - carry,
		    off + n == to);
		if (s.stopped)
			break;
		off += n;
		carry = carry + n - used;
		if (carry > 0 && used > 0)
			memmove(md->b.scan, md->b.scan + used, carry);
	}
	if (!s.stopped) {
		if (s.in_line)
			scan_line_end(&s, md->b.scan, NULL, to);
		(void)scan_finish_msg(&s);
	}
	if (s.bad) {
		syslog(LOG_ERR, "%s: a line before the first From_ line",
		    md->f.path);
		*why = "mailbox is not in mbox format";
		return MD_PERM;
	}
	if (s.stopped)
		*stop = s.m.off;
	return MD_OK;
}
