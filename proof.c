/*
 * proof.c - proof that bytes read now are the bytes indexed at login.
 *
 * Between login and QUIT the file is not locked, and mail delivered
 * meanwhile changes its size and times, so metadata cannot tell an append
 * from a rewrite -- nor can From_ lines and sizes, which cron mail, say,
 * shares.  So while indexing, every block of the file gets a Poly1305 tag
 * under a random key of this process (OpenSSL's EVP_MAC), fed from the
 * scanner's own reads.  Once the file has changed, whatever is read as
 * "what the client saw" (a message to send, the bytes an update keeps or
 * cuts, the digests of UIDL) is first proven against the tags of the
 * blocks it lies in: md_prove(from, to).  The key never leaves the
 * process: nobody can make other bytes match.  Nothing outside this file
 * knows about blocks or snapshots.
 *
 * The persistent index (persist.c) stores the tags and their key, so a
 * session that loads it proves bytes exactly as if it had indexed them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "md.h"

#define NSEC_PER_SEC	1000000000L

struct md_block {
	unsigned char tag[TAG_LEN];
	unsigned char ok;	/* proven since vsnap */
	unsigned char doubt;	/* tag from an index of the file before it
				   grew; not read back in this session */
};

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
block_end(const struct md_proof *pf, size_t b, uint64_t size)
{
	uint64_t end = (uint64_t)(b + 1) * pf->blk_size;

	return end < size ? end : size;
}

/* 1 if the file is as it was when it was indexed. */
int
md_proof_unchanged(struct maildrop *md)
{
	struct stat st;

	return fstat(md->f.fd, &st) == 0 && same_snapshot(&st, &md->pf.snap);
}

/* Snapshot the file (locked) and get ready to tag it as it is read. */
enum md_status
md_proof_begin(struct maildrop *md, const char **why)
{
	struct md_proof *pf = &md->pf;
	uint64_t size, bs = TAG_BLOCK;

	if (fstat(md->f.fd, &pf->snap) != 0) {
		syslog(LOG_ERR, "fstat %s: %s", md->f.path, strerror(errno));
		*why = "cannot read the mailbox";
		return MD_TEMP;
	}
	pf->vsnap = pf->snap;
	size = (uint64_t)pf->snap.st_size;
	if (size == 0)
		return MD_OK;
	while ((size + bs - 1) / bs > TAG_MAX_BLOCKS)
		bs *= 2;
	pf->blk_size = bs;
	pf->nblk = (size_t)((size + bs - 1) / bs);
	*why = "out of memory";
	if ((pf->blk = calloc(pf->nblk, sizeof(*pf->blk))) == NULL)
		return MD_TEMP;
	*why = "cannot fingerprint the mailbox";
	if (getrandom(pf->key, sizeof(pf->key), 0) !=
	    (ssize_t)sizeof(pf->key)) {
		syslog(LOG_ERR, "getrandom: %s", strerror(errno));
		return MD_TEMP;
	}
	*why = NULL;
	return MD_OK;
}

/* Poly1305 is set up when a first block is tagged: a login that loads an
   unchanged mailbox's index may never need it. */
static int
mac_ready(struct md_proof *pf)
{
	if (pf->ctx != NULL)
		return 0;
	if ((pf->mac == NULL &&
	    (pf->mac = EVP_MAC_fetch(NULL, "POLY1305", NULL)) == NULL) ||
	    (pf->ctx = EVP_MAC_CTX_new(pf->mac)) == NULL) {
		syslog(LOG_ERR, "cannot set up Poly1305 from OpenSSL");
		return -1;
	}
	return 0;
}

