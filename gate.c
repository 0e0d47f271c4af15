/*
 * gate.c - the root process's AUTHORIZATION state (RFC 1939 section 4):
 * it reads only the front's bounded records, checks them with auth.c,
 * counts failures, makes the fail delay and decides when to close.
 *
 * It also applies the per-source penalty (penalty.c, README "Brute
 * force") to the peer, which a PEER record may set once, before any
 * credential, to the address of a PROXY header.
 *
 * Nothing the front sends can skip a check: a record is a claim ("this
 * name, this password"), never a result, and root alone holds the APOP
 * timestamp and secrets.  Also used in-process when pop3d was not started
 * as root (no separation is possible then).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/random.h>

#include "gate.h"
#include "logtext.h"
#include "penalty.h"

static void
make_timestamp(struct gate *g)
{
	char host[64];
	uint64_t r = 0;

	if (gethostname(host, sizeof(host)) != 0)
		memcpy(host, "localhost", 10);
	host[sizeof(host) - 1] = '\0';
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r ^= (uint64_t)time(NULL);
	(void)snprintf(g->timestamp, sizeof(g->timestamp),
	    "<%ld.%016" PRIx64 "@%s>", (long)getpid(), r, host);
}

void
gate_init(struct gate *g, const struct config *cfg, const char *peer)
{
	memset(g, 0, sizeof(*g));
	g->cfg = cfg;
	(void)snprintf(g->peer, sizeof(g->peer), "%s", peer);
	if (cfg->apop)
		make_timestamp(g);
	(void)clock_gettime(CLOCK_MONOTONIC, &g->deadline);
	g->deadline.tv_sec += cfg->login_timeout;
}

int
gate_ms_left(const struct gate *g)
{
	struct timespec now;
	long ms;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (g->deadline.tv_sec - now.tv_sec) * 1000L +
	    (g->deadline.tv_nsec - now.tv_nsec) / 1000000L;
	return ms > 0 ? (int)ms : 0;
}

int
gate_set_peer(struct gate *g, const char *addr)
{
	unsigned char bin[sizeof(struct in6_addr)];

	if (g->peer_set || g->cfg->proxy_from.count == 0 ||
	    strlen(addr) >= sizeof(g->peer) ||
	    (inet_pton(AF_INET, addr, bin) != 1 &&
	    inet_pton(AF_INET6, addr, bin) != 1))
		return -1;
	memcpy(g->peer, addr, strlen(addr) + 1);
	g->peer_set = 1;
	return 0;
}

/*
 * The answer to an attempt waits until secs after the command's arrival,
 * so that the reply time does not tell which hash method an account
 * uses or whether it exists (only when the wait is longer than the
 * crypt).
 */
static void
pause_from(const struct timespec *arrival, unsigned secs)
{
	struct timespec until = *arrival;

	if (secs == 0)
		return;
	until.tv_sec += (time_t)secs;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until,
	    NULL) == EINTR)
		;
}

/* The penalty state cannot be used: say so once, go on without it.
   Without root there is no root-owned state to keep (one process). */
static void
penalty_trouble(struct gate *g, const char *why)
{
	if (!g->penalty_off)
		syslog(LOG_ERR, "peer=%s: penalty state in %s: %s: %s; no "
		    "penalty", g->peer, g->cfg->penalty_dir, why,
		    strerror(errno));
	g->penalty_off = 1;
}

/* README "Brute force": how long this address's attempt waits. */
static unsigned
penalty_wait(struct gate *g)
{
	const char *why;
	unsigned secs = 0;

	if (g->penalty_off || !g->cfg->separate)
		return 0;
	if (penalty_delay(g->cfg->penalty_dir, g->peer, penalty_now(), &secs,
	    &why) != 0) {
		penalty_trouble(g, why);
		return 0;
	}
	return secs;
}

static void
penalty_record(struct gate *g, int failed)
{
	const char *why;
	int r;

	if (g->penalty_off || !g->cfg->separate)
		return;
	r = failed ? penalty_failed(g->cfg->penalty_dir, g->peer,
	    penalty_now(), &why) : penalty_clear(g->cfg->penalty_dir, g->peer,
	    &why);
	if (r != 0)
		penalty_trouble(g, why);
}

static void
login_failed(struct gate *g, const char *name, const char *method,
    const struct timespec *arrival, unsigned secs, struct verdict *v)
{
	char esc[LOG_TEXT_MAX];

	g->fails++;
	syslog(LOG_NOTICE, "authentication failed: user=%s peer=%s method=%s",
	    log_text(name, esc), g->peer, method);
	penalty_record(g, 1);
	/* RFC 1939 section 13's pause, after the penalty's */
	pause_from(arrival, secs + (unsigned)g->cfg->fail_delay);
	if (g->fails >= MAX_AUTH_FAILS) {
		v->result = GATE_CLOSE;
		(void)snprintf(v->reply, sizeof(v->reply), "-ERR [AUTH] "
		    "invalid user name or password; too many failures, "
		    "closing");
		return;
	}
	v->result = GATE_FAIL;
	(void)snprintf(v->reply, sizeof(v->reply),
	    "-ERR [AUTH] invalid user name or password");
}

