/*
 * mdindex.h - the persistent index file of a mailbox: its format, the rule
 * that says when it may be trusted, and the safe reading and writing of it.
 *
 * mdindex.c (the format, the trust rule) and mdindex_file.c (the side
 * file) know nothing about mbox parsing, locks or sessions.  The maildrop
 * fills a struct mdindex with its snapshot and hands its entries over one
 * at a time (mdindex_store); at login it loads the file, which is judged
 * against a fresh fstat of the open mailbox (mdindex_load), and copies
 * the entries back with mdindex_msg_at.  Every function returns 0 or a
 * status and sets *why to a short reason for syslog on refusal; none
 * exits or logs.
 */
#ifndef MDINDEX_H
#define MDINDEX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "params.h"

#define MDINDEX_VERSION	1
#define MDINDEX_DIGEST_LEN 16	/* UIDL digest: SHA-256, truncated */
#define MDINDEX_TAG_LEN	16	/* Poly1305 tag of one block */
#define MDINDEX_KEY_LEN	32	/* Poly1305 key the tags were made with */

/* Bytes on disk: a fixed header, one record per message, one tag per
   block, the checksum.  The largest file is what MAX_MSGS and
   TAG_MAX_BLOCKS allow; nothing larger is ever read. */
#define MDINDEX_HEAD_LEN 136
#define MDINDEX_MSG_LEN	56
#define MDINDEX_SUM_LEN	16
#define MDINDEX_MAX_BYTES ((uint64_t)MDINDEX_HEAD_LEN + \
	(uint64_t)MDINDEX_MSG_LEN * MAX_MSGS + \
	(uint64_t)MDINDEX_TAG_LEN * TAG_MAX_BLOCKS + MDINDEX_SUM_LEN)

/* mdindex_msg.flags */
#define MDINDEX_HIDDEN	1u	/* the c-client pseudo-message, not served */
#define MDINDEX_DIGEST	2u	/* digest and dup hold the UIDL digest */
#define MDINDEX_FLAGS	(MDINDEX_HIDDEN | MDINDEX_DIGEST)

struct mdindex_msg {
	uint64_t off;		/* first byte of the From_ line */
	uint64_t end;		/* end of the body (before the blank line) */
	uint64_t size;		/* octets RETR sends */
	uint64_t sep_len;	/* From_ line length with its LF */
	uint32_t flags;		/* MDINDEX_HIDDEN, MDINDEX_DIGEST */
	uint32_t dup;		/* 1 for the first of identical copies, ... */
	unsigned char digest[MDINDEX_DIGEST_LEN];
};

/*
 * An indexed mailbox as the file describes it: the header, decoded.  The
 * per-message records and the block tags stay in the file's bytes and are
 * read one at a time (mdindex_msg_at, mdindex_tag_at), and the encoder
 * asks for them one at a time, so the index costs the maildrop no second
 * copy of its entries.
 */
struct mdindex {
	/* the mailbox as fstat saw it when it was indexed */
	uint64_t dev, ino, size;
	uint32_t uid;
	struct timespec mtime, ctime;
	/* CLOCK_REALTIME_COARSE, read after that fstat, under the lock */
	struct timespec tick;
	uint64_t end;		/* bytes indexed: end of the last message */
	uint32_t nmsg;
	uint64_t blk_size;	/* the last block may be shorter */
	uint32_t nblk;		/* = ceil(end / blk_size) */
	unsigned char key[MDINDEX_KEY_LEN];
	/* set by decoding: the validated bytes, owned or not */
	const unsigned char *bytes;
	size_t len;
	unsigned char *owned;	/* wiped and freed by mdindex_free */
};

/* Where the encoder gets entry i and the tag of block b from. */
struct mdindex_source {
	void (*msg)(void *arg, uint32_t i, struct mdindex_msg *m);
	const unsigned char *(*tag)(void *arg, uint32_t b);
	void *arg;
};

/* Encoded length of ix, or 0 when its counts are out of bounds. */
uint64_t mdindex_encoded_len(const struct mdindex *ix);

/* Encodes ix and src into out, of mdindex_encoded_len(ix) bytes.  -1 if
   they are not something mdindex_decode() would accept. */
