/*
 * proxy.c - the PROXY protocol header (v1 and v2) and --proxy-from.
 *
 * Owns the bytes a balancer or stunnel puts before the POP3 stream to
 * say who the client is, as HAProxy's "The PROXY protocol" defines them
 * (section 2.1 the text v1, section 2.2 the binary v2), and the list of
 * networks whose header is believed.  Pure functions: no I/O, no state,
 * nothing allocated; every length is checked before the octets under it
 * are looked at.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "proxy.h"

/* Section 2.2: the v2 signature, then version/command, family and a
   16-bit big-endian length, 16 octets in all. */
static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
#define V2_FIXED	16
static const char v1_sig[] = "PROXY ";
#define V1_SIG_LEN	(sizeof(v1_sig) - 1)
/* the shortest header of either version, "PROXY UNKNOWN\r\n": reading
   this much first never passes the end of a real one */
#define HEADER_MIN	15

/* Section 2.2: the address block sizes of AF_INET, AF_INET6, AF_UNIX. */
#define V2_INET_LEN	12
#define V2_INET6_LEN	36
#define V2_UNIX_LEN	216

static enum proxy_status
malformed(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return PROXY_MALFORMED;
}

static int
refuse(const char **why, const char *reason)
{
	(void)malformed(why, reason);
	return -1;
}

/* The client address as text; an IPv4-mapped IPv6 one as IPv4, as
   pop3d logs a dual-stack socket's IPv4 peers. */
static void
addr_text(int af, const unsigned char *a, struct proxy_header *h)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	if (af == AF_INET6 && memcmp(a, mapped, sizeof(mapped)) == 0) {
		af = AF_INET;
		a += sizeof(mapped);
	}
	/* cannot fail: the buffer fits any address of either family */
	(void)inet_ntop(af, a, h->addr, sizeof(h->addr));
}

/* ---- v1 ---- */

/* A decimal number up to max, without sign or leading zeros (a port,
   a prefix length): 0, or -1. */
static int
decimal(const char *s, unsigned long max, unsigned long *v)
{
	size_t n = strlen(s);

	*v = 0;
	if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		*v = *v * 10 + (unsigned long)(*s - '0');
	}
	return *v <= max ? 0 : -1;
}

/* Split line at single spaces into at most max fields; -1 on an empty
   field (two spaces, a leading or trailing one) or too many. */
static int
v1_fields(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		char *sp = strchr(p, ' ');

		if (*p == ' ' || *p == '\0' || n == max)
			return -1;
		f[n++] = p;
		if (sp == NULL)
			return n;
		*sp = '\0';
		p = sp + 1;
	}
}

/* "TCP4 src dst sport dport" or "TCP6 ...", after "PROXY ". */
static enum proxy_status
v1_inet(char *rest, struct proxy_header *h, const char **why)
{
	char *f[5];
	unsigned char src[16], dst[16];
	unsigned long port;
	int af;

	if (v1_fields(rest, f, 5) != 5)
		return malformed(why, "PROXY v1: wrong number of fields");
	if (strcmp(f[0], "TCP4") == 0)
		af = AF_INET;
	else if (strcmp(f[0], "TCP6") == 0)
		af = AF_INET6;
	else
		return malformed(why, "PROXY v1: unknown protocol");
	if (inet_pton(af, f[1], src) != 1 || inet_pton(af, f[2], dst) != 1)
		return malformed(why, "PROXY v1: bad address");
	if (decimal(f[3], 65535, &port) != 0 ||
	    decimal(f[4], 65535, &port) != 0)
		return malformed(why, "PROXY v1: bad port");
	addr_text(af, src, h);
	h->local = 0;
	return PROXY_OK;
}

/* A whole line of n octets, LF included. */
static enum proxy_status
v1_line(const unsigned char *buf, size_t n, struct proxy_header *h,
    const char **why)
{
	char line[PROXY_V1_MAX + 1];
	size_t body = n - 2;	/* without CRLF */

	if (n < HEADER_MIN || buf[n - 2] != '\r')
		return malformed(why, "PROXY v1: no CRLF at the end");
	if (memchr(buf, '\r', body) != NULL || memchr(buf, '\0', body) != NULL)
		return malformed(why, "PROXY v1: CR or NUL inside the line");
	memcpy(line, buf, body);
	line[body] = '\0';
	h->size = n;
	/* section 2.1: after UNKNOWN, anything up to CRLF is ignored */
	if (strcmp(line + V1_SIG_LEN, "UNKNOWN") == 0 ||
	    strncmp(line + V1_SIG_LEN, "UNKNOWN ", 8) == 0) {
		h->local = 1;
		h->addr[0] = '\0';
		return PROXY_OK;
	}
	return v1_inet(line + V1_SIG_LEN, h, why);
}

