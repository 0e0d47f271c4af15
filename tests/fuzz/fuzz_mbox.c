/*
 * fuzz_mbox.c - the libFuzzer entry for the mbox scanner (mbox.c, behind
 * maildrop.c's open), checked against a second, deliberately simple
 * reading of README "Maildrop": the rules of tests/lib/mbox.py, line
 * by line in C here (ref_*), sharing no code with the scanner.
 *
 * The input is a mailbox file.  It is written to a real file and opened
 * the way --check-user opens one (no lock, nothing written); then every
 * message's byte range (which UIDL and UPDATE use), size, RETR and TOP
 * bytes (after byte-stuffing) must be what the reference says, and the
 * UIDLs unique and printable (RFC 1939 section 7).  A file the
 * reference calls not an mbox must be refused.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "md.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PSEUDO_SUBJECT "DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA"

/* ---- the reference: tests/lib/mbox.py's parse(), one line at a time ---- */

struct ref_msg {
	size_t start, body, end;	/* From_ line, its end, range end */
	size_t last;			/* end of the sent lines */
	int pseudo;
};

struct ref {
	const char *d;
	size_t n;
	struct ref_msg *m;
	size_t nmsg;
	int bad;
};

static size_t
line_end(const struct ref *r, size_t off)
{
	const char *nl = memchr(r->d + off, '\n', r->n - off);

	return nl != NULL ? (size_t)(nl - r->d) + 1 : r->n;
}

static int
is_sep(const char *l, size_t len)
{
	return len > 5 && memcmp(l, "From ", 5) == 0 && l[5] != ' ' &&
	    l[5] != '\t' && l[5] != '\r' && l[5] != '\n';
}

static int
is_empty(const char *l, size_t len)
{
	return (len == 1 && l[0] == '\n') ||
	    (len == 2 && l[0] == '\r' && l[1] == '\n');
}

/* Python's bytes.strip(b" \t\r\n") set; strchr would match a NUL too. */
static int
is_strip(char c)
{
	return memchr(" \t\r\n", c, 4) != NULL;
}

/* The value of header line l if it is field name, stripped; else NULL. */
static const char *
value_of(const char *l, size_t len, const char *name, size_t *vlen)
{
	size_t k = strlen(name), a, b;

	if (len < k || strncasecmp(l, name, k) != 0)
		return NULL;
	for (a = k; a < len && is_strip(l[a]); a++)
		;
	for (b = len; b > a && is_strip(l[b - 1]); b--)
		;
	*vlen = b - a;
	return l + a;
}

/* Where a trusted Content-Length of n ends a body at bs, or 0 (a body
   end is never 0: a From_ line comes first). */
static size_t
ref_clen_end(const struct ref *r, size_t bs, uint64_t n)
{
	static const char *const nls[] = { "\n", "\r\n" };
	size_t end, rest;

	if (n > r->n - bs)
		return 0;
	end = bs + (size_t)n;
	rest = r->n - end;
	if (rest == 0 || is_empty(r->d + end, rest))
		return end;
	for (int i = 0; i < 2; i++) {
		size_t k = strlen(nls[i]), s = end + k;

		if (rest >= k && memcmp(r->d + end, nls[i], k) == 0 &&
		    s < r->n && is_sep(r->d + s, line_end(r, s) - s))
			return end;
	}
	return 0;
}

struct ref_header {
	int have_clen;
	uint64_t clen;
	int subject, imap;
};

static void
ref_header_line(struct ref_header *h, const char *l, size_t len)
{
	const char *v;
	size_t vl;

	if ((v = value_of(l, len, "Content-Length:", &vl)) != NULL &&
	    l[len - 1] == '\n') {
		h->have_clen = vl > 0 && vl <= 19;
		h->clen = 0;
		for (size_t i = 0; i < vl && h->have_clen; i++) {
			h->have_clen = v[i] >= '0' && v[i] <= '9';
			h->clen = h->clen * 10 + (uint64_t)(v[i] - '0');
		}
	}
	if ((v = value_of(l, len, "Subject:", &vl)) != NULL &&
	    l[len - 1] == '\n' && vl == strlen(PSEUDO_SUBJECT) &&
	    memcmp(v, PSEUDO_SUBJECT, vl) == 0)
		h->subject = 1;
	if ((value_of(l, len, "X-IMAP:", &vl) != NULL ||
	    value_of(l, len, "X-IMAPbase:", &vl) != NULL) &&
	    l[len - 1] == '\n')
		h->imap = 1;
}

