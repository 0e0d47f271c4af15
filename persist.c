/*
 * persist.c - the maildrop's use of its persistent index (README
 * "Persistent index"): loaded at login instead of a scan when it proves
 * to describe the open mailbox, and stored at the end of a session that
 * learnt something (a scan, UIDL digests, an update).
 *
 * The file's format, its trust rule and its safe reading and writing are
 * mdindex.c's and mdindex_file.c's; this file only moves entries between
 * them and struct maildrop.  A loaded index fills the in-memory index,
 * the proof's tags and key, and the UIDL digests, so the session then
 * runs exactly as if it had scanned: whatever it reads is still proven
 * against the tags once the file has changed, and, for the blocks a
 * login on a grown mailbox did not read, before it is first used.  The index describes the
 * snapshot taken under the lock at login and the clock tick read after
 * it, whenever it is written, so a later change of the mailbox makes it
 * untrusted or "grown", never wrong.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "md.h"
#include "mdindex.h"

enum md_status
md_persist_new(struct maildrop *md, const char **why)
{
	struct md_persist *px = &md->px;

	px->dirfd = -1;
	if (md->cfg.index_path == NULL)
		return MD_OK;
	if ((px->path = strdup(md->cfg.index_path)) == NULL) {
		*why = "out of memory";
		return MD_TEMP;
	}
	if ((px->dirfd = mdindex_dir_open(px->path, &px->name)) < 0) {
		/* a cache: a missing directory costs a scan, not a login */
		syslog(LOG_INFO, "%s: index directory: %s; not used",
		    px->path, strerror(errno));
		free(px->path);
		px->path = NULL;
	}
	return MD_OK;
}

static void forget_file(struct maildrop *);

void
md_persist_free(struct maildrop *md)
{
	forget_file(md);
	if (md->px.dirfd >= 0 && close(md->px.dirfd) != 0)
		syslog(LOG_ERR, "close %s: %s", md->px.path, strerror(errno));
	free(md->px.path);
	md->px.path = NULL;
	md->px.dirfd = -1;
}

/*
 * A part of the index file goes straight into the maildrop's arrays as
 * the decoder reads it: the records at their known count, the tags into
 * the proof, which md_proof_begin sized for the same file, the UIDL
 * digests.  Nothing of it counts until the decoder has checked the
 * part's checksum.
 */
static void
adopt_msg(void *arg, uint32_t i, const struct mdindex_msg *m)
{
	struct md_msg *e = &((struct maildrop *)arg)->ix.msg[i];

	e->off = m->off;
	e->end = m->end;
	e->size = m->size;
	e->sep_len = m->sep_len;
	e->flags = ((m->flags & MDINDEX_HIDDEN) ? F_HIDDEN : 0) |
	    ((m->flags & MDINDEX_CLEN) ? F_CLEN : 0);
}

static void
adopt_digest(void *arg, uint32_t i, const unsigned char *d, uint32_t dup)
{
	md_digest_set(arg, i, d, dup);
}

static void
adopt_tag(void *arg, uint32_t b, const unsigned char *tag)
{
	memcpy(md_proof_tag(arg, b), tag, TAG_LEN);
}

/* What STAT needs, from the header alone; the records come later. */
static void
adopt_head(struct maildrop *md)
{
	const struct mdindex *dix = &md->px.head;
	struct md_index *ix = &md->ix;

	free(ix->msg);
	memset(ix, 0, sizeof(*ix));
	ix->nmsg = dix->nmsg;
	ix->first = (dix->flags & MDINDEX_FIRST_HIDDEN) ? 1 : 0;
	ix->size = dix->end;
	ix->live = ix->nmsg - ix->first;
	ix->live_octets = dix->octets;
}

/* Room for the records of the index and the messages after them; the
   pages of records not read yet are not touched. */
