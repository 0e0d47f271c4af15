/*
 * bench/gen.c - a seeded generator of realistic Unix mbox corpora.
 *
 *   gen SIZE SEED OUTFILE        SIZE: S, M, L, T (or E: an empty file)
 *
 * Writes OUTFILE and OUTFILE.manifest (key value lines: message count,
 * file size, the octets STAT must report (README "The mailbox", Sizes),
 * the octets of "TOP n 0" for every message, offsets of the first,
 * second and last messages).  The same SIZE and SEED give the same
 * bytes on every host: everything comes from one splitmix64 stream,
 * nothing from the clock.
 *
 * Messages have Received chains of 2-7 hops, text bodies of 1-20 KB
 * (log-uniform), some multipart messages with a base64 attachment (up to
 * about 10 MB), and body lines that start with "." (byte-stuffing) and
 * ">From " (mboxrd-quoted).  No body line starts with "From ".
 *
 * Speed: bodies are slices of a text pool and a base64 pool built once,
 * so generation is bound by write(2): ~1.2 GB in a few seconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUT_BUF		(8u << 20)
#define TEXT_LINES	120000u		/* ~7 MB of text pool */
#define B64_LINES	(16u << 20) / 77u	/* ~16 MB of base64 pool */
#define B64_LINE	76u

struct corpus {
	char name;
	unsigned messages;
	unsigned text_min, text_max;	/* body size range, log-uniform */
	double attach_p;		/* share of messages with an attachment */
	unsigned att_min, att_max;	/* base64 size range, log-uniform */
	int tiny;			/* minimal headers, 20-300 byte bodies */
};

static const struct corpus corpora[] = {
	{ 'E', 0, 0, 0, 0.0, 0, 0, 0 },
	{ 'S', 1000, 1024, 20480, 0.025, 4096, 10u << 20, 0 },
	{ 'M', 10000, 1024, 20480, 0.022, 4096, 10u << 20, 0 },
	{ 'L', 100000, 1024, 20480, 0.0030, 4096, 10u << 20, 0 },
	{ 'T', 200000, 20, 300, 0.0, 0, 0, 1 },
};

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned
rnd_below(unsigned n)
{
	return n == 0 ? 0 : (unsigned)(rnd() % n);
}

