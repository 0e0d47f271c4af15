/*
 * options.h - the configuration every part of pop3d reads, as options.c
 * builds it from the command line, and the startup error reply.
 */
#ifndef OPTIONS_H
#define OPTIONS_H

#include <stddef.h>
#include <time.h>
#include <sys/types.h>

#include "auth.h"
#include "number.h"
#include "params.h"
#include "proxy.h"

struct config {
	struct auth_config auth;
	const char *maildrop;
	int timeout;
	int fail_delay;
	int login_timeout;
	const char *front_user;
	const char *cert[TLS_PAIRS_MAX], *key[TLS_PAIRS_MAX];	/* pairs */
	int certs, keys;
	int implicit_tls;
	int allow_plaintext;
	int apop;		/* the secrets file is usable */
	const char *check_user;
	int recover;
	const char *index;	/* --index template; NULL: --no-index */
	int separate;		/* started as root: a front does AUTHORIZATION */
	struct tls *tls;	/* loaded certificate, or NULL */
	struct proxy_from proxy_from;	/* --proxy-from; count 0: none */
	const char *penalty_dir;	/* README "Brute force" */
};

/* The defaults, then the options: -1 to go on, else the exit status
   (0 after --help or --version, EXIT_SETUP after a bad option). */
void options_init(struct config *cfg);
int parse_options(int argc, char **argv, struct config *cfg);

/* The files options name must be usable: -1 to go on, else EXIT_SETUP. */
int check_setup(struct config *cfg);

/* --maildrop's template for user u: 0, or -1 if longer than size. */
int expand_maildrop(const char *t, const struct auth_user *u, char *out,
    size_t size);

/* The persistent index's path for user u and mailbox mbox, or NULL:
   none (--no-index, or a path too long, which costs a scan and is
   logged). */
const char *index_path(const struct config *cfg, const struct auth_user *u,
    const char *mbox, char *out, size_t size);

/* By hand a line on stderr; under a superserver one -ERR to the client;
   syslog either way. */
void startup_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
