/*
 * penalty.c - the per-source penalty's table (README "Brute force").
 *
 * Owns DIR/penalty.table: a header (magic, random salt) and PENALTY_SETS
 * sets of PENALTY_WAYS entries, each an address key, its count of
 * failures and the time of the last.  The salted hash picks an
 * address's set, so nobody can aim addresses at another's set; inside
 * it a new address takes a free, expired or else the oldest entry.  The
 * file's size never changes, whatever the number of addresses.  Every
 * access holds an fcntl write lock on the whole file for the few
 * microseconds of one pread and one pwrite.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "penalty.h"

#define TABLE_NAME	"penalty.table"
#define TABLE_MAGIC	"pop3d-penalty-1"	/* 16 octets with its NUL */

struct header {
	char magic[16];
	unsigned char salt[16];
};

struct entry {
	unsigned char key[16];	/* IPv6, or IPv4 as ::ffff:a.b.c.d */
	uint32_t used;
	uint32_t fails;
	int64_t last;		/* penalty_now() of the last failure */
};

#define SET_SIZE	(PENALTY_WAYS * sizeof(struct entry))
#define TABLE_SIZE	(sizeof(struct header) + PENALTY_SETS * SET_SIZE)

/* An open, locked table and where the address's set is. */
struct table {
	int fd;
	off_t set_off;
	struct entry set[PENALTY_WAYS];
};

static int
fail(const char **why, const char *reason, int err)
{
	*why = reason;
	errno = err;
	return -1;
}

/* The address's key; 0 if addr is no IP address at all. */
static int
address_key(const char *addr, unsigned char key[16])
{
	memset(key, 0, 16);
	if (inet_pton(AF_INET, addr, key + 12) == 1) {
		key[10] = key[11] = 0xff;
		return 1;
	}
	if (inet_pton(AF_INET6, addr, key) != 1)
		return 0;
	if (memcmp(key, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) != 0)
		memset(key + 8, 0, 8);	/* the /64 */
	return 1;
}

time_t
penalty_now(void)
{
	struct timespec ts;

	/* cannot fail on Linux; if it did, entries of the other clock
	   would only look expired */
	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
		return time(NULL);
	return ts.tv_sec;
}

/* The directory, created 0700 if missing; root's and nobody else's. */
static int
open_dir(const char *dir, const char **why)
{
	struct stat st;
	int dfd;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return fail(why, "penalty: cannot create the state directory",
		    errno);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd == -1)
		return fail(why, "penalty: cannot open the state directory "
		    "(a symlink?)", errno);
	if (fstat(dfd, &st) != 0 || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		(void)close(dfd);
		return fail(why, "penalty: the state directory must be owned "
		    "by root and writable by nobody else", EPERM);
	}
	return dfd;
}

/* A new header and a zeroed table, under the lock the caller holds. */
static int
table_init(int fd, const char **why)
{
	struct header h;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, TABLE_MAGIC, sizeof(h.magic));
	if (getrandom(h.salt, sizeof(h.salt), 0) != sizeof(h.salt))
		return fail(why, "penalty: getrandom", errno);
	if (ftruncate(fd, 0) != 0 || ftruncate(fd, TABLE_SIZE) != 0)
		return fail(why, "penalty: cannot size the table", errno);
	if (pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return fail(why, "penalty: cannot write the table", errno);
	return 0;
}

/* The table's file, opened safely and locked; its header checked (a
   table of another size or version is started again: it is only a
   penalty). */
static int
table_open(const char *dir, struct header *h, const char **why)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct stat st;
	int dfd, fd, err;

	if ((dfd = open_dir(dir, why)) == -1)
		return -1;
	fd = openat(dfd, TABLE_NAME, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_NOCTTY | O_CLOEXEC, 0600);
	err = errno;
	(void)close(dfd);
	if (fd == -1)
		return fail(why, "penalty: cannot open the table", err);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 077) != 0 || st.st_nlink != 1) {
		(void)close(fd);
		return fail(why, "penalty: the table must be a root-owned "
		    "file of mode 0600 with one link", EPERM);
	}
	while (fcntl(fd, F_SETLKW, &lk) != 0)
		if (errno != EINTR) {
			err = errno;
			(void)close(fd);
			return fail(why, "penalty: cannot lock the table", err);
		}
	if (fstat(fd, &st) != 0 || st.st_size != (off_t)TABLE_SIZE ||
	    pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h) ||
	    memcmp(h->magic, TABLE_MAGIC, sizeof(h->magic)) != 0) {
		if (table_init(fd, why) != 0 ||
		    pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h)) {
			err = errno;
			(void)close(fd);
			return fail(why, *why, err);
		}
	}
	return fd;
}

