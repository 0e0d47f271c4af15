/*
 * test_mdindex_trust.c - unit tests of the persistent index's trust rule
 * (mdindex_trust.c), by a table of cases: the fixture's index against a
 * mailbox and an index file as fstat would see them, each case an edit.
 * Needs no root; prints TAP.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mdindex.h"
#include "mdindex_fixture.h"
#include "unit.h"


struct trust_case {
	const char *name;
	void (*edit)(struct mdindex *ix, struct stat *mbox, struct stat *file);
	enum mdindex_trust want;
};

static void e_none(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)m; (void)f; }
static void e_grew(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)f; m->st_size += 100; m->st_mtim.tv_sec += 5;
  m->st_ctim.tv_sec += 5; }
static void e_grew_same_times(struct mdindex *i, struct stat *m,
    struct stat *f)
{ (void)i; (void)f; m->st_size += 1; }
static void e_shrank(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)f; m->st_size -= 1; }
static void e_mtime(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)f; m->st_mtim.tv_nsec += 1; }
static void e_ctime(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)f; m->st_ctim.tv_sec += 1; }
static void e_touch_back(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)f; m->st_ctim.tv_sec += 30; }	/* touch -d: ctime moves */
static void e_ino(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)f; m->st_ino += 1; }
static void e_dev(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)f; m->st_dev += 1; }
static void e_owner(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)f; (void)m; i->uid += 1; }
static void e_new_owner(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; m->st_uid += 1; f->st_uid += 1; }	/* chown'ed both */
static void e_file_owner(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)m; f->st_uid += 1; }
static void e_group(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)m; f->st_mode |= S_IRGRP; }
static void e_other(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)m; f->st_mode |= S_IWOTH; }
static void e_links(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)m; f->st_nlink = 2; }
static void e_fifo(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)m; f->st_mode = S_IFIFO | 0600; }
static void e_dir(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)i; (void)m; f->st_mode = S_IFDIR | 0700; }
static void e_same_tick(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)f; (void)m; i->tick = i->mtime; }
static void e_ctime_tick(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)f; (void)m; i->tick = i->ctime; }
static void e_future(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)f; i->mtime.tv_sec = i->tick.tv_sec + 1; m->st_mtim = i->mtime; }
static void e_tick_after(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)f; (void)m; i->tick = i->ctime; i->tick.tv_nsec += 1; }
static void e_whole_second(struct mdindex *i, struct stat *m, struct stat *f)
{ (void)f; i->mtime.tv_nsec = 0; i->tick.tv_sec = i->mtime.tv_sec;
  i->tick.tv_nsec = 500000000; m->st_mtim = i->mtime; }
static void e_second_over(struct mdindex *i, struct stat *m, struct stat *f)
{ e_whole_second(i, m, f); i->tick.tv_sec += 1; i->tick.tv_nsec = 0; }
static void e_quiet_grew(struct mdindex *i, struct stat *m, struct stat *f)
{ e_same_tick(i, m, f); e_grew(i, m, f); }

static const struct trust_case trust_cases[] = {
	{ "unchanged mailbox", e_none, MDINDEX_UNCHANGED },
	{ "tick one nanosecond after the last change", e_tick_after,
	    MDINDEX_UNCHANGED },
	{ "mailbox grew", e_grew, MDINDEX_GREW },
	{ "mailbox grew, times unchanged", e_grew_same_times, MDINDEX_GREW },
	{ "mailbox shrank", e_shrank, MDINDEX_UNTRUSTED },
	{ "same size, other mtime", e_mtime, MDINDEX_UNTRUSTED },
	{ "same size, other ctime", e_ctime, MDINDEX_UNTRUSTED },
	{ "rewritten, then touch -d to the old mtime", e_touch_back,
	    MDINDEX_UNTRUSTED },
	{ "another inode (mailbox replaced by rename)", e_ino,
	    MDINDEX_UNTRUSTED },
	{ "another device", e_dev, MDINDEX_UNTRUSTED },
	{ "index written for another uid", e_owner, MDINDEX_UNTRUSTED },
	{ "mailbox and index given to another uid", e_new_owner,
	    MDINDEX_UNTRUSTED },
	{ "index file owned by someone else", e_file_owner,
	    MDINDEX_UNTRUSTED },
	{ "index readable by group", e_group, MDINDEX_UNTRUSTED },
	{ "index writable by others", e_other, MDINDEX_UNTRUSTED },
	{ "index with two links", e_links, MDINDEX_UNTRUSTED },
	{ "index is a FIFO", e_fifo, MDINDEX_UNTRUSTED },
	{ "index is a directory", e_dir, MDINDEX_UNTRUSTED },
	{ "written in the tick of the last mtime", e_same_tick,
	    MDINDEX_UNTRUSTED },
	{ "written in the tick of the last ctime", e_ctime_tick,
	    MDINDEX_UNTRUSTED },
	{ "mailbox times in the future of the tick", e_future,
	    MDINDEX_UNTRUSTED },
	{ "not quiet, though it only grew", e_quiet_grew, MDINDEX_UNTRUSTED },
	{ "whole-second mtime, tick in that second", e_whole_second,
	    MDINDEX_UNTRUSTED },
	{ "whole-second mtime, tick in the next second", e_second_over,
	    MDINDEX_UNCHANGED },
};

static void
test_trust(void)
{
	char name[128];

	for (size_t c = 0; c < sizeof(trust_cases) / sizeof(trust_cases[0]);
	    c++) {
		const struct trust_case *t = &trust_cases[c];
		struct mdindex ix;
		struct stat mbox, file;
		const char *why = NULL;
		enum mdindex_trust got;

		fixture(&ix);
		memset(&mbox, 0, sizeof(mbox));
		mbox.st_dev = (dev_t)ix.dev;
		mbox.st_ino = (ino_t)ix.ino;
		mbox.st_uid = (uid_t)ix.uid;
		mbox.st_mode = S_IFREG | 0660;
		mbox.st_nlink = 1;
		mbox.st_size = (off_t)ix.size;
		mbox.st_mtim = ix.mtime;
		mbox.st_ctim = ix.ctime;
		memset(&file, 0, sizeof(file));
		file.st_uid = mbox.st_uid;
		file.st_mode = S_IFREG | 0600;
		file.st_nlink = 1;
		t->edit(&ix, &mbox, &file);
		got = mdindex_trust(&ix, &mbox, &file, &why);
		(void)snprintf(name, sizeof(name), "trust: %s -> %s", t->name,
		    t->want == MDINDEX_UNCHANGED ? "unchanged" :
		    t->want == MDINDEX_GREW ? "grew" : "untrusted");
		CHECK_WHY(got == t->want &&
		    (got != MDINDEX_UNTRUSTED || why != NULL), why, "%s", name);
	}
}

int
main(void)
{
	(void)setvbuf(stdout, NULL, _IOLBF, 0);
	test_trust();
	return unit_done();
}
