/*
 * lock.c - locking the mailbox as Debian's MDAs do, and the spool group.
 *
 * An fcntl lock on the file and an NFS-safe dotlock (PATH.lock, made the
 * way liblockfile makes it), both tried without blocking and retried
 * together, so no MDA's locking order can deadlock with us.  This is also
 * the only file that raises the spool group (mail on Debian, kept by
 * auth_become as a saved gid): every file pop3d creates, renames or
 * removes next to the mailbox goes through md_spool_*, which raise the
 * group around that one call, as OpenBSD's mail.local does.  Callers
 * never see a setegid.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

#include "md.h"
#include "mdindex.h"

enum trylock { TRY_OK, TRY_BUSY, TRY_ERR, TRY_NOPERM };

static void
spool_raise(const struct maildrop *md)
{
	if (md->cfg.spool_gid != (gid_t)-1 &&
	    setegid(md->cfg.spool_gid) != 0)
		md_fatal("setegid(%u) for the mail spool: %s",
		    (unsigned)md->cfg.spool_gid, strerror(errno));
}

/* Lowering can only fail if the kernel broke its promise: never go on
   with a group we did not mean to hold. */
static void
spool_lower(const struct maildrop *md)
{
	if (md->cfg.spool_gid != (gid_t)-1 && setegid(getgid()) != 0)
		md_fatal("cannot drop the spool group again: %s",
		    strerror(errno));
}

/* unlinkat() in the mailbox's directory; ENOENT counts as success. */
int
md_spool_unlink(struct maildrop *md, const char *name)
{
	int r, saved;

	spool_raise(md);
	r = unlinkat(md->f.dirfd, name, 0);
	saved = errno;
	spool_lower(md);
	errno = saved;
	return r != 0 && errno != ENOENT ? -1 : 0;
}

/* A new file of ours next to the mailbox, opened read-write. */
int
md_spool_create(struct maildrop *md, const char *name)
{
	int fd, saved;

	spool_raise(md);
	fd = openat(md->f.dirfd, name, O_RDWR | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	saved = errno;
	spool_lower(md);
	errno = saved;
	return fd;
}

int
md_spool_rename(struct maildrop *md, const char *from, const char *to)
{
	int r, saved;

	spool_raise(md);
	r = renameat(md->f.dirfd, from, md->f.dirfd, to);
	saved = errno;
	spool_lower(md);
	errno = saved;
	return r;
}

/* Could a dotlock be created here?  For --check-user. */
int
md_spool_writable(struct maildrop *md)
{
	int w;

	spool_raise(md);
	w = faccessat(md->f.dirfd, ".", W_OK, AT_EACCESS) == 0;
	spool_lower(md);
	return w;
}

/* The persistent index, written in its directory with the group raised
   as for the journal; 0, or -1 with *why (busy: another writer). */
int
md_spool_store_index(struct maildrop *md, struct mdindex *ix,
    const struct mdindex_source *src, const char **why)
{
	enum mdindex_io r;

	spool_raise(md);
	r = mdindex_store(md->px.dirfd, md->px.name, ix, src, (gid_t)-1, why);
	spool_lower(md);
	return r == MDINDEX_IO_OK ? 0 : -1;
}

/* A stale index goes, by the same group as it was written with. */
int
md_spool_unlink_index(struct maildrop *md)
{
	int r, e;

	spool_raise(md);
	r = unlinkat(md->px.dirfd, md->px.name, 0);
	e = errno;
	spool_lower(md);
	errno = e;
	return r;
}

/* After the last update the group is not needed again: forget it. */
void
md_spool_forget(struct maildrop *md)
{
	gid_t g = getgid();

	if (md->cfg.spool_gid != (gid_t)-1 && setresgid(g, g, g) != 0)
		md_fatal("cannot drop the spool group: %s", strerror(errno));
	md->cfg.spool_gid = (gid_t)-1;
}

static enum trylock
fcntl_try(struct maildrop *md)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = md->f.readonly ? F_RDLCK : F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(md->f.fd, F_SETLK, &fl) == 0)
		return TRY_OK;
	if (errno == EAGAIN || errno == EACCES || errno == EINTR)
		return TRY_BUSY;
	syslog(LOG_ERR, "fcntl lock %s: %s", md->f.path, strerror(errno));
	return TRY_ERR;
}

