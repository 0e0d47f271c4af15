/*
 * test_mdindex.c - unit tests of the persistent index file (mdindex.c,
 * mdindex_file.c): the format by byte fixtures, the trust rule by a table
 * of cases, and the side-file rules in a temp directory.  Needs no root;
 * prints TAP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "byteorder.h"
#include "mdindex.h"
#include "unit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---------------------------------------------------------------- */
/* Fixtures                                                          */

#define FIX_MSGS	3
#define FIX_BLKS	2
/* the RETR sizes of messages 1 and 2: message 0 is hidden */
#define FIX_OCTETS	(1100000ULL + 1400000000ULL)

/* The header's fields of the new layout, and where the parts are in the
   fixture with digests (without them, the tags follow the records). */
#define H_OCTETS	136
#define H_FLAGS		144
#define H_ZERO		148
#define H_SUM(part)	(152 + (part) * MDINDEX_SUM_LEN)
#define H_SUM_HEAD	(MDINDEX_HEAD_LEN - MDINDEX_SUM_LEN)
#define REC(i, field)	(MDINDEX_HEAD_LEN + (i) * MDINDEX_REC_LEN + (field))
#define DIG(i, field)	(REC(FIX_MSGS, 0) + (i) * MDINDEX_DIG_LEN + (field))
#define TAG(b)		(DIG(FIX_MSGS, 0) + (b) * MDINDEX_TAG_LEN)
#define TAG_PLAIN(b)	(REC(FIX_MSGS, 0) + (b) * MDINDEX_TAG_LEN)

static struct mdindex_msg fix_msg[FIX_MSGS];
static unsigned char fix_tag[FIX_BLKS][MDINDEX_TAG_LEN];

/* A mailbox of three messages over two blocks, the first one hidden,
   every one with its UIDL digest (the last two identical copies). */
static void
fixture(struct mdindex *ix)
{
	static const struct mdindex_msg m[FIX_MSGS] = {
		{ 0, 500, 520, 40, MDINDEX_HIDDEN | MDINDEX_DIGEST, 1, { 0 } },
		{ 501, 1048600, 1100000, 44, MDINDEX_DIGEST | MDINDEX_CLEN, 1,
		    { 0 } },
		{ 1048601, 5000000000ULL, 1400000000ULL, 4294967400ULL,
		    MDINDEX_DIGEST, 2, { 0 } },
	};

	memcpy(fix_msg, m, sizeof(m));
	for (int i = 0; i < MDINDEX_DIGEST_LEN; i++) {
		fix_msg[0].digest[i] = (unsigned char)(0x30 + i);
		fix_msg[1].digest[i] = (unsigned char)(0xa0 + i);
		fix_msg[2].digest[i] = (unsigned char)(0xa0 + i);
	}
	for (int b = 0; b < FIX_BLKS; b++)
		for (int i = 0; i < MDINDEX_TAG_LEN; i++)
			fix_tag[b][i] = (unsigned char)(b * 16 + i);
	memset(ix, 0, sizeof(*ix));
	ix->dev = 0x0803;
	ix->ino = 0x123456789abcULL;
	ix->size = 5000000001ULL;
	ix->uid = 1000;
	ix->mtime.tv_sec = 1764000000;
	ix->mtime.tv_nsec = 123456789;
	ix->ctime.tv_sec = 1764000000;
	ix->ctime.tv_nsec = 223456789;
	ix->tick.tv_sec = 1764000001;
	ix->tick.tv_nsec = 4000000;
	ix->end = 5000000001ULL;
	ix->nmsg = FIX_MSGS;
	ix->blk_size = 4ULL << 30;	/* TAG_BLOCK doubled: 2 blocks */
	ix->nblk = FIX_BLKS;
	ix->doubt = 1;
	ix->flags = MDINDEX_FIRST_HIDDEN | MDINDEX_DIGESTS;
	ix->octets = FIX_OCTETS;
	for (int i = 0; i < MDINDEX_KEY_LEN; i++)
		ix->key[i] = (unsigned char)(0x55 ^ i);
}

/* The same mailbox indexed without its digests: the source still has
   them, the encoder leaves them out. */
static void
fixture_plain(struct mdindex *ix)
{
	fixture(ix);
	ix->flags = MDINDEX_FIRST_HIDDEN;
}

/* Entry i as a file without digests gives it back: the record alone. */
static void
record_only(uint32_t i, struct mdindex_msg *m)
{
	*m = fix_msg[i];
	m->flags &= MDINDEX_REC_FLAGS;
	m->dup = 0;
	memset(m->digest, 0, sizeof(m->digest));
}

static void
fix_msg_at(void *arg, uint32_t i, struct mdindex_msg *m)
{
	(void)arg;
	*m = fix_msg[i];
}

static const unsigned char *
fix_tag_at(void *arg, uint32_t b)
{
	(void)arg;
	return fix_tag[b];
}

static const struct mdindex_source fix_src = { fix_msg_at, fix_tag_at, NULL };

