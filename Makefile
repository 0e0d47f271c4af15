# pop3d - a POP3 server for one session on stdin/stdout.
#
#   make            build ./pop3d
#   make test       run the test suite (tests/*.bats) against ./pop3d
#   make check      build and run the unit tests (tests/unit/test_*.c)
#   make mutate     the mutation check (tests/mutate/): each fault of
#                   tests/mutate/mutations in a copy of the tree, built and
#                   tested; prints the survivors (as root, not in CI)
#   make fuzz       build the libFuzzer targets (tests/fuzz/, clang) and
#                   run each for FUZZ_SECONDS (default 30); prints TAP
#   make asan       build ./pop3d-asan (ASan + UBSan) for the same suite
#   make demo       a session on this terminal with a demo user and mailbox
#   make bench      the benchmarks in bench/ (not part of make test)
#   make install    PREFIX=/usr/local DESTDIR= (also the user pop3d and
#                   /var/lib/pop3d/empty for the pre-authentication process)
#   make deb        the Debian package, in .. (dpkg-buildpackage)
#   make TLS=no     build without libssl (STLS and --tls are refused)
#   make cross ARCH=armhf|s390x
#                   build ./pop3d-ARCH with Debian's cross compiler against
#                   a sysroot that tests/cross-setup unpacks, and the
#                   launcher ./pop3d-ARCH.run that runs it under qemu-user;
#                   SYSROOT= (empty): against the target's libraries
#                   installed by multiarch (libssl-dev:ARCH libcrypt-dev:ARCH)
#
# CC, CPPFLAGS, CFLAGS and LDFLAGS are the packager's (dpkg-buildflags);
# large files and a 64-bit time_t are always asked for (LFS below).

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
# a 64-bit off_t and time_t on 32-bit hosts too (glibc 2.34 on)
LFS      = -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64
SANITIZE = -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined

# the sources, one a line; TLS picks tls.c or tls-none.c
SRCS = \
	pop3d.c \
	options.c \
	number.c \
	session.c \
	admin.c \
	proxy.c \
	penalty.c \
	chan.c \
	front.c \
	gate.c \
	authrec.c \
	logtext.c \
	auth.c \
	maildrop.c \
	mbox.c \
	lock.c \
	proof.c \
	emit.c \
	uidl.c \
	journal.c \
	update.c \
	mdio.c \
	mdindex.c \
	mdindex_file.c \
	mdindex_trust.c \
	persist.c
HDRS = $(wildcard *.h)

# TLS=no: libcrypto stays (digests, MACs), libssl is not linked
TLS ?= yes
ifeq ($(TLS),no)
TLS_SRC  = tls-none.c
TLS_LIBS =
else
TLS_SRC  = tls.c
TLS_LIBS = -lssl
endif
ALL_SRCS = $(SRCS) $(TLS_SRC)
OBJS     = $(ALL_SRCS:.c=.o)
LDLIBS   = -lcrypt $(TLS_LIBS) -lcrypto

.PHONY: all test test-asan asan check demo bench install install-front \
        uninstall clean cross deb fuzz fuzz-build mutate

all: pop3d