static void
fcntl_release(struct maildrop *md)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(md->f.fd, F_SETLK, &fl) != 0)
		syslog(LOG_ERR, "fcntl unlock %s: %s", md->f.path,
		    strerror(errno));
}

/*
 * The pid in a dotlock, and whether it names a process of this host:
 * liblockfile writes a bare pid (taken as local), pop3d "pid hostname" so
 * that hosts sharing a spool never judge each other's pids.  0: none.
 */
static long
dotlock_pid(const struct maildrop *md, int *local)
{
	char buf[DOTLOCK_CONTENT_MAX], host[HOST_NAME_MAX + 1];
	ssize_t n;
	long pid;
	char *end;
	int fd;

	*local = 0;
	if ((fd = openat(md->f.dirfd, md->f.lockname, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || pid <= 0 || pid > INT_MAX)
		return 0;
	*local = 1;
	if (*end == ' ') {
		end++;
		end[strcspn(end, "\r\n")] = '\0';
		*local = gethostname(host, sizeof(host)) == 0 &&
		    strncmp(end, host, sizeof(host)) == 0;
	}
	return pid;
}

/* When this host booted (btime in /proc/stat, see proc(5)); 0 if unknown. */
static time_t
boot_time(void)
{
	char line[PROC_STAT_LINE];
	long long bt = 0;
	FILE *f;

	if ((f = fopen("/proc/stat", "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL &&
	    sscanf(line, "btime %lld", &bt) != 1)
		;
	(void)fclose(f);
	return bt > 0 ? (time_t)bt : 0;
}

/* Older than this boot: its maker died with the power, or before.  The
   boot is read when a lock is first judged: most locks find none. */
static int
before_boot(struct maildrop *md, const struct stat *st)
{
	if (md->lk.boot < 0)
		md->lk.boot = boot_time();
	return md->lk.boot > 0 && st->st_mtime < md->lk.boot;
}

/*
 * As liblockfile judges it: a lock naming a process of this host is
 * stale exactly when that process is gone; any other lock (no pid, as
 * procmail and plain dotlockfile write, or another host's) when it is
 * older than stale_secs.  "now" is the mtime of our own temporary file,
 * so clock skew with an NFS server is moot.  Holders of long locks keep
 * them fresh (see md_lock_refresh).  A lock of this host, or one naming
 * no host, that is older than this boot is stale whatever pid it names:
 * its holder died with the power, and the pid may belong to anyone now.
 */
static int
dotlock_stale(struct maildrop *md, time_t now, long *dead)
{
	struct stat st;
	long pid;
	int local;

	*dead = 0;
	if (fstatat(md->f.dirfd, md->f.lockname, &st,
	    AT_SYMLINK_NOFOLLOW) != 0)
		return 0;
	pid = dotlock_pid(md, &local);
	if ((pid == 0 || local) && before_boot(md, &st))
		return 1;
	if (pid > 0 && local) {
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			return 0;
		*dead = pid;
		return 1;
	}
	return now - st.st_mtime > md->cfg.stale_secs;
}

/* pop3d's unique file for the dotlock of process pid on this host. */
static int
dotlock_unique(const struct maildrop *md, long pid, const char *host,
    char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s.%ld.%s", md->f.lockname, pid, host);

	return n >= 0 && (size_t)n < size ? 0 : -1;
}

static void
this_host(char host[HOST_NAME_MAX + 1])
{
	if (gethostname(host, HOST_NAME_MAX + 1) != 0)
		memcpy(host, "localhost", 10);
	host[HOST_NAME_MAX] = '\0';
	host[strcspn(host, "/")] = '\0';
}

/*
 * Our unique file with "pid host" in it; -1 when it cannot be created,
 * -2 when it cannot be written (errno set).  Its content is fsynced
 * before the link, so a power cut never leaves an empty PATH.lock,
 * which others would respect for stale_secs.
 */
static int
dotlock_make_unique(struct maildrop *md, const char *tmp, const char *host)
{
	char content[DOTLOCK_CONTENT_MAX];
	int fd, len, failed, saved;

	len = snprintf(content, sizeof(content), "%ld %s\n", (long)getpid(),
	    host);
	if (len < 0 || (size_t)len >= sizeof(content))
		len = snprintf(content, sizeof(content), "%ld\n",
		    (long)getpid());
	(void)unlinkat(md->f.dirfd, tmp, 0);
	fd = openat(md->f.dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	failed = write(fd, content, (size_t)len) != len || fsync(fd) != 0;
	saved = errno;
	if (close(fd) != 0 && !failed) {
		failed = 1;
		saved = errno;
	}
	if (failed) {
		syslog(LOG_ERR, "write %s: %s", tmp, strerror(saved));
		(void)unlinkat(md->f.dirfd, tmp, 0);
		errno = saved;
		return -2;
	}
	return 0;
}

/* The pid in name if it is a unique file of this host's (LOCKNAME.PID.
   HOST) other than ours, else 0. */
static long
unique_pid(const struct maildrop *md, const char *name, const char *host)
{
	size_t blen = strlen(md->f.lockname);
	const char *p;
	char *end;
	long pid;

	if (strncmp(name, md->f.lockname, blen) != 0 || name[blen] != '.')
		return 0;
	p = name + blen + 1;
	errno = 0;
	pid = strtol(p, &end, 10);
	if (errno != 0 || end == p || *end != '.' ||
	    strcmp(end + 1, host) != 0 || pid <= 0 || pid > INT_MAX ||
	    pid == (long)getpid())
		return 0;
	return pid;
}

/* A unique file no process owns any more: a regular file whose pid is
   gone, or one older than this boot (the pid may be reused). */
static int
unique_abandoned(struct maildrop *md, const char *name, long pid)
{
	struct stat st;

	if (fstatat(md->f.dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode))
		return 0;
	return before_boot(md, &st) ||
	    (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

/*
 * Remove the unique files this host's lockers left behind when a kill or
 * a power cut came between creating and removing them.  Called holding
 * the dotlock, in the spool group; a live locker's file is fresh and its
 * pid alive, and another host's is left to that host.
 */
static void
dotlock_sweep_unique(struct maildrop *md, const char *host)
{
	struct dirent *de;
	DIR *d;
	long pid;
	int fd;

	if ((fd = openat(md->f.dirfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0 || (d = fdopendir(fd)) == NULL) {
		syslog(LOG_WARNING, "read the directory of %s: %s",
		    md->f.path, strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if ((pid = unique_pid(md, de->d_name, host)) == 0 ||
		    !unique_abandoned(md, de->d_name, pid))
			continue;
		if (unlinkat(md->f.dirfd, de->d_name, 0) == 0)
			syslog(LOG_NOTICE, "removed %s%s, left by a dead "
			    "locker", md->f.lockpath,
			    de->d_name + strlen(md->f.lockname));
	}
	(void)closedir(d);
}

/* Link our unique file to PATH.lock; trust the link count, not link()'s
   return value (NFS may lose the reply to a link that happened). */
static enum trylock
dotlock_link(struct maildrop *md, const char *tmp, const char *host)
{
	char tmp_dead[PATH_MAX];
	struct stat st;
	long dead;
	int linked, saved;

	linked = linkat(md->f.dirfd, tmp, md->f.dirfd, md->f.lockname,
	    0) == 0;
	saved = linked ? 0 : errno;
	if (fstatat(md->f.dirfd, tmp, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		syslog(LOG_ERR, "stat %s: %s", tmp, strerror(errno));
		return TRY_ERR;
	}
	if (linked || st.st_nlink == 2)
		return TRY_OK;
	if (saved != EEXIST) {
		/* not "someone holds it": a full disk, an I/O error, or a
		   file system without hard links; waiting will not help */
		syslog(LOG_ERR, "link %s: %s", md->f.lockpath,
		    strerror(saved));
		return saved == EPERM || saved == EACCES || saved == EROFS ?
		    TRY_NOPERM : TRY_ERR;
	}
	if (dotlock_stale(md, st.st_mtime, &dead)) {
		syslog(LOG_NOTICE, "breaking stale lock %s", md->f.lockpath);
		(void)unlinkat(md->f.dirfd, md->f.lockname, 0);
		/* a pop3d killed before it removed its unique file left
		   that too: same name as ours, with the dead pid */
		if (dead > 0 && dotlock_unique(md, dead, host, tmp_dead,
		    sizeof(tmp_dead)) == 0)
			(void)unlinkat(md->f.dirfd, tmp_dead, 0);
	}
	return TRY_BUSY;
}

static enum trylock
dotlock_try(struct maildrop *md)
{
	char tmp[PATH_MAX], host[HOST_NAME_MAX + 1];
	enum trylock r;
	int made;

	this_host(host);
	if (dotlock_unique(md, (long)getpid(), host, tmp, sizeof(tmp)) != 0)
		return TRY_ERR;
	spool_raise(md);
	if ((made = dotlock_make_unique(md, tmp, host)) != 0) {
		int saved = errno;

		spool_lower(md);
		if (made == -1 && (saved == EACCES || saved == EPERM ||
		    saved == EROFS))
			return TRY_NOPERM;
		if (made == -1)
			syslog(LOG_ERR, "create %s: %s", tmp, strerror(saved));
		return TRY_ERR;
	}
	r = dotlock_link(md, tmp, host);
	if (r == TRY_OK)
		dotlock_sweep_unique(md, host);
	if (unlinkat(md->f.dirfd, tmp, 0) != 0 && r == TRY_OK)
		syslog(LOG_WARNING, "unlink %s: %s", tmp, strerror(errno));
	spool_lower(md);
	return r;
}

static void
msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The signals that must not end us while a lock is held. */
static void
block_signals(sigset_t *old)
{
	sigset_t set;

	sigfillset(&set);
	sigdelset(&set, SIGSEGV);
	sigdelset(&set, SIGBUS);
	sigdelset(&set, SIGFPE);
	sigdelset(&set, SIGILL);
	sigdelset(&set, SIGABRT);
	(void)sigprocmask(SIG_BLOCK, &set, old);
}

/* Both locks at once, or neither: TRY_BUSY lets the caller retry. */
static enum trylock
lock_both(struct maildrop *md)
{
	enum trylock f = fcntl_try(md), d;

	if (f != TRY_OK)
		return f;
	d = dotlock_try(md);
	if (d == TRY_OK || d == TRY_NOPERM) {
		if (d == TRY_NOPERM)
			syslog(LOG_WARNING, "no permission to create %s; "
			    "locking with fcntl only", md->f.lockpath);
		md->lk.have_fcntl = 1;
		md->lk.have_dot = d == TRY_OK;
		return TRY_OK;
	}
	fcntl_release(md);
	return d;
}

/* Both locks, waiting at most lock_wait seconds; signals stay blocked
   until md_unlock. */
enum md_status
md_lock(struct maildrop *md, const char **why)
{
	struct timespec start, now;
	enum trylock r;

	block_signals(&md->lk.oldmask);
	(void)clock_gettime(CLOCK_MONOTONIC, &start);
	while ((r = lock_both(md)) == TRY_BUSY) {
		(void)clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= md->cfg.lock_wait) {
			syslog(LOG_NOTICE, "%s is locked by another process",
			    md->f.path);
			*why = "mailbox is locked by another process";
			(void)sigprocmask(SIG_SETMASK, &md->lk.oldmask, NULL);
			return MD_INUSE;
		}
		msleep(LOCK_RETRY_MS);
	}
	if (r == TRY_OK) {
		md->lk.touched = start.tv_sec;
		return MD_OK;
	}
	*why = "cannot lock the mailbox";
	(void)sigprocmask(SIG_SETMASK, &md->lk.oldmask, NULL);
	return MD_TEMP;
}

/* Both locks if they are free now, without waiting: for work that can
   be skipped (writing the index), never worth a client's time. */
enum md_status
md_lock_try(struct maildrop *md)
{
	struct timespec now;
	enum trylock r;

	block_signals(&md->lk.oldmask);
	if ((r = lock_both(md)) == TRY_OK) {
		(void)clock_gettime(CLOCK_MONOTONIC, &now);
		md->lk.touched = now.tv_sec;
		return MD_OK;
	}
	(void)sigprocmask(SIG_SETMASK, &md->lk.oldmask, NULL);
	return r == TRY_BUSY ? MD_INUSE : MD_TEMP;
}

/* A long update touches its dotlock so no one takes it for stale. */
void
md_lock_refresh(struct maildrop *md)
{
	struct timespec now;

	if (!md->lk.have_dot)
		return;
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - md->lk.touched < LOCK_REFRESH_SECS)
		return;
	md->lk.touched = now.tv_sec;
	if (utimensat(md->f.dirfd, md->f.lockname, NULL,
	    AT_SYMLINK_NOFOLLOW) != 0)
		syslog(LOG_WARNING, "touch %s: %s", md->f.lockpath,
		    strerror(errno));
}

void
md_unlock(struct maildrop *md)
{
	/* a dotlock left behind blocks procmail for 17 minutes: retry a
	   transient failure (EIO, EINTR on NFS) a few times */
	for (int tries = 0; md->lk.have_dot && tries < UNLOCK_TRIES;
	    tries++) {
		if (md_spool_unlink(md, md->f.lockname) == 0)
			break;
		syslog(LOG_ERR, "remove %s: %s", md->f.lockpath,
		    strerror(errno));
		msleep(LOCK_RETRY_MS);
	}
	if (md->lk.have_fcntl)
		fcntl_release(md);
	md->lk.have_dot = md->lk.have_fcntl = 0;
	(void)sigprocmask(SIG_SETMASK, &md->lk.oldmask, NULL);
}

/*
 * Who holds the locks now, without taking them (--check-user): the pid
 * of an fcntl holder (0: free) and the age of a dotlock (-1: none).
 */
int
md_lock_held_by_other(struct maildrop *md, long *fcntl_pid, long *dot_age)
{
	struct flock fl;
	struct stat st;

	*fcntl_pid = 0;
	*dot_age = -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (md->f.fd >= 0 && fcntl(md->f.fd, F_GETLK, &fl) == 0 &&
	    fl.l_type != F_UNLCK)
		*fcntl_pid = (long)fl.l_pid;
	if (fstatat(md->f.dirfd, md->f.lockname, &st,
	    AT_SYMLINK_NOFOLLOW) == 0)
		*dot_age = (long)(time(NULL) - st.st_mtime);
	return *fcntl_pid != 0 || *dot_age >= 0;
}

/*
 * The directory part of path, opened by walking it from / without
 * following any symbolic link that root does not own: a user cannot
 * point us at a directory of their choice.  -1 when that fails.
 */
static int
open_dir_root_links(const char *path)
{
	char buf[PATH_MAX], *p, *next, *slash;
	int fd, nfd;
	struct stat ls;

	if (path[0] != '/' || strlen(path) >= sizeof(buf))
		return -1;
	memcpy(buf, path, strlen(path) + 1);
	slash = strrchr(buf, '/');
	*slash = '\0';
	if ((fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	for (p = buf + 1; p < slash && fd >= 0; p = next) {
		next = strchr(p, '/');
		next = next == NULL ? slash : next;
		*next++ = '\0';
		if (*p == '\0')
			continue;
		nfd = openat(fd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (nfd < 0 && (errno == ELOOP || errno == ENOTDIR) &&
		    fstatat(fd, p, &ls, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(ls.st_mode) && ls.st_uid == 0)
			nfd = openat(fd, p, O_PATH | O_DIRECTORY | O_CLOEXEC);
		(void)close(fd);
		fd = nfd;
	}
	return fd;
}

/*
 * The group a user needs to create PATH.lock next to the mailbox, kept
 * by root as a saved gid, or (gid_t)-1.  Only Debian's spool layout
 * earns it (/var/mail: root:mail 2775): a directory owned by root,
 * writable by its group, not by others, reached through no link a user
 * owns -- never a group a user can choose.
 */
gid_t
maildrop_spool_group(const char *path, uid_t uid, gid_t gid,
    const gid_t *groups, int ngroups)
{
	struct stat st;
	int fd, r;

	(void)uid;
	if ((fd = open_dir_root_links(path)) < 0)
		return (gid_t)-1;
	r = fstat(fd, &st);
	(void)close(fd);
	if (r != 0 || st.st_uid != 0 || !(st.st_mode & S_IWGRP) ||
	    (st.st_mode & S_IWOTH) || st.st_gid == 0 || st.st_gid == gid)
		return (gid_t)-1;
	for (int i = 0; i < ngroups; i++)
		if (groups[i] == st.st_gid)
			return (gid_t)-1;
	return st.st_gid;
}