static int
records_alloc(struct maildrop *md, const char **why)
{
	struct md_index *ix = &md->ix;

	if ((ix->msg = malloc(((size_t)md->px.head.nmsg + 1) *
	    sizeof(*ix->msg))) == NULL) {
		*why = "out of memory for the index";
		return -1;
	}
	ix->cap = md->px.head.nmsg + 1;
	return 0;
}

static void
records_free(struct md_index *ix)
{
	free(ix->msg);
	ix->msg = NULL;
	ix->cap = 0;
}

/* The records [from, to) into ix->msg, and with tags set the block
   tags too, checked against the header, or -1. */
static int
adopt_records(struct maildrop *md, uint32_t from, uint32_t to, int tags,
    const char **why)
{
	struct md_persist *px = &md->px;
	struct mdindex_sink sink = { adopt_msg, NULL, adopt_tag, md };

	if (mdindex_load_records(&px->rd, &px->head, from, to, &sink,
	    why) != 0 || (tags && mdindex_load_part(&px->rd, &px->head,
	    MDINDEX_TAGS, &sink, why) != 0))
		return -1;
	if (tags) {
		memcpy(md->pf.key, px->head.key, sizeof(md->pf.key));
		md->pf.nblk = px->head.nblk;
	}
	return 0;
}

/* Every record and the tags, or -1. */
static int
adopt_entries(struct maildrop *md, const char **why)
{
	/* every field is written by adopt_msg, so no zero fill */
	if (records_alloc(md, why) != 0)
		return -1;
	if (adopt_records(md, 0, md->px.head.nmsg, 1, why) != 0) {
		records_free(&md->ix);
		return -1;
	}
	return 0;
}

/*
 * A grown mailbox: the tags, and the records from the resuming message
 * on, where the scan of the new mail starts; those before it are read
 * when a command first needs them (adopt_unread).  Until then STAT
 * counts them from the header: all are served (the hidden one can only
 * be message 0, before any resuming message), none is deleted.
 */
static int
adopt_tail(struct maildrop *md, uint32_t k, const char **why)
{
	struct md_persist *px = &md->px;
	uint64_t tail = 0;

	if (records_alloc(md, why) != 0)
		return -1;
	if (adopt_records(md, k, px->head.nmsg, 1, why) != 0) {
		records_free(&md->ix);
		return -1;
	}
	for (uint32_t i = k; i < px->head.nmsg; i++)
		tail += md->ix.msg[i].size;
	if (tail > px->head.octets) {
		records_free(&md->ix);
		*why = "index has an inconsistent message entry";
		return -1;
	}
	px->unread = k;
	px->unread_octets = px->head.octets - tail;
	return 0;
}

/* The records a grown login left unread, checked against what STAT
   said of them and against the first one it read. */
static int
adopt_unread(struct maildrop *md, const char **why)
{
	struct md_index *ix = &md->ix;
	uint32_t k = md->px.unread;
	uint64_t octets = 0;

	if (adopt_records(md, 0, k, 0, why) != 0)
		return -1;
	for (uint32_t i = ix->first; i < k; i++)
		octets += ix->msg[i].size;
	if (octets != md->px.unread_octets ||
	    ix->msg[k - 1].end > ix->msg[k].off) {
		*why = "index has an inconsistent message entry";
		return -1;
	}
	return 0;
}

/* The index was not used, or is used up: what is left of it goes. */
static void
forget_file(struct maildrop *md)
{
	mdindex_reader_close(&md->px.rd);
	mdindex_free(&md->px.head);
	md->px.lazy = md->px.lazy_digs = 0;
	md->px.unread = 0;
	md->px.unread_octets = 0;
}

static void
adopt_drop(struct maildrop *md)
{
	free(md->ix.msg);
	memset(&md->ix, 0, sizeof(md->ix));
	free(md->dig);
	md->dig = NULL;
	forget_file(md);
}

static void
untrusted(struct maildrop *md, const char *why)
{
	md->px.verdict = why != NULL ? "is not trusted (a login scans)" : NULL;
	md->px.why = why;
	if (why != NULL && !md->cfg.inspect)
		syslog(LOG_INFO, "%s: index not used: %s; scanning %s",
		    md->px.path, why, md->f.path);
}

