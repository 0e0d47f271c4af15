/*
 * mdindex_trust.c - when a decoded index may stand for the mailbox open
 * now (README "Persistent index"): the same file, its owner's, written at
 * a quiet moment, and either unchanged since or only grown.  A pure rule
 * on the index's header and two fstat results.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/stat.h>

#include "mdindex.h"

/* a < b */
static int
time_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static int
time_same(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/*
 * Before Linux 6.13 file times come from a coarse clock, so a same-size
 * rewrite in the same tick as the write the index saw leaves size and
 * times as they were.  The index describes the file only if its times
 * were older than the tick read after its fstat: every later write then
 * gets a time from that tick on, and so differs.  A time without
 * nanoseconds may come from a file system that keeps whole seconds,
 * where every write of that second gets the same time: then the second
 * must have been over.
 */
static int
older_than_tick(const struct timespec *t, const struct timespec *tick)
{
	if (t->tv_nsec == 0)
		return t->tv_sec < tick->tv_sec;
	return time_before(t, tick);
}

enum mdindex_trust
mdindex_trust(const struct mdindex *ix, const struct stat *mbox,
    const struct stat *file, const char **why)
{
	if (!mdindex_file_ok(file, mbox->st_uid, why))
		return MDINDEX_UNTRUSTED;
	if (ix->uid != (uint32_t)mbox->st_uid) {
		*why = "index written for another owner";
		return MDINDEX_UNTRUSTED;
	}
	if (ix->dev != (uint64_t)mbox->st_dev ||
	    ix->ino != (uint64_t)mbox->st_ino) {
		*why = "index describes another file";
		return MDINDEX_UNTRUSTED;
	}
	if (!older_than_tick(&ix->mtime, &ix->tick) ||
	    !older_than_tick(&ix->ctime, &ix->tick)) {
		*why = "index written in the clock tick of a mailbox change";
		return MDINDEX_UNTRUSTED;
	}
	if ((uint64_t)mbox->st_size < ix->size) {
		*why = "mailbox shrank since the index was written";
		return MDINDEX_UNTRUSTED;
	}
	if ((uint64_t)mbox->st_size > ix->size)
		return MDINDEX_GREW;
	if (!time_same(&mbox->st_mtim, &ix->mtime) ||
	    !time_same(&mbox->st_ctim, &ix->ctime)) {
		*why = "mailbox rewritten since the index was written";
		return MDINDEX_UNTRUSTED;
	}
	return MDINDEX_UNCHANGED;
}