static unsigned char *
encode_why(struct mdindex *ix, size_t *len, const char **why)
{
	unsigned char *buf;

	*why = NULL;
	*len = (size_t)mdindex_encoded_len(ix);
	if (*len == 0 || (buf = malloc(*len)) == NULL)
		return NULL;
	if (mdindex_encode(ix, &fix_src, buf, *len, why) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static unsigned char *
encode(struct mdindex *ix, size_t *len)
{
	const char *why;

	return encode_why(ix, len, &why);
}

/* SHA-256 of n bytes at p, truncated: the format's checksum. */
static void
sum16(const unsigned char *p, size_t n, unsigned char sum[MDINDEX_SUM_LEN])
{
	unsigned char full[EVP_MAX_MD_SIZE];
	unsigned int k;

	if (EVP_Digest(p, n, full, &k, EVP_sha256(), NULL) != 1 ||
	    k < MDINDEX_SUM_LEN)
		abort();
	memcpy(sum, full, MDINDEX_SUM_LEN);
}

static int
sum_is(const unsigned char *p, size_t n, const unsigned char *want)
{
	unsigned char sum[MDINDEX_SUM_LEN];

	sum16(p, n, sum);
	return memcmp(sum, want, MDINDEX_SUM_LEN) == 0;
}

/*
 * After an edit, make the checksums right again, so that only the
 * validation after them can reject the bytes: the parts' sums, if the
 * header's counts still fit the length (the digests' sum only when the
 * header's flags say they are there), then the header's own.
 */
static void
reseal(unsigned char *buf, size_t len)
{
	uint64_t nmsg = le_get(buf + 76, 4), nblk = le_get(buf + 96, 4);
	int digs = (le_get(buf + H_FLAGS, 4) & MDINDEX_DIGESTS) != 0;
	uint64_t plen[MDINDEX_PARTS] = { MDINDEX_REC_LEN * nmsg,
	    digs ? MDINDEX_DIG_LEN * nmsg : 0, MDINDEX_TAG_LEN * nblk };
	uint64_t off = MDINDEX_HEAD_LEN;

	if (len < MDINDEX_HEAD_LEN)
		abort();
	if (off + plen[0] + plen[1] + plen[2] == len)
		for (int p = 0; p < MDINDEX_PARTS; p++) {
			if (p != MDINDEX_DIGS || digs)
				sum16(buf + off, (size_t)plen[p],
				    buf + H_SUM(p));
			off += plen[p];
		}
	sum16(buf, H_SUM_HEAD, buf + H_SUM_HEAD);
}

static int
decodes(const unsigned char *buf, size_t len, const char **why)
{
	struct mdindex ix;
	int r;

	*why = NULL;
	r = mdindex_decode(buf, len, &ix, why);
	if (r == 0)
		mdindex_free(&ix);
	(void)LLVMFuzzerTestOneInput(buf, len);
	return r == 0;
}

/* The entries mdindex_msg_at gives: the fixture's, or its records alone
   for a file without digests. */
static int
msgs_equal(const struct mdindex *ix)
{
	int digs = (ix->flags & MDINDEX_DIGESTS) != 0;

	for (uint32_t i = 0; i < FIX_MSGS; i++) {
		struct mdindex_msg m, want;

		mdindex_msg_at(ix, i, &m);
		if (digs)
			want = fix_msg[i];
		else
			record_only(i, &want);
		if (memcmp(&m, &want, sizeof(m)) != 0)
			return 0;
	}
	return ix->nmsg == FIX_MSGS;
}

static int
tags_equal(const struct mdindex *ix)
{
	for (uint32_t b = 0; b < FIX_BLKS; b++)
		if (memcmp(mdindex_tag_at(ix, b), fix_tag[b],
		    MDINDEX_TAG_LEN) != 0)
			return 0;
	return ix->nblk == FIX_BLKS;
}

/* ---------------------------------------------------------------- */
/* The format                                                        */

static void
test_round_trip(void)
{
	struct mdindex ix, back;
	const char *why = NULL;
	unsigned char *buf;
	size_t len;

	fixture(&ix);
	memset(ix.sum, 0xee, sizeof(ix.sum));
	buf = encode(&ix, &len);
	CHECK(buf != NULL && len == MDINDEX_HEAD_LEN + FIX_MSGS *
	    (MDINDEX_REC_LEN + MDINDEX_DIG_LEN) + FIX_BLKS * MDINDEX_TAG_LEN,
	    "encodes to header + 36 bytes a record + 20 a digest + 16 a block");
	if (buf == NULL)
		return;
	CHECK(memcmp(ix.sum, buf + H_SUM(0), sizeof(ix.sum)) == 0,
	    "encoding fills in ix->sum with the parts' checksums");
	CHECK_WHY(mdindex_decode(buf, len, &back, &why) == 0, why,
	    "decodes what it encoded");
	CHECK(back.dev == ix.dev && back.ino == ix.ino &&
	    back.size == ix.size && back.uid == ix.uid && back.end == ix.end &&
	    back.mtime.tv_sec == ix.mtime.tv_sec &&
	    back.mtime.tv_nsec == ix.mtime.tv_nsec &&
	    back.ctime.tv_nsec == ix.ctime.tv_nsec &&
	    back.tick.tv_nsec == ix.tick.tv_nsec &&
	    back.blk_size == ix.blk_size && back.nmsg == ix.nmsg &&
	    back.nblk == ix.nblk && back.doubt == ix.doubt &&
	    back.flags == ix.flags && back.octets == FIX_OCTETS &&
	    memcmp(back.key, ix.key, sizeof(ix.key)) == 0 &&
	    memcmp(back.sum, ix.sum, sizeof(ix.sum)) == 0,
	    "the header survives the round trip");
	CHECK(msgs_equal(&back) && tags_equal(&back),
	    "entries (64-bit From_ length), digests and tags survive the "
	    "round trip");
	/* (it aborts if the bytes it decodes do not encode back the same) */
	CHECK(LLVMFuzzerTestOneInput(buf, len) == 0,
	    "re-encoding gives the same bytes");
	mdindex_free(&back);
	free(buf);
}

/* Without MDINDEX_DIGESTS there is no digests part, and entries come
   back without a digest though the source had them. */
static void
test_plain(void)
{
	struct mdindex ix, back;
	const char *why = NULL;
	unsigned char *buf;
	size_t len;
	static const unsigned char zero[MDINDEX_SUM_LEN];

	fixture_plain(&ix);
	buf = encode(&ix, &len);
	CHECK(buf != NULL && len == MDINDEX_HEAD_LEN + FIX_MSGS *
	    MDINDEX_REC_LEN + FIX_BLKS * MDINDEX_TAG_LEN &&
	    memcmp(buf + H_SUM(MDINDEX_DIGS), zero, MDINDEX_SUM_LEN) == 0 &&
	    memcmp(ix.sum[MDINDEX_DIGS], zero, MDINDEX_SUM_LEN) == 0,
	    "without digests: no digests part, its checksum all zero");
	if (buf == NULL)
		return;
	CHECK_WHY(mdindex_decode(buf, len, &back, &why) == 0 &&
	    back.flags == MDINDEX_FIRST_HIDDEN && msgs_equal(&back) &&
	    tags_equal(&back), why,
	    "and its records (no MDINDEX_DIGEST, no digest) and tags decode");
	if (why == NULL)
		mdindex_free(&back);
	CHECK(memcmp(buf + TAG_PLAIN(0), fix_tag, sizeof(fix_tag)) == 0 &&
	    sum_is(buf + REC(0, 0), FIX_MSGS * MDINDEX_REC_LEN,
	    buf + H_SUM(MDINDEX_RECORDS)) &&
	    sum_is(buf + TAG_PLAIN(0), sizeof(fix_tag),
	    buf + H_SUM(MDINDEX_TAGS)),
	    "the tags follow the records, each part with its checksum");
	CHECK(LLVMFuzzerTestOneInput(buf, len) == 0,
	    "re-encoding it gives the same bytes");
	free(buf);
}

/* Where the fields are: a layout table that lies would fail here. */
static void
test_layout(void)
{
	struct mdindex ix;
	unsigned char *buf;
	size_t len;
	static const unsigned char zero[4];

	fixture(&ix);
	ix.mtime.tv_sec = -2;	/* before 1970: two's complement */
	ix.ctime.tv_sec = -1;
	buf = encode(&ix, &len);
	if (buf == NULL) {
		CHECK(0, "fixture with times before 1970 encodes");
		return;
	}
	CHECK(memcmp(buf, "POP3DIDX", 8) == 0 && buf[8] == MDINDEX_VERSION &&
	    buf[9] == 0 && buf[10] == 0 && buf[11] == 0 &&
	    buf[12] == 0xe8 && buf[13] == 0x03 &&	/* uid 1000 */
	    buf[24] == 0xbc && buf[25] == 0x9a &&	/* ino, low first */
	    buf[40] == 0xfe && buf[47] == 0xff &&	/* mtime -2 */
	    buf[56] == 0xff && buf[63] == 0xff &&	/* ctime -1 */
	    buf[76] == FIX_MSGS && buf[96] == FIX_BLKS &&
	    buf[104] == 0x55 && buf[105] == 0x54,	/* key */
	    "little-endian fields at the offsets of the layout table");
	CHECK(le_get(buf + H_OCTETS, 8) == FIX_OCTETS &&
	    le_get(buf + H_FLAGS, 4) == (MDINDEX_FIRST_HIDDEN |
	    MDINDEX_DIGESTS) && memcmp(buf + H_ZERO, zero, 4) == 0,
	    "octets at 136 (the hidden message not counted), flags at 144, "
	    "zero at 148");
	/* message 2's From_ line length is over 4 GiB: 5 bytes used */
	CHECK(buf[REC(2, 24) + 4] == 1 && le_get(buf + REC(2, 32), 4) == 0 &&
	    le_get(buf + REC(1, 32), 4) == MDINDEX_CLEN &&
	    le_get(buf + REC(0, 32), 4) == MDINDEX_HIDDEN,
	    "per-message record: From_ length as 64 bits, then flags without "
	    "MDINDEX_DIGEST");
	CHECK(buf[DIG(0, 0)] == 0x30 && buf[DIG(1, 15)] == 0xaf &&
	    le_get(buf + DIG(1, 16), 4) == 1 &&
	    le_get(buf + DIG(2, 16), 4) == 2 &&
	    memcmp(buf + TAG(0), fix_tag, sizeof(fix_tag)) == 0 &&
	    TAG(FIX_BLKS) == len,
	    "then the digests part (digest 16, dup 4), then the tags, and "
	    "nothing after them");
	CHECK(sum_is(buf + REC(0, 0), FIX_MSGS * MDINDEX_REC_LEN,
	    buf + H_SUM(MDINDEX_RECORDS)) &&
	    sum_is(buf + DIG(0, 0), FIX_MSGS * MDINDEX_DIG_LEN,
	    buf + H_SUM(MDINDEX_DIGS)) &&
	    sum_is(buf + TAG(0), sizeof(fix_tag), buf + H_SUM(MDINDEX_TAGS)),
	    "each part's SHA-256, truncated, at 152, 168 and 184");
	CHECK(sum_is(buf, H_SUM_HEAD, buf + H_SUM_HEAD),
	    "the header's SHA-256 of bytes 0..199, truncated, at 200");
	{
		struct mdindex back;
		const char *why = NULL;
		int r = mdindex_decode(buf, len, &back, &why);
		CHECK_WHY(r == 0 && back.mtime.tv_sec == -2 &&
		    back.ctime.tv_sec == -1, why,
		    "times before 1970 decode to themselves");
		if (r == 0)
			mdindex_free(&back);
	}
	free(buf);
}

static void
test_truncations(void)
{
	struct mdindex ix, head;
	unsigned char *buf, *longer;
	const char *why = NULL;
	size_t len, bad = 0;

	fixture(&ix);
	if ((buf = encode(&ix, &len)) == NULL ||
	    (longer = calloc(1, len + 1)) == NULL)
		abort();
	for (size_t n = 0; n < len; n++) {
		/* a copy of just n bytes, so ASan sees any read past them */
		unsigned char *cut = malloc(n == 0 ? 1 : n);
		if (cut == NULL)
			abort();
		memcpy(cut, buf, n);
		bad += decodes(cut, n, &why);
		free(cut);
	}
	CHECK(bad == 0, "every truncation length is rejected");
	memcpy(longer, buf, len);
	CHECK_WHY(!decodes(longer, len + 1, &why), why,
	    "one byte more is rejected");
	free(longer);
	/* the file layer reads the header alone, and knows the length */
	{
		unsigned char *h = malloc(MDINDEX_HEAD_LEN);
		if (h == NULL)
			abort();
		memcpy(h, buf, MDINDEX_HEAD_LEN);
		why = NULL;
		CHECK_WHY(mdindex_decode_head(h, len, &head, &why) == 0 &&
		    head.nmsg == FIX_MSGS && head.octets == FIX_OCTETS &&
		    memcmp(head.sum, buf + H_SUM(0), sizeof(head.sum)) == 0,
		    why, "the header alone decodes, given the file's length");
		mdindex_free(&head);
		why = NULL;
		CHECK_WHY(mdindex_decode_head(h, len - 1, &head, &why) != 0 &&
		    why != NULL && strcmp(why,
		    "index truncated or of the wrong length") == 0 &&
		    head.nmsg == 0, why,
		    "and is refused with a length its counts do not give");
		free(h);
	}
	free(buf);
}

/* Every bit of the file, flipped, in the fixture with or without
   digests. */
static void
bit_flips(int digs)
{
	struct mdindex ix;
	unsigned char *buf;
	const char *why = NULL;
	size_t len, bad = 0, sum_caught = 0, other_reason = 0;
	const char *with = digs ? "" : " (no digests)";

	if (digs)
		fixture(&ix);
	else
		fixture_plain(&ix);
	if ((buf = encode(&ix, &len)) == NULL)
		abort();
	for (size_t bit = 0; bit < len * 8; bit++) {
		size_t at = bit / 8;
		/* magic, version: read before the header's sum can be */
		int framing = at < 12;
		int by_sum;

		buf[at] ^= (unsigned char)(1u << (bit % 8));
		bad += decodes(buf, len, &why);
		by_sum = why != NULL &&
		    strcmp(why, "index checksum mismatch") == 0;
		sum_caught += by_sum;
		other_reason += !framing && !by_sum;
		buf[at] ^= (unsigned char)(1u << (bit % 8));
	}
	CHECK(bad == 0, "every single bit flip is rejected%s", with);
	CHECK(sum_caught > 0, "flips in the body are caught by the "
	    "checksums%s", with);
	CHECK(other_reason == 0, "a flip outside the framing is reported as a "
	    "checksum mismatch, though entries are checked as they stream%s",
	    with);
	CHECK_WHY(decodes(buf, len, &why), why,
	    "and the unflipped bytes still decode%s", with);
	free(buf);
}

static void
test_bit_flips(void)
{
	bit_flips(1);
	bit_flips(0);
}

/* One byte flipped in one place, nothing resealed: mdindex_decode says
   which checksum it was. */
static void
expect_sum_mismatch(int digs, size_t at, const char *name)
{
	struct mdindex ix;
	unsigned char *buf;
	const char *why = NULL;
	size_t len;

	if (digs)
		fixture(&ix);
	else
		fixture_plain(&ix);
	if ((buf = encode(&ix, &len)) == NULL)
		abort();
	buf[at] ^= 0x40;
	CHECK_WHY(!decodes(buf, len, &why) && why != NULL &&
	    strcmp(why, "index checksum mismatch") == 0, why, "%s", name);
	free(buf);
}

static void
test_part_sums(void)
{
	expect_sum_mismatch(1, REC(1, 3), "a flipped byte in the records is "
	    "a checksum mismatch");
	expect_sum_mismatch(1, DIG(2, 5), "a flipped byte in a digest is a "
	    "checksum mismatch");
	expect_sum_mismatch(1, DIG(0, 17), "a flipped byte in a dup count is "
	    "a checksum mismatch");
	expect_sum_mismatch(1, TAG(1), "a flipped byte in the tags is a "
	    "checksum mismatch");
	expect_sum_mismatch(0, TAG_PLAIN(0) + 9, "a flipped byte in the tags "
	    "after the records is a checksum mismatch");
	expect_sum_mismatch(1, H_SUM(MDINDEX_RECORDS), "a flipped byte in "
	    "the records' checksum is a checksum mismatch");
	expect_sum_mismatch(1, H_SUM_HEAD + 15, "a flipped byte in the "
	    "header's checksum is a checksum mismatch");
	expect_sum_mismatch(1, 80, "a flipped byte in the indexed end is a "
	    "checksum mismatch");
}

/* An edit of the encoded fixture: n bytes of v at off. */
struct edit {
	size_t off;
	uint64_t v;
	int n;
};

/* Edit the encoded fixture, reseal it, and expect a rejection: for the
   reason want, or for any reason but the checksums when want is NULL. */
static void
expect_edits(int digs, const struct edit *e, size_t ne, const char *want,
    const char *name)
{
	struct mdindex ix;
	unsigned char *buf;
	const char *why = NULL;
	size_t len;

	if (digs)
		fixture(&ix);
	else
		fixture_plain(&ix);
	if ((buf = encode(&ix, &len)) == NULL)
		abort();
	for (size_t k = 0; k < ne; k++)
		le_put(buf + e[k].off, e[k].v, e[k].n);
	reseal(buf, len);
	/* resealed: the checksum must not be what catches it */
	CHECK_WHY(!decodes(buf, len, &why) && why != NULL &&
	    strcmp(why, "index checksum mismatch") != 0 &&
	    (want == NULL || strcmp(why, want) == 0), why, "%s", name);
	free(buf);
}

static void
expect_rejected(size_t off, uint64_t v, int n, const char *name)
{
	struct edit e = { off, v, n };

	expect_edits(1, &e, 1, NULL, name);
}

/* The same edits, resealed, are accepted: the control of a rejection. */
static void
expect_accepted(int digs, const struct edit *e, size_t ne, const char *name)
{
	struct mdindex ix;
	unsigned char *buf;
	const char *why = NULL;
	size_t len;

	if (digs)
		fixture(&ix);
	else
		fixture_plain(&ix);
	if ((buf = encode(&ix, &len)) == NULL)
		abort();
	for (size_t k = 0; k < ne; k++)
		le_put(buf + e[k].off, e[k].v, e[k].n);
	reseal(buf, len);
	CHECK_WHY(decodes(buf, len, &why), why, "%s", name);
	free(buf);
}

#define INCONSISTENT	"index has an inconsistent message entry"

static void
test_semantics(void)
{
	expect_rejected(8, MDINDEX_VERSION + 1, 4, "another version");
	expect_rejected(8, MDINDEX_VERSION - 1, 4, "the previous version");
	expect_rejected(8, 0x01000000, 4, "a big-endian version field");
	expect_rejected(76, 0xffffffff, 4, "a message count that would "
	    "overflow the length");
	expect_rejected(76, MAX_MSGS + 1, 4, "a message count over MAX_MSGS");
	expect_rejected(76, (uint64_t)FIX_MSGS << 24, 4,
	    "a big-endian message count");
	expect_rejected(96, TAG_MAX_BLOCKS + 1, 4,
	    "a block count over TAG_MAX_BLOCKS");
	expect_rejected(96, 0x80000000u, 4, "a block count of 2^31");
	expect_rejected(100, FIX_BLKS + 1, 4, "more doubtful blocks than "
	    "blocks");
	expect_rejected(48, 1000000000, 4, "nanoseconds of a second or more");
	expect_rejected(80, 5000000002ULL, 8, "indexed end past the size");
	expect_rejected(88, (4ULL << 30) + 1, 8, "a block size not a power "
	    "of two");
	expect_rejected(88, 8ULL << 30, 8, "a block size that does not give "
	    "the block count");
	expect_rejected(88, 0, 8, "a zero block size");
	expect_rejected(H_OCTETS, 2 * 5000000001ULL + 2 * FIX_MSGS + 1, 8,
	    "octets more than the indexed bytes can send");
	expect_rejected(H_FLAGS, MDINDEX_FIRST_HIDDEN | MDINDEX_DIGESTS | 4,
	    4, "an unknown header flag");
	expect_rejected(H_ZERO, 1, 4, "a non-zero field at 148");
	expect_rejected(REC(1, 0), 499, 8, "a message starting inside the "
	    "one before");
	expect_rejected(REC(0, 8), 502, 8, "a message ending after the next "
	    "one starts");
	expect_rejected(REC(2, 8), 5000000002ULL, 8, "the last message ending "
	    "past the indexed end");
	expect_rejected(REC(1, 24), 0, 8, "a zero From_ line length");
	expect_rejected(REC(2, 24), UINT64_MAX, 8, "a From_ line length "
	    "that overflows off + length");
	{
		/* octets made to agree, so that only the size rule fails */
		uint64_t size = 2 * (1048600 - 501 - 44) + 3;
		struct edit e[] = { { REC(1, 16), size, 8 },
		    { H_OCTETS, FIX_OCTETS - 1100000 + size, 8 } };

		expect_edits(1, e, 2, INCONSISTENT, "a RETR size more than "
		    "CRLF conversion allows");
	}
	expect_rejected(REC(1, 32), MDINDEX_CLEN | 8, 4, "an unknown flag");
	expect_rejected(REC(1, 32), MDINDEX_CLEN | MDINDEX_DIGEST, 4,
	    "MDINDEX_DIGEST in a record (digests are a part of their own)");
	expect_rejected(REC(1, 32), MDINDEX_CLEN | MDINDEX_HIDDEN, 4,
	    "a hidden message after the first");
	expect_rejected(DIG(1, 16), 0, 4, "a digest with dup 0");
	expect_rejected(H_FLAGS, MDINDEX_FIRST_HIDDEN, 4, "the digests part "
	    "without MDINDEX_DIGESTS");
	{
		struct edit e = { H_FLAGS, MDINDEX_FIRST_HIDDEN |
		    MDINDEX_DIGESTS, 4 };

		expect_edits(0, &e, 1, NULL, "MDINDEX_DIGESTS without a "
		    "digests part");
	}
}

/* The rules of the new header: octets, FIRST_HIDDEN and the digests'
   checksum must agree with the rest, checksums fixed up each time. */
static void
test_head_rules(void)
{
	struct edit more = { H_OCTETS, FIX_OCTETS + 1, 8 };
	struct edit less = { H_OCTETS, FIX_OCTETS - 1, 8 };
	struct edit hidden_too = { H_OCTETS, FIX_OCTETS + 520, 8 };
	struct edit not_first = { H_FLAGS, MDINDEX_DIGESTS, 4 };
	struct edit shown[] = { { REC(0, 32), 0, 4 },
	    { H_OCTETS, FIX_OCTETS + 520, 8 } };
	struct edit first_shown[] = { { REC(0, 32), 0, 4 },
	    { H_OCTETS, FIX_OCTETS + 520, 8 },
	    { H_FLAGS, MDINDEX_DIGESTS, 4 } };
	struct edit dig_sum = { H_SUM(MDINDEX_DIGS), 1, 1 };
	struct edit dig_sum_last = { H_SUM(MDINDEX_DIGS) + 15, 0x80, 1 };

	expect_edits(1, &more, 1, INCONSISTENT,
	    "octets more than the records' sizes");
	expect_edits(1, &less, 1, INCONSISTENT,
	    "octets less than the records' sizes");
	expect_edits(0, &more, 1, INCONSISTENT,
	    "octets that disagree, without digests");
	expect_edits(1, &hidden_too, 1, INCONSISTENT,
	    "octets that count the hidden message");
	expect_edits(1, &not_first, 1, INCONSISTENT,
	    "a hidden message 0 without MDINDEX_FIRST_HIDDEN");
	expect_edits(1, shown, 2, INCONSISTENT,
	    "MDINDEX_FIRST_HIDDEN with message 0 not hidden");
	expect_accepted(1, first_shown, 3, "message 0 not hidden, nor said "
	    "to be, octets counting it: accepted");
	expect_edits(0, &dig_sum, 1, "not an index file",
	    "a non-zero digests checksum without MDINDEX_DIGESTS");
	expect_edits(0, &dig_sum_last, 1, "not an index file",
	    "its last byte non-zero, too");
}

/* What the encoder refuses to write: what the decoder would refuse. */
static void
expect_unencodable(struct mdindex *ix, const char *name)
{
	const char *why = NULL;
	unsigned char *buf;
	size_t len;

	buf = encode_why(ix, &len, &why);
	CHECK_WHY(buf == NULL && why != NULL && strcmp(why, INCONSISTENT) ==
	    0, why, "encode refuses %s", name);
	free(buf);
}

static void
test_encode_rules(void)
{
	struct mdindex ix;

	fixture(&ix);
	ix.octets += 1;
	expect_unencodable(&ix, "octets that disagree with the sizes");
	fixture(&ix);
	ix.octets += fix_msg[0].size;
	expect_unencodable(&ix, "octets that count the hidden message");
	fixture(&ix);
	ix.flags &= ~MDINDEX_FIRST_HIDDEN;
	expect_unencodable(&ix, "a hidden message 0 without FIRST_HIDDEN");
	fixture(&ix);
	fix_msg[0].flags &= ~MDINDEX_HIDDEN;
	ix.octets += fix_msg[0].size;
	expect_unencodable(&ix, "FIRST_HIDDEN with message 0 not hidden");
	fixture(&ix);
	fix_msg[1].flags &= ~MDINDEX_DIGEST;
	expect_unencodable(&ix, "DIGESTS with a message without a digest");
	fixture(&ix);
	fix_msg[2].dup = 0;
	expect_unencodable(&ix, "a digest with dup 0");
	fixture_plain(&ix);
	fix_msg[1].flags &= ~MDINDEX_DIGEST;
	fix_msg[2].dup = 0;
	{
		const char *why = NULL;
		unsigned char *buf;
		size_t len;

		buf = encode_why(&ix, &len, &why);
		CHECK_WHY(buf != NULL, why, "without DIGESTS the source's "
		    "digests are not looked at");
		free(buf);
	}
}

/* An empty mailbox: no message, no block. */
static void
test_empty(void)
{
	struct mdindex ix, back;
	unsigned char *buf;
	const char *why = NULL;
	size_t len;

	fixture(&ix);
	ix.size = ix.end = 0;
	ix.nmsg = ix.nblk = ix.doubt = 0;
	ix.blk_size = 0;
	ix.flags = 0;
	ix.octets = 0;
	buf = encode(&ix, &len);
	CHECK_WHY(buf != NULL && len == MDINDEX_HEAD_LEN &&
	    mdindex_decode(buf, len, &back, &why) == 0 && back.nmsg == 0, why,
	    "an empty mailbox's index round-trips: the header alone");
	if (buf != NULL && why == NULL)
		mdindex_free(&back);
	free(buf);
	ix.flags = MDINDEX_DIGESTS;
	CHECK(mdindex_encoded_len(&ix) == 0, "encoded_len refuses digests of "
	    "no message");
	ix.flags = MDINDEX_FIRST_HIDDEN;
	CHECK(mdindex_encoded_len(&ix) == 0, "and a hidden first message of "
	    "none");
	fixture(&ix);
	ix.nblk = TAG_MAX_BLOCKS + 1;
	CHECK(mdindex_encoded_len(&ix) == 0, "encoded_len refuses too many "
	    "blocks");
}

/* ---------------------------------------------------------------- */
/* The trust rule                                                    */

struct trust_case {
	const char *name;
	void (*edit)(struct mdindex *ix, struct stat *mbox, struct stat *file);
	enum mdindex_trust want;
};

static void e_none(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)m; (void)f; }
static void e_grew(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)f; m->st_size += 100; m->st_mtim.tv_sec += 5;
  m->st_ctim.tv_sec += 5; }