static enum proxy_status
v1_parse(const unsigned char *buf, size_t len, struct proxy_header *h,
    const char **why)
{
	size_t scan = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
	const unsigned char *lf = memchr(buf, '\n', scan);

	if (lf != NULL)
		return v1_line(buf, (size_t)(lf - buf) + 1, h, why);
	if (len >= PROXY_V1_MAX)
		return malformed(why, "PROXY v1: no end of line in 107 octets");
	/* v1 ends at LF: one octet at a time from here */
	h->want = len < HEADER_MIN ? HEADER_MIN : len + 1;
	return PROXY_NEED_MORE;
}

/* ---- v2 ---- */

/* Section 2.2.7: TLVs fill the rest exactly: type, 16-bit length,
   value.  None is needed, so each is only checked and skipped. */
static enum proxy_status
v2_tlvs(const unsigned char *p, size_t n, const char **why)
{
	while (n > 0) {
		size_t vlen;

		if (n < 3)
			return malformed(why, "PROXY v2: truncated TLV");
		vlen = (size_t)p[1] << 8 | p[2];
		if (vlen > n - 3)
			return malformed(why, "PROXY v2: TLV past the header");
		p += 3 + vlen;
		n -= 3 + vlen;
	}
	return PROXY_OK;
}

/* The 16 fixed octets: version 2, a known command, a stream family
   whose address block fits in hlen.  Its address block size, or -1. */
static long
v2_fixed(const unsigned char *buf, size_t hlen, const char **why)
{
	long alen;

	if ((buf[12] & 0xf0) != 0x20)
		return refuse(why, "PROXY v2: unknown version");
	if ((buf[12] & 0x0f) == 0x0)	/* LOCAL: the balancer's own */
		return 0;
	if ((buf[12] & 0x0f) != 0x1)
		return refuse(why, "PROXY v2: unknown command");
	switch (buf[13]) {
	case 0x00:	/* AF_UNSPEC: no address, keep the peer */
		return 0;
	case 0x11:	/* TCP over IPv4 */
		alen = V2_INET_LEN;
		break;
	case 0x21:	/* TCP over IPv6 */
		alen = V2_INET6_LEN;
		break;
	case 0x31:	/* a unix stream socket: no IP address to log */
		alen = V2_UNIX_LEN;
		break;
	default:
		return refuse(why, "PROXY v2: not a stream connection");
	}
	if (hlen < (size_t)alen)
		return refuse(why, "PROXY v2: address block too short");
	return alen;
}

/* The whole header is in buf: 16 checked octets, an address block of
   alen octets and TLVs to hlen. */
static enum proxy_status
v2_header(const unsigned char *buf, size_t hlen, size_t alen,
    struct proxy_header *h, const char **why)
{
	int proxied = (buf[12] & 0x0f) == 0x1 &&
	    (buf[13] == 0x11 || buf[13] == 0x21);

	h->size = V2_FIXED + hlen;
	h->local = 1;
	if (alen == 0)	/* LOCAL, AF_UNSPEC: whatever follows is ignored */
		return PROXY_OK;
	if (v2_tlvs(buf + V2_FIXED + alen, hlen - alen, why) != PROXY_OK)
		return PROXY_MALFORMED;
	if (proxied) {
		addr_text(buf[13] == 0x11 ? AF_INET : AF_INET6,
		    buf + V2_FIXED, h);
		h->local = 0;
	}
	return PROXY_OK;
}

/* Checked at 16 octets, so a bad header is refused before its body is
   read; then the body. */
static enum proxy_status
v2_parse(const unsigned char *buf, size_t len, struct proxy_header *h,
    const char **why)
{
	size_t hlen;
	long alen;

	if (len < V2_FIXED) {
		h->want = V2_FIXED;
		return PROXY_NEED_MORE;
	}
	hlen = (size_t)buf[14] << 8 | buf[15];
	if (hlen > PROXY_V2_MAX - V2_FIXED)
		return malformed(why, "PROXY v2: header too long");
	if ((alen = v2_fixed(buf, hlen, why)) == -1)
		return PROXY_MALFORMED;
	if (len < V2_FIXED + hlen) {
		h->want = V2_FIXED + hlen;
		return PROXY_NEED_MORE;
	}
	return v2_header(buf, hlen, (size_t)alen, h, why);
}

