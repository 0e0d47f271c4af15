/*
 * tests/unit/test_proxy.c - proxy.c against byte fixtures and mutations.
 *
 * Valid v1 and v2 headers for IPv4, IPv6, UNKNOWN and LOCAL; every
 * truncation of them asks for more without passing the header's end;
 * malformed ones (bad signature, version, family, lengths, TLVs, fields)
 * are refused; random mutations of all of them keep the invariants (run
 * it under ASan: make check).  Then --proxy-from parsing and matching.
 * UNIT_SEED=N repeats a mutation run.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../proxy.h"
#include "unit.h"

struct fixture {
	unsigned char b[PROXY_V2_MAX + 64];
	size_t len;
};

static struct fixture
v1n(const char *text, size_t len)
{
	struct fixture f;

	f.len = len;
	memcpy(f.b, text, f.len);
	return f;
}

static struct fixture
v1(const char *text)
{
	return v1n(text, strlen(text));
}

/* A v2 header: version/command, family, body of blen octets. */
static struct fixture
v2(unsigned char vercmd, unsigned char fam, const void *body, size_t blen)
{
	static const unsigned char sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00,
	    0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	struct fixture f;

	memcpy(f.b, sig, 12);
	f.b[12] = vercmd;
	f.b[13] = fam;
	f.b[14] = (unsigned char)(blen >> 8);
	f.b[15] = (unsigned char)blen;
	memcpy(f.b + 16, body, blen);
	f.len = 16 + blen;
	return f;
}

/* Feed f the way the front reads: h.want octets at a time. */
static enum proxy_status
feed(const struct fixture *f, struct proxy_header *h, const char **why)
{
	size_t have = 0;
	enum proxy_status st;

	for (;;) {
		st = proxy_parse(f->b, have, h, why);
		if (st != PROXY_NEED_MORE)
			return st;
		if (h->want <= have || h->want > f->len)
			return PROXY_NEED_MORE;	/* ran dry: a failure */
		have = h->want;
	}
}

/* proxy_read's source: the fixture, at most chunk octets a call; it
   records how far proxy_read read. */
struct source {
	const struct fixture *f;
	size_t at, chunk;
};

static ssize_t
source_read(void *ctx, void *buf, size_t len)
{
	struct source *src = ctx;
	size_t n = len < src->chunk ? len : src->chunk;

	if (n > src->f->len - src->at)
		n = src->f->len - src->at;
	memcpy(buf, src->f->b + src->at, n);
	src->at += n;
	return (ssize_t)n;
}

/* proxy_read gives what proxy_parse gave, reading 1, 7 or any octets a
   call, and stops at the header's end. */
static int
read_agrees(const struct fixture *f, size_t header, const char *addr)
{
	static const size_t chunks[] = { 1, 7, PROXY_V2_MAX };
	size_t i;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct source src = { f, 0, chunks[i] };
		struct proxy_header h;
		const char *why = NULL;

		if (proxy_read(source_read, &src, &h, &why) != PROXY_OK ||
		    src.at != header || h.size != header ||
		    strcmp(h.addr, addr) != 0)
			return 0;
	}
	return 1;
}

static void
valid(const char *name, struct fixture f, size_t extra, int local,
    const char *addr)
{
	struct proxy_header h;
	const char *why = NULL;
	size_t header = f.len, k;
	int prefixes_ok = 1;

	/* the POP3 bytes after the header must never be asked for */
	memcpy(f.b + f.len, "CAPA\r\n", extra);
	f.len += extra;
	CHECK(feed(&f, &h, &why) == PROXY_OK && h.size == header &&
	    h.local == local && strcmp(h.addr, addr) == 0,
	    "%s: ok, %zu octets, address \"%s\" (got \"%s\"%s%s)", name,
	    header, addr, h.addr, why ? ": " : "", why ? why : "");
	for (k = 0; k < header; k++) {
		enum proxy_status st = proxy_parse(f.b, k, &h, &why);

		if (st != PROXY_NEED_MORE || h.want <= k || h.want > header)
			prefixes_ok = 0;
	}
	CHECK(prefixes_ok, "%s: every truncation asks for more, never past "
	    "its end", name);
	CHECK(read_agrees(&f, header, addr), "%s: proxy_read reads it to its "
	    "end and no further", name);
}

