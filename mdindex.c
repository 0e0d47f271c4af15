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
 *      100      4  doubtful blocks d <= b: blocks [0, d) were taken
 *                  over from an index of the file before it grew, and
 *                  no session has read them back since
 *      104     32  Poly1305 key of the block tags
 *      136   56 n  per message: off 8, end 8, RETR size 8, From_ line
 *                  length 8, flags 4 (hidden 1, digest 2, the
 *                  header had a Content-Length 4), dup 4, UIDL digest 16
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
 * invariants the maildrop code relies on; it allocates nothing, and reads
 * and writes through one bounded buffer, handing the entries over one at
 * a time, with the checksum computed as the bytes pass.  It is
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
	if (ix->nmsg > MAX_MSGS || ix->nblk > TAG_MAX_BLOCKS ||
	    ix->doubt > ix->nblk) {
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
	le_put(h + 100, ix->doubt, 4);
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

/* The bytes pass through one bounded buffer and the checksum context. */
struct stream {
	EVP_MD_CTX *ctx;
	unsigned char buf[INDEX_IO_RECS * MDINDEX_MSG_LEN];
};

static int
stream_begin(struct stream *sm, const char **why)
{
	if ((sm->ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(sm->ctx, EVP_sha256(), NULL) != 1) {
		*why = "cannot compute SHA-256";
		return -1;
	}
	return 0;
}

static void
stream_end(struct stream *sm)
{
	EVP_MD_CTX_free(sm->ctx);
	explicit_bzero(sm->buf, sizeof(sm->buf));	/* the tags' key */
}

/* The checksum of everything that went through sm. */
static int
stream_sum(struct stream *sm, unsigned char sum[MDINDEX_SUM_LEN],
    const char **why)
{
	unsigned char full[EVP_MAX_MD_SIZE];
	unsigned int n;

	if (EVP_DigestFinal_ex(sm->ctx, full, &n) != 1 ||
	    n < MDINDEX_SUM_LEN) {
		*why = "cannot compute SHA-256";
		return -1;
	}
	memcpy(sum, full, MDINDEX_SUM_LEN);
	return 0;
}

static int
emit(struct stream *sm, size_t n, mdindex_out *out, void *arg,
    const char **why)
{
	if (EVP_DigestUpdate(sm->ctx, sm->buf, n) != 1) {
		*why = "cannot compute SHA-256";
		return -1;
	}
	return out(arg, sm->buf, n, why);
}

static int
emit_msgs(const struct mdindex *ix, const struct mdindex_source *src,
    struct stream *sm, mdindex_out *out, void *arg, const char **why)
{
	uint64_t prev_end = 0;
	uint32_t i = 0;

	while (i < ix->nmsg) {
		size_t n = 0;

		for (; i < ix->nmsg && n < sizeof(sm->buf);
		    i++, n += MDINDEX_MSG_LEN) {
			struct mdindex_msg m;

			memset(&m, 0, sizeof(m));
			src->msg(src->arg, i, &m);
			if (!msg_ok(ix, i, &m, prev_end)) {
				*why = "index has an inconsistent message "
				    "entry";
				return -1;
			}
			encode_msg(&m, sm->buf + n);
			prev_end = m.end;
		}
		if (emit(sm, n, out, arg, why) != 0)
			return -1;
	}
	return 0;
}

static int
emit_tags(const struct mdindex *ix, const struct mdindex_source *src,
    struct stream *sm, mdindex_out *out, void *arg, const char **why)
{
	uint32_t b = 0;

	while (b < ix->nblk) {
		size_t n = 0;

		for (; b < ix->nblk && n < sizeof(sm->buf);
		    b++, n += MDINDEX_TAG_LEN)
			memcpy(sm->buf + n, src->tag(src->arg, b),
			    MDINDEX_TAG_LEN);
		if (emit(sm, n, out, arg, why) != 0)
			return -1;
	}
	return 0;
}

int
mdindex_encode_to(const struct mdindex *ix, const struct mdindex_source *src,
    mdindex_out *out, void *arg, const char **why)
{
	struct stream sm;
	unsigned char sum[MDINDEX_SUM_LEN];
	int r = -1;

	if (!head_ok(ix, why))
		return -1;
	if (stream_begin(&sm, why) != 0)
		goto done;
	encode_head(ix, sm.buf);
	if (emit(&sm, MDINDEX_HEAD_LEN, out, arg, why) == 0 &&
	    emit_msgs(ix, src, &sm, out, arg, why) == 0 &&
	    emit_tags(ix, src, &sm, out, arg, why) == 0 &&
	    stream_sum(&sm, sum, why) == 0)
		r = out(arg, sum, sizeof(sum), why);
done:
	stream_end(&sm);
	return r;
}

/* ---------------------------------------------------------------- */
/* Decoding                                                          */

/* The header alone: magic, version, and counts that fit the length. */
static int
decode_head(const unsigned char *h, uint64_t len, struct mdindex *ix,
    const char **why)
{
	if (memcmp(h, MAGIC, 8) != 0) {
		*why = "not an index file";
		return -1;
	}
	if ((uint32_t)le_get(h + 8, 4) != MDINDEX_VERSION) {
		*why = "index of another format version";
		return -1;
	}
	ix->nmsg = (uint32_t)le_get(h + 76, 4);
	ix->nblk = (uint32_t)le_get(h + 96, 4);
	ix->doubt = (uint32_t)le_get(h + 100, 4);
	if (ix->nmsg > MAX_MSGS || ix->nblk > TAG_MAX_BLOCKS ||
	    ix->doubt > ix->nblk) {
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

static void
decode_msg(const unsigned char *p, struct mdindex_msg *m)
{
	m->off = le_get(p, 8);
	m->end = le_get(p + 8, 8);
	m->size = le_get(p + 16, 8);
	m->sep_len = le_get(p + 24, 8);
	m->flags = (uint32_t)le_get(p + 32, 4);
	m->dup = (uint32_t)le_get(p + 36, 4);
	memcpy(m->digest, p + 40, MDINDEX_DIGEST_LEN);
}

/* The next n bytes into sm->buf, and into the checksum. */
static int
take(struct stream *sm, size_t n, mdindex_in *in, void *arg,
    const char **why)
{
	if (in(arg, sm->buf, n, why) != 0)
		return -1;
	if (EVP_DigestUpdate(sm->ctx, sm->buf, n) != 1) {
		*why = "cannot compute SHA-256";
		return -1;
	}
	return 0;
}

/* An inconsistent entry stops the handing over and is remembered in
   *bad, but the bytes are still read: a checksum mismatch, which says
   why better, takes precedence. */
static int
take_msgs(struct mdindex *ix, const struct mdindex_sink *sink, int *give,
    struct stream *sm, mdindex_in *in, void *arg, const char **bad,
    const char **why)
{
	uint64_t prev_end = 0;

	for (uint32_t i = 0; i < ix->nmsg; ) {
		uint32_t k = ix->nmsg - i < INDEX_IO_RECS ? ix->nmsg - i :
		    INDEX_IO_RECS;

		if (take(sm, (size_t)k * MDINDEX_MSG_LEN, in, arg, why) != 0)
			return -1;
		for (uint32_t j = 0; j < k && *bad == NULL; j++) {
			struct mdindex_msg m;

			decode_msg(sm->buf + (size_t)j * MDINDEX_MSG_LEN, &m);
			if (!msg_ok(ix, i + j, &m, prev_end)) {
				*bad = "index has an inconsistent message "
				    "entry";
				*give = 0;
				break;
			}
			prev_end = m.end;
			if (*give)
				sink->msg(sink->arg, i + j, &m);
		}
		i += k;
	}
	return 0;
}

static int
take_tags(struct mdindex *ix, const struct mdindex_sink *sink, int give,
    struct stream *sm, mdindex_in *in, void *arg, const char **why)
{
	const uint32_t batch = sizeof(sm->buf) / MDINDEX_TAG_LEN;
	uint32_t b = 0;

	while (b < ix->nblk) {
		uint32_t k = ix->nblk - b < batch ? ix->nblk - b : batch;

		if (take(sm, (size_t)k * MDINDEX_TAG_LEN, in, arg, why) != 0)
			return -1;
		for (uint32_t j = 0; give && j < k; j++)
			sink->tag(sink->arg, b + j,
			    sm->buf + (size_t)j * MDINDEX_TAG_LEN);
		b += k;
	}
	return 0;
}

/* Everything but the cleanup: the header, what sink says of it, the
   entries, the tags, and last the checksum over all of them, whose
   mismatch is the reason given for a damaged file, as it is the cause
   of whatever else looks wrong in it. */
static int
take_all(uint64_t len, mdindex_in *in, void *arg, struct mdindex *ix,
    const struct mdindex_sink *sink, struct stream *sm, const char **why)
{
	unsigned char sum[MDINDEX_SUM_LEN];
	const char *bad = NULL;
	int give = 0;

	if (len < MDINDEX_HEAD_LEN + MDINDEX_SUM_LEN) {
		*why = "not an index file";
		return -1;
	}
	if (take(sm, MDINDEX_HEAD_LEN, in, arg, why) != 0 ||
	    decode_head(sm->buf, len, ix, why) != 0)
		return -1;
	/* the counts fit the length: the rest can be read, and summed */
	if (!head_ok(ix, &bad))
		give = 0;
	else if (sink != NULL &&
	    (give = sink->begin(sink->arg, ix, why)) < 0)
		return -1;
	if (take_msgs(ix, sink, &give, sm, in, arg, &bad, why) != 0 ||
	    take_tags(ix, sink, give, sm, in, arg, why) != 0 ||
	    stream_sum(sm, sum, why) != 0 ||
	    in(arg, sm->buf, MDINDEX_SUM_LEN, why) != 0)
		return -1;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	/* (a fuzzer could never get past it to the checks before) */
	if (CRYPTO_memcmp(sum, sm->buf, sizeof(sum)) != 0) {
		*why = "index checksum mismatch";
		return -1;
	}
#endif
	if (bad != NULL) {
		*why = bad;
		return -1;
	}
	return 0;
}

int
mdindex_decode_from(uint64_t len, mdindex_in *in, void *in_arg,
    struct mdindex *ix, const struct mdindex_sink *sink, const char **why)
{
	struct stream sm;
	int r = -1;

	memset(ix, 0, sizeof(*ix));
	if (stream_begin(&sm, why) == 0)
		r = take_all(len, in, in_arg, ix, sink, &sm, why);
	stream_end(&sm);
	if (r != 0)
		explicit_bzero(ix, sizeof(*ix));
	return r;
}

void
mdindex_free(struct mdindex *ix)
{
	explicit_bzero(ix, sizeof(*ix));	/* the tags' key */
}

/* ---------------------------------------------------------------- */
/* In memory                                                         */

struct membuf {
	unsigned char *w;	/* NULL when reading */
	const unsigned char *r;
	size_t len, pos;
};

static int
mem_in(void *arg, unsigned char *p, size_t n, const char **why)
{
	struct membuf *mb = arg;

	if (n > mb->len - mb->pos) {
		*why = "index truncated or of the wrong length";
		return -1;
	}
	memcpy(p, mb->r + mb->pos, n);
	mb->pos += n;
	return 0;
}

static int
mem_out(void *arg, const unsigned char *p, size_t n, const char **why)
{
	struct membuf *mb = arg;

	if (n > mb->len - mb->pos) {
		*why = "index buffer of the wrong length";
		return -1;
	}
	memcpy(mb->w + mb->pos, p, n);
	mb->pos += n;
	return 0;
}

int
mdindex_encode(const struct mdindex *ix, const struct mdindex_source *src,
    unsigned char *out, size_t len, const char **why)
{
	struct membuf mb = { out, NULL, len, 0 };

	if (len != mdindex_encoded_len(ix)) {
		*why = "index buffer of the wrong length";
		return -1;
	}
	return mdindex_encode_to(ix, src, mem_out, &mb, why);
}

int
mdindex_decode(const unsigned char *buf, size_t len, struct mdindex *ix,
    const char **why)
{
	struct membuf mb = { NULL, buf, len, 0 };

	if (mdindex_decode_from(len, mem_in, &mb, ix, NULL, why) != 0)
		return -1;
	ix->bytes = buf;
	ix->len = len;
	return 0;
}

void
mdindex_msg_at(const struct mdindex *ix, uint32_t i, struct mdindex_msg *m)
{
	decode_msg(ix->bytes + MDINDEX_HEAD_LEN + (size_t)i * MDINDEX_MSG_LEN,
	    m);
}

const unsigned char *
mdindex_tag_at(const struct mdindex *ix, uint32_t b)
{
	return ix->bytes + MDINDEX_HEAD_LEN +
	    (size_t)ix->nmsg * MDINDEX_MSG_LEN + (size_t)b * MDINDEX_TAG_LEN;
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
