/*
 * tests/unit/test_retr.c - RETR and TOP through the maildrop, as emit.c
 * streams them
 * (maildrop_send): CRLF line ends and byte-stuffing (RFC 1939 section
 * 3), TOP's header and n body lines (section 7), a last line without
 * LF, and the reads a big message is sent in (SEND_CHUNK, TOP_FIRST_READ).
 *
 * Each fixture is one message, written to a file and opened as
 * --check-user opens a maildrop (maildrop.h; no lock, nothing written).
 * The small fixtures come with their expected bytes; the big ones are
 * checked against a line-by-line conversion here.  The session sends
 * ".\r\n" after what maildrop_send gave: the test parses that response
 * as a client would and wants the message's lines back.  Root-free.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "md.h"
#include "unit.h"

#define F1	"From a@example.org Mon Jan  1 00:00:00 2024\n"
#define L(s)	(sizeof(s) - 1)

static char path[128];

struct sink {
	char *p;
	size_t n, cap;
	unsigned calls;
	int fail;		/* the client is gone */
};

/* md_out's room: at least min octets (the buffer grows), or NULL when
   the client is gone */
static char *
sink_room(void *ctx, size_t min, size_t *len)
{
	struct sink *s = ctx;

	s->calls++;
	if (s->fail)
		return NULL;
	if (min > s->cap - s->n) {
		s->cap = s->n + min;
		if ((s->p = realloc(s->p, s->cap)) == NULL)
			abort();
	}
	*len = s->cap - s->n;
	return s->p + s->n;
}

static void
sink_put(void *ctx, size_t n)
{
	struct sink *s = ctx;

	if (n > s->cap - s->n)
		abort();
	s->n += n;
}

static void
write_file(const char *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n || close(fd) != 0)
		abort();
}

static struct maildrop *
open_box(const char *p, size_t n)
{
	struct md_config mc = { path, 0, 0, (gid_t)-1, 1, NULL };
	struct maildrop *md;
	const char *why = NULL;

	write_file(p, n);
	if (maildrop_open(&md, &mc, &why) != MD_OK) {
		printf("# maildrop_open: %s\n", why != NULL ? why : "?");
		return NULL;
	}
	return md;
}

/* Message 1 of the n bytes at p, sent with lines (-1: RETR) into s. */
static enum md_status
send1(const char *p, size_t n, long lines, struct sink *s, uint64_t *size)
{
	struct maildrop *md = open_box(p, n);
	const char *why = NULL;
	enum md_status st;

	s->n = 0;
	s->calls = 0;
	if (md == NULL)
		return MD_PERM;
	*size = maildrop_size(md, 1);
	if ((st = maildrop_check(md, 1, lines, &why)) == MD_OK)
		st = maildrop_send(md, 1, lines, &(struct md_out){ sink_room, sink_put, s }, &why);
	maildrop_close(md);
	return st;
}

/* RETR or TOP of the fixture sends exactly want. */
static int
sends(const char *box, size_t n, long lines, const char *want, size_t wn)
{
	struct sink s = { malloc(4 * n + 16), 0, 4 * n + 16, 0, 0 };
	uint64_t size;
	int r;

	if (s.p == NULL)
		abort();
	r = send1(box, n, lines, &s, &size) == MD_OK && s.n == wn &&
	    memcmp(s.p, want, wn) == 0;
	if (!r)
		printf("# sent %zu octets, want %zu\n", s.n, wn);
	free(s.p);
	return r;
}

#define SENDS(box, lines, want) sends(box, L(box), lines, want, L(want))

/*
 * The response as a client reads it (RFC 1939 section 3): lines up to
 * ".\r\n", a leading dot taken off.  Gives the octets of the lines
 * without their CRLF, each followed by "\n", or -1 when the terminator
 * is not exactly at the end or a line does not end in CRLF.
 */
static long
unstuff(const char *p, size_t n, char *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t e;

		if (nl == NULL || nl == p + i || nl[-1] != '\r')
			return -1;
		e = (size_t)(nl - p) - 1;	/* the CR */
		if (e - i == 1 && p[i] == '.')
			return e + 2 == n ? (long)o : -1;
		if (p[i] == '.')
			i++;
		memcpy(out + o, p + i, e - i);
		o += e - i;
		out[o++] = '\n';
		i = e + 2;
	}
	return -1;
}

