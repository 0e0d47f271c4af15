/*
 * bench/drive.c - run one measured process and, for a POP3 server, one
 * whole pipelined session against it; print what was measured and what
 * was checked as one JSON object on stdout.
 *
 *   drive [-m pop3|drain|none|null] [-s SCRIPT] [-u UID:GID] [-d DIR]
 *         [-t SECONDS] [-n] [-e FILE] [-b BYTES] -- PROGRAM ARGS...
 *
 * pop3   PROGRAM gets one end of a socketpair as fd 0, 1 and 2, as inetd
 *        hands it a connection.  After the greeting, every line of SCRIPT
 *        is sent at once (with CRLF), and the replies are parsed as they
 *        come: each must be +OK; multi-line replies (RETR, TOP, CAPA and
 *        LIST/UIDL without argument) are read to their "." line and
 *        un-byte-stuffed while counted.  RETR sizes are compared with the
 *        "+OK N octets" the server announced, if it did.
 * drain  PROGRAM writes to fd 1, a socket; its bytes are counted.
 * none   PROGRAM's stdin is /dev/null; stdout and stderr are captured.
 * null   as none, but stdout is /dev/null (the "cat > /dev/null" floor).
 *
 * Measured: wall time from before fork() to the child's exit and the
 * socket's EOF; user and system CPU and peak RSS from wait4() (which
 * includes the child's waited-for descendants).  -u runs PROGRAM as that
 * uid and gid (for servers run pre-authenticated); -d is its directory.
 * -t bounds the run (default 900 s): on expiry PROGRAM is killed.
 * -e FILE: PROGRAM's stderr goes to FILE (appended), not to the socket
 * (Dovecot run stand-alone logs to stderr).
 * -b BYTES: SO_SNDBUF and SO_RCVBUF of both ends of the socketpair
 * (SO_*BUFFORCE: as root, past the sysctl limits); 0 keeps the defaults.
 * -n: the server sends no greeting (Dovecot's pop3 run pre-authenticated
 * starts in TRANSACTION without a word); the script is sent at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#define RBUF		(1024 * 1024)
#define LINE_MAX_	4096	/* status and UIDL/LIST lines we keep */
#define CAPTURE		2048
/* UIDL strings and their count reserved before the run: a listing of a
   few hundred thousand messages fits without a page fault */
#define UIDS_RESERVED	(16u << 20)
#define UIDS_RESERVED_N	(1u << 19)

enum kind { K_SIMPLE, K_STAT, K_RETR, K_TOP, K_UIDL, K_LIST, K_MULTI };

struct cmd {
	enum kind kind;
	int multi_if_ok;
};

struct result {
	uint64_t replies, errs;
	char first_err[200];
	uint64_t stat_count, stat_octets;
	int have_stat;
	uint64_t retr_n, retr_octets, retr_announced_bad;
	uint64_t top_n, top_octets;
	uint64_t uidl_n, uidl_dup, uidl_bad;
	uint64_t list_n;
	uint64_t out_bytes;
	int trailing;		/* bytes after the last reply */
	int greeting_ok;
};

/* The reply parser: a status line, then maybe a multi-line body. */
struct parser {
	struct cmd *cmds;
	size_t ncmds, next;	/* next: index of the reply expected; 0 is
				   the greeting */
	int in_body;
	int line_start;
	enum kind body_kind;
	uint64_t body_octets;
	int64_t announced;	/* -1: none */
	char line[LINE_MAX_];	/* a status or listing line being gathered */
	size_t line_len;
	int line_long;
	/* UIDL strings, for the uniqueness check */
	char *uids;
	size_t uids_len, uids_cap;
	size_t *uid_off;
	size_t nuid, uid_cap;
	int reserved;		/* uids and uid_off are reserve_uids' */
};

static struct result res;
static struct parser ps;

static double
now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	(void)printf("{\"ok\": false, \"why\": \"drive: %s: %s\"}\n", what,
	    strerror(errno));
	exit(1);
}

static void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL)
		die("realloc");
	return p;
}

static void
json_str(FILE *fp, const char *s)
{
	(void)fputc('"', fp);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			(void)fprintf(fp, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			(void)fprintf(fp, "\\u%04x", c);
		else
			(void)fputc(c, fp);
	}
	(void)fputc('"', fp);
}

