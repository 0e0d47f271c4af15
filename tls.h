/*
 * tls.h - TLS on the two descriptors a superserver gives us.
 *
 * tls.c wraps OpenSSL: it loads the certificates at startup (SNI picks
 * one, ALPN "pop3" only), runs the
 * server handshake (STLS, RFC 2595, or implicit TLS, RFC 8314) over fd 0
 * for reading and fd 1 for writing, and reads and writes records with the
 * same timeout rules as the plain channel in chan.c.  tls-none.c, chosen
 * by `make TLS=no`, implements the same calls without libssl: tls_load
 * always fails there.
 */
#ifndef TLS_H
#define TLS_H

#include <sys/types.h>

struct tls;

/* 1 in tls.c; 0 in tls-none.c, where TLS options are refused. */
extern const int tls_built;

/* Load and check n certificate and key pairs (at most TLS_PAIRS_MAX),
   the first the default, the others chosen by SNI; NULL and *why on
   failure. */
struct tls *tls_load(const char *const *cert, const char *const *key,
    int n, const char **why);

/* Server handshake, bounded by timeout_ms overall; 0 or -1 with *why. */
int tls_start(struct tls *t, int rfd, int wfd, int timeout_ms,
    const char **why);

/* > 0 bytes, 0 at the peer's EOF, -1 on error or timeout (errno
   ETIMEDOUT).  A timeout_ms of 0 does not wait. */
ssize_t tls_read(struct tls *t, void *buf, size_t len, int timeout_ms);
ssize_t tls_write(struct tls *t, const void *buf, size_t len,
    int timeout_ms);

/* Does OpenSSL hold decrypted bytes not read yet (poll cannot see)? */
int tls_pending(const struct tls *t);

/* Is a TLS session running (after a successful tls_start)? */
int tls_active(const struct tls *t);

/* Send close_notify if we can, free everything. */
void tls_end(struct tls *t);

#endif
