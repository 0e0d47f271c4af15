/*
 * tests/unit/unit.h - the few lines every C unit test shares.
 *
 * CHECK(cond, fmt, ...) prints one TAP line and counts failures;
 * CHECK_WHY(cond, why, fmt, ...) also says why (a reason the calls in
 * cond set; it is read after cond) as a TAP diagnostic when it fails;
 * SKIP(fmt, ...) counts a test this run cannot do; unit_done() prints
 * the plan and gives main() its exit status; unit_tmpdir() makes a test's
 * own temp directory.  Root-free unless a test says otherwise.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int unit_run, unit_failed;

#define CHECK(cond, ...) do {						\
	unit_run++;							\
	if (cond)							\
		printf("ok %d - ", unit_run);				\
	else {								\
		unit_failed++;						\
		printf("not ok %d - %s:%d: ", unit_run, __FILE__,	\
		    __LINE__);						\
	}								\
	printf(__VA_ARGS__);						\
	putchar('\n');							\
} while (0)

#define CHECK_WHY(cond, why, ...) do {					\
	int unit_before_ = unit_failed;					\
	CHECK(cond, __VA_ARGS__);					\
	if (unit_failed != unit_before_)				\
		unit_why(why);						\
} while (0)

#define SKIP(...) do {							\
	printf("ok %d # skip ", ++unit_run);				\
	printf(__VA_ARGS__);						\
	putchar('\n');							\
} while (0)

static void __attribute__((unused))
unit_why(const char *why)
{
	printf("#   why: %s\n", why != NULL ? why : "(none given)");
}

/*
 * A new directory NAME.XXXXXX under $TMPDIR, else /dev/shm, else /tmp:
 * a tmpfs where there is one, since the maildrop's tests fsync (locks,
 * journals) a thousand times and a disk makes that seconds.  0, or -1.
 */
static int __attribute__((unused))
unit_tmpdir(char *dir, size_t size, const char *name)
{
	const char *t = getenv("TMPDIR");

	if (t == NULL || *t == '\0')
		t = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
	if (snprintf(dir, size, "%s/%s.XXXXXX", t, name) >= (int)size ||
	    mkdtemp(dir) == NULL) {
		printf("Bail out! cannot make a temp directory in %s\n", t);
		return -1;
	}
	return 0;
}

static int
unit_done(void)
{
	printf("1..%d\n", unit_run);
	if (unit_failed > 0)
		printf("# %d of %d failed\n", unit_failed, unit_run);
	return unit_failed > 0;
}

#endif
