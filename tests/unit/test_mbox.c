/*
 * tests/unit/test_mbox.c - the mbox scanner (mbox.c md_scan) against
 * byte fixtures: where each message begins and ends and the size RETR
 * will send (README "Maildrop", RFC 1939 section 11 on sizes).
 *
 * Each fixture is written to a file in a temp directory and scanned the
 * way an index pass scans it (md.h: md_new, md_open_file, md_proof_begin,
 * md_scan); the callback collects what the scanner reports.  Expected
 * offsets are the lengths of the fixture's own pieces, so they come
 * from the bytes, not from a second scanner.  Root-free.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "md.h"
#include "unit.h"

#define L(s)	((uint64_t)(sizeof(s) - 1))
#define MAXGOT	16

struct got {
	struct scan_msg m[MAXGOT];
	unsigned n;
	unsigned refuse_at;	/* the callback refuses message n (1-based) */
};

static char path[128];
static struct got *cur;		/* what collect() fills */

static int
collect(struct maildrop *md, const struct scan_msg *m)
{
	struct got *g = cur;

	(void)md;
	if (g->refuse_at != 0 && g->n + 1 == g->refuse_at)
		return -1;
	if (g->n < MAXGOT)
		g->m[g->n] = *m;
	g->n++;
	return 0;
}

static void
write_file(const char *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n || close(fd) != 0)
		abort();
}

/* Scan the n bytes at p; *g gets the messages. */
static enum md_status
scan(const char *p, size_t n, struct got *g, uint64_t *stop)
{
	struct md_config mc = { path, 0, 0, (gid_t)-1, 1, NULL };
	struct maildrop *md;
	const char *why = NULL;
	enum md_status st;
	uint64_t dummy;

	write_file(p, n);
	g->n = 0;
	cur = g;
	if ((st = md_new(&md, &mc, &why)) != MD_OK)
		return st;
	if ((st = md_open_file(md, &why)) == MD_OK &&
	    (st = md_proof_begin(md, &why)) == MD_OK)
		st = md_scan(md, 0, n, collect, stop != NULL ? stop : &dummy,
		    &why);
	maildrop_close(md);
	return st;
}

/* Message i of g is [off, end) with this From_ length and RETR size. */
static int
msg_is(const struct got *g, unsigned i, uint64_t off, uint64_t sep_len,
    uint64_t end, uint64_t size)
{
	const struct scan_msg *m = &g->m[i];

	if (i >= g->n || i >= MAXGOT)
		return 0;
	if (m->off == off && m->sep_len == sep_len && m->end == end &&
	    m->size == size && !m->hidden)
		return 1;
	printf("# message %u: off %llu sep %llu end %llu size %llu; want "
	    "%llu %llu %llu %llu\n", i, (unsigned long long)m->off,
	    (unsigned long long)m->sep_len, (unsigned long long)m->end,
	    (unsigned long long)m->size, (unsigned long long)off,
	    (unsigned long long)sep_len, (unsigned long long)end,
	    (unsigned long long)size);
	return 0;
}

/* ---- From_ lines, line ends, empty lines ---- */

#define F1	"From a@example.org Mon Jan  1 00:00:00 2024\n"
#define F2	"From b@example.org Mon Jan  1 00:00:01 2024\n"
#define H1	"Subject: one\n"
#define H2	"Subject: two\n"

static void
test_lf(void)
{
	static const char box[] = F1 H1 "\n" "body\n" "\n" F2 H2 "\n" "last";
	uint64_t m2 = L(F1 H1 "\n" "body\n" "\n");
	struct got g = { .n = 0 };

	CHECK(scan(box, L(box), &g, NULL) == MD_OK && g.n == 2 &&
	    msg_is(&g, 0, 0, L(F1), L(F1 H1 "\n" "body\n"),
	    L(H1) + 1 + 2 + L("body\n") + 1) &&
	    msg_is(&g, 1, m2, L(F2), L(box), L(H2) + 1 + 2 + L("last") + 2),
	    "LF: two messages; the empty line before From_ is the "
	    "separator's; a last line without LF is sent with CRLF");
}

