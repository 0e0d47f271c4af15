/*
 * mdindex.c - the persistent index file's bytes.
 *
 * This file owns the on-disk format of the index (README "Persistent
 * index").  The rule that says what a decoded index is worth for the
 * mailbox open now is mdindex_trust.c's; reading and writing the side
 * file safely is mdindex_file.c's.  Every field has a fixed width and is little-endian,
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
 *      136      8  octets: the sum of the RETR sizes of the messages
 *                  served (all but a hidden first one), as STAT says
 *      144      4  flags: message 0 is hidden 1, the digests part is
 *                  there 2
 *      148      4  resume r < n (0 when n is 0): the first message but
 *                  the last whose header had a Content-Length, else
 *                  the last one
 *      152     16  zero
 *      168     16  checksum of the digests part (zero without one)
 *      184     16  checksum of the tags part
 *      200     16  checksum of the 200 bytes before
 *      216     ..  records, in runs of MDINDEX_RUN_RECS (the last may
 *                  be shorter), each run followed by its checksum 16:
 *                  per message off 8, end 8, RETR size 8, From_ line
 *                  length 8, flags 4 (hidden 1, the header had a
 *                  Content-Length 4)
 *       ..   20 n  digests, if the flags say so: per message the UIDL
 *                  digest 16, dup 4
 *       ..   16 b  tags: per block its Poly1305 tag
 *
 * Every checksum is SHA-256, truncated; a run's is taken over the key at
 * 104, its number (4 bytes) and its records, so that it belongs to this
 * header and to its place.  A login reads the header alone; each part is
 * read, and checked, when the session first needs it, and a login on a
 * grown mailbox reads only the runs from the resuming message on.
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
 * against its neighbours and the header, so that what it accepts
 * satisfies the invariants the maildrop code relies on; it allocates
 * nothing, and reads and writes through one bounded buffer, handing the
 * entries over one at a time, with each part's checksum computed as its
 * bytes pass.  It is canonical: whatever it accepts, mdindex_encode()
 * gives back byte for byte.
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
has_digests(const struct mdindex *ix)
{
	return (ix->flags & MDINDEX_DIGESTS) != 0;
}

/* Where a part starts and how long it is; the counts bounded first, so
   none of this can overflow. */
static uint64_t
part_len(const struct mdindex *ix, enum mdindex_part part)
{
	switch (part) {
	case MDINDEX_RECORDS:
		return (uint64_t)MDINDEX_REC_LEN * ix->nmsg +
		    (uint64_t)MDINDEX_SUM_LEN * MDINDEX_RUNS(ix->nmsg);
	case MDINDEX_DIGS:
		return has_digests(ix) ? (uint64_t)MDINDEX_DIG_LEN * ix->nmsg :
		    0;
	default:
		return (uint64_t)MDINDEX_TAG_LEN * ix->nblk;
	}
}

static uint64_t
part_off(const struct mdindex *ix, enum mdindex_part part)
{
	uint64_t off = MDINDEX_HEAD_LEN;

	for (int p = 0; p < (int)part; p++)
		off += part_len(ix, (enum mdindex_part)p);
	return off;
}

/* Where record i is: the runs before it each end in a checksum. */
static uint64_t
rec_off(const struct mdindex *ix, uint32_t i)
{
	return part_off(ix, MDINDEX_RECORDS) + (uint64_t)MDINDEX_REC_LEN * i +
	    (uint64_t)MDINDEX_SUM_LEN * (i / MDINDEX_RUN_RECS);
}

static int
counts_ok(const struct mdindex *ix)
{
	return ix->nmsg <= MAX_MSGS && ix->nblk <= TAG_MAX_BLOCKS &&
	    ix->doubt <= ix->nblk && (ix->flags & ~MDINDEX_HEAD_FLAGS) == 0 &&
	    (ix->nmsg > 0 || ix->flags == 0) &&
	    (ix->nmsg > 0 ? ix->resume < ix->nmsg : ix->resume == 0);
}

