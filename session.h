/*
 * session.h - one POP3 session's state, shared by the protocol (pop3d.c:
 * the states, the command table, the replies) and the session's life
 * (session.c: start, loop, end, the processes).
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdint.h>
#include <time.h>

#include "auth.h"
#include "front.h"
#include "gate.h"
#include "options.h"

enum state { ST_AUTH = 1, ST_TRANS = 2 };
enum reply { REPLY_OK, REPLY_ERR, REPLY_LINE, REPLY_DONE };
enum leave { STAY, LEAVE_QUIT, LEAVE_EOF, LEAVE_ERROR, LEAVE_HANDOFF };

struct session {
	const struct config *cfg;
	struct chan *ch;
	enum state state;
	enum leave leave;
	const char *end;	/* how the session ended, for the log */
	char user[AUTH_NAME_MAX + 1];
	int have_user;
	struct front *front;	/* in the front: the link to root */
	struct gate *gate;	/* in one process: root's checks */
	char timestamp[GATE_TIMESTAMP_MAX];	/* APOP's, or "" */
	char peer[PEER_TEXT_MAX];
	struct auth_user who;
	struct maildrop *md;
	const char *code;	/* RFC 2449 response code of an -ERR */
	char text[256];
	int internal;		/* an internal failure ended it: exit 1 */
	int proxied;		/* peer is a PROXY header's address */
	unsigned lines;		/* command lines read */
	unsigned retr_n, dele_n;
	uint64_t retr_bytes, dele_bytes;
	struct timespec start;
};

/* pop3d.c: one command line, answered; login as the verified user;
   a reply as the command left it in s. */
void dispatch(struct session *s, char *line, size_t len);
enum reply login(struct session *s, const struct auth_user *u,
    const char *method);
void say_reply(struct session *s, enum reply r);

/* session.c: the peer for the log; the session as one process, as the
   front (never returns), or as root behind the front. */
void peer_address(char *buf, size_t size);
int run_single(struct config *cfg, const char *peer);
void run_front(struct config *cfg, struct front *f, const char *peer)
    __attribute__((noreturn));
int run_root(const struct config *cfg, struct front *f, const char *peer);

#endif