/* One credential through auth.c; *name is what to log on failure. */
static enum auth_result
check_record(struct gate *g, struct authrec *rec, struct verdict *v,
    const char **name, const char **why)
{
	const struct auth_config *ac = &g->cfg->auth;
	char **f = rec->field;

	*why = "invalid user name or password";
	switch (rec->type) {
	case REC_PASS:
		v->method = "USER";
		*name = f[0];
		if (!auth_name_valid(f[0]))
			return AUTH_FAIL;
		return auth_password(ac, f[0], f[1], &v->user, why);
	case REC_PLAIN:
		v->method = "PLAIN";
		*name = "(sasl)";	/* the line fail2ban knows */
		/* RFC 4616 section 2: only the user's own identity */
		if ((f[0][0] != '\0' && strcmp(f[0], f[1]) != 0) ||
		    !auth_name_valid(f[1]))
			return AUTH_FAIL;
		return auth_password(ac, f[1], f[2], &v->user, why);
	default:
		v->method = "APOP";
		*name = f[0];	/* escaped when logged, valid or not */
		if (g->timestamp[0] == '\0' || !auth_name_valid(f[0]))
			return AUTH_FAIL;
		return auth_apop(ac, f[0], g->timestamp, f[1], &v->user, why);
	}
}

void
gate_check(struct gate *g, struct authrec *rec,
    const struct timespec *arrival, struct verdict *v)
{
	char name[AUTH_NAME_MAX * 4 + 1];
	const char *who = "", *why = NULL;
	enum auth_result r;
	unsigned secs;

	memset(v, 0, sizeof(*v));
	g->peer_set = 1;	/* no PEER after a credential */
	secs = penalty_wait(g);
	r = check_record(g, rec, v, &who, &why);
	(void)snprintf(name, sizeof(name), "%s", who);
	authrec_wipe(rec);
	switch (r) {
	case AUTH_OK:
		pause_from(arrival, secs);
		penalty_record(g, 0);
		v->result = GATE_LOGIN;
		break;
	case AUTH_TEMP:
		pause_from(arrival, secs);
		syslog(LOG_ERR, "peer=%s: %s", g->peer, why);
		v->result = GATE_FAIL;
		(void)snprintf(v->reply, sizeof(v->reply),
		    "-ERR [SYS/TEMP] %s", why);
		break;
	default:
		login_failed(g, name, v->method, arrival, secs, v);
	}
	explicit_bzero(name, sizeof(name));
}

static int
send_verdict(int link, const struct verdict *v)
{
	char action[2] = { 0, 0 };
	const char *f[2] = { action, v->reply };

	action[0] = v->result == GATE_LOGIN ? VERDICT_LOGIN :
	    v->result == GATE_CLOSE ? VERDICT_CLOSE : VERDICT_FAIL;
	return authrec_send(link, REC_VERDICT, f, 2);
}

/* Wait for READY; a SETUP record carries the front's reason. */
static enum gate_end
await_ready(int link, struct authrec *r, const char **why)
{
	static char reason[AUTHREC_TEXT_MAX + 1];
	int got;

	got = authrec_recv(link, r, -1, why);
	if (got == 1 && r->type == REC_READY)
		return GATE_END_CLIENT;		/* i.e. go on */
	if (got == 1 && r->type == REC_SETUP) {
		(void)snprintf(reason, sizeof(reason), "%s", r->field[0]);
		*why = reason;
		return GATE_END_SETUP;
	}
	if (got == 0)
		*why = "the pre-authentication process ended during setup";
	else if (got == 1)
		*why = "record out of order";
	return GATE_END_SETUP;
}

static int
is_credential(int type)
{
	return type == REC_PASS || type == REC_PLAIN || type == REC_APOP;
}

enum gate_end
gate_serve(struct gate *g, int link, struct verdict *v,
    struct authrec *rec, const char **why)
{
	const char *hello[1] = { g->timestamp };
	struct timespec arrival;
	enum gate_end e;
	int got, hello_failed;

	/* a front that failed its setup (say, a bad certificate) has said
	   why and gone before HELLO: its reason is still there to read */
	hello_failed = authrec_send(link, REC_HELLO, hello, 1) != 0;
	if ((e = await_ready(link, rec, why)) != GATE_END_CLIENT)
		return e;
	if (hello_failed) {
		*why = "cannot talk to the pre-authentication process";
		return GATE_END_SETUP;
	}
	for (;;) {
		got = authrec_recv(link, rec, gate_ms_left(g) +
		    FRONT_GRACE_MS, why);
		if (got == 0)
			return GATE_END_CLIENT;	/* QUIT, EOF, autologout */
		(void)clock_gettime(CLOCK_MONOTONIC, &arrival);
		if (got < 0)
			return GATE_END_BAD;
		if (rec->type == REC_PEER) {
			*why = "bad or late PEER record";
			if (gate_set_peer(g, rec->field[0]) != 0)
				return GATE_END_BAD;
			continue;
		}
		if (!is_credential(rec->type)) {
			*why = "record out of order";
			return GATE_END_BAD;
		}
		gate_check(g, rec, &arrival, v);
		if (send_verdict(link, v) != 0)
			return GATE_END_CLIENT;
		if (v->result == GATE_CLOSE)
			return GATE_END_CLIENT;
		if (v->result == GATE_LOGIN)
			break;
	}
	got = authrec_recv(link, rec, HANDOFF_WAIT_MS, why);
	if (got == 1 && rec->type == REC_HANDOFF)
		return GATE_END_LOGIN;
	if (got >= 0)
		*why = "no hand-off after the login";
	return GATE_END_BAD;
}
