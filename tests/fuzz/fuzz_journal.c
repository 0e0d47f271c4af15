/*
 * fuzz_journal.c - the libFuzzer entry for the journal's decoder and the
 * recovery it drives (journal.c md_journal_recover), which trusts
 * nothing in a journal a crash, a full disk or a hostile writer left.
 *
 * The input is a journal's first JH_FIXED header octets (magic, state,
 * inode, P, S1, K, marker length, marker) and then its kept bytes; this
 * file pads the header to JHDR_SIZE and writes the checksum over it, so
 * that mutations reach the checks after the checksum.  An inode of 0
 * stands for the mailbox's own.  Recovery then runs, under the locks,
 * on a fixed small mailbox, as the next login would.  Whatever it does,
 * the mailbox must end as journal.c's opening comment says: untouched
 * when the journal is refused, else the bytes before P, the kept bytes,
 * and any mail after S1 (or after P + K once cut there).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "byteorder.h"
#include "md.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The header as journal.c documents it: 64-bit little-endian numbers,
   SHA-256 over [16, J_MARKER + JMARK_MAX) at J_SUM. */
enum { J_STATE = 8, J_INO = 16, J_P = 24, J_S1 = 32, J_K = 40,
    J_MLEN = 48, J_MARKER = 56, J_SUM = 96, JH_FIXED = J_SUM };

static const char mailbox[] =
    "From a@example.org Mon Jan  1 00:00:00 2024\n"
    "Subject: one\n\nbody one\n\n"
    "From b@example.org Mon Jan  1 00:00:01 2024\n"
    "Subject: two\n\n.dot\n\n"
    "From c@example.org Mon Jan  1 00:00:02 2024\n"
    "Subject: three\n\nlast\n";

static char dir[64], mpath[80], jpath[120];
static uint64_t mbox_ino;	/* O_TRUNC keeps it */

static uint64_t
get64(const unsigned char *p)
{
	return le_get(p, 8);
}

static void
write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n || close(fd) != 0)
		abort();
}

static void
setup(void)
{
	const char *t = getenv("TMPDIR");
	struct stat st;

	(void)snprintf(dir, sizeof(dir), "%s/fuzz-journal.XXXXXX",
	    t != NULL && strlen(t) < 40 ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	(void)snprintf(mpath, sizeof(mpath), "%s/mbox", dir);
	(void)snprintf(jpath, sizeof(jpath), "%s%s", mpath, JOURNAL_SUFFIX);
	write_file(mpath, mailbox, sizeof(mailbox) - 1);
	if (stat(mpath, &st) != 0)
		abort();
	mbox_ino = (uint64_t)st.st_ino;
}

/* The journal file: header padded, inode filled in, checksum made. */
static size_t
make_journal(const uint8_t *data, size_t size, unsigned char *j)
{
	unsigned int n;

	memset(j, 0, JHDR_SIZE);
	memcpy(j, data, size < JH_FIXED ? size : JH_FIXED);
	if (get64(j + J_INO) == 0)
		le_put(j + J_INO, mbox_ino, 8);
	if (EVP_Digest(j + 16, J_MARKER + JMARK_MAX - 16, j + J_SUM, &n,
	    EVP_sha256(), NULL) != 1)
		abort();
	if (size <= JH_FIXED)
		return JHDR_SIZE;
	memcpy(j + JHDR_SIZE, data + JH_FIXED, size - JH_FIXED);
	return JHDR_SIZE + size - JH_FIXED;
}

/* Would journal.c accept this header for a journal of jlen octets? */
static int
accepted(const unsigned char *j, size_t jlen)
{
	uint64_t p = get64(j + J_P), s1 = get64(j + J_S1), k = get64(j + J_K),
	    mlen = get64(j + J_MLEN);

	return memcmp(j, "POP3DJ01", 8) == 0 &&
	    (j[J_STATE] == 1 || j[J_STATE] == 2) && mlen >= 1 &&
	    mlen <= JMARK_MAX && s1 <= (uint64_t)INT64_MAX && p < s1 &&
	    k < s1 - p && mlen <= s1 - (p + k) && k == jlen - JHDR_SIZE;
}

/* The mailbox after a recovery from journal j (NULL: left alone). */
static char *
expected(const unsigned char *j, size_t *n)
{
	uint64_t p = get64(j + J_P), s1 = get64(j + J_S1), k = get64(j + J_K),
	    len = sizeof(mailbox) - 1, from = s1;
	char *e;

	if (j[J_STATE] == 2 && (p + k + get64(j + J_MLEN) > len ||
	    memcmp(mailbox + p + k, j + J_MARKER,
	    (size_t)get64(j + J_MLEN)) != 0))
		from = p + k;	/* no marker at F: already cut there */
	if (len < from || (e = malloc((size_t)len + 1)) == NULL)
		return NULL;
	memcpy(e, mailbox, (size_t)p);
	memcpy(e + p, j + JHDR_SIZE, (size_t)k);
	memcpy(e + p + k, mailbox + from, (size_t)(len - from));
	*n = (size_t)(p + k + len - from);
	return e;
}

static void
recover(void)
{
	struct md_config mc = { mpath, 1, 300, (gid_t)-1, 0, NULL };
	struct maildrop *md;
	const char *why;

	if (md_new(&md, &mc, &why) != MD_OK ||
	    md_open_file(md, &why) != MD_OK || md_lock(md, &why) != MD_OK)
		abort();
	(void)md_journal_recover(md, &why);
	md_unlock(md);
	maildrop_close(md);
}

static void
check_mailbox(const char *want, size_t n)
{
	char got[sizeof(mailbox) * 2 + 65536];
	int fd = open(mpath, O_RDONLY);
	ssize_t r;

	if (fd < 0 || (r = read(fd, got, sizeof(got))) < 0 || close(fd) != 0)
		abort();
	if ((size_t)r != n || memcmp(got, want, n) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char j[JHDR_SIZE + 65536];
	char *want;
	size_t jlen, n;

	if (dir[0] == '\0')
		setup();
	if (size > JH_FIXED + 65536)
		return 0;
	(void)unlink(jpath);
	write_file(mpath, mailbox, sizeof(mailbox) - 1);
	jlen = make_journal(data, size, j);
	write_file(jpath, j, jlen);
	recover();
	if (!accepted(j, jlen) || get64(j + J_INO) != mbox_ino)
		want = NULL;	/* refused, or another file's: kept aside */
	else
		want = expected(j, &n);
	if (want == NULL)
		check_mailbox(mailbox, sizeof(mailbox) - 1);
	else
		check_mailbox(want, n);
	free(want);
	return 0;
}
