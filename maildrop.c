/*
 * maildrop.c - opening and closing the maildrop, its index, and the
 * queries a session asks of it (counts, sizes, deletion marks).
 *
 * At login the mailbox is locked (lock.c), an interrupted update is
 * finished (journal.c), the file is indexed in one streaming pass
 * (mbox.c, fingerprinted by proof.c as it is read) and unlocked again.
 * For --check-user the same path runs in a mode that changes nothing:
 * no lock is taken, no recovery is run.  A persistent index that
 * proves to describe the file (persist.c) replaces the pass.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "md.h"

uint64_t
md_range_end(const struct maildrop *md, unsigned i)
{
	return i + 1 < md->ix.nmsg ? md->ix.msg[i + 1].off : md->ix.size;
}

/* The running totals STAT and QUIT use, from the flags (O(n), once);
   the records an index has not handed over yet are all live. */
void
md_recount(struct maildrop *md)
{
	struct md_index *ix = &md->ix;
	unsigned from = md_persist_unread(md, &ix->live_octets);

	if (from < ix->first)
		from = ix->first;
	ix->live = from - ix->first;
	ix->ndel = 0;
	ix->del_octets = 0;
	for (unsigned i = from; i < ix->nmsg; i++)
		if (ix->msg[i].flags & F_DELETED) {
			ix->ndel++;
			ix->del_octets += ix->msg[i].size;
		} else {
			ix->live++;
			ix->live_octets += ix->msg[i].size;
		}
}

/* scan_fn: one more message; past MAX_MSGS the rest waits. */
static int
index_add(struct maildrop *md, const struct scan_msg *m)
{
	struct md_index *ix = &md->ix;
	struct md_msg *e;

	if (ix->nmsg == ix->cap) {
		unsigned cap = ix->cap == 0 ? INDEX_FIRST_CAP : ix->cap * 2;
		struct md_msg *n;

		/* the hidden pseudo-message does not count */
		if (ix->cap >= MAX_MSGS + 1)
			return -1;
		if (cap > MAX_MSGS + 1)
			cap = MAX_MSGS + 1;
		if ((n = realloc(ix->msg, cap * sizeof(*n))) == NULL) {
			ix->oom = 1;
			return -1;
		}
		ix->msg = n;
		ix->cap = cap;
	}
	if (ix->nmsg - ix->first >= MAX_MSGS)
		return -1;
	e = &ix->msg[ix->nmsg++];
	e->off = m->off;
	e->end = m->end;
	e->size = m->size;
	e->sep_len = m->sep_len;
	e->flags = (m->hidden && ix->nmsg == 1 ? F_HIDDEN : 0) |
	    (m->clen ? F_CLEN : 0);
	if (e->flags & F_HIDDEN)
		ix->first = 1;
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
	if ((n = md_pread(md->f.fd, head, sizeof(head), 0)) < 0) {
		syslog(LOG_ERR, "read %s: %s", md->f.path, strerror(errno));
		*why = "cannot read the mailbox";
		return MD_TEMP;
	}
	if (!md_is_from_line(head, (size_t)n)) {
		syslog(LOG_ERR, "%s does not start with a From_ line; "
		    "refusing to guess where messages begin", md->f.path);
		*why = "mailbox is not in mbox format";
		return MD_PERM;
	}
	return MD_OK;
}

/* Scan [from, size) into the index and finish its proof. */
static enum md_status
scan_into_index(struct maildrop *md, uint64_t from, uint64_t size,
    const char **why)
{
	enum md_status st;
	uint64_t stop;

	st = md_scan(md, from, size, index_add, &stop, why);
	if (st == MD_OK && md->ix.oom) {
		*why = "out of memory";
		st = MD_TEMP;
	}
	if (st != MD_OK)
		return st;
	md->ix.size = stop;
	if (stop < size)
		syslog(LOG_NOTICE, "%s has more than %u messages; serving the "
		    "first %u, the rest wait for a later session", md->f.path,
		    MAX_MSGS, MAX_MSGS);
	return md_proof_end(md, why);
}