static void e_grew_same_times(struct mdindex *i, struct stat *m,
    struct stat *f)
{ (void)i; (void)f; m->st_size += 1; }
static void e_shrank(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)f; m->st_size -= 1; }
static void e_mtime(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)f; m->st_mtim.tv_nsec += 1; }
static void e_ctime(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)f; m->st_ctim.tv_sec += 1; }
static void e_touch_back(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)f; m->st_ctim.tv_sec += 30; }	/* touch -d: ctime moves */
static void e_ino(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)f; m->st_ino += 1; }
static void e_dev(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)f; m->st_dev += 1; }
static void e_owner(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)f; (void)m; i->uid += 1; }
static void e_new_owner(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; m->st_uid += 1; f->st_uid += 1; }	/* chown'ed both */
static void e_file_owner(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)m; f->st_uid += 1; }
static void e_group(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)m; f->st_mode |= S_IRGRP; }
static void e_other(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)m; f->st_mode |= S_IWOTH; }
static void e_links(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)m; f->st_nlink = 2; }
static void e_fifo(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)m; f->st_mode = S_IFIFO | 0600; }
static void e_dir(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)m; f->st_mode = S_IFDIR | 0700; }
static void e_same_tick(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)f; (void)m; i->tick = i->mtime; }
static void e_ctime_tick(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)f; (void)m; i->tick = i->ctime; }
static void e_future(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)f; i->mtime.tv_sec = i->tick.tv_sec + 1; m->st_mtim = i->mtime; }
static void e_tick_after(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)f; (void)m; i->tick = i->ctime; i->tick.tv_nsec += 1; }
static void e_whole_second(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)f; i->mtime.tv_nsec = 0; i->tick.tv_sec = i->mtime.tv_sec;
  i->tick.tv_nsec = 500000000; m->st_mtim = i->mtime; }
