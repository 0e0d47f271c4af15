/*
 * authrec.h - the records between the pre-authentication process and
 * root: the whole interface an auditor of the privilege split reads.
 *
 * A record is a type octet, a payload length (2 octets, big-endian) and
 * the payload.  Text records hold NUL-separated fields, exactly as many
 * as the type has; anything else is refused by the reader, which root
 * runs on everything the front sends.
 *
 *   front -> root   READY  ""                 set up, chrooted, dropped
 *                   SETUP  reason             setup failed: root exits 2
 *                   PEER   address            from a PROXY header, once,
 *                                             before any credential
 *                   PASS   name, password     USER/PASS and AUTH PLAIN
 *                   PLAIN  authzid, name, password
 *                   APOP   name, digest
 *                   HANDOFF mode octet + pipelined bytes (after LOGIN)
 *   root -> front   HELLO  APOP timestamp or ""
 *                   VERDICT action, reply line
 */
#ifndef AUTHREC_H
#define AUTHREC_H

#include <stddef.h>

#include "params.h"

enum rec_type {
	REC_READY = 'R',
	REC_PEER = 'I',
	REC_SETUP = 'E',
	REC_PASS = 'U',
	REC_PLAIN = 'P',
	REC_APOP = 'A',
	REC_HANDOFF = 'H',
	REC_HELLO = 'G',
	REC_VERDICT = 'V'
};

/* VERDICT actions: the first octet of its first field. */
#define VERDICT_FAIL	'f'	/* print the reply, go on */
#define VERDICT_CLOSE	'c'	/* print the reply, end the session */
#define VERDICT_LOGIN	'l'	/* hand the client over to root */

/* HANDOFF modes: the front exits (root takes fd 0/1), or relays TLS. */
#define HANDOFF_FD	'f'
#define HANDOFF_RELAY	'r'

#define REC_FIELDS	3

struct authrec {
	int type;
	size_t len;			/* of data */
	char data[AUTHREC_MAX + 1];	/* NUL-terminated */
	int nfields;
	char *field[REC_FIELDS];
};

/* Send one record of n text fields; 0 or -1 (errno). */
int authrec_send(int fd, int type, const char *const *fields, int n);

/* Fill *r as authrec_recv would (for root's checks in one process). */
int authrec_make(struct authrec *r, int type, const char *const *fields,
    int n);

/* Send a HANDOFF: its mode and up to IN_BUF bytes read ahead. */
int authrec_send_handoff(int fd, int mode, const char *p, size_t n);

/*
 * Read one record, waiting at most timeout_ms in all (-1: forever).
 * Returns 1 with *r filled and checked, 0 at EOF before a record, -1
 * with *why: short, oversized, unknown type, wrong field count, a stray
 * NUL, or a timeout.  The buffer is wiped before each read.
 */
int authrec_recv(int fd, struct authrec *r, int timeout_ms,
    const char **why);

/* Wipe a record that held a secret. */
void authrec_wipe(struct authrec *r);

#endif