enum proxy_status
proxy_parse(const unsigned char *buf, size_t len, struct proxy_header *h,
    const char **why)
{
	size_t n1 = len < V1_SIG_LEN ? len : V1_SIG_LEN;
	size_t n2 = len < sizeof(v2_sig) ? len : sizeof(v2_sig);

	memset(h, 0, sizeof(*h));
	if (len > 0 && memcmp(buf, v2_sig, n2) == 0) {
		if (len < sizeof(v2_sig)) {
			h->want = len < HEADER_MIN ? HEADER_MIN : V2_FIXED;
			return PROXY_NEED_MORE;
		}
		return v2_parse(buf, len, h, why);
	}
	if (memcmp(buf, v1_sig, n1) == 0)
		return v1_parse(buf, len, h, why);
	return malformed(why, "not a PROXY protocol header");
}

enum proxy_status
proxy_read(proxy_read_fn *rd, void *ctx, struct proxy_header *h,
    const char **why)
{
	unsigned char buf[PROXY_V2_MAX];
	size_t have = 0;
	enum proxy_status st;

	while ((st = proxy_parse(buf, have, h, why)) == PROXY_NEED_MORE) {
		ssize_t n;

		/* cannot happen: want stays within both limits */
		if (h->want <= have || h->want > sizeof(buf))
			return malformed(why, "PROXY header parser lost");
		n = rd(ctx, buf + have, h->want - have);
		if (n <= 0)
			return malformed(why, "PROXY header cut short");
		if ((size_t)n > h->want - have)
			return malformed(why, "PROXY read past its length");
		have += (size_t)n;
	}
	return st;
}

/* ---- --proxy-from ---- */

static const unsigned char v4_mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Do a and b agree in their first bits bits? */
static int
prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));

	if (memcmp(a, b, whole) != 0)
		return 0;
	return rest == 0 || ((a[whole] ^ b[whole]) & mask) == 0;
}

static int
host_bits_clear(const struct proxy_net *net)
{
	unsigned i;

	for (i = net->bits; i < 128; i++)
		if (net->addr[i / 8] & (0x80 >> (i % 8)))
			return 0;
	return 1;
}

/* One "address[/bits]" item of item_len octets. */
static int
net_parse(const char *item, size_t item_len, struct proxy_net *net,
    const char **why)
{
	char text[INET6_ADDRSTRLEN + 4];
	char *slash;
	unsigned long bits;
	int v6;

	if (item_len == 0 || item_len >= sizeof(text))
		return refuse(why, "--proxy-from: an empty or overlong "
		    "network");
	memcpy(text, item, item_len);
	text[item_len] = '\0';
	if ((slash = strchr(text, '/')) != NULL)
		*slash++ = '\0';
	v6 = strchr(text, ':') != NULL;
	memset(net->addr, 0, sizeof(net->addr));
	if (!v6) {
		memcpy(net->addr, v4_mapped, sizeof(v4_mapped));
		if (inet_pton(AF_INET, text, net->addr + 12) != 1)
			return refuse(why, "--proxy-from: a bad IPv4 address");
	} else if (inet_pton(AF_INET6, text, net->addr) != 1)
		return refuse(why, "--proxy-from: a bad IPv6 address");
	bits = v6 ? 128 : 32;
	if (slash != NULL && decimal(slash, bits, &bits) != 0)
		return refuse(why, "--proxy-from: a bad prefix length");
	net->bits = (unsigned)bits + (v6 ? 0 : 96);
	/* 10.0.0.1/8 is a typo more often than a wish */
	if (!host_bits_clear(net))
		return refuse(why, "--proxy-from: host bits set after the "
		    "prefix");
	return 0;
}

int
proxy_from_parse(const char *list, struct proxy_from *pf, const char **why)
{
	const char *p = list;

	pf->count = 0;
	for (;;) {
		size_t n = strcspn(p, ",");

		if (pf->count == PROXY_FROM_MAX)
			return refuse(why, "--proxy-from: too many networks");
		if (net_parse(p, n, &pf->net[pf->count], why) != 0)
			return -1;
		pf->count++;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

int
proxy_from_match(const struct proxy_from *pf, const struct sockaddr *sa,
    socklen_t len)
{
	unsigned char a[16];
	size_t i;

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		memcpy(a, v4_mapped, sizeof(v4_mapped));
		memcpy(a + 12, &s4->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 &&
	    len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *)sa;

		memcpy(a, &s6->sin6_addr, 16);
	} else
		return 0;
	for (i = 0; i < pf->count; i++)
		if (prefix_equal(a, pf->net[i].addr, pf->net[i].bits))
			return 1;
	return 0;
}
