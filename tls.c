/*
 * tls.c - OpenSSL on the superserver's descriptors, with timeouts.
 *
 * It loads each --tls-cert/--tls-key pair in a context of its own and
 * picks one by the client's SNI; ALPN allows "pop3" only.
 *
 * The descriptors are non-blocking (session.c sets them so), and every wait
 * for the peer is a poll() bounded by the session's autologout timer, the
 * handshake included, so a client that stalls mid-handshake cannot keep
 * a process around.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "params.h"
#include "tls.h"

const int tls_built = 1;

struct tls {
	SSL_CTX *ctx[TLS_PAIRS_MAX];	/* [0]: the default certificate */
	int n;
	SSL *ssl;
	int rfd, wfd;
	int active;
	char err[256];
};

static const char *
ssl_reason(struct tls *t, const char *what)
{
	unsigned long e = ERR_peek_error();	/* the first: the cause */
	char buf[200];

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		(void)snprintf(t->err, sizeof(t->err), "%s: %s", what, buf);
	} else
		(void)snprintf(t->err, sizeof(t->err), "%s", what);
	ERR_clear_error();
	return t->err;
}

/* Keys must not be encrypted: OpenSSL would prompt for the pass phrase
   on stderr and read it from stdin -- under inetd, the client. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* RFC 2595 section 7 and RFC 8314: ALPN "pop3", or none offered; a
   client that offers only others gets no_application_protocol. */
