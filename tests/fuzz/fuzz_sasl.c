/*
 * fuzz_sasl.c - the libFuzzer entry for SASL PLAIN's base64 and its
 * three parts (auth.c auth_plain_decode, RFC 4616 section 2, RFC 4648).
 *
 * The input is an AUTH PLAIN response line.  What is accepted must be
 * three NUL-separated parts inside the caller's buffer, and the parts
 * encoded again must decode to the same parts.  (OpenSSL's decoder takes
 * non-zero pad bits, "AAC=", which RFC 4648 section 3.5 allows; so the
 * response itself need not come back.)
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char raw[AUTH_PLAIN_MAX], raw2[AUTH_PLAIN_MAX], *b64;
	unsigned char again[AUTH_PLAIN_MAX * 2];
	const char *z = NULL, *c = NULL, *p = NULL, *z2, *c2, *p2;
	size_t n;

	if ((b64 = malloc(size + 1)) == NULL)
		abort();
	memcpy(b64, data, size);
	b64[size] = '\0';
	if (auth_plain_decode(b64, raw, &z, &c, &p) == 0) {
		if (z != raw || c <= z || p <= c + 1 || *c == '\0' ||
		    *p == '\0' || p >= raw + AUTH_PLAIN_MAX)
			abort();
		n = (size_t)(p - raw) + strlen(p);
		if (n >= AUTH_PLAIN_MAX || c[-1] != '\0' || p[-1] != '\0' ||
		    memchr(c, '\0', (size_t)(p - c - 1)) != NULL)
			abort();
		(void)EVP_EncodeBlock(again, (unsigned char *)raw, (int)n);
		if (auth_plain_decode((char *)again, raw2, &z2, &c2, &p2) !=
		    0 || strcmp(z, z2) != 0 || strcmp(c, c2) != 0 ||
		    strcmp(p, p2) != 0)
			abort();
	}
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(raw2, sizeof(raw2));
	free(b64);
	return 0;
}