static void e_second_over(struct mdindex *i, struct stat *m, struct stat *f)
{ e_whole_second(i, m, f); i->tick.tv_sec += 1; i->tick.tv_nsec = 0; }
static void e_quiet_grew(struct mdindex *i, struct stat *m, struct stat *f)
{ e_same_tick(i, m, f); e_grew(i, m, f); }

static const struct trust_case trust_cases[] = {
	{ "unchanged mailbox", e_none, MDINDEX_UNCHANGED },
	{ "tick one nanosecond after the last change", e_tick_after,
	    MDINDEX_UNCHANGED },
	{ "mailbox grew", e_grew, MDINDEX_GREW },
	{ "mailbox grew, times unchanged", e_grew_same_times, MDINDEX_GREW },
	{ "mailbox shrank", e_shrank, MDINDEX_UNTRUSTED },
	{ "same size, other mtime", e_mtime, MDINDEX_UNTRUSTED },
	{ "same size, other ctime", e_ctime, MDINDEX_UNTRUSTED },
	{ "rewritten, then touch -d to the old mtime", e_touch_back,
	    MDINDEX_UNTRUSTED },
	{ "another inode (mailbox replaced by rename)", e_ino,
	    MDINDEX_UNTRUSTED },
	{ "another device", e_dev, MDINDEX_UNTRUSTED },
	{ "index written for another uid", e_owner, MDINDEX_UNTRUSTED },
	{ "mailbox and index given to another uid", e_new_owner,
	    MDINDEX_UNTRUSTED },
	{ "index file owned by someone else", e_file_owner,
	    MDINDEX_UNTRUSTED },
	{ "index readable by group", e_group, MDINDEX_UNTRUSTED },
	{ "index writable by others", e_other, MDINDEX_UNTRUSTED },
	{ "index with two links", e_links, MDINDEX_UNTRUSTED },
	{ "index is a FIFO", e_fifo, MDINDEX_UNTRUSTED },
	{ "index is a directory", e_dir, MDINDEX_UNTRUSTED },
	{ "written in the tick of the last mtime", e_same_tick,
	    MDINDEX_UNTRUSTED },
	{ "written in the tick of the last ctime", e_ctime_tick,
	    MDINDEX_UNTRUSTED },
	{ "mailbox times in the future of the tick", e_future,
	    MDINDEX_UNTRUSTED },
	{ "not quiet, though it only grew", e_quiet_grew, MDINDEX_UNTRUSTED },
	{ "whole-second mtime, tick in that second", e_whole_second,
	    MDINDEX_UNTRUSTED },
	{ "whole-second mtime, tick in the next second", e_second_over,
	    MDINDEX_UNCHANGED },
};

