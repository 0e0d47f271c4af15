/*
 * test_mdindex.c - unit tests of the persistent index's format
 * (mdindex.c): the encoding by byte fixtures, the checksums and the
 * record rules by edits, the path template.  The trust rule is
 * test_mdindex_trust.c's, the side file test_mdindex_file.c's.  Needs no root;
 * prints TAP.  "test_mdindex PATH" writes the fuzzer's seeds.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "byteorder.h"
#include "mdindex.h"
#include "mdindex_fixture.h"
#include "unit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	    (MDINDEX_REC_LEN + MDINDEX_DIG_LEN) + MDINDEX_SUM_LEN +
	    FIX_BLKS * MDINDEX_TAG_LEN,
	    "encodes to header + 36 bytes a record + 16 a run of them + 20 a "
	    "digest + 16 a block");
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
	    MDINDEX_REC_LEN + MDINDEX_SUM_LEN + FIX_BLKS * MDINDEX_TAG_LEN &&
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
	    sum_is(buf + TAG_PLAIN(0), sizeof(fix_tag),
	    buf + H_SUM(MDINDEX_TAGS)),
	    "the tags follow the records' run, with their checksum");
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
	static const unsigned char zero[MDINDEX_SUM_LEN];
	unsigned char want[MDINDEX_SUM_LEN];

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
	    MDINDEX_DIGESTS) && le_get(buf + H_RESUME, 4) == 1 &&
	    memcmp(buf + H_ZERO, zero, sizeof(zero)) == 0,
	    "octets at 136 (the hidden message not counted), flags at 144, "
	    "the resuming message at 148 (the first with a Content-Length), "
	    "zero at 152");
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
	run_sum(buf + 104, 0, buf + REC(0, 0), FIX_MSGS * MDINDEX_REC_LEN,
	    want);
	CHECK(memcmp(buf + RUN_SUM, want, sizeof(want)) == 0 &&
	    sum_is(buf + DIG(0, 0), FIX_MSGS * MDINDEX_DIG_LEN,
	    buf + H_SUM(MDINDEX_DIGS)) &&
	    sum_is(buf + TAG(0), sizeof(fix_tag), buf + H_SUM(MDINDEX_TAGS)),
	    "the records' run closed by its SHA-256 over the key, the run's "
	    "number and its records; the other parts' at 168 and 184");
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
	expect_sum_mismatch(1, RUN_SUM + 3, "a flipped byte in the records' "
	    "run checksum is a checksum mismatch");
	expect_sum_mismatch(0, RUN_SUM + 15, "and without digests");
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

/* The fixture (with digests or not) encoded, edited and resealed. */
static unsigned char *
edited(int digs, const struct edit *e, size_t ne, size_t *len)
{
	struct mdindex ix;
	unsigned char *buf;

	if (digs)
		fixture(&ix);
	else
		fixture_plain(&ix);
	if ((buf = encode(&ix, len)) == NULL)
		abort();
	for (size_t k = 0; k < ne; k++)
		le_put(buf + e[k].off, e[k].v, e[k].n);
	reseal(buf, *len);
	return buf;
}

/* Edit the encoded fixture, reseal it, and expect a rejection: for the
   reason want, or for any reason but the checksums when want is NULL. */
static void
expect_edits(int digs, const struct edit *e, size_t ne, const char *want,
    const char *name)
{
	const char *why = NULL;
	size_t len;
	unsigned char *buf = edited(digs, e, ne, &len);

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
	const char *why = NULL;
	size_t len;
	unsigned char *buf = edited(digs, e, ne, &len);

	CHECK_WHY(decodes(buf, len, &why), why, "%s", name);
	free(buf);
}

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
	expect_rejected(H_ZERO, 1, 4, "a non-zero field at 152");
	expect_rejected(H_ZERO + 15, 1, 1, "a non-zero last byte at 152");
	expect_rejected(H_RESUME, FIX_MSGS, 4, "a resuming message past the "
	    "last");
	{
		struct edit e = { H_RESUME, 0, 4 };

		expect_edits(1, &e, 1, INCONSISTENT, "a resuming message "
		    "before the first with a Content-Length, without one");
		e.v = 2;
		expect_edits(1, &e, 1, INCONSISTENT, "a resuming message "
		    "after one with a Content-Length");
	}
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
	fixture(&ix);
	ix.resume = 2;
	expect_unencodable(&ix, "a resuming message after the first with a "
	    "Content-Length");
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

/* ---------------------------------------------------------------- */
/* Runs of records                                                   */

/* A mailbox of RUNS_MSGS messages of 100 bytes in one block: three runs
   of records, the last one short. */
#define RUNS_MSGS	(2 * MDINDEX_RUN_RECS + 5)

static void
runs_msg(void *arg, uint32_t i, struct mdindex_msg *m)
{
	(void)arg;
	memset(m, 0, sizeof(*m));
	m->off = (uint64_t)i * 100;
	m->end = m->off + 90;
	m->size = 50;
	m->sep_len = 40;
}

static const unsigned char *
runs_tag(void *arg, uint32_t b)
{
	static const unsigned char tag[MDINDEX_TAG_LEN] = { 7 };

	(void)arg;
	(void)b;
	return tag;
}

