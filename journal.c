/*
 * journal.c - the crash-safe cut: the journal's format, its commit, its
 * application, and recovery from it at the next open.
 *
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
 * S1 (or after F, once truncated) and kept, through a new journal.  A
 * journal is trusted only when it is a regular file with one link, owned
 * by the mailbox's owner and writable by nobody else, and its offsets add
 * up without overflow.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "byteorder.h"
#include "md.h"

#define JMAGIC		"POP3DJ01"
#define JSTATE_COMMITTED 1
#define JSTATE_MARKED	2

struct journal {
	int fd;
	uint64_t ino, p, s1, k, mlen;
	unsigned char state;
	unsigned char marker[JMARK_MAX];
};

/*
 * The header block, JHDR_SIZE bytes; the kept bytes follow it.  Numbers
 * are 64-bit little-endian.  The checksum (SHA-256) covers bytes
 * [JH_SUMMED, JH_SUMMED + JH_SUMMED_LEN): everything but the magic and
 * the state byte, which step 2 changes in place.
 */
enum {
	JH_MAGIC = 0,		/* 8 bytes, JMAGIC */
	JH_STATE = 8,		/* 1 byte */
	JH_SUMMED = 16,
	JH_MARKER = 56,		/* JMARK_MAX bytes */
	JH_SUMMED_LEN = JH_MARKER + JMARK_MAX - JH_SUMMED,
	JH_SUM = 96		/* 32 bytes */
};

static const struct {
	size_t at;		/* in the header */
	size_t field;		/* in struct journal */
} jlayout[] = {
	{ 16, offsetof(struct journal, ino) },	/* the mailbox's inode */
	{ 24, offsetof(struct journal, p) },	/* the first cut byte */
	{ 32, offsetof(struct journal, s1) },	/* the file's end */
	{ 40, offsetof(struct journal, k) },	/* kept bytes after P */
	{ 48, offsetof(struct journal, mlen) },	/* marker length */
};

static uint64_t *
jfield(struct journal *j, size_t i)
{
	return (uint64_t *)(void *)((char *)j + jlayout[i].field);
}

static int
journal_sum(const unsigned char *h, unsigned char d[EVP_MAX_MD_SIZE])
{
	return EVP_Digest(h + JH_SUMMED, JH_SUMMED_LEN, d, NULL, EVP_sha256(),
	    NULL) == 1 ? 0 : -1;
}

static int
journal_encode(struct journal *j, unsigned char *h)
{
	unsigned char d[EVP_MAX_MD_SIZE];

	memset(h, 0, JHDR_SIZE);
	memcpy(h + JH_MAGIC, JMAGIC, 8);
	h[JH_STATE] = j->state;
	for (size_t i = 0; i < sizeof(jlayout) / sizeof(jlayout[0]); i++)
		le_put(h + jlayout[i].at, *jfield(j, i), 8);
	memcpy(h + JH_MARKER, j->marker, JMARK_MAX);
	if (journal_sum(h, d) != 0)
		return -1;
	memcpy(h + JH_SUM, d, 32);
	return 0;
}

/* Decode and check a header: every offset sum below must not wrap. */
static int
journal_decode(struct journal *j, const unsigned char *h)
{
	unsigned char d[EVP_MAX_MD_SIZE];

	if (memcmp(h + JH_MAGIC, JMAGIC, 8) != 0 || journal_sum(h, d) != 0 ||
	    memcmp(h + JH_SUM, d, 32) != 0)
		return -1;
	j->state = h[JH_STATE];
	for (size_t i = 0; i < sizeof(jlayout) / sizeof(jlayout[0]); i++)
		*jfield(j, i) = le_get(h + jlayout[i].at, 8);
	memcpy(j->marker, h + JH_MARKER, JMARK_MAX);
	if ((j->state != JSTATE_COMMITTED && j->state != JSTATE_MARKED) ||
	    j->mlen == 0 || j->mlen > JMARK_MAX)
		return -1;
	/* P + K < S1, and the file sizes fit an off_t */
	if (j->s1 > (uint64_t)INT64_MAX || j->p >= j->s1 ||
	    j->k >= j->s1 - j->p || j->mlen > j->s1 - (j->p + j->k))
		return -1;
	return 0;
}