static double
rnd_unit(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

static unsigned
rnd_logu(unsigned lo, unsigned hi)
{
	return (unsigned)exp(log((double)lo) +
	    rnd_unit() * (log((double)hi) - log((double)lo)));
}

static const char *const words[] = {
	"the", "of", "and", "to", "in", "is", "that", "for", "it", "as",
	"was", "with", "be", "by", "on", "not", "he", "this", "are", "or",
	"his", "from", "at", "which", "but", "have", "an", "had", "they",
	"you", "were", "their", "one", "all", "we", "can", "her", "has",
	"there", "been", "if", "more", "when", "will", "would", "who", "so",
	"no", "meeting", "report", "server", "mailbox", "attached", "please",
	"review", "schedule", "budget", "quarter", "release", "version",
	"thanks", "regards", "tomorrow", "update", "question", "customer",
	"invoice", "project", "deadline", "draft", "comments", "agenda",
	"network", "backup", "install", "config", "problem", "solution",
	"monday", "friday", "office", "travel", "document", "contract",
	"figures", "numbers", "results", "testing", "upgrade", "kernel",
	"package", "debian", "mirror", "ticket", "support", "weekend",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static const char *const dows[] = { "Mon", "Tue", "Wed", "Thu", "Fri",
    "Sat", "Sun" };
static const char *const mons[] = { "Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

struct pool {
	char *buf;
	size_t len;
	size_t *line;		/* start offset of each line */
	unsigned nlines;
};

static struct pool text, b64;

struct out {
	int fd;
	char *buf;
	size_t len;
	uint64_t total;
};

static void
die(const char *what)
{
	(void)fprintf(stderr, "gen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
out_flush(struct out *o)
{
	size_t done = 0;

	while (done < o->len) {
		ssize_t n = write(o->fd, o->buf + done, o->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write");
		done += (size_t)n;
	}
	o->len = 0;
}

static void
out_put(struct out *o, const char *p, size_t n)
{
	while (n > 0) {
		size_t room = OUT_BUF - o->len, k = n < room ? n : room;
		memcpy(o->buf + o->len, p, k);
		o->len += k;
		o->total += k;
		p += k;
		n -= k;
		if (o->len == OUT_BUF)
			out_flush(o);
	}
}

/* The message being built: bytes and the count of LFs in them. */
struct msg {
	char *buf;
	size_t len, cap;
	uint64_t lines;
};

static void
msg_put(struct msg *m, const char *p, size_t n)
{
	if (m->len + n > m->cap) {
		size_t cap = m->cap ? m->cap : 65536;
		while (cap < m->len + n)
			cap *= 2;
		if ((m->buf = realloc(m->buf, cap)) == NULL)
			die("realloc");
		m->cap = cap;
	}
	memcpy(m->buf + m->len, p, n);
	m->len += n;
}

static void
msg_printf(struct msg *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
msg_printf(struct msg *m, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		die("header too long");
	msg_put(m, tmp, (size_t)n);
}

static void
pool_add_line(struct pool *p, const char *s, size_t n, size_t cap)
{
	if (p->len + n + 1 > cap)
		die("pool overflow");
	p->line[p->nlines++] = p->len;
	memcpy(p->buf + p->len, s, n);
	p->buf[p->len + n] = '\n';
	p->len += n + 1;
}

/* Lines of 30-76 characters of words; some start with ".", ">From "
   or are empty (paragraphs).  None starts with "From ". */
static void
build_text_pool(void)
{
	size_t cap = (size_t)TEXT_LINES * 80;
	char line[128];

	text.buf = malloc(cap);
	text.line = malloc(TEXT_LINES * sizeof(size_t));
	if (text.buf == NULL || text.line == NULL)
		die("malloc");
	for (unsigned i = 0; i < TEXT_LINES; i++) {
		unsigned kind = rnd_below(1000), want = 30 + rnd_below(47);
		size_t n = 0;

		if (kind < 60) {		/* paragraph break */
			pool_add_line(&text, "", 0, cap);
			continue;
		}
		if (kind < 64)			/* a line of one dot */
			n = (size_t)sprintf(line, ".");
		else if (kind < 72)		/* ".." and ". text" */
			n = (size_t)sprintf(line, "%s",
			    kind & 1 ? ".." : ". ");
		else if (kind < 76)		/* mboxrd-quoted From */
			n = (size_t)sprintf(line, ">From ");
		else if (kind < 78)
			n = (size_t)sprintf(line, ">>From the desk of ");
		while (n < want) {
			const char *w = words[rnd_below(NWORDS)];
			size_t wl = strlen(w);
			if (n + wl + 1 > want + 8)
				break;
			if (n > 0 && line[n - 1] != ' ' && line[n - 1] != '.')
				line[n++] = ' ';
			memcpy(line + n, w, wl);
			n += wl;
		}
		if (kind >= 900 && n < 100)
			line[n++] = '.';
		pool_add_line(&text, line, n, cap);
	}
}

static void
build_b64_pool(void)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t cap = (size_t)B64_LINES * (B64_LINE + 1);
	char line[B64_LINE];

	b64.buf = malloc(cap);
	b64.line = malloc(B64_LINES * sizeof(size_t));
	if (b64.buf == NULL || b64.line == NULL)
		die("malloc");
	for (unsigned i = 0; i < B64_LINES; i++) {
		for (unsigned j = 0; j < B64_LINE; j += 8) {
			uint64_t r = rnd();
			for (unsigned k = 0; k < 8 && j + k < B64_LINE; k++)
				line[j + k] = alpha[(r >> (6 * k)) & 63];
		}
		pool_add_line(&b64, line, B64_LINE, cap);
	}
}

/* Whole lines from a random place in the pool, at least `want` bytes
   (wrapping around at the pool's end). */
static void
put_slice(struct msg *m, const struct pool *p, size_t want)
{
	size_t start = p->line[rnd_below(p->nlines)];

	while (want > 0) {
		size_t stop = start + want, lo = 0, hi = p->nlines;

		if (stop >= p->len) {
			msg_put(m, p->buf + start, p->len - start);
			want -= want < p->len - start ? want : p->len - start;
			start = 0;
			continue;
		}
		/* the first line starting at or after `stop` */
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (p->line[mid] < stop)
				lo = mid + 1;
			else
				hi = mid;
		}
		stop = lo < p->nlines ? p->line[lo] : p->len;
		msg_put(m, p->buf + start, stop - start);
		want = 0;
	}
}

static void
date_strings(uint64_t t, char *ctime_s, size_t n1, char *rfc_s, size_t n2)
{
	/* a calendar-free date: fine for mail, cheap to make */
	unsigned day = (unsigned)(t / 86400), sec = (unsigned)(t % 86400);
	unsigned dow = day % 7, mon = (day / 28) % 12, mday = day % 28 + 1;
	unsigned year = 2015 + (unsigned)(day / 336) % 10;
	unsigned hh = sec / 3600, mm = sec / 60 % 60, ss = sec % 60;

	(void)snprintf(ctime_s, n1, "%s %s %2u %02u:%02u:%02u %u", dows[dow],
	    mons[mon], mday, hh, mm, ss, year);
	(void)snprintf(rfc_s, n2, "%s, %u %s %u %02u:%02u:%02u +0000",
	    dows[dow], mday, mons[mon], year, hh, mm, ss);
}

static uint64_t
count_lf(const char *p, size_t n)
{
	uint64_t c = 0;
	const char *e = p + n;

	while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		c++;
		p++;
	}
	return c;
}

struct manifest {
	uint64_t octets, top0, bytes;
	uint64_t first_off, second_off, last_off;
	uint64_t first_octets, last_octets, penult_off;
	uint64_t file_lf, dot_lines;	/* for the emit floor's output size */
	unsigned count, attachments;
};

static void
make_message(const struct corpus *c, unsigned idx, uint64_t *clock,
    struct msg *m, size_t *header_len)
{
	char ct[64], rfc[64], sender[96], subj[160];
	unsigned hops = c->tiny ? 1 : 2 + rnd_below(6);
	int attach = !c->tiny && rnd_unit() < c->attach_p;
	uint64_t id = rnd();
	size_t n = 0;

	*clock += 30 + rnd_below(3600);
	date_strings(*clock, ct, sizeof(ct), rfc, sizeof(rfc));
	(void)snprintf(sender, sizeof(sender), "%s.%s%u@example%u.%s",
	    words[rnd_below(NWORDS)], words[rnd_below(NWORDS)],
	    rnd_below(100), rnd_below(50), rnd_below(2) ? "com" : "net");
	while (n < 20 + rnd_below(40)) {
		const char *w = words[rnd_below(NWORDS)];
		n += (size_t)snprintf(subj + n, sizeof(subj) - n, "%s%s",
		    n ? " " : "", w);
	}
	m->len = 0;
	msg_printf(m, "From %s %s\n", sender, ct);
	msg_printf(m, "Return-Path: <%s>\n", sender);
	for (unsigned h = 0; h < hops; h++)
		msg_printf(m, "Received: from mx%u.example%u.net "
		    "(mx%u.example%u.net [192.0.2.%u])\n"
		    "\tby mail%u.example.org (Postfix) with ESMTPS id %08" PRIX64
		    "\n\tfor <user@example.org>; %s\n", rnd_below(9),
		    rnd_below(50), rnd_below(9), rnd_below(50),
		    1 + rnd_below(254), h, rnd() & 0xffffffffu, rfc);
	msg_printf(m, "Date: %s\nFrom: %s\nTo: user@example.org\n"
	    "Subject: %s\nMessage-ID: <%016" PRIx64 ".%u@example.org>\n",
	    rfc, sender, subj, id, idx);
	if (!c->tiny) {
		msg_printf(m, "MIME-Version: 1.0\n");
		if (rnd_below(3) == 0)
			msg_printf(m, "X-Mailer: Generator %u.%u\n",
			    rnd_below(9), rnd_below(20));
	}
	if (attach)
		msg_printf(m, "Content-Type: multipart/mixed; "
		    "boundary=\"=_b%016" PRIx64 "\"\n", id);
	else if (!c->tiny)
		msg_printf(m, "Content-Type: text/plain; charset=us-ascii\n");
	msg_put(m, "\n", 1);
	*header_len = m->len;
	if (attach) {
		unsigned att = rnd_logu(c->att_min, c->att_max);
		msg_printf(m, "This is a multi-part message in MIME format.\n"
		    "\n--=_b%016" PRIx64 "\nContent-Type: text/plain; "
		    "charset=us-ascii\n\n", id);
		put_slice(m, &text, rnd_logu(c->text_min, c->text_max));
		msg_printf(m, "\n--=_b%016" PRIx64 "\nContent-Type: "
		    "application/octet-stream; name=\"file%u.bin\"\n"
		    "Content-Transfer-Encoding: base64\nContent-Disposition: "
		    "attachment; filename=\"file%u.bin\"\n\n", id, idx, idx);
		put_slice(m, &b64, att);
		msg_printf(m, "\n--=_b%016" PRIx64 "--\n", id);
	} else if (c->tiny) {
		put_slice(m, &text, c->text_min +
		    rnd_below(c->text_max - c->text_min));
	} else
		put_slice(m, &text, rnd_logu(c->text_min, c->text_max));
	/* a body ending in an empty line would blur the separator */
	while (m->len > *header_len + 1 && m->buf[m->len - 2] == '\n')
		m->len--;
	if (m->len == *header_len + 1 && m->buf[m->len - 1] == '\n')
		m->len--;
	if (m->len == *header_len)
		msg_put(m, "ok\n", 3);
}

int
main(int argc, char **argv)
{
	const struct corpus *c = NULL;
	struct manifest mf;
	struct msg m = { NULL, 0, 0, 0 };
	struct out o;
	uint64_t clock, seed;
	char *end, path[4096];
	FILE *fp;

	if (argc != 4 || strlen(argv[1]) != 1) {
		(void)fprintf(stderr, "usage: gen S|M|L|T|E SEED OUTFILE\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(corpora) / sizeof(corpora[0]); i++)
		if (corpora[i].name == argv[1][0])
			c = &corpora[i];
	errno = 0;
	seed = strtoull(argv[2], &end, 10);
	if (c == NULL || errno != 0 || *end != '\0') {
		(void)fprintf(stderr, "gen: bad size or seed\n");
		return 2;
	}
	rng_state = seed * 0x100000001b3ULL ^ (uint64_t)c->name;
	build_text_pool();
	build_b64_pool();
	memset(&mf, 0, sizeof(mf));
	o.fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o.fd < 0)
		die(argv[3]);
	if ((o.buf = malloc(OUT_BUF)) == NULL)
		die("malloc");
	o.len = 0;
	o.total = 0;
	clock = 1500000000ULL + rnd_below(1u << 20);
	for (unsigned i = 0; i < c->messages; i++) {
		size_t hlen, fl;
		uint64_t octets, lines, hlines;

		make_message(c, i + 1, &clock, &m, &hlen);
		fl = (size_t)((char *)memchr(m.buf, '\n', m.len) - m.buf) + 1;
		/* STAT's sizes: the message without its From_ line, LF -> CRLF */
		lines = count_lf(m.buf + fl, m.len - fl);
		hlines = count_lf(m.buf + fl, hlen - fl);
		octets = (m.len - fl) + lines;
		if (i == 0)
			mf.first_octets = octets;
		if (i == 1)
			mf.second_off = o.total;
		mf.penult_off = mf.last_off;
		mf.last_off = o.total;
		mf.file_lf += lines + 2;	/* + From_ line + separator */
		for (const char *p = m.buf; (p = memmem(p, (size_t)(m.buf +
		    m.len - p), "\n.", 2)) != NULL; p += 2)
			mf.dot_lines++;
		mf.last_octets = octets;
		mf.octets += octets;
		mf.top0 += (hlen - fl) + hlines;
		mf.attachments += memmem(m.buf, hlen, "multipart/mixed", 15)
		    != NULL;
		out_put(&o, m.buf, m.len);
		out_put(&o, "\n", 1);	/* the separator's blank line */
		mf.count++;
	}
	out_flush(&o);
	if (fsync(o.fd) != 0 || close(o.fd) != 0)
		die(argv[3]);
	mf.bytes = o.total;
	(void)snprintf(path, sizeof(path), "%s.manifest", argv[3]);
	if ((fp = fopen(path, "w")) == NULL)
		die(path);
	(void)fprintf(fp, "corpus %c\nseed %" PRIu64 "\nmessages %u\n"
	    "bytes %" PRIu64 "\noctets %" PRIu64 "\ntop0_octets %" PRIu64
	    "\nattachments %u\nfirst_off %" PRIu64 "\nsecond_off %" PRIu64
	    "\nlast_off %" PRIu64 "\npenult_off %" PRIu64 "\nfirst_octets %"
	    PRIu64 "\nlast_octets %" PRIu64 "\nemit_octets %" PRIu64 "\n",
	    c->name, seed, mf.count, mf.bytes, mf.octets, mf.top0,
	    mf.attachments, mf.first_off, mf.second_off, mf.last_off,
	    mf.penult_off, mf.first_octets, mf.last_octets,
	    mf.bytes + mf.file_lf + mf.dot_lines);
	if (fclose(fp) != 0)
		die(path);
	return 0;
}
