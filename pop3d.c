/*
 * pop3d.c - one POP3 session on stdin/stdout (RFC 1939, 2449, 2595, 3206,
 * 5034), as inetd, xinetd, systemd, stunnel or tcpserver start it.
 *
 * This file holds the protocol: the AUTHORIZATION and TRANSACTION states,
 * their command table and replies, and main.  The options are options.c,
 * a session's start, loop and processes session.c, the administrator's
 * commands admin.c; passwords are checked in auth.c, the mailbox is read
 * and updated by maildrop.c, TLS lives in tls.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "authrec.h"
#include "chan.h"
#include "front.h"
#include "gate.h"
#include "logtext.h"
#include "maildrop.h"
#include "params.h"
#include "options.h"
#include "session.h"
#include "admin.h"
#include "tls.h"


static enum reply ok(struct session *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static enum reply err(struct session *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static enum reply
ok(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(s->text, sizeof(s->text), fmt, ap);
	va_end(ap);
	return REPLY_OK;
}

static enum reply
err(struct session *s, const char *code, const char *fmt, ...)
{
	va_list ap;

	s->code = code;
	va_start(ap, fmt);
	(void)vsnprintf(s->text, sizeof(s->text), fmt, ap);
	va_end(ap);
	return REPLY_ERR;
}

static const char *
md_code(enum md_status st)
{
	switch (st) {
	case MD_INUSE:
		return "IN-USE";
	case MD_PERM:
		return "SYS/PERM";
	default:
		return "SYS/TEMP";
	}
}

/* Clear-text passwords only over TLS, unless no certificate is set up
   or --allow-plaintext says otherwise (RFC 2595 section 2). */
static int
plaintext_ok(const struct session *s)
{
	return s->cfg->tls == NULL || s->cfg->allow_plaintext ||
	    tls_active(s->ch->tls);
}

static enum reply
plaintext_refused(struct session *s)
{
	return err(s, "AUTH", "plaintext authentication disallowed on "
	    "an unencrypted connection; use STLS first");
}

