/*
 * tests/unit/mdindex_fixture.c - the index fixture the mdindex unit tests
 * share (mdindex_fixture.h): its messages and blocks, its encoding, and
 * the helpers that reseal, decode and compare it.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "byteorder.h"
#include "mdindex_fixture.h"

struct mdindex_msg fix_msg[FIX_MSGS];
unsigned char fix_tag[FIX_BLKS][MDINDEX_TAG_LEN];

/* A mailbox of three messages over two blocks, the first one hidden,
   every one with its UIDL digest (the last two identical copies). */
void
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
	ix->resume = 1;		/* message 1 had a Content-Length */
	for (int i = 0; i < MDINDEX_KEY_LEN; i++)
		ix->key[i] = (unsigned char)(0x55 ^ i);
}

/* The same mailbox indexed without its digests: the source still has
   them, the encoder leaves them out. */
void
fixture_plain(struct mdindex *ix)
{
	fixture(ix);
	ix->flags = MDINDEX_FIRST_HIDDEN;
}

/* Entry i as a file without digests gives it back: the record alone. */
void
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

const struct mdindex_source fix_src = { fix_msg_at, fix_tag_at, NULL };

unsigned char *
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

unsigned char *
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

int
sum_is(const unsigned char *p, size_t n, const unsigned char *want)
{
	unsigned char sum[MDINDEX_SUM_LEN];

	sum16(p, n, sum);
	return memcmp(sum, want, MDINDEX_SUM_LEN) == 0;
}

/* A run's checksum: SHA-256 of the key, the run's number (4 bytes,
   little-endian) and its n record bytes, truncated. */
void
run_sum(const unsigned char *key, uint32_t r, const unsigned char *p,
    size_t n, unsigned char sum[MDINDEX_SUM_LEN])
{
	unsigned char *b, num[4];

	if ((b = malloc(MDINDEX_KEY_LEN + sizeof(num) + n)) == NULL)
		abort();
	le_put(num, r, 4);
	memcpy(b, key, MDINDEX_KEY_LEN);
	memcpy(b + MDINDEX_KEY_LEN, num, sizeof(num));
	memcpy(b + MDINDEX_KEY_LEN + sizeof(num), p, n);
	sum16(b, MDINDEX_KEY_LEN + sizeof(num) + n, sum);
	free(b);
}

/* Each run's checksum after the run, under the header's key. */
static void
reseal_runs(unsigned char *buf, uint64_t nmsg)
{
	unsigned char *p = buf + MDINDEX_HEAD_LEN;

	for (uint64_t i = 0, r = 0; i < nmsg; r++) {
		uint64_t k = nmsg - i < MDINDEX_RUN_RECS ? nmsg - i :
		    MDINDEX_RUN_RECS;
		size_t n = (size_t)k * MDINDEX_REC_LEN;

		run_sum(buf + 104, (uint32_t)r, p, n, p + n);
		p += n + MDINDEX_SUM_LEN;
		i += k;
	}
}

/*
 * After an edit, make the checksums right again, so that only the
 * validation after them can reject the bytes: the runs' and the parts'
 * sums, if the header's counts still fit the length (the digests' sum
 * only when the header's flags say they are there), then the header's
 * own.
 */
void
reseal(unsigned char *buf, size_t len)
{
	uint64_t nmsg = le_get(buf + 76, 4), nblk = le_get(buf + 96, 4);
	int digs = (le_get(buf + H_FLAGS, 4) & MDINDEX_DIGESTS) != 0;
	uint64_t plen[MDINDEX_PARTS] = { MDINDEX_REC_LEN * nmsg +
	    MDINDEX_SUM_LEN * MDINDEX_RUNS(nmsg),
	    digs ? MDINDEX_DIG_LEN * nmsg : 0, MDINDEX_TAG_LEN * nblk };
	uint64_t off = MDINDEX_HEAD_LEN + plen[0];

	if (len < MDINDEX_HEAD_LEN)
		abort();
	if (off + plen[1] + plen[2] == len) {
		reseal_runs(buf, nmsg);
		for (int p = MDINDEX_DIGS; p < MDINDEX_PARTS; p++) {
			if (p != MDINDEX_DIGS || digs)
				sum16(buf + off, (size_t)plen[p],
				    buf + H_SUM(p));
			off += plen[p];
		}
	}
	sum16(buf, H_SUM_HEAD, buf + H_SUM_HEAD);
}

/* The entries mdindex_msg_at gives: the fixture's, or its records alone
   for a file without digests. */
int
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

int
tags_equal(const struct mdindex *ix)
{
	for (uint32_t b = 0; b < FIX_BLKS; b++)
		if (memcmp(mdindex_tag_at(ix, b), fix_tag[b],
		    MDINDEX_TAG_LEN) != 0)
			return 0;
	return ix->nblk == FIX_BLKS;
}
