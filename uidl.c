/*
 * uidl.c - UIDL (RFC 1939 section 7): each message's digest of its From_
 * line and body, computed the first time a client asks, so STAT-only
 * sessions never pay, and the listing's lines.  Byte-identical copies are
 * told apart by their order (README "Maildrop").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <openssl/evp.h>

#include "md.h"

struct md_digest {
	unsigned char d[UIDL_DIGEST_LEN];	/* SHA-256, truncated */
	uint32_t dup;		/* 1 for the first of identical copies, ... */
};

static int
digest_cmp(const void *a, const void *b, void *arg)
{
	const struct md_digest *dig = arg;
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	int c = memcmp(dig[x].d, dig[y].d, sizeof(dig[x].d));

	return c != 0 ? c : (x > y) - (x < y);
}

/* Byte-identical copies are told apart by their order: -2, -3, ... */
int
md_digests_renumber(struct maildrop *md)
{
	unsigned *order, i;

	if ((order = malloc((md->ix.nmsg + 1) * sizeof(*order))) == NULL)
		return -1;
	for (i = 0; i < md->ix.nmsg; i++)
		order[i] = i;
	qsort_r(order, md->ix.nmsg, sizeof(*order), digest_cmp, md->dig);
	for (i = 0; i < md->ix.nmsg; i++) {
		struct md_digest *d = &md->dig[order[i]];
		d->dup = 1;
		if (i > 0 && memcmp(d->d, md->dig[order[i - 1]].d,
		    sizeof(d->d)) == 0)
			d->dup = md->dig[order[i - 1]].dup + 1;
	}
	free(order);
	return 0;
}

/* Feed [a, b) of the buffer holding [off, ...) to message i's digest. */
static int
hash_part(EVP_MD_CTX *h, const char *buf, uint64_t off, uint64_t a,
    uint64_t b)
{
	return b <= a || EVP_DigestUpdate(h, buf + (a - off),
	    (size_t)(b - a)) == 1 ? 0 : -1;
}

/*
 * A message's digest is SHA-256 over its From_ line and body, which lie
 * contiguous in [off, end): big sequential reads, each message's part fed
 * to its own digest, no second look at lines.  The caller proves the bytes
 * are the indexed ones, before and after.
 */
static enum md_status
hash_messages(struct maildrop *md, EVP_MD_CTX *h, const char **why)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	uint64_t off = md->ix.msg[0].off, stop = md->ix.size;
	unsigned i = 0;
	int open = 0;

	*why = "cannot compute UIDLs";
	while (i < md->ix.nmsg) {
		size_t n = stop - off > SCAN_BUF ? SCAN_BUF :
		    (size_t)(stop - off);
		uint64_t cend = off + n;

		if (n == 0 || md_pread(md->f.fd, md->b.scan, n, off) !=
		    (ssize_t)n) {
			syslog(LOG_ERR, "read %s for UIDL: %s", md->f.path,
			    n == 0 ? "short file" : strerror(errno));
			*why = "cannot read the mailbox";
			return MD_TEMP;
		}
		for (; i < md->ix.nmsg; i++) {
			const struct md_msg *m = &md->ix.msg[i];

			if (!open && EVP_DigestInit_ex(h, EVP_sha256(), NULL) !=
			    1)
				return MD_TEMP;
			open = 1;
			if (hash_part(h, md->b.scan, off, m->off > off ? m->off :
			    off, m->end < cend ? m->end : cend) != 0)
				return MD_TEMP;
			if (m->end > cend)
				break;	/* goes on in the next read */
			if (EVP_DigestFinal_ex(h, d, NULL) != 1)
				return MD_TEMP;
			memcpy(md->dig[i].d, d, sizeof(md->dig[i].d));
			open = 0;
		}
		off = cend;
	}
	return MD_OK;
}

static enum md_status
digest_all(struct maildrop *md, const char **why)
{
	EVP_MD_CTX *h;
	enum md_status st;

	*why = "out of memory";
	if ((md->dig = calloc(md->ix.nmsg + 1, sizeof(*md->dig))) == NULL ||
	    (md->b.scan == NULL &&
	    (md->b.scan = malloc(SCAN_BUF + HEAD_MIN)) == NULL))
		return MD_TEMP;
	if ((h = EVP_MD_CTX_new()) == NULL)
		return MD_TEMP;
	st = hash_messages(md, h, why);
	EVP_MD_CTX_free(h);
	if (st == MD_OK && md_digests_renumber(md) != 0) {
		*why = "out of memory";
		st = MD_TEMP;
	}
	return st;
}

