# pop3d - a POP3 server for one session on stdin/stdout.
#
#   make            build ./pop3d
#   make test       run the test suite (tests/*.bats) against ./pop3d
#   make asan       build ./pop3d-asan (ASan + UBSan) for the same suite
#   make demo       a session on this terminal with a demo user and mailbox
#   make bench      the benchmarks in bench/ (not part of make test)
#   make install    PREFIX=/usr/local DESTDIR= (also the user pop3d and
#                   /var/lib/pop3d/empty for the pre-authentication process)

PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/pop3d

CC      ?= cc
WARN     = -std=c11 -Wall -Wextra -Wpedantic -Wformat=2 -Wshadow \
           -Wstrict-prototypes -Wmissing-prototypes -Wvla
HARDEN   = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE \
           -fstack-clash-protection
CFLAGS  ?= -O2 -g
LDHARDEN = -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
LDLIBS   = -lcrypt -lssl -lcrypto
# one thread fingerprints the mailbox while the other indexes it
THREADS  = -pthread
SANITIZE = -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined

SRCS = pop3d.c chan.c front.c gate.c authrec.c logtext.c auth.c maildrop.c tls.c
OBJS = $(SRCS:.c=.o)
HDRS = auth.h authrec.h chan.h front.h gate.h logtext.h maildrop.h pop3d.h \
       tls.h params.h

.PHONY: all test test-asan asan demo bench install install-front uninstall \
        clean

all: pop3d

pop3d: $(OBJS)
	$(CC) $(CFLAGS) $(THREADS) $(LDHARDEN) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

%.o: %.c $(HDRS)
	$(CC) $(WARN) $(HARDEN) $(THREADS) $(CFLAGS) -c -o $@ $<

pop3d-asan: $(SRCS) $(HDRS)
	$(CC) $(WARN) $(THREADS) -O1 -g $(SANITIZE) -o $@ $(SRCS) $(LDLIBS)

asan: pop3d-asan

# root's record reader driven with hostile records (tests/records.bats)
UNIT_SRCS = gate.c authrec.c auth.c logtext.c
tests/unit/gate-test: tests/unit/gate-test.c $(UNIT_SRCS) $(HDRS)
	$(CC) $(WARN) -O1 -g -o $@ tests/unit/gate-test.c $(UNIT_SRCS) $(LDLIBS)

test: pop3d
	tests/run

test-asan: pop3d-asan
	POP3D=$(CURDIR)/pop3d-asan tests/run

demo: pop3d
	@sh tests/demo.sh ./pop3d

bench: pop3d
	bench/run

# the pre-authentication process's user and its empty chroot (README
# "Security"); idempotent.  Under DESTDIR the package creates the user.
FRONT_USER = pop3d
FRONT_ROOT = /var/lib/pop3d/empty

install-front:
	install -d -m 755 $(DESTDIR)$(FRONT_ROOT)
	@if [ -n "$(DESTDIR)" ]; then \
	    echo "make install: the package must create the system user $(FRONT_USER)"; \
	elif ! id $(FRONT_USER) >/dev/null 2>&1; then \
	    useradd --system --no-create-home --home-dir /nonexistent \
	        --shell /usr/sbin/nologin $(FRONT_USER); \
	fi

install: pop3d install-front
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(DOCDIR)
	install -m 755 pop3d $(DESTDIR)$(SBINDIR)/pop3d
	install -m 644 pop3d.8 $(DESTDIR)$(MANDIR)/man8/pop3d.8
	install -m 644 README.md $(DESTDIR)$(DOCDIR)/
	for f in *.example pop3d.socket pop3d@.service; do \
	    [ -f "$$f" ] && install -m 644 "$$f" $(DESTDIR)$(DOCDIR)/ || :; \
	done

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/pop3d $(DESTDIR)$(MANDIR)/man8/pop3d.8
	rm -rf $(DESTDIR)$(DOCDIR)
	-rmdir $(DESTDIR)$(FRONT_ROOT) $(DESTDIR)/var/lib/pop3d 2>/dev/null

clean:
	rm -f pop3d pop3d-asan $(OBJS) tests/unit/gate-test
