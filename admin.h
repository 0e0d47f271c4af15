/*
 * admin.h - the administrator's commands (--check-user, --recover) and
 * the spool group a user's locking needs.
 */
#ifndef ADMIN_H
#define ADMIN_H

#include <sys/types.h>

#include "auth.h"
#include "options.h"

/* The exit status of --recover MAILBOX... and of --check-user=USER. */
int run_recover(int argc, char **argv);
int run_check_user(const struct config *cfg);

/* The group root keeps as a saved gid for the user's locking at path,
   or (gid_t)-1 when locking needs none. */
gid_t spool_group(const struct auth_user *u, const char *path);

#endif