static void
test_crlf(void)
{
#define CF1	"From a@example.org Mon Jan  1 00:00:00 2024\r\n"
#define CF2	"From b@example.org Mon Jan  1 00:00:01 2024\r\n"
	static const char box[] = CF1 "Subject: one\r\n" "\r\n" "body\r\n"
	    "\r\n" CF2 "Subject: two\r\n" "\r\n" "mixed\n" "\r\n";
	uint64_t m2 = L(CF1 "Subject: one\r\n" "\r\n" "body\r\n" "\r\n");
	struct got g = { .n = 0 };

	CHECK(scan(box, L(box), &g, NULL) == MD_OK && g.n == 2 &&
	    msg_is(&g, 0, 0, L(CF1), L(CF1 "Subject: one\r\n\r\nbody\r\n"),
	    L("Subject: one\r\n") + 2 + L("body\r\n")) &&
	    msg_is(&g, 1, m2, L(CF2), L(box) - 2,
	    L("Subject: two\r\n") + 2 + L("mixed\n") + 1),
	    "CRLF: a CRLF stays two octets, a bare LF becomes two, and the "
	    "CRLF empty line at the end of the file is the separator's");
}

static void
test_from_rules(void)
{
	static const char unquoted[] = F1 H1 "\n" "a\n" "From me, hello\n"
	    "\n" ">From quoted\n";
	static const char quoted[] = F1 H1 "\n" "a\n" "\n" ">From x y\n";
	static const char spaced[] = F1 H1 "\n" "a\n" "\n" "From  x\n" "\n"
	    "From \tx\n" "\n" "From \r\n" "\n" "From \n" "\n" "From\n";
	static const char six[] = F1 "\n" "a\n" "\n" "From x";
	struct got g = { .n = 0 };

	CHECK(scan(unquoted, L(unquoted), &g, NULL) == MD_OK && g.n == 1 &&
	    msg_is(&g, 0, 0, L(F1), L(unquoted), L(H1) + 1 + 2 + 3 +
	    L("From me, hello\n") + 1 + 2 + L(">From quoted\n") + 1),
	    "a From_ line not after an empty line is body; so is >From");
	CHECK(scan(quoted, L(quoted), &g, NULL) == MD_OK && g.n == 1 &&
	    msg_is(&g, 0, 0, L(F1), L(quoted),
	    L(H1) + 1 + 2 + 3 + 2 + L(">From x y\n") + 1),
	    ">From after an empty line is body, the empty line too");
	CHECK(scan(spaced, L(spaced), &g, NULL) == MD_OK && g.n == 1 &&
	    msg_is(&g, 0, 0, L(F1), L(spaced), L(H1) + 1 + 2 + 3 +
	    5 * 2 + L("From  x\n") + 1 + L("From \tx\n") + 1 +
	    L("From \r\n") + L("From \n") + 1 + L("From\n") + 1),
	    "\"From \" then a blank, CR or LF, or \"From\" alone, is no "
	    "From_ line");
	CHECK(scan(six, L(six), &g, NULL) == MD_OK && g.n == 2 &&
	    msg_is(&g, 0, 0, L(F1), L(F1 "\n" "a\n"), 2 + L("a\n") + 1) &&
	    msg_is(&g, 1, L(F1 "\n" "a\n" "\n"), 6, L(six), 0),
	    "\"From x\", six octets at the end of the file, is a From_ "
	    "line (a message with no header)");
}

