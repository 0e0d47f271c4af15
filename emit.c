/*
 * emit.c - RETR and TOP: a message streamed to the client with its line
 * ends made CRLF and its lines byte-stuffed (RFC 1939 section 3), in one
 * pass over big reads, proven against the index before and after.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "md.h"

struct emit {
	md_write_fn *out;
	void *ctx;
	char *obuf;
	size_t olen;
	int line_start;		/* the next byte begins a line */
	char prev;		/* the byte before, across chunks */
	uint64_t line_len;	/* bytes of the current line so far */
	int in_body;		/* past the header's blank line */
	long lines;		/* body lines still wanted; < 0: all */
	int done;		/* TOP has sent what was asked */
	uint64_t sent;		/* octets, not counting stuffed dots */
};

/* Convert one chunk of message bytes; output goes to e->obuf. */
static void
emit_chunk(struct emit *e, const char *p, size_t n)
{
	const char *end = p + n, *q;
	char *o = e->obuf + e->olen;

	while (p < end && !e->done) {
		if (e->line_start && *p == '.')
			*o++ = '.';	/* RFC 1939 section 3: byte-stuff */
		e->line_start = 0;
		q = memchr(p, '\n', (size_t)(end - p));
		if (q == NULL) {
			memcpy(o, p, (size_t)(end - p));
			o += end - p;
			e->sent += (uint64_t)(end - p);
			e->line_len += (uint64_t)(end - p);
			e->prev = end[-1];
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		e->line_len += (uint64_t)(q - p);
		if ((q > p ? q[-1] : e->prev) != '\r') {
			*o++ = '\r';
			e->sent++;
		}
		*o++ = '\n';
		e->sent += (uint64_t)(q - p) + 1;
		if (e->in_body) {
			if (e->lines > 0 && --e->lines == 0)
				e->done = 1;
		} else if (e->line_len == 0 ||
		    (e->line_len == 1 && (q > p ? q[-1] : e->prev) == '\r')) {
			e->in_body = 1;		/* the header ends here */
			if (e->lines == 0)
				e->done = 1;
		}
		e->line_len = 0;
		e->line_start = 1;
		e->prev = '\n';
		p = q + 1;
	}
	e->olen = (size_t)(o - e->obuf);
}

static enum md_status
send_body(struct maildrop *md, const struct md_msg *m, struct emit *e,
    const char **why)
{
	uint64_t off = m->off + m->sep_len;
	enum md_status st = MD_OK;
	size_t chunk;
	char *ibuf;

	/* kept for the session: many small RETRs must not each allocate */
	if (md->b.in == NULL && (md->b.in = malloc(SEND_CHUNK)) == NULL) {
		*why = "out of memory";
		return MD_TEMP;
	}
	if (md->b.out == NULL &&
	    (md->b.out = malloc(2 * SEND_CHUNK + 2)) == NULL) {
		*why = "out of memory";
		return MD_TEMP;
	}
	ibuf = md->b.in;
	e->obuf = md->b.out;
	/* TOP usually wants a header of a few KB: do not read 256 KB */
	chunk = e->lines >= 0 ? TOP_FIRST_READ : SEND_CHUNK;
	while (off < m->end && !e->done) {
		size_t want = m->end - off > chunk ? chunk :
		    (size_t)(m->end - off);
		ssize_t n = md_pread(md->f.fd, ibuf, want, off);

		chunk = SEND_CHUNK;
		if (n != (ssize_t)want) {
			syslog(LOG_ERR, "%s shrank while a message was sent",
			    md->f.path);
			*why = "mailbox was changed by another program";
			st = MD_TEMP;
			break;
		}
		e->olen = 0;
		emit_chunk(e, ibuf, want);
		off += want;
		if (off == m->end && !e->done && !e->line_start) {
			/* a last line without LF gets CRLF */
			memcpy(e->obuf + e->olen, "\r\n", 2);
			e->olen += 2;
			e->sent += 2;
		}
		if (e->out(e->ctx, e->obuf, e->olen) != 0) {
			st = MD_CLIENT;
			break;
		}
	}
	return st;
}

enum md_status
maildrop_check(struct maildrop *md, unsigned n, const char **why)
{
	unsigned i = md->ix.first + n - 1;

	if (!md_prove(md, md->ix.msg[i].off, md_range_end(md, i))) {
		syslog(LOG_NOTICE, "%s: message %u changed under the session",
		    md->f.path, n);
		*why = "mailbox was changed by another program; "
		    "please reconnect";
		return MD_TEMP;
	}
	return MD_OK;
}

enum md_status
maildrop_send(struct maildrop *md, unsigned n, long lines,
    md_write_fn *out, void *ctx, const char **why)
{
	unsigned i = md->ix.first + n - 1;
	const struct md_msg *m = &md->ix.msg[i];
	struct emit e;
	enum md_status st;

	*why = NULL;
	memset(&e, 0, sizeof(e));
	e.out = out;
	e.ctx = ctx;
	e.line_start = 1;
	e.lines = lines;
	st = send_body(md, m, &e, why);
	if (st == MD_OK && !e.done && e.sent != m->size)
		st = MD_TEMP;
	/* proven before the "+OK"; prove it again now it has been read */
	if (st == MD_OK && !md_prove(md, m->off, md_range_end(md, i)))
		st = MD_TEMP;
	if (st == MD_TEMP && *why == NULL) {
		syslog(LOG_ERR, "%s: message %u changed while it was sent",
		    md->f.path, n);
		*why = "mailbox was changed by another program";
	}
	return st;
}