static enum md_status
compute_digests(struct maildrop *md, const char **why)
{
	static const char changed[] =
	    "mailbox was changed by another program; please reconnect";
	enum md_status st = MD_TEMP;

	if (!md_prove(md, 0, md->ix.size))
		*why = changed;
	else if ((st = digest_all(md, why)) == MD_OK &&
	    !md_prove(md, 0, md->ix.size)) {
		*why = changed;
		st = MD_TEMP;
	}
	free(md->b.scan);	/* RETR does not need it; keep RSS small */
	md->b.scan = NULL;
	if (st == MD_OK)
		md->px.dirty = 1;	/* worth keeping for later sessions */
	if (st != MD_OK) {
		syslog(LOG_NOTICE, "%s: no UIDLs: %s", md->f.path, *why);
		free(md->dig);
		md->dig = NULL;
	}
	return st;
}

/* The unique-id of digest d in uidl; its length. */
static size_t
uid_text(const struct md_digest *d, char uidl[MD_UIDL_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t len = 0, room;
	int n;

	for (size_t i = 0; i < sizeof(d->d); i++) {
		uidl[len++] = hex[d->d[i] >> 4];
		uidl[len++] = hex[d->d[i] & 15];
	}
	uidl[len] = '\0';
	if (d->dup <= 1)
		return len;
	/* MAX_MSGS copies fit; what snprintf cut is not counted */
	room = MD_UIDL_MAX + 1 - len;
	n = snprintf(uidl + len, room, "-%u", (unsigned)d->dup);
	return n < 0 ? len : (size_t)n < room ? len + (size_t)n :
	    MD_UIDL_MAX;
}

enum md_status
maildrop_uidl(struct maildrop *md, unsigned n, char uidl[MD_UIDL_MAX + 1],
    const char **why)
{
	enum md_status st;

	/* the index's digests, else the mailbox's bytes read (its records
	   needed for that); an index whose blocks are doubtful also needs
	   its records to prove them */
	if (md->dig == NULL && md_persist_digests(md) != 0 &&
	    (st = md_persist_entries(md, why)) != MD_OK)
		return st;
	if (md_persist_doubtful(md) &&
	    (st = md_persist_entries(md, why)) != MD_OK)
		return st;
	/* none in the index, or records that failed their checksum: the
	   scan that replaced them dropped the index's digests too */
	if (md->dig == NULL && (st = compute_digests(md, why)) != MD_OK)
		return st;
	/* digests of bytes taken over unread from an index: proven first */
	if (md->pf.ndoubt > 0 && !md_prove(md, 0, md->ix.size)) {
		*why = "mailbox was changed by another program; please "
		    "reconnect";
		syslog(LOG_NOTICE, "%s: no UIDLs: %s", md->f.path, *why);
		return MD_TEMP;
	}
	(void)uid_text(&md->dig[md->ix.first + n - 1], uidl);
	return MD_OK;
}

/*
 * Listing line "n unique-id" CRLF at p, which has room for
 * MD_UIDL_LINE_MAX; its length.  Formatted by hand, not by printf, and
 * the unique-id in place (its NUL where the CR goes): a big maildrop's
 * listing is one such line a message.
 */
static size_t
listing_line(const struct maildrop *md, unsigned n, char *p)
{
	char digits[sizeof("4294967295")];
	size_t nd = 0, len = 0;
	unsigned m = n;

	do {
		digits[nd++] = (char)('0' + m % 10);
		m /= 10;
	} while (m > 0);
	while (nd > 0)
		p[len++] = digits[--nd];
	p[len++] = ' ';
	len += uid_text(&md->dig[md->ix.first + n - 1], p + len);
	p[len++] = '\r';
	p[len++] = '\n';
	return len;
}

size_t
maildrop_uidl_lines(const struct maildrop *md, unsigned *n, char *buf,
    size_t room)
{
	unsigned count = maildrop_count(md);
	size_t len = 0;

	for (; *n <= count && room - len >= MD_UIDL_LINE_MAX; (*n)++)
		if (!maildrop_deleted(md, *n))
			len += listing_line(md, *n, buf + len);
	return len;
}


/* The digests a persistent index stored (persist.c). */
int
md_digests_alloc(struct maildrop *md)
{
	free(md->dig);
	md->dig = calloc(md->ix.nmsg + 1, sizeof(*md->dig));
	return md->dig == NULL ? -1 : 0;
}

void
md_digest_set(struct maildrop *md, unsigned i, const unsigned char *d,
    uint32_t dup)
{
	memcpy(md->dig[i].d, d, sizeof(md->dig[i].d));
	md->dig[i].dup = dup;
}

/* 1 and message i's digest when one is known, else 0. */
int
md_digest_get(const struct maildrop *md, unsigned i, unsigned char *d,
    uint32_t *dup)
{
	if (md->dig == NULL)
		return 0;
	memcpy(d, md->dig[i].d, sizeof(md->dig[i].d));
	*dup = md->dig[i].dup;
	return 1;
}