static int
alpn_pop3(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned inlen, void *arg)
{
	static const unsigned char pop3[] = "\x04pop3";
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, pop3, sizeof(pop3) - 1, in,
	    inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* SNI (RFC 6066 section 3): the first pair whose certificate names the
   host (SAN DNS names, wildcards, as X509_check_host matches them); no
   name or no match keeps the default, the first pair. */
static int
pick_certificate(SSL *ssl, int *alert, void *arg)
{
	struct tls *t = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void)alert;
	if (name == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	for (int i = 0; i < t->n; i++) {
		X509 *x = SSL_CTX_get0_certificate(t->ctx[i]);

		if (x != NULL && X509_check_host(x, name, 0, 0, NULL) == 1) {
			if (i > 0 && SSL_set_SSL_CTX(ssl, t->ctx[i]) == NULL)
				return SSL_TLSEXT_ERR_ALERT_FATAL;
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

/* One certificate and key in a context of their own; NULL and err. */
static SSL_CTX *
load_pair(struct tls *t, const char *cert, const char *key, char *err,
    size_t size)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		(void)snprintf(err, size, "%s",
		    ssl_reason(t, "cannot create a TLS context"));
		return NULL;
	}
	/* TLS 1.2 at least; no compression (CRIME), no renegotiation */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		(void)snprintf(err, size, "%s",
		    ssl_reason(t, "cannot require TLS 1.2"));
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* one session per process and a fresh ticket key in each: a
	   session ticket could never be used */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	(void)SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	/* after an SNI switch OpenSSL asks the new context's callback */
	SSL_CTX_set_alpn_select_cb(ctx, alpn_pop3, NULL);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		(void)snprintf(err, size, "certificate %s: not a PEM "
		    "certificate chain (%s)", cert, ssl_reason(t, "OpenSSL"));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_error()) ==
		    X509_R_KEY_VALUES_MISMATCH)
			(void)snprintf(err, size, "key %s does not "
			    "match certificate %s", key, cert);
		else
			(void)snprintf(err, size, "key %s: not an "
			    "unencrypted PEM private key (%s)", key,
			    ssl_reason(t, "OpenSSL"));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		(void)snprintf(err, size, "key %s does not match "
		    "certificate %s", key, cert);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static void
free_contexts(struct tls *t)
{
	for (int i = 0; i < t->n; i++)
		SSL_CTX_free(t->ctx[i]);
	t->n = 0;
}

struct tls *
tls_load(const char *const *cert, const char *const *key, int n,
    const char **why)
{
	static char err[300];
	struct tls *t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	for (; t->n < n && t->n < TLS_PAIRS_MAX; t->n++)
		if ((t->ctx[t->n] = load_pair(t, cert[t->n], key[t->n], err,
		    sizeof(err))) == NULL)
			goto fail;
	SSL_CTX_set_tlsext_servername_callback(t->ctx[0], pick_certificate);
	SSL_CTX_set_tlsext_servername_arg(t->ctx[0], t);
	return t;
fail:
	ERR_clear_error();
	*why = err;
	free_contexts(t);
	free(t);
	return NULL;
}

static long
ms_since(const struct timespec *start)
{
	struct timespec now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000L +
	    (now.tv_nsec - start->tv_nsec) / 1000000L;
}

/*
 * Wait until OpenSSL can go on after SSL_ERROR_WANT_READ/WRITE.
 * Returns 0, or -1 with errno ETIMEDOUT or the poll error.
 */
static int
wait_io(struct tls *t, int want, int timeout_ms, const struct timespec *t0)
{
	struct pollfd p;
	long left = timeout_ms - ms_since(t0);
	int r;

	if (timeout_ms == 0 || left <= 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	p.fd = want == SSL_ERROR_WANT_READ ? t->rfd : t->wfd;
	p.events = want == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
	p.revents = 0;
	while ((r = poll(&p, 1, (int)left)) < 0 && errno == EINTR)
		;
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

int
tls_start(struct tls *t, int rfd, int wfd, int timeout_ms, const char **why)
{
	struct timespec t0;
	int r, e;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	t->rfd = rfd;
	t->wfd = wfd;
	if ((t->ssl = SSL_new(t->ctx[0])) == NULL ||
	    SSL_set_rfd(t->ssl, rfd) != 1 || SSL_set_wfd(t->ssl, wfd) != 1) {
		*why = ssl_reason(t, "cannot set up TLS");
		return -1;
	}
	for (;;) {
		ERR_clear_error();
		if ((r = SSL_accept(t->ssl)) == 1)
			break;
		e = SSL_get_error(t->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			*why = ssl_reason(t, e == SSL_ERROR_SYSCALL ||
			    e == SSL_ERROR_ZERO_RETURN ?
			    "client closed the connection during the TLS "
			    "handshake" : "TLS handshake failed");
			return -1;
		}
		if (wait_io(t, e, timeout_ms, &t0) != 0) {
			*why = "TLS handshake timed out";
			return -1;
		}
	}
	t->active = 1;
	return 0;
}

ssize_t
tls_read(struct tls *t, void *buf, size_t len, int timeout_ms)
{
	struct timespec t0;
	int r, e;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	if (len > INT32_MAX)
		len = INT32_MAX;
	for (;;) {
		ERR_clear_error();
		if ((r = SSL_read(t->ssl, buf, (int)len)) > 0)
			return r;
		e = SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 &&
		    (errno == 0 || errno == ECONNRESET || errno == EPIPE))
			return 0;	/* EOF without close_notify */
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			syslog(LOG_INFO, "%s", ssl_reason(t, "TLS read"));
			errno = EIO;
			return -1;
		}
		if (wait_io(t, e, timeout_ms, &t0) != 0)
			return -1;
	}
}

ssize_t
tls_write(struct tls *t, const void *buf, size_t len, int timeout_ms)
{
	struct timespec t0;
	int r, e;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	if (len > INT32_MAX)
		len = INT32_MAX;
	for (;;) {
		ERR_clear_error();
		if ((r = SSL_write(t->ssl, buf, (int)len)) > 0)
			return r;
		e = SSL_get_error(t->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			if (e != SSL_ERROR_SYSCALL)
				syslog(LOG_INFO, "%s",
				    ssl_reason(t, "TLS write"));
			errno = EPIPE;
			return -1;
		}
		if (wait_io(t, e, timeout_ms, &t0) != 0)
			return -1;
	}
}

int
tls_pending(const struct tls *t)
{
	return t != NULL && t->active && SSL_pending(t->ssl) > 0;
}

int
tls_active(const struct tls *t)
{
	return t != NULL && t->active;
}

void
tls_end(struct tls *t)
{
	if (t == NULL)
		return;
	if (t->active)
		(void)SSL_shutdown(t->ssl);	/* best effort, no wait */
	SSL_free(t->ssl);
	free_contexts(t);
	free(t);
}