/* ---------------------------------------------------------------- */
/* The script                                                        */

static char *script;
static size_t script_len;

static void
load_script(const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[1024];
	size_t cap = 0;

	if (fp == NULL)
		die(path);
	ps.cmds = NULL;
	ps.ncmds = 1;	/* [0]: the greeting */
	ps.cmds = xrealloc(NULL, sizeof(struct cmd));
	ps.cmds[0].kind = K_SIMPLE;
	ps.cmds[0].multi_if_ok = 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		size_t l = strcspn(line, "\r\n");
		char word[8] = "";
		int args = 0;
		struct cmd c = { K_SIMPLE, 0 };

		line[l] = '\0';
		if (l == 0)
			continue;
		(void)sscanf(line, "%7s", word);
		for (char *p = line; *p; p++)
			if (*p == ' ' && p[1] != ' ' && p[1] != '\0')
				args++;
		if (strcasecmp(word, "STAT") == 0)
			c.kind = K_STAT;
		else if (strcasecmp(word, "RETR") == 0)
			c.kind = K_RETR, c.multi_if_ok = 1;
		else if (strcasecmp(word, "TOP") == 0)
			c.kind = K_TOP, c.multi_if_ok = 1;
		else if (strcasecmp(word, "CAPA") == 0)
			c.kind = K_MULTI, c.multi_if_ok = 1;
		else if (strcasecmp(word, "UIDL") == 0 && args == 0)
			c.kind = K_UIDL, c.multi_if_ok = 1;
		else if (strcasecmp(word, "LIST") == 0 && args == 0)
			c.kind = K_LIST, c.multi_if_ok = 1;
		ps.cmds = xrealloc(ps.cmds, (ps.ncmds + 1) * sizeof(c));
		ps.cmds[ps.ncmds++] = c;
		if (script_len + l + 2 > cap) {
			cap = (cap + l + 2) * 2;
			script = xrealloc(script, cap);
		}
		memcpy(script + script_len, line, l);
		memcpy(script + script_len + l, "\r\n", 2);
		script_len += l + 2;
	}
	(void)fclose(fp);
}

/* ---------------------------------------------------------------- */
/* Reply parsing                                                     */

static void
note_err(const char *line)
{
	res.errs++;
	if (res.first_err[0] == '\0')
		(void)snprintf(res.first_err, sizeof(res.first_err),
		    "%.150s", line);
}

static void grow_uids(size_t);

static void
add_uid(const char *line, size_t len)
{
	const char *sp = memchr(line, ' ', len);
	size_t n;

	res.uidl_n++;
	if (sp == NULL) {
		res.uidl_bad++;
		return;
	}
	sp++;
	n = len - (size_t)(sp - line);
	if (n == 0 || n > 70) {
		res.uidl_bad++;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)sp[i] < 0x21 || (unsigned char)sp[i] > 0x7e) {
			res.uidl_bad++;
			return;
		}
	if (ps.uids_len + n + 1 > ps.uids_cap || ps.nuid == ps.uid_cap)
		grow_uids(n);
	ps.uid_off[ps.nuid++] = ps.uids_len;
	memcpy(ps.uids + ps.uids_len, sp, n);
	ps.uids[ps.uids_len + n] = '\0';
	ps.uids_len += n + 1;
}

/*
 * Memory the parser writes during the measured run: mapped, touched and
 * kept out of the child before the fork, so that neither first-touch nor
 * copy-on-write faults of the client's are counted as the server's time.
 */
static void *
prefaulted(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	if (madvise(p, n, MADV_DONTFORK) != 0)
		die("madvise");
	memset(p, 0, n);
	return p;
}

/* Room for a large listing's UIDs; past it, add_uid grows a copy. */
static void
reserve_uids(void)
{
	ps.uids_cap = UIDS_RESERVED;
	ps.uids = prefaulted(ps.uids_cap);
	ps.uid_cap = UIDS_RESERVED_N;
	ps.uid_off = prefaulted(ps.uid_cap * sizeof(size_t));
	ps.reserved = 1;
}