static void
test_empty_lines(void)
{
	static const char many[] = F1 H1 "\n" "b\n" "\n" "\n" "\n" F2 "\n";
	static const char no_body[] = F1 H1 "\n" F2 H2 "\n" "x\n" "\n";
	static const char lead[] = "\n" F1 H1 "\n" "b\n";
	static const char header[] = "Subject: x\n" "\n" F1 H1 "\n" "b\n";
	uint64_t m2 = L(F1 H1 "\n" "b\n" "\n" "\n" "\n");
	struct got g = { .n = 0 };

	CHECK(scan(many, L(many), &g, NULL) == MD_OK && g.n == 2 &&
	    msg_is(&g, 0, 0, L(F1), m2 - 1, L(H1) + 1 + 2 + L("b\n") + 1 +
	    2 + 2) && msg_is(&g, 1, m2, L(F2), L(many) - 1, 0),
	    "of several empty lines before From_ only the last is the "
	    "separator's");
	CHECK(scan(no_body, L(no_body), &g, NULL) == MD_OK && g.n == 2 &&
	    msg_is(&g, 0, 0, L(F1), L(F1 H1), L(H1) + 1) &&
	    msg_is(&g, 1, L(F1 H1 "\n"), L(F2), L(no_body) - 1,
	    L(H2) + 1 + 2 + L("x\n") + 1),
	    "a header's empty line right before From_ is the separator; "
	    "the file's last empty line is too");
	CHECK(scan(lead, L(lead), &g, NULL) == MD_PERM,
	    "an empty line before the first From_ line: not an mbox");
	CHECK(scan(header, L(header), &g, NULL) == MD_PERM,
	    "a header line before the first From_ line: not an mbox");
}

/* ---- Content-Length ---- */

/* A message whose body holds an unquoted From_ line after an empty
   line, with Content-Length: value (a string). */
#define CL_BODY	"x\n" "\n" "From inside Mon Jan  1 00:00:00 2024\n" "y\n"

static unsigned
clen_msgs(const char *value, const char *nl, const char *after)
{
	char box[512];
	struct got g = { .n = 0 };
	int n;

	n = snprintf(box, sizeof(box), "%s" "Content-Length: %s%s" "%s" "%s"
	    "%s", F1, value, nl, nl, CL_BODY, after);
	if (n < 0 || (size_t)n >= sizeof(box) ||
	    scan(box, (size_t)n, &g, NULL) != MD_OK)
		return 0;
	return g.n;
}

static void
test_content_length(void)
{
	char exact[32], less[32], more[32], short2[32];
	unsigned long body = (unsigned long)L(CL_BODY);

	snprintf(exact, sizeof(exact), "%lu", body);
	snprintf(less, sizeof(less), "%lu", body - 1);
	snprintf(more, sizeof(more), "%lu", body + 1);
	snprintf(short2, sizeof(short2), "%lu", body - 2);
	CHECK(clen_msgs(exact, "\n", "") == 1,
	    "Content-Length ending on the end of the file is trusted");
	/* (one short ends on the last LF, read as the file's empty line) */
	CHECK(clen_msgs(more, "\n", "") == 2 &&
	    clen_msgs(short2, "\n", "") == 2,
	    "one octet past the end, or two short: ignored, the inner "
	    "From_ line starts a message");
	CHECK(clen_msgs(exact, "\n", "\n" F2 "z\n") == 2 &&
	    clen_msgs(less, "\n", "\n" F2 "z\n") == 3 &&
	    clen_msgs(more, "\n", "\n" F2 "z\n") == 3,
	    "Content-Length ending on an empty line and a From_ line is "
	    "trusted, one off is not");
	CHECK(clen_msgs(exact, "\n", "\n") == 1 &&
	    clen_msgs(exact, "\n", "\r\n") == 1 &&
	    clen_msgs(exact, "\n", "\nx") == 2,
	    "ending on the empty line (LF or CRLF) that ends the file is "
	    "trusted; on other bytes it is not");
	CHECK(clen_msgs("", "\r\n", "") == 2 &&
	    clen_msgs("\t ", "\r\n", "") == 2,
	    "an empty Content-Length is ignored");
	{
		char v[64];

		snprintf(v, sizeof(v), "%s \t", exact);
		CHECK(clen_msgs(v, "\n", "") == 1 &&
		    clen_msgs(v, "\r\n", "\r\n" F2) == 2,
		    "trailing blanks and CR after the value are not part of "
		    "it; CRLF separators count");
		snprintf(v, sizeof(v), "%0*lu", CLEN_DIGITS_MAX, body);
		CHECK(clen_msgs(v, "\n", "") == 1,
		    "%d digits (leading zeros) are read", CLEN_DIGITS_MAX);
		snprintf(v, sizeof(v), "%0*lu", CLEN_DIGITS_MAX + 1, body);
		CHECK(clen_msgs(v, "\n", "") == 2,
		    "%d digits are not a length", CLEN_DIGITS_MAX + 1);
		snprintf(v, sizeof(v), "+%s", exact);
		CHECK(clen_msgs(v, "\n", "") == 2 &&
		    clen_msgs("-1", "\n", "") == 2 &&
		    (snprintf(v, sizeof(v), "%sx", exact),
		    clen_msgs(v, "\n", "") == 2) &&
		    (snprintf(v, sizeof(v), "%s 1", exact),
		    clen_msgs(v, "\n", "") == 2),
		    "a sign, a trailing letter or a second number: ignored");
		CHECK(clen_msgs("9999999999999999999", "\n", "") == 2,
		    "a length past the end of the file is ignored");
	}
	{
		static const char lower[] = F1 "content-LENGTH:14\n" "\n"
		    "a\n" "\n" "From x y\n" "b\n";
		static const char in_body[] = F1 "\n" "Content-Length: 0\n"
		    "\n" "From x y\n";
		struct got g = { .n = 0 };

		CHECK(scan(lower, L(lower), &g, NULL) == MD_OK && g.n == 1,
		    "the field name in any case, no blank after the colon");
		CHECK(scan(in_body, L(in_body), &g, NULL) == MD_OK && g.n == 2,
		    "Content-Length in the body is not a header field");
	}
}

