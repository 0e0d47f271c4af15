/*
 * number.c - the decimal numbers of the command line and of the
 * commands (number.h), apart from options.c so that they can be tested
 * alone (tests/unit/test_number.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "number.h"

int
parse_number(const char *s, long min, long max, long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtol(s, &end, 10);
	return errno != 0 || *end != '\0' || *v < min || *v > max ? -1 : 0;
}

int
parse_msgno(const char *s, unsigned *n)
{
	long v;

	if (parse_number(s, 1, INT_MAX, &v) != 0)
		return -1;
	*n = (unsigned)v;
	return 0;
}

int
parse_lines(const char *s, long *v)
{
	if (*s == '\0' || strspn(s, "0123456789") != strlen(s))
		return -1;
	if (parse_number(s, 0, LONG_MAX, v) != 0)
		*v = LONG_MAX;	/* all digits, just huge: all lines */
	return 0;
}
