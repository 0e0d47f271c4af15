/*
 * tests/unit/test_auth.c - SASL PLAIN's response (auth.c
 * auth_plain_decode): base64 as RFC 4648 section 4 has it (the padding
 * of section 3.2, no character outside the alphabet, section 3.3), then
 * the three parts of RFC 4616 section 2, authzid NUL authcid NUL passwd.
 * Root-free: nothing here logs in.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth.h"
#include "unit.h"

static const char *z, *c, *p;
static char raw[AUTH_PLAIN_MAX];

static int
decodes(const char *b64, const char *wz, const char *wc, const char *wp)
{
	z = c = p = NULL;
	return auth_plain_decode(b64, raw, &z, &c, &p) == 0 &&
	    strcmp(z, wz) == 0 && strcmp(c, wc) == 0 && strcmp(p, wp) == 0;
}

static int
refused(const char *b64)
{
	z = c = p = NULL;
	return auth_plain_decode(b64, raw, &z, &c, &p) == -1;
}

/* The base64 of n octets at s. */
static const char *
b64(const void *s, size_t n)
{
	static unsigned char out[AUTH_PLAIN_MAX * 2];

	if (n * 4 / 3 + 4 >= sizeof(out))
		return "";
	(void)EVP_EncodeBlock(out, s, (int)n);
	return (const char *)out;
}

static void
test_parts(void)
{
	CHECK(decodes("AGFsaWNlAHNlY3JldA==", "", "alice", "secret"),
	    "\\0alice\\0secret: no authzid, authcid, passwd");
	CHECK(decodes(b64("admin\0alice\0pw", 14), "admin", "alice", "pw"),
	    "admin\\0alice\\0pw: an authzid too");
	CHECK(z == raw && c > z && p > c && c[-1] == '\0' && p[-1] == '\0',
	    "the parts point into the caller's buffer, NUL-ended");
	CHECK(refused(b64("alice", 5)) && refused(b64("\0alice", 6)) &&
	    refused(b64("a\0alice", 7)),
	    "fewer than two NULs: refused");
	CHECK(refused(b64("\0alice\0", 7)) && refused(b64("\0\0pw", 4)) &&
	    refused(b64("admin\0\0", 7)),
	    "an empty authcid or passwd: refused (RFC 4616 section 2)");
	CHECK(refused(b64("\0alice\0pw\0", 10)) &&
	    refused(b64("\0a\0b\0c", 7)), "more than two NULs: refused");
	CHECK(decodes(b64("\0alice\0p\xc3\xa4ss", 12), "", "alice",
	    "p\xc3\xa4ss"), "UTF-8 in the password passes through");
}

static void
test_padding(void)
{
	CHECK(decodes(b64("\0ab\0c", 5), "", "ab", "c") &&
	    decodes(b64("\0ab\0cd", 6), "", "ab", "cd") &&
	    decodes(b64("\0ab\0cde", 7), "", "ab", "cde"),
	    "two, one and no padding characters");
	CHECK(refused("AGFsaWNlAHNlY3JldA") && refused("AGFsaWNlAHNlY3JldA="),
	    "padding missing or short: refused (RFC 4648 section 3.2)");
	CHECK(refused("AGFsaWNlAHNlY3JldA===") &&
	    refused("AGFsaWNlAHNlY3JldA=====") &&
	    refused("AGFsaWNlAHNlY3JldA======") && refused("AGFsaWNlAHNlY==="),
	    "too much padding: refused");
	CHECK(refused("AGFsaWNlAHNlY3JldA==AAAA") &&
	    refused("AGFs=WNlAHNlY3JldA=="),
	    "padding inside the data: refused");
	CHECK(refused("") && refused("=") && refused("===="),
	    "empty, or padding alone: refused");
}

static void
test_alphabet(void)
{
	static const char *const bad[] = {
		"AGFsaWNlAHNlY3JldA=*", "AGFsaWNl*HNlY3JldA==",
		"AGFsaWNl_HNlY3JldA==",		/* base64url */
		"AGFsaWNl-HNlY3JldA==",
		"AGFsaWNl    AHNlY3JldA==",	/* blanks OpenSSL skips */
		"AGFsaWNlAHNlY3JldA==    ",
		"    AGFsaWNlAHNlY3JldA==",
		"AGFsaWNl\t\t\t\tAHNlY3JldA==",
		"AGFsaWNlAHNlY3JldA==\r\n\r\n",
		"AGFsaWNlAHNlY3JldA==-xyz",	/* '-': where OpenSSL stops */
		"AGFsaWNlAHNl-3JldA==",
		"AGFsaWNlAHNlY3JldA\xc3\xa4",
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!refused(bad[i])) {
			printf("# accepted: \"%s\"\n", bad[i]);
			n++;
		}
	CHECK(n == 0, "a character outside the base64 alphabet anywhere: "
	    "refused (RFC 4648 section 3.3), blanks and line ends too");
	CHECK(decodes(b64("\0+/\0?>", 6), "", "+/", "?>") &&
	    decodes(b64("\0\xfb\xff\0\xfe", 5), "", "\xfb\xff", "\xfe"),
	    "'+' and '/' are the alphabet's last two");
}

static void
test_lengths(void)
{
	char in[AUTH_PLAIN_MAX + 8], want[AUTH_PLAIN_MAX];
	size_t most = AUTH_PLAIN_MAX - 1;	/* and the NUL after it */

	/* \0 a...a \0 b...b: the longest that fits, and one octet more */
	memset(in, 'a', sizeof(in));
	in[0] = '\0';
	in[100] = '\0';
	memset(in + 101, 'b', sizeof(in) - 101);
	memcpy(want, in + 101, most - 101);
	want[most - 101] = '\0';
	CHECK(decodes(b64(in, most), "", in + 1, want),
	    "%zu octets decoded (%zu base64 characters): accepted", most,
	    strlen(b64(in, most)));
	CHECK(refused(b64(in, most + 1)) && refused(b64(in, most + 2)) &&
	    refused(b64(in, most + 3)),
	    "%d octets or more: refused, before decoding", AUTH_PLAIN_MAX);
	CHECK(decodes(b64("\0a\0b", 4), "", "a", "b"),
	    "the shortest, 4 octets");
}

int
main(void)
{
	test_parts();
	test_padding();
	test_alphabet();
	test_lengths();
	return unit_done();
}