/* ---- the c-client pseudo-message ---- */

#define PSEUDO_FROM	"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n"
#define PSEUDO_SUBJ	"Subject: DON'T DELETE THIS MESSAGE -- FOLDER " \
			"INTERNAL DATA\n"

static int
hidden(const char *from, const char *subj, const char *imap, int *second)
{
	char box[512];
	struct got g = { .n = 0 };
	int n = snprintf(box, sizeof(box), "%s%s%s\nx\n\n%s%s%s\ny\n", from,
	    subj, imap, PSEUDO_FROM, PSEUDO_SUBJ, "X-IMAP: 1 2\n");

	if (n < 0 || (size_t)n >= sizeof(box) ||
	    scan(box, (size_t)n, &g, NULL) != MD_OK || g.n != 2)
		return -1;
	*second = g.m[1].hidden;
	return g.m[0].hidden;
}

static void
test_pseudo(void)
{
	int second = 1;

	CHECK(hidden(PSEUDO_FROM, PSEUDO_SUBJ, "X-IMAP: 1 2\n", &second) ==
	    1 && second == 0,
	    "the first message from MAILER-DAEMON with the Subject and "
	    "X-IMAP is hidden; the same later is not");
	CHECK(hidden(PSEUDO_FROM, PSEUDO_SUBJ, "X-IMAPbase: 1 2\n",
	    &second) == 1, "X-IMAPbase counts as X-IMAP");
	CHECK(hidden(PSEUDO_FROM, PSEUDO_SUBJ, "X-Other: 1\n", &second) ==
	    0 && hidden(PSEUDO_FROM, "Subject: hello\n", "X-IMAP: 1\n",
	    &second) == 0 && hidden(F1, PSEUDO_SUBJ, "X-IMAP: 1\n",
	    &second) == 0 && hidden(PSEUDO_FROM, "Subject: DON'T DELETE "
	    "THIS MESSAGE -- FOLDER INTERNAL DATA!\n", "X-IMAP: 1\n",
	    &second) == 0,
	    "any of the three missing: an ordinary message");
}

/* ---- the callback refusing, and buffer boundaries ---- */

static void
test_refuse(void)
{
	static const char box[] = F1 "\n" "a\n" "\n" F2 "\n" "b\n" "\n" F1
	    "\n" "c\n";
	struct got g = { .n = 0 };
	uint64_t stop = 0;

	g.refuse_at = 2;
	CHECK(scan(box, L(box), &g, &stop) == MD_OK && g.n == 1 &&
	    stop == L(F1 "\n" "a\n" "\n"),
	    "a refused message stops the scan at its From_ line");
	g.refuse_at = 0;
	CHECK(scan(box, L(box), &g, &stop) == MD_OK && g.n == 3 &&
	    stop == L(box), "else the scan stops at the end");
}

