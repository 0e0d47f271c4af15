/*
 * tests/unit/test_journal.c - the update's journal (journal.c): the
 * header it writes, and what recovery does with a journal a crash, a
 * full disk or another program left (README "Maildrop").
 *
 * The header's layout as journal.c documents it: magic "POP3DJ01", the
 * state byte, then 64-bit little-endian inode, P, S1, K and marker
 * length at 16..55, the marker at 56, SHA-256 of [16, 88) at 96; the
 * kept bytes from JHDR_SIZE on.  md_journal_cut's gather callback sees
 * the header as it was committed; md_journal_recover (under the locks,
 * as the next login runs it) is the decoder.  A refused journal leaves
 * the mailbox and the journal alone and says so to syslog, which this
 * file defines to catch the words.  Root-free.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "byteorder.h"
#include "md.h"
#include "unit.h"

enum { J_STATE = 8, J_INO = 16, J_P = 24, J_S1 = 32, J_K = 40,
    J_MLEN = 48, J_MARKER = 56, J_SUM = 96, J_SUMMED_END = J_MARKER +
    JMARK_MAX };

static const char mailbox[] =
    "From a@example.org Mon Jan  1 00:00:00 2024\n"
    "Subject: one\n\nbody one\n\n"
    "From b@example.org Mon Jan  1 00:00:01 2024\n"
    "Subject: two\n\nbody two, a longer one than the first\n\n"
    "From c@example.org Mon Jan  1 00:00:02 2024\n"
    "Subject: three\n\nlast\n";
#define MLEN	(sizeof(mailbox) - 1)

static char dir[96], mpath[128], jpath[160], opath[180];
static uint64_t mbox_ino;
static char logged[512];	/* the last syslog line */

/* journal.c's syslog: kept for the checks below, not sent. */
void
syslog(int pri, const char *fmt, ...)
{
	va_list ap;

	(void)pri;
	va_start(ap, fmt);
	(void)vsnprintf(logged, sizeof(logged), fmt, ap);
	va_end(ap);
}

static void
write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n || close(fd) != 0)
		abort();
}

/* The file at path is exactly the n bytes at want. */
static int
file_is(const char *path, const void *want, size_t n)
{
	static char got[MLEN * 2 + JHDR_SIZE];
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return 0;
	r = read(fd, got, sizeof(got));
	(void)close(fd);
	return r == (ssize_t)n && memcmp(got, want, n) == 0;
}

static int
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* A fresh mailbox (same inode: O_TRUNC), no journal. */
static void
reset(void)
{
	(void)unlink(jpath);
	(void)unlink(opath);
	write_file(mpath, mailbox, MLEN);
}

static struct maildrop *
open_locked(void)
{
	struct md_config mc = { mpath, 1, 300, (gid_t)-1, 0, NULL };
	struct maildrop *md;
	const char *why;

	if (md_new(&md, &mc, &why) != MD_OK ||
	    md_open_file(md, &why) != MD_OK || md_lock(md, &why) != MD_OK) {
		printf("# cannot open %s: %s\n", mpath, why);
		abort();
	}
	return md;
}

/* What the next login does first. */
static enum md_status
recover(void)
{
	struct maildrop *md = open_locked();
	const char *why = NULL;
	enum md_status st;

	logged[0] = '\0';
	st = md_journal_recover(md, &why);
	md_unlock(md);
	maildrop_close(md);
	return st;
}

/* ---- a header as another writer would make it ---- */

struct jh {
	unsigned char state;
	uint64_t ino, p, s1, k, mlen;
	unsigned char marker[JMARK_MAX];
};

static void
seal(unsigned char *h)
{
	unsigned int n;

	if (EVP_Digest(h + J_INO, J_SUMMED_END - J_INO, h + J_SUM, &n,
	    EVP_sha256(), NULL) != 1 || n != 32)
		abort();
}

