/*
 * emit.c - RETR and TOP: a message streamed to the client with its line
 * ends made CRLF and its lines byte-stuffed (RFC 1939 section 3), in one
 * pass from big reads straight into the client's output buffer.
 *
 * What is sent is proven against the index (proof.c) after it was read:
 * then it is what the client saw at login, whatever the file holds by the
 * time it goes out.  A message that fits in SEND_CHUNK (for TOP:
 * TOP_FIRST_READ) is read before its "+OK", together with the messages
 * after it, and all of that proven at once (the window); the RETRs that follow are answered from the window
 * without a system call.  A longer message is proven before its "+OK",
 * streamed, and proven again once it has been read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "md.h"

struct emit {
	int line_start;		/* the next byte begins a line */
	char prev;		/* the byte before, across chunks */
	uint64_t line_len;	/* bytes of the current line so far */
	int in_body;		/* past the header's blank line */
	long lines;		/* body lines still wanted; < 0: all */
	int done;		/* TOP has sent what was asked */
	uint64_t sent;		/* octets, not counting stuffed dots */
};

/* A line has ended (cr: with CR LF): count it against TOP's limit. */
static void
line_done(struct emit *e, int cr)
{
	if (e->in_body) {
		if (e->lines > 0 && --e->lines == 0)
			e->done = 1;
	} else if (e->line_len == 0 || (e->line_len == 1 && cr)) {
		e->in_body = 1;		/* the header ends here */
		if (e->lines == 0)
			e->done = 1;
	}
	e->line_len = 0;
	e->line_start = 1;
	e->prev = '\n';
}

/*
 * The body of a RETR from a line start: the whole lines that fit in the
 * room, with nothing to count but the octets, as little work a line as
 * the emit floor (bench/emit.c) does.  Returns where it stopped, at a
 * line start: the end of the input, a line without its LF yet, or one
 * that does not fit.
 */
static const char *
body_lines(struct emit *e, const char *p, const char *end, char **op,
    const char *olim)
{
	char *o = *op, *o0 = o;
	uint64_t dots = 0;
	const char *q;
	size_t len;

	while ((q = memchr(p, '\n', (size_t)(end - p))) != NULL &&
	    (len = (size_t)(q - p)) + 3 <= (size_t)(olim - o)) {
		if (*p == '.') {
			*o++ = '.';	/* RFC 1939 section 3: byte-stuff */
			dots++;
		}
		memcpy(o, p, len);
		o += len;
		if (len == 0 || q[-1] != '\r')
			*o++ = '\r';
		*o++ = '\n';
		p = q + 1;
	}
	e->sent += (uint64_t)(o - o0) - dots;
	*op = o;
	return p;
}

/*
 * Convert message bytes [p, p + n) into o, which has room for `room`
 * bytes (at least 3: a stuffed dot, CR, LF).  A line that does not fit
 * is cut where the room ends and goes on in the next call.  Returns the
 * input bytes used; *olen is the output.
 */
static size_t
emit_some(struct emit *e, const char *p, size_t n, char *o, size_t room,
    size_t *olen)
{
	const char *start = p, *end = p + n, *q;
	char *o0 = o, *olim = o + room;

	while (p < end && !e->done && olim - o >= 3) {
		size_t len, avail;
		int cr;

		if (e->line_start && e->in_body && e->lines < 0) {
			p = body_lines(e, p, end, &o, olim);
			if (p == end || olim - o < 3)
				break;
		}
		if (e->line_start && *p == '.')
			*o++ = '.';	/* RFC 1939 section 3: byte-stuff */
		e->line_start = 0;
		avail = (size_t)(olim - o);
		q = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((q != NULL ? q : end) - p);
		if (q == NULL || len + 2 > avail) {
			/* the line goes on past the input or the room */
			len = len < avail ? len : avail;
			memcpy(o, p, len);
			o += len;
			e->sent += len;
			e->line_len += len;
			if (len > 0)
				e->prev = p[len - 1];
			p += len;
			continue;
		}
		memcpy(o, p, len);
		o += len;
		e->line_len += len;
		cr = (len > 0 ? q[-1] : e->prev) == '\r';
		if (!cr) {
			*o++ = '\r';
			e->sent++;
		}
		*o++ = '\n';
		e->sent += len + 1;
		line_done(e, cr);
		p = q + 1;
	}
	*olen = (size_t)(o - o0);
	return (size_t)(p - start);
}

/* Convert [p, p + n) into the client's output; -1: the client is gone. */
static int
emit_out(struct emit *e, const struct md_out *out, const char *p, size_t n)
{
	while (n > 0 && !e->done) {
		size_t room, used, took;
		char *o = out->room(out->ctx, OUT_ROOM_MIN, &room);

		if (o == NULL)
			return -1;
		took = emit_some(e, p, n, o, room, &used);
		out->put(out->ctx, used);
		p += took;
		n -= took;
	}
	return 0;
}

/* The whole message has been converted: a last line without LF gets
   CRLF. */
static int
emit_end(struct emit *e, const struct md_out *out)
{
	size_t room;
	char *o;

	if (e->done || e->line_start)
		return 0;
	if ((o = out->room(out->ctx, 2, &room)) == NULL)
		return -1;
	memcpy(o, "\r\n", 2);
	out->put(out->ctx, 2);
	e->sent += 2;
	return 0;
}

/* The buffer RETR and TOP read into, kept for the session: many small
   RETRs must not each allocate. */
