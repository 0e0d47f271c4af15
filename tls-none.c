/*
 * tls-none.c - tls.h for a pop3d built with `make TLS=no`.
 *
 * For hosts where stunnel or the superserver does TLS: libssl is not
 * linked at all.  Certificates cannot be loaded, so pop3d refuses
 * --tls-cert/--tls at start-up (exit 2, one line) and, having no
 * certificate, never offers STLS (RFC 2595 section 4).  No session can
 * ever reach the other functions; they fail closed all the same.
 */
#include <errno.h>
#include <stddef.h>

#include "tls.h"

const int tls_built = 0;

struct tls *
tls_load(const char *const *cert, const char *const *key, int n,
    const char **why)
{
	(void)cert;
	(void)key;
	(void)n;
	*why = "--tls-cert, --tls-key and --tls: this pop3d was built "
	    "without TLS (make TLS=no); use stunnel for TLS";
	return NULL;
}

int
tls_start(struct tls *t, int rfd, int wfd, int timeout_ms, const char **why)
{
	(void)t;
	(void)rfd;
	(void)wfd;
	(void)timeout_ms;
	*why = "built without TLS";
	return -1;
}

/* No TLS session can exist: reading and writing one fails alike. */
static ssize_t
no_session(struct tls *t, int timeout_ms)
{
	(void)t;
	(void)timeout_ms;
	errno = ENOTSUP;
	return -1;
}

ssize_t
tls_read(struct tls *t, void *buf, size_t len, int timeout_ms)
{
	(void)buf;
	(void)len;
	return no_session(t, timeout_ms);
}

ssize_t
tls_write(struct tls *t, const void *buf, size_t len, int timeout_ms)
{
	(void)buf;
	(void)len;
	return no_session(t, timeout_ms);
}

int
tls_pending(const struct tls *t)
{
	(void)t;
	return 0;
}

int
tls_active(const struct tls *t)
{
	(void)t;
	return 0;
}

void
tls_end(struct tls *t)
{
	(void)t;
}
