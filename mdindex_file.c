/*
 * mdindex_file.c - the persistent index as a side file: its name, and
 * reading and writing it without being tricked by the directory.
 *
 * The index lives in a directory others may write (the mail spool), so it
 * gets the journal's rules: opened without following a symlink and
 * without blocking on a FIFO, used only if it is a regular file with one
 * link, owned by the mailbox owner and closed to group and others.  It is
 * written by a temp file and rename, so a reader sees the old file or the
 * new one, and a crash leaves at worst a temp file; it is never fsynced,
 * because losing it costs one full scan and never a wrong answer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mdindex.h"

#define TMP_SUFFIX	".tmp"

int
mdindex_file_ok(const struct stat *st, uid_t owner, const char **why)
{
	if (!S_ISREG(st->st_mode)) {
		*why = "index is not a regular file";
		return 0;
	}
	if (st->st_nlink != 1) {
		*why = "index has more than one link";
		return 0;
	}
	if (st->st_uid != owner) {
		*why = "index is owned by another user";
		return 0;
	}
	if ((st->st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		*why = "index is open to group or others";
		return 0;
	}
	return 1;
}

/* ---------------------------------------------------------------- */
/* The name                                                          */

int
mdindex_template_valid(const char *t)
{
	for (; *t != '\0'; t++) {
		if (*t != '%')
			continue;
		t++;
		if (*t != 'u' && *t != 'h' && *t != 'm' && *t != '%')
			return 0;
	}
	return 1;
}

/* What %c stands for; NULL when the caller has no value for it. */
static const char *
template_piece(char c, const char *user, const char *home, const char *mbox)
{
	switch (c) {
	case 'u':
		return user;
	case 'h':
		return home;
	case 'm':
		return mbox;
	default:
		return "%";
	}
}

int
mdindex_path(const char *tmpl, const char *user, const char *home,
    const char *mbox, char *out, size_t size)
{
	size_t len = 0;

	if (size == 0 || !mdindex_template_valid(tmpl))
		return -1;
	for (const char *t = tmpl; *t != '\0'; t++) {
		const char *piece = t;
		size_t add = 1;

		if (*t == '%') {
			if ((piece = template_piece(*++t, user, home,
			    mbox)) == NULL)
				return -1;
			add = strlen(piece);
		}
		if (add >= size - len)
			return -1;
		memcpy(out + len, piece, add);
		len += add;
	}
	out[len] = '\0';
	return 0;
}