/* The UID arrays grown to hold one more UID of n bytes. */
static void
grow_uids(size_t n)
{
	if (ps.reserved) {
		/* leave the mappings as they are: copy into the heap */
		char *u = xrealloc(NULL, ps.uids_cap);
		size_t *o = xrealloc(NULL, ps.uid_cap * sizeof(size_t));
		memcpy(u, ps.uids, ps.uids_len);
		memcpy(o, ps.uid_off, ps.nuid * sizeof(size_t));
		ps.uids = u;
		ps.uid_off = o;
		ps.reserved = 0;
	}
	if (ps.uids_len + n + 1 > ps.uids_cap) {
		ps.uids_cap = (ps.uids_cap + n + 1) * 2;
		ps.uids = xrealloc(ps.uids, ps.uids_cap);
	}
	if (ps.nuid == ps.uid_cap) {
		ps.uid_cap = ps.uid_cap ? ps.uid_cap * 2 : 1024;
		ps.uid_off = xrealloc(ps.uid_off, ps.uid_cap * sizeof(size_t));
	}
}

static int
uid_cmp(const void *a, const void *b)
{
	return strcmp(ps.uids + *(const size_t *)a,
	    ps.uids + *(const size_t *)b);
}

static void
end_body(void)
{
	switch (ps.body_kind) {
	case K_RETR:
		res.retr_n++;
		res.retr_octets += ps.body_octets;
		if (ps.announced >= 0 &&
		    (uint64_t)ps.announced != ps.body_octets)
			res.retr_announced_bad++;
		break;
	case K_TOP:
		res.top_n++;
		res.top_octets += ps.body_octets;
		break;
	default:
		break;
	}
	ps.in_body = 0;
	ps.next++;
}

/* A complete status line (without CRLF) for reply ps.next. */
static void
status_line(char *line)
{
	struct cmd *c;

	if (ps.next >= ps.ncmds) {
		res.trailing = 1;
		return;
	}
	c = &ps.cmds[ps.next];
	res.replies++;
	if (ps.next == 0)
		res.greeting_ok = strncmp(line, "+OK", 3) == 0;
	if (strncmp(line, "+OK", 3) != 0) {
		note_err(line);
		ps.next++;
		return;
	}
	if (c->kind == K_STAT) {
		unsigned long long n, o;
		if (sscanf(line + 3, "%llu %llu", &n, &o) == 2) {
			res.stat_count = n;
			res.stat_octets = o;
			res.have_stat = 1;
		}
	}
	if (!c->multi_if_ok) {
		ps.next++;
		return;
	}
	ps.in_body = 1;
	ps.line_start = 1;
	ps.body_kind = c->kind;
	ps.body_octets = 0;
	ps.announced = -1;
	if (c->kind == K_RETR) {
		unsigned long long n;
		char *end;
		errno = 0;
		n = strtoull(line + 3, &end, 10);
		if (end != line + 3 && errno == 0)
			ps.announced = (int64_t)n;
	}
}

/* A complete listing line (UIDL, LIST, CAPA), without CRLF, unstuffed. */
static void
listing_line(const char *line, size_t len)
{
	if (ps.body_kind == K_UIDL)
		add_uid(line, len);
	else if (ps.body_kind == K_LIST)
		res.list_n++;
}

/* A complete line of a listing body, [p, q) without its "\n": the end
   of the body, or a listing line once its CRs and stuffed dot are gone. */
static void
listing_span(const char *p, const char *q)
{
	while (q > p && q[-1] == '\r')
		q--;
	if (q - p == 1 && p[0] == '.') {
		end_body();
		return;
	}
	if (q > p && p[0] == '.')
		p++;
	listing_line(p, (size_t)(q - p));
}

/* Gather a whole line into ps.line; returns the bytes consumed, and sets
   *done when the line is complete (ps.line is then NUL-terminated). */
static size_t
gather_line(const char *p, const char *e, int *done)
{
	const char *q = memchr(p, '\n', (size_t)(e - p));
	size_t n = (size_t)((q ? q + 1 : e) - p), take = n;

	if (ps.line_len + take >= sizeof(ps.line)) {
		take = sizeof(ps.line) - 1 - ps.line_len;
		ps.line_long = 1;
	}
	memcpy(ps.line + ps.line_len, p, take);
	ps.line_len += take;
	*done = q != NULL;
	if (*done) {
		size_t l = ps.line_len;
		while (l > 0 && (ps.line[l - 1] == '\n' ||
		    ps.line[l - 1] == '\r'))
			l--;
		ps.line[l] = '\0';
		ps.line_len = 0;
		ps.line_long = 0;
	}
	return n;
}

