/*
 * test_mdindex_file.c - unit tests of the persistent index's side file
 * (mdindex_file.c), in a temp directory: written by a temp file and
 * rename, opened only when it is a regular file of the owner with one
 * link, its parts read after login and checked against the header, a
 * file rewritten in place since then refused.  Needs no root (as root it
 * also checks the owner handed over); prints TAP.
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

#include "byteorder.h"
#include "mdindex.h"
#include "mdindex_fixture.h"
#include "unit.h"

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

/* What mdindex_load_part hands over, collected. */
struct collect {
	uint32_t n, ndig, ntag, out_of_range;
	struct mdindex_msg msg[FIX_MSGS];
	unsigned char tag[FIX_BLKS][MDINDEX_TAG_LEN];
};

static void
collect_msg(void *arg, uint32_t i, const struct mdindex_msg *m)
{
	struct collect *c = arg;

	if (i >= FIX_MSGS) {
		c->out_of_range++;
		return;
	}
	c->msg[i] = *m;
	c->n++;
}

static void
collect_digest(void *arg, uint32_t i, const unsigned char *d, uint32_t dup)
{
	struct collect *c = arg;

	if (i >= FIX_MSGS) {
		c->out_of_range++;
		return;
	}
	c->msg[i].flags |= MDINDEX_DIGEST;
	memcpy(c->msg[i].digest, d, MDINDEX_DIGEST_LEN);
	c->msg[i].dup = dup;
	c->ndig++;
}

static void
collect_tag(void *arg, uint32_t b, const unsigned char *tag)
{
	struct collect *c = arg;

	if (b >= FIX_BLKS) {
		c->out_of_range++;
		return;
	}
	memcpy(c->tag[b], tag, MDINDEX_TAG_LEN);
	c->ntag++;
}

/* The records alone, as the records part hands them over. */
static int
collected_records(const struct collect *c)
{
	for (uint32_t i = 0; i < FIX_MSGS; i++) {
		struct mdindex_msg want;

		record_only(i, &want);
		if (memcmp(&c->msg[i], &want, sizeof(want)) != 0)
			return 0;
	}
	return c->n == FIX_MSGS && c->out_of_range == 0;
}

/* Records, digests and tags: the fixture's. */
static int
collected_equal(const struct collect *c)
{
	return c->n == FIX_MSGS && c->ndig == FIX_MSGS &&
	    c->ntag == FIX_BLKS && c->out_of_range == 0 &&
	    memcmp(c->msg, fix_msg, sizeof(c->msg)) == 0 &&
	    memcmp(c->tag, fix_tag, sizeof(c->tag)) == 0;
}

/* The three parts of what mdindex_load accepted, into c. */
static int
load_parts(struct mdindex_reader *rd, const struct mdindex *ix,
    struct collect *c, const char **why)
{
	struct mdindex_sink sink = { collect_msg, collect_digest, collect_tag,
	    c };

	memset(c, 0, sizeof(*c));
	return mdindex_load_part(rd, ix, MDINDEX_RECORDS, &sink, why) == 0 &&
	    collected_records(c) &&
	    mdindex_load_part(rd, ix, MDINDEX_DIGS, &sink, why) == 0 &&
	    mdindex_load_part(rd, ix, MDINDEX_TAGS, &sink, why) == 0;
}

/* NAME.tmp: a fresh one is another writer's, an old one a dead writer's */
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

