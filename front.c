/*
 * front.c - the pre-authentication process (README "Security").
 *
 * Started as root, pop3d forks this process first.  Still root, it loads
 * the TLS certificate and key; then it chroots to the empty FRONT_ROOT,
 * becomes --front-user, forbids new privileges, core dumps, files and
 * processes, and runs the AUTHORIZATION dialogue (pop3d.c) on the
 * client's descriptors, after the PROXY header a --proxy-from peer
 * sends (session.c; its address goes to root in a PEER record).  Every
 * credential goes to root as a record (authrec.h) and root's verdict
 * comes back.  After a login without TLS
 * it hands root the input it read ahead and exits; with TLS it stays the
 * TLS endpoint and relays plaintext to the user's session, which never
 * holds the key.  Models: popa3d's pop_root.c, qmail-popup.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "front.h"
#include "tls.h"

int
front_check(const struct config *cfg, struct front *f)
{
	struct passwd *pw;
	struct stat st;

	errno = 0;
	if ((pw = getpwnam(cfg->front_user)) == NULL) {
		startup_error("no user %s for the pre-authentication process "
		    "(create it: useradd --system --no-create-home --home-dir "
		    "/nonexistent --shell /usr/sbin/nologin %s)",
		    cfg->front_user, cfg->front_user);
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		startup_error("--front-user %s must not have uid or gid 0",
		    cfg->front_user);
		return -1;
	}
	f->uid = pw->pw_uid;
	f->gid = pw->pw_gid;
	if (lstat(FRONT_ROOT, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		startup_error("%s must be an empty directory owned by root and "
		    "writable by root only (create it: install -d -m 755 -o "
		    "root -g root %s)", FRONT_ROOT, FRONT_ROOT);
		return -1;
	}
	return 0;
}

int
front_fork(struct front *f)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	if ((f->pid = fork()) < 0) {
		(void)close(sv[0]);
		(void)close(sv[1]);
		return -1;
	}
	f->link = sv[f->pid == 0 ? 1 : 0];
	if (close(sv[f->pid == 0 ? 0 : 1]) != 0)
		return -1;
	return f->pid != 0;
}

/* Become the front user for good and prove it (no way back to root). */
static int
drop_to_front(const struct front *f, const char **why)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	*why = "cannot become the front user";
	if (setgroups(1, &f->gid) != 0 ||
	    setresgid(f->gid, f->gid, f->gid) != 0 ||
	    setresuid(f->uid, f->uid, f->uid) != 0)
		return -1;
	if (setuid(0) == 0 || getresuid(&r, &e, &s) != 0 ||
	    getresgid(&rg, &eg, &sg) != 0 || r != f->uid || e != f->uid ||
	    s != f->uid || rg != f->gid || eg != f->gid || sg != f->gid)
		return -1;
	return 0;
}

static int
limit(int resource, rlim_t v)
{
	struct rlimit rl = { v, v };

	return setrlimit(resource, &rl);
}

/* What a compromised front may still do: talk to the client and root. */
static int
lock_in(const struct front *f, const char **why)
{
	static char ident[32];

	/* one session, one pid in the log: the one the superserver started
	   (root's), so that a session's lines can be told apart and
	   counted; the socket is opened before / is gone */
	(void)snprintf(ident, sizeof(ident), "pop3d[%ld]", (long)getppid());
	closelog();
	openlog(ident, LOG_NDELAY, LOG_MAIL);
	tzset();		/* syslog's time zone, before / is gone */
	if (chroot(FRONT_ROOT) != 0 || chdir("/") != 0) {
		*why = "cannot chroot to " FRONT_ROOT;
		return -1;
	}
	if (drop_to_front(f, why) != 0 || auth_no_dump(why) != 0)
		return -1;
	*why = "cannot limit the pre-authentication process";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 ||
	    getppid() == 1)	/* root died before the signal was set */
		return -1;
	/* no RLIMIT_AS: ASan reserves terabytes of address space */
	if (limit(RLIMIT_NOFILE, FRONT_NOFILE) != 0 ||
	    limit(RLIMIT_FSIZE, 0) != 0 || limit(RLIMIT_NPROC, 0) != 0 ||
	    limit(RLIMIT_CORE, 0) != 0)
		return -1;
	return 0;
}

int
front_setup(struct config *cfg, struct front *f, char *timestamp,
    size_t size)
{
	struct authrec *r;
	const char *why = NULL;
	int got;

	if (cfg->certs > 0 && (cfg->tls = tls_load(cfg->cert, cfg->key,
	    cfg->certs, &why)) == NULL)
		goto fail;
	if (lock_in(f, &why) != 0)
		goto fail;
	if (authrec_send(f->link, REC_READY, NULL, 0) != 0 ||
	    (r = malloc(sizeof(*r))) == NULL)
		return -1;
	got = authrec_recv(f->link, r, -1, &why);
	if (got == 1 && r->type == REC_HELLO)
		(void)snprintf(timestamp, size, "%s", r->field[0]);
	free(r);
	return got == 1 ? 0 : -1;
fail:
	(void)authrec_send(f->link, REC_SETUP, &why, 1);
	return -1;
}