/* A big fixture: F1, then filler lines of 99 octets and LF, to make the
   From_ line of a second message start at `at`, then "x" without LF. */
static int
boundary_from(char *buf, uint64_t at)
{
	uint64_t fill_end = at - 1, off = L(F1);
	struct got g = { .n = 0 };
	uint64_t size = 0;

	memcpy(buf, F1, L(F1));
	while (off < fill_end) {
		uint64_t n = fill_end - off > 100 ? 100 : fill_end - off;

		memset(buf + off, 'f', n - 1);
		buf[off + n - 1] = '\n';
		size += n + 1;
		off += n;
	}
	buf[fill_end] = '\n';
	memcpy(buf + at, F2 "x", L(F2 "x"));
	if (scan(buf, at + L(F2 "x"), &g, NULL) != MD_OK || g.n != 2)
		return 0;
	return msg_is(&g, 0, 0, L(F1), fill_end, size) &&
	    msg_is(&g, 1, at, L(F2), at + L(F2 "x"), L("x") + 2);
}

static void
test_boundaries(void)
{
	static const uint64_t back[] = { 0, 1, 2, 5, 6, 7, HEAD_MIN - 1,
	    HEAD_MIN, HEAD_MIN + 1, L(F2) - 1, L(F2), L(F2) + 1 };
	size_t big = 3 * SCAN_BUF + 4096, bad = 0, i;
	char *buf = malloc(big);
	struct got g = { .n = 0 };
	uint64_t off;

	if (buf == NULL)
		abort();
	for (i = 0; i < sizeof(back) / sizeof(back[0]); i++)
		if (!boundary_from(buf, SCAN_BUF - back[i])) {
			printf("# From_ line at SCAN_BUF - %llu\n",
			    (unsigned long long)back[i]);
			bad++;
		}
	CHECK(bad == 0, "a From_ line starting 0 to %llu octets before the "
	    "end of a read is found", (unsigned long long)L(F2) + 1);
	/* one line of 3 MiB: the reads hold no LF at all */
	memcpy(buf, F1, L(F1));
	memset(buf + L(F1), 'h', big - L(F1) - 1);
	buf[big - 1] = '\n';
	CHECK(scan(buf, big, &g, NULL) == MD_OK && g.n == 1 &&
	    msg_is(&g, 0, 0, L(F1), big, big - L(F1) + 1),
	    "a line over three reads long is one line");
	/* a CRLF split by the end of the first read */
	memset(buf + L(F1), 'h', big - L(F1));
	buf[SCAN_BUF - 1] = '\r';
	buf[SCAN_BUF] = '\n';
	buf[big - 1] = '\n';
	CHECK(scan(buf, big, &g, NULL) == MD_OK && g.n == 1 &&
	    msg_is(&g, 0, 0, L(F1), big, big - L(F1) + 1),
	    "a CR at the end of a read and its LF in the next stay CRLF");
	/* a Content-Length header line near the end of the first read */
	off = SCAN_BUF - 10;
	memset(buf + L(F1), 'h', off - L(F1));
	buf[off - 1] = '\n';
	memcpy(buf + off, "Content-Length: 29\n\n", 20);
	memcpy(buf + off + 20, "a\n\nFrom inside 2024 x y z\nab\n", 29);
	memcpy(buf + off + 49, "\nFrom ok\n", 9);
	CHECK(scan(buf, off + 58, &g, NULL) == MD_OK && g.n == 2 &&
	    g.m[1].off == off + 50,
	    "a Content-Length line across the end of a read is read whole");
	free(buf);
}

int
main(void)
{
	char dir[96];

	(void)setvbuf(stdout, NULL, _IOLBF, 0);
	if (unit_tmpdir(dir, sizeof(dir), "test_mbox") != 0)
		return 1;
	snprintf(path, sizeof(path), "%s/mbox", dir);
	test_lf();
	test_crlf();
	test_from_rules();
	test_empty_lines();
	test_content_length();
	test_pseudo();
	test_refuse();
	test_boundaries();
	(void)unlink(path);
	(void)rmdir(dir);
	return unit_done();
}
