/*
 * admin.c - the administrator's commands: --check-user (how a user would
 * be served, tried as that user) and --recover (finish interrupted
 * updates, as each mailbox's owner); and the spool group a user's
 * locking needs, which login and --check-user share.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "admin.h"
#include "auth.h"
#include "maildrop.h"
#include "options.h"
#include "params.h"

/* ---------------------------------------------------------------- */
/* The spool group                                                   */

int
user_groups(const struct auth_user *u, gid_t **groups)
{
	int n = 64;

	*groups = NULL;
	if (geteuid() != 0)
		return -1;	/* cannot switch users: nothing to set */
	if (strcmp(u->source, SOURCE_FILE) == 0) {
		/* a passwd-file user is not the system account of the same
		   name: its one group is the gid in the file */
		if ((*groups = malloc(sizeof(**groups))) == NULL)
			return -1;
		(*groups)[0] = u->gid;
		return 1;
	}
	for (int tries = 0; tries < 4; tries++) {
		int want = n;
		if ((*groups = malloc((size_t)n * sizeof(**groups))) == NULL)
			return -1;
		if (getgrouplist(u->name, u->gid, *groups, &want) >= 0)
			return want;
		free(*groups);
		*groups = NULL;
		if (want <= n || want > 65536)
			return -1;
		n = want;
	}
	return -1;
}

/* Root keeps the spool's group as a saved gid only if locking needs it. */
gid_t
spool_group(const struct auth_user *u, const char *path, const gid_t *groups,
    int ngroups)
{
	if (geteuid() != 0 || ngroups < 0)
		return (gid_t)-1;
	return maildrop_spool_group(path, u->uid, u->gid, groups, ngroups);
}


/* ---------------------------------------------------------------- */
/* Administrator commands                                            */

/*
 * Become the owner of the mailbox at path before touching it, so that a
 * path a user controls (a swapped directory link, a hard link to another
 * user's mailbox) can reach nothing that user could not write anyway.
 * The spool group is kept as a saved gid only where locking needs it.
 */
static int
become_mailbox_owner(const char *path, gid_t *spool, const char **why)
{
	struct stat st;
	uid_t uid;
	gid_t gid;

	*spool = (gid_t)-1;
	if (geteuid() != 0)
		return 0;
	*why = "cannot find the mailbox's owner";
	if (lstat(path, &st) != 0) {
		if (errno != ENOENT)
			return -1;
		/* no mailbox: only the journal is looked at, read-only */
		return 0;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid == 0) {
		*why = "not a regular file of a user with one link";
		return -1;
	}
	uid = st.st_uid;
	gid = st.st_gid;
	*spool = maildrop_spool_group(path, uid, gid, &gid, 1);
	*why = "cannot become the mailbox's owner";
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, *spool !=
	    (gid_t)-1 ? *spool : gid) != 0 || setresuid(uid, uid, uid) != 0 ||
	    setuid(0) == 0)
		return -1;
	return 0;
}

