/*
 * tests/unit/test_penalty.c - penalty.c on a real table in a temp dir.
 *
 * Needs root, as the module does (it refuses a directory or table not
 * owned by root): the schedule, another address, a good login, expiry,
 * IPv6 per /64, 10,000 addresses in a table of fixed size, concurrent
 * writers under the lock, and the refusals of unsafe files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../../penalty.h"
#include "unit.h"

static const unsigned schedule[] = PENALTY_SCHEDULE;
#define STEPS	(sizeof(schedule) / sizeof(schedule[0]))

static char dir[64], state[128], table[160];

static unsigned
delay(const char *addr, time_t now)
{
	unsigned secs = 999;
	const char *why = NULL;

	if (penalty_delay(state, addr, now, &secs, &why) != 0)
		printf("# penalty_delay %s: %s: %s\n", addr, why,
		    strerror(errno));
	return secs;
}

static int
failed(const char *addr, time_t now)
{
	const char *why = NULL;

	if (penalty_failed(state, addr, now, &why) == 0)
		return 0;
	printf("# penalty_failed %s: %s: %s\n", addr, why, strerror(errno));
	return -1;
}

static void
test_schedule(void)
{
	const time_t t0 = 1000;
	time_t last;
	unsigned got[STEPS + 2], i;
	int right = 1;
	struct stat st;
	const char *why;

	CHECK(delay("192.0.2.1", t0) == 0, "a new address waits nothing");
	CHECK(stat(state, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 07777) == 0700, "the missing directory is made 0700");
	for (i = 0; i < STEPS + 2; i++) {
		failed("192.0.2.1", t0 + i);
		got[i] = delay("192.0.2.1", t0 + i);
		if (got[i] != schedule[i + 1 < STEPS ? i + 1 : STEPS - 1])
			right = 0;
	}
	CHECK(right && got[0] == 1 && got[STEPS + 1] == 15,
	    "attempts 2..%zu wait %u %u %u %u %u, then %u", STEPS + 2,
	    got[0], got[1], got[2], got[3], got[4], got[STEPS + 1]);
	CHECK(delay("192.0.2.2", t0) == 0, "another address is not slowed");
	last = t0 + STEPS + 1;
	CHECK(delay("192.0.2.1", last + PENALTY_EXPIRE - 1) == 15,
	    "still penalised just before expiry");
	CHECK(delay("192.0.2.1", last + PENALTY_EXPIRE) == 0,
	    "expired %d s after the last failure", PENALTY_EXPIRE);
	CHECK(delay("192.0.2.1", last) == 15 &&
	    delay("192.0.2.1", last - 1) == 0,
	    "a failure from the future (clock went back) counts as expired");
	CHECK(penalty_clear(state, "192.0.2.1", &why) == 0 &&
	    delay("192.0.2.1", t0 + 10) == 0, "a good login clears it");
	failed("192.0.2.1", t0 + 20);
	CHECK(delay("192.0.2.1", t0 + 20) == 1, "and counting starts again");
}

static void
test_keys(void)
{
	const time_t t0 = 5000;
	const char *why;
	unsigned secs = 1;

	failed("2001:db8:1:2::1", t0);
	failed("2001:db8:1:2:aaaa::9", t0);
	CHECK(delay("2001:db8:1:2:ffff::1", t0) == 2,
	    "IPv6 addresses of one /64 count together");
	CHECK(delay("2001:db8:1:3::1", t0) == 0, "another /64 does not");
	failed("198.51.100.7", t0);
	CHECK(delay("::ffff:198.51.100.7", t0) == 1,
	    "an IPv4-mapped address is its IPv4 address");
	CHECK(penalty_failed(state, "unix", t0, &why) == 0 &&
	    penalty_failed(state, "unix", t0, &why) == 0 &&
	    penalty_delay(state, "unix", t0, &secs, &why) == 0 && secs == 0,
	    "a peer that is no IP address is never penalised");
}

/* 10,000 addresses: the file stays one file of one size; the latest
   addresses are still there. */
static void
test_bounded(void)
{
	const time_t t0 = 9000;
	struct stat before, after;
	char addr[32];
	int i, kept = 0, errors = 0;

	if (stat(table, &before) != 0)
		before.st_size = -1;
	for (i = 0; i < 10000; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		errors += failed(addr, t0 + i / 100) != 0;
		errors += failed(addr, t0 + i / 100) != 0;
	}
	for (i = 9900; i < 10000; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		kept += delay(addr, t0 + 100) == 2;
	}
	CHECK(errors == 0 && stat(table, &after) == 0 &&
	    after.st_size == before.st_size, "10,000 addresses: the table "
	    "keeps its %lld octets", (long long)after.st_size);
	CHECK(kept == 100, "the latest 100 addresses are all kept (%d)", kept);
}

/* Five processes fail once each at the same time: none is lost. */
static void
test_lock(void)
{
	int i, status, ok = 1;
	pid_t pid;

	for (i = 0; i < 5; i++) {
		if ((pid = fork()) == -1)
			abort();
		if (pid == 0)
			_exit(failed("203.0.113.1", 20000) == 0 ? 0 : 1);
	}
	while ((pid = wait(&status)) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			ok = 0;
	CHECK(ok && delay("203.0.113.1", 20000) == schedule[STEPS - 1],
	    "five concurrent failures all count");
}

static int
refused(void)
{
	unsigned secs;
	const char *why = NULL;

	return penalty_delay(state, "192.0.2.1", 1, &secs, &why) == -1 &&
	    why != NULL;
}

static void
test_refusals(void)
{
	char other[200];
	int fd;

	CHECK(chmod(state, 0770) == 0 && refused(),
	    "a group-writable directory is refused");
	CHECK(chmod(state, 0700) == 0 && chown(state, 5000, 5000) == 0 &&
	    refused(), "a directory not owned by root is refused");
	CHECK(chown(state, 0, 0) == 0 && chmod(table, 0644) == 0 && refused(),
	    "a table readable by others is refused");
	snprintf(other, sizeof(other), "%s/other", dir);
	CHECK(chmod(table, 0600) == 0 && link(table, other) == 0 &&
	    refused(), "a table with a second link is refused");
	CHECK(unlink(table) == 0 && symlink(other, table) == 0 && refused(),
	    "a symlinked table is refused");
	if (unlink(table) != 0 || unlink(other) != 0 || rmdir(state) != 0 ||
	    mkdir(other, 0700) != 0 || symlink(other, state) != 0)
		abort();
	CHECK(refused(), "a symlinked directory is refused");
	if (unlink(state) != 0 || rmdir(other) != 0)
		abort();
	failed("192.0.2.1", 1);
	fd = open(table, O_WRONLY | O_TRUNC);
	CHECK(fd != -1 && write(fd, "junk", 4) == 4 && close(fd) == 0 &&
	    failed("192.0.2.1", 1) == 0 && delay("192.0.2.1", 1) == 1,
	    "a table of the wrong size is started again");
}

int
main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root: the table must be root's\n");
		return 0;
	}
	snprintf(dir, sizeof(dir), "/tmp/test_penalty.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(table, sizeof(table), "%s/penalty.table", state);
	test_schedule();
	test_keys();
	test_bounded();
	test_lock();
	test_refusals();
	unlink(table);
	rmdir(state);
	rmdir(dir);
	return unit_done();
}
