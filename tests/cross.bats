#!/usr/bin/env bats
# Other architectures and builds: a spool shared by a little-endian and a
# big-endian pop3d (the update journal is read back, never misread), a
# mailbox over 4 GiB on a 32-bit build, and the build without libssl.
#
# The cross builds come from `make cross ARCH=armhf` / `ARCH=s390x` (README
# "Other architectures"): $POP3D_ARMHF and $POP3D_S390X, by default the
# launchers next to the Makefile; a test whose build is missing skips.
# $POP3D is the native build the other side is compared with.

bats_require_minimum_version 1.5.0
load lib/helper
load lib/mailspool

TOP=$(cd "$TESTS/.." && pwd)
ARMHF=${POP3D_ARMHF:-$TOP/pop3d-armhf.run}
S390X=${POP3D_S390X:-$TOP/pop3d-s390x.run}
# a session's bound: under qemu on a busy machine, reading a mailbox over
# 4 GiB takes minutes
BIG_DEADLINE=600

setup() {
	setup_maildrop
}

need() {
	[ -x "$1" ] || skip "no $(basename "$1"): make cross ARCH=$2 first"
}

# crash_after_commit BINARY DELE... - a session that deletes those
# messages and is killed in the rewrite, after the journal's commit (the
# first ftruncate of UPDATE), as integrity.bats does.
crash_after_commit() {
	local bin=$1 script=$LOGIN n
	shift
	for n in "$@"; do
		script+=$'\n'"DELE $n"
	done
	run python3 "$POP3CLIENT" session --deadline "$BIG_DEADLINE" -- \
	    strace -f -qq -o /dev/null \
	    -e inject=ftruncate:signal=SIGKILL:when=1 \
	    "$bin" -p "$PASSWD" -m "$SPOOL/%u" -d 0 <<< "$script"$'\nQUIT'
	[ -e "$MBOX.pop3d-journal" ] || {
		echo "no journal left by $bin: $output" >&2
		return 1
	}
	rm -f "$MBOX.lock"	# SIGKILL left it; its pid is dead
}

# Journal written by $1, recovered at login by $2: exactly the deleted
# messages gone, the mail delivered after the crash kept.
journal_across() {
	integ_gen s,L,s,m,s,L,s,s
	crash_after_commit "$1" 1 4 8
	msg_file "$BATS_TEST_TMPDIR/new" late
	python3 "$TESTS/lib/deliver.py" "$MBOX" < "$BATS_TEST_TMPDIR/new"
	POP3D=$2 pop3 <<-EOF
	$LOGIN
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ "${lines[2]}" == "+OK alice has 6 messages"* ]]
	integ_check --deleted 1,4,8 --expect deleted \
	    --delivered "$BATS_TEST_TMPDIR/new"
	assert_clean_spool
}

@test "a journal left by a crashed little-endian pop3d is recovered by the big-endian s390x build" {
	need "$S390X" s390x
	journal_across "$POP3D" "$S390X"
}

@test "a journal left by a crashed big-endian s390x pop3d is recovered by the little-endian build" {
	need "$S390X" s390x
	journal_across "$S390X" "$POP3D"
}

# ---- more than 4 GiB ----------------------------------------------

# A sparse mailbox: message 1 holds a 4 GiB line of NUL bytes (a hole),
# messages 2 and 3 lie past the 4 GiB mark.  Writes $BIG_TAIL (the file
# from message 2 on) and sets BIG_SIZE1 (LIST size of message 1).
big_mailbox() {
	BIG_TAIL=$BATS_TEST_TMPDIR/tail
	BIG_SIZE1=$(python3 - "$MBOX" "$BIG_TAIL" <<-'PY'
	import sys
	head = b"From a@example.org Mon Jan  1 00:00:00 2024\nSubject: big\n\n"
	nul = (1 << 32) + 4096          # the NUL line, past 4 GiB
	tail = (b"From b@example.org Mon Jan  1 00:00:00 2024\n"
	        b"Subject: two\n\npast 4 GiB\n\n"
	        b"From c@example.org Mon Jan  1 00:00:00 2024\n"
	        b"Subject: three\n\n.dot-stuffed\nlast\n")
	with open(sys.argv[1], "wb") as f:
	    f.write(head)
	    f.seek(len(head) + nul)
	    f.write(b"\n\n" + tail)
	with open(sys.argv[2], "wb") as f:
	    f.write(tail)
	# "Subject: big" CRLF, the blank line, the NUL line CRLF
	print(len("Subject: big") + 2 + 2 + nul + 2)
	PY
	)
	chown "$TEST_UID:$TEST_GID" "$MBOX"
	chmod 600 "$MBOX"
}

