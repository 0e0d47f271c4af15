/*
 * maildrop.h - the interface to a user's Unix mbox maildrop.
 *
 * The maildrop's files (md.h lists them) are the only code that opens,
 * locks, reads or changes the mailbox.  A session opens the maildrop once
 * at login (the file is locked only while it is indexed), reads messages
 * while unlocked, and at QUIT asks for the update, which locks the file
 * again, removes the messages marked deleted and keeps everything else
 * byte for byte.
 */
#ifndef MAILDROP_H
#define MAILDROP_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

/* How an operation ended; the session maps these to RFC 2449/3206 codes. */
enum md_status {
	MD_OK = 0,
	MD_TEMP,	/* try again later: I/O error, lock, another writer */
	MD_PERM,	/* will not work on retry: not an mbox, no permission */
	MD_INUSE,	/* another process holds the mailbox lock (at
			   login [IN-USE]; at QUIT the session says
			   [SYS/TEMP], README "Locking") */
	MD_CLIENT	/* the client write callback failed: session over */
};

/* Longest UIDL string we produce: 32 hex digits, "-", a count. */
#define MD_UIDL_MAX 48
/* a listing line: a message number, a space, a unique-id (whose NUL the
   CR replaces), CR LF */
#define MD_UIDL_LINE_MAX (sizeof("4294967295 ") + MD_UIDL_MAX + 2)

struct md_config {
	const char *path;	/* the mbox file */
	int lock_wait;		/* seconds to wait for a lock; then MD_INUSE */
	int stale_secs;		/* a dotlock older than this is broken */
	gid_t spool_gid;	/* group raised around dotlock and journal
				   creation in the spool; (gid_t)-1: none */
	int inspect;		/* --check-user: open and index only; no
				   lock taken, no recovery, nothing written */
	const char *index_path;	/* the persistent index file (README
				   "Persistent index"); NULL: --no-index */
};

struct maildrop;

/*
 * Where RETR and TOP put their bytes: the message is converted straight
 * into the client's output buffer, not copied there afterwards.  room()
 * returns the free space at the end of the output, at least min bytes
 * (min <= OUT_ROOM_MIN; it sends what is buffered first if need be), and
 * its length in *len, or NULL when the client is gone.  put() says that
 * the first n bytes of that space now hold output.
 */
struct md_out {
	char *(*room)(void *ctx, size_t min, size_t *len);
	void (*put)(void *ctx, size_t n);
	void *ctx;
};

enum md_status maildrop_open(struct maildrop **mdp,
    const struct md_config *cfg, const char **why);
void maildrop_close(struct maildrop *md);

/*
 * Messages are numbered from 1, as in RFC 1939.  A login on an unchanged
 * mailbox reads only its persistent index's header, which has the counts
 * and octets; maildrop_entries() reads the messages' records before the
 * first maildrop_size() or maildrop_delete() (maildrop_check(),
 * maildrop_uidl() and maildrop_update() do it themselves).
 */
enum md_status maildrop_entries(struct maildrop *md, const char **why);
unsigned maildrop_count(const struct maildrop *md);
int maildrop_valid(const struct maildrop *md, unsigned n);	/* 1, 0 */
int maildrop_deleted(const struct maildrop *md, unsigned n);
uint64_t maildrop_size(const struct maildrop *md, unsigned n);
void maildrop_stat(const struct maildrop *md, unsigned *count,
    uint64_t *octets);
void maildrop_delete(struct maildrop *md, unsigned n);
void maildrop_undelete_all(struct maildrop *md);
void maildrop_delete_stats(const struct maildrop *md, unsigned *count,
    uint64_t *octets);

enum md_status maildrop_uidl(struct maildrop *md, unsigned n,
    char uidl[MD_UIDL_MAX + 1], const char **why);
/* Once maildrop_uidl() has said MD_OK, the listing without the checks:
   as many lines "n unique-id" CRLF (RFC 1939 section 7) as fit in room
   bytes at buf, from message *n on, deleted ones left out; *n is moved
   past them.  Their length; 0 once *n is past the last message. */
size_t maildrop_uidl_lines(const struct maildrop *md, unsigned *n,
    char *buf, size_t room);

/*
 * maildrop_check() says whether message n can still be sent as indexed;
 * call it before the "+OK" of RETR or TOP, with the lines that will be
 * sent (it may read the message, and the ones after it, ahead: emit.c).
 * maildrop_send() then streams
 * the message (lines < 0: whole; else the header and that many body
 * lines) with CRLF line ends and byte-stuffing, without the final ".".
 * Any status but MD_OK from maildrop_send() means the response is
 * incomplete and the session must end without sending the ".".
 */
enum md_status maildrop_check(struct maildrop *md, unsigned n, long lines,
    const char **why);
enum md_status maildrop_send(struct maildrop *md, unsigned n, long lines,
    const struct md_out *out, const char **why);

/* The UPDATE state: remove the messages marked deleted. */
enum md_status maildrop_update(struct maildrop *md, const char **why);

/* Finish an UPDATE interrupted by a crash, for pop3d --recover. */
enum md_status maildrop_recover(const struct md_config *cfg,
    const char **why);

/* For pop3d --check-user, run as the user on a maildrop opened with
   cfg.inspect: describe it and its locks.  0 if a session could use it. */
int maildrop_describe(struct maildrop *md, FILE *out);

/* The group a user needs raised to create PATH.lock next to the mailbox
   (only a root-owned spool as Debian's /var/mail earns it), or (gid_t)-1
   when the user can do it without help or nobody should. */
gid_t maildrop_spool_group(const char *path, uid_t uid, gid_t gid,
    const gid_t *groups, int ngroups);

#endif
