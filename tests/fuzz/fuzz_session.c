/*
 * fuzz_session.c - the libFuzzer entry for the command line parser and
 * dispatcher (pop3d.c's command table, chan.c's line input), in the
 * AUTHORIZATION and TRANSACTION states of RFC 1939.
 *
 * pop3d.c and session.c are compiled into this file (main renamed), so
 * the real session_loop runs with no seam in the product.  The first input octet
 * picks the state; the rest is what the client sends, through a real
 * pipe as fd 0 would carry it; the replies go to a file.  In
 * AUTHORIZATION every credential goes through gate.c and auth.c to a
 * passwd file whose one password is random and unknown to the fuzzer,
 * and an APOP secrets file, so no login happens (a login would change
 * this process's uid).  TRANSACTION starts on a small real mailbox,
 * opened and locked as a login opens it; QUIT runs the real UPDATE.
 * Besides the sanitizers: every reply line ends in CRLF and fits RFC
 * 2449 section 4's 512 octets (the mailbox's own lines are short), and
 * after any QUIT the mailbox is still an mbox (README "Maildrop").
 */
#define main pop3d_main
int pop3d_main(int argc, char **argv);
#include "../../pop3d.c"
#include "../../session.c"
#include "md.h"
#undef main

#include <crypt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char mailbox[] =
    "From a@example.org Mon Jan  1 00:00:00 2024\n"
    "Subject: one\n\nbody one\n.\n..two dots\n\n"
    "From b@example.org Mon Jan  1 00:00:01 2024\r\n"
    "Subject: two\r\n\r\ncrlf body\r\n\r\n"
    "From c@example.org Mon Jan  1 00:00:02 2024\n"
    "Content-Length: 12\n\nFrom inside\n\n"
    "From d@example.org Mon Jan  1 00:00:03 2024\n"
    "Subject: last\n\nno newline at the end";

/* A ring of mailboxes, each restored after its turn: an open waits out
   the clock tick of the file's last change (proof.c md_proof_settle),
   and by its next turn the tick is long over. */
#define RING 8

static struct config cfg;
static char dir[64], mpath[RING][96], opath[96];
static unsigned turn;

static void
write_file(const char *path, const char *p)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t n = strlen(p);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n || close(fd) != 0)
		abort();
}

