/*
 * options.c - the command line: the options and their checks, --help,
 * the mailbox path template, and the startup errors a bad setup gives
 * (stderr by hand, one -ERR line under a superserver).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/stat.h>

#include "auth.h"
#include "mdindex.h"
#include "options.h"
#include "params.h"
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
	{ "proxy-from", required_argument, NULL, 'X' },
	{ "penalty-dir", required_argument, NULL, 'D' },
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
"      --proxy-from=CIDR[,CIDR...]  accept a PROXY protocol v1/v2 header,\n"
"                           and only from these peers (they must send one)\n"
"      --penalty-dir=DIR    per-source penalty state (default %s)\n"
"  -I, --index=TEMPLATE     persistent index file: %%u user, %%h home,\n"
"                           %%m mailbox path, %%%% percent (default %s)\n"
"  -N, --no-index           no persistent index: scan at every login\n"
"  -h, --help               this text\n"
"  -V, --version            the version\n",
	    DEFAULT_MAILDROP, DEFAULT_TIMEOUT, DEFAULT_FAIL_DELAY,
	    DEFAULT_MIN_UID, FRONT_USER, FRONT_ROOT, DEFAULT_LOGIN_TIMEOUT,
	    DEFAULT_PENALTY_DIR, DEFAULT_INDEX);
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

int
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

/* A number of seconds in [min, max] from optarg; 0, or -1 said. */
static int
seconds_option(const char *name, long min, long max, int *out)
{
	long v;

	if (parse_number(optarg, min, max, &v) != 0) {
		startup_error("--%s wants %ld to %ld seconds", name, min, max);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* --tls-cert and --tls-key, repeatable: the n-th of each is a pair. */
static int
add_pair_file(struct config *cfg, int c, const char *path)
{
	int *n = c == 'c' ? &cfg->certs : &cfg->keys;

	if (*n >= TLS_PAIRS_MAX) {
		startup_error("at most %d --tls-cert/--tls-key pairs",
		    TLS_PAIRS_MAX);
		return -1;
	}
	(c == 'c' ? cfg->cert : cfg->key)[(*n)++] = path;
	return 0;
}

/* Returns -1 to go on, else the exit status. */
/* What a bad option or a missing value says, on stderr or to syslog. */
static void
option_error(char **argv)
{
	if (optopt == 'F' || optopt == 'L' || optopt == 'X' || optopt == 'D')
		startup_error("option %s needs a value", argv[optind - 1]);
	else if (optopt != 0 && strchr("pmatdckuCI", optopt))
		startup_error("option -%c needs a value", optopt);
	else
		startup_error("unknown option %s (try --help)",
		    argv[optind - 1]);
}

/* One option c with its value optarg: -1 to go on, else the exit status
   (0 after --help or --version). */
static int
one_option(int c, char **argv, struct config *cfg)
{
	const char *why;
	long v;

	switch (c) {
	case 'p': cfg->auth.passwd_file = optarg; return -1;
	case 'm': cfg->maildrop = optarg; return -1;
	case 'a': cfg->auth.apop_file = optarg; return -1;
	case 'c':
	case 'k':
		return add_pair_file(cfg, c, optarg) != 0 ? EXIT_SETUP : -1;
	case 'T': cfg->implicit_tls = 1; return -1;
	case 'P': cfg->allow_plaintext = 1; return -1;
	case 'C': cfg->check_user = optarg; return -1;
	case 'R': cfg->recover = 1; return -1;
	case 'F': cfg->front_user = optarg; return -1;
	case 'D': cfg->penalty_dir = optarg; return -1;
	case 'I': cfg->index = optarg; return -1;
	case 'N': cfg->index = NULL; return -1;
	case 'X':
		if (proxy_from_parse(optarg, &cfg->proxy_from, &why) == 0)
			return -1;
		startup_error("--proxy-from: %s", why);
		return EXIT_SETUP;
	case 'L':
		return seconds_option("login-timeout", 1, MAX_TIMEOUT,
		    &cfg->login_timeout) != 0 ? EXIT_SETUP : -1;
	case 't':
		return seconds_option("timeout", 1, MAX_TIMEOUT,
		    &cfg->timeout) != 0 ? EXIT_SETUP : -1;
	case 'd':
		return seconds_option("fail-delay", 0, MAX_FAIL_DELAY,
		    &cfg->fail_delay) != 0 ? EXIT_SETUP : -1;
	case 'u':
		if (parse_number(optarg, 0, INT_MAX, &v) == 0) {
			cfg->auth.min_uid = (uid_t)v;
			return -1;
		}
		startup_error("--min-uid wants a uid");
		return EXIT_SETUP;
	case 'h':
		usage(stdout);
		return 0;
	case 'V':
		(void)printf("pop3d %s%s\n", POP3D_VERSION,
		    tls_built ? "" : " (built without TLS)");
		return 0;
	default:
		option_error(argv);
		return EXIT_SETUP;
	}
}

int
parse_options(int argc, char **argv, struct config *cfg)
{
	int c, r;

	opterr = 0;	/* getopt must not write to fd 2: maybe the client */
	while ((c = getopt_long(argc, argv, "p:m:a:t:d:c:k:TPu:C:RI:NhV",
	    long_options, NULL)) != -1)
		if ((r = one_option(c, argv, cfg)) >= 0)
			return r;
	if (optind < argc && !cfg->recover) {
		startup_error("unexpected argument %s (try --help)",
		    argv[optind]);
		return EXIT_SETUP;
	}
	return -1;
}

/* Files named by options must be usable before any session starts. */
int
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
	if (!tls_built && (cfg->certs || cfg->keys || cfg->implicit_tls)) {
		startup_error("--tls-cert, --tls-key, --tls: this pop3d was "
		    "built without TLS (use stunnel)");
		return EXIT_SETUP;
	}
	if (cfg->certs != cfg->keys) {
		startup_error("--tls-cert and --tls-key go together, in pairs");
		return EXIT_SETUP;
	}
	if (cfg->implicit_tls && cfg->certs == 0) {
		startup_error("--tls needs --tls-cert and --tls-key");
		return EXIT_SETUP;
	}
	for (int i = 0; i < cfg->certs; i++) {
		const char *opt = "cert", *bad = cfg->cert[i];

		if (readable_file(bad) && (opt = "key", bad = cfg->key[i],
		    readable_file(bad)))
			continue;
		startup_error("cannot read --tls-%s file %s: %s", opt, bad,
		    strerror(errno));
		return EXIT_SETUP;
	}
	/* separated, the front loads the key: root never holds it */
	if (cfg->certs > 0 && !cfg->separate && (cfg->tls =
	    tls_load(cfg->cert, cfg->key, cfg->certs, &why)) == NULL) {
		startup_error("%s", why);
		return EXIT_SETUP;
	}
	return -1;
}

/* The defaults of params.h, before the options. */
void
options_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->maildrop = DEFAULT_MAILDROP;
	cfg->login_timeout = DEFAULT_LOGIN_TIMEOUT;
	cfg->front_user = FRONT_USER;
	cfg->timeout = DEFAULT_TIMEOUT;
	cfg->fail_delay = DEFAULT_FAIL_DELAY;
	cfg->auth.min_uid = DEFAULT_MIN_UID;
	cfg->penalty_dir = DEFAULT_PENALTY_DIR;
	cfg->index = DEFAULT_INDEX;
}

const char *
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
