/*
 * gate-test.c - root's record reader (gate.c over authrec.c) fed hostile
 * records through a real socket pair, as a compromised front would send
 * them.  None may end in GATE_END_LOGIN; the one honest login must.
 *
 *   gate-test PASSWD_FILE     (alice:<hash of "secret">:... in it)
 * Prints one line per case and exits 0 only if every case held.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "../../gate.h"

/* gate.c needs only what pop3d.c would give it */
void
startup_error(const char *fmt, ...)
{
	(void)fmt;
}

struct hostile {
	const char *name;
	const char *bytes;
	size_t len;
	enum gate_end want;
};

#define R(s)	s, sizeof(s) - 1
#define READY	"R\0\0"

static const struct hostile cases[] = {
	{ "nothing at all", R(""), GATE_END_SETUP },
	{ "a credential before READY", R("U\0\14alice\0secret"),
	    GATE_END_SETUP },
	{ "a short header", R(READY "U\0"), GATE_END_BAD },
	{ "an oversized length", R(READY "U\377\377alice\0secret"),
	    GATE_END_BAD },
	{ "a record cut short (unterminated)", R(READY "U\0\40alice\0sec"),
	    GATE_END_BAD },
	{ "a record of NULs", R(READY "U\0\10\0\0\0\0\0\0\0\0"),
	    GATE_END_BAD },
	{ "a NUL inside the name", R(READY "U\0\15ali\0ce\0secret"),
	    GATE_END_BAD },
	{ "a trailing NUL", R(READY "U\0\15alice\0secret\0"), GATE_END_BAD },
	{ "one field where two belong", R(READY "U\0\5alice"),
	    GATE_END_BAD },
	{ "an unknown type", R(READY "Z\0\14alice\0secret"), GATE_END_BAD },
	{ "READY twice", R(READY READY), GATE_END_BAD },
	{ "a forged success verdict", R(READY "V\0\3l\0x"), GATE_END_BAD },
	{ "a hand-off without a login", R(READY "H\0\1f"), GATE_END_BAD },
	{ "a wrong password, then a hand-off",
	    R(READY "U\0\13alice\0wrong" "H\0\1f"), GATE_END_BAD },
	{ "another's authorization identity (PLAIN)",
	    R(READY "P\0\20bob\0alice\0secret" "H\0\1f"), GATE_END_BAD },
	{ "APOP without a timestamp", R(READY "A\0\47alice\0"
	    "00000000000000000000000000000000" "H\0\1f"), GATE_END_BAD },
	{ "the right password, no hand-off", R(READY "U\0\14alice\0secret"),
	    GATE_END_BAD },
	{ "a side-file name", R(READY "U\0\21alice.lock\0secret" "H\0\1f"),
	    GATE_END_BAD },
	/* a PEER record (--proxy-from is set below): once, first, an
	   address */
	{ "a PEER that is no address", R(READY "I\0\5hello"
	    "U\0\14alice\0secret" "H\0\1f"), GATE_END_BAD },
	{ "a PEER with a port", R(READY "I\0\16192.0.2.1:110"
	    "U\0\14alice\0secret" "H\0\1f"), GATE_END_BAD },
	{ "a PEER after a credential", R(READY "U\0\13alice\0wrong"
	    "I\0\11192.0.2.1"), GATE_END_BAD },
	{ "two PEER records", R(READY "I\0\11192.0.2.1" "I\0\11192.0.2.2"),
	    GATE_END_BAD },
	{ "a PEER, the right password and a hand-off (control)",
	    R(READY "I\0\13" "2001:db8::1" "U\0\14alice\0secret" "H\0\1f"),
	    GATE_END_LOGIN },
	/* the control: an honest front's login must get through */
	{ "the right password and a hand-off (control)",
	    R(READY "U\0\14alice\0secret" "H\0\1f"), GATE_END_LOGIN },
};

static enum gate_end
run_case(const struct config *cfg, const struct hostile *h)
{
	struct authrec *rec = malloc(sizeof(*rec));
	struct verdict v;
	struct gate g;
	const char *why;
	enum gate_end e;
	int sv[2];

	if (rec == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 ||
	    write(sv[1], h->bytes, h->len) != (ssize_t)h->len ||
	    shutdown(sv[1], SHUT_WR) != 0) {
		perror("gate-test");
		exit(2);
	}
	gate_init(&g, cfg, "test");
	e = gate_serve(&g, sv[0], &v, rec, &why);
	(void)close(sv[0]);
	(void)close(sv[1]);
	free(rec);
	return e;
}

int
main(int argc, char **argv)
{
	static const char *names[] = { "LOGIN", "CLIENT", "SETUP", "BAD" };
	struct config cfg;
	int bad = 0;

	if (argc != 2) {
		(void)fprintf(stderr, "usage: gate-test PASSWD_FILE\n");
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.auth.passwd_file = argv[1];
	cfg.auth.min_uid = 1000;
	cfg.login_timeout = 5;
	cfg.proxy_from.count = 1;	/* PEER records are allowed */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum gate_end e = run_case(&cfg, &cases[i]);
		int ok = e == cases[i].want && geteuid() == getuid();

		(void)printf("%s %s: %s\n", ok ? "ok" : "FAIL", cases[i].name,
		    names[e]);
		bad += !ok;
	}
	return bad != 0;
}