static void
runs_index(struct mdindex *ix)
{
	fixture(ix);
	ix->size = ix->end = (uint64_t)RUNS_MSGS * 100;
	ix->nmsg = RUNS_MSGS;
	ix->blk_size = TAG_BLOCK;
	ix->nblk = 1;
	ix->doubt = 0;
	ix->flags = 0;
	ix->octets = (uint64_t)RUNS_MSGS * 50;
	ix->resume = RUNS_MSGS - 1;
}

struct mem {
	const unsigned char *p;
	size_t len;
};

static int
mem_read(void *arg, uint64_t off, unsigned char *p, size_t n,
    const char **why)
{
	const struct mem *m = arg;

	if (off > m->len || n > m->len - off) {
		*why = "index truncated or of the wrong length";
		return -1;
	}
	memcpy(p, m->p + off, n);
	return 0;
}

/* What a records decode handed over: how many, the first, in order. */
struct got {
	uint32_t n, first, next;
	int bad;
};

static void
got_msg(void *arg, uint32_t i, const struct mdindex_msg *m)
{
	struct got *g = arg;

	if (g->n++ == 0)
		g->first = g->next = i;
	if (i != g->next++ || m->off != (uint64_t)i * 100 || m->size != 50)
		g->bad = 1;
}

static int
records(const struct mdindex *ix, const unsigned char *buf, size_t len,
    uint32_t from, uint32_t to, struct got *g, const char **why)
{
	struct mem m = { buf, len };
	struct mdindex_sink sink = { got_msg, NULL, NULL, g };

	memset(g, 0, sizeof(*g));
	*why = NULL;
	return mdindex_decode_records(ix, from, to, mem_read, &m, &sink, why);
}

static void
test_runs(void)
{
	struct mdindex_source src = { runs_msg, runs_tag, NULL };
	struct mdindex ix, back;
	struct got g;
	unsigned char *buf, *run0;
	const char *why = NULL;
	size_t len, rlen = (size_t)MDINDEX_RUN_RECS * MDINDEX_REC_LEN +
	    MDINDEX_SUM_LEN;
	int decoded;

	runs_index(&ix);
	len = (size_t)mdindex_encoded_len(&ix);
	CHECK(len == MDINDEX_HEAD_LEN + (size_t)RUNS_MSGS * MDINDEX_REC_LEN +
	    3 * MDINDEX_SUM_LEN + MDINDEX_TAG_LEN,
	    "three runs of records, each with its checksum");
	if ((buf = malloc(len)) == NULL || (run0 = malloc(rlen)) == NULL)
		abort();
	decoded = mdindex_encode(&ix, &src, buf, len, &why) == 0 &&
	    mdindex_decode(buf, len, &back, &why) == 0;
	CHECK_WHY(decoded, why, "they encode and decode");
	CHECK_WHY(records(&ix, buf, len, MDINDEX_RUN_RECS + 3, RUNS_MSGS, &g,
	    &why) == 0 && !g.bad && g.first == MDINDEX_RUN_RECS + 3 &&
	    g.n == RUNS_MSGS - MDINDEX_RUN_RECS - 3, why,
	    "records from inside the second run to the end: exactly those");
	CHECK_WHY(records(&ix, buf, len, 1, 2, &g, &why) == 0 && !g.bad &&
	    g.first == 1 && g.n == 1, why, "one record of the first run");
	CHECK_WHY(records(&ix, buf, len, 5, 5, &g, &why) == 0 && g.n == 0, why,
	    "none");
	CHECK(records(&ix, buf, len, 6, 5, &g, &why) != 0 &&
	    records(&ix, buf, len, 0, RUNS_MSGS + 1, &g, &why) != 0,
	    "a range backwards or past the last record is refused");
	/* the first run damaged: what does not read it does not see it */
	buf[MDINDEX_HEAD_LEN + 100] ^= 1;
	CHECK_WHY(records(&ix, buf, len, MDINDEX_RUN_RECS, RUNS_MSGS, &g,
	    &why) == 0 && g.n == RUNS_MSGS - MDINDEX_RUN_RECS, why,
	    "a damaged first run does not stop the runs after it");
	CHECK(records(&ix, buf, len, 0, 1, &g, &why) != 0 && why != NULL &&
	    strcmp(why, "index checksum mismatch") == 0,
	    "but is a checksum mismatch for its own records");
	buf[MDINDEX_HEAD_LEN + 100] ^= 1;
	/* two whole runs, sums and all, swapped */
	memcpy(run0, buf + MDINDEX_HEAD_LEN, rlen);
	memmove(buf + MDINDEX_HEAD_LEN, buf + MDINDEX_HEAD_LEN + rlen, rlen);
	memcpy(buf + MDINDEX_HEAD_LEN + rlen, run0, rlen);
	CHECK(records(&ix, buf, len, 0, 1, &g, &why) != 0 && why != NULL &&
	    strcmp(why, "index checksum mismatch") == 0,
	    "a run moved to another place is a checksum mismatch: its number "
	    "is in its checksum");
	if (decoded)
		mdindex_free(&back);
	free(run0);
	free(buf);
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
	ix.resume = 0;
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
	test_runs();
	test_empty();
	test_path();
	return unit_done();
}