int mdindex_encode(const struct mdindex *ix, const struct mdindex_source *src,
    unsigned char *out, size_t len, const char **why);

/* Decodes and validates len bytes, which must outlive ix (the records are
   read from them).  On failure ix holds nothing to free. */
int mdindex_decode(const unsigned char *buf, size_t len, struct mdindex *ix,
    const char **why);
void mdindex_free(struct mdindex *ix);

/* Entry i < ix->nmsg and the tag of block b < ix->nblk of a decoded ix. */
void mdindex_msg_at(const struct mdindex *ix, uint32_t i,
    struct mdindex_msg *m);
const unsigned char *mdindex_tag_at(const struct mdindex *ix, uint32_t b);

/* What a decoded index is worth for the mailbox open now. */
enum mdindex_trust {
	MDINDEX_UNTRUSTED = 0,	/* ignore it: full scan, log *why once */
	MDINDEX_UNCHANGED,	/* the same file, untouched: read no byte */
	MDINDEX_GREW		/* prove the last block and a From_ line at
				   ix->end, then scan only [ix->end, size) */
};
/*
 * GREW proves where the old end is, not the bytes before it: a rewrite
 * plus an append also looks like this.  So the session keeps the index's
 * snapshot as "the file as indexed", and the in-session proof checks
 * every byte it then reads (RETR, UIDL, UPDATE) against the stored tags.
 */

/* mbox: fstat of the open mailbox; file: fstat of the open index file. */
enum mdindex_trust mdindex_trust(const struct mdindex *ix,
    const struct stat *mbox, const struct stat *file, const char **why);

/* The side-file rule: a regular file, one link, owned by owner, no group
   or other permission bits.  1 if st passes, else 0 and *why. */
int mdindex_file_ok(const struct stat *st, uid_t owner, const char **why);

/* --index=TEMPLATE: %u user, %h home, %m mailbox path, %% percent. */
int mdindex_template_valid(const char *tmpl);
int mdindex_path(const char *tmpl, const char *user, const char *home,
    const char *mbox, char *out, size_t size);

/* The directory of path, opened for openat(); *name points into path at
   the last component.  -1 with errno on failure. */
int mdindex_dir_open(const char *path, const char **name);

enum mdindex_io {
	MDINDEX_IO_OK = 0,
	MDINDEX_IO_ABSENT,	/* no index file: not worth a log line */
	MDINDEX_IO_REFUSED,	/* unsafe, unreadable or too big: *why */
	MDINDEX_IO_BUSY		/* write: another writer's temp is fresh */
};

/* Reads dirfd/name whole if mdindex_file_ok() passes, without following a
   symlink or blocking on a FIFO.  *buf is malloc'ed; *st is its fstat. */
enum mdindex_io mdindex_read(int dirfd, const char *name, uid_t owner,
    unsigned char **buf, size_t *len, struct stat *st, const char **why);

/* Writes dirfd/name by NAME.tmp (O_EXCL, 0600) and rename; never fsynced,
   as it is a cache.  Run as root, it gives the file to uid/gid.  The
   caller raises the spool group around it when the directory needs it. */
enum mdindex_io mdindex_write(int dirfd, const char *name,
    const unsigned char *buf, size_t len, uid_t uid, gid_t gid,
    const char **why);

/*
 * The two calls a maildrop makes.  mdindex_load reads dirfd/name, decodes
 * it and judges it against mbox (fstat of the open mailbox): on
 * UNCHANGED or GREW *ix is filled and owns the file's bytes (free with
 * mdindex_free); on UNTRUSTED *why says why, or is NULL when there is no
 * index file at all (nothing to log).  mdindex_store encodes ix and src
 * and writes them; MDINDEX_IO_BUSY means another writer is at it, which
 * is not an error.
 */
enum mdindex_trust mdindex_load(int dirfd, const char *name,
    const struct stat *mbox, struct mdindex *ix, const char **why);
enum mdindex_io mdindex_store(int dirfd, const char *name,
    const struct mdindex *ix, const struct mdindex_source *src, gid_t gid,
    const char **why);

#endif
