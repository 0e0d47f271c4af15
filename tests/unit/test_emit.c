/*
 * tests/unit/test_emit.c - emit.c (RETR and TOP) on mailboxes in a memfd,
 * against a byte-by-byte reading of RFC 1939 section 3.
 *
 * The output gets as little room as emit.c may ask for (OUT_ROOM_MIN,
 * plus a few bytes), so lines are cut at every place a full output buffer
 * can cut them: inside a line, between CR and LF, before a stuffed dot.
 * md_prove and md_pread are stand-ins that count their calls and can
 * refuse a range, so the reads and proofs a RETR costs are checked too.
 * Root-free.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "../../md.h"
#include "unit.h"

#define MAXMSG	8
#define BIG	(SEND_CHUNK + SEND_CHUNK / 2)	/* streamed, not windowed */

/* ---- stand-ins for what emit.c calls in the other maildrop files ---- */

static int preads, proofs;
static size_t pread_bytes;
static uint64_t bad_from = UINT64_MAX, bad_to = UINT64_MAX;

ssize_t
md_pread(int fd, void *buf, size_t len, uint64_t off)
{
	preads++;
	pread_bytes += len;
	return pread(fd, buf, len, (off_t)off);
}

/* The bytes [bad_from, bad_to) count as rewritten since login. */
int
md_prove(struct maildrop *md, uint64_t from, uint64_t to)
{
	(void)md;
	proofs++;
	return to <= bad_from || from >= bad_to;
}

/* The records are in memory from the start here. */
enum md_status
md_persist_entries(struct maildrop *md, const char **why)
{
	(void)md;
	(void)why;
	return MD_OK;
}

uint64_t
md_range_end(const struct maildrop *md, unsigned i)
{
	return i + 1 < md->ix.nmsg ? md->ix.msg[i + 1].off : md->ix.size;
}

/* ---- the mailbox ---- */

static char *file;
static size_t file_len;
static struct md_msg msgs[MAXMSG];
static struct maildrop *md;
static char path[] = "memfd";

static void
add(const char *p, size_t n)
{
	if ((file = realloc(file, file_len + n)) == NULL)
		abort();
	memcpy(file + file_len, p, n);
	file_len += n;
}

/* RFC 1939 section 3, one byte at a time; lines < 0: all of it. */
static size_t
reference(const char *p, size_t n, long lines, char *out, uint64_t *octets)
{
	size_t i = 0, o = 0;
	int in_body = 0;

	*octets = 0;
	while (i < n) {
		const char *lf = memchr(p + i, '\n', n - i);
		size_t j = lf != NULL ? (size_t)(lf - p) : n;
		int cr = lf != NULL && j > i && p[j - 1] == '\r';

		if (p[i] == '.')
			out[o++] = '.';
		memcpy(out + o, p + i, j - i);
		o += j - i;
		*octets += j - i;
		if (lf == NULL || !cr) {
			out[o++] = '\r';
			++*octets;
		}
		out[o++] = '\n';
		++*octets;
		if (in_body) {
			if (lines > 0 && --lines == 0)
				break;
		} else if (j - i - (size_t)cr == 0) {
			in_body = 1;
			if (lines == 0)
				break;
		}
		i = j + 1;
	}
	return o;
}

/* A message of `body` bytes: lines of len bytes (CR LF ends if crlf),
   every dot_every-th line starting with ".". */
static void
add_msg(unsigned k, size_t body, size_t len, int crlf, int dot_every,
    int no_final_lf)
{
	char *b = malloc(body + len + 2), line[256];
	const char *from = "From a@example.org Mon Jan  1 00:00:00 2024\n";
	const char *head = "Subject: test\n\n";
	size_t n = 0, l = 0;
	uint64_t octets;
	char *scratch;

	if (b == NULL)
		abort();
	while (n < body) {
		size_t w = len;

		for (size_t c = 0; c < w; c++)
			line[c] = (char)('a' + (l + c) % 26);
		if (dot_every > 0 && l % (size_t)dot_every == 0)
			line[0] = '.';
		if (crlf && w > 0)
			line[w - 1] = '\r';
		line[w] = '\n';
		memcpy(b + n, line, w + 1);
		n += w + 1;
		l++;
	}
	if (no_final_lf)
		n--;
	msgs[k].off = file_len;
	msgs[k].sep_len = strlen(from);
	add(from, strlen(from));
	add(head, strlen(head));
	add(b, n);
	msgs[k].end = file_len;
	add("\n", 1);
	if ((scratch = malloc(2 * (n + 64))) == NULL)
		abort();
	(void)reference(file + msgs[k].off + msgs[k].sep_len,
	    msgs[k].end - msgs[k].off - msgs[k].sep_len, -1, scratch, &octets);
	msgs[k].size = octets;
	free(scratch);
	free(b);
}