static void
test_trust(void)
{
	char name[128];

	for (size_t c = 0; c < sizeof(trust_cases) / sizeof(trust_cases[0]);
	    c++) {
		const struct trust_case *t = &trust_cases[c];
		struct mdindex ix;
		struct stat mbox, file;
		const char *why = NULL;
		enum mdindex_trust got;

		fixture(&ix);
		memset(&mbox, 0, sizeof(mbox));
		mbox.st_dev = (dev_t)ix.dev;
		mbox.st_ino = (ino_t)ix.ino;
		mbox.st_uid = (uid_t)ix.uid;
		mbox.st_mode = S_IFREG | 0660;
		mbox.st_nlink = 1;
		mbox.st_size = (off_t)ix.size;
		mbox.st_mtim = ix.mtime;
		mbox.st_ctim = ix.ctime;
		memset(&file, 0, sizeof(file));
		file.st_uid = mbox.st_uid;
		file.st_mode = S_IFREG | 0600;
		file.st_nlink = 1;
		t->edit(&ix, &mbox, &file);
		got = mdindex_trust(&ix, &mbox, &file, &why);
		(void)snprintf(name, sizeof(name), "trust: %s -> %s", t->name,
		    t->want == MDINDEX_UNCHANGED ? "unchanged" :
		    t->want == MDINDEX_GREW ? "grew" : "untrusted");
		CHECK_WHY(got == t->want &&
		    (got != MDINDEX_UNTRUSTED || why != NULL), why, "%s", name);
	}
}