static void
bad(const char *name, struct fixture f)
{
	struct proxy_header h;
	const char *why = NULL;
	enum proxy_status st;

	/* a whole bad header, plus bytes after it, as a client might send */
	memcpy(f.b + f.len, "\r\nCAPA\r\n", 8);
	st = proxy_parse(f.b, f.len, &h, &why);
	CHECK(st == PROXY_MALFORMED && why != NULL,
	    "%s: malformed (%s)", name, why ? why : "no reason");
	{
		struct source src = { &f, 0, 3 };

		why = NULL;
		CHECK(proxy_read(source_read, &src, &h, &why) ==
		    PROXY_MALFORMED && why != NULL && src.at <= f.len,
		    "%s: proxy_read refuses it (%s)", name, why ? why : "");
	}
}

static void
v1_fixtures(void)
{
	valid("v1 TCP4", v1("PROXY TCP4 192.0.2.1 198.51.100.2 56324 110\r\n"),
	    6, 0, "192.0.2.1");
	valid("v1 TCP6", v1("PROXY TCP6 2001:db8::1 2001:db8::2 1 110\r\n"),
	    6, 0, "2001:db8::1");
	valid("v1 TCP6 IPv4-mapped", v1("PROXY TCP6 ::ffff:192.0.2.9 ::1 "
	    "65535 0\r\n"), 0, 0, "192.0.2.9");
	valid("v1 UNKNOWN", v1("PROXY UNKNOWN\r\n"), 6, 1, "");
	valid("v1 UNKNOWN with addresses, 107 octets", v1("PROXY UNKNOWN "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
	    6, 1, "");
	bad("v1 108 octets", v1("PROXY UNKNOWN "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655350\r\n"));
	static const char *const bad_v1[][2] = {
		{ "v1 LF without CR",
		    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n" },
		{ "v1 CR inside",
		    "PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n" },
		{ "v1 two spaces",
		    "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n" },
		{ "v1 trailing space",
		    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n" },
		{ "v1 four fields",
		    "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n" },
		{ "v1 six fields",
		    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n" },
		{ "v1 IPv6 under TCP4",
		    "PROXY TCP4 ::1 ::1 1 2\r\n" },
		{ "v1 IPv4 under TCP6",
		    "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n" },
		{ "v1 octet over 255",
		    "PROXY TCP4 256.1.1.1 5.6.7.8 1 2\r\n" },
		{ "v1 port over 65535",
		    "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n" },
		{ "v1 port with a leading zero",
		    "PROXY TCP4 1.2.3.4 5.6.7.8 "
		    "01 2\r\n" },
		{ "v1 signed port",
		    "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n" },
		{ "v1 unknown protocol",
		    "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n" },
		{ "v1 lower case",
		    "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n" },
		{ "v1 UNKNOWNX",
		    "PROXY UNKNOWNX\r\n" },
		{ "v1 nothing after PROXY",
		    "PROXY \r\n" },
		{ "a POP3 command",
		    "USER alice\r\n" },
		{ "an HTTP request",
		    "GET / HTTP/1.0\r\n" },
		{ "TLS ClientHello",
		    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad_v1) / sizeof(bad_v1[0]); i++)
		bad(bad_v1[i][0], v1(bad_v1[i][1]));
	bad("v1 NUL inside", v1n("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\0\r\n", 33));
}

/* The connection ends inside a header: malformed, not a hang. */
static void
cut_short(void)
{
	struct fixture f = v1("PROXY TCP4 192.0.2.1 198.51.100.2 1 ");
	struct source src = { &f, 0, 5 };
	struct proxy_header h;
	const char *why = "";

	CHECK(proxy_read(source_read, &src, &h, &why) == PROXY_MALFORMED &&
	    strstr(why, "cut short") != NULL && src.at == f.len,
	    "proxy_read: EOF inside a header is malformed (%s)", why);
}

static void
v2_fixtures(void)
{
	unsigned char b[PROXY_V2_MAX];
	struct fixture f;

	memset(b, 0, sizeof(b));
	memcpy(b, "\xc0\x00\x02\x07\xc6\x33\x64\x02\xdc\x04\x00\x6e", 12);
	valid("v2 TCP4", v2(0x21, 0x11, b, 12), 6, 0, "192.0.2.7");
	/* ALPN "pop3", a NOOP of length 0, an authority */
	memcpy(b + 12, "\x01\x00\x04pop3\x04\x00\x00\x02\x00\x03" "a.b", 16);
	valid("v2 TCP4 with TLVs", v2(0x21, 0x11, b, 28), 6, 0, "192.0.2.7");
	bad("v2 TLV one octet short", v2(0x21, 0x11, b, 27));
	bad("v2 TLV header truncated", v2(0x21, 0x11, b, 14));
	memset(b, 0, sizeof(b));
	b[0] = 0x20, b[1] = 0x01, b[2] = 0x0d, b[3] = 0xb8, b[15] = 0x01;
	valid("v2 TCP6", v2(0x21, 0x21, b, 36), 6, 0, "2001:db8::1");
	memset(b, 0, 16);
	memcpy(b + 10, "\xff\xff\xc0\x00\x02\x63", 6);
	valid("v2 TCP6 IPv4-mapped", v2(0x21, 0x21, b, 36), 0, 0,
	    "192.0.2.99");
	valid("v2 LOCAL", v2(0x20, 0x00, b, 0), 6, 1, "");
	valid("v2 LOCAL with a body", v2(0x20, 0x11, b, 40), 6, 1, "");
	valid("v2 PROXY AF_UNSPEC", v2(0x21, 0x00, b, 0), 6, 1, "");
	valid("v2 PROXY AF_UNIX", v2(0x21, 0x31, b, 216), 6, 1, "");
	memset(b, 0, sizeof(b));
	memcpy(b, "\xc0\x00\x02\x07\xc6\x33\x64\x02\xdc\x04\x00\x6e", 12);
	b[14] = (PROXY_V2_MAX - 16 - 15) & 0xff;
	b[13] = (PROXY_V2_MAX - 16 - 15) >> 8;
	b[12] = 0x04;	/* NOOP TLV filling the header to the limit */
	valid("v2 at the length limit", v2(0x21, 0x11, b, PROXY_V2_MAX - 16),
	    6, 0, "192.0.2.7");
	f = v2(0x21, 0x11, b, PROXY_V2_MAX - 15);
	bad("v2 over the length limit", f);
	f.len = 16;
	bad("v2 over the length limit, seen from 16 octets", f);
	bad("v2 TCP4 block too short", v2(0x21, 0x11, b, 11));
	bad("v2 TCP6 block too short", v2(0x21, 0x21, b, 35));
	bad("v2 AF_UNIX block too short", v2(0x21, 0x31, b, 215));
	bad("v2 version 1", v2(0x11, 0x11, b, 12));
	bad("v2 version 3", v2(0x31, 0x11, b, 12));
	bad("v2 command 2", v2(0x22, 0x11, b, 12));
	bad("v2 UDP over IPv4", v2(0x21, 0x12, b, 12));
	bad("v2 UDP over IPv6", v2(0x21, 0x22, b, 36));
	bad("v2 family 4", v2(0x21, 0x41, b, 12));
	f = v2(0x11, 0x11, b, 500);
	f.len = 16;
	bad("v2 version 1, refused from its 16 fixed octets", f);
	f = v2(0x21, 0x12, b, 500);
	f.len = 16;
	bad("v2 UDP, refused from its 16 fixed octets", f);
	f = v2(0x21, 0x11, b, 12);
	f.b[7] ^= 0x01;
	bad("v2 signature off by one bit", f);
}

/* The invariants any input must keep. */
static int
sane(const unsigned char *b, size_t len)
{
	struct proxy_header h;
	const char *why = NULL;

	switch (proxy_parse(b, len, &h, &why)) {
	case PROXY_NEED_MORE:
		return h.want > len && h.want <= PROXY_V2_MAX;
	case PROXY_OK:
		return h.size <= len && h.size <= PROXY_V2_MAX &&
		    (h.local ? h.addr[0] == '\0' : h.addr[0] != '\0');
	case PROXY_MALFORMED:
		return why != NULL;
	}
	return 0;
}

static void
mutations(void)
{
	static const char *seeds[] = {
	    "PROXY TCP4 192.0.2.1 198.51.100.2 56324 110\r\n",
	    "PROXY TCP6 2001:db8::1 2001:db8::2 1 110\r\n",
	    "PROXY UNKNOWN\r\n" };
	unsigned char b[PROXY_V2_MAX + 64], body[64];
	const char *env = getenv("UNIT_SEED");
	unsigned seed = env != NULL ? (unsigned)strtoul(env, NULL, 10) :
	    (unsigned)getpid();
	long i, broken = 0, rounds = 200000;

	memset(body, 0, sizeof(body));
	memcpy(body, "\xc0\x00\x02\x07\xc6\x33\x64\x02\xdc\x04\x00\x6e"
	    "\x01\x00\x04pop3", 19);
	srandom(seed);
	for (i = 0; i < rounds; i++) {
		struct fixture f;
		size_t len, n, k = (size_t)random() % 5;

		if (k < 3)
			f = v1(seeds[k]);
		else
			f = v2(0x21, k == 3 ? 0x11 : 0x21, body,
			    k == 3 ? 19 : 36);
		memcpy(b, f.b, f.len);
		len = f.len;
		for (n = (size_t)random() % 4 + 1; n > 0; n--) {
			size_t at = (size_t)random() % len;

			switch (random() % 3) {
			case 0:	/* a random octet */
				b[at] = (unsigned char)random();
				break;
			case 1:	/* cut */
				len = at + 1;
				break;
			default:	/* random octets appended */
				for (k = (size_t)random() % 32; k > 0 &&
				    len < sizeof(b); k--)
					b[len++] = (unsigned char)random();
			}
		}
		broken += !sane(b, len);
	}
	for (i = 0; i < rounds; i++) {	/* plain garbage */
		size_t len = (size_t)random() % sizeof(b), k;

		for (k = 0; k < len; k++)
			b[k] = (unsigned char)random();
		broken += !sane(b, len);
	}
	CHECK(broken == 0, "%ld random mutations and garbage inputs keep the "
	    "invariants (UNIT_SEED=%u; %ld broke them)", 2 * rounds, seed,
	    broken);
}

/* Does this peer (IPv4 or IPv6 text) match pf? */
static int
match(const struct proxy_from *pf, const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return proxy_from_match(pf, (struct sockaddr *)s4,
		    sizeof(*s4));
	}
	if (inet_pton(AF_INET6, text, &s6->sin6_addr) != 1)
		abort();
	s6->sin6_family = AF_INET6;
	return proxy_from_match(pf, (struct sockaddr *)s6, sizeof(*s6));
}

static void
from_bad(const char *list)
{
	struct proxy_from pf;
	const char *why = NULL;

	CHECK(proxy_from_parse(list, &pf, &why) == -1 && why != NULL,
	    "--proxy-from=\"%s\" refused (%s)", list, why ? why : "");
}

static void
proxy_from(void)
{
	struct proxy_from pf;
	struct sockaddr_un su;
	const char *why = NULL;
	char many[40 * (PROXY_FROM_MAX + 1)] = "";
	int i;

	CHECK(proxy_from_parse("192.0.2.0/24,2001:db8::/32,10.1.2.3", &pf,
	    &why) == 0 && pf.count == 3, "--proxy-from with three networks");
	CHECK(match(&pf, "192.0.2.77") && match(&pf, "10.1.2.3") &&
	    match(&pf, "2001:db8:1::5") && match(&pf, "::ffff:192.0.2.1") &&
	    match(&pf, "::ffff:10.1.2.3"), "listed peers match, IPv4-mapped "
	    "ones too");
	CHECK(!match(&pf, "192.0.3.1") && !match(&pf, "10.1.2.4") &&
	    !match(&pf, "2001:db9::1") && !match(&pf, "::ffff:192.0.3.1") &&
	    !match(&pf, "::1"), "other peers do not");
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	CHECK(!proxy_from_match(&pf, (struct sockaddr *)&su, sizeof(su)),
	    "a unix socket peer never matches");
	CHECK(!proxy_from_match(&pf, (struct sockaddr *)&su, 4),
	    "a short sockaddr never matches");
	CHECK(proxy_from_parse("0.0.0.0/0", &pf, &why) == 0 &&
	    match(&pf, "203.0.113.5") && match(&pf, "::ffff:203.0.113.5") &&
	    !match(&pf, "2001:db8::1"), "0.0.0.0/0 is every IPv4 peer only");
	CHECK(proxy_from_parse("::1,127.0.0.1/32", &pf, &why) == 0 &&
	    match(&pf, "::1") && match(&pf, "127.0.0.1") &&
	    !match(&pf, "127.0.0.2"), "host addresses");
	from_bad("");
	from_bad(",");
	from_bad("192.0.2.0/24,");
	from_bad("192.0.2.0/24,,10.0.0.0/8");
	from_bad("1.2.3.4/33");
	from_bad("1.2.3.4/");
	from_bad("1.2.3.0/024");
	from_bad("1.2.3.0/-1");
	from_bad("10.0.0.1/8");
	from_bad("::1/129");
	from_bad("2001:db8::1/64");
	from_bad("a.b.c.d");
	from_bad("1.2.3");
	from_bad("192.0.2.0 /24");
	from_bad("2001:db8::/32/1");
	for (i = 0; i <= PROXY_FROM_MAX; i++)
		sprintf(many + strlen(many), "%s10.0.%d.0/24", i ? "," : "", i);
	from_bad(many);
	many[strrchr(many, ',') - many] = '\0';
	CHECK(proxy_from_parse(many, &pf, &why) == 0 &&
	    pf.count == PROXY_FROM_MAX, "%d networks are allowed",
	    PROXY_FROM_MAX);
}

int
main(void)
{
	v1_fixtures();
	v2_fixtures();
	cut_short();
	mutations();
	proxy_from();
	return unit_done();
}