/*
 * Parse the bytes [p, e).  Returns the number consumed; the rest (at most
 * two bytes at the start of a body line) waits for more input, unless
 * eof is set.
 */
static size_t
parse(const char *p, const char *e, int eof)
{
	const char *start = p;
	int done;

	while (p < e) {
		if (!ps.in_body) {
			p += gather_line(p, e, &done);
			if (done)
				status_line(ps.line);
			continue;
		}
		if (ps.body_kind != K_RETR && ps.body_kind != K_TOP) {
			/* listing bodies: line by line, in place when the
			   whole line is here */
			const char *q;
			if (ps.line_len == 0 &&
			    (q = memchr(p, '\n', (size_t)(e - p))) != NULL) {
				listing_span(p, q);
				p = q + 1;
				continue;
			}
			p += gather_line(p, e, &done);
			if (done)
				listing_span(ps.line, ps.line + strlen(ps.line));
			continue;
		}
		if (ps.line_start) {
			/* ".\r\n" ends the body; ".." is a stuffed "." */
			size_t avail = (size_t)(e - p);
			if (avail < 3 && !eof && memchr(p, '\n', avail) == NULL)
				break;
			if (p[0] == '.' && ((avail >= 2 && p[1] == '\n') ||
			    (avail >= 3 && p[1] == '\r' && p[2] == '\n'))) {
				p += p[1] == '\n' ? 2 : 3;
				end_body();
				continue;
			}
			if (p[0] == '.') {
				p++;	/* the stuffed dot is not message data */
			}
			ps.line_start = 0;
			continue;
		}
		/* the rest of the body up to the next line starting with "."
		   (memchr for '.' is many times faster than memmem "\n.") */
		const char *q = p;
		while ((q = memchr(q, '.', (size_t)(e - q))) != NULL &&
		    (q == p || q[-1] != '\n'))
			q++;
		if (q == NULL) {
			ps.body_octets += (uint64_t)(e - p);
			ps.line_start = e[-1] == '\n';
			p = e;
			break;
		}
		ps.body_octets += (uint64_t)(q - p);
		p = q;
		ps.line_start = 1;
	}
	return (size_t)(p - start);
}

/* ---------------------------------------------------------------- */
/* Running the child                                                 */

static pid_t child;
static volatile sig_atomic_t timed_out;

static void
on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	if (child > 0)
		(void)kill(child, SIGKILL);
}

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		die("fcntl");
}