static void
encode(const struct jh *j, unsigned char *h)
{
	memset(h, 0, JHDR_SIZE);
	memcpy(h, "POP3DJ01", 8);
	h[J_STATE] = j->state;
	le_put(h + J_INO, j->ino, 8);
	le_put(h + J_P, j->p, 8);
	le_put(h + J_S1, j->s1, 8);
	le_put(h + J_K, j->k, 8);
	le_put(h + J_MLEN, j->mlen, 8);
	memcpy(h + J_MARKER, j->marker, JMARK_MAX);
	seal(h);
}

/* The journal file: header h, then the kept bytes (k of them, from the
   mailbox at `from`), plus `extra` more octets (< 0: fewer). */
static void
write_journal(const unsigned char *h, uint64_t k, uint64_t from, int extra)
{
	static unsigned char j[JHDR_SIZE + MLEN + 16];
	size_t n = JHDR_SIZE + (size_t)k;

	memcpy(j, h, JHDR_SIZE);
	memset(j + JHDR_SIZE, 'K', sizeof(j) - JHDR_SIZE);
	memcpy(j + JHDR_SIZE, mailbox + from, (size_t)k < MLEN - from ?
	    (size_t)k : MLEN - from);
	write_file(jpath, j, (size_t)((ssize_t)n + extra));
}

/* The journal of cutting message 2 (M2 to M3): keep message 3. */
#define M2	((uint64_t)(strstr(mailbox, "From b") - mailbox))
#define M3	((uint64_t)(strstr(mailbox, "From c") - mailbox))

static void
cut_msg2(struct jh *j, unsigned char state)
{
	memset(j, 0, sizeof(*j));
	j->state = state;
	j->ino = mbox_ino;
	j->p = M2;
	j->s1 = MLEN;
	j->k = MLEN - M3;
	j->mlen = JMARK_MAX;
	memset(j->marker, 0x5a, JMARK_MAX);
	j->marker[0] = '\0';
}

/* The mailbox after the cut of message 2. */
static size_t
cut_result(char *out)
{
	memcpy(out, mailbox, (size_t)M2);
	memcpy(out + M2, mailbox + M3, MLEN - M3);
	return (size_t)(M2 + MLEN - M3);
}

/* Recovery refused the journal: nothing changed, syslog says damaged. */
static int
refused(const unsigned char *h, uint64_t k, int extra)
{
	reset();
	write_journal(h, k, M3, extra);
	return recover() == MD_TEMP && file_is(mpath, mailbox, MLEN) &&
	    exists(jpath) && strstr(logged, "is damaged") != NULL;
}

/* Recovery applied it: the journal is gone and the mailbox is cut. */
static int
applied(const unsigned char *h, uint64_t k, uint64_t from, const char *want,
    size_t wn)
{
	reset();
	write_journal(h, k, from, 0);
	return recover() == MD_OK && file_is(mpath, want, wn) &&
	    !exists(jpath);
}

/* ---- the header as md_journal_cut commits it ---- */

static unsigned char committed[JHDR_SIZE];

static int
gather(struct maildrop *md, int jfd, void *arg, const char **err_file)
{
	(void)md;
	(void)arg;
	(void)err_file;
	if (pread(jfd, committed, JHDR_SIZE, 0) != JHDR_SIZE)
		return -1;
	return pwrite(jfd, mailbox + M3, MLEN - M3, JHDR_SIZE) ==
	    (ssize_t)(MLEN - M3) ? 0 : -1;
}

static int
committed_ok(uint64_t p, uint64_t k, uint64_t s1, uint64_t mlen)
{
	unsigned char mine[JHDR_SIZE];
	struct jh j;

	memset(&j, 0, sizeof(j));
	j.state = 1;
	j.ino = mbox_ino;
	j.p = p;
	j.s1 = s1;
	j.k = k;
	j.mlen = mlen;
	memcpy(j.marker, committed + J_MARKER, JMARK_MAX);
	encode(&j, mine);
	return memcmp(mine, committed, JHDR_SIZE) == 0 &&
	    committed[J_MARKER] == '\0';
}

