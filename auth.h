/*
 * auth.h - who may log in, and becoming them.
 *
 * auth.c is the only code that looks at a password, a password hash or an
 * APOP secret.  It answers the three POP3 ways in (USER/PASS, APOP, AUTH
 * PLAIN) against the system accounts or a passwd(5)-format file, and
 * drops the process to the authenticated user.
 */
#ifndef AUTH_H
#define AUTH_H

#include <limits.h>
#include <sys/types.h>

#include "params.h"

struct auth_config {
	const char *passwd_file;	/* NULL: the system accounts */
	const char *apop_file;		/* NULL: no APOP */
	uid_t min_uid;			/* lower uids never log in */
};

/* Where an account comes from (struct auth_user.source). */
#define SOURCE_SYSTEM	"system accounts"
#define SOURCE_FILE	"passwd file"

struct auth_user {
	char name[AUTH_NAME_MAX + 1];
	uid_t uid;
	gid_t gid;
	char home[PATH_MAX];
	const char *source;	/* SOURCE_SYSTEM or SOURCE_FILE */
};

enum auth_result {
	AUTH_OK,
	AUTH_FAIL,	/* wrong name, password or account state: [AUTH] */
	AUTH_TEMP	/* the account database cannot be read: [SYS/TEMP] */
};

/* Could this name be a user at all (no '/', "..", controls, length, no
   leading '.', nothing that ends like a side file of a mailbox)? */
int auth_name_valid(const char *name);

/* The checks wipe the secrets they are given once they are done. */
enum auth_result auth_password(const struct auth_config *cfg,
    const char *name, char *pass, struct auth_user *u, const char **why);
enum auth_result auth_apop(const struct auth_config *cfg, const char *name,
    const char *timestamp, const char *digest, struct auth_user *u,
    const char **why);

/* SASL PLAIN (RFC 4616): split the base64 response into its three parts,
   all pointing into raw (the caller wipes it); 0, or -1 if malformed
   (an empty authcid or password is). */
int auth_plain_decode(const char *b64, char raw[AUTH_PLAIN_MAX],
    const char **authz, const char **authc, const char **pass);

/* Startup: may APOP be offered with this secrets file?  -1: unreadable
   (an option error), 0: refused (logged), 1: usable. */
int auth_apop_usable(const char *path, const char **why);

/* For --check-user: the account and why it could not log in, if not;
   u->name is "" when there is no such account. */
enum auth_result auth_lookup(const struct auth_config *cfg,
    const char *name, struct auth_user *u, const char **why);

/* Become the user: the supplementary groups (user_groups() in admin.h),
   setgid, setuid, and prove root is gone.  spool_gid, if not (gid_t)-1,
   stays as the saved gid. */
int auth_become(const struct auth_user *u, const gid_t *groups, int ngroups,
    gid_t spool_gid, const char **why);

/* PR_SET_DUMPABLE 0, again after each credential change; 0 or -1. */
int auth_no_dump(const char **why);

#endif