/* Tag [off, off + n), the next bytes of the file in order. */
int
md_proof_feed(struct maildrop *md, const char *p, size_t n, uint64_t off)
{
	struct md_proof *pf = &md->pf;
	uint64_t size = (uint64_t)pf->snap.st_size;
	size_t tl;

	if (off != pf->fed || n > size - off || mac_ready(pf) != 0)
		return -1;
	while (n > 0) {
		size_t b = (size_t)(pf->fed / pf->blk_size);
		uint64_t end = block_end(pf, b, size);
		size_t take = end - pf->fed < n ? (size_t)(end - pf->fed) : n;

		if (pf->fed == (uint64_t)b * pf->blk_size &&
		    EVP_MAC_init(pf->ctx, pf->key, sizeof(pf->key), NULL) != 1)
			return -1;
		if (EVP_MAC_update(pf->ctx, (const unsigned char *)p,
		    take) != 1)
			return -1;
		pf->fed += take;
		p += take;
		n -= take;
		if (pf->fed == end && EVP_MAC_final(pf->ctx, pf->blk[b].tag,
		    &tl, TAG_LEN) != 1)
			return -1;
	}
	return 0;
}

/* The tag of block b as the file holds it now, over [start, end). */
static int
block_tag(struct maildrop *md, size_t b, uint64_t end,
    unsigned char tag[TAG_LEN])
{
	struct md_proof *pf = &md->pf;
	uint64_t off = (uint64_t)b * pf->blk_size;
	size_t tl;

	if (md->b.in == NULL && (md->b.in = malloc(SEND_CHUNK)) == NULL)
		return -1;
	if (mac_ready(pf) != 0 ||
	    EVP_MAC_init(pf->ctx, pf->key, sizeof(pf->key), NULL) != 1)
		return -1;
	while (off < end) {
		size_t n = end - off > SEND_CHUNK ? SEND_CHUNK :
		    (size_t)(end - off);
		if (md_pread(md->f.fd, md->b.in, n, off) != (ssize_t)n ||
		    EVP_MAC_update(pf->ctx, (unsigned char *)md->b.in,
		    n) != 1)
			return -1;
		off += n;
	}
	return EVP_MAC_final(pf->ctx, tag, &tl, TAG_LEN) == 1 ? 0 : -1;
}

/*
 * Indexing is over and covered ix.size bytes (less than the file when a
 * mail bomb was cut short): the tags now cover exactly those.
 */
enum md_status
md_proof_end(struct maildrop *md, const char **why)
{
	struct md_proof *pf = &md->pf;
	uint64_t size = md->ix.size;
	size_t last;

	if (size == 0) {
		pf->nblk = 0;
		return MD_OK;
	}
	pf->nblk = (size_t)((size + pf->blk_size - 1) / pf->blk_size);
	last = pf->nblk - 1;
	if (block_end(pf, last, size) != block_end(pf, last,
	    (uint64_t)pf->snap.st_size) &&
	    block_tag(md, last, size, pf->blk[last].tag) != 0) {
		*why = "cannot fingerprint the mailbox";
		return MD_TEMP;
	}
	return MD_OK;
}

/*
 * Before Linux 6.13 mtime and ctime come from a coarse clock: a same-size
 * rewrite in the tick of the last write would leave the snapshot as it
 * was.  So, still under the lock, wait until the clock has left the tick
 * (a second, on file systems that keep whole seconds) of the file's
 * times; any later write then shows (popa3d waits out the second too).
 */
void
md_proof_settle(struct maildrop *md)
{
	md_proof_settle_on(&md->pf.snap);
}

void
md_proof_settle_on(const struct stat *st)
{
	struct timespec res, now, t = st->st_mtim;
	long tick;

	if (st->st_ctim.tv_sec > t.tv_sec || (st->st_ctim.tv_sec ==
	    t.tv_sec && st->st_ctim.tv_nsec > t.tv_nsec))
		t = st->st_ctim;
	if (clock_getres(CLOCK_REALTIME_COARSE, &res) != 0)
		res.tv_nsec = SETTLE_TICK_MAX_NS;
	tick = st->st_mtim.tv_nsec == 0 && st->st_ctim.tv_nsec == 0 ?
	    NSEC_PER_SEC : res.tv_nsec;
	if ((t.tv_nsec += tick) >= NSEC_PER_SEC) {
		t.tv_sec += t.tv_nsec / NSEC_PER_SEC;
		t.tv_nsec %= NSEC_PER_SEC;
	}
	for (int i = 0; i < SETTLE_TRIES; i++) {
		struct timespec nap = { 0, res.tv_nsec };

		if (clock_gettime(CLOCK_REALTIME_COARSE, &now) != 0 ||
		    now.tv_sec > t.tv_sec || (now.tv_sec == t.tv_sec &&
		    now.tv_nsec >= t.tv_nsec))
			return;
		if (tick == NSEC_PER_SEC)
			nap.tv_nsec = NSEC_PER_SEC - now.tv_nsec;
		(void)nanosleep(&nap, NULL);
	}
}

