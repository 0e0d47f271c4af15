/*
 * maildrop.c - the Unix mbox maildrop: index, locking, streaming, update.
 *
 * This is the only code that touches the mailbox file.  At login the
 * mailbox is locked (fcntl, then PATH.lock), an interrupted update is
 * finished, the file is indexed in one streaming pass and unlocked again.
 * Messages are read unlocked with pread() and checked against the index,
 * so a mailbox changed behind our back is never sent as if intact.  At
 * QUIT the file is locked again and the deleted messages are cut out in
 * place through a journal (see "The update" below), which makes a crash
 * at any instant recoverable at the next open.
 *
 * Message i occupies the byte range [msg[i].off, msg[i+1].off): its From_
 * line, its body, and the empty line before the next From_ line, which
 * belongs to the separator (as popa3d, UW and Dovecot treat it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "maildrop.h"
#include "params.h"

/* The journal's header block; the kept bytes follow it. */
#define JHDR_SIZE	4096
#define JMAGIC		"POP3DJ01"
#define JSTATE_COMMITTED 1
#define JSTATE_MARKED	2
#define JMARK_MAX	32

#define F_DELETED	1u
#define F_HIDDEN	2u	/* c-client/Dovecot folder-internal data */

struct md_msg {
	uint64_t off;		/* first byte of the From_ line */
	uint64_t end;		/* end of the body (before the blank line) */
	uint64_t size;		/* octets RETR sends, RFC 1939 "exact size" */
	uint32_t sep_len;	/* From_ line length with its LF */
	uint32_t flags;
};

struct md_block {
	unsigned char tag[TAG_LEN];
	unsigned char ok;	/* proven since vsnap */
};

struct md_digest {
	unsigned char d[16];	/* SHA-256 of From_ line and body, truncated */
	uint32_t dup;		/* 1 for the first of identical copies, ... */
};

struct maildrop {
	struct md_config cfg;
	char *path, *lockpath, *jpath, *jtmp;
	int fd;			/* -1: no mailbox file (empty maildrop) */
	int readonly;
	struct stat snap;	/* the file as indexed */
	uint64_t size;		/* bytes indexed: the end of the last message */
	struct md_msg *msg;
	unsigned nmsg, cap;
	unsigned first;		/* 1 when msg[0] is hidden */
	struct md_digest *dig;	/* NULL until UIDL is first asked */
	int have_fcntl, have_dot;
	time_t lock_touched;	/* CLOCK_MONOTONIC seconds */
	sigset_t oldmask;
	char *buf;		/* SCAN_BUF + HEAD_MIN */
	char *ibuf, *obuf;	/* RETR: SEND_CHUNK in, twice that out */
	EVP_MAC *mac;		/* Poly1305, for the block fingerprints */
	unsigned char key[32];	/* random, this process only */
	struct md_block *blk;	/* fingerprints of the file as indexed */
	size_t nblk;
	uint64_t blk_size;
	struct stat vsnap;	/* the file when the ok flags were set */
};

/* ---------------------------------------------------------------- */
/* Small helpers                                                     */

static void
put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static char *
str_concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s;

	if (la + lb + 1 > PATH_MAX)
		return NULL;
	if ((s = malloc(la + lb + 1)) == NULL)
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

/* pread() that reads everything asked for; returns bytes read (short at
   end of file) or -1. */