static void
open_mailbox(unsigned nmsg)
{
	int fd = memfd_create("mbox", 0);

	if (fd < 0 || write(fd, file, file_len) != (ssize_t)file_len ||
	    (md = calloc(1, sizeof(*md))) == NULL)
		abort();
	md->f.fd = fd;
	md->f.path = path;
	md->ix.msg = msgs;
	md->ix.nmsg = nmsg;
	md->ix.size = file_len;
}

static void
close_mailbox(void)
{
	(void)close(md->f.fd);
	free(md->b.win);
	free(md);
	free(file);
	file = NULL;
	file_len = 0;
	bad_from = bad_to = UINT64_MAX;
}

/* ---- the output: little room, a "client" that may go away ---- */

struct sink {
	char *p;
	size_t n, cap, slack;
	int gone;
};

static char *
sink_room(void *ctx, size_t min, size_t *len)
{
	struct sink *s = ctx;

	if (s->gone || s->n + min + s->slack > s->cap)
		return NULL;
	*len = min + s->slack;
	return s->p + s->n;
}

static void
sink_put(void *ctx, size_t n)
{
	((struct sink *)ctx)->n += n;
}

/* RETR (lines < 0) or TOP of message k equals the reference? */
static int
same(unsigned k, long lines, size_t slack)
{
	const struct md_msg *m = &msgs[k];
	size_t in = m->end - m->off - m->sep_len, wn;
	struct sink s = { NULL, 0, 2 * in + 3 * OUT_ROOM_MIN, slack, 0 };
	const struct md_out out = { sink_room, sink_put, &s };
	char *want = malloc(2 * in + 8);
	uint64_t octets;
	const char *why;
	int ok;

	if (want == NULL || (s.p = malloc(s.cap)) == NULL)
		abort();
	wn = reference(file + m->off + m->sep_len, in, lines, want, &octets);
	ok = maildrop_check(md, k + 1, lines, &why) == MD_OK &&
	    maildrop_send(md, k + 1, lines, &out, &why) == MD_OK &&
	    s.n == wn && memcmp(s.p, want, wn) == 0;
	free(want);
	free(s.p);
	return ok;
}

static void
test_cuts(const char *what, int crlf, int dot_every, int no_final_lf)
{
	static const size_t slacks[] = { 0, 1, 2, 3, 7, 61 };
	int right = 1;

	for (size_t len = 1; len <= 80 && right; len++) {
		add_msg(0, 3 * OUT_ROOM_MIN + len, len, crlf, dot_every, 0);
		add_msg(1, 2 * OUT_ROOM_MIN, len + 3, crlf, dot_every,
		    no_final_lf);
		open_mailbox(2);
		for (size_t s = 0; s < sizeof(slacks) / sizeof(*slacks); s++)
			right &= same(0, -1, slacks[s]) &&
			    same(1, -1, slacks[s]);
		if (!right)
			printf("# line length %zu\n", len);
		close_mailbox();
	}
	CHECK(right, "RETR in little room, %s: as RFC 1939 section 3", what);
}

static void
test_top(void)
{
	int right = 1;

	add_msg(0, 3 * OUT_ROOM_MIN, 9, 0, 2, 0);
	add_msg(1, 3 * OUT_ROOM_MIN, 9, 1, 3, 0);
	add_msg(2, BIG, 70, 0, 5, 0);
	open_mailbox(3);
	for (unsigned k = 0; k < 3; k++)
		for (long l = 0; l < 4; l++)
			right &= same(k, l, 0) && same(k, l, 5);
	right &= same(2, 1000000, 0) && same(2, 99999999, 0);
	CHECK(right, "TOP n 0..3 and more lines than there are, "
	    "windowed and streamed");
	close_mailbox();
}

/* Small messages after one another: one read and one proof for all. */
static void
test_window(void)
{
	for (unsigned k = 0; k < 5; k++)
		add_msg(k, 2000 + 100 * k, 40, k % 2, 7, 0);
	open_mailbox(5);
	preads = proofs = 0;
	CHECK(same(0, -1, 0) && same(1, -1, 0) && same(2, 0, 0) &&
	    same(3, -1, 0) && same(4, -1, 0) && same(1, -1, 0),
	    "RETR and TOP from the window: the bytes as indexed");
	CHECK(preads == 1 && proofs == 1,
	    "five messages read ahead: 1 read, 1 proof (%d, %d)", preads,
	    proofs);
	close_mailbox();
}