/* Does block b still hold the bytes it held when indexed? */
static int
block_intact(struct maildrop *md, size_t b)
{
	unsigned char tag[TAG_LEN];

	return block_tag(md, b, block_end(&md->pf, b, md->ix.size),
	    tag) == 0 &&
	    CRYPTO_memcmp(tag, md->pf.blk[b].tag, TAG_LEN) == 0;
}

/*
 * Are the indexed bytes [from, to) still there, unchanged?  Free while
 * nothing has written to the file; otherwise each block is proven once
 * for as long as the file then stays as it is.
 */
int
md_prove(struct maildrop *md, uint64_t from, uint64_t to)
{
	struct md_proof *pf = &md->pf;
	struct stat st;

	if (fstat(md->f.fd, &st) != 0)
		return 0;
	if (same_snapshot(&st, &pf->snap) && pf->ndoubt == 0)
		return 1;
	if (st.st_ino != pf->snap.st_ino || st.st_dev != pf->snap.st_dev ||
	    (uint64_t)st.st_size < md->ix.size)
		return 0;
	if (!same_snapshot(&st, &pf->vsnap)) {
		for (size_t b = 0; b < pf->nblk; b++)
			pf->blk[b].ok = 0;
		pf->vsnap = st;
	}
	for (size_t b = (size_t)(from / pf->blk_size);
	    from < to && b <= (size_t)((to - 1) / pf->blk_size); b++) {
		if (!pf->blk[b].ok && !block_intact(md, b)) {
			md->px.stale = 1;	/* the index must not outlive it */
			return 0;
		}
		pf->blk[b].ok = 1;
		if (pf->blk[b].doubt) {
			pf->blk[b].doubt = 0;
			if (--pf->ndoubt == 0)
				md->px.dirty = 1;	/* worth keeping */
		}
	}
	return 1;
}

/*
 * Has the file only grown by appended messages since it was indexed, and
 * are the indexed bytes from `from` on (the ones an update cuts and
 * moves) unchanged?  *cur is the file's size now.
 */
enum md_status
md_prove_grown(struct maildrop *md, uint64_t from, uint64_t *cur,
    const char **why)
{
	struct stat st, pst;
	char head[6];

	*why = "mailbox was changed by another program; nothing deleted";
	if (fstat(md->f.fd, &st) != 0 || fstatat(md->f.dirfd, md->f.name,
	    &pst, AT_SYMLINK_NOFOLLOW) != 0 || st.st_ino != pst.st_ino ||
	    st.st_dev != pst.st_dev) {
		syslog(LOG_NOTICE, "%s was replaced during the session",
		    md->f.path);
		return MD_TEMP;
	}
	*cur = (uint64_t)st.st_size;
	if (same_snapshot(&st, &md->pf.snap) && *cur == md->ix.size &&
	    md->pf.ndoubt == 0)
		return MD_OK;
	if (*cur < md->ix.size) {
		syslog(LOG_NOTICE, "%s shrank during the session", md->f.path);
		return MD_TEMP;
	}
	if (*cur > md->ix.size && (md_pread(md->f.fd, head, 6,
	    md->ix.size) != 6 || !md_is_from_line(head, 6))) {
		syslog(LOG_NOTICE, "%s: data after the indexed messages is "
		    "not a new message", md->f.path);
		return MD_TEMP;
	}
	if (!md_prove(md, from, md->ix.size)) {
		syslog(LOG_NOTICE, "%s was rewritten during the session",
		    md->f.path);
		return MD_TEMP;
	}
	*why = NULL;
	return MD_OK;
}

void
md_proof_free(struct maildrop *md)
{
	free(md->pf.blk);
	EVP_MAC_CTX_free(md->pf.ctx);
	EVP_MAC_free(md->pf.mac);
	explicit_bzero(md->pf.key, sizeof(md->pf.key));
}