static ssize_t
pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
		    (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int
pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
		    (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/* The directory part of path (".", "/" or a prefix), into dir. */
static void
dir_of(const char *path, char dir[PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (slash == NULL)
		len = 0;
	else if (slash == path)
		len = 1;
	else
		len = (size_t)(slash - path);
	if (len == 0)
		memcpy(dir, ".", 2);
	else {
		memcpy(dir, path, len);
		dir[len] = '\0';
	}
}

static int
fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	int fd, r;

	dir_of(path, dir);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	r = fsync(fd);
	if (close(fd) != 0)
		r = -1;
	return r;
}

static int
same_snapshot(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static uint64_t
msg_range_end(const struct maildrop *md, unsigned i)
{
	return i + 1 < md->nmsg ? md->msg[i + 1].off : md->size;
}

/*
 * The spool group (mail on Debian) is a saved gid, raised only around
 * creating and removing files in the spool directory.
 */
static int
spool_raise(const struct maildrop *md)
{
	if (md->cfg.spool_gid == (gid_t)-1)
		return 0;
	if (setegid(md->cfg.spool_gid) != 0) {
		syslog(LOG_ERR, "setegid(%u) for the mail spool: %s",
		    (unsigned)md->cfg.spool_gid, strerror(errno));
		return -1;
	}
	return 0;
}

static int
spool_lower(const struct maildrop *md)
{
	if (md->cfg.spool_gid == (gid_t)-1)
		return 0;
	if (setegid(getgid()) != 0) {
		syslog(LOG_CRIT, "cannot drop the spool group again: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* unlink() in the spool directory; ENOENT counts as success. */
static int
spool_unlink(const struct maildrop *md, const char *path)
{
	int r, saved;

	if (spool_raise(md) != 0)
		return -1;
	r = unlink(path);
	saved = errno;
	if (spool_lower(md) != 0)
		return -1;
	errno = saved;
	return r != 0 && errno != ENOENT ? -1 : 0;
}

/* ---------------------------------------------------------------- */
/* Locking: fcntl and an NFS-safe dotlock, both without blocking,    */
/* retried together, so no MDA's locking order can deadlock with us. */

enum trylock { TRY_OK, TRY_BUSY, TRY_ERR, TRY_NOPERM };

static enum trylock
fcntl_try(struct maildrop *md)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = md->readonly ? F_RDLCK : F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(md->fd, F_SETLK, &fl) == 0)
		return TRY_OK;
	if (errno == EAGAIN || errno == EACCES || errno == EINTR)
		return TRY_BUSY;
	syslog(LOG_ERR, "fcntl lock %s: %s", md->path, strerror(errno));
	return TRY_ERR;
}

static void
fcntl_release(struct maildrop *md)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(md->fd, F_SETLK, &fl) != 0)
		syslog(LOG_ERR, "fcntl unlock %s: %s", md->path,
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
	char buf[128], host[64];
	ssize_t n;
	long pid;
	char *end;
	int fd;

	*local = 0;
	if ((fd = open(md->lockpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK)) < 0)
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
	char line[256];
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

/*
 * As liblockfile judges it: a lock naming a process of this host is
 * stale exactly when that process is gone; any other lock (no pid, as
 * procmail and plain dotlockfile write, or another host's) when it is
 * older than stale_secs.  "now" is the mtime of our own temporary file,
 * so clock skew with an NFS server is moot.  Holders of long locks keep
 * them fresh (see lock_refresh).  A lock of this host, or one naming no
 * host, that is older than this boot is stale whatever pid it names:
 * its holder died with the power, and the pid may belong to anyone now.
 */
static int
dotlock_stale(const struct maildrop *md, time_t now, long *dead)
{
	struct stat st;
	time_t boot;
	long pid;
	int local;

	*dead = 0;
	if (lstat(md->lockpath, &st) != 0)
		return 0;
	pid = dotlock_pid(md, &local);
	boot = boot_time();
	if ((pid == 0 || local) && boot > 0 && st.st_mtime < boot)
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
	int n = snprintf(buf, size, "%s.%ld.%s", md->lockpath, pid, host);

	return n >= 0 && (size_t)n < size ? 0 : -1;
}

/*
 * Unique files of this host's lockers that no process owns any more:
 * their pid is gone, or they are older than this boot (a power cut
 * between creating one and removing it).  Called holding the dotlock,
 * in the spool group; a live locker's file is fresh and its pid alive.
 */
static void
dotlock_sweep_unique(const struct maildrop *md, const char *host)
{
	char dir[PATH_MAX], *end;
	const char *base = strrchr(md->lockpath, '/'), *name;
	size_t blen;
	struct dirent *de;
	struct stat st;
	time_t boot = boot_time();
	long pid;
	DIR *d;

	base = base == NULL ? md->lockpath : base + 1;
	blen = strlen(base);
	dir_of(md->lockpath, dir);
	if ((d = opendir(dir)) == NULL) {
		syslog(LOG_WARNING, "opendir %s: %s", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		name = de->d_name;
		if (strncmp(name, base, blen) != 0 || name[blen] != '.')
			continue;
		errno = 0;
		pid = strtol(name + blen + 1, &end, 10);
		if (errno != 0 || end == name + blen + 1 || *end != '.' ||
		    strcmp(end + 1, host) != 0 || pid <= 0 ||
		    pid == (long)getpid() ||
		    fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (!(boot > 0 && st.st_mtime < boot) &&
		    (pid > INT_MAX || kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		if (unlinkat(dirfd(d), name, 0) == 0)
			syslog(LOG_NOTICE, "removed %s/%s, left by a dead "
			    "locker", dir, name);
	}
	(void)closedir(d);
}

/*
 * liblockfile's NFS-safe way: create a unique file, link() it to
 * PATH.lock and trust the link count, not link()'s return value.  Its
 * content is fsynced before the link, so a power cut never leaves an
 * empty PATH.lock (which others would respect for stale_secs).
 */
static enum trylock
dotlock_try(struct maildrop *md)
{
	char tmp[PATH_MAX], tmp_dead[PATH_MAX], host[64], content[128];
	enum trylock r = TRY_BUSY;
	struct stat st;
	long dead;
	int fd, len, saved, linked, failed;

	if (gethostname(host, sizeof(host)) != 0)
		memcpy(host, "localhost", 10);
	host[sizeof(host) - 1] = '\0';
	host[strcspn(host, "/")] = '\0';
	if (dotlock_unique(md, (long)getpid(), host, tmp, sizeof(tmp)) != 0)
		return TRY_ERR;
	len = snprintf(content, sizeof(content), "%ld %s\n", (long)getpid(),
	    host);
	if (spool_raise(md) != 0)
		return TRY_ERR;
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd < 0) {
		saved = errno;
		if (spool_lower(md) != 0)
			return TRY_ERR;
		if (saved == EACCES || saved == EPERM || saved == EROFS)
			return TRY_NOPERM;
		errno = saved;
		syslog(LOG_ERR, "create %s: %s", tmp, strerror(errno));
		return TRY_ERR;
	}
	failed = write(fd, content, (size_t)len) != len || fsync(fd) != 0;
	saved = errno;
	if (close(fd) != 0 && !failed) {
		failed = 1;
		saved = errno;
	}
	if (failed) {
		syslog(LOG_ERR, "write %s: %s", tmp, strerror(saved));
		(void)unlink(tmp);
		(void)spool_lower(md);
		return TRY_ERR;
	}
	linked = link(tmp, md->lockpath) == 0;
	saved = linked ? 0 : errno;
	if (stat(tmp, &st) != 0) {
		syslog(LOG_ERR, "stat %s: %s", tmp, strerror(errno));
		r = TRY_ERR;
	} else if (linked || st.st_nlink == 2) {
		r = TRY_OK;
		dotlock_sweep_unique(md, host);
	} else if (saved != EEXIST) {
		/* not "someone holds it": a full disk, an I/O error, or a
		   file system without hard links; waiting will not help */
		syslog(LOG_ERR, "link %s: %s", md->lockpath, strerror(saved));
		r = saved == EPERM || saved == EACCES || saved == EROFS ?
		    TRY_NOPERM : TRY_ERR;
	} else if (dotlock_stale(md, st.st_mtime, &dead)) {
		syslog(LOG_NOTICE, "breaking stale lock %s", md->lockpath);
		(void)unlink(md->lockpath);
		/* a pop3d killed before it removed its unique file left
		   that too: same name as ours, with the dead pid */
		if (dead > 0 && dotlock_unique(md, dead, host, tmp_dead,
		    sizeof(tmp_dead)) == 0)
			(void)unlink(tmp_dead);
	}
	if (unlink(tmp) != 0 && r == TRY_OK)
		syslog(LOG_WARNING, "unlink %s: %s", tmp, strerror(errno));
	if (spool_lower(md) != 0) {
		if (r == TRY_OK)
			(void)spool_unlink(md, md->lockpath);
		return TRY_ERR;
	}
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

static enum md_status
lock_take(struct maildrop *md, const char **why)
{
	struct timespec start, now;
	enum trylock f, d;

	block_signals(&md->oldmask);
	(void)clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		f = fcntl_try(md);
		d = TRY_BUSY;
		if (f == TRY_OK) {
			d = dotlock_try(md);
			if (d == TRY_OK || d == TRY_NOPERM) {
				if (d == TRY_NOPERM)
					syslog(LOG_WARNING, "no permission "
					    "to create %s; locking with "
					    "fcntl only", md->lockpath);
				md->have_fcntl = 1;
				md->have_dot = d == TRY_OK;
				md->lock_touched = start.tv_sec;
				return MD_OK;
			}
			fcntl_release(md);
		}
		if (f == TRY_ERR || d == TRY_ERR) {
			*why = "cannot lock the mailbox";
			break;
		}
		(void)clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= md->cfg.lock_wait) {
			syslog(LOG_NOTICE, "%s is locked by another process",
			    md->path);
			*why = "mailbox is locked by another process";
			(void)sigprocmask(SIG_SETMASK, &md->oldmask, NULL);
			return MD_INUSE;
		}
		msleep(LOCK_RETRY_MS);
	}
	(void)sigprocmask(SIG_SETMASK, &md->oldmask, NULL);
	return MD_TEMP;
}

/* A long update touches its dotlock so no one takes it for stale. */
static void
lock_refresh(struct maildrop *md)
{
	struct timespec now;

	if (!md->have_dot)
		return;
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - md->lock_touched < LOCK_REFRESH_SECS)
		return;
	md->lock_touched = now.tv_sec;
	if (utimensat(AT_FDCWD, md->lockpath, NULL, AT_SYMLINK_NOFOLLOW) != 0)
		syslog(LOG_WARNING, "touch %s: %s", md->lockpath,
		    strerror(errno));
}

static void
lock_release(struct maildrop *md)
{
	/* a dotlock left behind blocks procmail for 17 minutes: retry a
	   transient failure (EIO, EINTR on NFS) a few times */
	for (int tries = 0; md->have_dot && tries < 3; tries++) {
		if (spool_unlink(md, md->lockpath) == 0)
			break;
		syslog(LOG_ERR, "remove %s: %s", md->lockpath, strerror(errno));
		msleep(LOCK_RETRY_MS);
	}
	if (md->have_fcntl)
		fcntl_release(md);
	md->have_dot = md->have_fcntl = 0;
	(void)sigprocmask(SIG_SETMASK, &md->oldmask, NULL);
}

/* ---------------------------------------------------------------- */
/* The scanner: one streaming pass that finds every message and its  */
/* exact size, and fingerprints the file in blocks of whole messages. */

struct scan_msg {
	uint64_t off, end, size;
	uint32_t sep_len;
	int hidden;
};

/* Called for each message found; returns 0 to go on, -1 to stop. */
typedef int scan_fn(struct maildrop *md, const struct scan_msg *m,
    void *arg);

struct scanner {
	struct maildrop *md;
	scan_fn *fn;
	void *arg;
	uint64_t from;
	struct scan_msg m;
	int have_msg;
	int in_line;		/* a line began in an earlier buffer */
	uint64_t line_off;
	int line_is_sep;	/* the current line is the From_ line */
	int pending;		/* a blank line waits for the next line */
	uint64_t pend_off;
	unsigned pend_len;
	int in_header;		/* first message's header (X-IMAP check) */
	char last_byte;		/* last byte of the previous buffer */
	int stopped;
};

static int
is_from_line(const char *p, size_t avail)
{
	return avail >= 6 && memcmp(p, "From ", 5) == 0 && p[5] != ' ' &&
	    p[5] != '\t' && p[5] != '\r' && p[5] != '\n';
}

static int
is_imap_header(const char *p, size_t avail)
{
	return (avail >= 7 && strncasecmp(p, "X-IMAP:", 7) == 0) ||
	    (avail >= 11 && strncasecmp(p, "X-IMAPbase:", 11) == 0);
}

static int
scan_finish_msg(struct scanner *s)
{
	if (!s->have_msg)
		return 0;
	s->have_msg = 0;
	if (s->fn(s->md, &s->m, s->arg) != 0) {
		s->stopped = 1;
		return -1;
	}
	return 0;
}

/* A line starts at p (file offset off); avail bytes of it are here. */
static int
scan_line_start(struct scanner *s, const char *p, size_t avail,
    uint64_t off)
{
	int sep = is_from_line(p, avail) &&
	    (off == s->from || s->pending);

	s->line_off = off;
	s->line_is_sep = sep;
	if (sep) {
		if (scan_finish_msg(s) != 0)
			return -1;
		memset(&s->m, 0, sizeof(s->m));
		s->m.off = off;
		s->m.end = off;
		s->have_msg = 1;
		s->in_header = off == 0;
		s->pending = 0;
		return 0;
	}
	if (!s->have_msg)
		return -1;	/* caller reports: not an mbox */
	if (s->pending) {
		/* the blank line was part of the body after all */
		s->m.size += 2;
		s->m.end = s->pend_off + s->pend_len;
		s->pending = 0;
	}
	if (s->in_header && is_imap_header(p, avail) &&
	    s->md->nmsg == 0)
		s->m.hidden = 1;
	return 0;
}

/* The current line ends at q (its LF) or, with q == NULL, at EOF. */
static void
scan_line_end(struct scanner *s, const char *buf, const char *q,
    uint64_t end_off)
{
	uint64_t len = end_off - s->line_off;
	char before = q == NULL ? 0 : q > buf ? q[-1] : s->last_byte;
	int cr = q != NULL && before == '\r';

	if (s->line_is_sep) {
		s->m.sep_len = (uint32_t)len;
		s->m.end = end_off;
		return;
	}
	if (q != NULL && (len == 1 || (len == 2 && cr))) {
		/* an empty line: the body's end, unless more body follows */
		s->in_header = 0;
		s->pending = 1;
		s->pend_off = s->line_off;
		s->pend_len = (unsigned)len;
		return;
	}
	/* LF becomes CRLF; a CRLF stays; a last line without LF gets CRLF */
	s->m.size += len + (q == NULL ? 2 : !cr);
	s->m.end = end_off;
}

/*
 * Feed one buffer holding the file bytes [base, base + len).  Returns the
 * number of bytes consumed; the rest (a short line head) is carried over.
 */
static size_t
scan_buffer(struct scanner *s, const char *buf, size_t len, uint64_t base,
    int final)
{
	const char *p = buf, *e = buf + len, *q;

	while (p < e) {
		q = memchr(p, '\n', (size_t)(e - p));
		if (!s->in_line) {
			if (q == NULL && e - p < HEAD_MIN && !final)
				break;	/* carry the short head over */
			if (scan_line_start(s, p, (size_t)((q != NULL ?
			    q + 1 : e) - p), base + (uint64_t)(p - buf)) != 0) {
				s->stopped = 1;
				return 0;
			}
			s->in_line = 1;
		}
		if (q == NULL) {
			p = e;
			break;
		}
		scan_line_end(s, buf, q, base + (uint64_t)(q + 1 - buf));
		s->in_line = 0;
		p = q + 1;
	}
	if (p > buf)
		s->last_byte = p[-1];
	return (size_t)(p - buf);
}

static enum md_status
scan(struct maildrop *md, uint64_t from, uint64_t to, scan_fn *fn,
    void *arg, const char **why)
{
	struct scanner s;
	uint64_t off = from;
	size_t carry = 0, used;
	enum md_status st = MD_OK;

	memset(&s, 0, sizeof(s));
	s.md = md;
	s.fn = fn;
	s.arg = arg;
	s.from = from;
	if (md->buf == NULL &&
	    (md->buf = malloc(SCAN_BUF + HEAD_MIN)) == NULL) {
		*why = "out of memory";
		st = MD_TEMP;
		goto out;
	}
	while (off < to || carry > 0) {
		size_t want = SCAN_BUF - carry;
		ssize_t n = 0;

		if (want > to - off)
			want = (size_t)(to - off);
		if (want > 0 && (n = pread_full(md->fd, md->buf + carry,
		    want, off)) != (ssize_t)want) {
			if (n < 0) {
				syslog(LOG_ERR, "read %s: %s", md->path,
				    strerror(errno));
				*why = "cannot read the mailbox";
			} else
				*why = "mailbox was changed by another program";
			st = MD_TEMP;
			goto out;
		}
		used = scan_buffer(&s, md->buf, carry + (size_t)n,
		    off - carry, off + (uint64_t)n == to);
		if (s.stopped)
			break;
		off += (uint64_t)n;
		carry = carry + (size_t)n - used;
		if (carry > 0 && used > 0)
			memmove(md->buf, md->buf + used, carry);
	}
	if (!s.stopped) {
		if (s.in_line)
			scan_line_end(&s, md->buf, NULL, to);
		(void)scan_finish_msg(&s);
	}
	if (s.stopped) {
		*why = "mailbox was changed by another program";
		st = MD_TEMP;
	}
out:
	return st;
}

/* ---------------------------------------------------------------- */
/* Work for the second core: a job returns NULL when it succeeded.   */
/* Without a thread (none can be made) it runs in this one instead.  */

struct worker {
	void *(*job)(void *);
	void *arg;
	pthread_t thread;
	int started;
};

static void
worker_start(struct worker *w, void *(*job)(void *), void *arg)
{
	w->job = job;
	w->arg = arg;
	w->started = pthread_create(&w->thread, NULL, job, arg) == 0;
}

/* Wait for the job (or run it now); 0 if it succeeded. */
static int
worker_finish(struct worker *w)
{
	void *r;

	if (!w->started)
		return w->job(w->arg) == NULL ? 0 : -1;
	return pthread_join(w->thread, &r) == 0 && r == NULL ? 0 : -1;
}

/* ---------------------------------------------------------------- */
/* Fingerprints: proof that bytes are still the ones indexed         */
/*
 * Between login and QUIT the file is not locked, and mail delivered
 * meanwhile changes its size and times, so metadata cannot tell an append
 * from a rewrite -- nor can From_ lines and sizes, which cron mail, say,
 * shares.  So while indexing, every TAG_BLOCK of the file gets a Poly1305
 * tag under a random key of this process (OpenSSL's EVP_MAC, ~10 GB/s),
 * computed by a second thread while the first finds the messages.
 * Once the file has changed, whatever is read as "what the client saw"
 * (a message to send, the bytes an update keeps or cuts, the digests of
 * UIDL) is first proven against the tags of the blocks it lies in.  The
 * key never leaves the process: nobody can make other bytes match.
 */

static int
tags_setup(struct maildrop *md)
{
	uint64_t bs = TAG_BLOCK;

	while ((md->size + bs - 1) / bs > TAG_MAX_BLOCKS)
		bs *= 2;
	md->blk_size = bs;
	md->nblk = (size_t)((md->size + bs - 1) / bs);
	if ((md->mac = EVP_MAC_fetch(NULL, "POLY1305", NULL)) == NULL ||
	    getrandom(md->key, sizeof(md->key), 0) != (ssize_t)sizeof(md->key))
		return -1;
	return (md->blk = calloc(md->nblk, sizeof(*md->blk))) != NULL ? 0 : -1;
}

/* The tag of block b as the file holds it now, read with buffer buf. */
static int
block_tag(struct maildrop *md, size_t b, char *buf, size_t bufsize,
    unsigned char tag[TAG_LEN])
{
	uint64_t off = (uint64_t)b * md->blk_size;
	uint64_t end = off + md->blk_size < md->size ? off + md->blk_size :
	    md->size;
	EVP_MAC_CTX *ctx;
	size_t len;
	int r = -1;

	if ((ctx = EVP_MAC_CTX_new(md->mac)) == NULL ||
	    EVP_MAC_init(ctx, md->key, sizeof(md->key), NULL) != 1)
		goto out;
	while (off < end) {
		size_t n = end - off > bufsize ? bufsize : (size_t)(end - off);
		if (pread_full(md->fd, buf, n, off) != (ssize_t)n ||
		    EVP_MAC_update(ctx, (unsigned char *)buf, n) != 1)
			goto out;
		off += n;
	}
	r = EVP_MAC_final(ctx, tag, &len, TAG_LEN) == 1 ? 0 : -1;
out:
	EVP_MAC_CTX_free(ctx);
	return r;
}

/*
 * Tag every block.  This runs in a thread of its own while the main
 * thread indexes the same locked file: it only reads the file into its
 * own buffer and writes md->blk[], which nobody reads until it is joined.
 */
static void *
tag_all_blocks(void *arg)
{
	struct maildrop *md = arg;
	char *buf;
	int err = 0;

	if ((buf = malloc(SCAN_BUF)) == NULL)
		return md;
	for (size_t b = 0; b < md->nblk && !err; b++)
		err = block_tag(md, b, buf, SCAN_BUF, md->blk[b].tag) != 0;
	free(buf);
	return err ? md : NULL;
}

/* Does block b still hold the bytes it held when indexed? */
static int
block_intact(struct maildrop *md, size_t b)
{
	unsigned char tag[TAG_LEN];

	if (md->ibuf == NULL && (md->ibuf = malloc(SEND_CHUNK)) == NULL)
		return 0;
	return block_tag(md, b, md->ibuf, SEND_CHUNK, tag) == 0 &&
	    CRYPTO_memcmp(tag, md->blk[b].tag, TAG_LEN) == 0;
}

/*
 * Are the indexed bytes [from, to) still there, unchanged?  Free while
 * nothing has written to the file; otherwise each block is proven once
 * for as long as the file then stays as it is.
 */
static int
range_intact(struct maildrop *md, uint64_t from, uint64_t to)
{
	struct stat st;

	if (fstat(md->fd, &st) != 0)
		return 0;
	if (same_snapshot(&st, &md->snap))
		return 1;
	if (st.st_ino != md->snap.st_ino || st.st_dev != md->snap.st_dev ||
	    (uint64_t)st.st_size < md->size)
		return 0;
	if (!same_snapshot(&st, &md->vsnap)) {
		for (size_t b = 0; b < md->nblk; b++)
			md->blk[b].ok = 0;
		md->vsnap = st;
	}
	for (size_t b = (size_t)(from / md->blk_size);
	    from < to && b <= (size_t)((to - 1) / md->blk_size); b++) {
		if (!md->blk[b].ok && !block_intact(md, b))
			return 0;
		md->blk[b].ok = 1;
	}
	return 1;
}

/* ---------------------------------------------------------------- */
/* Opening: lock, recover, index, unlock                             */

static enum md_status journal_recover(struct maildrop *md,
    const char **why);

static int
index_add(struct maildrop *md, const struct scan_msg *m, void *arg)
{
	struct md_msg *e;

	(void)arg;
	if (md->nmsg == md->cap) {
		unsigned cap = md->cap == 0 ? 1024 : md->cap * 2;
		struct md_msg *n;

		if (md->cap >= MAX_MSGS)
			return -1;
		if (cap > MAX_MSGS)
			cap = MAX_MSGS;
		if ((n = realloc(md->msg, cap * sizeof(*n))) == NULL)
			return -1;
		md->msg = n;
		md->cap = cap;
	}
	e = &md->msg[md->nmsg++];
	e->off = m->off;
	e->end = m->end;
	e->size = m->size;
	e->sep_len = m->sep_len;
	e->flags = m->hidden && md->nmsg == 1 ? F_HIDDEN : 0;
	return 0;
}

/* Is the file's first line a From_ line?  (Empty files are fine.) */
static enum md_status
check_mbox_start(struct maildrop *md, uint64_t size, const char **why)
{
	char head[6];
	ssize_t n;

	if (size == 0)
		return MD_OK;
	if ((n = pread_full(md->fd, head, sizeof(head), 0)) < 0) {
		syslog(LOG_ERR, "read %s: %s", md->path, strerror(errno));
		*why = "cannot read the mailbox";
		return MD_TEMP;
	}
	if (!is_from_line(head, (size_t)n)) {
		syslog(LOG_ERR, "%s does not start with a From_ line; "
		    "refusing to guess where messages begin", md->path);
		*why = "mailbox is not in mbox format";
		return MD_PERM;
	}
	return MD_OK;
}

static enum md_status
index_mailbox(struct maildrop *md, const char **why)
{
	struct worker tagger;
	enum md_status st;

	if (fstat(md->fd, &md->snap) != 0) {
		syslog(LOG_ERR, "fstat %s: %s", md->path, strerror(errno));
		*why = "cannot read the mailbox";
		return MD_TEMP;
	}
	md->size = (uint64_t)md->snap.st_size;
	md->vsnap = md->snap;
	if ((st = check_mbox_start(md, md->size, why)) != MD_OK)
		return st;
	if (md->size == 0)
		return MD_OK;
	if (tags_setup(md) != 0) {
		syslog(LOG_ERR, "cannot set up Poly1305 from OpenSSL");
		*why = "cannot fingerprint the mailbox";
		return MD_TEMP;
	}
	/* the fingerprints on the other core, if there is one */
	worker_start(&tagger, tag_all_blocks, md);
	st = scan(md, 0, md->size, index_add, NULL, why);
	if (worker_finish(&tagger) != 0) {
		syslog(LOG_ERR, "cannot fingerprint %s", md->path);
		if (st == MD_OK) {
			*why = "cannot fingerprint the mailbox";
			st = MD_TEMP;
		}
	}
	if (st == MD_TEMP && md->nmsg >= MAX_MSGS) {
		syslog(LOG_ERR, "%s has more than %u messages", md->path,
		    MAX_MSGS);
		*why = "too many messages in the mailbox";
		return MD_PERM;
	}
	if (st == MD_OK && md->nmsg > 0 && (md->msg[0].flags & F_HIDDEN))
		md->first = 1;
	return st;
}

static int
make_paths(struct maildrop *md, const char *path)
{
	md->path = strdup(path);
	md->lockpath = str_concat(path, ".lock");
	md->jpath = str_concat(path, ".pop3d-journal");
	md->jtmp = str_concat(path, ".pop3d-journal.tmp");
	return md->path && md->lockpath && md->jpath && md->jtmp ? 0 : -1;
}

static enum md_status
maildrop_new(struct maildrop **mdp, const struct md_config *cfg,
    const char **why)
{
	struct maildrop *md;

	if ((*mdp = md = calloc(1, sizeof(*md))) == NULL) {
		*why = "out of memory";
		return MD_TEMP;
	}
	md->cfg = *cfg;
	md->fd = -1;
	if (make_paths(md, cfg->path) != 0) {
		maildrop_close(md);
		*mdp = NULL;
		*why = "mailbox path too long";
		return MD_PERM;
	}
	return MD_OK;
}

static enum md_status
open_file(struct maildrop *md, const char **why)
{
	int flags = O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	struct stat st;

	md->fd = open(md->path, O_RDWR | flags);
	if (md->fd < 0 && (errno == EACCES || errno == EROFS)) {
		md->fd = open(md->path, O_RDONLY | flags);
		md->readonly = 1;
	}
	if (md->fd < 0) {
		if (errno == ENOENT)
			return MD_OK;	/* no mailbox: an empty maildrop */
		syslog(LOG_ERR, "open %s: %s", md->path, strerror(errno));
		*why = errno == EACCES ? "no permission to read the mailbox" :
		    "cannot open the mailbox";
		return errno == EACCES || errno == ELOOP ? MD_PERM : MD_TEMP;
	}
	if (fstat(md->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		syslog(LOG_ERR, "%s is not a regular file", md->path);
		*why = "mailbox is not a regular file";
		return MD_PERM;
	}
	/* back to blocking reads; O_NONBLOCK only kept open() off FIFOs */
	if (fcntl(md->fd, F_SETFL, O_RDONLY) != 0) {
		*why = "cannot open the mailbox";
		return MD_TEMP;
	}
	return MD_OK;
}

enum md_status
maildrop_open(struct maildrop **mdp, const struct md_config *cfg,
    const char **why)
{
	struct maildrop *md;
	enum md_status st;

	*mdp = NULL;
	*why = NULL;
	if ((st = maildrop_new(&md, cfg, why)) != MD_OK)
		return st;
	if ((st = open_file(md, why)) != MD_OK || md->fd < 0) {
		if (st == MD_OK)
			*mdp = md;
		else
			maildrop_close(md);
		return st;
	}
	if ((st = lock_take(md, why)) != MD_OK) {
		maildrop_close(md);
		return st;
	}
	st = journal_recover(md, why);
	if (st == MD_OK)
		st = index_mailbox(md, why);
	lock_release(md);
	free(md->buf);	/* the index pass is over; keep RSS small */
	md->buf = NULL;
	if (st != MD_OK) {
		maildrop_close(md);
		return st;
	}
	*mdp = md;
	return MD_OK;
}

void
maildrop_close(struct maildrop *md)
{
	gid_t g = getgid();

	if (md == NULL)
		return;
	/* the spool group is not needed any more: forget it for good */
	if (md->cfg.spool_gid != (gid_t)-1 && setresgid(g, g, g) != 0)
		syslog(LOG_ERR, "cannot drop the spool group: %s",
		    strerror(errno));
	if (md->fd >= 0 && close(md->fd) != 0)
		syslog(LOG_ERR, "close %s: %s", md->path, strerror(errno));
	free(md->path);
	free(md->lockpath);
	free(md->jpath);
	free(md->jtmp);
	free(md->msg);
	free(md->dig);
	free(md->buf);
	free(md->ibuf);
	free(md->obuf);
	free(md->blk);
	EVP_MAC_free(md->mac);
	explicit_bzero(md->key, sizeof(md->key));
	free(md);
}

/* ---------------------------------------------------------------- */
/* Queries                                                           */

static struct md_msg *
msg_of(const struct maildrop *md, unsigned n)
{
	return &md->msg[md->first + n - 1];
}

unsigned
maildrop_count(const struct maildrop *md)
{
	return md->nmsg - md->first;
}

int
maildrop_valid(const struct maildrop *md, unsigned n)
{
	return n >= 1 && n <= maildrop_count(md);
}

int
maildrop_deleted(const struct maildrop *md, unsigned n)
{
	return (msg_of(md, n)->flags & F_DELETED) != 0;
}

uint64_t
maildrop_size(const struct maildrop *md, unsigned n)
{
	return msg_of(md, n)->size;
}

void
maildrop_stat(const struct maildrop *md, unsigned *count, uint64_t *octets)
{
	*count = 0;
	*octets = 0;
	for (unsigned n = 1; n <= maildrop_count(md); n++)
		if (!maildrop_deleted(md, n)) {
			(*count)++;
			*octets += maildrop_size(md, n);
		}
}

void
maildrop_delete(struct maildrop *md, unsigned n)
{
	msg_of(md, n)->flags |= F_DELETED;
}

void
maildrop_undelete_all(struct maildrop *md)
{
	for (unsigned i = 0; i < md->nmsg; i++)
		md->msg[i].flags &= ~F_DELETED;
}

void
maildrop_delete_stats(const struct maildrop *md, unsigned *count,
    uint64_t *octets)
{
	*count = 0;
	*octets = 0;
	for (unsigned n = 1; n <= maildrop_count(md); n++)
		if (maildrop_deleted(md, n)) {
			(*count)++;
			*octets += maildrop_size(md, n);
		}
}

/* ---------------------------------------------------------------- */
/* UIDL: a digest of each message's From_ line and body, computed    */
/* the first time a client asks, so STAT-only sessions never pay.    */

static int
digest_cmp(const void *a, const void *b, void *arg)
{
	const struct md_digest *dig = arg;
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	int c = memcmp(dig[x].d, dig[y].d, sizeof(dig[x].d));

	return c != 0 ? c : (x > y) - (x < y);
}

/* Byte-identical copies are told apart by their order: -2, -3, ... */
static int
number_duplicates(struct maildrop *md)
{
	unsigned *order, i;

	if ((order = malloc((md->nmsg + 1) * sizeof(*order))) == NULL)
		return -1;
	for (i = 0; i < md->nmsg; i++)
		order[i] = i;
	qsort_r(order, md->nmsg, sizeof(*order), digest_cmp, md->dig);
	for (i = 0; i < md->nmsg; i++) {
		struct md_digest *d = &md->dig[order[i]];
		d->dup = 1;
		if (i > 0 && memcmp(d->d, md->dig[order[i - 1]].d,
		    sizeof(d->d)) == 0)
			d->dup = md->dig[order[i - 1]].dup + 1;
	}
	free(order);
	return 0;
}

/*
 * A message's digest is SHA-256 over its From_ line and body, which lie
 * contiguous in [off, end): big sequential reads, each message's part fed
 * to its own digest, no second look at lines.  The caller proves the bytes
 * are the indexed ones, before and after.
 */
struct hash_job {
	struct maildrop *md;
	unsigned first, last;	/* messages [first, last) */
};

/* Digests of one job's messages, into md->dig[first..last) only, with a
   buffer of its own: two jobs may run at once.  NULL if all were done. */
static void *
hash_range(void *arg)
{
	struct hash_job *job = arg;
	struct maildrop *md = job->md;
	unsigned char d[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *h;
	uint64_t off = md->msg[job->first].off;
	uint64_t stop = msg_range_end(md, job->last - 1);
	unsigned i = job->first;
	int open = 0;
	char *buf;

	if ((buf = malloc(SCAN_BUF)) == NULL)
		return job;
	if ((h = EVP_MD_CTX_new()) == NULL)
		goto out;
	while (i < job->last) {
		size_t n = stop - off > SCAN_BUF ? SCAN_BUF :
		    (size_t)(stop - off);
		uint64_t cend = off + n;

		if (n == 0 || pread_full(md->fd, buf, n, off) != (ssize_t)n)
			break;
		for (; i < job->last; i++) {
			const struct md_msg *m = &md->msg[i];
			uint64_t a = m->off > off ? m->off : off;
			uint64_t b = m->end < cend ? m->end : cend;

			if (!open && EVP_DigestInit_ex(h, EVP_sha256(), NULL) !=
			    1)
				goto out;
			open = 1;
			if (b > a && EVP_DigestUpdate(h, buf + (a - off),
			    (size_t)(b - a)) != 1)
				goto out;
			if (m->end > cend)
				break;	/* goes on in the next read */
			if (EVP_DigestFinal_ex(h, d, NULL) != 1)
				goto out;
			memcpy(md->dig[i].d, d, sizeof(md->dig[i].d));
			open = 0;
		}
		off = cend;
	}
out:
	EVP_MD_CTX_free(h);
	free(buf);
	return i == job->last ? NULL : job;
}

/*
 * SHA-256 is the whole cost of a first UIDL: on a big mailbox the second
 * half of the messages (by bytes) is hashed by a second thread.
 */
static enum md_status
hash_messages(struct maildrop *md)
{
	struct hash_job a = { md, 0, md->nmsg }, b = { md, 0, 0 };
	uint64_t half = md->msg[0].off + (md->size - md->msg[0].off) / 2;
	unsigned lo = 0, hi = md->nmsg - 1;
	struct worker second;
	int ok;

	if (md->size < HASH_SPLIT_MIN)
		return hash_range(&a) == NULL ? MD_OK : MD_TEMP;
	while (lo < hi) {	/* the first message starting past half */
		unsigned mid = lo + (hi - lo) / 2;
		if (md->msg[mid].off > half)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == 0 || md->msg[lo].off <= half)	/* one big message */
		return hash_range(&a) == NULL ? MD_OK : MD_TEMP;
	a.last = b.first = lo;
	b.last = md->nmsg;
	worker_start(&second, hash_range, &b);
	ok = hash_range(&a) == NULL;
	ok = worker_finish(&second) == 0 && ok;
	return ok ? MD_OK : MD_TEMP;
}

static enum md_status
compute_digests(struct maildrop *md, const char **why)
{
	enum md_status st = MD_TEMP;

	if ((md->dig = calloc(md->nmsg + 1, sizeof(*md->dig))) == NULL) {
		*why = "out of memory";
		return MD_TEMP;
	}
	*why = "mailbox was changed by another program; please reconnect";
	if (range_intact(md, 0, md->size) && hash_messages(md) == MD_OK &&
	    range_intact(md, 0, md->size))
		st = MD_OK;
	if (st == MD_OK && number_duplicates(md) != 0) {
		*why = "out of memory";
		st = MD_TEMP;
	}
	if (st != MD_OK) {
		syslog(LOG_NOTICE, "%s: no UIDLs: %s", md->path, *why);
		free(md->dig);
		md->dig = NULL;
	}
	return st;
}

enum md_status
maildrop_uidl(struct maildrop *md, unsigned n, char uidl[MD_UIDL_MAX + 1],
    const char **why)
{
	static const char hex[] = "0123456789abcdef";
	const struct md_digest *d;
	enum md_status st;
	char *p = uidl;

	if (md->dig == NULL && (st = compute_digests(md, why)) != MD_OK)
		return st;
	d = &md->dig[md->first + n - 1];
	for (size_t i = 0; i < sizeof(d->d); i++) {
		*p++ = hex[d->d[i] >> 4];
		*p++ = hex[d->d[i] & 15];
	}
	*p = '\0';
	if (d->dup > 1)
		(void)snprintf(p, MD_UIDL_MAX + 1 - (size_t)(p - uidl),
		    "-%u", (unsigned)d->dup);
	return MD_OK;
}

/* ---------------------------------------------------------------- */
/* Sending a message: LF to CRLF and byte-stuffing in one pass       */

struct emit {
	md_write_fn *out;
	void *ctx;
	char *obuf;
	size_t olen;
	int line_start;		/* the next byte begins a line */
	char prev;		/* the byte before, across chunks */
	uint64_t line_len;	/* bytes of the current line so far */
	int in_body;		/* past the header's blank line */
	long lines;		/* body lines still wanted; < 0: all */
	int done;		/* TOP has sent what was asked */
	uint64_t sent;		/* octets, not counting stuffed dots */
};

/* Convert one chunk of message bytes; output goes to e->obuf. */
static void
emit_chunk(struct emit *e, const char *p, size_t n)
{
	const char *end = p + n, *q;
	char *o = e->obuf + e->olen;

	while (p < end && !e->done) {
		if (e->line_start && *p == '.')
			*o++ = '.';	/* RFC 1939 section 3: byte-stuff */
		e->line_start = 0;
		q = memchr(p, '\n', (size_t)(end - p));
		if (q == NULL) {
			memcpy(o, p, (size_t)(end - p));
			o += end - p;
			e->sent += (uint64_t)(end - p);
			e->line_len += (uint64_t)(end - p);
			e->prev = end[-1];
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		e->line_len += (uint64_t)(q - p);
		if ((q > p ? q[-1] : e->prev) != '\r') {
			*o++ = '\r';
			e->sent++;
		}
		*o++ = '\n';
		e->sent += (uint64_t)(q - p) + 1;
		if (e->in_body) {
			if (e->lines > 0 && --e->lines == 0)
				e->done = 1;
		} else if (e->line_len == 0 ||
		    (e->line_len == 1 && (q > p ? q[-1] : e->prev) == '\r')) {
			e->in_body = 1;		/* the header ends here */
			if (e->lines == 0)
				e->done = 1;
		}
		e->line_len = 0;
		e->line_start = 1;
		e->prev = '\n';
		p = q + 1;
	}
	e->olen = (size_t)(o - e->obuf);
}

static enum md_status
send_body(struct maildrop *md, const struct md_msg *m, struct emit *e,
    const char **why)
{
	uint64_t off = m->off + m->sep_len;
	enum md_status st = MD_OK;
	size_t chunk;
	char *ibuf;

	/* kept for the session: many small RETRs must not each allocate */
	if (md->ibuf == NULL && (md->ibuf = malloc(SEND_CHUNK)) == NULL) {
		*why = "out of memory";
		return MD_TEMP;
	}
	if (md->obuf == NULL &&
	    (md->obuf = malloc(2 * SEND_CHUNK + 2)) == NULL) {
		*why = "out of memory";
		return MD_TEMP;
	}
	ibuf = md->ibuf;
	e->obuf = md->obuf;
	/* TOP usually wants a header of a few KB: do not read 256 KB */
	chunk = e->lines >= 0 ? TOP_FIRST_READ : SEND_CHUNK;
	while (off < m->end && !e->done) {
		size_t want = m->end - off > chunk ? chunk :
		    (size_t)(m->end - off);
		ssize_t n = pread_full(md->fd, ibuf, want, off);

		chunk = SEND_CHUNK;
		if (n != (ssize_t)want) {
			syslog(LOG_ERR, "%s shrank while a message was sent",
			    md->path);
			*why = "mailbox was changed by another program";
			st = MD_TEMP;
			break;
		}
		e->olen = 0;
		emit_chunk(e, ibuf, want);
		off += want;
		if (off == m->end && !e->done && !e->line_start) {
			/* a last line without LF gets CRLF */
			memcpy(e->obuf + e->olen, "\r\n", 2);
			e->olen += 2;
			e->sent += 2;
		}
		if (e->out(e->ctx, e->obuf, e->olen) != 0) {
			st = MD_CLIENT;
			break;
		}
	}
	return st;
}

enum md_status
maildrop_check(struct maildrop *md, unsigned n, const char **why)
{
	unsigned i = md->first + n - 1;

	if (!range_intact(md, md->msg[i].off, msg_range_end(md, i))) {
		syslog(LOG_NOTICE, "%s: message %u changed under the session",
		    md->path, n);
		*why = "mailbox was changed by another program; "
		    "please reconnect";
		return MD_TEMP;
	}
	return MD_OK;
}

enum md_status
maildrop_send(struct maildrop *md, unsigned n, long lines,
    md_write_fn *out, void *ctx, const char **why)
{
	unsigned i = md->first + n - 1;
	const struct md_msg *m = &md->msg[i];
	struct emit e;
	enum md_status st;

	*why = NULL;
	memset(&e, 0, sizeof(e));
	e.out = out;
	e.ctx = ctx;
	e.line_start = 1;
	e.lines = lines;
	st = send_body(md, m, &e, why);
	if (st == MD_OK && !e.done && e.sent != m->size)
		st = MD_TEMP;
	/* proven before the "+OK"; prove it again now it has been read */
	if (st == MD_OK && !range_intact(md, m->off, msg_range_end(md, i)))
		st = MD_TEMP;
	if (st == MD_TEMP && *why == NULL) {
		syslog(LOG_ERR, "%s: message %u changed while it was sent",
		    md->path, n);
		*why = "mailbox was changed by another program";
	}
	return st;
}

/* ---------------------------------------------------------------- */
/* The update                                                        */
/*
 * Deleting cuts byte ranges out of the file in place: the file keeps its
 * inode, owner and mode, and only the bytes from the first deleted
 * message on are read and written.  Moving bytes down in place is not
 * crash-safe by itself (a kill halfway leaves a region twice), so:
 *
 *   1. The kept bytes from P (the first deleted message) to the end S1
 *      go into PATH.pop3d-journal.tmp, fsync, rename to
 *      PATH.pop3d-journal, fsync the directory.  This is the commit: from
 *      now on the deletions will happen, whatever crashes.
 *   2. A random marker is written at F = P + K (K = kept bytes), fsync;
 *      the journal's state becomes MARKED, fsync.  The marker tells a
 *      later recovery whether step 4 already cut the file at F.
 *   3. The kept bytes are written at P, fsync.
 *   4. The file is truncated to F, fsync.
 *   5. The journal is removed, fsync the directory.
 *
 * Recovery (under the same locks, at the next open) replays steps 2-5
 * from the journal; mail an MDA appended after the crash is found after
 * S1 (or after F, once truncated) and kept, through a new journal.
 * When nothing is kept after P, one ftruncate() is the whole update.
 */

struct journal {
	int fd;
	uint64_t ino, p, s1, k;
	unsigned char state;
	unsigned mlen;
	unsigned char marker[JMARK_MAX];
};

static void
journal_encode(const struct journal *j, unsigned char *h)
{
	unsigned char d[EVP_MAX_MD_SIZE];

	memset(h, 0, JHDR_SIZE);
	memcpy(h, JMAGIC, 8);
	h[8] = j->state;
	put64(h + 16, j->ino);
	put64(h + 24, j->p);
	put64(h + 32, j->s1);
	put64(h + 40, j->k);
	put64(h + 48, j->mlen);
	memcpy(h + 56, j->marker, JMARK_MAX);
	/* the checksum covers everything but the state byte */
	(void)EVP_Digest(h + 16, 72, d, NULL, EVP_sha256(), NULL);
	memcpy(h + 96, d, 32);
}

static int
journal_decode(struct journal *j, const unsigned char *h)
{
	unsigned char d[EVP_MAX_MD_SIZE];

	if (memcmp(h, JMAGIC, 8) != 0 ||
	    EVP_Digest(h + 16, 72, d, NULL, EVP_sha256(), NULL) != 1 ||
	    memcmp(h + 96, d, 32) != 0)
		return -1;
	j->state = h[8];
	j->ino = get64(h + 16);
	j->p = get64(h + 24);
	j->s1 = get64(h + 32);
	j->k = get64(h + 40);
	j->mlen = (unsigned)get64(h + 48);
	memcpy(j->marker, h + 56, JMARK_MAX);
	if ((j->state != JSTATE_COMMITTED && j->state != JSTATE_MARKED) ||
	    j->mlen == 0 || j->mlen > JMARK_MAX || j->p + j->k >= j->s1)
		return -1;
	return 0;
}

static void
io_error(const struct maildrop *md, const char *what, const char *file,
    const char **why)
{
	int e = errno;

	syslog(LOG_ERR, "%s %s: %s", what, file, strerror(errno));
	if (e == ENOSPC || e == EDQUOT)
		*why = "no space left to update the mailbox; nothing deleted";
	else if (e == EACCES || e == EPERM || e == EROFS)
		*why = "no permission to write next to the mailbox; "
		    "nothing deleted";
	else
		*why = "I/O error while updating the mailbox";
	(void)md;
}

/* Copy [off, off + len) of fd `from` to `to` at `toff`. */
static int
copy_range(struct maildrop *md, int from, uint64_t off, uint64_t len,
    int to, uint64_t toff, const char **err_file)
{
	if (md->buf == NULL && (md->buf = malloc(SCAN_BUF + HEAD_MIN)) ==
	    NULL) {
		errno = ENOMEM;
		*err_file = "memory";
		return -1;
	}
	while (len > 0) {
		size_t n = len > SCAN_BUF ? SCAN_BUF : (size_t)len;
		ssize_t r;

		lock_refresh(md);
		r = pread_full(from, md->buf, n, off);
		if (r != (ssize_t)n) {
			if (r >= 0)
				errno = EIO;
			*err_file = from == md->fd ? md->path : md->jpath;
			return -1;
		}
		if (pwrite_full(to, md->buf, n, toff) != 0) {
			*err_file = to == md->fd ? md->path : md->jtmp;
			return -1;
		}
		off += n;
		toff += n;
		len -= n;
	}
	return 0;
}

static int
new_marker(struct journal *j)
{
	uint64_t room = j->s1 - (j->p + j->k);

	j->mlen = room < JMARK_MAX ? (unsigned)room : JMARK_MAX;
	if (getrandom(j->marker, sizeof(j->marker), 0) !=
	    (ssize_t)sizeof(j->marker))
		return -1;
	j->marker[0] = '\0';	/* appended mail never starts with NUL */
	return 0;
}

/*
 * Write a new journal: its header and the kept bytes, gathered by
 * gather(), then commit it (rename over any old journal).
 */
typedef int gather_fn(struct maildrop *md, int jfd, void *arg,
    const char **err_file);

static enum md_status
journal_commit(struct maildrop *md, struct journal *j, gather_fn *gather,
    void *arg, const char **why)
{
	unsigned char h[JHDR_SIZE];
	const char *err_file = md->jtmp;
	int fd;

	j->state = JSTATE_COMMITTED;
	if (new_marker(j) != 0) {
		*why = "cannot get random bytes";
		return MD_TEMP;
	}
	journal_encode(j, h);
	if (spool_unlink(md, md->jtmp) != 0 || spool_raise(md) != 0) {
		io_error(md, "remove", md->jtmp, why);
		return MD_TEMP;
	}
	fd = open(md->jtmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (spool_lower(md) != 0) {
		if (fd >= 0)
			(void)close(fd);
		*why = "cannot drop privileges";
		return MD_TEMP;
	}
	if (fd < 0) {
		io_error(md, "create", md->jtmp, why);
		return MD_TEMP;
	}
	if (geteuid() == 0) {
		/* pop3d --recover runs as root: a journal it leaves behind
		   must be the mailbox owner's, or the owner's next login
		   cannot open it and finish the update */
		struct stat mst;

		if (fstat(md->fd, &mst) != 0 ||
		    fchown(fd, mst.st_uid, mst.st_gid) != 0) {
			io_error(md, "chown", md->jtmp, why);
			goto fail;
		}
	}
	if (pwrite_full(fd, h, sizeof(h), 0) != 0 ||
	    gather(md, fd, arg, &err_file) != 0 || fsync(fd) != 0) {
		io_error(md, "write", err_file, why);
		goto fail;
	}
	if (spool_raise(md) != 0)
		goto fail;
	if (rename(md->jtmp, md->jpath) != 0) {
		io_error(md, "rename", md->jtmp, why);
		(void)spool_lower(md);
		goto fail;
	}
	if (spool_lower(md) != 0) {
		*why = "cannot drop privileges";
		(void)close(fd);
		return MD_TEMP;	/* committed; recovery will finish it */
	}
	if (fsync_dir_of(md->jpath) != 0) {
		/* the rename may not be durable yet; finishing is still safe */
		syslog(LOG_WARNING, "fsync directory of %s: %s", md->jpath,
		    strerror(errno));
	}
	j->fd = fd;
	return MD_OK;
fail:
	(void)close(fd);
	(void)spool_unlink(md, md->jtmp);
	return MD_TEMP;
}

static int
marker_present(struct maildrop *md, const struct journal *j)
{
	unsigned char buf[JMARK_MAX];

	return pread_full(md->fd, buf, j->mlen, j->p + j->k) ==
	    (ssize_t)j->mlen && memcmp(buf, j->marker, j->mlen) == 0;
}

/* Steps 2-5 of the update, from a committed journal. */
static enum md_status
journal_apply(struct maildrop *md, struct journal *j, const char **why)
{
	unsigned char state = JSTATE_MARKED;
	uint64_t f = j->p + j->k;
	const char *err_file = md->path;

	if (pwrite_full(md->fd, j->marker, j->mlen, f) != 0 ||
	    fsync(md->fd) != 0)
		goto io;
	err_file = md->jpath;
	if (pwrite_full(j->fd, &state, 1, 8) != 0 || fsync(j->fd) != 0)
		goto io;
	j->state = JSTATE_MARKED;
	err_file = md->path;
	if (copy_range(md, j->fd, JHDR_SIZE, j->k, md->fd, j->p,
	    &err_file) != 0 || fsync(md->fd) != 0)
		goto io;
	if (ftruncate(md->fd, (off_t)f) != 0 || fsync(md->fd) != 0)
		goto io;
	if (close(j->fd) != 0)
		syslog(LOG_WARNING, "close %s: %s", md->jpath, strerror(errno));
	j->fd = -1;
	if (spool_unlink(md, md->jpath) != 0) {
		io_error(md, "remove", md->jpath, why);
		return MD_TEMP;
	}
	if (fsync_dir_of(md->jpath) != 0)
		syslog(LOG_WARNING, "fsync directory of %s: %s", md->jpath,
		    strerror(errno));
	return MD_OK;
io:
	io_error(md, "write", err_file, why);
	return MD_TEMP;
}

/* gather() for recovery: the old journal's bytes, then new mail. */
struct regather {
	int old_fd;
	uint64_t old_k, new_from, new_len;
};

static int
gather_recovered(struct maildrop *md, int jfd, void *arg,
    const char **err_file)
{
	struct regather *g = arg;

	if (copy_range(md, g->old_fd, JHDR_SIZE, g->old_k, jfd, JHDR_SIZE,
	    err_file) != 0)
		return -1;
	return copy_range(md, md->fd, g->new_from, g->new_len, jfd,
	    JHDR_SIZE + g->old_k, err_file);
}

static enum md_status
journal_read(struct maildrop *md, struct journal *j, const char **why)
{
	unsigned char h[JHDR_SIZE];
	struct stat st;

	if (pread_full(j->fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    journal_decode(j, h) != 0 || fstat(j->fd, &st) != 0 ||
	    (uint64_t)st.st_size != JHDR_SIZE + j->k) {
		syslog(LOG_CRIT, "%s is damaged; leaving the mailbox alone "
		    "until an administrator looks at it", md->jpath);
		*why = "an interrupted update cannot be finished";
		return MD_TEMP;
	}
	return MD_OK;
}

/* A journal for another file: keep it for the administrator, move on. */
static enum md_status
journal_orphan(struct maildrop *md, const char **why)
{
	char *aside = str_concat(md->jpath, ".orphan");
	int r;

	if (aside == NULL || spool_raise(md) != 0) {
		free(aside);
		*why = "an interrupted update cannot be finished";
		return MD_TEMP;
	}
	r = rename(md->jpath, aside);
	if (spool_lower(md) != 0 || r != 0) {
		syslog(LOG_CRIT, "rename %s: %s", md->jpath, strerror(errno));
		free(aside);
		*why = "an interrupted update cannot be finished";
		return MD_TEMP;
	}
	syslog(LOG_CRIT, "%s belongs to a mailbox that was replaced; "
	    "kept as %s", md->jpath, aside);
	free(aside);
	return MD_OK;
}

/* Recovery, file already cut at F: rewriting the kept bytes is
   idempotent.  Closes j->fd. */
static enum md_status
journal_finish_cut(struct maildrop *md, struct journal *j, const char **why)
{
	const char *err_file = md->path;

	if (copy_range(md, j->fd, JHDR_SIZE, j->k, md->fd, j->p,
	    &err_file) != 0 || fsync(md->fd) != 0) {
		io_error(md, "write", err_file, why);
		return MD_TEMP;
	}
	(void)close(j->fd);
	j->fd = -1;
	if (spool_unlink(md, md->jpath) != 0) {
		io_error(md, "remove", md->jpath, why);
		return MD_TEMP;
	}
	(void)fsync_dir_of(md->jpath);
	return MD_OK;
}

/* Recovery, new mail after S1 (the file now ends at cur): one new
   journal with the old kept bytes and the new mail, then apply it. */
static enum md_status
journal_rejournal(struct maildrop *md, struct journal *j, uint64_t cur,
    const char **why)
{
	struct regather g = { j->fd, j->k, j->s1, cur - j->s1 };
	struct journal nj;
	enum md_status st;

	memset(&nj, 0, sizeof(nj));
	nj.ino = j->ino;
	nj.p = j->p;
	nj.k = j->k + (cur - j->s1);
	nj.s1 = cur;
	if ((st = journal_commit(md, &nj, gather_recovered, &g, why)) !=
	    MD_OK)
		return st;
	(void)close(j->fd);
	*j = nj;
	return journal_apply(md, j, why);
}

static enum md_status
journal_recover(struct maildrop *md, const char **why)
{
	struct journal j;
	struct stat st;
	uint64_t cur, new_from;
	enum md_status st2;

	memset(&j, 0, sizeof(j));
	if ((j.fd = open(md->jpath, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno != ENOENT) {
			io_error(md, "open", md->jpath, why);
			return MD_TEMP;
		}
		/* a journal never committed: the update never began */
		if (spool_unlink(md, md->jtmp) != 0) {
			io_error(md, "remove", md->jtmp, why);
			return MD_TEMP;
		}
		return MD_OK;
	}
	if (md->readonly) {
		(void)close(j.fd);
		*why = "an interrupted update needs write access";
		return MD_TEMP;
	}
	if ((st2 = journal_read(md, &j, why)) != MD_OK)
		goto out;
	if (fstat(md->fd, &st) != 0) {
		io_error(md, "fstat", md->path, why);
		st2 = MD_TEMP;
		goto out;
	}
	if ((uint64_t)st.st_ino != j.ino) {
		(void)close(j.fd);
		return journal_orphan(md, why);
	}
	cur = (uint64_t)st.st_size;
	syslog(LOG_NOTICE, "finishing an interrupted update of %s", md->path);
	/* where does mail appended after the crash begin? */
	if (j.state == JSTATE_MARKED && !marker_present(md, &j))
		new_from = j.p + j.k;	/* already cut at F */
	else
		new_from = j.s1;
	if (cur < new_from) {
		syslog(LOG_CRIT, "%s is shorter than its journal says; "
		    "leaving it alone", md->path);
		*why = "an interrupted update cannot be finished";
		st2 = MD_TEMP;
		goto out;
	}
	if (new_from == j.p + j.k)
		st2 = journal_finish_cut(md, &j, why);
	else if (cur == j.s1)
		st2 = journal_apply(md, &j, why);
	else
		st2 = journal_rejournal(md, &j, cur, why);
out:
	if (j.fd >= 0)
		(void)close(j.fd);
	return st2;
}

/* gather() for an update: each kept message range, then new mail. */
struct kept {
	unsigned first;
	uint64_t s1;
};

static int
gather_kept(struct maildrop *md, int jfd, void *arg, const char **err_file)
{
	struct kept *k = arg;
	uint64_t out = JHDR_SIZE;

	for (unsigned i = k->first; i < md->nmsg; i++) {
		uint64_t a = md->msg[i].off, b = msg_range_end(md, i);

		if (md->msg[i].flags & F_DELETED)
			continue;
		/* coalesce runs of kept messages into one copy */
		while (i + 1 < md->nmsg && !(md->msg[i + 1].flags & F_DELETED))
			b = msg_range_end(md, ++i);
		if (copy_range(md, md->fd, a, b - a, jfd, out, err_file) != 0)
			return -1;
		out += b - a;
	}
	return copy_range(md, md->fd, md->size, k->s1 - md->size, jfd, out,
	    err_file);
}

/*
 * Has the file only grown by appends since it was indexed?  Unchanged
 * metadata says so at once; otherwise the bytes from message `first` on,
 * the ones the update cuts and moves, are proven against the fingerprints.
 */
static enum md_status
verify_unchanged(struct maildrop *md, unsigned first, uint64_t *s1,
    const char **why)
{
	struct stat st, pst;
	char head[6];

	*why = "mailbox was changed by another program; nothing deleted";
	if (fstat(md->fd, &st) != 0 || stat(md->path, &pst) != 0 ||
	    st.st_ino != pst.st_ino || st.st_dev != pst.st_dev) {
		syslog(LOG_NOTICE, "%s was replaced during the session",
		    md->path);
		return MD_TEMP;
	}
	*s1 = (uint64_t)st.st_size;
	if (same_snapshot(&st, &md->snap))
		return MD_OK;
	if (*s1 < md->size) {
		syslog(LOG_NOTICE, "%s shrank during the session", md->path);
		return MD_TEMP;
	}
	if (*s1 > md->size && (pread_full(md->fd, head, 6, md->size) != 6 ||
	    !is_from_line(head, 6))) {
		syslog(LOG_NOTICE, "%s: data appended during the session is "
		    "not a new message", md->path);
		return MD_TEMP;
	}
	if (!range_intact(md, md->msg[first].off, md->size)) {
		syslog(LOG_NOTICE, "%s was rewritten during the session",
		    md->path);
		return MD_TEMP;
	}
	*why = NULL;
	return MD_OK;
}

static enum md_status
update_locked(struct maildrop *md, const char **why)
{
	struct journal j;
	struct kept k;
	unsigned first, last_kept = 0;
	uint64_t s1;
	enum md_status st;
	struct stat jst;

	/* a journal now means another session crashed mid-update */
	if (lstat(md->jpath, &jst) == 0) {
		if ((st = journal_recover(md, why)) != MD_OK)
			return st;
	}
	for (first = md->first; first < md->nmsg; first++)
		if (md->msg[first].flags & F_DELETED)
			break;
	for (unsigned i = first; i < md->nmsg; i++)
		if (!(md->msg[i].flags & F_DELETED))
			last_kept = i;
	if ((st = verify_unchanged(md, first, &s1, why)) != MD_OK)
		return st;
	if (last_kept == 0 && s1 == md->size) {
		/* nothing kept after P: cutting the file is the update */
		if (ftruncate(md->fd, (off_t)md->msg[first].off) != 0) {
			io_error(md, "truncate", md->path, why);
			return MD_TEMP;
		}
		if (fsync(md->fd) != 0) {
			/* cut, but maybe not on disk: do not say "nothing
			   deleted" to a client that will not ask again */
			syslog(LOG_ERR, "fsync %s: %s", md->path,
			    strerror(errno));
			*why = "I/O error after deleting; the deleted messages "
			    "may reappear after a crash";
			return MD_TEMP;
		}
		return MD_OK;
	}
	memset(&j, 0, sizeof(j));
	j.ino = (uint64_t)md->snap.st_ino;
	j.p = md->msg[first].off;
	j.s1 = s1;
	j.k = 0;
	for (unsigned i = first; i < md->nmsg; i++)
		if (!(md->msg[i].flags & F_DELETED))
			j.k += msg_range_end(md, i) - md->msg[i].off;
	j.k += s1 - md->size;
	k.first = first;
	k.s1 = s1;
	if ((st = journal_commit(md, &j, gather_kept, &k, why)) != MD_OK)
		return st;
	st = journal_apply(md, &j, why);
	if (j.fd >= 0)
		(void)close(j.fd);
	if (st != MD_OK) {
		/* committed: try once more to finish, else the next login */
		const char *why2;
		if (journal_recover(md, &why2) == MD_OK)
			return MD_OK;
		*why = "update interrupted; it will be finished at the "
		    "next login";
	}
	return st;
}

enum md_status
maildrop_update(struct maildrop *md, const char **why)
{
	unsigned count;
	uint64_t octets;
	enum md_status st;

	*why = NULL;
	maildrop_delete_stats(md, &count, &octets);
	if (count == 0 || md->fd < 0)
		return MD_OK;
	if (md->readonly) {
		*why = "the mailbox is read-only; nothing deleted";
		return MD_PERM;
	}
	if ((st = lock_take(md, why)) != MD_OK) {
		if (st == MD_INUSE)
			st = MD_TEMP;	/* README "Locking": a lock at QUIT is [SYS/TEMP] */
		return st;
	}
	st = update_locked(md, why);
	lock_release(md);
	free(md->buf);
	md->buf = NULL;
	return st;
}

enum md_status
maildrop_recover(const struct md_config *cfg, const char **why)
{
	struct maildrop *md;
	struct stat jst;
	enum md_status st;

	*why = NULL;
	if ((st = maildrop_new(&md, cfg, why)) != MD_OK)
		return st;
	if ((st = open_file(md, why)) == MD_OK && md->fd < 0 &&
	    lstat(md->jpath, &jst) == 0) {
		syslog(LOG_CRIT, "%s is missing but %s exists; kept for the "
		    "administrator", md->path, md->jpath);
		*why = "the mailbox is missing but its journal exists";
		st = MD_PERM;
	} else if (st == MD_OK && md->fd >= 0 &&
	    (st = lock_take(md, why)) == MD_OK) {
		st = journal_recover(md, why);
		lock_release(md);
	}
	maildrop_close(md);
	return st;
}

/* ---------------------------------------------------------------- */
/* Describing a maildrop for the administrator                       */

static int
describe_lock(const struct maildrop *md, int fd, FILE *out)
{
	struct flock fl;
	struct stat st;
	int ok = 1;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fd >= 0 && fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
		(void)fprintf(out, "fcntl:    locked now by pid %ld\n",
		    (long)fl.l_pid);
		ok = 0;
	} else if (fd >= 0)
		(void)fprintf(out, "fcntl:    free\n");
	if (lstat(md->lockpath, &st) == 0) {
		(void)fprintf(out, "dotlock:  %s exists (%ld s old)\n",
		    md->lockpath, (long)(time(NULL) - st.st_mtime));
		ok = 0;
	} else {
		char dir[PATH_MAX];
		const char *slash = strrchr(md->path, '/');
		size_t len = slash == NULL ? 1 : slash == md->path ? 1 :
		    (size_t)(slash - md->path);
		int w;

		memcpy(dir, slash == NULL ? "." : md->path, len);
		dir[len] = '\0';
		if (spool_raise(md) != 0)
			return 0;
		w = faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) == 0;
		if (spool_lower(md) != 0)
			return 0;
		(void)fprintf(out, "dotlock:  %s %s\n", md->lockpath, w ?
		    "can be created" : "cannot be created (fcntl lock only)");
	}
	return ok;
}

int
maildrop_describe(const struct md_config *cfg, FILE *out)
{
	struct maildrop md;
	struct stat st;
	char head[6];
	int fd, ok = 1;

	memset(&md, 0, sizeof(md));
	md.cfg = *cfg;
	if (make_paths(&md, cfg->path) != 0) {
		(void)fprintf(out, "mailbox:  path too long\n");
		return -1;
	}
	fd = open(md.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		(void)fprintf(out, "mailbox:  does not exist (an empty "
		    "maildrop; it is not created)\n");
	else if (fd < 0) {
		(void)fprintf(out, "mailbox:  cannot open: %s\n",
		    strerror(errno));
		ok = 0;
	} else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		(void)fprintf(out, "mailbox:  not a regular file\n");
		ok = 0;
	} else {
		ssize_t n = pread_full(fd, head, sizeof(head), 0);
		(void)fprintf(out, "mailbox:  %lld bytes, %s, %s\n",
		    (long long)st.st_size, access(md.path, W_OK) == 0 ?
		    "readable and writable" : "read-only for the user",
		    st.st_size == 0 ? "empty" : n >= 0 &&
		    is_from_line(head, (size_t)n) ? "mbox format" :
		    "NOT in mbox format (no From_ line at the start)");
		if (st.st_size != 0 && !(n >= 0 && is_from_line(head,
		    (size_t)n)))
			ok = 0;
	}
	if (lstat(md.jpath, &st) == 0)
		(void)fprintf(out, "journal:  %s exists: an interrupted "
		    "update will be finished at the next login\n", md.jpath);
	if (!describe_lock(&md, fd, out))
		ok = 0;
	if (fd >= 0)
		(void)close(fd);
	free(md.path);
	free(md.lockpath);
	free(md.jpath);
	free(md.jtmp);
	return ok ? 0 : -1;
}

/* ---------------------------------------------------------------- */

gid_t
maildrop_spool_group(const char *path, uid_t uid, gid_t gid,
    const gid_t *groups, int ngroups)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;
	size_t len;

	if (slash == NULL)
		return (gid_t)-1;
	len = slash == path ? 1 : (size_t)(slash - path);
	if (len >= sizeof(dir))
		return (gid_t)-1;
	memcpy(dir, path, len);
	dir[len] = '\0';
	if (stat(dir, &st) != 0)
		return (gid_t)-1;
	if ((st.st_uid == uid && (st.st_mode & S_IWUSR)) ||
	    (st.st_mode & S_IWOTH))
		return (gid_t)-1;
	if (!(st.st_mode & S_IWGRP))
		return (gid_t)-1;	/* nobody can help; fcntl only */
	if (st.st_gid == gid)
		return (gid_t)-1;
	for (int i = 0; i < ngroups; i++)
		if (groups[i] == st.st_gid)
			return (gid_t)-1;
	return st.st_gid;
}