/* ---- small fixtures, expected bytes written out ---- */

static void
test_line_ends(void)
{
	CHECK(SENDS(F1 "Subject: s\n" "\n" "a\n" "b\n", -1,
	    "Subject: s\r\n" "\r\n" "a\r\n" "b\r\n"),
	    "LF line ends are sent as CRLF");
	CHECK(SENDS(F1 "Subject: s\r\n" "\r\n" "a\r\n" "b\n" "c\r\n", -1,
	    "Subject: s\r\n" "\r\n" "a\r\n" "b\r\n" "c\r\n"),
	    "CRLF stays CRLF, once; mixed line ends each become CRLF");
	CHECK(SENDS(F1 "S: s\n" "\n" "a\r\r\n" "b\rc\n", -1,
	    "S: s\r\n" "\r\n" "a\r\r\n" "b\rc\r\n"),
	    "a CR not before the LF is data");
	CHECK(SENDS(F1 "S: s\n" "\n" "last", -1,
	    "S: s\r\n" "\r\n" "last\r\n") &&
	    SENDS(F1 "S: s\n" "\n" "last\r", -1,
	    "S: s\r\n" "\r\n" "last\r\r\n"),
	    "a last line without LF is ended with CRLF");
	CHECK(SENDS(F1 "S: s\n" "\n" "a\n" "\n" "\n" "b\n", -1,
	    "S: s\r\n" "\r\n" "a\r\n" "\r\n" "\r\n" "b\r\n"),
	    "empty lines in the body are sent");
	CHECK(SENDS(F1 "\n" "body\n", -1, "\r\n" "body\r\n"),
	    "an empty header is its empty line");
}

static void
test_stuffing(void)
{
	static const char box[] = F1 ".h: x\n" "\n" ".\n" "..\n" ".x\n"
	    "x.\n" " .\n" ".\r\n" ".";
	/* the lines of box without their line ends, as unstuff() gives */
	static const char lines[] = ".h: x\n" "\n" ".\n" "..\n" ".x\n"
	    "x.\n" " .\n" ".\n" ".\n";
	static const char want[] = "..h: x\r\n" "\r\n" "..\r\n" "...\r\n"
	    "..x\r\n" "x.\r\n" " .\r\n" "..\r\n" "..\r\n";
	struct sink s = { malloc(1024), 0, 1024, 0, 0 };
	char back[1024];
	uint64_t size = 0;

	if (s.p == NULL)
		abort();
	CHECK(SENDS(box, -1, want),
	    "a line starting with a dot gets another, in the header and the "
	    "body, the last line without LF too; no other dot does");
	CHECK(send1(box, L(box), -1, &s, &size) == MD_OK &&
	    size == L(want) - 6,
	    "the size RETR says counts the octets before byte-stuffing "
	    "(%llu)", (unsigned long long)size);
	memcpy(s.p + s.n, ".\r\n", 3);
	CHECK(unstuff(s.p, s.n + 3, back) == (long)L(lines) &&
	    memcmp(back, lines, L(lines)) == 0,
	    "with the session's \".\" the client reads the lines back and "
	    "the end exactly where it is");
	free(s.p);
}