static int
ref_pseudo(const struct ref *r, const struct ref_msg *m,
    const struct ref_header *h)
{
	static const char daemon[] = "From MAILER-DAEMON ";

	return m->start == 0 && m->body - m->start >= sizeof(daemon) - 1 &&
	    memcmp(r->d, daemon, sizeof(daemon) - 1) == 0 && h->subject &&
	    h->imap;
}

static void
ref_parse(struct ref *r)
{
	struct ref_header h;
	size_t off, e, body_end = 0;
	int prev_empty = 1, in_header = 0;

	for (off = 0; off < r->n; off = e) {
		const char *l = r->d + off;

		e = line_end(r, off);
		if (prev_empty && is_sep(l, e - off) && off >= body_end) {
			struct ref_msg *m = &r->m[r->nmsg++];

			m->start = off;
			m->body = e;
			m->pseudo = 0;
			in_header = 1;
			memset(&h, 0, sizeof(h));
		} else if (r->nmsg == 0) {
			r->bad = 1;
			return;
		} else if (in_header && is_empty(l, e - off)) {
			size_t ce = h.have_clen ? ref_clen_end(r, e, h.clen) : 0;

			in_header = 0;
			body_end = ce != 0 ? ce : body_end;
			r->m[r->nmsg - 1].pseudo = ref_pseudo(r,
			    &r->m[r->nmsg - 1], &h);
		} else if (in_header)
			ref_header_line(&h, l, e - off);
		prev_empty = is_empty(l, e - off);
	}
	if (r->nmsg > 0 && in_header)
		r->m[r->nmsg - 1].pseudo = ref_pseudo(r, &r->m[r->nmsg - 1],
		    &h);
	for (size_t k = 0; k < r->nmsg; k++) {
		struct ref_msg *m = &r->m[k];

		m->end = k + 1 < r->nmsg ? r->m[k + 1].start : r->n;
		m->last = m->end;
		/* the empty line before the next separator / at the end
		   belongs to the separator */
		if (m->end > m->body) {
			size_t b = m->end - 1;	/* the last line's start */

			while (b > m->body && r->d[b - 1] != '\n')
				b--;
			if (is_empty(r->d + b, m->end - b))
				m->last = b;
		}
	}
}

/* RETR (lines < 0) or TOP bytes as sent: CRLF line ends, stuffed. */
static size_t
ref_send(const struct ref *r, const struct ref_msg *m, long lines,
    char *out)
{
	size_t off, e, n = 0;
	int in_body = 0;

	for (off = m->body; off < m->last; off = e) {
		size_t len;

		e = line_end(r, off);
		if (e > m->last)
			e = m->last;
		if (in_body && lines >= 0 && lines-- == 0)
			break;
		len = e - off;
		if (r->d[off] == '.')
			out[n++] = '.';
		if (len >= 2 && r->d[e - 1] == '\n' && r->d[e - 2] == '\r')
			len -= 2;
		else if (len >= 1 && r->d[e - 1] == '\n')
			len -= 1;
		memcpy(out + n, r->d + off, len);
		n += len;
		out[n++] = '\r';
		out[n++] = '\n';
		if (!in_body && len == 0)
			in_body = 1;
	}
	return n;
}

/* The lines of message m that byte-stuffing doubles a dot of. */
static size_t
ref_dots(const struct ref *r, const struct ref_msg *m)
{
	size_t n = 0;

	for (size_t off = m->body; off < m->last; off = line_end(r, off))
		n += r->d[off] == '.';
	return n;
}

/* ---- the scanner, through the maildrop, compared with it ---- */

struct sink {
	char *p;
	size_t n, cap;	/* p has OUT_ROOM_MIN more: room() never flushes */
};

static char *
sink_room(void *ctx, size_t min, size_t *len)
{
	struct sink *s = ctx;

	*len = s->cap + OUT_ROOM_MIN - s->n;
	if (*len < min)
		abort();
	return s->p + s->n;
}

static void
sink_put(void *ctx, size_t n)
{
	struct sink *s = ctx;

	if (n > s->cap - s->n)
		abort();	/* more than the reference's bytes */
	s->n += n;
}

static char path[64];

