/*
 * penalty.h - the per-source penalty: failed logins slow an address down.
 *
 * penalty.c owns the state of README "Brute force": how many logins from
 * each source address failed lately, in one fixed-size table file in a
 * root-owned directory (default /run/pop3d), shared by every pop3d
 * process under an fcntl lock; no daemon.  The table holds fewer than
 * 10,000 addresses: a new address takes the oldest entry of its set.
 *
 * Use, per login attempt from addr (numeric text, as logged):
 *	penalty_delay()    before answering it: sleep that many seconds;
 *	penalty_failed()   if it failed;
 *	penalty_clear()    if it succeeded.
 * The 2nd..6th failed attempts of an address wait 1, 2, 4, 8, 15 s, then
 * 15 s each (PENALTY_SCHEDULE); an address without a failure for 15
 * minutes (PENALTY_EXPIRE) starts again.  IPv6 addresses count per /64,
 * what one host or home link gets; IPv4-mapped ones as IPv4.  Text that
 * is no IP address ("unix", "local") is never penalised.
 *
 * The functions return 0, or -1 with *why saying what failed and errno
 * set; the caller logs and goes on without a penalty.  The directory
 * must be owned by root and not writable by group or others; it is
 * created 0700 if missing.  now comes from penalty_now().
 */
#ifndef PENALTY_H
#define PENALTY_H

#include <time.h>

#include "params.h"

/* Seconds since boot: wall clock steps neither lengthen nor shorten a
   penalty, and the state under /run goes at reboot anyway. */
time_t penalty_now(void);

int penalty_delay(const char *dir, const char *addr, time_t now,
    unsigned *secs, const char **why);
int penalty_failed(const char *dir, const char *addr, time_t now,
    const char **why);
int penalty_clear(const char *dir, const char *addr, const char **why);

#endif