# big_file BINARY: list, retrieve, delete and recover on that build.
big_file() {
	local bin=$1
	big_mailbox
	POP3D=$bin pop3 --deadline "$BIG_DEADLINE" <<-EOF
	$LOGIN
	STAT
	LIST
	RETR 2
	RETR 3
	QUIT
	EOF
	[ "$status" -eq 0 ]
	local total=$((BIG_SIZE1 + 28 + 38))
	[ "${lines[2]}" = "+OK alice has 3 messages ($total octets)" ]
	[ "${lines[3]}" = "+OK 3 $total" ]
	[ "${lines[5]}" = "1 $BIG_SIZE1" ]
	[ "${lines[6]}" = "2 28" ]
	[ "${lines[7]}" = "3 38" ]
	[ "${lines[10]}" = "Subject: two" ]
	[ "${lines[11]}" = "past 4 GiB" ]
	[ "${lines[12]}" = "." ]
	[ "${lines[15]}" = "..dot-stuffed" ]
	[ "${lines[16]}" = "last" ]
	# deleting message 1 moves 2 and 3 down across the 4 GiB mark;
	# killed after the commit, the next login finishes it
	crash_after_commit "$bin" 1
	POP3D=$bin pop3 --deadline "$BIG_DEADLINE" <<-EOF
	$LOGIN
	LIST
	RETR 1
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "+OK alice has 2 messages (66 octets)" ]
	[ "${lines[7]}" = "+OK 28 octets" ]
	[ "${lines[9]}" = "past 4 GiB" ]
	cmp "$BIG_TAIL" "$MBOX"
	assert_clean_spool
}

@test "a sparse mailbox over 4 GiB on the 32-bit armhf build: LIST, RETR past 4 GiB, DELE, crash and recovery" {
	need "$ARMHF" armhf
	big_file "$ARMHF"
}

@test "a sparse mailbox over 4 GiB natively: LIST, RETR past 4 GiB, DELE, crash and recovery" {
	big_file "$POP3D"
}

# ---- make TLS=no --------------------------------------------------

@test "make TLS=no: no libssl linked; --tls-cert/--tls refused at start-up with exit 2 and one line; CAPA has no STLS" {
	local src=$BATS_TEST_TMPDIR/src f
	mkdir "$src"
	for f in Makefile "$TOP"/*.c "$TOP"/*.h; do
		cp -p "$TOP/${f##*/}" "$src/"
	done
	run make -C "$src" TLS=no pop3d
	[ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
	run readelf -d "$src/pop3d"
	grep -q 'NEEDED.*libcrypto\.so' <<< "$output"
	! grep -q 'NEEDED.*libssl' <<< "$output"
	run --separate-stderr "$src/pop3d" --version
	[[ "$output" == "pop3d "*" (built without TLS)" ]]
	local opts
	for opts in "--tls-cert $src/Makefile --tls-key $src/Makefile" \
	    "--tls" "--tls-cert /nonexistent --tls-key /nonexistent"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$src/pop3d" -p "$PASSWD" $opts < /dev/null
		[ "$status" -eq 2 ]
		[ -z "$output" ]
		[ "$stderr" = "pop3d: --tls-cert, --tls-key, --tls: this pop3d was built without TLS (use stunnel)" ]
	done
	mbox_make 1
	POP3D=$src/pop3d pop3 -- --allow-plaintext <<-EOF
	CAPA
	STLS
	$LOGIN
	CAPA
	QUIT
	EOF
	[ "$status" -eq 0 ]
	! grep -qx 'STLS' <<< "$output"
	grep -qx 'USER' <<< "$output"
	grep -q '^-ERR' <<< "$output"
}

# ---- the packager's armhf build ----------------------------------