/* Index the whole file (locked, except for --check-user). */
enum md_status
md_index_file(struct maildrop *md, const char **why)
{
	enum md_status st;
	uint64_t size, from = 0;

	if ((st = md_proof_begin(md, why)) != MD_OK)
		return st;
	size = (uint64_t)md->pf.snap.st_size;
	/* the index's header has the counts: no recount */
	if (size > 0 && md_persist_load(md, &from) == MD_LOAD_UNCHANGED)
		return MD_OK;
	/* a grown file: the index holds [0, from), from is a From_ line */
	if (from == 0 &&
	    ((st = check_mbox_start(md, size, why)) != MD_OK || size == 0))
		return st;
	if ((st = scan_into_index(md, from, size, why)) != MD_OK)
		return st;
	if (from > 0)
		md_persist_grown(md);
	md_recount(md);
	return MD_OK;
}

/*
 * The index file that answered at login could not give its records
 * (persist.c): the scan a login without it would have made, under the
 * lock, of the file as it was at login.  What STAT said then must still
 * hold; if the file changed since, the session cannot know what its
 * client saw, and ends.
 */
enum md_status
md_index_again(struct maildrop *md, const char **why)
{
	static const char changed[] =
	    "mailbox was changed by another program; please reconnect";
	struct md_index said = md->ix;	/* STAT's, from the index's header */
	enum md_status st;

	if ((st = md_lock(md, why)) != MD_OK)
		return st;
	memset(&md->ix, 0, sizeof(md->ix));
	if (!md_proof_unchanged(md)) {
		*why = changed;
		st = MD_TEMP;
	} else {
		md_proof_restart(md);
		st = scan_into_index(md, 0, (uint64_t)md->pf.snap.st_size,
		    why);
	}
	if (st == MD_OK) {
		md_recount(md);
		if (md->ix.nmsg != said.nmsg || md->ix.first != said.first ||
		    md->ix.live_octets != said.live_octets) {
			*why = changed;
			st = MD_TEMP;
		}
	}
	if (st == MD_OK) {
		md_proof_settle(md);
		md_persist_tick(md);
	} else {
		free(md->ix.msg);	/* STAT's counts stay; nothing else */
		md->ix = said;
	}
	md_unlock(md);
	free(md->b.scan);
	md->b.scan = NULL;
	return st;
}

/* The mailbox's directory and the names of our files in it. */
static int
make_names(struct maildrop *md, const char *path)
{
	struct md_files *f = &md->f;
	const char *slash = strrchr(path, '/');

	f->path = strdup(path);
	f->name = strdup(slash != NULL ? slash + 1 : path);
	if (f->path == NULL || f->name == NULL || f->name[0] == '\0')
		return -1;
	f->lockpath = md_concat(path, LOCK_SUFFIX);
	f->jpath = md_concat(path, JOURNAL_SUFFIX);
	f->lockname = md_concat(f->name, LOCK_SUFFIX);
	f->jname = md_concat(f->name, JOURNAL_SUFFIX);
	f->jtmpname = md_concat(f->name, JOURNAL_TMP_SUFFIX);
	return f->lockpath && f->jpath && f->lockname && f->jname &&
	    f->jtmpname ? 0 : -1;
}

enum md_status
md_new(struct maildrop **mdp, const struct md_config *cfg, const char **why)
{
	struct maildrop *md;
	enum md_status st = MD_OK;

	if ((*mdp = md = calloc(1, sizeof(*md))) == NULL) {
		*why = "out of memory";
		return MD_TEMP;
	}
	md->cfg = *cfg;
	md->f.fd = md->f.dirfd = md->px.dirfd = md->px.rd.fd = -1;
	md->lk.boot = -1;	/* read when a lock is judged (lock.c) */
	if (strlen(cfg->path) >= PATH_MAX) {
		*why = "mailbox path too long";
		st = MD_PERM;
	} else if (make_names(md, cfg->path) != 0) {
		*why = "out of memory";
		st = MD_TEMP;
	} else
		st = md_persist_new(md, why);
	if (st != MD_OK) {
		maildrop_close(md);
		*mdp = NULL;
	}
	return st;
}

