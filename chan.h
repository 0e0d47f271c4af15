/*
 * chan.h - the client channel: line input, corked output, timeouts.
 *
 * chan.c owns the bytes between pop3d and whatever carries the client:
 * the superserver's fd 0/1, TLS over them, or the socket pair to the
 * pre-authentication process that relays TLS.  Replies are corked until
 * no more input waits (RFC 2449 section 6.6, PIPELINING).
 */
#ifndef CHAN_H
#define CHAN_H

#include <stddef.h>
#include <time.h>
#include <sys/types.h>

#include "params.h"

struct tls;

enum gl { GL_LINE, GL_TOOLONG, GL_EOF, GL_TIMEOUT, GL_ERROR };

struct chan {
	int rfd, wfd;
	struct tls *tls;	/* non-NULL once TLS is running */
	int timeout_ms;
	int eof;
	int failed;		/* a write failed: the client is gone */
	int discarding;		/* inside an over-long line */
	size_t in_pos, in_len, out_len;
	size_t mark;		/* chan_cut keeps out[0..mark) */
	int has_deadline;	/* --login-timeout: no wait goes past it */
	struct timespec deadline;
	char in[IN_BUF];
	char out[OUT_BUF];
};

void chan_init(struct chan *c, int rfd, int wfd, int timeout_ms);
int chan_write(struct chan *c, const char *p, size_t n);
int chan_printf(struct chan *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int chan_flush(struct chan *c);

/* Output written in place: the free space at the end of the output, at
   least min bytes (what is corked is sent first if need be), or NULL when
   the client is gone; then chan_put(c, n) for the n bytes used. */
char *chan_room(struct chan *c, size_t min, size_t *len);
void chan_put(struct chan *c, size_t n);
enum gl chan_getline(struct chan *c, char *line, size_t *len);

/* Remember where the current reply starts; chan_cut drops everything
   corked after it (a message cut mid-send must never get its "."), sends
   the replies before it and ends the channel. */
void chan_mark(struct chan *c);
void chan_cut(struct chan *c);

/* Wipe and drop all buffered input (STLS: plaintext pipelined after it
   must never run, the CVE-2011-0411 class); or put input another
   process already read in front (the pre-authentication hand-off). */
void chan_wipe_input(struct chan *c);
int chan_preload(struct chan *c, const char *p, size_t n);

/* Bytes read but not yet consumed, for the hand-off. */
size_t chan_pending(const struct chan *c, const char **p);

/* The last words before closing: drop what is corked, one short try. */
void chan_last_words(struct chan *c, const char *msg, size_t n);

/* No wait for input goes past ms from now (-1: no deadline). */
void chan_set_deadline(struct chan *c, int ms);

/* How long the next wait for input may take: the autologout timer or
   what is left before the deadline, whichever is shorter. */
int chan_wait_ms(const struct chan *c);

void set_nonblocking(int fd);

#endif
