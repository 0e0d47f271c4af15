/*
 * tests/unit/test_number.c - the decimal numbers pop3d reads (number.c):
 * option values, message numbers (RFC 1939 section 5, "msg") and TOP's
 * line count (section 7).  Arguments reach these as the command line
 * splits them at single spaces (RFC 1939 section 3), so any blank left
 * in one is part of it and makes it no number.  Root-free.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>

#include "number.h"
#include "unit.h"

static int
msgno_is(const char *s, unsigned want)
{
	unsigned n = 0;

	return parse_msgno(s, &n) == 0 && n == want;
}

static int
msgno_bad(const char *s)
{
	unsigned n = 12345;

	return parse_msgno(s, &n) == -1 && n == 12345;
}

static int
lines_is(const char *s, long want)
{
	long v = -7;

	return parse_lines(s, &v) == 0 && v == want;
}

static int
lines_bad(const char *s)
{
	long v = -7;

	return parse_lines(s, &v) == -1;
}

static void
test_msgno(void)
{
	char s[32];

	CHECK(msgno_is("1", 1) && msgno_is("42", 42),
	    "message numbers are decimal");
	CHECK(msgno_bad("0"), "message 0 is none (numbering starts at 1)");
	CHECK(msgno_is("01", 1) && msgno_is("0000000000000000000000007", 7),
	    "leading zeros are allowed, however many");
	snprintf(s, sizeof(s), "%d", INT_MAX);
	CHECK(msgno_is(s, (unsigned)INT_MAX), "INT_MAX is a message number");
	snprintf(s, sizeof(s), "%ld", (long)INT_MAX + 1);
	CHECK(msgno_bad(s), "INT_MAX + 1 is not");
	CHECK(msgno_bad("9223372036854775807") &&
	    msgno_bad("9223372036854775808") &&
	    msgno_bad("99999999999999999999999999"),
	    "LONG_MAX, and numbers past it, are not");
	CHECK(msgno_bad("+1") && msgno_bad("-1") && msgno_bad("-0"),
	    "no sign");
	CHECK(msgno_bad(" 1") && msgno_bad("1 ") && msgno_bad("\t1") &&
	    msgno_bad("1\t") && msgno_bad("1\r") && msgno_bad("1\n") &&
	    msgno_bad("\v1"), "no blank before or after");
	CHECK(msgno_bad("") && msgno_bad("x") && msgno_bad("1x") &&
	    msgno_bad("0x1") && msgno_bad("1e3") && msgno_bad("1.0") &&
	    msgno_bad("\xd9\xa1"), "nothing but ASCII digits");
}

static void
test_lines(void)
{
	char s[32];

	CHECK(lines_is("0", 0) && lines_is("1", 1) && lines_is("10", 10),
	    "TOP counts are decimal, 0 included");
	CHECK(lines_is("007", 7) && lines_is("00", 0),
	    "leading zeros are allowed");
	snprintf(s, sizeof(s), "%ld", LONG_MAX);
	CHECK(lines_is(s, LONG_MAX), "LONG_MAX is itself");
	snprintf(s, sizeof(s), "%ld", LONG_MAX - 1);
	CHECK(lines_is(s, LONG_MAX - 1), "LONG_MAX - 1 is itself");
	CHECK(lines_is("9223372036854775808", LONG_MAX) &&
	    lines_is("99999999999999999999999999999999", LONG_MAX),
	    "more digits than a long holds: all lines");
	CHECK(lines_bad("-1") && lines_bad("+1") && lines_bad("-0"),
	    "no sign");
	CHECK(lines_bad(" 1") && lines_bad("1 ") && lines_bad("\t0") &&
	    lines_bad("0\t") && lines_bad("1\r"), "no blank before or after");
	CHECK(lines_bad("") && lines_bad("x") && lines_bad("1x") &&
	    lines_bad("0x10") && lines_bad("99999999999999999999x"),
	    "nothing but ASCII digits, however long");
}

static void
test_number(void)
{
	long v = 0;

	CHECK(parse_number("5", 5, 5, &v) == 0 && v == 5,
	    "the bounds are inclusive");
	CHECK(parse_number("4", 5, 9, &v) == -1 &&
	    parse_number("10", 5, 9, &v) == -1, "one past either bound "
	    "is refused");
	CHECK(parse_number("0", 0, 0, &v) == 0 && v == 0 &&
	    parse_number("-0", -1, 1, &v) == -1,
	    "0 is a number, -0 is not (no sign, even where min < 0)");
#if LONG_MAX > 2147483647L
	CHECK(parse_number("2147483648", 0, LONG_MAX, &v) == 0 &&
	    v == 2147483648L, "numbers over 2^31 where long has 64 bits");
#endif
	CHECK(parse_number("9223372036854775808", 0, LONG_MAX, &v) == -1,
	    "a number past LONG_MAX is refused, not clamped");
}

int
main(void)
{
	test_msgno();
	test_lines();
	test_number();
	return unit_done();
}