/* ---------------------------------------------------------------- */
/* The name                                                          */

static void
test_path(void)
{
	char out[64];

	CHECK_WHY(mdindex_path(DEFAULT_INDEX, "bob", "/home/bob",
	    "/var/mail/bob", out, sizeof(out)) == 0 &&
	    strcmp(out, "/var/mail/bob.pop3d-index") == 0, out,
	    "the default template names a file next to the mailbox");
	CHECK_WHY(mdindex_path("%h/.cache/pop3d-%u%%", "bob", "/home/bob", "x",
	    out, sizeof(out)) == 0 &&
	    strcmp(out, "/home/bob/.cache/pop3d-bob%") == 0, out,
	    "%%h, %%u and %%%% expand");
	CHECK(!mdindex_template_valid("%m.%x") &&
	    !mdindex_template_valid("%") && mdindex_template_valid("%m%%") &&
	    mdindex_path("%m.%x", "u", "h", "m", out, sizeof(out)) != 0,
	    "an unknown %% sequence, or a trailing %%, is refused");
	CHECK(mdindex_path("%m", "u", "h", "0123456789", out, 11) == 0 &&
	    mdindex_path("%m", "u", "h", "0123456789", out, 10) != 0 &&
	    mdindex_path("ab", "u", "h", "m", out, 2) != 0 &&
	    mdindex_path("%m", "u", "h", NULL, out, sizeof(out)) != 0,
	    "a result too long, or a missing value, is refused");
}

/* ---------------------------------------------------------------- */
/* The side file, in a temp directory                                */

/* NAME.tmp: a fresh one is another writer's, an old one a dead writer's */
/* ---------------------------------------------------------------- */
/* The side file with raw bytes in it                                */

struct raw {
	const unsigned char *data;
	size_t len;
};

static int
raw_fill(void *arg, int fd, const char **why)
{
	const struct raw *r = arg;

	if (write(fd, r->data, r->len) != (ssize_t)r->len) {
		*why = "cannot write the index";
		return -1;
	}
	return 0;
}

static enum mdindex_io
write_raw(int dfd, const char *name, const unsigned char *data, size_t len,
    uid_t uid, gid_t gid, const char **why)
{
	struct raw r = { data, len };

	return mdindex_write(dfd, name, raw_fill, &r, uid, gid, why);
}

/* mdindex_open, then the whole file into *buf (malloc'ed). */
static enum mdindex_io
read_raw(int dfd, const char *name, uid_t owner, unsigned char **buf,
    size_t *len, struct stat *st, const char **why)
{
	enum mdindex_io r;
	int fd;

	*buf = NULL;
	if ((r = mdindex_open(dfd, name, owner, &fd, st, why)) !=
	    MDINDEX_IO_OK)
		return r;
	*len = (size_t)st->st_size;
	if ((*buf = malloc(*len + 1)) == NULL ||
	    read(fd, *buf, *len) != (ssize_t)*len) {
		free(*buf);
		*buf = NULL;
		r = MDINDEX_IO_REFUSED;
	}
	(void)close(fd);
	return r;
}

/* What mdindex_load_part hands over, collected. */
struct collect {
	uint32_t n, ndig, ntag, out_of_range;
	struct mdindex_msg msg[FIX_MSGS];
	unsigned char tag[FIX_BLKS][MDINDEX_TAG_LEN];
};

static void
collect_msg(void *arg, uint32_t i, const struct mdindex_msg *m)
{
	struct collect *c = arg;

	if (i >= FIX_MSGS) {
		c->out_of_range++;
		return;
	}
	c->msg[i] = *m;
	c->n++;
}

static void
collect_digest(void *arg, uint32_t i, const unsigned char *d, uint32_t dup)
{
	struct collect *c = arg;

	if (i >= FIX_MSGS) {
		c->out_of_range++;
		return;
	}
	c->msg[i].flags |= MDINDEX_DIGEST;
	memcpy(c->msg[i].digest, d, MDINDEX_DIGEST_LEN);
	c->msg[i].dup = dup;
	c->ndig++;
}

static void
collect_tag(void *arg, uint32_t b, const unsigned char *tag)
{
	struct collect *c = arg;

	if (b >= FIX_BLKS) {
		c->out_of_range++;
		return;
	}
	memcpy(c->tag[b], tag, MDINDEX_TAG_LEN);
	c->ntag++;
}

/* The records alone, as the records part hands them over. */
static int
collected_records(const struct collect *c)
{
	for (uint32_t i = 0; i < FIX_MSGS; i++) {
		struct mdindex_msg want;

		record_only(i, &want);
		if (memcmp(&c->msg[i], &want, sizeof(want)) != 0)
			return 0;
	}
	return c->n == FIX_MSGS && c->out_of_range == 0;
}

/* Records, digests and tags: the fixture's. */
static int
collected_equal(const struct collect *c)
{
	return c->n == FIX_MSGS && c->ndig == FIX_MSGS &&
	    c->ntag == FIX_BLKS && c->out_of_range == 0 &&
	    memcmp(c->msg, fix_msg, sizeof(c->msg)) == 0 &&
	    memcmp(c->tag, fix_tag, sizeof(c->tag)) == 0;
}

/* The three parts of what mdindex_load accepted, into c. */
static int
load_parts(struct mdindex_reader *rd, const struct mdindex *ix,
    struct collect *c, const char **why)
{
	struct mdindex_sink sink = { collect_msg, collect_digest, collect_tag,
	    c };

	memset(c, 0, sizeof(*c));
	return mdindex_load_part(rd, ix, MDINDEX_RECORDS, &sink, why) == 0 &&
	    collected_records(c) &&
	    mdindex_load_part(rd, ix, MDINDEX_DIGS, &sink, why) == 0 &&
	    mdindex_load_part(rd, ix, MDINDEX_TAGS, &sink, why) == 0;
}