/* The tag of block b, where persist.c loads and stores it. */
unsigned char *
md_proof_tag(struct maildrop *md, size_t b)
{
	return md->pf.blk[b].tag;
}

/*
 * After an update moved the bytes from `from` on: the blocks from there
 * to the new end (ix.size) are tagged again from the file as it is now,
 * which the caller has just written (under the lock).
 */
int
md_proof_retag(struct maildrop *md, uint64_t from)
{
	struct md_proof *pf = &md->pf;
	uint64_t size = md->ix.size;

	if (size == 0 || pf->blk_size == 0) {
		pf->nblk = 0;
		return 0;
	}
	pf->nblk = (size_t)((size + pf->blk_size - 1) / pf->blk_size);
	for (size_t b = (size_t)(from / pf->blk_size); b < pf->nblk; b++)
		if (block_tag(md, b, block_end(pf, b, size),
		    pf->blk[b].tag) != 0)
			return -1;
	return 0;
}

/*
 * Blocks [0, n) hold tags taken over from an index of the file before it
 * grew: nothing says the bytes are still those, so md_prove reads them
 * back even while the file stays as it was at login.  The other blocks
 * were read at this login, or are trusted as the unchanged file is.
 */
void
md_proof_doubt(struct maildrop *md, size_t n)
{
	struct md_proof *pf = &md->pf;

	pf->ndoubt = n < pf->nblk ? n : pf->nblk;
	pf->vsnap = pf->snap;
	for (size_t b = 0; b < pf->nblk; b++) {
		pf->blk[b].doubt = b < pf->ndoubt;
		pf->blk[b].ok = !pf->blk[b].doubt;
	}
}

/* How many leading blocks the stored index must call doubtful. */
size_t
md_proof_doubted(const struct maildrop *md)
{
	const struct md_proof *pf = &md->pf;
	size_t n = pf->ndoubt == 0 ? 0 : pf->nblk;

	while (n > 0 && !pf->blk[n - 1].doubt)
		n--;
	return n;
}

/*
 * The file grew since the index was written; the scan resumes at `from`
 * (a message's From_ line) and runs to the new end.  The blocks from the
 * one holding the two bytes before `from` (the separator's empty line)
 * to the old end `old` must still hold the bytes they were tagged over,
 * or -1: the end of the index is not where it was.  Then the bytes of
 * that first block before `from` are fed again, so that the scan's reads
 * tag the blocks from there on over the new bytes too.  *first: that
 * block, before which the tags are the old index's (md_proof_doubt).
 */
int
md_proof_resume(struct maildrop *md, uint64_t from, uint64_t old,
    size_t *first)
{
	struct md_proof *pf = &md->pf;
	unsigned char tag[TAG_LEN];
	size_t b0 = (size_t)((from > 2 ? from - 2 : 0) / pf->blk_size);
	uint64_t off = (uint64_t)b0 * pf->blk_size;

	if (md->b.in == NULL && (md->b.in = malloc(SEND_CHUNK)) == NULL)
		return -1;
	for (size_t b = b0; (uint64_t)b * pf->blk_size < old; b++)
		if (block_tag(md, b, block_end(pf, b, old), tag) != 0 ||
		    CRYPTO_memcmp(tag, pf->blk[b].tag, TAG_LEN) != 0)
			return -1;
	pf->fed = off;
	while (off < from) {
		size_t n = from - off > SEND_CHUNK ? SEND_CHUNK :
		    (size_t)(from - off);

		if (md_pread(md->f.fd, md->b.in, n, off) != (ssize_t)n ||
		    md_proof_feed(md, md->b.in, n, off) != 0)
			return -1;
		off += n;
	}
	*first = b0;
	return 0;
}

/* The index was not used after all: tag the whole file afresh. */
void
md_proof_restart(struct maildrop *md)
{
	struct md_proof *pf = &md->pf;

	pf->fed = 0;
	pf->ndoubt = 0;
	pf->nblk = (size_t)(((uint64_t)pf->snap.st_size + pf->blk_size - 1) /
	    pf->blk_size);
	memset(pf->blk, 0, pf->nblk * sizeof(*pf->blk));
}