/* md_journal_cut of message 2, the file said to end at s1. */
static enum md_status
cut(uint64_t s1, const char **why)
{
	struct maildrop *md;
	enum md_status r;

	reset();
	md = open_locked();
	if (fstat(md->f.fd, &md->pf.snap) != 0)
		abort();
	r = md_journal_cut(md, M2, MLEN - M3, s1, gather, NULL, why);
	md_unlock(md);
	maildrop_close(md);
	return r;
}

static unsigned char first_commit[JHDR_SIZE];

static void
test_commit(void)
{
	char want[MLEN];
	const char *why = NULL;
	size_t wn = cut_result(want);
	uint64_t k = MLEN - M3;
	int all_zero = 1;

	CHECK_WHY(cut(MLEN, &why) == MD_OK && file_is(mpath, want, wn) &&
	    !exists(jpath), why, "a cut through the journal keeps the bytes "
	    "before P and the kept bytes, and removes the journal");
	memcpy(first_commit, committed, JHDR_SIZE);
	CHECK(committed_ok(M2, k, MLEN, JMARK_MAX),
	    "the committed header: magic, state 1, inode, P, S1, K, marker "
	    "length %d, a marker starting with NUL, SHA-256", JMARK_MAX);
	for (size_t i = J_SUM + 32; i < JHDR_SIZE; i++)
		all_zero &= committed[i] == 0;
	for (size_t i = J_STATE + 1; i < J_INO; i++)
		all_zero &= committed[i] == 0;
	CHECK(all_zero, "the header's unused octets are zero");
	(void)cut(M2 + k + 5, &why);
	CHECK(committed_ok(M2, k, M2 + k + 5, 5),
	    "the marker is as long as the octets cut, when fewer than %d",
	    JMARK_MAX);
	(void)cut(M2 + k + JMARK_MAX, &why);
	CHECK(committed_ok(M2, k, M2 + k + JMARK_MAX, JMARK_MAX),
	    "exactly %d octets cut: a marker of %d", JMARK_MAX, JMARK_MAX);
	(void)cut(M2 + k + JMARK_MAX + 1, &why);
	CHECK(committed_ok(M2, k, M2 + k + JMARK_MAX + 1, JMARK_MAX),
	    "%d octets cut: a marker of %d", JMARK_MAX + 1, JMARK_MAX);
}

/* ---- recovery: the decoder ---- */

static void
test_round_trip(void)
{
	char want[MLEN];
	size_t wn = cut_result(want);
	unsigned char h[JHDR_SIZE];
	struct jh j;

	CHECK(applied(first_commit, MLEN - M3, M3, want, wn),
	    "a journal as committed (a crash before step 2) is finished");
	cut_msg2(&j, 1);
	encode(&j, h);
	CHECK(applied(h, j.k, M3, want, wn),
	    "a COMMITTED journal another writer made to the documented "
	    "layout is finished");
	/* a crash after step 4: the file ends at F, no marker in it */
	cut_msg2(&j, 2);
	encode(&j, h);
	reset();
	write_file(mpath, want, wn);
	write_journal(h, j.k, M3, 0);
	CHECK(recover() == MD_OK && file_is(mpath, want, wn) &&
	    !exists(jpath), "MARKED, the file cut at F already: the kept "
	    "bytes are written again, the journal removed");
	/* a crash in step 3: the marker at F, the kept bytes half copied */
	reset();
	{
		char half[MLEN];

		memcpy(half, mailbox, MLEN);
		memcpy(half + M2 + j.k, j.marker, JMARK_MAX);
		memset(half + M2, '#', 10);
		write_file(mpath, half, MLEN);
	}
	write_journal(h, j.k, M3, 0);
	CHECK(recover() == MD_OK && file_is(mpath, want, wn) &&
	    !exists(jpath), "MARKED, the marker still at F: steps 3 to 5 "
	    "again");
}

