/*
 * mdindex.c - the persistent index file's bytes and when to trust them.
 *
 * This file owns the on-disk format of the index (README "Persistent
 * index") and the pure rule that says what a decoded index is worth for
 * the mailbox open now.  Reading and writing the side file safely is in
 * mdindex_file.c.  Every field has a fixed width and is little-endian,
 * written byte by byte, so hosts of any architecture that share a spool
 * read each other's files or reject them, never misread them:
 *
 *   offset  bytes  field
 *        0      8  magic "POP3DIDX"
 *        8      4  format version (MDINDEX_VERSION)
 *       12      4  the mailbox owner's uid
 *       16      8  the mailbox's st_dev
 *       24      8  st_ino
 *       32      8  st_size
 *       40      8  mtime seconds (two's complement)
 *       48      4  mtime nanoseconds
 *       52      4  ctime nanoseconds
 *       56      8  ctime seconds (two's complement)
 *       64      8  coarse clock tick at writing: seconds
 *       72      4  tick nanoseconds
 *       76      4  message count n
 *       80      8  indexed end: bytes indexed
 *       88      8  block size
 *       96      4  block count b
 *      100      4  zero
 *      104     32  Poly1305 key of the block tags
 *      136   56 n  per message: off 8, end 8, RETR size 8, From_ line
 *                  length 8, flags 4, dup 4, UIDL digest 16
 *       ..   16 b  per block: its Poly1305 tag
 *       ..     16  SHA-256 of all the bytes before, truncated
 *
 * The checksum catches truncation, torn writes and bit flips; it is not a
 * MAC, and need not be: the file is the mailbox owner's, mode 0600, and
 * whoever can write it can rewrite the mailbox itself, so a forged index
 * can show its author nothing the author could not put in the mailbox.
 * For the same reason the tags' key may be stored beside them: the tags
 * prove that bytes are unchanged against MDAs and editors, which never
 * read this file, not against the owner.
 *
 * Decoding checks every count against the file's length, and every entry
 * against its neighbours, so that what it accepts satisfies the
 * invariants the maildrop code relies on; it allocates nothing, as the
 * entries are read from the file's bytes when asked for.  It is
 * canonical: whatever it accepts, mdindex_encode() gives back byte for
 * byte.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "byteorder.h"
#include "mdindex.h"

#define MAGIC		"POP3DIDX"
#define NSEC_PER_SEC	1000000000L

/* Seconds go through uint64_t as two's complement, not by a cast of a
   negative value (implementation-defined the other way). */
static uint64_t
sec_bits(time_t s)
{
	return s < 0 ? ~(uint64_t)(-(s + 1)) : (uint64_t)s;
}

static time_t
sec_value(uint64_t v)
{
	return v >> 63 ? -(time_t)(~v) - 1 : (time_t)v;
}

static int
checksum(const unsigned char *buf, size_t len,
    unsigned char sum[MDINDEX_SUM_LEN])
{
	unsigned char full[EVP_MAX_MD_SIZE];
	unsigned int n;

	if (EVP_Digest(buf, len, full, &n, EVP_sha256(), NULL) != 1 ||
	    n < MDINDEX_SUM_LEN)
		return -1;
	memcpy(sum, full, MDINDEX_SUM_LEN);
	return 0;
}

static uint64_t
layout_len(uint32_t nmsg, uint32_t nblk)
{
	/* both bounded first, so this cannot overflow */
	return (uint64_t)MDINDEX_HEAD_LEN + (uint64_t)MDINDEX_MSG_LEN * nmsg +
	    (uint64_t)MDINDEX_TAG_LEN * nblk + MDINDEX_SUM_LEN;
}

uint64_t
mdindex_encoded_len(const struct mdindex *ix)
{
	if (ix->nmsg > MAX_MSGS || ix->nblk > TAG_MAX_BLOCKS)
		return 0;
	return layout_len(ix->nmsg, ix->nblk);
}

/* ---------------------------------------------------------------- */
/* Validation: what both encoding and decoding insist on             */

