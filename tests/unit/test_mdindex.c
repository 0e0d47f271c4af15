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

static struct mdindex_msg fix_msg[FIX_MSGS];
static unsigned char fix_tag[FIX_BLKS][MDINDEX_TAG_LEN];

/* A mailbox of three messages over two blocks, the first one hidden. */
static void
fixture(struct mdindex *ix)
{
	static const struct mdindex_msg m[FIX_MSGS] = {
		{ 0, 500, 520, 40, MDINDEX_HIDDEN, 0, { 0 } },
		{ 501, 1048600, 1100000, 44, MDINDEX_DIGEST | MDINDEX_CLEN, 1,
		    { 0 } },
		{ 1048601, 5000000000ULL, 1400000000ULL, 4294967400ULL,
		    MDINDEX_DIGEST, 2, { 0 } },
	};

	memcpy(fix_msg, m, sizeof(m));
	for (int i = 0; i < MDINDEX_DIGEST_LEN; i++) {
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
	for (int i = 0; i < MDINDEX_KEY_LEN; i++)
		ix->key[i] = (unsigned char)(0x55 ^ i);
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
encode(const struct mdindex *ix, size_t *len)
{
	const char *why = NULL;
	unsigned char *buf;

	*len = (size_t)mdindex_encoded_len(ix);
	if (*len == 0 || (buf = malloc(*len)) == NULL)
		return NULL;
	if (mdindex_encode(ix, &fix_src, buf, *len, &why) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* After an edit, make the checksum right again, so that only the
   validation after it can reject the bytes. */
static void
reseal(unsigned char *buf, size_t len)
{
	unsigned char full[EVP_MAX_MD_SIZE];
	unsigned int n;

	if (EVP_Digest(buf, len - MDINDEX_SUM_LEN, full, &n, EVP_sha256(),
	    NULL) != 1)
		abort();
	memcpy(buf + len - MDINDEX_SUM_LEN, full, MDINDEX_SUM_LEN);
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

static int
msgs_equal(const struct mdindex *ix)
{
	for (uint32_t i = 0; i < FIX_MSGS; i++) {
		struct mdindex_msg m;

		mdindex_msg_at(ix, i, &m);
		if (memcmp(&m, &fix_msg[i], sizeof(m)) != 0)
			return 0;
	}
	return ix->nmsg == FIX_MSGS;
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
	buf = encode(&ix, &len);
	CHECK(buf != NULL && len == MDINDEX_HEAD_LEN + FIX_MSGS *
	    MDINDEX_MSG_LEN + FIX_BLKS * MDINDEX_TAG_LEN + MDINDEX_SUM_LEN,
	    "encodes to header + 56 bytes a message + 16 a block + checksum");
	if (buf == NULL)
		return;
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
	    memcmp(back.key, ix.key, sizeof(ix.key)) == 0,
	    "the header survives the round trip");
	CHECK(msgs_equal(&back) && memcmp(mdindex_tag_at(&back, 0), fix_tag,
	    sizeof(fix_tag)) == 0,
	    "entries (64-bit From_ length) and tags survive the round trip");
	/* (it aborts if the bytes it decodes do not encode back the same) */
	CHECK(LLVMFuzzerTestOneInput(buf, len) == 0,
	    "re-encoding gives the same bytes");
	mdindex_free(&back);
	free(buf);
}

/* Where the fields are: a layout table that lies would fail here. */
static void
test_layout(void)
{
	struct mdindex ix;
	unsigned char *buf;
	size_t len;

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
	/* message 2's From_ line length is over 4 GiB: 5 bytes used */
	CHECK(buf[MDINDEX_HEAD_LEN + 2 * MDINDEX_MSG_LEN + 24 + 4] == 1 &&
	    buf[MDINDEX_HEAD_LEN + 2 * MDINDEX_MSG_LEN + 32] == MDINDEX_DIGEST,
	    "per-message record: From_ length as 64 bits, then flags");
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
	struct mdindex ix;
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
	free(buf);
}

static void
test_bit_flips(void)
{
	struct mdindex ix;
	unsigned char *buf;
	const char *why = NULL;
	size_t len, bad = 0, sum_caught = 0, other_reason = 0;

	fixture(&ix);
	if ((buf = encode(&ix, &len)) == NULL)
		abort();
	for (size_t bit = 0; bit < len * 8; bit++) {
		size_t at = bit / 8;
		/* magic, version, counts: read before the sum can be */
		int framing = at < 12 || (at >= 76 && at < 80) ||
		    (at >= 96 && at < 104);
		int by_sum;

		buf[at] ^= (unsigned char)(1u << (bit % 8));
		bad += decodes(buf, len, &why);
		by_sum = why != NULL &&
		    strcmp(why, "index checksum mismatch") == 0;
		sum_caught += by_sum;
		other_reason += !framing && !by_sum;
		buf[at] ^= (unsigned char)(1u << (bit % 8));
	}
	CHECK(bad == 0, "every single bit flip is rejected");
	CHECK(sum_caught > 0, "flips in the body are caught by the checksum");
	CHECK(other_reason == 0, "a flip outside the framing is reported as a "
	    "checksum mismatch, though entries are checked as they stream");
	CHECK_WHY(decodes(buf, len, &why), why,
	    "and the unflipped bytes still decode");
	free(buf);
}

/* Edit the encoded fixture, reseal it, and expect a rejection. */
static void
expect_rejected(size_t off, uint64_t v, int n, const char *name)
{
	struct mdindex ix;
	unsigned char *buf;
	const char *why = NULL;
	size_t len;

	fixture(&ix);
	if ((buf = encode(&ix, &len)) == NULL)
		abort();
	le_put(buf + off, v, n);
	reseal(buf, len);
	/* resealed: the checksum must not be what catches it */
	CHECK_WHY(!decodes(buf, len, &why) && why != NULL &&
	    strcmp(why, "index checksum mismatch") != 0, why, "%s", name);
	free(buf);
}

#define MSG(i, field)	(MDINDEX_HEAD_LEN + (i) * MDINDEX_MSG_LEN + (field))

static void
test_semantics(void)
{
	expect_rejected(8, MDINDEX_VERSION + 1, 4, "another version");
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
	expect_rejected(MSG(1, 0), 499, 8, "a message starting inside the "
	    "one before");
	expect_rejected(MSG(0, 8), 502, 8, "a message ending after the next "
	    "one starts");
	expect_rejected(MSG(2, 8), 5000000002ULL, 8, "the last message ending "
	    "past the indexed end");
	expect_rejected(MSG(1, 24), 0, 8, "a zero From_ line length");
	expect_rejected(MSG(2, 24), UINT64_MAX, 8, "a From_ line length "
	    "that overflows off + length");
	expect_rejected(MSG(1, 16), 2 * (1048600 - 501 - 44) + 3, 8,
	    "a RETR size more than CRLF conversion allows");
	expect_rejected(MSG(1, 32), MDINDEX_DIGEST | 8, 4, "an unknown flag");
	expect_rejected(MSG(1, 32), MDINDEX_DIGEST | MDINDEX_HIDDEN, 4,
	    "a hidden message after the first");
	expect_rejected(MSG(0, 36), 1, 4, "a dup count without a digest");
	expect_rejected(MSG(0, 40), 1, 1, "digest bytes without a digest");
	expect_rejected(MSG(1, 36), 0, 4, "a digest with dup 0");
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
	buf = encode(&ix, &len);
	CHECK_WHY(buf != NULL && len == MDINDEX_HEAD_LEN + MDINDEX_SUM_LEN &&
	    mdindex_decode(buf, len, &back, &why) == 0 && back.nmsg == 0, why,
	    "an empty mailbox's index round-trips");
	if (buf != NULL && why == NULL)
		mdindex_free(&back);
	free(buf);
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

/* What mdindex_load hands over, collected. */
struct collect {
	int began;
	uint32_t n;
	struct mdindex_msg msg[FIX_MSGS];
};

static int
collect_begin(void *arg, const struct mdindex *ix, const char **why)
{
	struct collect *c = arg;

	(void)why;
	c->began = 1;
	return ix->nmsg == FIX_MSGS ? 1 : 0;
}

static void
collect_msg(void *arg, uint32_t i, const struct mdindex_msg *m)
{
	struct collect *c = arg;

	c->msg[i] = *m;
	c->n++;
}

static void
collect_tag(void *arg, uint32_t b, const unsigned char *tag)
{
	(void)arg;
	(void)b;
	(void)tag;
}

static int
collected_equal(const struct collect *c)
{
	return c->n == FIX_MSGS &&
	    memcmp(c->msg, fix_msg, sizeof(c->msg)) == 0;
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

/* The maildrop's two calls, through a real file. */
static void
test_load_store(int dfd)
{
	struct mdindex ix, back;
	struct stat mbox;
	struct collect c;
	struct mdindex_sink sink = { collect_begin, collect_msg, collect_tag,
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
	CHECK_WHY(mdindex_load(dfd, "ls", &mbox, &back, &sink, &why) ==
	    MDINDEX_UNTRUSTED && why == NULL, why,
	    "load: no index file, nothing to log");
	CHECK_WHY(mdindex_store(dfd, "ls", &ix, &fix_src, getegid(), &why) ==
	    MDINDEX_IO_OK, why,
	    "store writes the index");
	memset(&c, 0, sizeof(c));
	CHECK_WHY(mdindex_load(dfd, "ls", &mbox, &back, &sink, &why) ==
	    MDINDEX_UNCHANGED && collected_equal(&c) &&
	    back.nmsg == FIX_MSGS, why,
	    "load: the unchanged mailbox gets its entries back");
	mdindex_free(&back);
	mbox.st_size += 4096;
	memset(&c, 0, sizeof(c));
	CHECK_WHY(mdindex_load(dfd, "ls", &mbox, &back, &sink, &why) ==
	    MDINDEX_GREW && back.end == ix.end && collected_equal(&c) &&
	    back.doubt == 1, why,
	    "load: a grown mailbox is GREW from the old end, its entries "
	    "handed over");
	mdindex_free(&back);
	CHECK_WHY((fd = openat(dfd, "ls", O_WRONLY)) >= 0 &&
	    pwrite(fd, &flip, 1, 200) == 1 && close(fd) == 0 &&
	    mdindex_load(dfd, "ls", &mbox, &back, &sink, &why) ==
	    MDINDEX_UNTRUSTED && why != NULL && back.nmsg == 0, why,
	    "load: a corrupted file is UNTRUSTED, with a reason");
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

/* The fixture's bytes into path: a seed for the fuzzer. */
static int
write_seed(const char *path)
{
	struct mdindex ix;
	unsigned char *buf;
	size_t len;
	FILE *f;
	int r;

	fixture(&ix);
	if ((buf = encode(&ix, &len)) == NULL || (f = fopen(path, "wb")) ==
	    NULL)
		return 1;
	r = fwrite(buf, 1, len, f) != len;
	r |= fclose(f) != 0;
	free(buf);
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
	test_layout();
	test_truncations();
	test_bit_flips();
	test_semantics();
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