/* The directory, then the file in it without following a link. */
static int
open_dir_of(struct maildrop *md)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(md->f.path, '/');
	size_t len = slash == NULL ? 0 : slash == md->f.path ? 1 :
	    (size_t)(slash - md->f.path);

	memcpy(dir, len == 0 ? "." : md->f.path, len == 0 ? 1 : len);
	dir[len == 0 ? 1 : len] = '\0';
	md->f.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return md->f.dirfd;
}

static enum md_status
open_error(struct maildrop *md, const char **why)
{
	if (errno == ENOENT)
		return MD_OK;	/* no mailbox: an empty maildrop */
	syslog(LOG_ERR, "open %s: %s", md->f.path, strerror(errno));
	*why = errno == EACCES ? "no permission to read the mailbox" :
	    errno == ELOOP ? "mailbox is a symbolic link" :
	    "cannot open the mailbox";
	return errno == EACCES || errno == ELOOP ? MD_PERM : MD_TEMP;
}

enum md_status
md_open_file(struct maildrop *md, const char **why)
{
	int flags = O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	struct stat st;

	if (open_dir_of(md) < 0)
		return open_error(md, why);
	if (!md->cfg.inspect)
		md->f.fd = openat(md->f.dirfd, md->f.name, O_RDWR | flags);
	if (md->f.fd < 0 && (md->cfg.inspect || errno == EACCES ||
	    errno == EROFS)) {
		md->f.readonly = md->cfg.inspect ? faccessat(md->f.dirfd,
		    md->f.name, W_OK, AT_EACCESS) != 0 : 1;
		md->f.fd = openat(md->f.dirfd, md->f.name, O_RDONLY | flags);
	}
	if (md->f.fd < 0)
		return open_error(md, why);
	if (fstat(md->f.fd, &st) != 0) {
		syslog(LOG_ERR, "fstat %s: %s", md->f.path, strerror(errno));
		*why = "cannot read the mailbox";
		return MD_TEMP;
	}
	if (!S_ISREG(st.st_mode)) {
		syslog(LOG_ERR, "%s is not a regular file", md->f.path);
		*why = "mailbox is not a regular file";
		return MD_PERM;
	}
	/* back to blocking reads; O_NONBLOCK only kept open() off FIFOs */
	if (fcntl(md->f.fd, F_SETFL, 0) != 0) {
		syslog(LOG_ERR, "fcntl %s: %s", md->f.path, strerror(errno));
		*why = "cannot open the mailbox";
		return MD_TEMP;
	}
	return MD_OK;
}

/* Locked: finish an interrupted update, index, wait out the clock tick. */
static enum md_status
open_locked(struct maildrop *md, const char **why)
{
	enum md_status st;

	if ((st = md_lock(md, why)) != MD_OK)
		return st;
	if ((st = md_journal_recover(md, why)) == MD_OK &&
	    (st = md_index_file(md, why)) == MD_OK) {
		md_proof_settle(md);
		md_persist_tick(md);
	}
	md_unlock(md);
	return st;
}

enum md_status
maildrop_open(struct maildrop **mdp, const struct md_config *cfg,
    const char **why)
{
	struct maildrop *md;
	enum md_status st;

	*mdp = NULL;
	*why = NULL;
	if ((st = md_new(&md, cfg, why)) != MD_OK)
		return st;
	if ((st = md_open_file(md, why)) == MD_OK && md->f.fd >= 0)
		st = cfg->inspect ? md_index_file(md, why) :
		    open_locked(md, why);
	free(md->b.scan);	/* the index pass is over; keep RSS small */
	md->b.scan = NULL;
	if (st != MD_OK) {
		maildrop_close(md);
		return st;
	}
	*mdp = md;
	return MD_OK;
}

static void
close_fd(int fd, const char *path)
{
	if (fd >= 0 && close(fd) != 0)
		syslog(LOG_ERR, "close %s: %s", path, strerror(errno));
}

void
maildrop_close(struct maildrop *md)
{
	if (md == NULL)
		return;
	md_persist_store(md);	/* before the spool group is forgotten */
	md_persist_free(md);
	md_spool_forget(md);
	close_fd(md->f.fd, md->f.path);
	close_fd(md->f.dirfd, md->f.path);
	free(md->f.path);
	free(md->f.name);
	free(md->f.lockpath);
	free(md->f.jpath);
	free(md->f.lockname);
	free(md->f.jname);
	free(md->f.jtmpname);
	free(md->ix.msg);
	free(md->dig);
	free(md->b.scan);
	free(md->b.in);
	free(md->b.win);
	md_proof_free(md);
	free(md);
}