static int
new_marker(struct journal *j)
{
	uint64_t room = j->s1 - (j->p + j->k);

	j->mlen = room < JMARK_MAX ? room : JMARK_MAX;
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
static enum md_status
journal_commit(struct maildrop *md, struct journal *j, md_gather_fn *gather,
    void *arg, const char **why)
{
	unsigned char h[JHDR_SIZE];
	const char *err_file = md->f.jtmpname;
	int fd;

	j->state = JSTATE_COMMITTED;
	if (new_marker(j) != 0 || journal_encode(j, h) != 0) {
		*why = "cannot write the update's journal";
		return MD_TEMP;
	}
	if (md_spool_unlink(md, md->f.jtmpname) != 0) {
		md_io_error("remove", md->f.jtmpname, why);
		return MD_TEMP;
	}
	if ((fd = md_spool_create(md, md->f.jtmpname)) < 0) {
		md_io_error("create", md->f.jtmpname, why);
		return MD_TEMP;
	}
	if (md_pwrite(fd, h, sizeof(h), 0) != 0 ||
	    gather(md, fd, arg, &err_file) != 0 || fsync(fd) != 0) {
		md_io_error("write", err_file, why);
		goto fail;
	}
	if (md_spool_rename(md, md->f.jtmpname, md->f.jname) != 0) {
		md_io_error("rename", md->f.jtmpname, why);
		goto fail;
	}
	if (md_fsync_dir(md) != 0) {
		/* the rename may not be durable yet; finishing is still safe */
		syslog(LOG_WARNING, "fsync directory of %s: %s", md->f.jpath,
		    strerror(errno));
	}
	j->fd = fd;
	return MD_OK;
fail:
	(void)close(fd);
	(void)md_spool_unlink(md, md->f.jtmpname);
	return MD_TEMP;
}

static int
marker_present(struct maildrop *md, const struct journal *j)
{
	unsigned char buf[JMARK_MAX];

	return md_pread(md->f.fd, buf, (size_t)j->mlen, j->p + j->k) ==
	    (ssize_t)j->mlen && memcmp(buf, j->marker, (size_t)j->mlen) == 0;
}

/* Step 5: the journal goes; closes j->fd. */
static enum md_status
journal_remove(struct maildrop *md, struct journal *j, const char **why)
{
	if (close(j->fd) != 0)
		syslog(LOG_WARNING, "close %s: %s", md->f.jpath,
		    strerror(errno));
	j->fd = -1;
	if (md_spool_unlink(md, md->f.jname) != 0) {
		md_io_error("remove", md->f.jpath, why);
		return MD_TEMP;
	}
	if (md_fsync_dir(md) != 0)
		syslog(LOG_WARNING, "fsync directory of %s: %s", md->f.jpath,
		    strerror(errno));
	return MD_OK;
}

/* Steps 2-5 of the update, from a committed journal. */
static enum md_status
journal_apply(struct maildrop *md, struct journal *j, const char **why)
{
	unsigned char state = JSTATE_MARKED;
	uint64_t f = j->p + j->k;
	const char *err_file = md->f.path;

	if (md_pwrite(md->f.fd, j->marker, (size_t)j->mlen, f) != 0 ||
	    fsync(md->f.fd) != 0)
		goto io;
	err_file = md->f.jpath;
	if (md_pwrite(j->fd, &state, 1, JH_STATE) != 0 || fsync(j->fd) != 0)
		goto io;
	j->state = JSTATE_MARKED;
	err_file = md->f.path;
	if (md_copy_range(md, j->fd, JHDR_SIZE, j->k, md->f.fd, j->p,
	    &err_file) != 0 || fsync(md->f.fd) != 0)
		goto io;
	if (ftruncate(md->f.fd, (off_t)f) != 0 || fsync(md->f.fd) != 0)
		goto io;
	return journal_remove(md, j, why);
io:
	md_io_error("write", err_file, why);
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

	if (md_copy_range(md, g->old_fd, JHDR_SIZE, g->old_k, jfd, JHDR_SIZE,
	    err_file) != 0)
		return -1;
	return md_copy_range(md, md->f.fd, g->new_from, g->new_len, jfd,
	    JHDR_SIZE + g->old_k, err_file);
}

/* Is this journal one we may trust enough to replay? */
static int
journal_trusted(struct maildrop *md, int fd)
{
	struct stat st, mst;

	if (fstat(fd, &st) != 0 || fstat(md->f.fd, &mst) != 0)
		return 0;
	return S_ISREG(st.st_mode) && st.st_nlink == 1 &&
	    st.st_uid == mst.st_uid && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

static enum md_status
journal_read(struct maildrop *md, struct journal *j, const char **why)
{
	unsigned char h[JHDR_SIZE];
	struct stat st;

	if (!journal_trusted(md, j->fd)) {
		syslog(LOG_CRIT, "%s is not a regular file of the mailbox's "
		    "owner with one link, writable by it alone; leaving the "
		    "mailbox alone", md->f.jpath);
		*why = "an interrupted update cannot be finished";
		return MD_TEMP;
	}
	if (md_pread(j->fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    journal_decode(j, h) != 0 || fstat(j->fd, &st) != 0 ||
	    j->k > (uint64_t)st.st_size ||
	    (uint64_t)st.st_size - j->k != JHDR_SIZE) {
		syslog(LOG_CRIT, "%s is damaged; leaving the mailbox alone "
		    "until an administrator looks at it", md->f.jpath);
		*why = "an interrupted update cannot be finished";
		return MD_TEMP;
	}
	return MD_OK;
}

/* A journal for another file: keep it for the administrator, move on. */
static enum md_status
journal_orphan(struct maildrop *md, const char **why)
{
	char *aside = md_concat(md->f.jname, JOURNAL_ORPHAN_SUFFIX);

	if (aside == NULL) {
		*why = "out of memory";
		return MD_TEMP;
	}
	if (md_spool_rename(md, md->f.jname, aside) != 0) {
		syslog(LOG_CRIT, "rename %s: %s", md->f.jpath, strerror(errno));
		free(aside);
		*why = "an interrupted update cannot be finished";
		return MD_TEMP;
	}
	syslog(LOG_CRIT, "%s belongs to a mailbox that was replaced; "
	    "kept as %s%s", md->f.jpath, md->f.jpath, JOURNAL_ORPHAN_SUFFIX);
	free(aside);
	return MD_OK;
}

/* Recovery, file already cut at F: rewriting the kept bytes is
   idempotent.  Closes j->fd. */
static enum md_status
journal_finish_cut(struct maildrop *md, struct journal *j, const char **why)
{
	const char *err_file = md->f.path;

	if (md_copy_range(md, j->fd, JHDR_SIZE, j->k, md->f.fd, j->p,
	    &err_file) != 0 || fsync(md->f.fd) != 0) {
		md_io_error("write", err_file, why);
		return MD_TEMP;
	}
	return journal_remove(md, j, why);
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
	nj.k = j->k + (cur - j->s1);	/* < cur - p: no wrap */
	nj.s1 = cur;
	if ((st = journal_commit(md, &nj, gather_recovered, &g, why)) !=
	    MD_OK)
		return st;
	(void)close(j->fd);
	*j = nj;
	return journal_apply(md, j, why);
}

/* A journal is there and read: finish what it says.  j->fd stays open
   for the caller to close, unless it was consumed (-1). */
static enum md_status
journal_finish(struct maildrop *md, struct journal *j, const char **why)
{
	struct stat st;
	uint64_t cur, new_from;

	if (fstat(md->f.fd, &st) != 0) {
		md_io_error("fstat", md->f.path, why);
		return MD_TEMP;
	}
	if ((uint64_t)st.st_ino != j->ino) {
		(void)close(j->fd);
		j->fd = -1;
		return journal_orphan(md, why);
	}
	cur = (uint64_t)st.st_size;
	syslog(LOG_NOTICE, "finishing an interrupted update of %s",
	    md->f.path);
	/* where does mail appended after the crash begin? */
	if (j->state == JSTATE_MARKED && !marker_present(md, j))
		new_from = j->p + j->k;	/* already cut at F */
	else
		new_from = j->s1;
	if (cur < new_from) {
		syslog(LOG_CRIT, "%s is shorter than its journal says; "
		    "leaving it alone", md->f.path);
		*why = "an interrupted update cannot be finished";
		return MD_TEMP;
	}
	if (new_from == j->p + j->k)
		return journal_finish_cut(md, j, why);
	if (cur == j->s1)
		return journal_apply(md, j, why);
	return journal_rejournal(md, j, cur, why);
}

int
md_journal_exists(struct maildrop *md)
{
	struct stat st;

	return fstatat(md->f.dirfd, md->f.jname, &st,
	    AT_SYMLINK_NOFOLLOW) == 0;
}

/* Under the locks: finish an update a crash interrupted, if any. */
enum md_status
md_journal_recover(struct maildrop *md, const char **why)
{
	struct journal j;
	enum md_status st;

	memset(&j, 0, sizeof(j));
	if ((j.fd = openat(md->f.dirfd, md->f.jname, O_RDWR | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK)) < 0) {
		if (errno != ENOENT) {
			md_io_error("open", md->f.jpath, why);
			return MD_TEMP;
		}
		/* a journal never committed: the update never began */
		if (md_spool_unlink(md, md->f.jtmpname) != 0) {
			md_io_error("remove", md->f.jtmpname, why);
			return MD_TEMP;
		}
		return MD_OK;
	}
	if (md->f.readonly) {
		(void)close(j.fd);
		*why = "an interrupted update needs write access";
		return MD_TEMP;
	}
	if ((st = journal_read(md, &j, why)) == MD_OK)
		st = journal_finish(md, &j, why);
	if (j.fd >= 0)
		(void)close(j.fd);
	return st;
}

/*
 * The update: cut [p, s1) down to the k bytes gather() copies, through a
 * journal.  If applying fails after the commit, it is tried once more;
 * else the next open finishes it.
 */
enum md_status
md_journal_cut(struct maildrop *md, uint64_t p, uint64_t k, uint64_t s1,
    md_gather_fn *gather, void *arg, const char **why)
{
	struct journal j;
	enum md_status st;
	const char *why2;

	memset(&j, 0, sizeof(j));
	j.ino = (uint64_t)md->pf.snap.st_ino;
	j.p = p;
	j.k = k;
	j.s1 = s1;
	if ((st = journal_commit(md, &j, gather, arg, why)) != MD_OK)
		return st;
	st = journal_apply(md, &j, why);
	if (j.fd >= 0)
		(void)close(j.fd);
	if (st != MD_OK) {
		if (md_journal_recover(md, &why2) == MD_OK)
			return MD_OK;
		*why = "update interrupted; it will be finished at the "
		    "next login";
	}
	return st;
}
