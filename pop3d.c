/*
 * pop3d.c - one POP3 session on stdin/stdout (RFC 1939, 2449, 2595, 3206,
 * 5034), as inetd, xinetd, systemd, stunnel or tcpserver start it.
 *
 * This file holds the options, the client channel (line input, corked
 * output, timeouts), and the protocol: the AUTHORIZATION and TRANSACTION
 * states and their command table.  Passwords are checked in auth.c, the
 * mailbox is read and updated by maildrop.c, TLS lives in tls.c.
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
#include "mdindex.h"
#include "params.h"
#include "pop3d.h"
#include "tls.h"

/* ---------------------------------------------------------------- */
/* Startup errors: stderr by hand, one -ERR line under a superserver */

static int
stderr_is_socket(void)
{
	struct stat st;

	return fstat(2, &st) == 0 && S_ISSOCK(st.st_mode);
}

void
startup_error(const char *fmt, ...)
{
	static const char reply[] =
	    "-ERR [SYS/TEMP] server configuration error\r\n";
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	syslog(LOG_ERR, "%s", msg);
	if (stderr_is_socket()) {
		/* fd 2 is the client: nothing but one reply line */
		if (write(1, reply, sizeof(reply) - 1) < 0)
			syslog(LOG_ERR, "cannot tell the client: %s",
			    strerror(errno));
	} else
		(void)fprintf(stderr, "pop3d: %s\n", msg);
}

/* ---------------------------------------------------------------- */
/* Options                                                           */