static int
time_ok(const struct timespec *t)
{
	return t->tv_nsec >= 0 && t->tv_nsec < NSEC_PER_SEC;
}

/* Blocks as the maildrop makes them: TAG_BLOCK doubled until they fit. */
static int
blocks_ok(const struct mdindex *ix)
{
	uint64_t bs = ix->blk_size;

	if (ix->end == 0)
		return ix->nblk == 0;
	if (bs < TAG_BLOCK || (bs & (bs - 1)) != 0 || bs > UINT64_MAX / 2)
		return 0;
	return ix->nblk == ix->end / bs + (ix->end % bs != 0);
}

/* Entry i lies after the entry before (which ended at prev_end) and
   inside the indexed bytes; so every entry ends before the next starts. */
static int
msg_ok(const struct mdindex *ix, uint32_t i, const struct mdindex_msg *m,
    uint64_t prev_end)
{
	static const unsigned char zero[MDINDEX_DIGEST_LEN];
	uint64_t body;

	if ((m->flags & ~MDINDEX_FLAGS) != 0 ||
	    ((m->flags & MDINDEX_HIDDEN) && i != 0))
		return 0;
	if (m->flags & MDINDEX_DIGEST) {
		if (m->dup == 0)
			return 0;
	} else if (m->dup != 0 || memcmp(m->digest, zero, sizeof(zero)) != 0)
		return 0;
	if (m->off < prev_end || m->sep_len == 0 || m->off > ix->end ||
	    m->sep_len > ix->end - m->off || m->end < m->off + m->sep_len ||
	    m->end > ix->end)
		return 0;
	/* LF becomes CRLF and a last line gets one: at most 2 per byte + 2 */
	body = m->end - m->off - m->sep_len;
	return m->size <= 2 * body + 2;
}

static int
head_ok(const struct mdindex *ix, const char **why)
{
	if (ix->nmsg > MAX_MSGS || ix->nblk > TAG_MAX_BLOCKS) {
		*why = "index counts out of bounds";
		return 0;
	}
	if (!time_ok(&ix->mtime) || !time_ok(&ix->ctime) ||
	    !time_ok(&ix->tick)) {
		*why = "index has an invalid time";
		return 0;
	}
	if (ix->end > ix->size || !blocks_ok(ix)) {
		*why = "index blocks do not cover the indexed bytes";
		return 0;
	}
	return 1;
}

/* ---------------------------------------------------------------- */
/* Encoding                                                          */

static void
encode_head(const struct mdindex *ix, unsigned char *h)
{
	memcpy(h, MAGIC, 8);
	le_put(h + 8, MDINDEX_VERSION, 4);
	le_put(h + 12, ix->uid, 4);
	le_put(h + 16, ix->dev, 8);
	le_put(h + 24, ix->ino, 8);
	le_put(h + 32, ix->size, 8);
	le_put(h + 40, sec_bits(ix->mtime.tv_sec), 8);
	le_put(h + 48, (uint32_t)ix->mtime.tv_nsec, 4);
	le_put(h + 52, (uint32_t)ix->ctime.tv_nsec, 4);
	le_put(h + 56, sec_bits(ix->ctime.tv_sec), 8);
	le_put(h + 64, sec_bits(ix->tick.tv_sec), 8);
	le_put(h + 72, (uint32_t)ix->tick.tv_nsec, 4);
	le_put(h + 76, ix->nmsg, 4);
	le_put(h + 80, ix->end, 8);
	le_put(h + 88, ix->blk_size, 8);
	le_put(h + 96, ix->nblk, 4);
	le_put(h + 100, 0, 4);
	memcpy(h + 104, ix->key, MDINDEX_KEY_LEN);
}

static void
encode_msg(const struct mdindex_msg *m, unsigned char *p)
{
	le_put(p, m->off, 8);
	le_put(p + 8, m->end, 8);
	le_put(p + 16, m->size, 8);
	le_put(p + 24, m->sep_len, 8);
	le_put(p + 32, m->flags, 4);
	le_put(p + 36, m->dup, 4);
	memcpy(p + 40, m->digest, MDINDEX_DIGEST_LEN);
}