uint64_t
mdindex_encoded_len(const struct mdindex *ix)
{
	if (!counts_ok(ix))
		return 0;
	return part_off(ix, MDINDEX_PARTS);
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

/* Record i lies after the one before (which ended at prev_end) and
   inside the indexed bytes, so every entry ends before the next starts;
   only message 0 may be hidden, and is exactly when the header says. */
static int
record_ok(const struct mdindex *ix, uint32_t i, const struct mdindex_msg *m,
    uint64_t prev_end)
{
	uint64_t body;

	if ((m->flags & ~MDINDEX_REC_FLAGS) != 0 ||
	    ((m->flags & MDINDEX_HIDDEN) != 0) != (i == 0 &&
	    (ix->flags & MDINDEX_FIRST_HIDDEN) != 0))
		return 0;
	if (m->off < prev_end || m->sep_len == 0 || m->off > ix->end ||
	    m->sep_len > ix->end - m->off || m->end < m->off + m->sep_len ||
	    m->end > ix->end)
		return 0;
	/* the resuming message is the first weighed Content-Length but
	   the last message's, else the last */
	if (i < ix->resume ? (m->flags & MDINDEX_CLEN) != 0 :
	    i == ix->resume && i + 1 < ix->nmsg && !(m->flags & MDINDEX_CLEN))
		return 0;
	/* LF becomes CRLF and a last line gets one: at most 2 per byte + 2,
	   said without overflow */
	body = m->end - m->off - m->sep_len;
	return m->size <= 2 || (m->size - 1) / 2 <= body;
}

static int
head_ok(const struct mdindex *ix, const char **why)
{
	if (!counts_ok(ix)) {
		*why = "index counts out of bounds";
		return 0;
	}
	if (!time_ok(&ix->mtime) || !time_ok(&ix->ctime) ||
	    !time_ok(&ix->tick)) {
		*why = "index has an invalid time";
		return 0;
	}
	if (ix->size > (uint64_t)INT64_MAX || ix->end > ix->size ||
	    !blocks_ok(ix)) {
		*why = "index blocks do not cover the indexed bytes";
		return 0;
	}
	/* each message sends at most twice its bytes and a line end */
	if (ix->octets / 2 > ix->end + ix->nmsg) {
		*why = "index octets out of bounds";
		return 0;
	}
	return 1;
}

/* ---------------------------------------------------------------- */
/* Encoding                                                          */

static void
encode_head(const struct mdindex *ix, unsigned char *h)
{
	memset(h, 0, MDINDEX_HEAD_LEN);
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
	le_put(h + 136, ix->octets, 8);
	le_put(h + 144, ix->flags, 4);
	le_put(h + 148, ix->resume, 4);
	/* the records' checksums are in their runs: 152 stays zero */
	for (int p = MDINDEX_DIGS; p < MDINDEX_PARTS; p++)
		memcpy(h + 152 + p * MDINDEX_SUM_LEN, ix->sum[p],
		    MDINDEX_SUM_LEN);
}

static void
encode_record(const struct mdindex_msg *m, unsigned char *p)
{
	le_put(p, m->off, 8);
	le_put(p + 8, m->end, 8);
	le_put(p + 16, m->size, 8);
	le_put(p + 24, m->sep_len, 8);
	le_put(p + 32, m->flags & MDINDEX_REC_FLAGS, 4);
}

static void
encode_digest(const struct mdindex_msg *m, unsigned char *p)
{
	memcpy(p, m->digest, MDINDEX_DIGEST_LEN);
	le_put(p + MDINDEX_DIGEST_LEN, m->dup, 4);
}

/* The bytes pass through one bounded buffer and a checksum context. */
struct stream {
	EVP_MD_CTX *ctx;
	uint64_t off;		/* in the file, of the next bytes */
	unsigned char buf[INDEX_IO_RECS * MDINDEX_MSG_LEN];
};

static int
stream_begin(struct stream *sm, uint64_t off, const char **why)
{
	sm->off = off;
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
	sm->ctx = NULL;
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

/* The checksum of n bytes at p, in one go (the header). */
static int
sum_of(const unsigned char *p, size_t n, unsigned char sum[MDINDEX_SUM_LEN],
    const char **why)
{
	struct stream sm;
	int r = -1;

	if (stream_begin(&sm, 0, why) == 0 &&
	    EVP_DigestUpdate(sm.ctx, p, n) == 1)
		r = stream_sum(&sm, sum, why);
	else
		*why = "cannot compute SHA-256";
	stream_end(&sm);
	return r;
}

static int
emit(struct stream *sm, size_t n, mdindex_out *out, void *arg,
    const char **why)
{
	if (EVP_DigestUpdate(sm->ctx, sm->buf, n) != 1) {
		*why = "cannot compute SHA-256";
		return -1;
	}
	if (out(arg, sm->off, sm->buf, n, why) != 0)
		return -1;
	sm->off += n;
	return 0;
}

/* Starts the checksum of run r of the records: the key and r first. */
static int
run_begin(struct stream *sm, const struct mdindex *ix, uint32_t r,
    const char **why)
{
	unsigned char n[4];

	le_put(n, r, 4);
	if (EVP_DigestInit_ex(sm->ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(sm->ctx, ix->key, MDINDEX_KEY_LEN) != 1 ||
	    EVP_DigestUpdate(sm->ctx, n, sizeof(n)) != 1) {
		*why = "cannot compute SHA-256";
		return -1;
	}
	return 0;
}

/* The first record after the run that holds record i. */
static uint32_t
run_end(const struct mdindex *ix, uint32_t i)
{
	uint64_t e = ((uint64_t)i / MDINDEX_RUN_RECS + 1) * MDINDEX_RUN_RECS;

	return e < ix->nmsg ? (uint32_t)e : ix->nmsg;
}

static int
emit_run_sum(struct stream *sm, mdindex_out *out, void *arg,
    const char **why)
{
	unsigned char sum[MDINDEX_SUM_LEN];

	if (stream_sum(sm, sum, why) != 0 ||
	    out(arg, sm->off, sum, sizeof(sum), why) != 0)
		return -1;
	sm->off += sizeof(sum);
	return 0;
}

/* One message part, records or digests, checked as it goes; each run
   of records closed by its checksum. */
static int
emit_msgs(const struct mdindex *ix, enum mdindex_part part,
    const struct mdindex_source *src, struct stream *sm, mdindex_out *out,
    void *arg, const char **why)
{
	int recs = part == MDINDEX_RECORDS;
	size_t len = recs ? MDINDEX_REC_LEN : MDINDEX_DIG_LEN;
	uint64_t prev_end = 0, octets = 0;
	uint32_t i = 0;

	while (i < ix->nmsg) {
		uint32_t stop = recs ? run_end(ix, i) : ix->nmsg;
		size_t n = 0;

		if (recs && i % MDINDEX_RUN_RECS == 0 &&
		    run_begin(sm, ix, i / MDINDEX_RUN_RECS, why) != 0)
			return -1;
		for (; i < stop && n + len <= sizeof(sm->buf); i++, n += len) {
			struct mdindex_msg m;

			memset(&m, 0, sizeof(m));
			src->msg(src->arg, i, &m);
			if (!recs) {
				if (!(m.flags & MDINDEX_DIGEST) || m.dup == 0)
					goto bad;
				encode_digest(&m, sm->buf + n);
				continue;
			}
			m.flags &= ~MDINDEX_DIGEST;	/* the other part's */
			if (!record_ok(ix, i, &m, prev_end))
				goto bad;
			encode_record(&m, sm->buf + n);
			prev_end = m.end;
			if (!(m.flags & MDINDEX_HIDDEN))
				octets += m.size;
		}
		if (emit(sm, n, out, arg, why) != 0)
			return -1;
		if (recs && i == stop && emit_run_sum(sm, out, arg, why) != 0)
			return -1;
	}
	if (recs && octets != ix->octets)
		goto bad;
	return 0;
bad:
	*why = "index has an inconsistent message entry";
	return -1;
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

static int
emit_part(struct mdindex *ix, enum mdindex_part part,
    const struct mdindex_source *src, mdindex_out *out, void *arg,
    const char **why)
{
	struct stream sm;
	int r = -1;

	memset(ix->sum[part], 0, MDINDEX_SUM_LEN);
	if (part == MDINDEX_DIGS && !has_digests(ix))
		return 0;
	if (stream_begin(&sm, part_off(ix, part), why) == 0 &&
	    (part == MDINDEX_TAGS ? emit_tags(ix, src, &sm, out, arg, why) :
	    emit_msgs(ix, part, src, &sm, out, arg, why)) == 0)
		r = part == MDINDEX_RECORDS ? 0 :
		    stream_sum(&sm, ix->sum[part], why);
	stream_end(&sm);
	return r;
}

int
mdindex_encode_to(struct mdindex *ix, const struct mdindex_source *src,
    mdindex_out *out, void *arg, const char **why)
{
	unsigned char h[MDINDEX_HEAD_LEN];
	int r = -1;

	if (!head_ok(ix, why))
		return -1;
	for (int p = 0; p < MDINDEX_PARTS; p++)
		if (emit_part(ix, (enum mdindex_part)p, src, out, arg, why) !=
		    0)
			return -1;
	encode_head(ix, h);
	if (sum_of(h, MDINDEX_HEAD_LEN - MDINDEX_SUM_LEN,
	    h + MDINDEX_HEAD_LEN - MDINDEX_SUM_LEN, why) == 0)
		r = out(arg, 0, h, MDINDEX_HEAD_LEN, why);
	explicit_bzero(h, sizeof(h));	/* the tags' key */
	return r;
}

/* ---------------------------------------------------------------- */
/* Decoding                                                          */

/* The checks that cannot pass a fuzzer's mutations are skipped in a
   fuzzing build, so that it reaches the checks after them. */
static int
sum_differs(const unsigned char *a, const unsigned char *b)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	(void)a;
	(void)b;
	return 0;
#else
	return CRYPTO_memcmp(a, b, MDINDEX_SUM_LEN) != 0;
#endif
}

static void
decode_fields(const unsigned char *h, struct mdindex *ix)
{
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
	ix->nmsg = (uint32_t)le_get(h + 76, 4);
	ix->end = le_get(h + 80, 8);
	ix->blk_size = le_get(h + 88, 8);
	ix->nblk = (uint32_t)le_get(h + 96, 4);
	ix->doubt = (uint32_t)le_get(h + 100, 4);
	memcpy(ix->key, h + 104, MDINDEX_KEY_LEN);
	ix->octets = le_get(h + 136, 8);
	ix->flags = (uint32_t)le_get(h + 144, 4);
	ix->resume = (uint32_t)le_get(h + 148, 4);
	for (int p = 0; p < MDINDEX_PARTS; p++)
		memcpy(ix->sum[p], h + 152 + p * MDINDEX_SUM_LEN,
		    MDINDEX_SUM_LEN);
}

static int
take_head(const unsigned char *h, uint64_t len, struct mdindex *ix,
    const char **why)
{
	static const unsigned char zero[MDINDEX_SUM_LEN];
	unsigned char sum[MDINDEX_SUM_LEN];

	if (len < MDINDEX_HEAD_LEN || memcmp(h, MAGIC, 8) != 0) {
		*why = "not an index file";
		return -1;
	}
	if ((uint32_t)le_get(h + 8, 4) != MDINDEX_VERSION) {
		*why = "index of another format version";
		return -1;
	}
	if (sum_of(h, MDINDEX_HEAD_LEN - MDINDEX_SUM_LEN, sum, why) != 0)
		return -1;
	if (sum_differs(sum, h + MDINDEX_HEAD_LEN - MDINDEX_SUM_LEN)) {
		*why = "index checksum mismatch";
		return -1;
	}
	decode_fields(h, ix);
	if (!head_ok(ix, why))
		return -1;
	if (memcmp(ix->sum[MDINDEX_RECORDS], zero, MDINDEX_SUM_LEN) != 0 ||
	    (!has_digests(ix) &&
	    memcmp(ix->sum[MDINDEX_DIGS], zero, MDINDEX_SUM_LEN) != 0)) {
		*why = "not an index file";
		return -1;
	}
	if (mdindex_encoded_len(ix) != len) {
		*why = "index truncated or of the wrong length";
		return -1;
	}
	return 0;
}

int
mdindex_decode_head(const unsigned char *h, uint64_t len, struct mdindex *ix,
    const char **why)
{
	memset(ix, 0, sizeof(*ix));
	if (take_head(h, len, ix, why) != 0) {
		explicit_bzero(ix, sizeof(*ix));
		return -1;
	}
	return 0;
}

static void
decode_record(const unsigned char *p, struct mdindex_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->off = le_get(p, 8);
	m->end = le_get(p + 8, 8);
	m->size = le_get(p + 16, 8);
	m->sep_len = le_get(p + 24, 8);
	m->flags = (uint32_t)le_get(p + 32, 4);
}

/* The next n bytes into sm->buf, and into the checksum. */
static int
take(struct stream *sm, size_t n, mdindex_in *in, void *arg,
    const char **why)
{
	if (in(arg, sm->off, sm->buf, n, why) != 0)
		return -1;
	if (EVP_DigestUpdate(sm->ctx, sm->buf, n) != 1) {
		*why = "cannot compute SHA-256";
		return -1;
	}
	sm->off += n;
	return 0;
}

/* The running checks of a message part, for what comes last. */
struct msg_checks {
	uint64_t prev_end, octets;
	int bad;		/* an inconsistent entry */
	int mismatch;		/* a run's checksum */
};

static void
check_entry(const struct mdindex *ix, enum mdindex_part part, uint32_t i,
    const unsigned char *p, const struct mdindex_sink *sink,
    struct msg_checks *c)
{
	struct mdindex_msg m;
	uint32_t dup;

	if (part == MDINDEX_DIGS) {
		dup = (uint32_t)le_get(p + MDINDEX_DIGEST_LEN, 4);
		if (dup == 0)
			c->bad = 1;
		else if (sink != NULL)
			sink->digest(sink->arg, i, p, dup);
		return;
	}
	decode_record(p, &m);
	if (!record_ok(ix, i, &m, c->prev_end)) {
		c->bad = 1;
		return;
	}
	c->prev_end = m.end;
	if (!(m.flags & MDINDEX_HIDDEN))
		c->octets += m.size;
	if (sink != NULL)
		sink->msg(sink->arg, i, &m);
}

/* The checksum that closes a run, read past the stream's own. */
static int
take_run_sum(struct stream *sm, mdindex_in *in, void *arg,
    struct msg_checks *c, const char **why)
{
	unsigned char sum[MDINDEX_SUM_LEN], want[MDINDEX_SUM_LEN];

	if (stream_sum(sm, sum, why) != 0 ||
	    in(arg, sm->off, want, sizeof(want), why) != 0)
		return -1;
	sm->off += sizeof(want);
	if (sum_differs(sum, want))
		c->mismatch = 1;
	return 0;
}

/*
 * The entries [from, to) of a message part go to sink; the records are
 * read a whole run at a time, those around the range checked but not
 * handed over.  An inconsistent entry stops the handing over, but the
 * bytes are still read: a checksum mismatch, which says why better,
 * takes precedence.
 */
static int
take_msgs(const struct mdindex *ix, enum mdindex_part part, uint32_t from,
    uint32_t to, const struct mdindex_sink *sink, struct stream *sm,
    mdindex_in *in, void *arg, struct msg_checks *c, const char **why)
{
	int recs = part == MDINDEX_RECORDS;
	size_t len = recs ? MDINDEX_REC_LEN : MDINDEX_DIG_LEN;
	uint32_t batch = (uint32_t)(sizeof(sm->buf) / len);
	uint32_t i = from, last = to;

	if (recs && from < to) {
		i = from / MDINDEX_RUN_RECS * MDINDEX_RUN_RECS;
		last = run_end(ix, to - 1);
		sm->off = rec_off(ix, i);
	}
	while (i < last) {
		uint32_t stop = recs ? run_end(ix, i) : last;
		uint32_t k = stop - i < batch ? stop - i : batch;

		if (recs && i % MDINDEX_RUN_RECS == 0 &&
		    run_begin(sm, ix, i / MDINDEX_RUN_RECS, why) != 0)
			return -1;
		if (take(sm, (size_t)k * len, in, arg, why) != 0)
			return -1;
		for (uint32_t j = 0; j < k && !c->bad; j++)
			check_entry(ix, part, i + j, sm->buf + (size_t)j * len,
			    i + j >= from && i + j < to ? sink : NULL, c);
		i += k;
		if (recs && i == stop && take_run_sum(sm, in, arg, c, why) != 0)
			return -1;
	}
	if (recs && from == 0 && to == ix->nmsg && c->octets != ix->octets)
		c->bad = 1;
	return 0;
}

/* What the checks of a message part come to. */
static int
checks_verdict(const struct msg_checks *c, const char **why)
{
	if (c->mismatch) {
		*why = "index checksum mismatch";
		return -1;
	}
	if (c->bad) {
		*why = "index has an inconsistent message entry";
		return -1;
	}
	return 0;
}

int
mdindex_decode_records(const struct mdindex *ix, uint32_t from, uint32_t to,
    mdindex_in *in, void *in_arg, const struct mdindex_sink *sink,
    const char **why)
{
	struct stream sm;
	struct msg_checks c;
	int r = -1;

	memset(&c, 0, sizeof(c));
	if (from > to || to > ix->nmsg) {
		*why = "index records asked for out of range";
		return -1;
	}
	if (stream_begin(&sm, part_off(ix, MDINDEX_RECORDS), why) == 0 &&
	    take_msgs(ix, MDINDEX_RECORDS, from, to, sink, &sm, in, in_arg,
	    &c, why) == 0)
		r = checks_verdict(&c, why);
	stream_end(&sm);
	return r;
}

static int
take_tags(const struct mdindex *ix, const struct mdindex_sink *sink,
    struct stream *sm, mdindex_in *in, void *arg, const char **why)
{
	const uint32_t batch = sizeof(sm->buf) / MDINDEX_TAG_LEN;
	uint32_t b = 0;

	while (b < ix->nblk) {
		uint32_t k = ix->nblk - b < batch ? ix->nblk - b : batch;

		if (take(sm, (size_t)k * MDINDEX_TAG_LEN, in, arg, why) != 0)
			return -1;
		for (uint32_t j = 0; sink != NULL && j < k; j++)
			sink->tag(sink->arg, b + j,
			    sm->buf + (size_t)j * MDINDEX_TAG_LEN);
		b += k;
	}
	return 0;
}

int
mdindex_decode_part(const struct mdindex *ix, enum mdindex_part part,
    mdindex_in *in, void *in_arg, const struct mdindex_sink *sink,
    const char **why)
{
	struct stream sm;
	struct msg_checks c;
	unsigned char sum[MDINDEX_SUM_LEN];
	int r = -1;

	if (part == MDINDEX_RECORDS)
		return mdindex_decode_records(ix, 0, ix->nmsg, in, in_arg,
		    sink, why);
	if (part == MDINDEX_DIGS && !has_digests(ix)) {
		*why = "index has no UIDL digests";
		return -1;
	}
	memset(&c, 0, sizeof(c));
	if (stream_begin(&sm, part_off(ix, part), why) != 0)
		goto done;
	if (part == MDINDEX_TAGS)
		r = take_tags(ix, sink, &sm, in, in_arg, why);
	else
		r = take_msgs(ix, part, 0, ix->nmsg, sink, &sm, in, in_arg,
		    &c, why);
	if (r == 0 && (r = stream_sum(&sm, sum, why)) == 0) {
		if (sum_differs(sum, ix->sum[part]))
			c.mismatch = 1;
		r = checks_verdict(&c, why);
	}
done:
	stream_end(&sm);
	return r;
}

void
mdindex_free(struct mdindex *ix)
{
	explicit_bzero(ix, sizeof(*ix));	/* the tags' key */
}

/* ---------------------------------------------------------------- */
/* In memory                                                         */

/* Reading or writing len bytes at base. */
struct membuf {
	unsigned char *w;	/* NULL when reading */
	const unsigned char *r;
	size_t len;
};

static int
mem_in(void *arg, uint64_t off, unsigned char *p, size_t n, const char **why)
{
	const struct membuf *mb = arg;

	if (off > mb->len || n > mb->len - off) {
		*why = "index truncated or of the wrong length";
		return -1;
	}
	memcpy(p, mb->r + off, n);
	return 0;
}

static int
mem_out(void *arg, uint64_t off, const unsigned char *p, size_t n,
    const char **why)
{
	const struct membuf *mb = arg;

	if (off > mb->len || n > mb->len - off) {
		*why = "index buffer of the wrong length";
		return -1;
	}
	memcpy(mb->w + off, p, n);
	return 0;
}

int
mdindex_encode(struct mdindex *ix, const struct mdindex_source *src,
    unsigned char *out, size_t len, const char **why)
{
	struct membuf mb = { out, NULL, len };

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
	struct membuf mb = { NULL, buf, len };

	if (mdindex_decode_head(buf, len, ix, why) != 0)
		return -1;
	for (int p = 0; p < MDINDEX_PARTS; p++) {
		if (p == MDINDEX_DIGS && !has_digests(ix))
			continue;
		if (mdindex_decode_part(ix, (enum mdindex_part)p, mem_in, &mb,
		    NULL, why) != 0) {
			mdindex_free(ix);
			return -1;
		}
	}
	ix->bytes = buf;
	ix->len = len;
	return 0;
}

void
mdindex_msg_at(const struct mdindex *ix, uint32_t i, struct mdindex_msg *m)
{
	const unsigned char *d;

	decode_record(ix->bytes + rec_off(ix, i), m);
	if (!has_digests(ix))
		return;
	d = ix->bytes + part_off(ix, MDINDEX_DIGS) + (size_t)i * MDINDEX_DIG_LEN;
	m->flags |= MDINDEX_DIGEST;
	memcpy(m->digest, d, MDINDEX_DIGEST_LEN);
	m->dup = (uint32_t)le_get(d + MDINDEX_DIGEST_LEN, 4);
}

const unsigned char *
mdindex_tag_at(const struct mdindex *ix, uint32_t b)
{
	return ix->bytes + part_off(ix, MDINDEX_TAGS) +
	    (size_t)b * MDINDEX_TAG_LEN;
}