int
mdindex_dir_open(const char *path, const char **name)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t len;

	if (slash == NULL) {
		*name = path;
		return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	len = slash == path ? 1 : (size_t)(slash - path);
	if (len >= sizeof(dir) || slash[1] == '\0') {
		errno = len >= sizeof(dir) ? ENAMETOOLONG : EISDIR;
		return -1;
	}
	memcpy(dir, path, len);
	dir[len] = '\0';
	*name = slash + 1;
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* ---------------------------------------------------------------- */
/* Reading                                                           */

/* All len bytes at off: read into rbuf, or written from wbuf when rbuf
   is NULL.  A short count is an error, as the file is exactly this long. */
static int
io_whole(int fd, unsigned char *rbuf, const unsigned char *wbuf, size_t len,
    uint64_t off)
{
	size_t done = 0;

	if (off > (uint64_t)INT64_MAX - len)
		return -1;
	while (done < len) {
		ssize_t n = rbuf != NULL ?
		    pread(fd, rbuf + done, len - done, (off_t)(off + done)) :
		    pwrite(fd, wbuf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static enum mdindex_io
check_open_file(int fd, uid_t owner, struct stat *st, const char **why)
{
	if (fstat(fd, st) != 0) {
		*why = "cannot fstat the index";
		return MDINDEX_IO_REFUSED;
	}
	if (!mdindex_file_ok(st, owner, why))
		return MDINDEX_IO_REFUSED;
	if (st->st_size < 0 || (uint64_t)st->st_size > MDINDEX_MAX_BYTES) {
		*why = "index larger than any index can be";
		return MDINDEX_IO_REFUSED;
	}
	return MDINDEX_IO_OK;
}

enum mdindex_io
mdindex_open(int dirfd, const char *name, uid_t owner, int *fd,
    struct stat *st, const char **why)
{
	enum mdindex_io r;

	*fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY);
	if (*fd < 0 && errno == ENOENT)
		return MDINDEX_IO_ABSENT;
	if (*fd < 0) {
		*why = errno == ELOOP ? "index is a symbolic link" :
		    "cannot open the index";
		return MDINDEX_IO_REFUSED;
	}
	if ((r = check_open_file(*fd, owner, st, why)) != MDINDEX_IO_OK) {
		(void)close(*fd);	/* read-only, nothing to lose */
		*fd = -1;
	}
	return r;
}

/* ---------------------------------------------------------------- */
/* Writing                                                           */

/* A temp file left by a writer that died is removed; -1 if it is fresh. */
static int
remove_stale_tmp(int dirfd, const char *tmp)
{
	struct stat st;
	struct timespec now;

	if (fstatat(dirfd, tmp, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	if (clock_gettime(CLOCK_REALTIME, &now) != 0)
		return -1;
	if (now.tv_sec - st.st_mtim.tv_sec >= 0 &&
	    now.tv_sec - st.st_mtim.tv_sec < INDEX_TMP_STALE)
		return -1;
	return unlinkat(dirfd, tmp, 0) == 0 || errno == ENOENT ? 0 : -1;
}

static enum mdindex_io
create_tmp(int dirfd, const char *tmp, int *fd, const char **why)
{
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
	    O_NOCTTY;

	*fd = openat(dirfd, tmp, flags, 0600);
	if (*fd < 0 && errno == EEXIST) {
		if (remove_stale_tmp(dirfd, tmp) != 0) {
			*why = "another session is writing the index";
			return MDINDEX_IO_BUSY;
		}
		*fd = openat(dirfd, tmp, flags, 0600);
	}
	if (*fd < 0) {
		*why = errno == EEXIST ? "another session is writing the index" :
		    "cannot create the index temp file";
		return errno == EEXIST ? MDINDEX_IO_BUSY : MDINDEX_IO_REFUSED;
	}
	return MDINDEX_IO_OK;
}

enum mdindex_io
mdindex_write(int dirfd, const char *name, mdindex_fill *fill, void *arg,
    uid_t uid, gid_t gid, const char **why)
{
	char tmp[NAME_MAX + 1];
	enum mdindex_io r;
	int fd, failed;

	if (strlen(name) + sizeof(TMP_SUFFIX) > sizeof(tmp)) {
		*why = "index name too long";
		return MDINDEX_IO_REFUSED;
	}
	memcpy(tmp, name, strlen(name));
	memcpy(tmp + strlen(name), TMP_SUFFIX, sizeof(TMP_SUFFIX));
	if ((r = create_tmp(dirfd, tmp, &fd, why)) != MDINDEX_IO_OK)
		return r;
	/* root (--recover) writes it for the owner, who must read it */
	failed = geteuid() == 0 && fchown(fd, uid, gid) != 0;
	if (failed)
		*why = "cannot give the index to the mailbox owner";
	else
		failed = fill(arg, fd, why) != 0;
	if (close(fd) != 0 && !failed) {
		failed = 1;
		*why = "cannot write the index";
	}
	if (!failed && renameat(dirfd, tmp, dirfd, name) != 0) {
		failed = 1;
		*why = "cannot rename the index into place";
	}
	if (failed) {
		(void)unlinkat(dirfd, tmp, 0);
		return MDINDEX_IO_REFUSED;
	}
	return MDINDEX_IO_OK;
}

/* ---------------------------------------------------------------- */
/* Loading and storing                                               */

/* The index's bytes come from its file and go to the file. */
static int
file_in(void *arg, uint64_t off, unsigned char *p, size_t n, const char **why)
{
	if (io_whole(*(int *)arg, p, NULL, n, off) != 0) {
		*why = "cannot read the index";
		return -1;
	}
	return 0;
}

static int
file_out(void *arg, uint64_t off, const unsigned char *p, size_t n,
    const char **why)
{
	if (io_whole(*(int *)arg, NULL, p, n, off) != 0) {
		*why = "cannot write the index";
		return -1;
	}
	return 0;
}

/* A file rewritten in place since its header was read (its owner at
   work) shows in its fstat, if a checksum did not catch it. */
static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

void
mdindex_reader_close(struct mdindex_reader *r)
{
	if (r->fd >= 0)
		(void)close(r->fd);	/* read-only, nothing to lose */
	r->fd = -1;
}

enum mdindex_trust
mdindex_load(int dirfd, const char *name, const struct stat *mbox,
    struct mdindex *ix, struct mdindex_reader *r, const char **why)
{
	unsigned char h[MDINDEX_HEAD_LEN];
	enum mdindex_trust t = MDINDEX_UNTRUSTED;

	*why = NULL;
	memset(ix, 0, sizeof(*ix));
	r->fd = -1;
	if (mdindex_open(dirfd, name, mbox->st_uid, &r->fd, &r->st, why) !=
	    MDINDEX_IO_OK)
		return MDINDEX_UNTRUSTED;
	if ((uint64_t)r->st.st_size < sizeof(h))
		*why = "not an index file";
	else if (file_in(&r->fd, 0, h, sizeof(h), why) == 0 &&
	    mdindex_decode_head(h, (uint64_t)r->st.st_size, ix, why) == 0)
		t = mdindex_trust(ix, mbox, &r->st, why);
	explicit_bzero(h, sizeof(h));	/* the tags' key */
	if (t == MDINDEX_UNTRUSTED) {
		mdindex_free(ix);
		mdindex_reader_close(r);
	}
	return t;
}

/* r's file before a part is read from it, and after: still the one
   whose header was read. */
static int
reader_open(const struct mdindex_reader *r, const char **why)
{
	if (r->fd < 0) {
		*why = "cannot read the index";
		return -1;
	}
	return 0;
}

static int
reader_unchanged(const struct mdindex_reader *r, const char **why)
{
	struct stat after;

	if (fstat(r->fd, &after) != 0 || !same_file(&r->st, &after)) {
		*why = "index changed while it was read";
		return -1;
	}
	return 0;
}

int
mdindex_load_part(struct mdindex_reader *r, const struct mdindex *ix,
    enum mdindex_part part, const struct mdindex_sink *sink,
    const char **why)
{
	if (reader_open(r, why) != 0 ||
	    mdindex_decode_part(ix, part, file_in, &r->fd, sink, why) != 0)
		return -1;
	return reader_unchanged(r, why);
}

int
mdindex_load_records(struct mdindex_reader *r, const struct mdindex *ix,
    uint32_t from, uint32_t to, const struct mdindex_sink *sink,
    const char **why)
{
	if (reader_open(r, why) != 0 || mdindex_decode_records(ix, from, to,
	    file_in, &r->fd, sink, why) != 0)
		return -1;
	return reader_unchanged(r, why);
}

struct store {
	struct mdindex *ix;
	const struct mdindex_source *src;
};

static int
store_fill(void *arg, int fd, const char **why)
{
	const struct store *sa = arg;

	return mdindex_encode_to(sa->ix, sa->src, file_out, &fd, why);
}

enum mdindex_io
mdindex_store(int dirfd, const char *name, struct mdindex *ix,
    const struct mdindex_source *src, gid_t gid, const char **why)
{
	struct store sa = { ix, src };

	if (mdindex_encoded_len(ix) == 0) {
		*why = "index counts out of bounds";
		return MDINDEX_IO_REFUSED;
	}
	return mdindex_write(dirfd, name, store_fill, &sa, (uid_t)ix->uid,
	    gid, why);
}
