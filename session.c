/*
 * session.c - a session's life around the protocol: the peer's address
 * (a --proxy-from peer's PROXY header included), the start (greeting,
 * implicit TLS), the command loop and its timeouts, the end and its log
 * line, and the processes that run it (one process, or the front and
 * root of README "Security").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "authrec.h"
#include "chan.h"
#include "front.h"
#include "gate.h"
#include "logtext.h"
#include "maildrop.h"
#include "options.h"
#include "params.h"
#include "proxy.h"
#include "session.h"
#include "tls.h"

/* ---------------------------------------------------------------- */
/* Session start and end                                             */

/* The peer for the log: getpeername on fd 0, or the launcher's word
   where fd 0 is a loopback or unix socket (stunnel, socat, tcpserver). */
void
peer_address(char *buf, size_t size)
{
	static const char *vars[] = { "REMOTE_HOST", "TCPREMOTEIP",
	    "SOCAT_PEERADDR", NULL };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int local = 1;

	(void)snprintf(buf, size, "local");
	if (getpeername(0, (struct sockaddr *)&ss, &len) == 0) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		/* a dual-stack listener (systemd's ListenStream=110, xinetd's
		   flags = IPv6) sees IPv4 clients as ::ffff:a.b.c.d */
		if (ss.ss_family == AF_INET6 &&
		    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			struct sockaddr_in s4;

			memset(&s4, 0, sizeof(s4));
			s4.sin_family = AF_INET;
			s4.sin_port = s6->sin6_port;
			memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
			memcpy(&ss, &s4, sizeof(s4));
			len = sizeof(s4);
		}
		if ((ss.ss_family == AF_INET || ss.ss_family == AF_INET6) &&
		    getnameinfo((struct sockaddr *)&ss, len, buf,
		    (socklen_t)size, NULL, 0, NI_NUMERICHOST) == 0)
			local = strcmp(buf, "127.0.0.1") == 0 ||
			    strcmp(buf, "::1") == 0;
		else if (ss.ss_family == AF_UNIX)
			(void)snprintf(buf, size, "unix");
	}
	for (int i = 0; local && vars[i] != NULL; i++) {
		const char *v = getenv(vars[i]);
		if (v != NULL && *v != '\0' && strlen(v) < size &&
		    strspn(v, "0123456789abcdefABCDEF.:[]") == strlen(v)) {
			(void)snprintf(buf, size, "%s", v);
			break;
		}
	}
}

/* ---------------------------------------------------------------- */
/* The PROXY header (README "Behind HAProxy or stunnel")              */