static char *
window_buf(struct maildrop *md, const char **why)
{
	if (md->b.win == NULL && (md->b.win = malloc(SEND_CHUNK)) == NULL)
		*why = "out of memory";
	return md->b.win;
}

/* Does the window hold the indexed bytes [from, to), proven? */
static int
window_has(const struct maildrop *md, uint64_t from, uint64_t to)
{
	const struct md_bufs *b = &md->b;

	return b->ok_to > b->ok_from && from >= b->ok_from && to <= b->ok_to;
}

/*
 * Read [from, to) and the indexed bytes after it, `ahead` in all, into
 * the window, then prove them: proven after the read, they are the bytes
 * indexed.  If something after [from, to) has changed, the window holds
 * [from, to) alone.  -1: [from, to) itself is not as indexed.
 */
static int
window_fill(struct maildrop *md, uint64_t from, uint64_t to, size_t ahead)
{
	struct md_bufs *b = &md->b;
	uint64_t end = md->ix.size - from > ahead ? from + ahead :
	    md->ix.size;
	ssize_t n;

	b->ok_from = b->ok_to = 0;
	if ((n = md_pread(md->f.fd, b->win, (size_t)(end - from),
	    from)) != (ssize_t)(end - from)) {
		if (n < 0)
			syslog(LOG_ERR, "read %s: %s", md->f.path,
			    strerror(errno));
		return -1;
	}
	if (!md_prove(md, from, end)) {
		if (!md_prove(md, from, to))
			return -1;
		end = to;
	}
	b->ok_from = from;
	b->ok_to = end;
	return 0;
}

enum md_status
maildrop_check(struct maildrop *md, unsigned n, long lines,
    const char **why)
{
	unsigned i = md->ix.first + n - 1;
	uint64_t from, to;
	/* TOP of a long message wants its head: do not read 256 KB */
	size_t ahead = lines < 0 ? SEND_CHUNK : TOP_FIRST_READ;
	enum md_status st;
	int ok;

	if ((st = md_persist_entries(md, why)) != MD_OK)
		return st;
	from = md->ix.msg[i].off;
	to = md_range_end(md, i);
	if (window_has(md, from, to))
		return MD_OK;
	if (to - from <= ahead) {
		if (window_buf(md, why) == NULL)
			return MD_TEMP;
		ok = window_fill(md, from, to, ahead) == 0;
	} else
		ok = md_prove(md, from, to);
	if (!ok) {
		syslog(LOG_NOTICE, "%s: message %u changed under the session",
		    md->f.path, n);
		*why = "mailbox was changed by another program; "
		    "please reconnect";
		return MD_TEMP;
	}
	return MD_OK;
}

/* The message from the window, which holds it proven. */
static enum md_status
send_window(struct maildrop *md, const struct md_msg *m, struct emit *e,
    const struct md_out *out)
{
	uint64_t off = m->off + m->sep_len;

	if (emit_out(e, out, md->b.win + (off - md->b.ok_from),
	    (size_t)(m->end - off)) != 0 || emit_end(e, out) != 0)
		return MD_CLIENT;
	return MD_OK;
}

/* A message longer than the window: read through it, chunk by chunk. */
static enum md_status
send_stream(struct maildrop *md, const struct md_msg *m, struct emit *e,
    const struct md_out *out, const char **why)
{
	uint64_t off = m->off + m->sep_len;
	/* TOP usually wants a header of a few KB: do not read 256 KB */
	size_t chunk = e->lines >= 0 ? TOP_FIRST_READ : SEND_CHUNK;

	if (window_buf(md, why) == NULL)
		return MD_TEMP;
	md->b.ok_from = md->b.ok_to = 0;	/* it is scratch space now */
	while (off < m->end && !e->done) {
		size_t want = m->end - off > chunk ? chunk :
		    (size_t)(m->end - off);

		chunk = SEND_CHUNK;
		if (md_pread(md->f.fd, md->b.win, want, off) !=
		    (ssize_t)want) {
			syslog(LOG_ERR, "%s shrank while a message was sent",
			    md->f.path);
			*why = "mailbox was changed by another program";
			return MD_TEMP;
		}
		if (emit_out(e, out, md->b.win, want) != 0)
			return MD_CLIENT;
		off += want;
	}
	return emit_end(e, out) != 0 ? MD_CLIENT : MD_OK;
}

enum md_status
maildrop_send(struct maildrop *md, unsigned n, long lines,
    const struct md_out *out, const char **why)
{
	unsigned i = md->ix.first + n - 1;
	const struct md_msg *m = &md->ix.msg[i];
	uint64_t to = md_range_end(md, i);
	struct emit e;
	enum md_status st;
	int streamed = !window_has(md, m->off, to);

	*why = NULL;
	memset(&e, 0, sizeof(e));
	e.line_start = 1;
	e.lines = lines;
	st = streamed ? send_stream(md, m, &e, out, why) :
	    send_window(md, m, &e, out);
	if (st == MD_OK && !e.done && e.sent != m->size)
		st = MD_TEMP;
	/* streamed: proven before the "+OK"; prove it again now it has
	   been read */
	if (st == MD_OK && streamed && !md_prove(md, m->off, to))
		st = MD_TEMP;
	if (st == MD_TEMP && *why == NULL) {
		syslog(LOG_ERR, "%s: message %u changed while it was sent",
		    md->f.path, n);
		*why = "mailbox was changed by another program";
	}
	return st;
}