int
front_tell_peer(struct front *f, const char *addr)
{
	return authrec_send(f->link, REC_PEER, &addr, 1);
}

int
front_ask(struct front *f, struct chan *c, int type,
    const char *const *fields, int n, struct verdict *v)
{
	struct authrec *r;
	const char *why;
	int got;

	/* ordering: the client has every earlier reply before root acts */
	if (chan_flush(c) != 0 || authrec_send(f->link, type, fields, n) != 0 ||
	    (r = malloc(sizeof(*r))) == NULL)
		return -1;
	memset(v, 0, sizeof(*v));
	got = authrec_recv(f->link, r, -1, &why);
	if (got == 1 && r->type == REC_VERDICT) {
		v->result = r->field[0][0] == VERDICT_LOGIN ? GATE_LOGIN :
		    r->field[0][0] == VERDICT_CLOSE ? GATE_CLOSE : GATE_FAIL;
		(void)snprintf(v->reply, sizeof(v->reply), "%s", r->field[1]);
	}
	free(r);
	return got == 1 ? 0 : -1;
}

/* Poll both sides; 1 if the TLS side has bytes (or buffered plaintext),
   2 if root's side does, 3 both, 0 when both stayed idle too long. */
static int
relay_wait(struct chan *client, int client_open, int link, int idle_ms)
{
	struct pollfd p[2] = { { client_open ? client->rfd : -1, POLLIN, 0 },
	    { link, POLLIN, 0 } };
	int r;

	if (client_open && tls_pending(client->tls))
		return 1 | (poll(p + 1, 1, 0) > 0 ? 2 : 0);
	while ((r = poll(p, 2, idle_ms)) < 0 && errno == EINTR)
		;
	if (r <= 0)
		return 0;
	return (p[0].revents ? 1 : 0) | (p[1].revents ? 2 : 0);
}

/*
 * Plaintext between the TLS client and the user's session, both ways,
 * until root's side ends (its session is over) or an error.  The
 * client's EOF is passed on as a half-close; root's autologout timer
 * bounds every wait, and both buffers are bounded.
 */
static void
relay_tls(struct chan *client, int link, int timeout_ms)
{
	struct chan *root = malloc(sizeof(*root));
	char *buf = malloc(RELAY_BUF);
	int open = 1, ready;
	ssize_t n;

	if (root == NULL || buf == NULL)
		goto out;
	chan_init(root, link, link, timeout_ms);
	set_nonblocking(link);
	while ((ready = relay_wait(client, open, link,
	    timeout_ms + FRONT_GRACE_MS)) != 0) {
		if (ready & 1) {
			n = tls_read(client->tls, buf, RELAY_BUF, 0);
			if (n > 0 && (chan_write(root, buf, (size_t)n) != 0 ||
			    chan_flush(root) != 0))
				break;
			if (n == 0 && shutdown(link, SHUT_WR) == 0)
				open = 0;
			if ((n == 0 && open) || (n < 0 && errno != ETIMEDOUT))
				break;
		}
		if (ready & 2) {
			n = read(link, buf, RELAY_BUF);
			if (n == 0 || (n < 0 && errno != EAGAIN &&
			    errno != EINTR))
				break;	/* the session ended (or died) */
			if (n > 0 && (chan_write(client, buf, (size_t)n) != 0 ||
			    chan_flush(client) != 0))
				break;
		}
	}
	explicit_bzero(buf, RELAY_BUF);
out:
	free(buf);
	free(root);
}

void
front_handoff(struct front *f, struct chan *c, int timeout_ms)
{
	const char *p;
	size_t n = chan_pending(c, &p);
	int relay = tls_active(c->tls);

	if (authrec_send_handoff(f->link, relay ? HANDOFF_RELAY : HANDOFF_FD,
	    p, n) != 0) {
		syslog(LOG_ERR, "cannot hand the session to root: %s",
		    strerror(errno));
		_exit(EXIT_INTERNAL);
	}
	chan_wipe_input(c);
	if (relay)
		relay_tls(c, f->link, timeout_ms);
	tls_end(c->tls);	/* close_notify; frees the key */
	/* _exit: LeakSanitizer cannot run in the chroot (no /proc) */
	_exit(0);
}

void
front_kill(struct front *f)
{
	if (f->pid > 0 && kill(f->pid, SIGKILL) != 0 && errno != ESRCH)
		syslog(LOG_ERR, "kill the pre-authentication process: %s",
		    strerror(errno));
	front_reap(f);
}

void
front_reap(struct front *f)
{
	int st;

	while (f->pid > 0 && waitpid(f->pid, &st, 0) < 0 && errno == EINTR)
		;
	f->pid = 0;
}
