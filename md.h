/*
 * md.h - what the maildrop's files share, and nothing outside them sees.
 *
 * maildrop.h is the public interface; this header is the private one.
 * struct maildrop is split by the file that owns each part:
 *
 *   maildrop.c  open, close, the index and the queries   (md_index)
 *   mbox.c      the scanner: where messages begin and end
 *   lock.c      fcntl + dotlock, and the spool group      (md_lock)
 *   proof.c     bytes still as indexed, or proven so      (md_proof)
 *   emit.c      RETR and TOP                              (md_bufs)
 *   uidl.c      UIDL digests                              (md_uidl)
 *   journal.c   the crash-safe cut: format, commit, apply, recovery
 *   update.c    UPDATE and --recover
 *   mdio.c      whole-buffer pread/pwrite, directory fsync
 *   persist.c   the persistent index: loaded at login, stored at the end
 *               (md_persist; its format is mdindex.c's)
 *
 * Message i occupies the byte range [msg[i].off, msg_range_end(i)): its
 * From_ line, its body, and the empty line before the next From_ line,
 * which belongs to the separator (as popa3d, UW and Dovecot treat it).
 */
#ifndef MD_H
#define MD_H

#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "maildrop.h"
#include "mdindex.h"
#include "params.h"

/*
 * A 32-bit host needs -D_FILE_OFFSET_BITS=64 (and -D_TIME_BITS=64 from
 * glibc 2.34 on; the Makefile's LFS), or fstat() fails with EOVERFLOW on
 * a mailbox over 2 GiB or one last written after January 2038, and every
 * login on it fails.  A build that lost the flags stops here instead.
 */
_Static_assert(sizeof(off_t) == 8,
    "build with -D_FILE_OFFSET_BITS=64 (see LFS in the Makefile)");
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
_Static_assert(sizeof(time_t) == 8,
    "build with -D_TIME_BITS=64 (see LFS in the Makefile)");
#endif

#define F_DELETED	1u
#define F_HIDDEN	2u	/* a c-client folder-internal pseudo-message */
#define F_CLEN		4u	/* its header had a Content-Length: where it
				   ends may depend on the bytes after it */

struct md_msg {
	uint64_t off;		/* first byte of the From_ line */
	uint64_t end;		/* end of the body (before the blank line) */
	uint64_t size;		/* octets RETR sends, RFC 1939 "exact size" */
	uint64_t sep_len;	/* From_ line length with its LF */
	uint32_t flags;
};

/* The files, all opened through one directory descriptor. */
struct md_files {
	char *path;		/* as configured, for syslog */
	char *lockpath, *jpath;	/* full names, for syslog */
	int dirfd;		/* the mailbox's directory */
	char *name, *lockname, *jname, *jtmpname;	/* in dirfd */
	int fd;			/* -1: no mailbox file (empty maildrop) */
	int readonly;
};

/* The index: every message found, and running totals for STAT. */
struct md_index {
	struct md_msg *msg;
	unsigned nmsg, cap;
	unsigned first;		/* 1 when msg[0] is hidden */
	uint64_t size;		/* bytes indexed: the end of the last message */
	unsigned live, ndel;	/* visible messages not deleted / deleted */
	uint64_t live_octets, del_octets;
	int oom;		/* the index could not grow */
};

struct md_lock {
	int have_fcntl, have_dot;
	time_t touched;		/* CLOCK_MONOTONIC seconds */
	time_t boot;		/* this host's boot, wall clock; 0: unknown,
				   -1: not read yet */
	sigset_t oldmask;
};

struct md_block;
struct md_digest;

/* The persistent index file as this session uses it. */
struct md_persist {
	char *path;		/* as configured, for syslog; NULL: none */
	int dirfd;		/* its directory */
	const char *name;	/* in dirfd: points into path */
	int loaded;		/* login used it: no mailbox byte was read */
	int dirty;		/* this session knows more than the file */
	int ready;		/* a session's open succeeded: may store */
	int stale;		/* a proof failed: the file must go */
	size_t doubt;		/* grown: blocks taken over unread */
	uint64_t tail;		/* grown: bytes scanned from the resume */
	struct timespec tick;	/* CLOCK_REALTIME_COARSE after the snapshot,
				   under the lock */
	const char *verdict;	/* for --check-user */
	const char *why;	/* why it is not trusted */
	/* an index whose header answered at login: the rest is read from
	   the same file when first needed */
	struct mdindex head;
	struct mdindex_reader rd;
	int lazy;		/* its records and tags are still to be read */
	unsigned unread;	/* grown: the records [0, unread) are, the
				   tags were read at login */
	uint64_t unread_octets;	/* what STAT counts of those */
	int lazy_digs;		/* its UIDL digests are still to be read */
	int failed;		/* they could not be, nor the mailbox scanned */
};

struct md_proof {
	struct stat snap;	/* the file as indexed */
	struct stat vsnap;	/* the file when the ok flags were set */
	EVP_MAC *mac;		/* Poly1305 */
	unsigned char key[32];	/* random, this process only */
	struct md_block *blk;
	size_t nblk;
	uint64_t blk_size;
	uint64_t fed;		/* bytes tagged so far while indexing */
	size_t ndoubt;		/* blocks whose tags came from an index of
				   the file before it grew, not read back */
	EVP_MAC_CTX *ctx;	/* the MAC of the block being fed */
};