static void
setup(void)
{
	static char pw[96], apop[96], line[256];
	const char *t = getenv("TMPDIR"), *hash;
	unsigned char rnd[12];
	char pass[sizeof(rnd) * 2 + 1];

	(void)snprintf(dir, sizeof(dir), "%s/fuzz-session.XXXXXX",
	    t != NULL && strlen(t) < 40 ? t : "/tmp");
	if (mkdtemp(dir) == NULL ||
	    getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		abort();
	for (size_t i = 0; i < sizeof(rnd); i++)
		(void)snprintf(pass + 2 * i, 3, "%02x", rnd[i]);
	/* md5crypt: cheap, so the fuzzer spends its time in pop3d */
	if ((hash = crypt(pass, "$1$fuzzsalt$")) == NULL || hash[0] != '$')
		abort();
	(void)snprintf(pw, sizeof(pw), "%s/passwd", dir);
	(void)snprintf(line, sizeof(line),
	    "fuzz:%s:5000:5000::/nonexistent:/bin/sh\n", hash);
	write_file(pw, line);
	(void)snprintf(apop, sizeof(apop), "%s/apop", dir);
	(void)snprintf(line, sizeof(line), "fuzz:%s\n", pass);
	write_file(apop, line);
	for (int i = 0; i < RING; i++)
		(void)snprintf(mpath[i], sizeof(mpath[i]), "%s/mbox%d", dir, i);
	cfg.auth.passwd_file = pw;
	cfg.auth.apop_file = apop;
	cfg.auth.min_uid = 1000;
	cfg.apop = 1;
	(void)snprintf(opath, sizeof(opath), "%s/replies", dir);
	cfg.maildrop = mpath[0];	/* unused: no login happens */
	cfg.timeout = 600;
	cfg.login_timeout = 120;
	cfg.front_user = "pop3d";
	explicit_bzero(pass, sizeof(pass));
}

/* The mailbox as it starts, rewritten only when an UPDATE changed it;
   its times in the past. */
static void
restore_mailbox(const char *path)
{
	char now[sizeof(mailbox) + 1];
	struct timespec ts[2];
	int fd = open(path, O_RDONLY);
	ssize_t r = fd >= 0 ? read(fd, now, sizeof(now)) : -1;

	if (fd >= 0 && close(fd) != 0)
		abort();
	if (r == (ssize_t)sizeof(mailbox) - 1 &&
	    memcmp(now, mailbox, sizeof(mailbox) - 1) == 0)
		return;
	write_file(path, mailbox);
	(void)clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 10;
	ts[1] = ts[0];
	if (utimensat(AT_FDCWD, path, ts, 0) != 0)
		abort();
}

static int
open_transaction(struct session *s)
{
	struct md_config mc = { mpath[turn], 1, STALE_SECS, (gid_t)-1, 0,
	    NULL };
	const char *why;

	restore_mailbox(mpath[turn]);	/* the first turn; else a no-op */
	if (maildrop_open(&s->md, &mc, &why) != MD_OK)
		abort();
	(void)snprintf(s->who.name, sizeof(s->who.name), "fuzz");
	s->state = ST_TRANS;
	chan_set_deadline(s->ch, -1);
	return 0;
}

/* After UPDATE the file is empty or still starts with a From_ line. */
static void
check_mailbox(void)
{
	char head[6];
	int fd = open(mpath[turn], O_RDONLY);
	ssize_t r;

	if (fd < 0 || (r = read(fd, head, sizeof(head))) < 0 ||
	    close(fd) != 0)
		abort();
	if (r != 0 && !md_is_from_line(head, (size_t)r))
		abort();
}

/* Every line CRLF-terminated and at most 512 octets with its CRLF. */
static void
check_replies(int fd)
{
	static char buf[1 << 20];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	size_t line = 0;

	if (n < 0)
		abort();
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			line++;
			continue;
		}
		if (line == 0 || buf[i - 1] != '\r' || line + 1 > 512)
			abort();
		line = 0;
	}
	if (line != 0 && n < (ssize_t)sizeof(buf))
		abort();	/* a last line without its CRLF */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session s;
	struct gate g;
	sigset_t none;
	int in[2], out;

	if (dir[0] == '\0')
		setup();
	if (size < 1 || size > 65536)	/* a pipe holds 64 KiB */
		return 0;
	if (pipe(in) != 0 || (out = open(opath, O_RDWR | O_CREAT | O_TRUNC,
	    0600)) < 0 ||
	    write(in[1], data + 1, size - 1) != (ssize_t)(size - 1) ||
	    close(in[1]) != 0)
		abort();
	if (session_open(&s, &cfg, in[0], out, "fuzz") != 0)
		abort();
	gate_init(&g, &cfg, s.peer);
	s.gate = &g;
	memcpy(s.timestamp, g.timestamp, sizeof(s.timestamp));
	if (greet(&s) != 0 || ((data[0] & 1) && open_transaction(&s) != 0))
		abort();
	session_loop(&s);
	(void)session_close(&s);
	check_replies(out);
	if (data[0] & 1) {
		check_mailbox();
		restore_mailbox(mpath[turn]);
		turn = (turn + 1) % RING;
	}
	if (close(in[0]) != 0 || close(out) != 0)
		abort();
	/* QUIT held SIGTERM for its UPDATE; the next run starts clean */
	if (sigemptyset(&none) != 0 ||
	    sigprocmask(SIG_SETMASK, &none, NULL) != 0)
		abort();
	return 0;
}
