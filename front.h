/*
 * front.h - the pre-authentication process: how root starts it, how it
 * locks itself in, how its AUTHORIZATION session asks root, and the TLS
 * relay it becomes after a login over TLS.
 */
#ifndef FRONT_H
#define FRONT_H

#include <sys/types.h>

#include "authrec.h"
#include "chan.h"
#include "gate.h"
#include "options.h"

struct front {
	pid_t pid;		/* in root: the front's pid */
	int link;		/* the socket pair's end this process holds */
	uid_t uid;		/* --front-user */
	gid_t gid;
};

/* Root, at startup: does the front user and FRONT_ROOT exist as they
   must?  0, or -1 with a message saying how to create them. */
int front_check(const struct config *cfg, struct front *f);

/* Fork the front.  Returns 1 in root, 0 in the front (which must then
   call front_setup), -1 if fork failed. */
int front_fork(struct front *f);

/* In the front, still root: load the TLS key, chroot, become the front
   user, limits; READY or SETUP to root, then root's HELLO.  0 or -1 (the
   front then just exits: root reports). */
int front_setup(struct config *cfg, struct front *f, char *timestamp,
    size_t size);

/* In the front, before the greeting: the client address a PROXY header
   gave, for root's log and penalty; 0 or -1 (root is gone). */
int front_tell_peer(struct front *f, const char *addr);

/* In the front: flush what the client is owed, send one credential
   record, wait for root's verdict; 0 or -1 (root is gone). */
int front_ask(struct front *f, struct chan *c, int type,
    const char *const *fields, int n, struct verdict *v);

/* In the front, after VERDICT_LOGIN: give root the read-ahead input and
   either exit (plain) or relay TLS until either side ends. */
void front_handoff(struct front *f, struct chan *c, int timeout_ms)
    __attribute__((noreturn));

/* In root: end the front (after a bad record or the login deadline) and
   reap it. */
void front_kill(struct front *f);
void front_reap(struct front *f);

#endif