static void
test_top(void)
{
	static const char box[] = F1 "A: 1\n" "B: 2\n" "\n" "one\n" "\n"
	    "three\n" "four";
	static const char crlf[] = F1 "A: 1\r\n" "\r\n" "one\r\n" "two\r\n";

	CHECK(SENDS(box, 0, "A: 1\r\n" "B: 2\r\n" "\r\n"),
	    "TOP n 0: the header and its empty line");
	CHECK(SENDS(box, 1, "A: 1\r\n" "B: 2\r\n" "\r\n" "one\r\n"),
	    "TOP n 1: and the first body line");
	CHECK(SENDS(box, 2, "A: 1\r\n" "B: 2\r\n" "\r\n" "one\r\n" "\r\n"),
	    "an empty body line counts as a line");
	CHECK(SENDS(box, 3, "A: 1\r\n" "B: 2\r\n" "\r\n" "one\r\n" "\r\n"
	    "three\r\n"), "TOP n 3: one line short of the whole body");
	CHECK(SENDS(box, 4, "A: 1\r\n" "B: 2\r\n" "\r\n" "one\r\n" "\r\n"
	    "three\r\n" "four\r\n") &&
	    SENDS(box, 5, "A: 1\r\n" "B: 2\r\n" "\r\n" "one\r\n" "\r\n"
	    "three\r\n" "four\r\n") &&
	    SENDS(box, LONG_MAX, "A: 1\r\n" "B: 2\r\n" "\r\n" "one\r\n"
	    "\r\n" "three\r\n" "four\r\n"),
	    "as many lines as the body has, or more: the whole message, the "
	    "last line without LF ended");
	CHECK(SENDS(crlf, 0, "A: 1\r\n" "\r\n") &&
	    SENDS(crlf, 1, "A: 1\r\n" "\r\n" "one\r\n"),
	    "a CRLF empty line ends the header too");
	CHECK(SENDS(F1 "A: 1\n" "B: 2", 0, "A: 1\r\n" "B: 2\r\n"),
	    "a message that is all header: TOP n 0 sends it all");
	CHECK(SENDS(F1 "\n" "x\n" "y\n", 0, "\r\n") &&
	    SENDS(F1 "\n" "x\n" "y\n", 1, "\r\n" "x\r\n"),
	    "an empty header: TOP n 0 is its empty line alone");
	CHECK(SENDS(F1 "A: 1\n" "\n" ".x\n" "y\n", 1,
	    "A: 1\r\n" "\r\n" "..x\r\n"), "TOP stuffs dots too");
}

static void
test_failures(void)
{
	static const char box[] = F1 "S: s\n" "\n" "body\n";
	struct sink s = { malloc(256), 0, 256, 0, 1 };
	struct maildrop *md;
	const char *why = NULL;
	uint64_t size;

	if (s.p == NULL)
		abort();
	CHECK(send1(box, L(box), -1, &s, &size) == MD_CLIENT &&
	    s.calls == 1, "a client gone is MD_CLIENT, after one request for room");
	s.fail = 0;
	CHECK((md = open_box(box, L(box))) != NULL &&
	    truncate(path, (off_t)L(box) - 2) == 0 &&
	    maildrop_send(md, 1, -1, &(struct md_out){ sink_room, sink_put, &s }, &why) == MD_TEMP &&
	    why != NULL, "a mailbox cut shorter under the session: MD_TEMP, "
	    "with a reason");
	maildrop_close(md);
	/* the index says one octet more than the bytes give: the size said
	   in "+OK n octets" would be a lie, so no "." may follow */
	CHECK((md = open_box(box, L(box))) != NULL &&
	    (md->ix.msg[md->ix.first].size++, 1) &&
	    maildrop_send(md, 1, -1, &(struct md_out){ sink_room, sink_put, &s }, &why) == MD_TEMP,
	    "RETR sending other than the size announced: MD_TEMP");
	maildrop_close(md);
	free(s.p);
}

/* ---- big messages: the reads' boundaries ---- */

/* RETR (lines < 0) or TOP of body b (n octets), one line at a time. */
static size_t
ref_send(const char *b, size_t n, long lines, char *out)
{
	size_t i = 0, o = 0;
	int in_body = 0;

	while (i < n) {
		const char *nl = memchr(b + i, '\n', n - i);
		size_t e = nl != NULL ? (size_t)(nl - b) + 1 : n, len = e - i;

		if (in_body && lines >= 0 && lines-- == 0)
			break;
		if (nl != NULL)
			len -= len >= 2 && b[e - 2] == '\r' ? 2 : 1;
		if (b[i] == '.')
			out[o++] = '.';
		memcpy(out + o, b + i, len);
		o += len;
		out[o++] = '\r';
		out[o++] = '\n';
		in_body |= len == 0;
		i = e;
	}
	return o;
}