int
main(int argc, char **argv)
{
	const char *mode = "pop3", *script_path = NULL, *dir = NULL;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int timeout = 900, c, sv[2], cap[2] = { -1, -1 }, status = 0;
	char *rbuf, captured[CAPTURE + 1];
	size_t carry = 0, captured_len = 0, sent = 0;
	struct rusage ru;
	double t0, t1;
	int sock_eof = 0, child_done = 0, sock = -1, null_out = 0;
	int no_greeting = 0, sockbuf = 0;
	const char *errfile = NULL;

	while ((c = getopt(argc, argv, "m:s:u:d:t:ne:b:")) != -1) {
		switch (c) {
		case 'b': sockbuf = atoi(optarg); break;
		case 'e': errfile = optarg; break;
		case 'n': no_greeting = 1; break;
		case 'm': mode = optarg; break;
		case 's': script_path = optarg; break;
		case 'd': dir = optarg; break;
		case 't': timeout = atoi(optarg); break;
		case 'u': {
			unsigned a, b;
			if (sscanf(optarg, "%u:%u", &a, &b) != 2)
				return 2;
			uid = (uid_t)a;
			gid = (gid_t)b;
			break;
		}
		default:
			return 2;
		}
	}
	if (optind >= argc)
		return 2;
	if (strcmp(mode, "null") == 0)
		mode = "none", null_out = 1;
	if (strcmp(mode, "pop3") != 0 && strcmp(mode, "drain") != 0 &&
	    strcmp(mode, "none") != 0)
		return 2;
	if (strcmp(mode, "pop3") == 0) {
		if (script_path == NULL)
			return 2;
		load_script(script_path);
	}
	rbuf = prefaulted(RBUF + 8);
	memset(&res, 0, sizeof(res));
	if (no_greeting) {
		ps.next = 1;
		res.greeting_ok = 1;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "none") != 0 &&
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		die("socketpair");
	for (int i = 0; i < 2 && sockbuf > 0 && strcmp(mode, "none") != 0;
	    i++) {
		if (setsockopt(sv[i], SOL_SOCKET, SO_SNDBUFFORCE, &sockbuf,
		    sizeof(sockbuf)) != 0 || setsockopt(sv[i], SOL_SOCKET,
		    SO_RCVBUFFORCE, &sockbuf, sizeof(sockbuf)) != 0)
			die("setsockopt");
	}
	if (strcmp(mode, "pop3") != 0 && pipe2(cap, O_CLOEXEC) != 0)
		die("pipe");
	for (size_t i = 0; i < ps.ncmds; i++)
		if (ps.cmds[i].kind == K_UIDL) {
			reserve_uids();
			break;
		}
	t0 = now();
	if ((child = fork()) < 0)
		die("fork");
	if (child == 0) {
		int null = open("/dev/null", O_RDWR);
		if (strcmp(mode, "pop3") == 0) {
			(void)dup2(sv[1], 0);
			(void)dup2(sv[1], 1);
			(void)dup2(sv[1], 2);
			if (errfile != NULL) {
				int e = open(errfile, O_WRONLY | O_CREAT |
				    O_APPEND | O_CLOEXEC, 0644);
				if (e < 0 || dup2(e, 2) < 0)
					_exit(126);
			}
		} else if (strcmp(mode, "drain") == 0) {
			(void)dup2(null, 0);
			(void)dup2(sv[1], 1);
			(void)dup2(cap[1], 2);
		} else {
			(void)dup2(null, 0);
			(void)dup2(null_out ? null : cap[1], 1);
			(void)dup2(cap[1], 2);
		}
		if (dir != NULL && chdir(dir) != 0)
			_exit(126);
		if (gid != (gid_t)-1 && (setgroups(0, NULL) != 0 ||
		    setgid(gid) != 0))
			_exit(126);
		if (uid != (uid_t)-1 && setuid(uid) != 0)
			_exit(126);
		execvp(argv[optind], argv + optind);
		_exit(127);
	}
	if (strcmp(mode, "none") != 0) {
		(void)close(sv[1]);
		sock = sv[0];
		set_nonblock(sock);
	} else
		sock_eof = 1;
	if (cap[1] >= 0) {
		(void)close(cap[1]);
		set_nonblock(cap[0]);
	}
	(void)signal(SIGALRM, on_alarm);
	(void)alarm((unsigned)timeout);
	while (!sock_eof || cap[0] >= 0) {
		struct pollfd pf[2];
		int n = 0, want_out = strcmp(mode, "pop3") == 0 &&
		    res.greeting_ok && sent < script_len;

		if (!sock_eof) {
			pf[n].fd = sock;
			pf[n].events = (short)(POLLIN | (want_out ? POLLOUT : 0));
			pf[n++].revents = 0;
		}
		if (cap[0] >= 0) {
			pf[n].fd = cap[0];
			pf[n].events = POLLIN;
			pf[n++].revents = 0;
		}
		if (poll(pf, (nfds_t)n, 1000) < 0) {
			if (errno == EINTR && !timed_out)
				continue;
			if (timed_out)
				break;
			die("poll");
		}
		if (timed_out)
			break;
		for (int i = 0; i < n; i++) {
			if (pf[i].fd == cap[0] && pf[i].revents) {
				char tmp[4096];
				ssize_t r = read(cap[0], tmp, sizeof(tmp));
				if (r > 0) {
					size_t k = (size_t)r;
					if (k > CAPTURE - captured_len)
						k = CAPTURE - captured_len;
					memcpy(captured + captured_len, tmp, k);
					captured_len += k;
				} else if (r == 0 || errno != EAGAIN) {
					(void)close(cap[0]);
					cap[0] = -1;
				}
				continue;
			}
			if (pf[i].fd != sock)
				continue;
			if ((pf[i].revents & POLLOUT) && want_out) {
				ssize_t w = write(sock, script + sent,
				    script_len - sent);
				if (w > 0)
					sent += (size_t)w;
				else if (w < 0 && errno != EAGAIN)
					sent = script_len; /* server gone */
			}
			if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r = read(sock, rbuf + carry, RBUF);
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (r <= 0) {
					sock_eof = 1;
					if (strcmp(mode, "pop3") == 0 && carry)
						(void)parse(rbuf, rbuf + carry, 1);
					continue;
				}
				res.out_bytes += (uint64_t)r;
				if (strcmp(mode, "pop3") != 0)
					continue;
				size_t have = carry + (size_t)r;
				size_t used = parse(rbuf, rbuf + have, 0);
				carry = have - used;
				if (carry > 0)
					memmove(rbuf, rbuf + used, carry);
			}
		}
	}
	while (!child_done) {
		pid_t w = wait4(child, &status, 0, &ru);
		if (w == child)
			child_done = 1;
		else if (w < 0 && errno != EINTR)
			die("wait4");
	}
	t1 = now();
	(void)alarm(0);
	captured[captured_len] = '\0';

	/* UIDL uniqueness */
	if (ps.nuid > 1) {
		qsort(ps.uid_off, ps.nuid, sizeof(size_t), uid_cmp);
		for (size_t i = 1; i < ps.nuid; i++)
			if (strcmp(ps.uids + ps.uid_off[i],
			    ps.uids + ps.uid_off[i - 1]) == 0)
				res.uidl_dup++;
	}

	int ok = !timed_out && WIFEXITED(status);
	const char *why = timed_out ? "timeout" : !WIFEXITED(status) ?
	    "killed by a signal" : "";
	if (strcmp(mode, "pop3") == 0 && ok) {
		if (!res.greeting_ok)
			ok = 0, why = "no +OK greeting";
		else if (ps.next != ps.ncmds || ps.in_body)
			ok = 0, why = "replies missing";
		else if (res.errs)
			ok = 0, why = "an -ERR reply";
		else if (res.trailing)
			ok = 0, why = "data after the last reply";
		else if (res.retr_announced_bad)
			ok = 0, why = "RETR size differs from the announced one";
		else if (res.uidl_dup || res.uidl_bad)
			ok = 0, why = "UIDL not unique or malformed";
	}
	{
		struct rusage self;
		if (getrusage(RUSAGE_SELF, &self) == 0)
			(void)printf("{\"client_cpu\": %.6f, ", (double)
			    self.ru_utime.tv_sec + (double)self.ru_utime.tv_usec
			    / 1e6 + (double)self.ru_stime.tv_sec +
			    (double)self.ru_stime.tv_usec / 1e6);
	}
	(void)printf("\"ok\": %s, \"why\": ", ok ? "true" : "false");
	json_str(stdout, why);
	(void)printf(", \"wall\": %.6f, \"user\": %.6f, \"sys\": %.6f, "
	    "\"maxrss_kb\": %ld, \"exit\": %d, \"out_bytes\": %" PRIu64,
	    t1 - t0, (double)ru.ru_utime.tv_sec +
	    (double)ru.ru_utime.tv_usec / 1e6, (double)ru.ru_stime.tv_sec +
	    (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss,
	    WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status),
	    res.out_bytes);
	if (strcmp(mode, "pop3") == 0) {
		(void)printf(", \"replies\": %" PRIu64 ", \"errs\": %" PRIu64
		    ", \"first_err\": ", res.replies, res.errs);
		json_str(stdout, res.first_err);
		(void)printf(", \"stat\": [%" PRIu64 ", %" PRIu64 "]",
		    res.have_stat ? res.stat_count : 0,
		    res.have_stat ? res.stat_octets : 0);
		(void)printf(", \"retr_n\": %" PRIu64 ", \"retr_octets\": %"
		    PRIu64 ", \"top_n\": %" PRIu64 ", \"top_octets\": %" PRIu64
		    ", \"uidl_n\": %" PRIu64 ", \"list_n\": %" PRIu64,
		    res.retr_n, res.retr_octets, res.top_n, res.top_octets,
		    res.uidl_n, res.list_n);
	} else {
		(void)printf(", \"output\": ");
		json_str(stdout, captured);
	}
	(void)printf("}\n");
	return 0;
}