/*
 * The mailbox grew since the index was written.  The scan starts at the
 * index's resuming message: the last one (its end and size depend on
 * what follows it), or an earlier one whose Content-Length was weighed
 * (mbox.c trusts it only where it lands on a separator or on the end of
 * the file, which the new bytes may change); 0 means from the start.
 * The entries before it are kept as the index has them, read when first
 * needed; the blocks from the separator before it to the old end must
 * hold the bytes they were tagged over (else the index's end is not
 * where it was, and the whole file is scanned).  What lies before those
 * blocks is not read now, so its blocks stay doubtful: proven before any
 * of their bytes is sent, digested or cut, even while the file stays as
 * it is (proof.c).
 */
static enum md_load
grown(struct maildrop *md, uint64_t *from)
{
	struct md_index *ix = &md->ix;
	uint32_t k = md->px.head.resume;
	size_t first;
	const char *why = NULL;

	adopt_head(md);
	if (k == 0) {
		md->px.verdict = "exists; the mailbox grew since and must be "
		    "scanned from its first message";
		adopt_drop(md);
		md_proof_restart(md);
		return MD_LOAD_SCAN;
	}
	if (adopt_tail(md, k, &why) != 0) {
		adopt_drop(md);
		untrusted(md, why);
		return MD_LOAD_SCAN;
	}
	if (md_proof_resume(md, ix->msg[k].off, ix->size, &first) != 0) {
		adopt_drop(md);
		md_proof_restart(md);
		untrusted(md, "the end of the indexed mail is not as indexed");
		return MD_LOAD_SCAN;
	}
	*from = ix->msg[k].off;
	md->px.tail = (uint64_t)md->pf.snap.st_size - *from;
	ix->nmsg = k;
	ix->size = *from;
	md->px.doubt = first;
	md->px.lazy = 1;
	md->px.verdict = "is used: the mailbox grew since, so a login reads "
	    "only the new mail";
	return MD_LOAD_GREW;
}

/*
 * At login, after md_proof_begin's fstat (under the lock, but for
 * --check-user): UNCHANGED when the index's header describes the
 * mailbox as it is, which then answers STAT, the index file kept open
 * for the records, tags and digests (md_persist_entries,
 * md_persist_digests), so nothing of the mailbox needs to be read; GREW
 * when it holds the mailbox's first messages and the caller scans from
 * *from to the end (then md_persist_grown); SCAN when the caller must
 * scan the whole file.
 */
enum md_load
md_persist_load(struct maildrop *md, uint64_t *from)
{
	struct md_persist *px = &md->px;
	enum mdindex_trust t;
	const char *why = NULL;

	*from = 0;
	if (px->path == NULL)
		return MD_LOAD_SCAN;
	t = mdindex_load(px->dirfd, px->name, &md->pf.snap, &px->head,
	    &px->rd, &why);
	if (t != MDINDEX_UNTRUSTED && (px->head.blk_size != md->pf.blk_size ||
	    px->head.nblk > md->pf.nblk)) {
		forget_file(md);
		why = "index blocks of another size";
		t = MDINDEX_UNTRUSTED;
	}
	if (t == MDINDEX_UNTRUSTED) {
		untrusted(md, why);
		return MD_LOAD_SCAN;
	}
	if (t == MDINDEX_GREW)
		return grown(md, from);
	adopt_head(md);
	px->lazy = 1;
	px->lazy_digs = (px->head.flags & MDINDEX_DIGESTS) != 0;
	px->loaded = 1;
	px->verdict = "is trusted: the mailbox is unchanged";
	return MD_LOAD_UNCHANGED;
}