/* Sends the message F1 + body as ref_send says, with lines. */
static int
big_sends(char *box, size_t n, long lines)
{
	size_t cap = 2 * n + 16;
	char *want = malloc(cap);
	struct sink s = { malloc(cap), 0, cap, 0, 0 };
	uint64_t size;
	size_t wn;
	int r;

	if (want == NULL || s.p == NULL)
		abort();
	wn = ref_send(box + L(F1), n - L(F1), lines, want);
	r = send1(box, n, lines, &s, &size) == MD_OK && s.n == wn &&
	    memcmp(s.p, want, wn) == 0;
	if (!r) {
		size_t d = 0;

		while (d < wn && d < s.n && s.p[d] == want[d])
			d++;
		printf("# lines %ld: sent %zu, want %zu, first difference at "
		    "%zu\n", lines, s.n, wn, d);
	}
	free(want);
	free(s.p);
	return r;
}

/* Fill [from, to) of box with lines of 'x' ending in LF (every 61st
   octet). */
static void
fill(char *box, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		box[i] = (i - from) % 61 == 60 ? '\n' : 'x';
}

static void
test_chunks(void)
{
	size_t n = 3 * SEND_CHUNK + 100, b = L(F1), bad = 0;
	char *box = malloc(n);
	static const char *const at_edge[] = {
		"\r\n",		/* CR ends a read, its LF starts the next */
		"\n.x\n",	/* a line to stuff starts a read */
		"\n..\n",
		"\n.\r\n",
	};

	if (box == NULL)
		abort();
	memcpy(box, F1, b);
	fill(box, b, n);
	box[b + 100] = '\n';	/* the header ends early */
	box[b + 101] = '\n';
	for (size_t k = 0; k < sizeof(at_edge) / sizeof(at_edge[0]); k++) {
		size_t len = strlen(at_edge[k]);

		fill(box, b + 102, n);
		/* around the first and the second read's end */
		for (size_t c = 1; c <= 2; c++) {
			size_t edge = b + c * SEND_CHUNK;

			memcpy(box + edge - 1, at_edge[k], len);
		}
		if (!big_sends(box, n, -1))
			bad++;
	}
	CHECK(bad == 0, "RETR: CRLF, dots and lines across the end of a "
	    "%d KiB read", SEND_CHUNK / 1024);
	/* the message ends exactly where a read ends, without LF */
	fill(box, b + 102, n);
	CHECK(big_sends(box, b + 2 * SEND_CHUNK, -1) &&
	    big_sends(box, b + 2 * SEND_CHUNK - 1, -1) &&
	    big_sends(box, b + 2 * SEND_CHUNK + 1, -1),
	    "RETR: a message ending at, before or after the end of a read");
	/* TOP's first, shorter read: the header's empty line across it */
	bad = 0;
	for (size_t back = 1; back <= 4; back++) {
		fill(box, b, n);
		memcpy(box + b + TOP_FIRST_READ - back, "\r\n\r\n", 4);
		bad += !big_sends(box, n, 0) + !big_sends(box, n, 3);
		fill(box, b, n);
		memcpy(box + b + TOP_FIRST_READ - back, "x\n\n", 3);
		bad += !big_sends(box, n, 0) + !big_sends(box, n, 1);
	}
	CHECK(bad == 0, "TOP: the header's empty line split by the end of "
	    "its first %d KiB read", TOP_FIRST_READ / 1024);
	/* TOP counting lines across reads */
	fill(box, b, n);
	box[b + 10] = '\n';
	box[b + 11] = '\n';
	bad = 0;
	for (long l = 4290; l < 4310; l++)	/* about SEND_CHUNK / 61 */
		bad += !big_sends(box, n, l);
	bad += !big_sends(box, n, 3 * SEND_CHUNK / 61 - 2);
	bad += !big_sends(box, n, 3 * SEND_CHUNK / 61 + 5);
	CHECK(bad == 0, "TOP: n lines counted across reads, up to the "
	    "whole message");
	free(box);
}

int
main(void)
{
	char dir[96];

	(void)setvbuf(stdout, NULL, _IOLBF, 0);
	if (unit_tmpdir(dir, sizeof(dir), "test_retr") != 0)
		return 1;
	snprintf(path, sizeof(path), "%s/mbox", dir);
	test_line_ends();
	test_stuffing();
	test_top();
	test_failures();
	test_chunks();
	(void)unlink(path);
	(void)rmdir(dir);
	return unit_done();
}