static void
test_file_tmp(int dfd, const char *name, const char *path)
{
	unsigned char data[] = "new";
	char tmp[4200];
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct stat st;
	const char *why = NULL;
	int fd;

	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	(void)unlink(path);
	CHECK_WHY((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0 &&
	    close(fd) == 0 && write_raw(dfd, name, data, sizeof(data),
	    geteuid(), getegid(), &why) == MDINDEX_IO_BUSY &&
	    lstat(tmp, &st) == 0 && lstat(path, &st) != 0, why,
	    "a fresh temp file means another writer: BUSY, nothing touched");
	CHECK_WHY(utimensat(AT_FDCWD, tmp, old, 0) == 0 && write_raw(dfd, name,
	    data, sizeof(data), geteuid(), getegid(), &why) == MDINDEX_IO_OK &&
	    lstat(tmp, &st) != 0 && lstat(path, &st) == 0 &&
	    st.st_size == (off_t)sizeof(data), why,
	    "a stale temp file (a writer killed mid-write) is replaced");
}

/* The maildrop's calls, through a real file. */
static void
test_load_store(int dfd)
{
	struct mdindex ix, back;
	struct mdindex_reader rd;
	struct stat mbox, st;
	struct collect c;
	struct mdindex_sink sink = { collect_msg, collect_digest, collect_tag,
	    &c };
	const char *why = NULL;
	unsigned char flip = 0x10;
	int fd;

	fixture(&ix);
	ix.uid = (uint32_t)geteuid();
	memset(&mbox, 0, sizeof(mbox));
	mbox.st_dev = (dev_t)ix.dev;
	mbox.st_ino = (ino_t)ix.ino;
	mbox.st_uid = geteuid();
	mbox.st_size = (off_t)ix.size;
	mbox.st_mtim = ix.mtime;
	mbox.st_ctim = ix.ctime;
	rd.fd = 12345;
	CHECK_WHY(mdindex_load(dfd, "ls", &mbox, &back, &rd, &why) ==
	    MDINDEX_UNTRUSTED && why == NULL && rd.fd == -1, why,
	    "load: no index file, nothing to log, no reader left open");
	memset(ix.sum, 0, sizeof(ix.sum));
	CHECK_WHY(mdindex_store(dfd, "ls", &ix, &fix_src, getegid(), &why) ==
	    MDINDEX_IO_OK, why,
	    "store writes the index");
	{
		static const unsigned char zero[sizeof(ix.sum)];
		CHECK(memcmp(ix.sum, zero, sizeof(zero)) != 0,
		    "store fills in ix->sum");
	}
	CHECK_WHY(mdindex_load(dfd, "ls", &mbox, &back, &rd, &why) ==
	    MDINDEX_UNCHANGED && rd.fd >= 0 && back.nmsg == FIX_MSGS &&
	    back.octets == FIX_OCTETS && back.flags == ix.flags &&
	    memcmp(back.sum, ix.sum, sizeof(ix.sum)) == 0, why,
	    "load: the unchanged mailbox gets the header, the file kept open");
	CHECK_WHY(load_parts(&rd, &back, &c, &why) && collected_equal(&c), why,
	    "load_part: its records, digests and tags, one part at a time");
	mdindex_reader_close(&rd);
	CHECK(rd.fd == -1 && mdindex_load_part(&rd, &back, MDINDEX_RECORDS,
	    &sink, &why) != 0, "a closed reader reads no part");
	mdindex_free(&back);
	mbox.st_size += 4096;
	CHECK_WHY(mdindex_load(dfd, "ls", &mbox, &back, &rd, &why) ==
	    MDINDEX_GREW && back.end == ix.end && back.doubt == 1 &&
	    load_parts(&rd, &back, &c, &why) && collected_equal(&c), why,
	    "load: a grown mailbox is GREW from the old end, its entries "
	    "handed over");
	mdindex_reader_close(&rd);
	mdindex_free(&back);
	mbox.st_size -= 4096;

	/* a part damaged: the header still loads, the part does not */
	CHECK_WHY((fd = openat(dfd, "ls", O_WRONLY)) >= 0 &&
	    pwrite(fd, &flip, 1, DIG(1, 2)) == 1 && close(fd) == 0 &&
	    mdindex_load(dfd, "ls", &mbox, &back, &rd, &why) ==
	    MDINDEX_UNCHANGED && mdindex_load_part(&rd, &back,
	    MDINDEX_RECORDS, NULL, &why) == 0, why,
	    "load: a damaged digests part does not stop the header or the "
	    "records");
	why = NULL;
	CHECK_WHY(mdindex_load_part(&rd, &back, MDINDEX_DIGS, &sink, &why) !=
	    0 && why != NULL && strcmp(why, "index checksum mismatch") == 0,
	    why, "load_part: the damaged digests part is a checksum mismatch");
	mdindex_reader_close(&rd);
	mdindex_free(&back);

	/* rewritten in place after the header was read: same length,
	   other bytes, and (as a write in a later clock tick would give
	   it) another mtime */
	CHECK_WHY(mdindex_store(dfd, "ls", &ix, &fix_src, getegid(), &why) ==
	    MDINDEX_IO_OK && mdindex_load(dfd, "ls", &mbox, &back, &rd,
	    &why) == MDINDEX_UNCHANGED, why,
	    "stored again, it loads");
	flip = (unsigned char)(fix_tag[1][3] ^ 0x01);
	why = NULL;
	{
		struct timespec later[2];

		later[0] = rd.st.st_atim;
		later[1] = rd.st.st_mtim;
		later[1].tv_sec += 1;
		CHECK_WHY((fd = openat(dfd, "ls", O_WRONLY)) >= 0 &&
		    pwrite(fd, &flip, 1, TAG(1) + 3) == 1 &&
		    futimens(fd, later) == 0 && close(fd) == 0 &&
		    fstatat(dfd, "ls", &st, 0) == 0 &&
		    st.st_size == rd.st.st_size &&
		    mdindex_load_part(&rd, &back, MDINDEX_RECORDS, &sink,
		    &why) != 0 && why != NULL &&
		    strcmp(why, "index changed while it was read") == 0, why,
		    "load_part: a file rewritten in place since its header "
		    "was read is refused, its part's checksum right or not");
	}
	why = NULL;
	CHECK_WHY(mdindex_load_part(&rd, &back, MDINDEX_TAGS, &sink, &why) !=
	    0 && why != NULL, why, "and so is the part that changed");
	mdindex_reader_close(&rd);
	mdindex_free(&back);

	/* no digests: the part is not there to load */
	fixture_plain(&ix);
	ix.uid = (uint32_t)geteuid();
	why = NULL;
	CHECK_WHY(mdindex_store(dfd, "ls", &ix, &fix_src, getegid(), &why) ==
	    MDINDEX_IO_OK && mdindex_load(dfd, "ls", &mbox, &back, &rd,
	    &why) == MDINDEX_UNCHANGED && back.flags == MDINDEX_FIRST_HIDDEN &&
	    mdindex_load_part(&rd, &back, MDINDEX_DIGS, &sink, &why) != 0 &&
	    why != NULL && strcmp(why, "index has no UIDL digests") == 0,
	    why, "load_part: no digests part in an index without them");
	memset(&c, 0, sizeof(c));
	why = NULL;
	CHECK_WHY(mdindex_load_part(&rd, &back, MDINDEX_RECORDS, &sink,
	    &why) == 0 && collected_records(&c) &&
	    mdindex_load_part(&rd, &back, MDINDEX_TAGS, &sink, &why) == 0 &&
	    c.ntag == FIX_BLKS && memcmp(c.tag, fix_tag, sizeof(c.tag)) == 0,
	    why, "but its records and tags");
	mdindex_reader_close(&rd);
	mdindex_free(&back);

	/* what the encoder refuses is not written */
	fixture(&ix);
	ix.uid = (uint32_t)geteuid();
	ix.octets += 1;
	why = NULL;
	CHECK_WHY(unlinkat(dfd, "ls", 0) == 0 &&
	    mdindex_store(dfd, "ls", &ix, &fix_src, getegid(), &why) ==
	    MDINDEX_IO_REFUSED && why != NULL &&
	    strcmp(why, INCONSISTENT) == 0 &&
	    faccessat(dfd, "ls", F_OK, AT_SYMLINK_NOFOLLOW) != 0 &&
	    faccessat(dfd, "ls.tmp", F_OK, AT_SYMLINK_NOFOLLOW) != 0, why,
	    "store: an inconsistent index is refused, and leaves no file");
	ix.octets -= 1;

	CHECK_WHY(mdindex_store(dfd, "ls", &ix, &fix_src, getegid(), &why) ==
	    MDINDEX_IO_OK &&
	    (fd = openat(dfd, "ls", O_WRONLY)) >= 0 &&
	    pwrite(fd, &flip, 1, 90) == 1 && close(fd) == 0 &&
	    mdindex_load(dfd, "ls", &mbox, &back, &rd, &why) ==
	    MDINDEX_UNTRUSTED && why != NULL && back.nmsg == 0 &&
	    rd.fd == -1, why,
	    "load: a corrupted header is UNTRUSTED, with a reason, and closed");
	(void)unlinkat(dfd, "ls", 0);
}

/* Run as root (pop3d --recover), the index is given to the owner. */
static void
test_root_gives_owner(int dfd)
{
	unsigned char data[] = "x", *buf = NULL;
	const char *why = NULL;
	struct stat st;
	size_t len;
	uid_t other = 4242;

	if (geteuid() != 0) {
		SKIP("giving the index away needs root");
		return;
	}
	CHECK_WHY(write_raw(dfd, "given", data, sizeof(data), other, other,
	    &why) == MDINDEX_IO_OK && fstatat(dfd, "given", &st, 0) == 0 &&
	    st.st_uid == other && read_raw(dfd, "given", other, &buf, &len,
	    &st, &why) == MDINDEX_IO_OK, why,
	    "written by root, the index is the owner's and passes the rules");
	free(buf);
	(void)unlinkat(dfd, "given", 0);
}

static void
test_file_rules(const char *dir)
{
	unsigned char data[] = "index bytes", *buf = NULL;
	const char *name = NULL, *why = NULL;
	char path[4096];
	struct stat st;
	size_t len;
	int dfd, fd;
	uid_t me = geteuid();

	(void)snprintf(path, sizeof(path), "%s/box.pop3d-index", dir);
	dfd = mdindex_dir_open(path, &name);
	CHECK(dfd >= 0 && strcmp(name, "box.pop3d-index") == 0,
	    "dir_open opens the directory and names the last component");
	if (dfd < 0)
		return;
	CHECK_WHY(read_raw(dfd, name, me, &buf, &len, &st, &why) ==
	    MDINDEX_IO_ABSENT, why, "a missing index is ABSENT");
	CHECK_WHY(write_raw(dfd, name, data, sizeof(data), me, getegid(), &why)
	    == MDINDEX_IO_OK && lstat(path, &st) == 0 &&
	    (st.st_mode & 07777) == 0600 && st.st_uid == me, why,
	    "written as a mode 0600 file of the owner");
	CHECK_WHY(read_raw(dfd, name, me, &buf, &len, &st, &why) ==
	    MDINDEX_IO_OK && len == sizeof(data) &&
	    memcmp(buf, data, len) == 0, why, "and read back whole");
	free(buf);
	CHECK(read_raw(dfd, name, me + 1, &buf, &len, &st, &why) ==
	    MDINDEX_IO_REFUSED && buf == NULL,
	    "refused when it is not the mailbox owner's");
	CHECK(chmod(path, 0640) == 0 && read_raw(dfd, name, me, &buf, &len,
	    &st, &why) == MDINDEX_IO_REFUSED,
	    "refused when the group may read it");
	CHECK(chmod(path, 0600) == 0 &&
	    linkat(dfd, name, dfd, "hard", 0) == 0 &&
	    read_raw(dfd, name, me, &buf, &len, &st, &why) ==
	    MDINDEX_IO_REFUSED, "refused with a second link");
	(void)unlinkat(dfd, "hard", 0);
	CHECK_WHY(unlinkat(dfd, name, 0) == 0 &&
	    symlinkat("hard", dfd, name) == 0 &&
	    symlinkat("box.target", dfd, "hard") == 0 &&
	    read_raw(dfd, name, me, &buf, &len, &st, &why) ==
	    MDINDEX_IO_REFUSED, why, "a symlink is not followed");
	CHECK_WHY(write_raw(dfd, name, data, sizeof(data), me, getegid(), &why)
	    == MDINDEX_IO_OK && lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    faccessat(dfd, "box.target", F_OK, 0) != 0, why,
	    "writing replaces the symlink, and writes nothing through it");
	(void)unlinkat(dfd, "hard", 0);
	CHECK_WHY(unlinkat(dfd, name, 0) == 0 &&
	    mkfifoat(dfd, name, 0600) == 0 &&
	    (alarm(5), read_raw(dfd, name, me, &buf, &len, &st, &why)) ==
	    MDINDEX_IO_REFUSED && (alarm(0), 1), why,
	    "a FIFO is refused without blocking");
	CHECK_WHY(unlinkat(dfd, name, 0) == 0 &&
	    (fd = openat(dfd, name, O_WRONLY | O_CREAT, 0600)) >= 0 &&
	    ftruncate(fd, (off_t)MDINDEX_MAX_BYTES + 1) == 0 &&
	    close(fd) == 0 && read_raw(dfd, name, me, &buf, &len, &st,
	    &why) == MDINDEX_IO_REFUSED && buf == NULL, why,
	    "a file larger than any index is refused unread");
	test_file_tmp(dfd, name, path);
	test_load_store(dfd);
	test_root_gives_owner(dfd);
	(void)unlinkat(dfd, name, 0);
	(void)close(dfd);
}

/* The fixture's bytes into path: a seed for the fuzzer; PATH.plain gets
   the fixture without digests. */
static int
write_seed(const char *path)
{
	char plain[4096];
	int r = 0;

	if (snprintf(plain, sizeof(plain), "%s.plain", path) >=
	    (int)sizeof(plain))
		return 1;
	for (int digs = 1; digs >= 0; digs--) {
		struct mdindex ix;
		unsigned char *buf;
		size_t len;
		FILE *f;

		if (digs)
			fixture(&ix);
		else
			fixture_plain(&ix);
		if ((buf = encode(&ix, &len)) == NULL ||
		    (f = fopen(digs ? path : plain, "wb")) == NULL) {
			free(buf);
			return 1;
		}
		r |= fwrite(buf, 1, len, f) != len;
		r |= fclose(f) != 0;
		free(buf);
	}
	return r;
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/test_mdindex.XXXXXX";

	if (argc == 2)
		return write_seed(argv[1]);

	(void)setvbuf(stdout, NULL, _IOLBF, 0);
	test_round_trip();
	test_plain();
	test_layout();
	test_truncations();
	test_bit_flips();
	test_part_sums();
	test_semantics();
	test_head_rules();
	test_encode_rules();
	test_empty();
	test_trust();
	test_path();
	if (mkdtemp(dir) == NULL) {
		CHECK_WHY(0, strerror(errno), "mkdtemp");
	} else {
		test_file_rules(dir);
		if (rmdir(dir) != 0)
			CHECK_WHY(0, strerror(errno),
			    "temp directory left empty");
	}
	return unit_done();
}