# The build a packager makes: `make CC=arm-linux-gnueabihf-gcc` and
# nothing else, against the target's libraries installed by multiarch
# (libssl-dev:armhf, libcrypt-dev:armhf) or, without them, against the
# sysroot `make cross ARCH=armhf` unpacked (the same compiler with
# --sysroot).  Leaves $PKG_POP3D, a launcher ending in .run that runs
# the result under qemu-arm as ./pop3d is run.
packager_build() {
	local src=$BATS_TEST_TMPDIR/src sysroot=$TOP/cross/sysroot-armhf f
	local cc=arm-linux-gnueabihf-gcc run
	command -v "$cc" >/dev/null && command -v qemu-arm >/dev/null ||
	    skip "no $cc or qemu-arm: tests/cross-setup armhf"
	if [ -e /usr/lib/arm-linux-gnueabihf/libssl.so ] &&
	    [ -e /usr/lib/arm-linux-gnueabihf/libcrypt.so ]; then
		run="qemu-arm"
	elif [ -e "$sysroot/.complete" ]; then
		cc="$cc --sysroot=$sysroot"
		run="qemu-arm $sysroot/lib/ld-linux-armhf.so.3 --library-path"
		run+=" $sysroot/lib/arm-linux-gnueabihf:$sysroot/usr/lib/arm-linux-gnueabihf"
	else
		skip "no libssl-dev:armhf and no sysroot: make cross ARCH=armhf"
	fi
	mkdir "$src"
	for f in Makefile "$TOP"/*.c "$TOP"/*.h; do
		cp -p "$TOP/${f##*/}" "$src/"
	done
	run make -C "$src" CC="$cc" pop3d
	[ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
	run readelf -h "$src/pop3d"
	grep -q 'Class:.*ELF32' <<< "$output"
	grep -q 'Machine:.*ARM' <<< "$output"
	PKG_POP3D=$src/pop3d.run
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$run" "$src/pop3d" > "$PKG_POP3D"
	chmod 755 "$PKG_POP3D"
}

# The replies of one session on $MBOX, by the build $1 with options $2...
pkg_session() {
	local bin=$1
	shift
	POP3D=$bin pop3 -- "$@" <<-EOF
	$LOGIN
	STAT
	LIST
	UIDL
	RETR 1
	RETR $PKG_LAST
	QUIT
	EOF
	[ "$status" -eq 0 ] || { echo "$bin: $output" >&2; return 1; }
}

# The same session natively (without the index) and by the packager's
# build twice (its first login stores the index, the second reads it):
# the same replies, byte for byte.
pkg_same() {
	local native
	pkg_session "$POP3D" --no-index
	native=$output
	[[ "${lines[2]}" == "+OK alice has $1 messages "* ]]
	pkg_session "$PKG_POP3D"
	[ "$output" = "$native" ] || { diff <(echo "$native") <(echo "$output") >&2; return 1; }
	pkg_session "$PKG_POP3D"
	[ "$output" = "$native" ] || { diff <(echo "$native") <(echo "$output") >&2; return 1; }
	assert_clean_spool
}

@test "make CC=arm-linux-gnueabihf-gcc (multiarch or sysroot): logs in on 1 message, 300, a 17 MB mailbox and one dated after 2038; STAT, LIST, UIDL, RETR as natively" {
	packager_build
	mbox_make 1
	PKG_LAST=1 pkg_same 1
	rm -f "$MBOX" "$MBOX".pop3d-index
	mbox_make 300
	PKG_LAST=300 pkg_same 300
	# past 16 MiB (where an earlier version hashed on two threads)
	python3 - "$MBOX" <<-'PY'
	import sys
	with open(sys.argv[1], "ab") as f:
	    f.write(b"From big@example.org Mon Jan  1 00:00:00 2024\n"
	            b"Subject: big\n\n" + (b"x" * 999 + b"\n") * 17000 + b"\n")
	PY
	PKG_LAST=301 pkg_same 301
	# a 32-bit time_t cannot hold this mtime: fstat() fails with
	# EOVERFLOW unless the build has -D_TIME_BITS=64
	rm -f "$MBOX" "$MBOX".pop3d-index
	mbox_make 2
	touch -d '2040-01-01 00:00:00 UTC' "$MBOX"
	PKG_LAST=2 pkg_same 2
}