/* TOP reads ahead little: TOP n 0 of every message must not read each
   message whole. */
static void
test_top_reads(void)
{
	add_msg(0, 100 * 1024, 70, 0, 0, 0);
	for (unsigned k = 1; k < 6; k++)
		add_msg(k, 1000, 30, 0, 0, 0);
	open_mailbox(6);
	preads = proofs = 0;
	pread_bytes = 0;
	CHECK(same(0, 0, 0) && pread_bytes == TOP_FIRST_READ && proofs == 2,
	    "TOP n 0 of a 100 KB message: %zu bytes read, %d proofs",
	    pread_bytes, proofs);
	preads = proofs = 0;
	for (unsigned k = 1; k < 6; k++)
		CHECK(same(k, 0, 0) && same(k, 1, 0), "TOP %u 0, TOP %u 1",
		    k + 1, k + 1);
	CHECK(preads == 1 && proofs == 1,
	    "TOP of five small messages: 1 read, 1 proof (%d, %d)", preads,
	    proofs);
	close_mailbox();
}

/* A rewrite after the window's message: only that message is proven,
   the one after is read again and refused. */
static void
test_window_changed(void)
{
	const char *why;

	for (unsigned k = 0; k < 3; k++)
		add_msg(k, 3000, 50, 0, 0, 0);
	open_mailbox(3);
	bad_from = msgs[2].off + 100;
	bad_to = bad_from + 1;
	preads = proofs = 0;
	CHECK(same(0, -1, 0) && preads == 1 && proofs == 2,
	    "message 1 sent though message 3 changed");
	CHECK(same(1, -1, 0) && preads == 2,
	    "message 2 read again: the window held message 1 alone");
	CHECK(maildrop_check(md, 3, -1, &why) == MD_TEMP && why != NULL,
	    "message 3 refused before its +OK");
	close_mailbox();
}

/* Longer than the window: proven before, streamed, proven after. */
static void
test_stream(void)
{
	struct sink s = { NULL, 0, 4 * BIG, 0, 0 };
	const struct md_out out = { sink_room, sink_put, &s };
	const char *why;

	if ((s.p = malloc(s.cap)) == NULL)
		abort();
	add_msg(0, 100, 10, 0, 0, 0);
	add_msg(1, BIG, 60, 1, 11, 1);
	add_msg(2, 100, 10, 0, 0, 0);
	open_mailbox(3);
	preads = proofs = 0;
	CHECK(same(1, -1, 0) && same(1, -1, 3), "a long message streamed");
	CHECK(proofs == 4 && preads >= 4,
	    "proven before and after each time (%d proofs, %d reads)",
	    proofs, preads);
	CHECK(same(0, -1, 0) && same(2, -1, 0),
	    "the messages around it from the window");
	bad_from = msgs[1].off + BIG / 2;
	bad_to = bad_from + 1;
	CHECK(maildrop_check(md, 2, -1, &why) == MD_TEMP,
	    "a changed long message refused before its +OK");
	s.n = 0;
	CHECK(maildrop_send(md, 2, -1, &out, &why) == MD_TEMP &&
	    why != NULL, "... and cut when it changed while it was sent");
	bad_from = bad_to = UINT64_MAX;
	s.gone = 1;
	CHECK(maildrop_check(md, 2, -1, &why) == MD_OK &&
	    maildrop_send(md, 2, -1, &out, &why) == MD_CLIENT,
	    "a client gone mid-message ends the send");
	free(s.p);
	close_mailbox();
}

/* The file cut short under the session: refused, never half a window. */
static void
test_shrunk(void)
{
	const char *why;

	add_msg(0, 2000, 30, 0, 0, 0);
	add_msg(1, 2000, 30, 0, 0, 0);
	open_mailbox(2);
	if (ftruncate(md->f.fd, (off_t)(msgs[1].off + 10)) != 0)
		abort();
	CHECK(maildrop_check(md, 1, -1, &why) == MD_TEMP &&
	    maildrop_check(md, 2, -1, &why) == MD_TEMP,
	    "a file cut short: both messages refused");
	close_mailbox();
}

int
main(void)
{
	test_cuts("LF ends", 0, 0, 0);
	test_cuts("CR LF ends", 1, 0, 0);
	test_cuts("dots at line starts", 0, 1, 0);
	test_cuts("CR LF, every 3rd line a dot, no final LF", 1, 3, 1);
	test_top();
	test_window();
	test_top_reads();
	test_window_changed();
	test_stream();
	test_shrunk();
	return unit_done();
}