pop3d: $(OBJS)
	$(CC) $(CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

# an object built with TLS=no must not end in a TLS=yes binary
tls-mode.stamp: FORCE
	@echo '$(TLS) $(CC) $(CFLAGS)' | cmp -s - $@ || \
	    echo '$(TLS) $(CC) $(CFLAGS)' > $@
FORCE:

# the packager's CPPFLAGS and CFLAGS come last, so theirs win
COMPILE = $(WARN) $(LFS) $(HARDEN) $(CPPFLAGS) $(CFLAGS)

%.o: %.c $(HDRS) tls-mode.stamp
	$(CC) $(COMPILE) -c -o $@ $<

pop3d-asan: $(ALL_SRCS) $(HDRS)
	$(CC) $(WARN) $(LFS) -O1 -g $(SANITIZE) -o $@ \
	    $(ALL_SRCS) $(LDLIBS)

# ---- cross builds: one sysroot and one object directory per ARCH ----
ARCH ?=
CROSS_armhf  = arm-linux-gnueabihf
CROSS_s390x  = s390x-linux-gnu
QEMU_armhf   = qemu-arm
QEMU_s390x   = qemu-s390x
SYSROOT      = $(CURDIR)/cross/sysroot-$(ARCH)
# SYSROOT= on the command line: the compiler's own search path, which on
# Debian holds the multiarch /usr/include/TRIPLET and /usr/lib/TRIPLET;
# its objects apart from the sysroot's, so that neither is mistaken for
# the other's
XDIR         = cross/obj-$(ARCH)$(if $(SYSROOT),,-multiarch)
XCC          = $(CROSS_$(ARCH))-gcc $(if $(SYSROOT),--sysroot=$(SYSROOT))
XOBJS        = $(addprefix $(XDIR)/,$(ALL_SRCS:.c=.o))
XMULTIARCH   = /usr/lib/$(CROSS_$(ARCH))/libssl.so

cross:
	@[ -n "$(CROSS_$(ARCH))" ] || \
	    { echo 'make cross ARCH=armhf or ARCH=s390x' >&2; exit 2; }
ifeq ($(SYSROOT),)
	@[ -e $(XMULTIARCH) ] || { echo 'make cross SYSROOT=: no' \
	    '$(XMULTIARCH); apt-get install libssl-dev:$(ARCH)' \
	    'libcrypt-dev:$(ARCH)' >&2; exit 2; }
else
	tests/cross-setup $(ARCH) $(SYSROOT)
endif
	$(MAKE) pop3d-$(ARCH) pop3d-$(ARCH).run

pop3d-armhf pop3d-s390x: $(XOBJS)
	$(XCC) $(CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ $(XOBJS) \
	    $(LDLIBS)

$(XDIR)/%.o: %.c $(HDRS) tls-mode.stamp
	@mkdir -p $(XDIR)
	$(XCC) $(COMPILE) -c -o $@ $<

# runs the target binary as if it were ./pop3d: argv, the descriptors
# and the exit status pass through qemu-user unchanged.  The target's
# dynamic loader is started with the sysroot's library path rather than
# qemu's -L, which would also look up every absolute path the program
# opens ("/", /etc/passwd) in the sysroot first.  With SYSROOT= these
# are the host's multiarch loader and library directories.
LDSO_armhf = lib/ld-linux-armhf.so.3
LDSO_s390x = lib/ld64.so.1
XLIBS = $(SYSROOT)/lib/$(CROSS_$(ARCH)):$(SYSROOT)/usr/lib/$(CROSS_$(ARCH))
pop3d-armhf.run pop3d-s390x.run: Makefile FORCE
	printf '%s\n' '#!/bin/sh' \
	    '# made by make cross ARCH=$(ARCH): pop3d-$(ARCH) under qemu-user' \
	    'exec $(QEMU_$(ARCH)) $(SYSROOT)/$(LDSO_$(ARCH)) --library-path $(XLIBS) $(CURDIR)/pop3d-$(ARCH) "$$@"' \
	    > $@
	chmod 755 $@

asan: pop3d-asan

# A unit test tests/unit/test_X.c is linked with the sources it tests:
# X.c and X_*.c (e.g. mdindex.c, mdindex_file.c), tests/unit/fuzz_X.c,
# the libFuzzer entry, if there is one, and UNIT_DEPS_X, what those need.
# Built with ASan and UBSan, as root-free programs that print TAP.
UNIT_TESTS = $(patsubst %.c,%,$(wildcard tests/unit/test_*.c))
UNIT_SRCS = $(sort $(wildcard $(1).c $(1)_*.c tests/unit/fuzz_$(1).c) \
    $(UNIT_DEPS_$(1)))
# the scanner, RETR through the maildrop (test_retr) and the journal need
# the maildrop around them; test_emit has stand-ins for what emit.c calls
UNIT_DEPS_mbox    = $(MD_SRCS)
UNIT_DEPS_retr    = $(MD_SRCS)
UNIT_DEPS_journal = $(MD_SRCS)
# the index's format, its trust rule and its side file share one fixture
MDINDEX_FIXTURE   = tests/unit/mdindex_fixture.c
UNIT_DEPS_mdindex = $(MDINDEX_FIXTURE)
UNIT_DEPS_mdindex_file = mdindex.c mdindex_trust.c $(MDINDEX_FIXTURE)
UNIT_DEPS_mdindex_trust = mdindex.c mdindex_file.c $(MDINDEX_FIXTURE)

tests/unit/test_%: tests/unit/test_%.c $(ALL_SRCS) $(HDRS) tests/unit/unit.h \
    proxy.c penalty.c $(MDINDEX_FIXTURE) tests/unit/mdindex_fixture.h
	$(CC) $(WARN) $(LFS) -I. -O1 -g $(SANITIZE) -o $@ $< \
	    $(call UNIT_SRCS,$*) $(LDLIBS)

check: $(UNIT_TESTS)
	@rc=0; for t in $(UNIT_TESTS); do ./$$t || rc=1; done; exit $$rc

# root's record reader driven with hostile records (tests/privsep.bats)
GATE_TEST_SRCS = gate.c authrec.c auth.c logtext.c penalty.c
tests/unit/gate-test: tests/unit/gate-test.c $(GATE_TEST_SRCS) $(HDRS)
	$(CC) $(WARN) $(LFS) -O1 -g -o $@ tests/unit/gate-test.c \
	    $(GATE_TEST_SRCS) $(LDLIBS)

# ---- fuzzing (README "Tests"): one libFuzzer target per parser ----
# Debian's clang (clang-14, libclang-rt-14-dev), ASan + UBSan.  The
# session target compiles pop3d.c and session.c into itself (tests/fuzz/fuzz_session.c);
# the index target skips the index's checksum (FUZZING_BUILD_MODE_...,
# tests/unit/fuzz_mdindex.c); the journal target computes the journal's
# checksum itself, so journal.c is built as it ships.
FUZZ_CC      = clang
FUZZ_SECONDS = 30
FUZZ_FLAGS   = $(WARN) $(LFS) -I. -g -O1 -fno-omit-frame-pointer \
               -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=undefined
FUZZ_TARGETS = session mbox journal mdindex sasl authrec proxy
FUZZ_BINS    = $(FUZZ_TARGETS:%=tests/fuzz/fuzz-%)
MD_SRCS      = maildrop.c mbox.c lock.c proof.c emit.c uidl.c journal.c \
               update.c mdio.c mdindex.c mdindex_file.c \
               mdindex_trust.c persist.c
FUZZ_SESSION_SRCS = $(filter-out pop3d.c session.c,$(SRCS)) tls-none.c

tests/fuzz/fuzz-session: tests/fuzz/fuzz_session.c $(ALL_SRCS) $(HDRS)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_SESSION_SRCS) -lcrypt \
	    -lcrypto

tests/fuzz/fuzz-mbox tests/fuzz/fuzz-journal: tests/fuzz/fuzz-%: \
    tests/fuzz/fuzz_%.c $(MD_SRCS) $(HDRS)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(MD_SRCS) -lcrypto

MDINDEX_SRCS = mdindex.c mdindex_file.c mdindex_trust.c
tests/fuzz/fuzz-mdindex: tests/unit/fuzz_mdindex.c $(MDINDEX_SRCS) $(HDRS)
	$(FUZZ_CC) $(FUZZ_FLAGS) -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION \
	    -o $@ $< $(MDINDEX_SRCS) -lcrypto

tests/fuzz/fuzz-sasl: tests/fuzz/fuzz_sasl.c auth.c logtext.c $(HDRS)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< auth.c logtext.c -lcrypt -lcrypto

tests/fuzz/fuzz-authrec: tests/fuzz/fuzz_authrec.c authrec.c $(HDRS)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< authrec.c

tests/fuzz/fuzz-proxy: tests/fuzz/fuzz_proxy.c proxy.c $(HDRS)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< proxy.c

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	tests/fuzz/run $(FUZZ_SECONDS) $(FUZZ_TARGETS)

test: pop3d
	tests/run

# README "Tests": the tree is copied, the work tree never written
mutate:
	tests/mutate/run

test-asan: pop3d-asan
	POP3D=$(CURDIR)/pop3d-asan tests/run

# as root, the pre-authentication process needs its user and chroot
demo: pop3d
	@[ "$$(id -u)" != 0 ] || $(MAKE) -s install-front
	@sh tests/lib/demo.sh ./pop3d

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
	rm -f pop3d pop3d-asan *.o tls-mode.stamp pop3d-armhf pop3d-s390x \
	    pop3d-armhf.run pop3d-s390x.run $(UNIT_TESTS) tests/unit/gate-test \
	    $(FUZZ_BINS)
	rm -rf cross/obj-*

deb:
	dpkg-buildpackage -us -uc -b