/*
 * Before the first command that needs the messages' records (LIST, RETR,
 * TOP, DELE, a UIDL that must read the mailbox, UPDATE): those of an
 * index loaded at login, checked against its header.  Should that fail
 * (the file changed in place, or damaged), the mailbox is scanned as a
 * login without an index would have, provided it is still as it was at
 * login (maildrop.c); the index is then written anew.
 */
enum md_status
md_persist_entries(struct maildrop *md, const char **why)
{
	struct md_persist *px = &md->px;
	const char *reason = NULL;
	enum md_status st;

	if (px->failed) {
		*why = "cannot read the mailbox index; please reconnect";
		return MD_TEMP;
	}
	if (!px->lazy)
		return MD_OK;
	if (px->unread > 0) {
		/* grown: the tags and the doubt were taken at login */
		if (adopt_unread(md, &reason) == 0) {
			forget_file(md);
			return MD_OK;
		}
		records_free(&md->ix);
	} else if (adopt_entries(md, &reason) == 0) {
		px->lazy = 0;
		md_proof_doubt(md, px->head.doubt);
		return MD_OK;
	}
	syslog(LOG_INFO, "%s: index not used: %s; scanning %s", px->path,
	    reason, md->f.path);
	free(md->dig);		/* the scan decides what counts */
	md->dig = NULL;
	forget_file(md);
	px->loaded = 0;
	if ((st = md_index_again(md, why)) != MD_OK) {
		px->failed = 1;
		px->stale = 1;
	}
	return st;
}

/* For UIDL: the digests an index loaded at login has, or -1. */
int
md_persist_digests(struct maildrop *md)
{
	struct md_persist *px = &md->px;
	struct mdindex_sink sink = { NULL, adopt_digest, NULL, md };
	const char *why = NULL;

	if (!px->lazy_digs)
		return -1;
	px->lazy_digs = 0;
	if (md_digests_alloc(md) != 0)
		return -1;
	if (mdindex_load_part(&px->rd, &px->head, MDINDEX_DIGS, &sink,
	    &why) == 0)
		return 0;
	syslog(LOG_INFO, "%s: index digests not used: %s", px->path, why);
	free(md->dig);
	md->dig = NULL;
	return -1;
}

/* Whether a loaded index's records, still to be read, cover blocks in
   doubt (written in the mailbox's last clock tick): UIDL proves them. */
int
md_persist_doubtful(const struct maildrop *md)
{
	return md->px.lazy && md->px.unread == 0 && md->px.head.doubt > 0;
}

/* The leading records of a grown mailbox not read yet (0: none), all
   served and none deleted, and their octets. */
unsigned
md_persist_unread(const struct maildrop *md, uint64_t *octets)
{
	*octets = md->px.unread_octets;
	return md->px.unread;
}

/* After the scan of a grown file and md_proof_end. */
void
md_persist_grown(struct maildrop *md)
{
	md_proof_doubt(md, md->px.doubt);
}

/* A grown mailbox whose new bytes cost the next login less to scan
   again than the index costs to write now (INDEX_TAIL_REWRITE). */
static int
tail_cheap(const struct maildrop *md)
{
	return md->px.tail > 0 && md->px.tail / INDEX_TAIL_REWRITE <
	    (uint64_t)md->ix.nmsg * MDINDEX_MSG_LEN;
}

/* Read after the snapshot and the settle wait, still under the lock. */
void
md_persist_tick(struct maildrop *md)
{
	if (clock_gettime(CLOCK_REALTIME_COARSE, &md->px.tick) != 0)
		md->px.tick.tv_sec = md->px.tick.tv_nsec = 0;
	md->px.ready = !md->cfg.inspect;
	if (!md->px.loaded && !tail_cheap(md))
		md->px.dirty = 1;
}

/* mdindex_source: entry i and the tag of block b. */
static void
source_msg(void *arg, uint32_t i, struct mdindex_msg *m)
{
	struct maildrop *md = arg;
	const struct md_msg *e = &md->ix.msg[i];

	m->off = e->off;
	m->end = e->end;
	m->size = e->size;
	m->sep_len = e->sep_len;
	m->flags = ((e->flags & F_HIDDEN) ? MDINDEX_HIDDEN : 0) |
	    ((e->flags & F_CLEN) ? MDINDEX_CLEN : 0);
	if (md_digest_get(md, i, m->digest, &m->dup))
		m->flags |= MDINDEX_DIGEST;
}

