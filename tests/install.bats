#!/usr/bin/env bats
# make install / make uninstall with DESTDIR, and the man page renders
# clean.  make runs on a copy of the tree (timestamps kept), so the test
# never rebuilds or touches the working tree's files.
#
# Packages: make gcc libssl-dev libcrypt-dev (make install builds pop3d in
# the copy first) man-db mandoc.

bats_require_minimum_version 1.5.0
load lib/helper
load lib/clients

# every source and header the Makefile may name, whatever files the tree has
FILES="Makefile pop3d pop3d.8 README.md xinetd.conf.example inetd.conf.example
stunnel.conf.example pop3d.socket pop3d@.service"

setup() {
	T=$BATS_TEST_TMPDIR
	[ -f "$EXAMPLES/pop3d.8" ] ||
	    skip "pop3d.8 does not exist yet (the lead is writing it)"
	mkdir "$T/src"
	local f
	for f in $FILES "$EXAMPLES"/*.[ch]; do
		f=${f##*/}
		[ ! -e "$EXAMPLES/$f" ] || cp -p "$EXAMPLES/$f" "$T/src/"
	done
}

@test "make install DESTDIR=... PREFIX=/usr: pop3d in sbin, pop3d.8 in the man directory, examples in share/doc/pop3d" {
	run make -C "$T/src" install DESTDIR="$T/root" PREFIX=/usr
	[ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
	[ -x "$T/root/usr/sbin/pop3d" ]
	cmp "$T/src/pop3d" "$T/root/usr/sbin/pop3d"
	[ "$(stat -c %a "$T/root/usr/sbin/pop3d")" = 755 ]
	run "$T/root/usr/sbin/pop3d" --version
	[[ $output == "pop3d "* ]]
	cmp "$EXAMPLES/pop3d.8" "$T/root/usr/share/man/man8/pop3d.8"
	[ "$(stat -c %a "$T/root/usr/share/man/man8/pop3d.8")" = 644 ]
	local f
	for f in README.md xinetd.conf.example inetd.conf.example \
	    stunnel.conf.example pop3d.socket pop3d@.service; do
		cmp "$EXAMPLES/$f" "$T/root/usr/share/doc/pop3d/$f"
	done
	# nothing outside DESTDIR/usr but the pre-authentication process's
	# empty chroot directory (README "Security")
	[ "$(ls "$T/root" | tr '\n' ' ')" = "usr var " ]
	[ -d "$T/root/var/lib/pop3d/empty" ]
	[ -z "$(ls -A "$T/root/var/lib/pop3d/empty")" ]
	[ "$(stat -c %a "$T/root/var/lib/pop3d/empty")" = 755 ]
	run find "$T/root" -type f
	[ "${#lines[@]}" -eq 8 ]
}

@test "make uninstall DESTDIR=... removes what make install put there" {
	make -C "$T/src" install DESTDIR="$T/root" PREFIX=/usr >/dev/null
	# something else of the system's in the same directories stays
	: > "$T/root/usr/sbin/other"
	: > "$T/root/usr/share/man/man8/other.8"
	run make -C "$T/src" uninstall DESTDIR="$T/root" PREFIX=/usr
	[ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
	[ ! -e "$T/root/usr/sbin/pop3d" ]
	[ ! -e "$T/root/usr/share/man/man8/pop3d.8" ]
	[ ! -e "$T/root/usr/share/doc/pop3d" ]
	[ -e "$T/root/usr/sbin/other" ]
	[ -e "$T/root/usr/share/man/man8/other.8" ]
	run find "$T/root" -type f
	[ "${#lines[@]}" -eq 2 ]
}

@test "man -l pop3d.8 renders at 80 columns without a warning" {
	run --separate-stderr env MANWIDTH=80 MAN_KEEP_FORMATTING= \
	    man --warnings -E UTF-8 -l "$EXAMPLES/pop3d.8"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ] || { echo "$stderr" >&2; return 1; }
	[[ $output == *"pop3d"* ]]
	# nothing wider than the terminal
	local wide
	wide=$(printf '%s\n' "$output" | python3 -c '
import sys
for l in sys.stdin:
    if len(l.rstrip("\n")) > 80: print(l, end="")' | head -3)
	[ -z "$wide" ] || { echo "lines over 80 columns: $wide" >&2; return 1; }
}

@test "mandoc -Tlint pop3d.8 is clean" {
	run mandoc -Tlint "$EXAMPLES/pop3d.8"
	[ "$status" -eq 0 ]
	[ -z "$output" ] || { echo "$output" >&2; return 1; }
}
