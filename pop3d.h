/*
 * pop3d.h - the configuration every part of pop3d reads, and the way the
 * AUTHORIZATION state reaches the root process's verdict.
 */
#ifndef POP3D_H
#define POP3D_H

#include <time.h>
#include <sys/types.h>

#include "auth.h"

struct config {
	struct auth_config auth;
	const char *maildrop;
	int timeout;
	int fail_delay;
	int login_timeout;
	const char *front_user;
	const char *cert, *key;
	int implicit_tls;
	int allow_plaintext;
	int apop;		/* the secrets file is usable */
	const char *check_user;
	int recover;
	const char *index;	/* --index template; NULL: --no-index */
	int separate;		/* started as root: a front does AUTHORIZATION */
	struct tls *tls;	/* loaded certificate, or NULL */
};

void startup_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