/* One mailbox, in a child that becomes its owner; 0 if recovered. */
static int
recover_one(const char *path)
{
	pid_t pid;
	int st;

	(void)fflush(stdout);
	if ((pid = fork()) < 0) {
		(void)printf("%s: cannot fork: %s\n", path, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		struct md_config mc = { path, LOCK_WAIT, STALE_SECS,
		    (gid_t)-1, 0, NULL };
		const char *why = NULL;
		int ok;

		ok = become_mailbox_owner(path, &mc.spool_gid, &why) == 0 &&
		    maildrop_recover(&mc, &why) == MD_OK;
		(void)printf("%s: %s\n", path, ok ? "ok" : why);
		_exit(fflush(stdout) == 0 && ok ? 0 : EXIT_INTERNAL);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int
run_recover(int argc, char **argv)
{
	static const char suffix[] = ".pop3d-journal";
	int status = 0;

	if (argc == 0) {
		startup_error("--recover wants mailbox paths");
		return EXIT_SETUP;
	}
	for (int i = 0; i < argc; i++) {
		char path[PATH_MAX];
		size_t len = strlen(argv[i]);

		if (len >= sizeof(path))
			continue;
		memcpy(path, argv[i], len + 1);
		if (len > sizeof(suffix) - 1 &&
		    strcmp(path + len - (sizeof(suffix) - 1), suffix) == 0)
			path[len - (sizeof(suffix) - 1)] = '\0';
		if (recover_one(path) != 0)
			status = EXIT_INTERNAL;
	}
	return status;
}

/* --check-user's child: as the user, the session's own open of the
   maildrop in the mode that changes nothing; never returns. */
static void
check_as_user(const struct auth_user *u, const char *path,
    const gid_t *groups, int ngroups, gid_t spool, const char *ixpath)
{
	struct md_config mc = { path, LOCK_WAIT, STALE_SECS, spool, 1,
	    ixpath };
	struct maildrop *md;
	const char *why = NULL;
	int ok;

	if (auth_become(u, groups, ngroups, spool, &why) != 0) {
		(void)printf("as user:  cannot become %s: %s\n", u->name, why);
		(void)fflush(stdout);
		_exit(EXIT_INTERNAL);
	}
	if (maildrop_open(&md, &mc, &why) != MD_OK) {
		(void)printf("mailbox:  cannot be served: %s\n", why);
		ok = 0;
	} else {
		ok = maildrop_describe(md, stdout) == 0;
		maildrop_close(md);
	}
	/* _exit does not flush: a pipe or file would get nothing */
	if (fflush(stdout) != 0)
		ok = 0;
	_exit(ok ? 0 : EXIT_INTERNAL);
}

int
run_check_user(const struct config *cfg)
{
	struct auth_user u;
	const char *why = NULL;
	char path[PATH_MAX], ixpath[PATH_MAX];
	enum auth_result r;
	gid_t spool, *groups;
	pid_t pid;
	int st, ngroups;

	if (!auth_name_valid(cfg->check_user)) {
		(void)printf("%s: not a valid user name\n", cfg->check_user);
		return EXIT_INTERNAL;
	}
	r = auth_lookup(&cfg->auth, cfg->check_user, &u, &why);
	if (r == AUTH_TEMP || (r == AUTH_FAIL && u.name[0] == '\0')) {
		(void)printf("user:     %s\nsource:   %s\nresult:   %s\n",
		    cfg->check_user, cfg->auth.passwd_file ?
		    cfg->auth.passwd_file : "system accounts", why);
		return EXIT_INTERNAL;
	}
	(void)printf("user:     %s\nsource:   %s%s%s\nuid/gid:  %u/%u\n"
	    "home:     %s\nlogin:    %s%s\n", u.name, u.source,
	    cfg->auth.passwd_file ? " " : "",
	    cfg->auth.passwd_file ? cfg->auth.passwd_file : "",
	    (unsigned)u.uid, (unsigned)u.gid, u.home,
	    r == AUTH_OK ? "allowed (with the right password)" : "refused: ",
	    r == AUTH_OK ? "" : why);
	if (expand_maildrop(cfg->maildrop, &u, path, sizeof(path)) != 0) {
		(void)printf("maildrop: path too long\n");
		return EXIT_INTERNAL;
	}
	ngroups = user_groups(&u, &groups);
	spool = spool_group(&u, path, groups, ngroups);
	if (geteuid() == 0)
		(void)printf("privsep:  before login a process as %s, "
		    "chrooted to %s\n", cfg->front_user, FRONT_ROOT);
	else
		(void)printf("privsep:  none: not started as root, so the "
		    "session is one process\n");
	(void)printf("maildrop: %s\n", path);
	if (spool != (gid_t)-1) {
		struct group *gr = getgrgid(spool);
		(void)printf("spool:    the user needs group %s to create "
		    "%s.lock; pop3d keeps it as a saved gid\n",
		    gr ? gr->gr_name : "?", path);
	}
	(void)fflush(stdout);
	if ((pid = fork()) < 0) {
		perror("pop3d: fork");
		return EXIT_INTERNAL;
	}
	if (pid == 0)
		check_as_user(&u, path, groups, ngroups, spool,
		    index_path(cfg, &u, path, ixpath, sizeof(ixpath)));
	free(groups);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 && r == AUTH_OK ? 0 :
	    EXIT_INTERNAL;
}