/* Both readings on stderr (the fuzzer's log), then the crash. */
static void __attribute__((noreturn))
mismatch(const struct maildrop *md, const struct ref *r, const char *what)
{
	fprintf(stderr, "fuzz_mbox: %s differs\nscanner:", what);
	for (unsigned i = 0; i < md->ix.nmsg; i++)
		fprintf(stderr, " [%llu,%llu)",
		    (unsigned long long)md->ix.msg[i].off,
		    (unsigned long long)md_range_end(md, i));
	fprintf(stderr, " first=%u\nreference:", md->ix.first);
	for (size_t i = 0; i < r->nmsg; i++)
		fprintf(stderr, " [%zu,%zu)", r->m[i].start, r->m[i].end);
	fprintf(stderr, " pseudo=%d\n", r->nmsg > 0 && r->m[0].pseudo);
	abort();
}

static void
compare_send(struct maildrop *md, const struct ref *r, unsigned n,
    const struct ref_msg *m, long lines, char *want, struct sink *got)
{
	const struct md_out out = { sink_room, sink_put, got };
	const char *why;
	size_t wn = ref_send(r, m, lines, want);

	got->n = 0;
	if (maildrop_check(md, n, lines, &why) != MD_OK ||
	    maildrop_send(md, n, lines, &out, &why) != MD_OK ||
	    got->n != wn || memcmp(got->p, want, wn) != 0)
		abort();
}

static void
compare(struct maildrop *md, const struct ref *r, size_t cap)
{
	unsigned first = r->nmsg > 0 && r->m[0].pseudo;
	char *want = malloc(cap), uidl[MD_UIDL_MAX + 1];
	char (*seen)[MD_UIDL_MAX + 1] = calloc(r->nmsg + 1, sizeof(*seen));
	struct sink got = { malloc(cap + OUT_ROOM_MIN), 0, cap };
	const char *why;

	if (want == NULL || got.p == NULL || seen == NULL)
		abort();
	if (md->ix.nmsg != r->nmsg || md->ix.first != first ||
	    maildrop_count(md) != r->nmsg - first)
		mismatch(md, r, "the message count");
	for (unsigned i = 0; i < r->nmsg; i++)
		if (md->ix.msg[i].off != r->m[i].start ||
		    md_range_end(md, i) != r->m[i].end)
			mismatch(md, r, "a byte range");
	for (unsigned n = 1; n + first <= r->nmsg; n++) {
		const struct ref_msg *m = &r->m[n - 1 + first];

		if (maildrop_size(md, n) != ref_send(r, m, -1, want) -
		    ref_dots(r, m))
			abort();	/* RFC 1939: the size before stuffing */
		compare_send(md, r, n, m, -1, want, &got);
		for (long l = 0; l < 3; l++)
			compare_send(md, r, n, m, l, want, &got);
		if (maildrop_uidl(md, n, uidl, &why) != MD_OK ||
		    uidl[0] == '\0' || strlen(uidl) > 70)
			abort();
		for (char *c = uidl; *c != '\0'; c++)
			if (*c < 0x21 || *c > 0x7e)
				abort();
		for (unsigned k = 1; k < n; k++)
			if (strcmp(seen[k], uidl) == 0)
				abort();
		memcpy(seen[n], uidl, sizeof(uidl));
	}
	free(want);
	free(got.p);
	free(seen);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct md_config mc = { path, 0, 0, (gid_t)-1, 1, NULL };
	struct ref r = { (const char *)data, size, NULL, 0, 0 };
	struct maildrop *md;
	const char *why;
	enum md_status st;
	int fd;

	if (path[0] == '\0') {
		const char *t = getenv("TMPDIR");

		(void)snprintf(path, sizeof(path), "%s/fuzz-mbox.XXXXXX",
		    t != NULL && strlen(t) < 40 ? t : "/tmp");
		if ((fd = mkstemp(path)) < 0 || close(fd) != 0)
			abort();
	}
	if ((fd = open(path, O_WRONLY | O_TRUNC)) < 0 ||
	    write(fd, data, size) != (ssize_t)size || close(fd) != 0)
		abort();
	if ((r.m = calloc(size + 1, sizeof(*r.m))) == NULL)
		abort();
	ref_parse(&r);
	st = maildrop_open(&md, &mc, &why);
	if (r.bad) {
		if (st == MD_OK)
			abort();	/* not an mbox, yet served */
	} else {
		if (st != MD_OK)
			abort();
		/* worst case: every octet a stuffed bare line */
		compare(md, &r, 4 * size + 16);
		maildrop_close(md);
	}
	free(r.m);
	return 0;
}