static const unsigned char *
source_tag(void *arg, uint32_t b)
{
	return md_proof_tag(arg, b);
}

/* Where the scan of this mailbox grown must start (struct mdindex). */
static uint32_t
resume_at(const struct md_index *ix)
{
	for (unsigned i = 0; i + 1 < ix->nmsg; i++)
		if (ix->msg[i].flags & F_CLEN)
			return i;
	return ix->nmsg > 0 ? ix->nmsg - 1 : 0;
}

/* The header: the snapshot at login, the tick after it, the blocks. */
static void
fill_head(struct maildrop *md, struct mdindex *dix)
{
	const struct stat *st = &md->pf.snap;

	memset(dix, 0, sizeof(*dix));
	dix->dev = (uint64_t)st->st_dev;
	dix->ino = (uint64_t)st->st_ino;
	dix->size = (uint64_t)st->st_size;
	dix->uid = (uint32_t)st->st_uid;
	dix->mtime = st->st_mtim;
	dix->ctime = st->st_ctim;
	dix->tick = md->px.tick;
	dix->end = md->ix.size;
	dix->nmsg = md->ix.nmsg;
	dix->blk_size = md->ix.size == 0 ? 0 : md->pf.blk_size;
	dix->nblk = (uint32_t)md->pf.nblk;
	dix->doubt = (uint32_t)md_proof_doubted(md);
	memcpy(dix->key, md->pf.key, sizeof(dix->key));
	dix->resume = resume_at(&md->ix);
	dix->flags = (md->ix.first ? MDINDEX_FIRST_HIDDEN : 0) |
	    (md->dig != NULL && md->ix.nmsg > 0 ? MDINDEX_DIGESTS : 0);
	for (unsigned i = md->ix.first; i < md->ix.nmsg; i++)
		dix->octets += md->ix.msg[i].size;
}

/*
 * A proof failed: the file was changed by another program, and the
 * index may hold entries of bytes that are no longer there (those of a
 * grown file are taken over unread).  It goes, so that the next login
 * scans the whole file.
 */
static void
drop_stale(struct maildrop *md)
{
	if (md_lock_try(md) != MD_OK)
		return;
	if (md_spool_unlink_index(md) != 0 && errno != ENOENT)
		syslog(LOG_ERR, "%s: cannot remove the index: %s",
		    md->px.path, strerror(errno));
	else
		syslog(LOG_INFO, "%s: index removed: the mailbox was "
		    "changed by another program", md->px.path);
	md_unlock(md);
}

/*
 * At the end of the session: write the index if this session knows more
 * than the file holds, as the mailbox owner only (root never writes a
 * file into a user's directory for them), under the mailbox lock so that
 * writers of NAME.tmp are serialized.  A busy lock or a busy writer
 * means skipping: it is a cache.
 */
void
md_persist_store(struct maildrop *md)
{
	struct mdindex dix;
	struct mdindex_source src = { source_msg, source_tag, md };
	const char *why = NULL;

	/* only the mailbox's owner writes or removes its index */
	if (md->px.path == NULL || md->f.fd < 0 ||
	    geteuid() != md->pf.snap.st_uid)
		return;
	if (md->px.stale && !md->cfg.inspect) {
		drop_stale(md);
		return;
	}
	/* what a grown login left unread is read now, if the new mail is
	   worth writing (md_persist_tick) */
	if (md->px.ready && md->px.dirty && md->px.unread > 0) {
		if (adopt_unread(md, &why) != 0) {
			syslog(LOG_INFO, "%s: index not written: %s",
			    md->px.path, why);
			return;
		}
		forget_file(md);
	}
	/* a session that never read the records learnt nothing new; an
	   empty mailbox costs a login nothing to read */
	if (!md->px.ready || !md->px.dirty || md->ix.oom || md->px.lazy ||
	    md->pf.snap.st_size == 0)
		return;
	if (md->ix.size > 0 && md->pf.blk_size == 0)
		return;
	fill_head(md, &dix);
	if (md_lock_try(md) != MD_OK)
		return;
	if (md_spool_store_index(md, &dix, &src, &why) != 0)
		syslog(LOG_INFO, "%s: index not written: %s", md->px.path,
		    why);
	md_unlock(md);
	explicit_bzero(&dix, sizeof(dix));
	md->px.dirty = 0;
}