/* The maildrop's calls, through a real file. */
static void
test_load_store(int dfd)
{
	struct mdindex ix, back;
	struct mdindex_reader rd;
	struct stat mbox, st;
	struct collect c;
	struct mdindex_sink sink = { collect_msg, collect_digest, collect_tag,
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
	rd.fd = 12345;
	CHECK_WHY(mdindex_load(dfd, "ls", &mbox, &back, &rd, &why) ==
	    MDINDEX_UNTRUSTED && why == NULL && rd.fd == -1, why,
	    "load: no index file, nothing to log, no reader left open");
	memset(ix.sum, 0, sizeof(ix.sum));
	CHECK_WHY(mdindex_store(dfd, "ls", &ix, &fix_src, getegid(), &why) ==
	    MDINDEX_IO_OK, why,
	    "store writes the index");
	{
		static const unsigned char zero[sizeof(ix.sum)];
		CHECK(memcmp(ix.sum, zero, sizeof(zero)) != 0,
		    "store fills in ix->sum");
	}
	CHECK_WHY(mdindex_load(dfd, "ls", &mbox, &back, &rd, &why) ==
	    MDINDEX_UNCHANGED && rd.fd >= 0 && back.nmsg == FIX_MSGS &&
	    back.octets == FIX_OCTETS && back.flags == ix.flags &&
	    memcmp(back.sum, ix.sum, sizeof(ix.sum)) == 0, why,
	    "load: the unchanged mailbox gets the header, the file kept open");
	CHECK_WHY(load_parts(&rd, &back, &c, &why) && collected_equal(&c), why,
	    "load_part: its records, digests and tags, one part at a time");
	mdindex_reader_close(&rd);
	CHECK(rd.fd == -1 && mdindex_load_part(&rd, &back, MDINDEX_RECORDS,
	    &sink, &why) != 0, "a closed reader reads no part");
	mdindex_free(&back);
	mbox.st_size += 4096;
	CHECK_WHY(mdindex_load(dfd, "ls", &mbox, &back, &rd, &why) ==
	    MDINDEX_GREW && back.end == ix.end && back.doubt == 1 &&
	    load_parts(&rd, &back, &c, &why) && collected_equal(&c), why,
	    "load: a grown mailbox is GREW from the old end, its entries "
	    "handed over");
	mdindex_reader_close(&rd);
	mdindex_free(&back);
	mbox.st_size -= 4096;

	/* a part damaged: the header still loads, the part does not */
	CHECK_WHY((fd = openat(dfd, "ls", O_WRONLY)) >= 0 &&
	    pwrite(fd, &flip, 1, DIG(1, 2)) == 1 && close(fd) == 0 &&
	    mdindex_load(dfd, "ls", &mbox, &back, &rd, &why) ==
	    MDINDEX_UNCHANGED && mdindex_load_part(&rd, &back,
	    MDINDEX_RECORDS, NULL, &why) == 0, why,
	    "load: a damaged digests part does not stop the header or the "
	    "records");
	why = NULL;
	CHECK_WHY(mdindex_load_part(&rd, &back, MDINDEX_DIGS, &sink, &why) !=
	    0 && why != NULL && strcmp(why, "index checksum mismatch") == 0,
	    why, "load_part: the damaged digests part is a checksum mismatch");
	mdindex_reader_close(&rd);
	mdindex_free(&back);

	/* rewritten in place after the header was read: same length,
	   other bytes, and (as a write in a later clock tick would give
	   it) another mtime */
	CHECK_WHY(mdindex_store(dfd, "ls", &ix, &fix_src, getegid(), &why) ==
	    MDINDEX_IO_OK && mdindex_load(dfd, "ls", &mbox, &back, &rd,
	    &why) == MDINDEX_UNCHANGED, why,
	    "stored again, it loads");
	flip = (unsigned char)(fix_tag[1][3] ^ 0x01);
	why = NULL;
	{
		struct timespec later[2];

		later[0] = rd.st.st_atim;
		later[1] = rd.st.st_mtim;
		later[1].tv_sec += 1;
		CHECK_WHY((fd = openat(dfd, "ls", O_WRONLY)) >= 0 &&
		    pwrite(fd, &flip, 1, TAG(1) + 3) == 1 &&
		    futimens(fd, later) == 0 && close(fd) == 0 &&
		    fstatat(dfd, "ls", &st, 0) == 0 &&
		    st.st_size == rd.st.st_size &&
		    mdindex_load_part(&rd, &back, MDINDEX_RECORDS, &sink,
		    &why) != 0 && why != NULL &&
		    strcmp(why, "index changed while it was read") == 0, why,
		    "load_part: a file rewritten in place since its header "
		    "was read is refused, its part's checksum right or not");
	}
	why = NULL;
	CHECK_WHY(mdindex_load_part(&rd, &back, MDINDEX_TAGS, &sink, &why) !=
	    0 && why != NULL, why, "and so is the part that changed");
	mdindex_reader_close(&rd);
	mdindex_free(&back);

	/* no digests: the part is not there to load */
	fixture_plain(&ix);
	ix.uid = (uint32_t)geteuid();
	why = NULL;
	CHECK_WHY(mdindex_store(dfd, "ls", &ix, &fix_src, getegid(), &why) ==
	    MDINDEX_IO_OK && mdindex_load(dfd, "ls", &mbox, &back, &rd,
	    &why) == MDINDEX_UNCHANGED && back.flags == MDINDEX_FIRST_HIDDEN &&
	    mdindex_load_part(&rd, &back, MDINDEX_DIGS, &sink, &why) != 0 &&
	    why != NULL && strcmp(why, "index has no UIDL digests") == 0,
	    why, "load_part: no digests part in an index without them");
	memset(&c, 0, sizeof(c));
	why = NULL;
	CHECK_WHY(mdindex_load_part(&rd, &back, MDINDEX_RECORDS, &sink,
	    &why) == 0 && collected_records(&c) &&
	    mdindex_load_part(&rd, &back, MDINDEX_TAGS, &sink, &why) == 0 &&
	    c.ntag == FIX_BLKS && memcmp(c.tag, fix_tag, sizeof(c.tag)) == 0,
	    why, "but its records and tags");
	mdindex_reader_close(&rd);
	mdindex_free(&back);

	/* what the encoder refuses is not written */
	fixture(&ix);
	ix.uid = (uint32_t)geteuid();
	ix.octets += 1;
	why = NULL;
	CHECK_WHY(unlinkat(dfd, "ls", 0) == 0 &&
	    mdindex_store(dfd, "ls", &ix, &fix_src, getegid(), &why) ==
	    MDINDEX_IO_REFUSED && why != NULL &&
	    strcmp(why, INCONSISTENT) == 0 &&
	    faccessat(dfd, "ls", F_OK, AT_SYMLINK_NOFOLLOW) != 0 &&
	    faccessat(dfd, "ls.tmp", F_OK, AT_SYMLINK_NOFOLLOW) != 0, why,
	    "store: an inconsistent index is refused, and leaves no file");
	ix.octets -= 1;

	CHECK_WHY(mdindex_store(dfd, "ls", &ix, &fix_src, getegid(), &why) ==
	    MDINDEX_IO_OK &&
	    (fd = openat(dfd, "ls", O_WRONLY)) >= 0 &&
	    pwrite(fd, &flip, 1, 90) == 1 && close(fd) == 0 &&
	    mdindex_load(dfd, "ls", &mbox, &back, &rd, &why) ==
	    MDINDEX_UNTRUSTED && why != NULL && back.nmsg == 0 &&
	    rd.fd == -1, why,
	    "load: a corrupted header is UNTRUSTED, with a reason, and closed");
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

int
main(void)
{
	char dir[] = "/tmp/test_mdindex_file.XXXXXX";

	(void)setvbuf(stdout, NULL, _IOLBF, 0);
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
