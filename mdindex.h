/*
 * mdindex.h - the persistent index file of a mailbox: its format, the rule
 * that says when it may be trusted, and the safe reading and writing of it.
 *
 * mdindex.c (the format, the trust rule) and mdindex_file.c (the side
 * file) know nothing about mbox parsing, locks or sessions.  The maildrop
 * fills a struct mdindex with its snapshot and hands its entries over one
 * at a time (mdindex_store); at login it loads the file's header, which
 * is judged against a fresh fstat of the open mailbox (mdindex_load),
 * and is handed a part's entries back one at a time when it first needs
 * them (mdindex_load_part).  Every function returns 0 or a
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

#define MDINDEX_VERSION	4
#define MDINDEX_DIGEST_LEN 16	/* UIDL digest: SHA-256, truncated */
#define MDINDEX_TAG_LEN	16	/* Poly1305 tag of one block */
#define MDINDEX_KEY_LEN	32	/* Poly1305 key the tags were made with */

/* Bytes on disk: a fixed header, then three parts, each with its own
   checksum, so that a login reads the header alone and each part is
   read when first needed: the message records (a checksum a run of
   them), the UIDL digests (all or none), the block tags (theirs in the
   header).  The largest file is what MAX_MSGS and TAG_MAX_BLOCKS allow;
   nothing larger is ever read. */
#define MDINDEX_HEAD_LEN 216
#define MDINDEX_REC_LEN	36
#define MDINDEX_DIG_LEN	20
#define MDINDEX_SUM_LEN	16
#define MDINDEX_MSG_LEN	(MDINDEX_REC_LEN + MDINDEX_DIG_LEN)
/* The records go in runs of this many, each followed by its own
   checksum, so that a login on a grown mailbox reads and checks only
   the runs from the resuming message on. */
#define MDINDEX_RUN_RECS 4096u
#define MDINDEX_RUNS(n)	(((uint64_t)(n) + MDINDEX_RUN_RECS - 1) / \
	MDINDEX_RUN_RECS)
#define MDINDEX_MAX_BYTES ((uint64_t)MDINDEX_HEAD_LEN + \
	(uint64_t)MDINDEX_MSG_LEN * MAX_MSGS + \
	(uint64_t)MDINDEX_SUM_LEN * MDINDEX_RUNS(MAX_MSGS) + \
	(uint64_t)MDINDEX_TAG_LEN * TAG_MAX_BLOCKS)

/* mdindex_msg.flags */
#define MDINDEX_HIDDEN	1u	/* the c-client pseudo-message, not served */
#define MDINDEX_DIGEST	2u	/* digest and dup hold the UIDL digest */
#define MDINDEX_CLEN	4u	/* its header had a Content-Length, so where
				   it ends may depend on bytes after it */
#define MDINDEX_REC_FLAGS (MDINDEX_HIDDEN | MDINDEX_CLEN)

/* mdindex.flags */
#define MDINDEX_FIRST_HIDDEN 1u	/* message 0 is MDINDEX_HIDDEN */
#define MDINDEX_DIGESTS	2u	/* the digests part is there */
#define MDINDEX_HEAD_FLAGS (MDINDEX_FIRST_HIDDEN | MDINDEX_DIGESTS)

/* The parts, in file order. */
enum mdindex_part { MDINDEX_RECORDS, MDINDEX_DIGS, MDINDEX_TAGS,
	MDINDEX_PARTS };

struct mdindex_msg {
	uint64_t off;		/* first byte of the From_ line */
	uint64_t end;		/* end of the body (before the blank line) */
	uint64_t size;		/* octets RETR sends */
	uint64_t sep_len;	/* From_ line length with its LF */
	uint32_t flags;		/* MDINDEX_HIDDEN, MDINDEX_DIGEST, ... */
	uint32_t dup;		/* 1 for the first of identical copies, ... */
	unsigned char digest[MDINDEX_DIGEST_LEN];
};

/*
 * An indexed mailbox as the file describes it: the header, decoded.  The
 * per-message records, digests and block tags are handed over one at a
 * time, both ways (mdindex_source, mdindex_sink), so the index costs the
 * maildrop no second copy of its entries.
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
	uint32_t doubt;		/* blocks [0, doubt) were carried over from an
				   index of a smaller file, unread since */
	uint32_t flags;		/* MDINDEX_FIRST_HIDDEN, MDINDEX_DIGESTS */
	uint32_t resume;	/* where the scan of a grown file starts: the
				   first message but the last whose header
				   had a Content-Length, else the last (0
				   without messages); checked with the
				   records */
	uint64_t octets;	/* the RETR sizes of the served messages:
				   what STAT says, checked with the records */
	unsigned char key[MDINDEX_KEY_LEN];
	unsigned char sum[MDINDEX_PARTS][MDINDEX_SUM_LEN];
	/* set by mdindex_decode only: the validated bytes, not owned */
	const unsigned char *bytes;
	size_t len;
};

/* Where the encoder gets entry i and the tag of block b from.  With
   MDINDEX_DIGESTS in the header every entry must have MDINDEX_DIGEST;
   without it, digests are not written. */
struct mdindex_source {
	void (*msg)(void *arg, uint32_t i, struct mdindex_msg *m);
	const unsigned char *(*tag)(void *arg, uint32_t b);
	void *arg;
};

/*
 * Where the decoder of a part puts its entries: msg gets the records
 * (digest and dup zero), digest the digests, tag the tags.  Everything
 * handed over is unproven until the decoder returns 0: the part's
 * checksum is checked last.
 */
struct mdindex_sink {
	void (*msg)(void *arg, uint32_t i, const struct mdindex_msg *m);
	void (*digest)(void *arg, uint32_t i, const unsigned char *d,
	    uint32_t dup);
	void (*tag)(void *arg, uint32_t b, const unsigned char *tag);
	void *arg;
};

