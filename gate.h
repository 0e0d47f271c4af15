/*
 * gate.h - root's side of AUTHORIZATION: credential records in, verdicts
 * out.  The front only parses; every decision is made here.
 */
#ifndef GATE_H
#define GATE_H

#include <time.h>

#include "auth.h"
#include "authrec.h"
#include "params.h"
#include "options.h"

#define GATE_TIMESTAMP_MAX	128
#define GATE_REPLY_MAX		256

struct gate {
	const struct config *cfg;
	char peer[PEER_TEXT_MAX];	/* as logged and penalised */
	int peer_set;		/* a PEER came, or a credential: no more */
	int penalty_off;	/* the penalty state failed: logged once */
	char timestamp[GATE_TIMESTAMP_MAX];	/* APOP's, or "" */
	int fails;
	struct timespec deadline;	/* end of --login-timeout */
};

enum gate_result { GATE_FAIL, GATE_CLOSE, GATE_LOGIN };

struct verdict {
	enum gate_result result;
	char reply[GATE_REPLY_MAX];	/* the client's line, no CRLF */
	struct auth_user user;		/* GATE_LOGIN only */
	const char *method;		/* USER, PLAIN or APOP */
};

/* The APOP timestamp is made here, when the secrets file is usable. */
void gate_init(struct gate *g, const struct config *cfg, const char *peer);

/* The client address a PROXY header carried (README "Behind HAProxy or
   stunnel"): once, before any credential, a numeric IPv4 or IPv6
   address.  0, or -1 (the session must end). */
int gate_set_peer(struct gate *g, const char *addr);

/* Check one credential record (PASS, PLAIN or APOP) that arrived at
   *arrival; the record is wiped. */
void gate_check(struct gate *g, struct authrec *rec,
    const struct timespec *arrival, struct verdict *v);

/* Milliseconds left until the login deadline (0 when past it). */
int gate_ms_left(const struct gate *g);

enum gate_end { GATE_END_LOGIN, GATE_END_CLIENT, GATE_END_SETUP,
    GATE_END_BAD };

/*
 * Root's AUTHORIZATION over the link to the front: HELLO, then READY
 * (or SETUP: *why, exit 2), then credentials until a login, a close or
 * the front's end.  On GATE_END_LOGIN, v holds the user and hand-off the
 * front's HANDOFF record.  Nothing else ever yields GATE_END_LOGIN.
 */
enum gate_end gate_serve(struct gate *g, int link, struct verdict *v,
    struct authrec *handoff, const char **why);

#endif