struct md_bufs {
	char *scan;		/* SCAN_BUF + HEAD_MIN: index, copies */
	char *in;		/* SEND_CHUNK: a block read back to prove it */
	char *win;		/* SEND_CHUNK: RETR and TOP read the file here */
	uint64_t ok_from, ok_to;	/* win[0] is at ok_from; it holds
				   [ok_from, ok_to), proven */
};

struct maildrop {
	struct md_config cfg;
	struct md_files f;
	struct md_index ix;
	struct md_lock lk;
	struct md_proof pf;
	struct md_bufs b;
	struct md_digest *dig;	/* NULL until UIDL is first asked */
	struct md_persist px;
};

/* maildrop.c */
uint64_t md_range_end(const struct maildrop *, unsigned);
enum md_status md_index_file(struct maildrop *, const char **);
enum md_status md_new(struct maildrop **, const struct md_config *,
    const char **);
enum md_status md_open_file(struct maildrop *, const char **);
void md_recount(struct maildrop *);
enum md_status md_index_again(struct maildrop *, const char **);

/* mbox.c: calls back for each message; -1 from fn stops the scan */
struct scan_msg {
	uint64_t off, end, size, sep_len;
	int hidden;
	int clen;		/* a Content-Length was weighed */
};
typedef int scan_fn(struct maildrop *, const struct scan_msg *);
enum md_status md_scan(struct maildrop *, uint64_t, uint64_t, scan_fn *,
    uint64_t *, const char **);
int md_is_from_line(const char *, size_t);

/* lock.c */
enum md_status md_lock(struct maildrop *, const char **);
void md_unlock(struct maildrop *);
void md_lock_refresh(struct maildrop *);
int md_lock_held_by_other(struct maildrop *, long *, long *);
int md_spool_unlink(struct maildrop *, const char *);
int md_spool_create(struct maildrop *, const char *);
int md_spool_rename(struct maildrop *, const char *, const char *);
int md_spool_writable(struct maildrop *);
enum md_status md_lock_try(struct maildrop *);
int md_spool_store_index(struct maildrop *, struct mdindex *,
    const struct mdindex_source *, const char **);
int md_spool_unlink_index(struct maildrop *);
void md_spool_forget(struct maildrop *);

/* proof.c */
enum md_status md_proof_begin(struct maildrop *, const char **);
int md_proof_feed(struct maildrop *, const char *, size_t, uint64_t);
enum md_status md_proof_end(struct maildrop *, const char **);
void md_proof_settle(struct maildrop *);
int md_prove(struct maildrop *, uint64_t, uint64_t);
enum md_status md_prove_grown(struct maildrop *, uint64_t, uint64_t *,
    const char **);
void md_proof_free(struct maildrop *);
int md_proof_retag(struct maildrop *, uint64_t);
void md_proof_doubt(struct maildrop *, size_t);
size_t md_proof_doubted(const struct maildrop *);
int md_proof_resume(struct maildrop *, uint64_t, uint64_t, size_t *);
void md_proof_restart(struct maildrop *);
unsigned char *md_proof_tag(struct maildrop *, size_t);
void md_proof_settle_on(const struct stat *);
int md_proof_unchanged(struct maildrop *);

/* uidl.c: the digests as the persistent index keeps them */
int md_digests_alloc(struct maildrop *);
void md_digest_set(struct maildrop *, unsigned, const unsigned char *,
    uint32_t);
int md_digest_get(const struct maildrop *, unsigned, unsigned char *,
    uint32_t *);
int md_digests_renumber(struct maildrop *);

/* persist.c */
enum md_status md_persist_new(struct maildrop *, const char **);
enum md_load { MD_LOAD_SCAN, MD_LOAD_UNCHANGED, MD_LOAD_GREW };
enum md_load md_persist_load(struct maildrop *, uint64_t *);
void md_persist_grown(struct maildrop *);
enum md_status md_persist_entries(struct maildrop *, const char **);
int md_persist_digests(struct maildrop *);
int md_persist_doubtful(const struct maildrop *);
unsigned md_persist_unread(const struct maildrop *, uint64_t *);
void md_persist_tick(struct maildrop *);
void md_persist_updated(struct maildrop *, unsigned, uint64_t);
void md_persist_store(struct maildrop *);
void md_persist_free(struct maildrop *);
void md_persist_describe(const struct maildrop *, FILE *);

/* journal.c: gather() copies the kept bytes into the journal at jfd */
typedef int md_gather_fn(struct maildrop *md, int jfd, void *arg,
    const char **err_file);
enum md_status md_journal_recover(struct maildrop *, const char **);
enum md_status md_journal_cut(struct maildrop *, uint64_t, uint64_t,
    uint64_t, md_gather_fn *, void *, const char **);
int md_journal_exists(struct maildrop *);

/* update.c */
int md_copy_range(struct maildrop *, int, uint64_t, uint64_t, int,
    uint64_t, const char **);
void md_io_error(const char *, const char *, const char **);

/* mdio.c */
ssize_t md_pread(int, void *, size_t, uint64_t);
int md_pwrite(int, const void *, size_t, uint64_t);
int md_fsync_dir(struct maildrop *);
char *md_concat(const char *, const char *);
void md_fatal(const char *, ...) __attribute__((format(printf, 1, 2),
    noreturn));

#endif
