/*
 * number.h - the decimal numbers pop3d reads: option values, and the
 * message numbers and TOP line counts of RFC 1939.  Digits only: no
 * sign, no blank, no base prefix.
 */
#ifndef NUMBER_H
#define NUMBER_H

/* A decimal number in [min, max]: 0, or -1. */
int parse_number(const char *s, long min, long max, long *v);

/* A message number (RFC 1939 section 5, "msg"): 1 to INT_MAX; 0, or -1.
   Whether that message exists is the maildrop's to say. */
int parse_msgno(const char *s, unsigned *n);

/* TOP's line count (RFC 1939 section 7, a non-negative number): 0, or
   -1 if not all digits; more lines than a long holds is all of them. */
int parse_lines(const char *s, long *v);

#endif
