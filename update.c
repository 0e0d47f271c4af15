/*
 * update.c - the UPDATE state (RFC 1939 section 6) and pop3d --recover:
 * under the locks, prove that the file only grew since it was indexed,
 * then cut the deleted messages out through the journal (journal.c),
 * and tell the persistent index what the file now holds (persist.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "md.h"

void
md_io_error(const char *what, const char *file, const char **why)
{
	int e = errno;

	syslog(LOG_ERR, "%s %s: %s", what, file, strerror(e));
	if (e == ENOSPC || e == EDQUOT)
		*why = "no space left to update the mailbox; nothing deleted";
	else if (e == EACCES || e == EPERM || e == EROFS)
		*why = "no permission to write next to the mailbox; "
		    "nothing deleted";
	else if (e == ENOMEM)
		*why = "out of memory; nothing deleted";
	else
		*why = "I/O error while updating the mailbox";
}

/* Copy [off, off + len) of fd `from` to `to` at `toff`. */
int
md_copy_range(struct maildrop *md, int from, uint64_t off, uint64_t len,
    int to, uint64_t toff, const char **err_file)
{
	if (md->b.scan == NULL &&
	    (md->b.scan = malloc(SCAN_BUF + HEAD_MIN)) == NULL) {
		errno = ENOMEM;
		*err_file = "memory";
		return -1;
	}
	while (len > 0) {
		size_t n = len > SCAN_BUF ? SCAN_BUF : (size_t)len;
		ssize_t r;

		md_lock_refresh(md);
		r = md_pread(from, md->b.scan, n, off);
		if (r != (ssize_t)n) {
			if (r >= 0)
				errno = EIO;
			*err_file = from == md->f.fd ? md->f.path : md->f.jpath;
			return -1;
		}
		if (md_pwrite(to, md->b.scan, n, toff) != 0) {
			*err_file = to == md->f.fd ? md->f.path : md->f.jtmpname;
			return -1;
		}
		off += n;
		toff += n;
		len -= n;
	}
	return 0;
}

/* gather() for an update: each run of kept messages, then new mail. */
struct kept {
	unsigned first;
	uint64_t s1;
};

static int
gather_kept(struct maildrop *md, int jfd, void *arg, const char **err_file)
{
	const struct kept *k = arg;
	const struct md_msg *msg = md->ix.msg;
	uint64_t out = JHDR_SIZE;

	for (unsigned i = k->first; i < md->ix.nmsg; i++) {
		uint64_t a = msg[i].off, b = md_range_end(md, i);

		if (msg[i].flags & F_DELETED)
			continue;
		/* coalesce runs of kept messages into one copy */
		while (i + 1 < md->ix.nmsg && !(msg[i + 1].flags & F_DELETED))
			b = md_range_end(md, ++i);
		if (md_copy_range(md, md->f.fd, a, b - a, jfd, out,
		    err_file) != 0)
			return -1;
		out += b - a;
	}
	return md_copy_range(md, md->f.fd, md->ix.size, k->s1 - md->ix.size,
	    jfd, out, err_file);
}

/* Nothing kept after the first deleted message: one cut is the update. */
static enum md_status
truncate_only(struct maildrop *md, uint64_t at, const char **why)
{
	if (ftruncate(md->f.fd, (off_t)at) != 0) {
		md_io_error("truncate", md->f.path, why);
		return MD_TEMP;
	}
	if (fsync(md->f.fd) != 0) {
		/* cut, but maybe not on disk: do not say "nothing deleted"
		   to a client that will not ask again */
		syslog(LOG_ERR, "fsync %s: %s", md->f.path, strerror(errno));
		*why = "I/O error after deleting; the deleted messages may "
		    "reappear after a crash";
		return MD_TEMP;
	}
	return MD_OK;
}

static enum md_status
update_locked(struct maildrop *md, const char **why)
{
	struct kept k;
	unsigned first, i;
	uint64_t s1, kept = 0;
	enum md_status st;
	int any_kept = 0;

	/* a journal now means another session crashed mid-update */
	if (md_journal_exists(md) &&
	    (st = md_journal_recover(md, why)) != MD_OK)
		return st;
	for (first = md->ix.first; first < md->ix.nmsg; first++)
		if (md->ix.msg[first].flags & F_DELETED)
			break;
	if ((st = md_prove_grown(md, md->ix.msg[first].off, &s1, why)) !=
	    MD_OK)
		return st;
	for (i = first; i < md->ix.nmsg; i++)
		if (!(md->ix.msg[i].flags & F_DELETED)) {
			kept += md_range_end(md, i) - md->ix.msg[i].off;
			any_kept = 1;
		}
	if (!any_kept && s1 == md->ix.size)
		st = truncate_only(md, md->ix.msg[first].off, why);
	else {
		k.first = first;
		k.s1 = s1;
		st = md_journal_cut(md, md->ix.msg[first].off,
		    kept + (s1 - md->ix.size), s1, gather_kept, &k, why);
	}
	if (st == MD_OK)
		md_persist_updated(md, first, s1);
	return st;
}

enum md_status
maildrop_update(struct maildrop *md, const char **why)
{
	enum md_status st;

	*why = NULL;
	if (md->ix.ndel == 0 || md->f.fd < 0)
		return MD_OK;
	if (md->f.readonly) {
		*why = "the mailbox is read-only; nothing deleted";
		return MD_PERM;
	}
	if ((st = md_lock(md, why)) != MD_OK)
		return st;
	md->b.ok_from = md->b.ok_to = 0;	/* the offsets move (emit.c) */
	st = update_locked(md, why);
	md_unlock(md);
	free(md->b.scan);
	md->b.scan = NULL;
	return st;
}

enum md_status
maildrop_recover(const struct md_config *cfg, const char **why)
{
	struct maildrop *md;
	enum md_status st;

	*why = NULL;
	if ((st = md_new(&md, cfg, why)) != MD_OK)
		return st;
	if ((st = md_open_file(md, why)) == MD_OK && md->f.fd < 0 &&
	    md_journal_exists(md)) {
		syslog(LOG_CRIT, "%s is missing but %s exists; kept for the "
		    "administrator", md->f.path, md->f.jpath);
		*why = "the mailbox is missing but its journal exists";
		st = MD_PERM;
	} else if (st == MD_OK && md->f.fd >= 0 &&
	    (st = md_lock(md, why)) == MD_OK) {
		st = md_journal_recover(md, why);
		md_unlock(md);
	}
	maildrop_close(md);
	return st;
}
