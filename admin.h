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

/* The supplementary groups root gives the user, as initgroups(3) would
   (for a passwd-file user its one gid): their number, the list in
   malloc'ed *groups; -1 when they cannot be known, or when pop3d does
   not run as root and cannot set them. */
int user_groups(const struct auth_user *u, gid_t **groups);

/* The group root keeps as a saved gid for the user's locking at path,
   given the user's groups, or (gid_t)-1 when locking needs none. */
gid_t spool_group(const struct auth_user *u, const char *path,
    const gid_t *groups, int ngroups);

#endif