/* Which set: the first bits of SHA-256(salt, key). */
static int
set_index(const struct header *h, const unsigned char key[16],
    size_t *set, const char **why)
{
	unsigned char in[32], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	memcpy(in, h->salt, 16);
	memcpy(in + 16, key, 16);
	if (EVP_Digest(in, sizeof(in), md, &mdlen, EVP_sha256(), NULL) != 1)
		return fail(why, "penalty: SHA-256 failed", EINVAL);
	*set = ((size_t)md[0] << 24 | (size_t)md[1] << 16 |
	    (size_t)md[2] << 8 | md[3]) % PENALTY_SETS;
	return 0;
}

/* Open, lock and read the address's set into t. */
static int
table_load(const char *dir, const unsigned char key[16], struct table *t,
    const char **why)
{
	struct header h;
	size_t set;
	int err;

	if ((t->fd = table_open(dir, &h, why)) == -1)
		return -1;
	if (set_index(&h, key, &set, why) != 0)
		goto out;
	t->set_off = (off_t)(sizeof(h) + set * SET_SIZE);
	if (pread(t->fd, t->set, sizeof(t->set), t->set_off) ==
	    (ssize_t)sizeof(t->set))
		return 0;
	*why = "penalty: cannot read the table";
out:
	err = errno;
	(void)close(t->fd);
	errno = err;
	return -1;
}

/* Write entry i back and unlock (close drops the lock). */
static int
table_store(struct table *t, size_t i, const char **why)
{
	off_t off = t->set_off + (off_t)(i * sizeof(struct entry));
	int err;

	if (pwrite(t->fd, &t->set[i], sizeof(t->set[i]), off) !=
	    (ssize_t)sizeof(t->set[i])) {
		err = errno;
		(void)close(t->fd);
		return fail(why, "penalty: cannot write the table", err);
	}
	if (close(t->fd) != 0)
		return fail(why, "penalty: cannot write the table", errno);
	return 0;
}

static int
table_done(struct table *t, const char **why)
{
	if (close(t->fd) != 0)
		return fail(why, "penalty: cannot close the table", errno);
	return 0;
}

static int
live(const struct entry *e, time_t now)
{
	return e->used && e->last <= now && now - e->last < PENALTY_EXPIRE;
}

/* The address's live entry, or -1. */
static int
find(const struct table *t, const unsigned char key[16], time_t now)
{
	int i;

	for (i = 0; i < PENALTY_WAYS; i++)
		if (live(&t->set[i], now) &&
		    memcmp(t->set[i].key, key, 16) == 0)
			return i;
	return -1;
}

/* The entry a new address takes: a dead one, else the oldest. */
static int
victim(const struct table *t, time_t now)
{
	int i, old = 0;

	for (i = 0; i < PENALTY_WAYS; i++) {
		if (!live(&t->set[i], now))
			return i;
		if (t->set[i].last < t->set[old].last)
			old = i;
	}
	return old;
}

/* Load the set of addr's key into t: 1, or 0 if addr is no IP address
   (never penalised), or -1. */
static int
table_for(const char *dir, const char *addr, unsigned char key[16],
    struct table *t, const char **why)
{
	if (!address_key(addr, key))
		return 0;
	return table_load(dir, key, t, why) == 0 ? 1 : -1;
}

int
penalty_delay(const char *dir, const char *addr, time_t now,
    unsigned *secs, const char **why)
{
	static const unsigned schedule[] = PENALTY_SCHEDULE;
	const size_t steps = sizeof(schedule) / sizeof(schedule[0]);
	unsigned char key[16];
	struct table t;
	int i, r;

	*secs = 0;
	if ((r = table_for(dir, addr, key, &t, why)) != 1)
		return r;
	if ((i = find(&t, key, now)) != -1)
		*secs = schedule[t.set[i].fails < steps ? t.set[i].fails :
		    steps - 1];
	return table_done(&t, why);
}

int
penalty_failed(const char *dir, const char *addr, time_t now,
    const char **why)
{
	unsigned char key[16];
	struct table t;
	int i, r;

	if ((r = table_for(dir, addr, key, &t, why)) != 1)
		return r;
	if ((i = find(&t, key, now)) == -1) {
		i = victim(&t, now);
		memset(&t.set[i], 0, sizeof(t.set[i]));
		memcpy(t.set[i].key, key, 16);
		t.set[i].used = 1;
	}
	if (t.set[i].fails < UINT32_MAX)
		t.set[i].fails++;
	t.set[i].last = now;
	return table_store(&t, (size_t)i, why);
}

int
penalty_clear(const char *dir, const char *addr, const char **why)
{
	unsigned char key[16];
	struct table t;
	int i, r;

	if ((r = table_for(dir, addr, key, &t, why)) != 1)
		return r;
	for (i = 0; i < PENALTY_WAYS; i++)
		if (t.set[i].used && memcmp(t.set[i].key, key, 16) == 0) {
			memset(&t.set[i], 0, sizeof(t.set[i]));
			return table_store(&t, (size_t)i, why);
		}
	return table_done(&t, why);
}
