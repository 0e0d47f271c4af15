#!/usr/bin/env bats
# Never lose a message: fault injection into every write-type system call
# of UPDATE and of the recovery that follows a crash (README "The mailbox",
# Deleting; pop3d.8 "UPDATE AND RECOVERY").
#
# faultsweep.py lists the calls pop3d makes after it reads QUIT (one
# traced run), then runs the session once per call with strace -e
# inject=CALL:signal=SIGKILL:when=K (or error=ENOSPC, error=EIO) on just
# that call, runs one more session (it recovers) and compares the mailbox
# with the ground truth byte for byte: the session's deletions all done
# (the fault came after the commit) or none (before it), every other
# message once, in order, nothing else; no journal, no PATH.lock; inode,
# owner and mode kept.  Small mailboxes are swept at every point, the big
# one at a sample.  The summary lines (points, seconds) go to the TAP log.
#
# Mailbox kinds (lib/mbox.py): s small, m ~20 KB, L ~1 MB, c CRLF,
# z NUL bytes, q ">From" and unquoted "From " body lines, x a c-client
# X-IMAP pseudo-message, n no final newline.

load lib/helper
load lib/mailspool

setup() {
	setup_maildrop
}

MIXED=s,L,s,m,s,L,s,s		# ~2 MB, two large messages
ODD=x,s,c,z,q,L,s,n		# every parsing oddity, hidden first message

@test "kill sweep: deletions at the start, middle and end of a mailbox with large messages" {
	integ_sweep kill-ends --spec $MIXED --dele 1,4,8 --mode kill
}

@test "kill sweep: only the first message deleted, the large rest moved" {
	integ_sweep kill-first --spec s,L,m,L,s --dele 1 --mode kill
}

@test "kill sweep: only the last message deleted (the truncate-only update)" {
	integ_sweep kill-last --spec $MIXED --dele 8 --mode kill
}

@test "kill sweep: CRLF, NUL, >From, no final newline, pseudo-message; UIDL seen" {
	integ_sweep kill-odd --spec $ODD --dele 2,4 --mode kill --uidl
}

@test "kill sweep: every visible message deleted; the X-IMAP pseudo-message stays" {
	integ_sweep kill-all --spec x,s,L,c,s --dele 1,2,3,4 --mode kill
}

@test "kill sweep, then an MDA delivers before the next session: the mail is kept once" {
	integ_sweep kill-deliver --spec $MIXED --dele 1,4,8 --mode kill --deliver
}

@test "kill sweep over a ~10 MB mailbox (sampled points)" {
	integ_sweep kill-big --spec L,s,L,L,m,L,L,s,L,L,L,s,L,s --dele 2,7,14 \
	    --mode kill --max-points 30 --seed 7
}

@test "ENOSPC sweep: QUIT answers +OK or -ERR [SYS/TEMP]; the mailbox stays intact" {
	local rc=0
	integ_sweep enospc-ends --spec $MIXED --dele 1,4,8 --mode ENOSPC || rc=1
	integ_sweep enospc-last --spec $MIXED --dele 8 --mode ENOSPC || rc=1
	integ_sweep enospc-odd --spec $ODD --dele 1,7 --mode ENOSPC --uidl || rc=1
	return $rc
}

@test "EIO sweep: QUIT answers +OK or -ERR [SYS/TEMP]; the mailbox stays intact" {
	local rc=0
	integ_sweep eio-ends --spec $MIXED --dele 1,4,8 --mode EIO || rc=1
	integ_sweep eio-last --spec $MIXED --dele 8 --mode EIO || rc=1
	integ_sweep eio-odd --spec $ODD --dele 1,7 --mode EIO --uidl || rc=1
	return $rc
}

@test "ENOSPC and EIO that persist (every later call fails, the retry too): [SYS/TEMP], then recovered" {
	local rc=0
	integ_sweep enospc-persist --spec $MIXED --dele 1,4,8 --mode ENOSPC --persist || rc=1
	integ_sweep eio-persist --spec s,m,L,s --dele 2 --mode EIO --persist || rc=1
	return $rc
}

@test "recovery kill sweep: crash after the commit, mail delivered, recovery killed at every point" {
	# fsync #3 after QUIT (#1 is the dotlock's): the directory fsync
	# right after the journal's rename (COMMITTED, no marker yet)
	integ_sweep rec-committed --spec $MIXED --dele 1,4,8 --phase recover \
	    --crash fsync:3 --deliver --mode kill
}

@test "recovery kill sweep: crash mid-rewrite (MARKED), mail delivered after the old end" {
	integ_sweep rec-marked --spec $MIXED --dele 1,4,8 --phase recover \
	    --crash pwrite64:9 --deliver --mode kill
}

@test "recovery kill sweep: crash after the truncate, mail delivered after the new end" {
	# unlinkat #4 after QUIT is the journal's removal: the file is cut
	integ_sweep rec-cut --spec $MIXED --dele 1,4,8 --phase recover \
	    --crash unlinkat:4 --deliver --mode kill
}