static void
test_truncated(void)
{
	unsigned char h[JHDR_SIZE];
	struct jh j;
	size_t bad = 0;

	cut_msg2(&j, 1);
	encode(&j, h);
	CHECK(refused(h, j.k, -1) && refused(h, j.k, 1),
	    "one kept octet missing or one too many: refused");
	for (int extra = -(int)j.k - 1; extra >= -(int)j.k - JHDR_SIZE;
	    extra -= 509)
		bad += !refused(h, j.k, extra);
	bad += !refused(h, j.k, -(int)j.k - JHDR_SIZE);	/* empty */
	CHECK(bad == 0, "a header cut short, or an empty journal: refused");
}

static void
test_bit_flips(void)
{
	unsigned char h[JHDR_SIZE];
	struct jh j;
	size_t bad = 0;

	cut_msg2(&j, 1);
	encode(&j, h);
	/* every bit of magic, state, fields, marker and checksum; the
	   padding after the state byte and before the checksum is covered
	   by none of them (nothing reads it) */
	for (size_t bit = 0; bit < (J_SUM + 32) * 8; bit++) {
		size_t at = bit / 8;

		if ((at > J_STATE && at < J_INO) ||
		    (at >= J_SUMMED_END && at < J_SUM))
			continue;
		h[at] ^= (unsigned char)(1u << (bit % 8));
		if (!refused(h, j.k, 0)) {
			printf("# bit %zu flipped: accepted\n", bit);
			bad++;
		}
		h[at] ^= (unsigned char)(1u << (bit % 8));
	}
	CHECK(bad == 0, "every single bit flip in the header is refused");
}

static void
test_foreign(void)
{
	unsigned char h[JHDR_SIZE];
	struct jh j;

	cut_msg2(&j, 1);
	encode(&j, h);
	memcpy(h, "POP3DJ02", 8);
	CHECK(refused(h, j.k, 0), "another version (POP3DJ02) is refused");
	memcpy(h, "POP3DJ00", 8);
	CHECK(refused(h, j.k, 0), "an older one (POP3DJ00) too");
	memcpy(h, "pop3dj01", 8);
	CHECK(refused(h, j.k, 0), "the magic is case-sensitive");
	cut_msg2(&j, 0);
	encode(&j, h);
	CHECK(refused(h, j.k, 0), "state 0 is refused");
	cut_msg2(&j, 3);
	encode(&j, h);
	CHECK(refused(h, j.k, 0), "state 3 is refused");
	cut_msg2(&j, 1);
	j.ino = mbox_ino + 1;
	encode(&j, h);
	reset();
	write_journal(h, j.k, M3, 0);
	CHECK(recover() == MD_OK && file_is(mpath, mailbox, MLEN) &&
	    !exists(jpath) && exists(opath),
	    "a journal of another inode is set aside as .orphan, the "
	    "mailbox left alone");
}

/* The header of a cut of [p, s1) keeping k octets; marker length m. */
static void
fields(unsigned char *h, unsigned char state, uint64_t p, uint64_t s1,
    uint64_t k, uint64_t m)
{
	struct jh j;

	memset(&j, 0, sizeof(j));
	j.state = state;
	j.ino = mbox_ino;
	j.p = p;
	j.s1 = s1;
	j.k = k;
	j.mlen = m;
	memset(j.marker, 0x77, JMARK_MAX);
	j.marker[0] = '\0';
	encode(&j, h);
}