/* Messages are numbered from 1 (RFC 1939), after a hidden msg[0]. */
static struct md_msg *
msg_of(const struct maildrop *md, unsigned n)
{
	return &md->ix.msg[md->ix.first + n - 1];
}

unsigned
maildrop_count(const struct maildrop *md)
{
	return md->ix.nmsg - md->ix.first;
}

int
maildrop_valid(const struct maildrop *md, unsigned n)
{
	return n >= 1 && n <= maildrop_count(md);
}

/* Whether every record is in ix.msg: an index loaded at login hands
   them over when a command first needs them (maildrop_entries). */
static int
records_read(const struct maildrop *md)
{
	return md->ix.msg != NULL && !md->px.lazy;
}

/* Before the records of an index are read, nothing can be deleted. */
int
maildrop_deleted(const struct maildrop *md, unsigned n)
{
	return records_read(md) && (msg_of(md, n)->flags & F_DELETED) != 0;
}

enum md_status
maildrop_entries(struct maildrop *md, const char **why)
{
	return md_persist_entries(md, why);
}

uint64_t
maildrop_size(const struct maildrop *md, unsigned n)
{
	if (!records_read(md))
		md_fatal("%s: a message size before its record was read",
		    md->f.path);
	return msg_of(md, n)->size;
}

void
maildrop_stat(const struct maildrop *md, unsigned *count, uint64_t *octets)
{
	*count = md->ix.live;
	*octets = md->ix.live_octets;
}

void
maildrop_delete(struct maildrop *md, unsigned n)
{
	struct md_msg *m;

	if (!records_read(md))
		md_fatal("%s: DELE before the records were read", md->f.path);
	m = msg_of(md, n);
	if (m->flags & F_DELETED)
		return;
	m->flags |= F_DELETED;
	md->ix.live--;
	md->ix.live_octets -= m->size;
	md->ix.ndel++;
	md->ix.del_octets += m->size;
}

void
maildrop_undelete_all(struct maildrop *md)
{
	if (!records_read(md))
		return;		/* no records read: nothing deleted */
	for (unsigned i = 0; i < md->ix.nmsg; i++)
		md->ix.msg[i].flags &= ~F_DELETED;
	md_recount(md);
}

void
maildrop_delete_stats(const struct maildrop *md, unsigned *count,
    uint64_t *octets)
{
	*count = md->ix.ndel;
	*octets = md->ix.del_octets;
}

/* For --check-user: the opened (inspected) maildrop, and its locks. */
int
maildrop_describe(struct maildrop *md, FILE *out)
{
	long pid, age;
	int ok = 1;

	if (md->f.fd < 0)
		(void)fprintf(out, "mailbox:  does not exist (an empty "
		    "maildrop; it is not created)\n");
	else
		(void)fprintf(out, "mailbox:  %llu bytes, %s, mbox format, "
		    "%u messages (%llu octets)\n",
		    (unsigned long long)md->pf.snap.st_size, md->f.readonly ?
		    "read-only for the user" : "readable and writable",
		    md->ix.live, (unsigned long long)md->ix.live_octets);
	md_persist_describe(md, out);
	if (md_journal_exists(md))
		(void)fprintf(out, "journal:  %s exists: an interrupted "
		    "update will be finished at the next login\n",
		    md->f.jpath);
	if (md_lock_held_by_other(md, &pid, &age))
		ok = 0;
	if (pid != 0)
		(void)fprintf(out, "fcntl:    locked now by pid %ld\n", pid);
	else if (md->f.fd >= 0)
		(void)fprintf(out, "fcntl:    free\n");
	if (age >= 0)
		(void)fprintf(out, "dotlock:  %s exists (%ld s old)\n",
		    md->f.lockpath, age);
	else
		(void)fprintf(out, "dotlock:  %s %s\n", md->f.lockpath,
		    md_spool_writable(md) ? "can be created" :
		    "cannot be created (fcntl lock only)");
	return ok ? 0 : -1;
}