@test "recovery kill sweep: crash mid-rewrite, the dead process's lock still there" {
	integ_sweep rec-lock --spec $MIXED --dele 1,4,8 --phase recover \
	    --crash ftruncate:1 --mode kill
}

@test "recovery ENOSPC and EIO sweeps: login fails with [SYS/TEMP] or recovers; nothing lost" {
	local rc=0
	integ_sweep rec-enospc --spec $MIXED --dele 1,4,8 --phase recover \
	    --crash ftruncate:1 --deliver --mode ENOSPC || rc=1
	integ_sweep rec-eio --spec $MIXED --dele 1,4,8 --phase recover \
	    --crash fsync:3 --deliver --mode EIO || rc=1
	return $rc
}

@test "pop3d --recover finishes an interrupted update, keeping mail delivered after the crash" {
	integ_gen $MIXED
	cp "$MBOX" "$BATS_TEST_TMPDIR/orig"
	# killed in the rewrite, after the commit
	run python3 "$POP3CLIENT" session -- strace -f -qq -o /dev/null \
	    -e inject=ftruncate:signal=SIGKILL:when=1 \
	    "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0 <<-EOF
	$LOGIN
	DELE 1
	DELE 4
	QUIT
	EOF
	[ -e "$MBOX.pop3d-journal" ]
	[ -e "$MBOX.lock" ]		# SIGKILL: nothing could remove it
	msg_file "$BATS_TEST_TMPDIR/new" late
	rm -f "$MBOX.lock"		# what an MDA does with a dead pid's lock
	python3 "$TESTS/lib/deliver.py" "$MBOX" < "$BATS_TEST_TMPDIR/new"
	run "$POP3D" --recover "$MBOX.pop3d-journal"
	[ "$status" -eq 0 ]
	[ "$output" = "$MBOX: ok" ]
	integ_check --deleted 1,4 --expect deleted --delivered "$BATS_TEST_TMPDIR/new"
	assert_clean_spool
	[ "$(stat -c %u:%g:%a "$MBOX")" = "$TEST_UID:$TEST_GID:600" ]
	run "$POP3D" --recover "$MBOX"		# nothing to do: still ok
	[ "$status" -eq 0 ]
	integ_check --deleted 1,4 --expect deleted --delivered "$BATS_TEST_TMPDIR/new"
}

@test "a pop3d --recover (root) that fails leaves a journal the owner's next login can finish" {
	integ_gen $MIXED
	run python3 "$POP3CLIENT" session -- strace -f -qq -o /dev/null \
	    -e inject=ftruncate:signal=SIGKILL:when=1 \
	    "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0 <<-EOF
	$LOGIN
	DELE 2
	QUIT
	EOF
	[ -e "$MBOX.pop3d-journal" ]
	msg_file "$BATS_TEST_TMPDIR/new" late
	rm -f "$MBOX.lock"
	python3 "$TESTS/lib/deliver.py" "$MBOX" < "$BATS_TEST_TMPDIR/new"
	# the boot script's --recover, as root, on a disk that fails after
	# it rewrote the journal (to take in the delivered mail)
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	    run strace -f -qq -o /dev/null -e inject=ftruncate:error=EIO:when=1+ \
	    "$POP3D" --recover "$MBOX"
	[ "$status" -ne 0 ]
	[ -e "$MBOX.pop3d-journal" ]
	pop3 <<-EOF
	$LOGIN
	STAT
	QUIT
	EOF
	[[ "${lines[2]}" == "+OK alice has 8 messages"* ]]
	integ_check --deleted 2 --expect deleted --delivered "$BATS_TEST_TMPDIR/new"
	assert_clean_spool
}

# cut_synced_before_reply TRACE: the last ftruncate of the mailbox is
# followed by an fsync (or fdatasync) of it, and that by QUIT's +OK
cut_synced_before_reply() {
	awk -v m="<$MBOX>" '
	    index($0, "ftruncate(") && index($0, m) { t = NR; f = 0 }
	    t && !f && (index($0, "fsync(") || index($0, "fdatasync(")) &&
	        index($0, m) { f = NR }
	    index($0, "+OK pop3d signing off") { r = NR }
	    END { printf "ftruncate line %d, fsync %d, +OK %d\n", t, f, r
		  exit !(t && f > t && r > f) }' "$1"
}

@test "QUIT's +OK comes after the cut is fsynced: the truncate-only update and the journalled one" {
	local trace=$BATS_TEST_TMPDIR/trace n
	for n in 3 1; do	# the last message (one ftruncate), the first
		integ_gen s,s,s
		LOGWRAP=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
		    strace -f -qq -y -o "$trace" \
		    -e trace=ftruncate,fsync,fdatasync,write --)
		pop3 <<-EOF
		$LOGIN
		DELE $n
		QUIT
		EOF
		LOGWRAP=()
		[[ "${lines[4]}" == "+OK pop3d signing off"* ]]
		run cut_synced_before_reply "$trace"
		echo "DELE $n: $output"
		[ "$status" -eq 0 ]
		integ_check --deleted "$n" --expect deleted
	done
	assert_clean_spool
}