static void
test_fields(void)
{
	unsigned char h[JHDR_SIZE];
	char want[MLEN];

	/* the last octet cut, nothing kept */
	fields(h, 1, MLEN - 1, MLEN, 0, 1);
	memcpy(want, mailbox, MLEN - 1);
	CHECK(applied(h, 0, 0, want, MLEN - 1), "P = S1 - 1, K = 0: applied");
	fields(h, 1, MLEN, MLEN, 0, 1);
	CHECK(refused(h, 0, 0), "P = S1: refused");
	fields(h, 1, MLEN + 1, MLEN, 0, 1);
	CHECK(refused(h, 0, 0), "P > S1: refused");
	/* K: at most S1 - P - 1 */
	fields(h, 1, 10, MLEN, MLEN - 11, 1);
	memcpy(want, mailbox, 10);
	memcpy(want + 10, mailbox + 11, MLEN - 11);
	CHECK(applied(h, MLEN - 11, 11, want, MLEN - 1),
	    "K = S1 - P - 1 (one octet cut): applied");
	fields(h, 1, 10, MLEN, MLEN - 10, 1);
	CHECK(refused(h, MLEN - 10, 0), "K = S1 - P (nothing cut): refused");
	fields(h, 1, 10, MLEN, MLEN - 9, 1);
	CHECK(refused(h, MLEN - 9, 0), "K = S1 - P + 1 (more kept than there "
	    "is, P + K past S1): refused");
	/* the marker fits what is cut */
	fields(h, 1, MLEN - 5, MLEN, 0, 5);
	memcpy(want, mailbox, MLEN - 5);
	CHECK(applied(h, 0, 0, want, MLEN - 5),
	    "a marker as long as the octets cut: applied");
	fields(h, 1, MLEN - 5, MLEN, 0, 6);
	CHECK(refused(h, 0, 0), "a marker one longer than the octets cut: "
	    "refused");
	fields(h, 1, 10, MLEN, 0, JMARK_MAX);
	CHECK(applied(h, 0, 0, mailbox, 10), "a marker of %d: applied",
	    JMARK_MAX);
	fields(h, 1, 10, MLEN, 0, JMARK_MAX + 1);
	CHECK(refused(h, 0, 0), "a marker of %d: refused", JMARK_MAX + 1);
	fields(h, 1, 10, MLEN, 0, 0);
	CHECK(refused(h, 0, 0), "a marker of 0: refused");
	/* S1 must fit an off_t: INT64_MAX passes the decoder, and then the
	   mailbox is shorter than the journal says */
	fields(h, 1, 10, (uint64_t)INT64_MAX + 1, 0, 1);
	CHECK(refused(h, 0, 0), "S1 = 2^63: refused as damaged");
	reset();
	fields(h, 1, 10, (uint64_t)INT64_MAX, 0, 1);
	write_journal(h, 0, 0, 0);
	CHECK(recover() == MD_TEMP && file_is(mpath, mailbox, MLEN) &&
	    exists(jpath) && strstr(logged, "shorter than its journal") !=
	    NULL, "S1 = 2^63 - 1: read, then refused for the mailbox's "
	    "size");
	fields(h, 1, 10, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX - 10, 1);
	CHECK(refused(h, 0, 0), "K = S1 - P near 2^63: refused");
}

int
main(void)
{
	struct stat st;

	(void)setvbuf(stdout, NULL, _IOLBF, 0);
	if (unit_tmpdir(dir, sizeof(dir), "test_journal") != 0)
		return 1;
	snprintf(mpath, sizeof(mpath), "%s/mbox", dir);
	snprintf(jpath, sizeof(jpath), "%s%s", mpath, JOURNAL_SUFFIX);
	snprintf(opath, sizeof(opath), "%s%s", jpath, JOURNAL_ORPHAN_SUFFIX);
	write_file(mpath, mailbox, MLEN);
	if (stat(mpath, &st) != 0)
		abort();
	mbox_ino = (uint64_t)st.st_ino;
	test_commit();
	test_round_trip();
	test_truncated();
	test_bit_flips();
	test_foreign();
	test_fields();
	(void)unlink(jpath);
	(void)unlink(opath);
	(void)unlink(mpath);
	(void)rmdir(dir);
	return unit_done();
}
