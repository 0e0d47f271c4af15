/*
 * proxy.h - the PROXY protocol header and the --proxy-from peer list.
 *
 * proxy.c owns the parsing of HAProxy's PROXY protocol (v1, text; v2,
 * binary), as a load balancer or stunnel sends it before the first POP3
 * byte, and the list of networks allowed to send one.  It does no I/O:
 * the caller reads bytes and asks proxy_parse what they are.  The header
 * may only be read as the connection's first bytes, from a listed peer.
 *
 * Reading: proxy_read does it through a read function the caller gives.
 * By hand: start with an empty buffer; while proxy_parse answers
 * PROXY_NEED_MORE, read until the buffer holds h.want octets (never
 * more: h.want never passes the header's end, so no POP3 byte after it
 * is consumed), then call it again with the whole buffer.
 */
#ifndef PROXY_H
#define PROXY_H

#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "params.h"

enum proxy_status {
	PROXY_NEED_MORE,	/* read up to h->want octets, call again */
	PROXY_OK,		/* a whole, valid header of h->size octets */
	PROXY_MALFORMED		/* not a PROXY header: end the session */
};

struct proxy_header {
	size_t want;	/* PROXY_NEED_MORE: the octets to have in all */
	size_t size;	/* PROXY_OK: the header's octets */
	int local;	/* PROXY_OK: no client address carried (v1 UNKNOWN,
			   v2 LOCAL, AF_UNSPEC, AF_UNIX): keep the peer */
	char addr[INET6_ADDRSTRLEN];	/* PROXY_OK, !local: the client,
			   numeric; an IPv4-mapped IPv6 one as IPv4 */
};

/* What are the len octets of buf, the connection's first ones?  On
   PROXY_MALFORMED, *why (if why is not NULL) says why. */
enum proxy_status proxy_parse(const unsigned char *buf, size_t len,
    struct proxy_header *h, const char **why);

/* The whole header, read through the caller's read function (read(2)
   semantics: > 0 octets, at most len; 0 at EOF; -1 on error or
   timeout), never an octet past the header's end.  PROXY_OK, or
   PROXY_MALFORMED with *why (the connection ended or failed inside the
   header counts as malformed: "PROXY header cut short"). */
typedef ssize_t proxy_read_fn(void *ctx, void *buf, size_t len);
enum proxy_status proxy_read(proxy_read_fn *rd, void *ctx,
    struct proxy_header *h, const char **why);

/* The peers allowed to send a header, as IPv6 networks (IPv4 ones as
   ::ffff:a.b.c.d/96+n, so an IPv4-mapped peer matches them too). */
struct proxy_net {
	unsigned char addr[16];
	unsigned bits;
};

struct proxy_from {
	struct proxy_net net[PROXY_FROM_MAX];
	size_t count;
};

/* --proxy-from=CIDR[,CIDR...]: "192.0.2.0/24", "2001:db8::/32", or an
   address alone.  0, or -1 and *why: a bad item, host bits set under
   the prefix, too many networks. */
int proxy_from_parse(const char *list, struct proxy_from *pf,
    const char **why);

/* Is this peer (from getpeername) one of the listed networks?  Only
   AF_INET and AF_INET6 peers can be. */
int proxy_from_match(const struct proxy_from *pf, const struct sockaddr *sa,
    socklen_t len);

#endif