/*
 * After an update (under the lock): the index becomes the new file's,
 * from what the update knows -- messages from `first` on that were
 * deleted leave it, the kept ones move down, and only the blocks from
 * the first deleted message on are tagged again.  Mail delivered during
 * the session lies past the new end; the snapshot's size is set to that
 * end, so the next login sees it as grown and scans it.
 */
void
md_persist_updated(struct maildrop *md, unsigned first, uint64_t s1)
{
	struct md_index *ix = &md->ix;
	uint64_t from = ix->msg[first].off, out = from, old_size = ix->size;
	unsigned n = first;
	int digests;

	/* the next index keeps the digests, if this session has them */
	if (md->dig == NULL)
		(void)md_persist_digests(md);
	digests = md->dig != NULL;

	for (unsigned i = first; i < ix->nmsg; i++) {
		struct md_msg e = ix->msg[i];
		uint64_t len = md_range_end(md, i) - e.off;
		unsigned char d[UIDL_DIGEST_LEN];
		uint32_t dup;

		if (e.flags & F_DELETED)
			continue;
		e.end = out + (e.end - e.off);
		e.off = out;
		out += len;
		if (digests && md_digest_get(md, i, d, &dup))
			md_digest_set(md, n, d, dup);
		ix->msg[n++] = e;
	}
	ix->nmsg = n;
	ix->size = out;
	md_recount(md);
	if (md->px.path == NULL)
		return;
	md->px.ready = 0;	/* unless all of the below works */
	if (out == 0) {
		/* nothing left to index: a login on what is delivered next
		   scans it from the start in any case */
		if (geteuid() == md->pf.snap.st_uid &&
		    md_spool_unlink_index(md) != 0 && errno != ENOENT)
			syslog(LOG_ERR, "%s: cannot remove the index: %s",
			    md->px.path, strerror(errno));
		return;
	}
	if ((digests && md_digests_renumber(md) != 0) ||
	    md_proof_retag(md, from) != 0 || fstat(md->f.fd, &md->pf.snap) != 0)
		return;		/* no index: the next login scans */
	if ((uint64_t)md->pf.snap.st_size != out + (s1 - old_size))
		return;		/* not what the update left: do not guess */
	md->pf.snap.st_size = (off_t)out;
	md_proof_settle_on(&md->pf.snap);
	md->px.loaded = 0;
	md->px.tail = 0;	/* what the update knows is worth writing */
	md_persist_tick(md);
}

/* For --check-user: whether an index exists and would be trusted. */
void
md_persist_describe(const struct maildrop *md, FILE *out)
{
	if (md->cfg.index_path == NULL)
		(void)fprintf(out, "index:    none (--no-index)\n");
	else if (md->px.path == NULL)
		(void)fprintf(out, "index:    %s: its directory cannot be "
		    "opened; not used\n", md->cfg.index_path);
	else
		(void)fprintf(out, "index:    %s %s%s%s\n", md->px.path,
		    md->px.verdict != NULL ? md->px.verdict : md->f.fd < 0 ||
		    md->pf.snap.st_size == 0 ? "not needed (no mail)" :
		    "does not exist (written at the end of a session)",
		    md->px.why != NULL ? ": " : "",
		    md->px.why != NULL ? md->px.why : "");
}
