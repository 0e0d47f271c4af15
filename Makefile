# pop3d - a POP3 server for one session on stdin/stdout.
#
#   make            build ./pop3d
#   make test       run the test suite (tests/*.bats) against ./pop3d
#   make check      build and run the unit tests (tests/unit/test_*.c)
#   make asan       build ./pop3d-asan (ASan + UBSan) for the same suite
#   make demo       a session on this terminal with a demo user and mailbox
#   make bench      the benchmarks in bench/ (not part of make test)
#   make install    PREFIX=/usr/local DESTDIR=
#   make deb        the Debian package, in .. (dpkg-buildpackage)

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
SANITIZE = -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined

SRCS = pop3d.c auth.c tls.c maildrop.c mbox.c lock.c proof.c emit.c uidl.c \
       journal.c update.c mdio.c mdindex.c mdindex_file.c persist.c
OBJS = $(SRCS:.c=.o)
HDRS = auth.h byteorder.h maildrop.h md.h mdindex.h tls.h params.h proxy.h \
       penalty.h

.PHONY: all test test-asan asan check demo bench install uninstall \
        clean deb

all: pop3d

pop3d: $(OBJS)
	$(CC) $(CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

%.o: %.c $(HDRS)
	$(CC) $(WARN) $(HARDEN) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

pop3d-asan: $(SRCS) $(HDRS)
	$(CC) $(WARN) -O1 -g $(SANITIZE) -o $@ $(SRCS) $(LDLIBS)

asan: pop3d-asan

# A unit test tests/unit/test_X.c is linked with the sources it tests:
# X.c and X_*.c (e.g. mdindex.c, mdindex_file.c), and tests/unit/fuzz_X.c,
# the libFuzzer entry, if there is one.  Built with ASan and UBSan, as
# root-free programs that print TAP.
UNIT_TESTS = $(patsubst %.c,%,$(wildcard tests/unit/test_*.c))
UNIT_SRCS = $(wildcard $(1).c $(1)_*.c tests/unit/fuzz_$(1).c)

tests/unit/test_%: tests/unit/test_%.c $(SRCS) $(HDRS) tests/unit/unit.h \
    proxy.c penalty.c
	$(CC) $(WARN) -I. -O1 -g $(SANITIZE) -o $@ $< \
	    $(call UNIT_SRCS,$*) $(LDLIBS)

check: $(UNIT_TESTS)
	@rc=0; for t in $(UNIT_TESTS); do ./$$t || rc=1; done; exit $$rc

test: pop3d
	tests/run

test-asan: pop3d-asan
	POP3D=$(CURDIR)/pop3d-asan tests/run

demo: pop3d
	@sh tests/demo.sh ./pop3d

bench: pop3d
	bench/run

install: pop3d
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

clean:
	rm -f pop3d pop3d-asan $(OBJS) $(UNIT_TESTS)

deb:
	dpkg-buildpackage -us -uc -b