int
mdindex_encode(const struct mdindex *ix, const struct mdindex_source *src,
    unsigned char *out, size_t len, const char **why)
{
	unsigned char *p = out + MDINDEX_HEAD_LEN;
	uint64_t prev_end = 0;

	if (!head_ok(ix, why))
		return -1;
	if (len != mdindex_encoded_len(ix)) {
		*why = "index buffer of the wrong length";
		return -1;
	}
	encode_head(ix, out);
	for (uint32_t i = 0; i < ix->nmsg; i++, p += MDINDEX_MSG_LEN) {
		struct mdindex_msg m;

		memset(&m, 0, sizeof(m));
		src->msg(src->arg, i, &m);
		if (!msg_ok(ix, i, &m, prev_end)) {
			*why = "index has an inconsistent message entry";
			return -1;
		}
		encode_msg(&m, p);
		prev_end = m.end;
	}
	for (uint32_t b = 0; b < ix->nblk; b++, p += MDINDEX_TAG_LEN)
		memcpy(p, src->tag(src->arg, b), MDINDEX_TAG_LEN);
	if (checksum(out, (size_t)(p - out), p) != 0) {
		*why = "cannot compute SHA-256";
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* Decoding                                                          */

/* The header alone: magic, version, and counts that fit the length. */
static int
decode_head(const unsigned char *h, size_t len, struct mdindex *ix,
    const char **why)
{
	if (len < MDINDEX_HEAD_LEN + MDINDEX_SUM_LEN ||
	    memcmp(h, MAGIC, 8) != 0) {
		*why = "not an index file";
		return -1;
	}
	if ((uint32_t)le_get(h + 8, 4) != MDINDEX_VERSION) {
		*why = "index of another format version";
		return -1;
	}
	ix->nmsg = (uint32_t)le_get(h + 76, 4);
	ix->nblk = (uint32_t)le_get(h + 96, 4);
	if (ix->nmsg > MAX_MSGS || ix->nblk > TAG_MAX_BLOCKS ||
	    le_get(h + 100, 4) != 0) {
		*why = "index counts out of bounds";
		return -1;
	}
	if (layout_len(ix->nmsg, ix->nblk) != len) {
		*why = "index truncated or of the wrong length";
		return -1;
	}
	ix->uid = (uint32_t)le_get(h + 12, 4);
	ix->dev = le_get(h + 16, 8);
	ix->ino = le_get(h + 24, 8);
	ix->size = le_get(h + 32, 8);
	ix->mtime.tv_sec = sec_value(le_get(h + 40, 8));
	ix->mtime.tv_nsec = (long)le_get(h + 48, 4);
	ix->ctime.tv_nsec = (long)le_get(h + 52, 4);
	ix->ctime.tv_sec = sec_value(le_get(h + 56, 8));
	ix->tick.tv_sec = sec_value(le_get(h + 64, 8));
	ix->tick.tv_nsec = (long)le_get(h + 72, 4);
	ix->end = le_get(h + 80, 8);
	ix->blk_size = le_get(h + 88, 8);
	memcpy(ix->key, h + 104, MDINDEX_KEY_LEN);
	return 0;
}

void
mdindex_msg_at(const struct mdindex *ix, uint32_t i, struct mdindex_msg *m)
{
	const unsigned char *p = ix->bytes + MDINDEX_HEAD_LEN +
	    (size_t)i * MDINDEX_MSG_LEN;

	m->off = le_get(p, 8);
	m->end = le_get(p + 8, 8);
	m->size = le_get(p + 16, 8);
	m->sep_len = le_get(p + 24, 8);
	m->flags = (uint32_t)le_get(p + 32, 4);
	m->dup = (uint32_t)le_get(p + 36, 4);
	memcpy(m->digest, p + 40, MDINDEX_DIGEST_LEN);
}

const unsigned char *
mdindex_tag_at(const struct mdindex *ix, uint32_t b)
{
	return ix->bytes + MDINDEX_HEAD_LEN +
	    (size_t)ix->nmsg * MDINDEX_MSG_LEN + (size_t)b * MDINDEX_TAG_LEN;
}

static int
msgs_ok(const struct mdindex *ix, const char **why)
{
	uint64_t prev_end = 0;

	for (uint32_t i = 0; i < ix->nmsg; i++) {
		struct mdindex_msg m;

		mdindex_msg_at(ix, i, &m);
		if (!msg_ok(ix, i, &m, prev_end)) {
			*why = "index has an inconsistent message entry";
			return 0;
		}
		prev_end = m.end;
	}
	return 1;
}

int
mdindex_decode(const unsigned char *buf, size_t len, struct mdindex *ix,
    const char **why)
{
	unsigned char sum[MDINDEX_SUM_LEN];

	memset(ix, 0, sizeof(*ix));
	if (decode_head(buf, len, ix, why) != 0)
		goto fail;
	if (checksum(buf, len - MDINDEX_SUM_LEN, sum) != 0) {
		*why = "cannot compute SHA-256";
		goto fail;
	}
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	/* (a fuzzer could never get past it to the checks below) */
	if (CRYPTO_memcmp(sum, buf + len - MDINDEX_SUM_LEN, sizeof(sum)) != 0) {
		*why = "index checksum mismatch";
		goto fail;
	}
#endif
	ix->bytes = buf;
	ix->len = len;
	if (!head_ok(ix, why) || !msgs_ok(ix, why))
		goto fail;
	return 0;
fail:
	explicit_bzero(ix, sizeof(*ix));
	return -1;
}

void
mdindex_free(struct mdindex *ix)
{
	if (ix->owned != NULL) {
		explicit_bzero(ix->owned, ix->len);	/* the tags' key */
		free(ix->owned);
	}
	explicit_bzero(ix, sizeof(*ix));
}

/* ---------------------------------------------------------------- */
/* Trust                                                             */

/* a < b */
static int
time_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static int
time_same(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/*
 * Before Linux 6.13 file times come from a coarse clock, so a same-size
 * rewrite in the same tick as the write the index saw leaves size and
 * times as they were.  The index describes the file only if its times
 * were older than the tick read after its fstat: every later write then
 * gets a time from that tick on, and so differs.  A time without
 * nanoseconds may come from a file system that keeps whole seconds,
 * where every write of that second gets the same time: then the second
 * must have been over.
 */
static int
older_than_tick(const struct timespec *t, const struct timespec *tick)
{
	if (t->tv_nsec == 0)
		return t->tv_sec < tick->tv_sec;
	return time_before(t, tick);
}

enum mdindex_trust
mdindex_trust(const struct mdindex *ix, const struct stat *mbox,
    const struct stat *file, const char **why)
{
	if (!mdindex_file_ok(file, mbox->st_uid, why))
		return MDINDEX_UNTRUSTED;
	if (ix->uid != (uint32_t)mbox->st_uid) {
		*why = "index written for another owner";
		return MDINDEX_UNTRUSTED;
	}
	if (ix->dev != (uint64_t)mbox->st_dev ||
	    ix->ino != (uint64_t)mbox->st_ino) {
		*why = "index describes another file";
		return MDINDEX_UNTRUSTED;
	}
	if (!older_than_tick(&ix->mtime, &ix->tick) ||
	    !older_than_tick(&ix->ctime, &ix->tick)) {
		*why = "index written in the clock tick of a mailbox change";
		return MDINDEX_UNTRUSTED;
	}
	if ((uint64_t)mbox->st_size < ix->size) {
		*why = "mailbox shrank since the index was written";
		return MDINDEX_UNTRUSTED;
	}
	if ((uint64_t)mbox->st_size > ix->size)
		return MDINDEX_GREW;
	if (!time_same(&mbox->st_mtim, &ix->mtime) ||
	    !time_same(&mbox->st_ctim, &ix->ctime)) {
		*why = "mailbox rewritten since the index was written";
		return MDINDEX_UNTRUSTED;
	}
	return MDINDEX_UNCHANGED;
}