/* Message number argument: a listed, undeleted message. */
static int
msg_arg(struct session *s, const char *arg, unsigned *n)
{
	if (parse_msgno(arg, n) != 0 || !maildrop_valid(s->md, *n)) {
		(void)err(s, NULL, "no such message");
		return -1;
	}
	if (maildrop_deleted(s->md, *n)) {
		(void)err(s, NULL, "message %u is deleted", *n);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* AUTHORIZATION state                                               */

enum reply
login(struct session *s, const struct auth_user *u, const char *method)
{
	struct md_config mc;
	char path[PATH_MAX], ixpath[PATH_MAX];
	const char *why = NULL;
	unsigned count;
	uint64_t octets;
	enum md_status st;
	gid_t spool, *groups;
	int ngroups, become;
	char esc[LOG_TEXT_MAX];

	s->leave = LEAVE_ERROR;	/* from here on, any failure ends it */
	s->internal = 1;
	s->end = "cannot serve the user";
	if (expand_maildrop(s->cfg->maildrop, u, path, sizeof(path)) != 0)
		return err(s, "SYS/PERM", "maildrop path too long");
	ngroups = user_groups(u, &groups);
	spool = spool_group(u, path, groups, ngroups);
	become = auth_become(u, groups, ngroups, spool, &why);
	free(groups);
	if (become != 0)
		return err(s, "SYS/PERM", "%s", why);
	mc.path = path;
	mc.lock_wait = LOCK_WAIT;
	mc.stale_secs = STALE_SECS;
	mc.spool_gid = spool;
	mc.inspect = 0;
	mc.index_path = index_path(s->cfg, u, path, ixpath, sizeof(ixpath));
	if ((st = maildrop_open(&s->md, &mc, &why)) != MD_OK) {
		syslog(LOG_ERR, "user=%s peer=%s: cannot open the maildrop: "
		    "%s", log_text(u->name, esc), s->peer, why);
		return err(s, md_code(st), "%s", why);
	}
	s->who = *u;
	s->state = ST_TRANS;
	s->leave = STAY;
	s->internal = 0;
	s->end = NULL;
	chan_set_deadline(s->ch, -1);	/* --login-timeout is over */
	maildrop_stat(s->md, &count, &octets);
	syslog(LOG_INFO, "login: user=%s peer=%s method=%s messages=%u "
	    "octets=%" PRIu64, log_text(u->name, esc), s->peer, method, count,
	    octets);
	return ok(s, "%s has %u messages (%" PRIu64 " octets)", u->name,
	    count, octets);
}

/*
 * Every credential goes to root's checks (gate.c) as a record: over the
 * link when separated, in this process when not started as root.
 */
static enum reply
ask_root(struct session *s, int type, const char *const *fields, int n)
{
	struct authrec *rec;
	struct timespec arrival;
	struct verdict v;
	int r = -1;

	(void)clock_gettime(CLOCK_MONOTONIC, &arrival);
	if (s->front != NULL)
		r = front_ask(s->front, s->ch, type, fields, n, &v);
	else if ((rec = malloc(sizeof(*rec))) != NULL) {
		if ((r = authrec_make(rec, type, fields, n)) == 0)
			gate_check(s->gate, rec, &arrival, &v);
		authrec_wipe(rec);
		free(rec);
	}
	if (r != 0) {
		s->leave = LEAVE_ERROR;
		s->internal = 1;
		s->end = "the root process went away";
		return REPLY_DONE;
	}
	s->have_user = 0;
	if (v.result == GATE_LOGIN && s->front != NULL) {
		s->leave = LEAVE_HANDOFF;	/* root takes it from here */
		return REPLY_DONE;
	}
	if (v.result == GATE_LOGIN)
		return login(s, &v.user, v.method);
	if (v.result == GATE_CLOSE) {
		s->leave = LEAVE_ERROR;
		s->end = "too many failed logins";
	}
	(void)snprintf(s->text, sizeof(s->text), "%s", v.reply);
	explicit_bzero(&v, sizeof(v));
	return REPLY_LINE;
}

static enum reply
cmd_user(struct session *s, int argc, char **argv)
{
	(void)argc;
	if (!plaintext_ok(s))
		return plaintext_refused(s);
	if (!auth_name_valid(argv[0]))
		return err(s, "AUTH", "invalid user name");
	memcpy(s->user, argv[0], strlen(argv[0]) + 1);
	s->have_user = 1;
	return ok(s, "send PASS");
}

static enum reply
cmd_pass(struct session *s, int argc, char **argv)
{
	const char *f[2] = { s->user, argv[0] };

	(void)argc;
	if (!plaintext_ok(s))
		return plaintext_refused(s);
	if (!s->have_user)
		return err(s, NULL, "give USER first");
	return ask_root(s, REC_PASS, f, 2);
}

static enum reply
cmd_apop(struct session *s, int argc, char **argv)
{
	const char *f[2] = { argv[0], argv[1] };

	(void)argc;
	if (s->timestamp[0] == '\0')
		return err(s, NULL, "APOP is not available");
	return ask_root(s, REC_APOP, f, 2);
}

/* The SASL PLAIN response (RFC 4616), decoded here, checked by root. */
static enum reply
plain_response(struct session *s, const char *resp)
{
	char raw[AUTH_PLAIN_MAX];
	const char *f[3];
	enum reply r;

	if (strcmp(resp, "*") == 0)
		return err(s, NULL, "authentication cancelled");
	if (auth_plain_decode(resp, raw, &f[0], &f[1], &f[2]) != 0) {
		/* a malformed response is a failed login, as a wrong
		   password is: counted, delayed, logged by root */
		f[0] = f[2] = "";
		f[1] = "(sasl)";
	}
	r = ask_root(s, REC_PLAIN, f, 3);
	explicit_bzero(raw, sizeof(raw));
	return r;
}

/* RFC 5034: AUTH PLAIN, with the initial response or after "+ ". */
static enum reply
cmd_auth(struct session *s, int argc, char **argv)
{
	char line[CMD_LINE_MAX + 1];
	enum reply r;
	size_t len;

	if (argc == 0) {	/* the pre-RFC 5034 mechanism list */
		(void)chan_printf(s->ch, "+OK\r\n%s.\r\n",
		    plaintext_ok(s) ? "PLAIN\r\n" : "");
		return REPLY_DONE;
	}
	if (strcasecmp(argv[0], "PLAIN") != 0)
		return err(s, NULL, "unsupported authentication mechanism");
	if (!plaintext_ok(s))
		return plaintext_refused(s);
	if (argc == 2)
		return plain_response(s, strcmp(argv[1], "=") == 0 ?
		    argv[1] + 1 : argv[1]);
	(void)chan_write(s->ch, "+ \r\n", 4);
	switch (chan_getline(s->ch, line, &len)) {
	case GL_LINE:
		break;
	case GL_TOOLONG:
		return err(s, NULL, "line too long");
	default:
		s->leave = LEAVE_EOF;
		s->end = "eof";
		return REPLY_DONE;
	}
	r = plain_response(s, line);
	explicit_bzero(line, sizeof(line));
	return r;
}

/* RFC 2595 section 4: STLS, then the session starts over. */
static enum reply
cmd_stls(struct session *s, int argc, char **argv)
{
	const char *why;

	(void)argc;
	(void)argv;
	if (s->cfg->tls == NULL)
		return err(s, NULL, "STLS is not available");
	if (tls_active(s->ch->tls))
		return err(s, NULL, "TLS is already active");
	(void)chan_printf(s->ch, "+OK begin TLS negotiation\r\n");
	if (chan_flush(s->ch) != 0) {
		s->leave = LEAVE_EOF;
		s->end = "eof";
		return REPLY_DONE;
	}
	/* plaintext pipelined after STLS must never run (CVE-2011-0411) */
	chan_wipe_input(s->ch);
	if (tls_start(s->cfg->tls, s->ch->rfd, s->ch->wfd,
	    chan_wait_ms(s->ch), &why) != 0) {
		syslog(LOG_NOTICE, "peer=%s: %s", s->peer, why);
		s->leave = LEAVE_ERROR;
		s->end = "TLS handshake failed";
		s->ch->failed = 1;
		return REPLY_DONE;
	}
	s->ch->tls = s->cfg->tls;
	s->have_user = 0;
	return REPLY_DONE;
}

/* ---------------------------------------------------------------- */
/* Both states                                                       */

/* RFC 2449 section 5: list what works, in the state we are in. */
static enum reply
cmd_capa(struct session *s, int argc, char **argv)
{
	int auth = s->state == ST_AUTH;

	(void)argc;
	(void)argv;
	(void)chan_printf(s->ch, "+OK capability list follows\r\n"
	    "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
	    "EXPIRE NEVER\r\n");
	if (auth && plaintext_ok(s))
		(void)chan_printf(s->ch, "USER\r\nSASL PLAIN\r\n");
	if (auth && s->cfg->tls != NULL && !tls_active(s->ch->tls))
		(void)chan_printf(s->ch, "STLS\r\n");
	(void)chan_printf(s->ch, "IMPLEMENTATION pop3d-%s\r\n.\r\n",
	    POP3D_VERSION);
	return REPLY_DONE;
}

/*
 * From UPDATE on, a superserver's SIGTERM (or a hangup) waits: the update
 * runs to its end under its locks anyway, and the client should hear how
 * it went.  The process exits right after the reply, so the signal is
 * never needed again; the autologout timer still bounds the reply.
 */
static void
hold_termination(void)
{
	sigset_t set;

	if (sigemptyset(&set) != 0 || sigaddset(&set, SIGTERM) != 0 ||
	    sigaddset(&set, SIGHUP) != 0 || sigaddset(&set, SIGINT) != 0 ||
	    sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		syslog(LOG_WARNING, "cannot hold SIGTERM during UPDATE: %s",
		    strerror(errno));
}

static enum reply
cmd_quit(struct session *s, int argc, char **argv)
{
	unsigned count;
	uint64_t octets;
	const char *why;
	enum md_status st;

	(void)argc;
	(void)argv;
	s->leave = LEAVE_QUIT;
	s->end = "quit";
	if (s->state == ST_AUTH)
		return ok(s, "pop3d signing off");
	/* the UPDATE state, RFC 1939 section 6 */
	hold_termination();
	maildrop_delete_stats(s->md, &count, &octets);
	if ((st = maildrop_update(s->md, &why)) != MD_OK) {
		char esc[LOG_TEXT_MAX];

		syslog(LOG_ERR, "user=%s: update failed: %s",
		    log_text(s->who.name, esc), why);
		s->end = "quit, update failed";
		/* README "Locking": a lock at QUIT is [SYS/TEMP] */
		return err(s, st == MD_INUSE ? "SYS/TEMP" : md_code(st), "%s",
		    why);
	}
	s->dele_n = count;
	s->dele_bytes = octets;
	maildrop_stat(s->md, &count, &octets);
	return ok(s, "pop3d signing off (%u messages deleted, %u left)",
	    s->dele_n, count);
}

/* ---------------------------------------------------------------- */
/* TRANSACTION state                                                 */

static enum reply
cmd_stat(struct session *s, int argc, char **argv)
{
	unsigned count;
	uint64_t octets;

	(void)argc;
	(void)argv;
	maildrop_stat(s->md, &count, &octets);
	return ok(s, "%u %" PRIu64, count, octets);
}

/* LIST and DELE need the messages' records (maildrop.h). */
static int
entries_arg(struct session *s)
{
	const char *why = NULL;
	enum md_status st;

	if ((st = maildrop_entries(s->md, &why)) == MD_OK)
		return 0;
	(void)err(s, md_code(st), "%s", why);
	return -1;
}

static enum reply
cmd_list(struct session *s, int argc, char **argv)
{
	unsigned n, count;
	uint64_t octets;

	if (entries_arg(s) != 0)
		return REPLY_ERR;
	if (argc == 1) {
		if (msg_arg(s, argv[0], &n) != 0)
			return REPLY_ERR;
		return ok(s, "%u %" PRIu64, n, maildrop_size(s->md, n));
	}
	maildrop_stat(s->md, &count, &octets);
	(void)chan_printf(s->ch, "+OK %u messages (%" PRIu64 " octets)\r\n",
	    count, octets);
	for (n = 1; n <= maildrop_count(s->md); n++)
		if (!maildrop_deleted(s->md, n))
			(void)chan_printf(s->ch, "%u %" PRIu64 "\r\n", n,
			    maildrop_size(s->md, n));
	(void)chan_write(s->ch, ".\r\n", 3);
	return REPLY_DONE;
}

static char *
client_room(void *ctx, size_t min, size_t *len)
{
	return chan_room(ctx, min, len);
}

static void
client_put(void *ctx, size_t n)
{
	chan_put(ctx, n);
}

/* RETR and TOP: "+OK", the message, "." -- or a cut-off response and
   the end of the session if the mailbox changes while we send. */
static enum reply
send_message(struct session *s, unsigned n, long lines)
{
	const struct md_out out = { client_room, client_put, s->ch };
	const char *why = NULL;
	enum md_status st;

	if ((st = maildrop_check(s->md, n, lines, &why)) != MD_OK)
		return err(s, md_code(st), "%s", why);
	chan_mark(s->ch);	/* a cut keeps the replies before this one */
	if (lines < 0)
		(void)chan_printf(s->ch, "+OK %" PRIu64 " octets\r\n",
		    maildrop_size(s->md, n));
	else
		(void)chan_printf(s->ch, "+OK top of message follows\r\n");
	st = maildrop_send(s->md, n, lines, &out, &why);
	if (st != MD_OK) {
		s->leave = st == MD_CLIENT ? LEAVE_EOF : LEAVE_ERROR;
		s->internal = st != MD_CLIENT;
		s->end = st == MD_CLIENT ? "client went away" : why;
		chan_cut(s->ch);	/* never a "." after a cut message */
		return REPLY_DONE;
	}
	(void)chan_write(s->ch, ".\r\n", 3);
	if (lines < 0) {
		s->retr_n++;
		s->retr_bytes += maildrop_size(s->md, n);
	}
	return REPLY_DONE;
}

static enum reply
cmd_retr(struct session *s, int argc, char **argv)
{
	unsigned n;

	(void)argc;
	if (msg_arg(s, argv[0], &n) != 0)
		return REPLY_ERR;
	return send_message(s, n, -1);
}

static enum reply
cmd_top(struct session *s, int argc, char **argv)
{
	unsigned n;
	long lines;

	(void)argc;
	if (msg_arg(s, argv[0], &n) != 0)
		return REPLY_ERR;
	if (parse_lines(argv[1], &lines) != 0)
		return err(s, NULL, "invalid number of lines");
	return send_message(s, n, lines);
}

static enum reply
cmd_dele(struct session *s, int argc, char **argv)
{
	unsigned n;

	(void)argc;
	if (entries_arg(s) != 0 || msg_arg(s, argv[0], &n) != 0)
		return REPLY_ERR;
	maildrop_delete(s->md, n);
	return ok(s, "message %u deleted", n);
}

static enum reply
cmd_noop(struct session *s, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return ok(s, "%s", "");	/* a bare "+OK" */
}

static enum reply
cmd_rset(struct session *s, int argc, char **argv)
{
	unsigned count;
	uint64_t octets;

	(void)argc;
	(void)argv;
	maildrop_undelete_all(s->md);
	maildrop_stat(s->md, &count, &octets);
	return ok(s, "maildrop has %u messages (%" PRIu64 " octets)", count,
	    octets);
}

static enum reply
cmd_uidl(struct session *s, int argc, char **argv)
{
	char uidl[MD_UIDL_MAX + 1], *p;
	const char *why = NULL;
	enum md_status st;
	unsigned n = 1;
	size_t room, len;

	if (argc == 1 && msg_arg(s, argv[0], &n) != 0)
		return REPLY_ERR;
	/* the first UIDL computes them all; an error must precede "+OK" */
	if (maildrop_count(s->md) > 0 &&
	    (st = maildrop_uidl(s->md, n, uidl, &why)) != MD_OK)
		return err(s, md_code(st), "%s", why);
	if (argc == 1)
		return ok(s, "%u %s", n, uidl);
	(void)chan_write(s->ch, "+OK unique-id listing follows\r\n", 31);
	/* formatted straight into the output buffer, a buffer at a time:
	   a big maildrop's listing is one line a message */
	for (n = 1; (p = chan_room(s->ch, MD_UIDL_LINE_MAX, &room)) != NULL &&
	    (len = maildrop_uidl_lines(s->md, &n, p, room)) > 0; )
		chan_put(s->ch, len);
	(void)chan_write(s->ch, ".\r\n", 3);
	return REPLY_DONE;
}

/* ---------------------------------------------------------------- */
/* The command table and the dispatcher                              */

#define ARG_RAW		1	/* the argument is the rest of the line */
#define ARG_LONG	2	/* arguments may exceed 40 characters */

struct command {
	const char *name;
	unsigned states;
	int min_args, max_args;
	int flags;
	enum reply (*fn)(struct session *, int, char **);
};

static const struct command commands[] = {
	{ "USER", ST_AUTH, 1, 1, 0, cmd_user },
	{ "PASS", ST_AUTH, 1, 1, ARG_RAW, cmd_pass },
	{ "APOP", ST_AUTH, 2, 2, 0, cmd_apop },
	{ "AUTH", ST_AUTH, 0, 2, ARG_LONG, cmd_auth },
	{ "STLS", ST_AUTH, 0, 0, 0, cmd_stls },
	{ "CAPA", ST_AUTH | ST_TRANS, 0, 0, 0, cmd_capa },
	{ "QUIT", ST_AUTH | ST_TRANS, 0, 0, 0, cmd_quit },
	{ "STAT", ST_TRANS, 0, 0, 0, cmd_stat },
	{ "LIST", ST_TRANS, 0, 1, 0, cmd_list },
	{ "RETR", ST_TRANS, 1, 1, 0, cmd_retr },
	{ "DELE", ST_TRANS, 1, 1, 0, cmd_dele },
	{ "NOOP", ST_TRANS, 0, 0, 0, cmd_noop },
	{ "RSET", ST_TRANS, 0, 0, 0, cmd_rset },
	{ "TOP", ST_TRANS, 2, 2, 0, cmd_top },
	{ "UIDL", ST_TRANS, 0, 1, 0, cmd_uidl },
};

static const struct command *
find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcasecmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

/* Split "rest" at spaces into at most MAX_ARGS + 1 arguments. */
static int
split_args(char *rest, char **argv)
{
	int argc = 0;

	while (*rest != '\0' && argc <= MAX_ARGS) {
		while (*rest == ' ')
			rest++;
		if (*rest == '\0')
			break;
		argv[argc++] = rest;
		rest += strcspn(rest, " ");
		if (*rest != '\0')
			*rest++ = '\0';
	}
	return argc;
}

static enum reply
run_command(struct session *s, char *line, size_t len)
{
	const struct command *cmd;
	char *argv[MAX_ARGS + 1], *rest;
	int argc;

	size_t kw;

	if (memchr(line, '\0', len) != NULL)
		return err(s, NULL, "NUL byte in command line");
	kw = strcspn(line, " ");
	rest = line + kw;
	if (kw < len)
		*rest++ = '\0';
	if (line[0] == '\0')
		return err(s, NULL, "empty command");
	if ((cmd = find_command(line)) == NULL)
		return err(s, NULL, "unknown command");
	if (!(cmd->states & s->state))
		return err(s, NULL, "%s is not valid in this state",
		    cmd->name);
	if (cmd->flags & ARG_RAW) {
		argv[0] = rest;		/* "PASS " has an empty argument */
		argc = kw < len;
	} else
		argc = split_args(rest, argv);
	if (argc < cmd->min_args || argc > cmd->max_args)
		return err(s, NULL, "wrong number of arguments for %s",
		    cmd->name);
	for (int i = 0; i < argc && !(cmd->flags & (ARG_RAW | ARG_LONG)); i++)
		if (strlen(argv[i]) > ARG_MAX_LEN)
			return err(s, NULL, "argument too long");
	return cmd->fn(s, argc, argv);
}


void
dispatch(struct session *s, char *line, size_t len)
{
	enum reply r;

	s->code = NULL;
	s->text[0] = '\0';
	r = run_command(s, line, len);
	explicit_bzero(line, len);
	say_reply(s, r);
}


void
say_reply(struct session *s, enum reply r)
{
	if (r == REPLY_OK)
		(void)chan_printf(s->ch, "+OK%s%s\r\n", s->text[0] ? " " : "",
		    s->text);
	else if (r == REPLY_ERR && s->code != NULL)
		(void)chan_printf(s->ch, "-ERR [%s] %s\r\n", s->code, s->text);
	else if (r == REPLY_ERR)
		(void)chan_printf(s->ch, "-ERR %s\r\n", s->text);
	else if (r == REPLY_LINE)	/* root's verdict, said as it is */
		(void)chan_printf(s->ch, "%s\r\n", s->text);
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct front f;
	char peer[PEER_TEXT_MAX];
	int r;

	options_init(&cfg);
	memset(&f, 0, sizeof(f));
	openlog("pop3d", LOG_PID | LOG_NDELAY, LOG_MAIL);
	(void)signal(SIGPIPE, SIG_IGN);
	/* passwords pass through this process: no core dump and no
	   ptrace, whatever fs.suid_dumpable says (again after each change
	   of credentials, which resets it) */
	{
		const char *why;
		(void)auth_no_dump(&why);
	}
	if ((r = parse_options(argc, argv, &cfg)) >= 0)
		return r;
	if (cfg.recover)
		return run_recover(argc - optind, argv + optind);
	/* Without TLS, OpenSSL serves only as a library of MACs and hashes,
	   fetched by their provider names: its configuration file is for
	   TLS policy, and its legacy tables of every cipher's and digest's
	   names (built on the first fetch) serve lookups by old names that
	   nothing here makes; both are left out, a good part of a
	   millisecond a session. */
	if (cfg.certs == 0 &&
	    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG |
	    OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ADD_ALL_DIGESTS,
	    NULL) != 1) {
		startup_error("cannot initialise OpenSSL");
		return EXIT_INTERNAL;
	}
	cfg.separate = geteuid() == 0 && cfg.check_user == NULL;
	if ((r = check_setup(&cfg)) >= 0)
		return r;
	if (cfg.check_user != NULL)
		return run_check_user(&cfg);
	/* replies are corked per input batch already; Nagle would hold a
	   small last write (a TLS record after a NewSessionTicket, the end
	   of a RETR) for the client's delayed ACK, 40 ms a time.  Not TCP
	   (a pipe, a unix socket): nothing to do, so the error is moot. */
	(void)setsockopt(1, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
	    sizeof(int));
	peer_address(peer, sizeof(peer));
	if (!cfg.separate)
		return run_single(&cfg, peer);
	if (front_check(&cfg, &f) != 0)
		return EXIT_SETUP;
	switch (front_fork(&f)) {
	case -1:
		startup_error("cannot start the pre-authentication process: "
		    "%s", strerror(errno));
		return EXIT_INTERNAL;
	case 0:
		run_front(&cfg, &f, peer);
	default:
		return run_root(&cfg, &f, peer);
	}
}

