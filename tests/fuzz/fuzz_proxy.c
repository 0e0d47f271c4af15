/*
 * fuzz_proxy.c - the libFuzzer entry for the PROXY header parser and the
 * --proxy-from list parser (proxy.c).
 *
 * The input is a connection's first bytes.  proxy_parse must agree with
 * itself when the bytes arrive the way proxy.h says a reader feeds them
 * (want octets at a time), never ask for an octet past the header, and
 * accept only what fits the limits of params.h.  The same bytes, as a
 * string, are also a --proxy-from list.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct feed {
	const uint8_t *p;
	size_t left;
};

static ssize_t
feed_read(void *ctx, void *buf, size_t len)
{
	struct feed *f = ctx;

	if (len > f->left)
		len = f->left;
	if (len > 1)
		len = len / 2 + 1;	/* short reads, as a socket gives */
	memcpy(buf, f->p, len);
	f->p += len;
	f->left -= len;
	return (ssize_t)len;
}

static void
check_whole(const uint8_t *data, size_t size)
{
	struct proxy_header h, r;
	struct feed f = { data, size };
	const char *why = NULL;
	enum proxy_status st = proxy_parse(data, size, &h, &why);

	if (st == PROXY_OK && (h.size == 0 || h.size > size ||
	    h.size > PROXY_V2_MAX || (!h.local && h.addr[0] == '\0')))
		abort();
	if (st == PROXY_NEED_MORE && (h.want <= size ||
	    h.want > PROXY_V2_MAX))
		abort();
	if (st == PROXY_MALFORMED && why == NULL)
		abort();
	/* read through proxy_read: the same verdict on the same header */
	if (proxy_read(feed_read, &f, &r, &why) == PROXY_OK) {
		size_t used = size - f.left;

		if (used != r.size || proxy_parse(data, used, &h, &why) !=
		    PROXY_OK || h.local != r.local ||
		    strcmp(h.addr, r.addr) != 0)
			abort();
	} else if (st == PROXY_OK)
		abort();
}

static void
check_list(const uint8_t *data, size_t size)
{
	struct proxy_from pf;
	const char *why = NULL;
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (proxy_from_parse(s, &pf, &why) == 0) {
		if (pf.count == 0 || pf.count > PROXY_FROM_MAX)
			abort();
		for (size_t i = 0; i < pf.count; i++)
			if (pf.net[i].bits > 128)
				abort();
	} else if (why == NULL)
		abort();
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_whole(data, size);
	check_list(data, size);
	return 0;
}