/* The bytes' way in and out, at an offset in the file: exactly n bytes,
   or -1 with *why. */
typedef int mdindex_in(void *arg, uint64_t off, unsigned char *p, size_t n,
    const char **why);
typedef int mdindex_out(void *arg, uint64_t off, const unsigned char *p,
    size_t n, const char **why);

/* Encoded length of ix, or 0 when its counts are out of bounds. */
uint64_t mdindex_encoded_len(const struct mdindex *ix);

/* Encodes ix and src through out: the parts, INDEX_IO_RECS entries at a
   time, then the header with their checksums (ix->sum is filled in).
   -1 if they are not something the decoder would accept, or out
   fails. */
int mdindex_encode_to(struct mdindex *ix, const struct mdindex_source *src,
    mdindex_out *out, void *arg, const char **why);

/* The header alone, MDINDEX_HEAD_LEN bytes of a file len bytes long:
   its checksum, version, and counts that fit len.  On failure ix holds
   nothing. */
int mdindex_decode_head(const unsigned char *h, uint64_t len,
    struct mdindex *ix, const char **why);

/* Reads, validates and checksums one part of the file whose header is
   ix, handing its entries to sink (NULL: only validate). */
int mdindex_decode_part(const struct mdindex *ix, enum mdindex_part part,
    mdindex_in *in, void *in_arg, const struct mdindex_sink *sink,
    const char **why);

/* The same for the records [from, to) alone, to <= ix->nmsg: the runs
   that hold them are read and checked, only those records handed over.
   The checks that need every record (the STAT octets) are left out. */
int mdindex_decode_records(const struct mdindex *ix, uint32_t from,
    uint32_t to, mdindex_in *in, void *in_arg,
    const struct mdindex_sink *sink, const char **why);

/* The same in memory, for the unit tests and the fuzzer: encode into
   out, of mdindex_encoded_len(ix) bytes; decode len bytes (the header
   and every part), which must outlive ix (mdindex_msg_at reads its
   records from them). */
int mdindex_encode(struct mdindex *ix, const struct mdindex_source *src,
    unsigned char *out, size_t len, const char **why);
int mdindex_decode(const unsigned char *buf, size_t len, struct mdindex *ix,
    const char **why);
void mdindex_free(struct mdindex *ix);

/* Entry i < ix->nmsg (its digest too, if the file has them) and the tag
   of block b < ix->nblk of what mdindex_decode accepted. */
void mdindex_msg_at(const struct mdindex *ix, uint32_t i,
    struct mdindex_msg *m);
const unsigned char *mdindex_tag_at(const struct mdindex *ix, uint32_t b);

/* What a decoded index is worth for the mailbox open now. */
enum mdindex_trust {
	MDINDEX_UNTRUSTED = 0,	/* ignore it: full scan, log *why once */
	MDINDEX_UNCHANGED,	/* the same file, untouched: read no byte */
	MDINDEX_GREW		/* prove the blocks of the last message(s)
				   up to ix->end, then scan from there */
};
/*
 * GREW says nothing of the bytes before the old end: a rewrite plus an
 * append also looks like this.  So the session proves the blocks it
 * resumes the scan in, and keeps the ones before as doubtful (the
 * header's doubt): the in-session proof checks every byte it then reads
 * from them (RETR, UIDL, UPDATE) against the stored tags, even while the
 * file is as it was at login (persist.c, proof.c).
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

/* Opens dirfd/name for reading if mdindex_file_ok() passes, without
   following a symlink or blocking on a FIFO; *st is its fstat. */
enum mdindex_io mdindex_open(int dirfd, const char *name, uid_t owner,
    int *fd, struct stat *st, const char **why);

/* Writes dirfd/name by NAME.tmp (O_EXCL, 0600) and rename, its bytes
   from fill; never fsynced, as it is a cache.  Run as root, it gives the
   file to uid/gid.  The caller raises the spool group around it when the
   directory needs it. */
typedef int mdindex_fill(void *arg, int fd, const char **why);
enum mdindex_io mdindex_write(int dirfd, const char *name,
    mdindex_fill *fill, void *arg, uid_t uid, gid_t gid, const char **why);

/*
 * The calls a maildrop makes.  mdindex_load reads the header of
 * dirfd/name and judges it against mbox (fstat of the open mailbox): on
 * UNCHANGED and GREW *ix is the header and *r holds the file open, for
 * mdindex_load_part to read its parts from when they are needed, and
 * mdindex_load_records some of its records (the file a later writer
 * renames into place is another one); on UNTRUSTED *why says why, or is
 * NULL when there is no index file at all (nothing to log).  Both fail,
 * too, if the file was changed in place since the header was read.  mdindex_store encodes ix and src
 * straight into the file; MDINDEX_IO_BUSY means another writer is at
 * it, which is not an error.
 */
struct mdindex_reader {
	int fd;			/* -1: closed */
	struct stat st;		/* the file when its header was read */
};
enum mdindex_trust mdindex_load(int dirfd, const char *name,
    const struct stat *mbox, struct mdindex *ix, struct mdindex_reader *r,
    const char **why);
int mdindex_load_part(struct mdindex_reader *r, const struct mdindex *ix,
    enum mdindex_part part, const struct mdindex_sink *sink,
    const char **why);
int mdindex_load_records(struct mdindex_reader *r, const struct mdindex *ix,
    uint32_t from, uint32_t to, const struct mdindex_sink *sink,
    const char **why);
void mdindex_reader_close(struct mdindex_reader *r);
enum mdindex_io mdindex_store(int dirfd, const char *name,
    struct mdindex *ix, const struct mdindex_source *src, gid_t gid,
    const char **why);

#endif