/* proxy_read's source: fd 0, each wait within the login deadline. */
static ssize_t
read_header(void *ctx, void *buf, size_t len)
{
	struct chan *c = ctx;
	struct pollfd p = { c->rfd, POLLIN, 0 };
	ssize_t n;
	int r;

	for (;;) {
		if ((r = poll(&p, 1, chan_wait_ms(c))) < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		n = read(c->rfd, buf, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		return n;
	}
}

/* The one -ERR; the input already sent (the rest of a bad header) is
   read and dropped, so that the close is no reset that loses it. */
static int
proxy_refused(struct session *s, const char *reply, const char *why)
{
	char junk[PROXY_V2_MAX];

	syslog(LOG_NOTICE, "peer=%s: %s; session ended", s->peer, why);
	(void)chan_printf(s->ch, "-ERR %s\r\n", reply);
	(void)chan_flush(s->ch);
	s->end = "PROXY header refused";
	for (int i = 0; i < PROXY_DRAIN_READS; i++)
		if (read(s->ch->rfd, junk, sizeof(junk)) <= 0)
			break;
	return -1;
}

/*
 * A --proxy-from peer starts with a PROXY header (v1 or v2), read here
 * before anything else and never past its end; the client address it
 * carries becomes the peer.  0, or -1 after the one -ERR.
 */
static int
proxy_peer(struct session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct proxy_header h;
	const char *why;

	if (s->cfg->proxy_from.count == 0 ||
	    getpeername(s->ch->rfd, (struct sockaddr *)&ss, &len) != 0 ||
	    !proxy_from_match(&s->cfg->proxy_from, (struct sockaddr *)&ss,
	    len))
		return 0;
	if (proxy_read(read_header, s->ch, &h, &why) != PROXY_OK)
		return proxy_refused(s, "bad PROXY header", why);
	if (!h.local)
		(void)snprintf(s->peer, sizeof(s->peer), "%s", h.addr);
	s->proxied = !h.local;
	return 0;
}

/* A PROXY header where none is read (a peer not listed, or after the
   first bytes): v1's "PROXY " line, or v2's signature, whose first
   line is empty and whose rest stays buffered. */
static int
stray_proxy(struct session *s, const char *line, size_t len)
{
	static const char v2rest[] = "\r\n\0\r\nQUIT\n";
	const char *p;
	size_t n;

	if (s->lines++ > 0 || s->state != ST_AUTH)
		return 0;
	if (len >= 6 && strncmp(line, "PROXY ", 6) == 0)
		return 1;
	n = chan_pending(s->ch, &p);
	return len == 0 && n >= sizeof(v2rest) - 1 &&
	    memcmp(p, v2rest, sizeof(v2rest) - 1) == 0;
}

/* ---------------------------------------------------------------- */
/* Session end and loop                                              */

static void
log_session_end(struct session *s)
{
	struct timespec now;
	unsigned left = 0;
	uint64_t left_bytes = 0;
	char esc[LOG_TEXT_MAX];

	if (s->md != NULL)
		maildrop_stat(s->md, &left, &left_bytes);
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	syslog(LOG_INFO, "session end: user=%s peer=%s retr=%u/%" PRIu64
	    " dele=%u/%" PRIu64 " left=%u/%" PRIu64 " time=%.3f end=%s",
	    s->md != NULL ? log_text(s->who.name, esc) : "-", s->peer,
	    s->retr_n,
	    s->retr_bytes, s->dele_n,
	    s->dele_bytes, left, left_bytes,
	    (double)(now.tv_sec - s->start.tv_sec) +
	    (double)(now.tv_nsec - s->start.tv_nsec) / 1e9,
	    s->end != NULL ? s->end : "eof");
}

static void
autologout(struct session *s)
{
	static const char msg[] = "-ERR autologout: idle for too long\r\n";

	char esc[LOG_TEXT_MAX];

	syslog(LOG_INFO, "autologout: user=%s peer=%s",
	    s->md != NULL ? log_text(s->who.name, esc) : "-", s->peer);
	chan_last_words(s->ch, msg, sizeof(msg) - 1);
	s->end = "timeout";
}

static void
session_loop(struct session *s)
{
	char line[CMD_LINE_MAX + 1];
	size_t len;

	while (s->leave == STAY) {
		switch (chan_getline(s->ch, line, &len)) {
		case GL_LINE:
			if (stray_proxy(s, line, len)) {
				(void)proxy_refused(s, "PROXY header not "
				    "accepted from this peer", "PROXY header "
				    "from a peer not in --proxy-from");
				return;
			}
			dispatch(s, line, len);
			break;
		case GL_TOOLONG:
			(void)chan_printf(s->ch, "-ERR line too long\r\n");
			break;
		case GL_TIMEOUT:
			autologout(s);
			return;
		case GL_EOF:
			s->end = "eof";
			return;
		case GL_ERROR:
			s->end = "client went away";
			return;
		}
		if (s->ch->failed && s->leave == STAY) {
			s->end = "client went away";
			return;
		}
	}
}

static int
session_open(struct session *s, const struct config *cfg, int rfd, int wfd,
    const char *peer)
{
	memset(s, 0, sizeof(*s));
	(void)clock_gettime(CLOCK_MONOTONIC, &s->start);
	if ((s->ch = malloc(sizeof(*s->ch))) == NULL) {
		syslog(LOG_ERR, "out of memory");
		return -1;
	}
	chan_init(s->ch, rfd, wfd, cfg->timeout * 1000);
	s->cfg = cfg;
	s->state = ST_AUTH;
	(void)snprintf(s->peer, sizeof(s->peer), "%s", peer);
	set_nonblocking(rfd);
	set_nonblocking(wfd);
	return 0;
}

static int
session_close(struct session *s)
{
	int status = s->internal ? EXIT_INTERNAL : 0;

	(void)chan_flush(s->ch);
	log_session_end(s);
	maildrop_close(s->md);
	explicit_bzero(s->ch, sizeof(*s->ch));
	free(s->ch);
	return status;
}

/* AUTHORIZATION up to the greeting (RFC 1939 section 4, RFC 8314). */
static int
greet(struct session *s)
{
	const char *why;

	chan_set_deadline(s->ch, s->cfg->login_timeout * 1000);
	if (s->cfg->implicit_tls) {
		if (tls_start(s->cfg->tls, s->ch->rfd, s->ch->wfd,
		    chan_wait_ms(s->ch), &why) != 0) {
			syslog(LOG_NOTICE, "peer=%s: %s", s->peer, why);
			return -1;	/* the client's failure, not ours */
		}
		s->ch->tls = s->cfg->tls;
	}
	(void)chan_printf(s->ch, "+OK pop3d ready%s%s\r\n",
	    s->timestamp[0] ? " " : "", s->timestamp);
	return 0;
}

/* Not started as root: nothing to separate, one process as always. */
int
run_single(struct config *cfg, const char *peer)
{
	struct session s;
	struct gate g;
	int status = 0;

	if (session_open(&s, cfg, 0, 1, peer) != 0)
		return EXIT_INTERNAL;
	gate_init(&g, cfg, s.peer);
	s.gate = &g;
	memcpy(s.timestamp, g.timestamp, sizeof(s.timestamp));
	if (proxy_peer(&s) != 0)
		status = session_close(&s);
	else if ((s.proxied && gate_set_peer(&g, s.peer) != 0) ||
	    greet(&s) != 0)
		free(s.ch);
	else {
		session_loop(&s);
		status = session_close(&s);
	}
	tls_end(cfg->tls);
	return status;
}

/* The pre-authentication process (front.c): AUTHORIZATION as the front
   user in its chroot; it ends here, or hands over, or relays TLS. */
void
run_front(struct config *cfg, struct front *f, const char *peer)
{
	struct session s;
	char timestamp[GATE_TIMESTAMP_MAX];

	if (front_setup(cfg, f, timestamp, sizeof(timestamp)) != 0 ||
	    session_open(&s, cfg, 0, 1, peer) != 0)
		_exit(EXIT_INTERNAL);	/* root tells the client */
	s.front = f;
	memcpy(s.timestamp, timestamp, sizeof(s.timestamp));
	/* the header first: before the TLS handshake and the greeting */
	if (proxy_peer(&s) == 0 &&
	    (!s.proxied || front_tell_peer(f, s.peer) == 0) && greet(&s) == 0)
		session_loop(&s);
	if (s.leave == LEAVE_HANDOFF)
		front_handoff(f, s.ch, s.ch->timeout_ms);
	(void)session_close(&s);
	tls_end(cfg->tls);
	_exit(0);	/* LeakSanitizer cannot run in the chroot */
}


/* Root after a verdict of its own: the user's session, on fd 0/1 once
   the front has exited, or on the link while the front relays TLS. */
static int
root_session(const struct config *cfg, struct front *f, struct verdict *v,
    struct authrec *handoff, const char *peer)
{
	int relay = handoff->data[0] == HANDOFF_RELAY;
	struct session s;
	int status;

	if (!relay)
		front_reap(f);	/* fd 0 is root's alone from now on */
	if (session_open(&s, cfg, relay ? f->link : 0, relay ? f->link : 1,
	    peer) != 0)
		return EXIT_INTERNAL;
	(void)chan_preload(s.ch, handoff->data + 1, handoff->len - 1);
	authrec_wipe(handoff);
	say_reply(&s, login(&s, &v->user, v->method));
	explicit_bzero(v, sizeof(*v));
	if (s.leave == STAY)
		session_loop(&s);
	status = session_close(&s);
	if (close(f->link) != 0)
		syslog(LOG_ERR, "close: %s", strerror(errno));
	front_reap(f);		/* the relay ends with root's side */
	return status;
}

/* Root: AUTHORIZATION through the front's records, then the session. */
int
run_root(const struct config *cfg, struct front *f, const char *peer)
{
	struct authrec *rec;
	struct verdict v;
	struct gate g;
	const char *why;
	enum gate_end e;
	int status;

	if ((rec = malloc(sizeof(*rec))) == NULL) {
		front_kill(f);
		return EXIT_INTERNAL;
	}
	gate_init(&g, cfg, peer);
	e = gate_serve(&g, f->link, &v, rec, &why);
	if (e == GATE_END_LOGIN)
		status = root_session(cfg, f, &v, rec, g.peer);
	else if (e == GATE_END_SETUP) {
		startup_error("%s", why);
		front_reap(f);
		status = EXIT_SETUP;
	} else if (e == GATE_END_CLIENT) {
		front_reap(f);
		status = 0;
	} else {
		syslog(LOG_ERR, "peer=%s: pre-authentication process: %s; "
		    "session ended", g.peer, why);
		front_kill(f);
		status = EXIT_INTERNAL;
	}
	authrec_wipe(rec);
	free(rec);
	return status;
}