static const struct option long_options[] = {
	{ "passwd", required_argument, NULL, 'p' },
	{ "maildrop", required_argument, NULL, 'm' },
	{ "apop", required_argument, NULL, 'a' },
	{ "timeout", required_argument, NULL, 't' },
	{ "fail-delay", required_argument, NULL, 'd' },
	{ "tls-cert", required_argument, NULL, 'c' },
	{ "tls-key", required_argument, NULL, 'k' },
	{ "tls", no_argument, NULL, 'T' },
	{ "allow-plaintext", no_argument, NULL, 'P' },
	{ "min-uid", required_argument, NULL, 'u' },
	{ "check-user", required_argument, NULL, 'C' },
	{ "recover", no_argument, NULL, 'R' },
	{ "front-user", required_argument, NULL, 'F' },
	{ "login-timeout", required_argument, NULL, 'L' },
	{ "index", required_argument, NULL, 'I' },
	{ "no-index", no_argument, NULL, 'N' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void
usage(FILE *fp)
{
	(void)fprintf(fp,
"usage: pop3d [options]           (one POP3 session on stdin/stdout)\n"
"       pop3d --check-user=USER [options]\n"
"       pop3d --recover MAILBOX...\n"
"  -p, --passwd=FILE        authenticate against FILE (passwd(5) format)\n"
"  -m, --maildrop=TEMPLATE  mailbox path: %%u user, %%h home, %%%% percent\n"
"                           (default %s)\n"
"  -a, --apop=FILE          APOP secrets (name:secret lines); enables APOP\n"
"  -t, --timeout=SECONDS    autologout timer (default %d)\n"
"  -d, --fail-delay=SECONDS pause after a failed login (default %d)\n"
"  -c, --tls-cert=FILE      PEM certificate chain; with --tls-key: STLS\n"
"  -k, --tls-key=FILE       PEM private key\n"
"  -T, --tls                implicit TLS before the greeting (pop3s)\n"
"  -P, --allow-plaintext    allow USER/PASS and AUTH PLAIN without TLS\n"
"                           even when a certificate is configured\n"
"  -u, --min-uid=UID        lowest uid that may log in (default %d)\n"
"  -C, --check-user=USER    show how USER would be served, then exit\n"
"  -R, --recover            finish interrupted updates of MAILBOX...\n"
"      --front-user=NAME    user of the pre-authentication process\n"
"                           (default %s, chrooted to %s)\n"
"      --login-timeout=SECONDS  total time allowed before login\n"
"                           (default %d)\n"
"  -I, --index=TEMPLATE     persistent index file: %%u user, %%h home,\n"
"                           %%m mailbox path, %%%% percent (default %s)\n"
"  -N, --no-index           no persistent index: scan at every login\n"
"  -h, --help               this text\n"
"  -V, --version            the version\n",
	    DEFAULT_MAILDROP, DEFAULT_TIMEOUT, DEFAULT_FAIL_DELAY,
	    DEFAULT_MIN_UID, FRONT_USER, FRONT_ROOT, DEFAULT_LOGIN_TIMEOUT,
	    DEFAULT_INDEX);
}

static int
parse_number(const char *s, long min, long max, long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtol(s, &end, 10);
	return errno != 0 || *end != '\0' || *v < min || *v > max ? -1 : 0;
}

/* A maildrop template may use %u, %h and %% only. */
static int
template_valid(const char *t)
{
	for (; *t != '\0'; t++)
		if (*t == '%' && (t[1] != 'u' && t[1] != 'h' && t[1] != '%'))
			return 0;
		else if (*t == '%')
			t++;
	return 1;
}

static int
expand_maildrop(const char *t, const struct auth_user *u, char *out,
    size_t size)
{
	size_t len = 0, add;
	const char *piece;
	char one[2] = { 0, 0 };

	for (; *t != '\0'; t++) {
		if (*t == '%' && t[1] == 'u')
			piece = u->name, t++;
		else if (*t == '%' && t[1] == 'h')
			piece = u->home, t++;
		else if (*t == '%' && t[1] == '%')
			piece = "%", t++;
		else
			one[0] = *t, piece = one;
		add = strlen(piece);
		if (len + add >= size)
			return -1;
		memcpy(out + len, piece, add);
		len += add;
	}
	out[len] = '\0';
	return 0;
}

/* A regular file we can open for reading (a FIFO would hang us). */
static int
readable_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	int ok;

	if (fd < 0)
		return 0;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	(void)close(fd);
	if (!ok)
		errno = EINVAL;
	return ok;
}

/* Returns -1 to go on, else the exit status. */
static int
parse_options(int argc, char **argv, struct config *cfg)
{
	long v;
	int c;

	opterr = 0;	/* getopt must not write to fd 2: maybe the client */
	while ((c = getopt_long(argc, argv, "p:m:a:t:d:c:k:TPu:C:RI:NhV",
	    long_options, NULL)) != -1) {
		switch (c) {
		case 'p': cfg->auth.passwd_file = optarg; break;
		case 'm': cfg->maildrop = optarg; break;
		case 'a': cfg->auth.apop_file = optarg; break;
		case 'c': cfg->cert = optarg; break;
		case 'k': cfg->key = optarg; break;
		case 'T': cfg->implicit_tls = 1; break;
		case 'P': cfg->allow_plaintext = 1; break;
		case 'C': cfg->check_user = optarg; break;
		case 'R': cfg->recover = 1; break;
		case 'F': cfg->front_user = optarg; break;
		case 'L':
			if (parse_number(optarg, 1, MAX_TIMEOUT, &v) != 0) {
				startup_error("--login-timeout wants 1 to %d "
				    "seconds", MAX_TIMEOUT);
				return EXIT_SETUP;
			}
			cfg->login_timeout = (int)v;
			break;
		case 'I': cfg->index = optarg; break;
		case 'N': cfg->index = NULL; break;
		case 't':
			if (parse_number(optarg, 1, MAX_TIMEOUT, &v) != 0) {
				startup_error("--timeout wants 1 to %d seconds",
				    MAX_TIMEOUT);
				return EXIT_SETUP;
			}
			cfg->timeout = (int)v;
			break;
		case 'd':
			if (parse_number(optarg, 0, MAX_FAIL_DELAY, &v) != 0) {
				startup_error("--fail-delay wants 0 to %d "
				    "seconds", MAX_FAIL_DELAY);
				return EXIT_SETUP;
			}
			cfg->fail_delay = (int)v;
			break;
		case 'u':
			if (parse_number(optarg, 0, INT_MAX, &v) != 0) {
				startup_error("--min-uid wants a uid");
				return EXIT_SETUP;
			}
			cfg->auth.min_uid = (uid_t)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			(void)printf("pop3d %s%s\n", POP3D_VERSION,
			    tls_built ? "" : " (built without TLS)");
			return 0;
		default:
			if (optopt == 'F' || optopt == 'L')
				startup_error("option %s needs a value",
				    argv[optind - 1]);
			else if (optopt != 0 && strchr("pmatdckuCI", optopt))
				startup_error("option -%c needs a value",
				    optopt);
			else
				startup_error("unknown option %s (try "
				    "--help)", argv[optind - 1]);
			return EXIT_SETUP;
		}
	}
	if (optind < argc && !cfg->recover) {
		startup_error("unexpected argument %s (try --help)",
		    argv[optind]);
		return EXIT_SETUP;
	}
	return -1;
}

/* Files named by options must be usable before any session starts. */
static int
check_setup(struct config *cfg)
{
	const char *why;

	if (!template_valid(cfg->maildrop)) {
		startup_error("--maildrop: only %%u, %%h and %%%% may follow "
		    "a %%");
		return EXIT_SETUP;
	}
	if (cfg->index != NULL && !mdindex_template_valid(cfg->index)) {
		startup_error("--index: only %%u, %%h, %%m and %%%% may follow "
		    "a %%");
		return EXIT_SETUP;
	}
	if (cfg->auth.passwd_file && !readable_file(cfg->auth.passwd_file)) {
		startup_error("cannot read --passwd file %s: %s",
		    cfg->auth.passwd_file, strerror(errno));
		return EXIT_SETUP;
	}
	if (cfg->auth.apop_file) {
		int r = auth_apop_usable(cfg->auth.apop_file, &why);
		if (r < 0) {
			startup_error("cannot read --apop file %s: %s",
			    cfg->auth.apop_file, strerror(errno));
			return EXIT_SETUP;
		}
		cfg->apop = r;
	}
	if (!tls_built && (cfg->cert || cfg->key || cfg->implicit_tls)) {
		startup_error("--tls-cert, --tls-key, --tls: this pop3d was "
		    "built without TLS (use stunnel)");
		return EXIT_SETUP;
	}
	if ((cfg->cert == NULL) != (cfg->key == NULL)) {
		startup_error("--tls-cert and --tls-key go together");
		return EXIT_SETUP;
	}
	if (cfg->implicit_tls && cfg->cert == NULL) {
		startup_error("--tls needs --tls-cert and --tls-key");
		return EXIT_SETUP;
	}
	if (cfg->cert != NULL && !readable_file(cfg->cert)) {
		startup_error("cannot read --tls-cert file %s: %s", cfg->cert,
		    strerror(errno));
		return EXIT_SETUP;
	}
	if (cfg->key != NULL && !readable_file(cfg->key)) {
		startup_error("cannot read --tls-key file %s: %s", cfg->key,
		    strerror(errno));
		return EXIT_SETUP;
	}
	/* separated, the front loads the key: root never holds it */
	if (cfg->cert != NULL && !cfg->separate &&
	    (cfg->tls = tls_load(cfg->cert, cfg->key, &why)) == NULL) {
		startup_error("%s", why);
		return EXIT_SETUP;
	}
	return -1;
}

/* ---------------------------------------------------------------- */
/* The session                                                       */

enum state { ST_AUTH = 1, ST_TRANS = 2 };
enum reply { REPLY_OK, REPLY_ERR, REPLY_LINE, REPLY_DONE };
enum leave { STAY, LEAVE_QUIT, LEAVE_EOF, LEAVE_ERROR, LEAVE_HANDOFF };

struct session {
	const struct config *cfg;
	struct chan *ch;
	enum state state;
	enum leave leave;
	const char *end;	/* how the session ended, for the log */
	char user[AUTH_NAME_MAX + 1];
	int have_user;
	struct front *front;	/* in the front: the link to root */
	struct gate *gate;	/* in one process: root's checks */
	char timestamp[GATE_TIMESTAMP_MAX];	/* APOP's, or "" */
	char peer[80];
	struct auth_user who;
	struct maildrop *md;
	const char *code;	/* RFC 2449 response code of an -ERR */
	char text[256];
	int internal;		/* an internal failure ended it: exit 1 */
	unsigned retr_n, dele_n;
	uint64_t retr_bytes, dele_bytes;
	struct timespec start;
};

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
	long v;

	if (parse_number(arg, 1, INT_MAX, &v) != 0 ||
	    !maildrop_valid(s->md, (unsigned)v)) {
		(void)err(s, NULL, "no such message");
		return -1;
	}
	*n = (unsigned)v;
	if (maildrop_deleted(s->md, *n)) {
		(void)err(s, NULL, "message %u is deleted", *n);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* AUTHORIZATION state                                               */

static int
groups_of(const struct auth_user *u, gid_t **groups)
{
	int n = 64;

	if (strcmp(u->source, "passwd file") == 0) {	/* as auth_become */
		if ((*groups = malloc(sizeof(**groups))) == NULL)
			return -1;
		(*groups)[0] = u->gid;
		return 1;
	}
	for (int tries = 0; tries < 4; tries++) {
		int want = n;
		if ((*groups = malloc((size_t)n * sizeof(**groups))) == NULL)
			return -1;
		if (getgrouplist(u->name, u->gid, *groups, &want) >= 0)
			return want;
		free(*groups);
		*groups = NULL;
		if (want <= n || want > 65536)
			return -1;
		n = want;
	}
	return -1;
}

/* Root keeps the spool's group as a saved gid only if locking needs it. */
static gid_t
spool_group(const struct auth_user *u, const char *path)
{
	gid_t *groups = NULL, g;
	int n;

	if (geteuid() != 0 || (n = groups_of(u, &groups)) < 0)
		return (gid_t)-1;
	g = maildrop_spool_group(path, u->uid, u->gid, groups, n);
	free(groups);
	return g;
}

/* The persistent index's path for this user, or NULL: none (--no-index,
   or a path too long, which costs a scan and is logged). */
static const char *
index_path(const struct config *cfg, const struct auth_user *u,
    const char *mbox, char *out, size_t size)
{
	if (cfg->index == NULL)
		return NULL;
	if (mdindex_path(cfg->index, u->name, u->home, mbox, out, size) != 0) {
		syslog(LOG_INFO, "user=%s: index path too long; not used",
		    u->name);
		return NULL;
	}
	return out;
}

static enum reply
login(struct session *s, const struct auth_user *u, const char *method)
{
	struct md_config mc;
	char path[PATH_MAX], ixpath[PATH_MAX];
	const char *why = NULL;
	unsigned count;
	uint64_t octets;
	enum md_status st;
	gid_t spool;
	char esc[LOG_TEXT_MAX];

	s->leave = LEAVE_ERROR;	/* from here on, any failure ends it */
	s->internal = 1;
	s->end = "cannot serve the user";
	if (expand_maildrop(s->cfg->maildrop, u, path, sizeof(path)) != 0)
		return err(s, "SYS/PERM", "maildrop path too long");
	spool = spool_group(u, path);
	if (auth_become(u, spool, &why) != 0)
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

static enum reply
cmd_list(struct session *s, int argc, char **argv)
{
	unsigned n, count;
	uint64_t octets;

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

static int
to_client(void *ctx, const char *buf, size_t len)
{
	return chan_write(ctx, buf, len);
}

/* RETR and TOP: "+OK", the message, "." -- or a cut-off response and
   the end of the session if the mailbox changes while we send. */
static enum reply
send_message(struct session *s, unsigned n, long lines)
{
	const char *why = NULL;
	enum md_status st;

	if ((st = maildrop_check(s->md, n, &why)) != MD_OK)
		return err(s, md_code(st), "%s", why);
	chan_mark(s->ch);	/* a cut keeps the replies before this one */
	if (lines < 0)
		(void)chan_printf(s->ch, "+OK %" PRIu64 " octets\r\n",
		    maildrop_size(s->md, n));
	else
		(void)chan_printf(s->ch, "+OK top of message follows\r\n");
	st = maildrop_send(s->md, n, lines, to_client, s->ch, &why);
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
	if (strspn(argv[1], "0123456789") != strlen(argv[1]))
		return err(s, NULL, "invalid number of lines");
	if (parse_number(argv[1], 0, LONG_MAX, &lines) != 0)
		lines = LONG_MAX;	/* all digits, just huge: all lines */
	return send_message(s, n, lines);
}

static enum reply
cmd_dele(struct session *s, int argc, char **argv)
{
	unsigned n;

	(void)argc;
	if (msg_arg(s, argv[0], &n) != 0)
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
	char uidl[MD_UIDL_MAX + 1];
	const char *why = NULL;
	enum md_status st;
	unsigned n = 1;

	if (argc == 1 && msg_arg(s, argv[0], &n) != 0)
		return REPLY_ERR;
	/* the first UIDL computes them all; an error must precede "+OK" */
	if (maildrop_count(s->md) > 0 &&
	    (st = maildrop_uidl(s->md, n, uidl, &why)) != MD_OK)
		return err(s, md_code(st), "%s", why);
	if (argc == 1)
		return ok(s, "%u %s", n, uidl);
	(void)chan_write(s->ch, "+OK unique-id listing follows\r\n", 31);
	for (n = 1; n <= maildrop_count(s->md); n++) {
		if (maildrop_deleted(s->md, n))
			continue;
		(void)maildrop_uidl(s->md, n, uidl, &why);
		(void)chan_printf(s->ch, "%u %s\r\n", n, uidl);
	}
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

static void say_reply(struct session *s, enum reply r);

static void
dispatch(struct session *s, char *line, size_t len)
{
	enum reply r;

	s->code = NULL;
	s->text[0] = '\0';
	r = run_command(s, line, len);
	explicit_bzero(line, len);
	say_reply(s, r);
}

/* ---------------------------------------------------------------- */
/* Session start and end                                             */

/* The peer for the log: getpeername on fd 0, or the launcher's word
   where fd 0 is a loopback or unix socket (stunnel, socat, tcpserver). */
static void
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
static int
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
	if (greet(&s) == 0) {
		session_loop(&s);
		status = session_close(&s);
	} else
		free(s.ch);
	tls_end(cfg->tls);
	return status;
}

/* The pre-authentication process (front.c): AUTHORIZATION as the front
   user in its chroot; it ends here, or hands over, or relays TLS. */
static void __attribute__((noreturn))
run_front(struct config *cfg, struct front *f, const char *peer)
{
	struct session s;
	char timestamp[GATE_TIMESTAMP_MAX];

	if (front_setup(cfg, f, timestamp, sizeof(timestamp)) != 0 ||
	    session_open(&s, cfg, 0, 1, peer) != 0)
		_exit(EXIT_INTERNAL);	/* root tells the client */
	s.front = f;
	memcpy(s.timestamp, timestamp, sizeof(s.timestamp));
	if (greet(&s) == 0)
		session_loop(&s);
	if (s.leave == LEAVE_HANDOFF)
		front_handoff(f, s.ch, s.ch->timeout_ms);
	(void)session_close(&s);
	tls_end(cfg->tls);
	_exit(0);	/* LeakSanitizer cannot run in the chroot */
}

static void
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
static int
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
		status = root_session(cfg, f, &v, rec, peer);
	else if (e == GATE_END_SETUP) {
		startup_error("%s", why);
		front_reap(f);
		status = EXIT_SETUP;
	} else if (e == GATE_END_CLIENT) {
		front_reap(f);
		status = 0;
	} else {
		syslog(LOG_ERR, "peer=%s: pre-authentication process: %s; "
		    "session ended", peer, why);
		front_kill(f);
		status = EXIT_INTERNAL;
	}
	authrec_wipe(rec);
	free(rec);
	return status;
}

/* ---------------------------------------------------------------- */
/* Administrator commands                                            */

/*
 * Become the owner of the mailbox at path before touching it, so that a
 * path a user controls (a swapped directory link, a hard link to another
 * user's mailbox) can reach nothing that user could not write anyway.
 * The spool group is kept as a saved gid only where locking needs it.
 */
static int
become_mailbox_owner(const char *path, gid_t *spool, const char **why)
{
	struct stat st;
	uid_t uid;
	gid_t gid;

	*spool = (gid_t)-1;
	if (geteuid() != 0)
		return 0;
	*why = "cannot find the mailbox's owner";
	if (lstat(path, &st) != 0) {
		if (errno != ENOENT)
			return -1;
		/* no mailbox: only the journal is looked at, read-only */
		return 0;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid == 0) {
		*why = "not a regular file of a user with one link";
		return -1;
	}
	uid = st.st_uid;
	gid = st.st_gid;
	*spool = maildrop_spool_group(path, uid, gid, &gid, 1);
	*why = "cannot become the mailbox's owner";
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, *spool !=
	    (gid_t)-1 ? *spool : gid) != 0 || setresuid(uid, uid, uid) != 0 ||
	    setuid(0) == 0)
		return -1;
	return 0;
}

/* One mailbox, in a child that becomes its owner; 0 if recovered. */
static int
recover_one(const char *path)
{
	pid_t pid;
	int st;

	(void)fflush(stdout);
	if ((pid = fork()) < 0) {
		(void)printf("%s: cannot fork: %s\n", path, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		struct md_config mc = { path, LOCK_WAIT, STALE_SECS,
		    (gid_t)-1, 0, NULL };
		const char *why = NULL;
		int ok;

		ok = become_mailbox_owner(path, &mc.spool_gid, &why) == 0 &&
		    maildrop_recover(&mc, &why) == MD_OK;
		(void)printf("%s: %s\n", path, ok ? "ok" : why);
		_exit(fflush(stdout) == 0 && ok ? 0 : EXIT_INTERNAL);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int
run_recover(int argc, char **argv)
{
	static const char suffix[] = ".pop3d-journal";
	int status = 0;

	if (argc == 0) {
		startup_error("--recover wants mailbox paths");
		return EXIT_SETUP;
	}
	for (int i = 0; i < argc; i++) {
		char path[PATH_MAX];
		size_t len = strlen(argv[i]);

		if (len >= sizeof(path))
			continue;
		memcpy(path, argv[i], len + 1);
		if (len > sizeof(suffix) - 1 &&
		    strcmp(path + len - (sizeof(suffix) - 1), suffix) == 0)
			path[len - (sizeof(suffix) - 1)] = '\0';
		if (recover_one(path) != 0)
			status = EXIT_INTERNAL;
	}
	return status;
}

/* --check-user's child: as the user, the session's own open of the
   maildrop in the mode that changes nothing; never returns. */
static void
check_as_user(const struct auth_user *u, const char *path, gid_t spool,
    const char *ixpath)
{
	struct md_config mc = { path, LOCK_WAIT, STALE_SECS, spool, 1,
	    ixpath };
	struct maildrop *md;
	const char *why = NULL;
	int ok;

	if (auth_become(u, spool, &why) != 0) {
		(void)printf("as user:  cannot become %s: %s\n", u->name, why);
		(void)fflush(stdout);
		_exit(EXIT_INTERNAL);
	}
	if (maildrop_open(&md, &mc, &why) != MD_OK) {
		(void)printf("mailbox:  cannot be served: %s\n", why);
		ok = 0;
	} else {
		ok = maildrop_describe(md, stdout) == 0;
		maildrop_close(md);
	}
	/* _exit does not flush: a pipe or file would get nothing */
	if (fflush(stdout) != 0)
		ok = 0;
	_exit(ok ? 0 : EXIT_INTERNAL);
}

static int
run_check_user(const struct config *cfg)
{
	struct auth_user u;
	const char *why = NULL;
	char path[PATH_MAX], ixpath[PATH_MAX];
	enum auth_result r;
	gid_t spool;
	pid_t pid;
	int st;

	if (!auth_name_valid(cfg->check_user)) {
		(void)printf("%s: not a valid user name\n", cfg->check_user);
		return EXIT_INTERNAL;
	}
	r = auth_lookup(&cfg->auth, cfg->check_user, &u, &why);
	if (r == AUTH_TEMP || (r == AUTH_FAIL && u.name[0] == '\0')) {
		(void)printf("user:     %s\nsource:   %s\nresult:   %s\n",
		    cfg->check_user, cfg->auth.passwd_file ?
		    cfg->auth.passwd_file : "system accounts", why);
		return EXIT_INTERNAL;
	}
	(void)printf("user:     %s\nsource:   %s%s%s\nuid/gid:  %u/%u\n"
	    "home:     %s\nlogin:    %s%s\n", u.name, u.source,
	    cfg->auth.passwd_file ? " " : "",
	    cfg->auth.passwd_file ? cfg->auth.passwd_file : "",
	    (unsigned)u.uid, (unsigned)u.gid, u.home,
	    r == AUTH_OK ? "allowed (with the right password)" : "refused: ",
	    r == AUTH_OK ? "" : why);
	if (expand_maildrop(cfg->maildrop, &u, path, sizeof(path)) != 0) {
		(void)printf("maildrop: path too long\n");
		return EXIT_INTERNAL;
	}
	spool = spool_group(&u, path);
	if (geteuid() == 0)
		(void)printf("privsep:  before login a process as %s, "
		    "chrooted to %s\n", cfg->front_user, FRONT_ROOT);
	else
		(void)printf("privsep:  none: not started as root, so the "
		    "session is one process\n");
	(void)printf("maildrop: %s\n", path);
	if (spool != (gid_t)-1) {
		struct group *gr = getgrgid(spool);
		(void)printf("spool:    the user needs group %s to create "
		    "%s.lock; pop3d keeps it as a saved gid\n",
		    gr ? gr->gr_name : "?", path);
	}
	(void)fflush(stdout);
	if ((pid = fork()) < 0) {
		perror("pop3d: fork");
		return EXIT_INTERNAL;
	}
	if (pid == 0)
		check_as_user(&u, path, spool, index_path(cfg, &u, path,
		    ixpath, sizeof(ixpath)));
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 && r == AUTH_OK ? 0 :
	    EXIT_INTERNAL;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct front f;
	char peer[80];
	int r;

	memset(&cfg, 0, sizeof(cfg));
	memset(&f, 0, sizeof(f));
	cfg.maildrop = DEFAULT_MAILDROP;
	cfg.login_timeout = DEFAULT_LOGIN_TIMEOUT;
	cfg.front_user = FRONT_USER;
	cfg.index = DEFAULT_INDEX;
	cfg.timeout = DEFAULT_TIMEOUT;
	cfg.fail_delay = DEFAULT_FAIL_DELAY;
	cfg.auth.min_uid = DEFAULT_MIN_UID;
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
	/* Without TLS, OpenSSL serves only as a library of MACs and hashes:
	   its configuration file (parsed on first use, about 0.5 ms) is for
	   TLS policy, so it is read only when TLS is configured. */
	if (cfg.cert == NULL &&
	    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1) {
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
