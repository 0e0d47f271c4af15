#!/usr/bin/env bats
# tests/index.bats - the persistent index (README "Persistent index"):
# written at the end of a session, trusted at login only for the file it
# names and only while that file is unchanged, rewritten after UPDATE.
#
# The mutation battery: each case warms the index with one session, then
# changes the mailbox or the index the way an MDA, an editor, a crash or
# another user would, and runs the same session twice -- once on the
# mailbox with its index, once on a byte-identical copy with --no-index.
# Both must give the same STAT, LIST, UIDL and RETR bytes, and leave the
# same file after DELE + QUIT.  Cases that must not trust the index also
# check its one LOG_INFO line.

load lib/helper

setup() {
	setup_maildrop
	IDX=$MBOX.pop3d-index
	SPOOL2=$BATS_TEST_TMPDIR/spool2
	mkdir -p "$SPOOL2"
	chown "$TEST_UID:$TEST_GID" "$SPOOL2"
	syslog_start
}

teardown() {
	syslog_stop
}

# One session that warms the index: UIDL, so the digests are stored.
warm() {
	pop3 <<-EOF
	$LOGIN
	STAT
	UIDL
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ -f "$IDX" ]
}

# The compared session: everything a client can see, then DELE 2 + QUIT.
SCRIPT="$LOGIN
STAT
LIST
UIDL
RETR 1
RETR 2
RETR 3
RETR 4
RETR 5
RETR 6
DELE 2
QUIT"

# The same session on the mailbox (index on) and on a copy (--no-index).
compare() {
	cp -p "$MBOX" "$SPOOL2/alice"
	pop3 -- -m "$SPOOL2/%u" --no-index <<< "$SCRIPT"
	local want=$output
	[ "$status" -eq 0 ]
	[ ! -e "$SPOOL2/alice.pop3d-index" ]
	pop3 <<< "$SCRIPT"
	[ "$status" -eq 0 ]
	if [ "$output" != "$want" ]; then
		diff <(echo "$want") <(echo "$output") >&2 || :
		return 1
	fi
	cmp "$MBOX" "$SPOOL2/alice"
	# and the index written after that UPDATE is the new file's
	pop3 -- -m "$SPOOL2/%u" --no-index <<< "$SCRIPT"
	want=$output
	pop3 <<< "$SCRIPT"
	[ "$output" = "$want" ]
	cmp "$MBOX" "$SPOOL2/alice"
}

# The index was not trusted, for this reason (one LOG_INFO line).
refused() {
	syslog_wait "index not used: $1"
}

# A traced STAT + UIDL session: $2 messages, and no read of the mailbox
# (strace -y names each descriptor's file) -- or, with $1 = scan, reads.
traced_login() {
	local trace=$BATS_TEST_TMPDIR/trace saved=("${LOGWRAP[@]}")
	# (LeakSanitizer cannot run under ptrace: an ASan build's exit status
	# would say so)
	LOGWRAP=("${saved[@]}" env ASAN_OPTIONS=detect_leaks=0 strace -f -qq -y
	    -o "$trace" -e trace=read,pread64)
	pop3 -- ${3:-} <<-EOF
	$LOGIN
	STAT
	UIDL
	QUIT
	EOF
	LOGWRAP=("${saved[@]}")
	[ "$status" -eq 0 ]
	[[ "$output" == *"+OK $2 "* ]]
	if [ "$1" = scan ]; then
		grep -qE 'read(64)?\([0-9]+</[^>]*/alice>' "$trace"
	else
		grep -q 'alice.pop3d-index>' "$trace"
		! grep -E 'read(64)?\([0-9]+</[^>]*/alice>' "$trace"
	fi
}

# Bytes of message 2's body overwritten in place, same size.
rewrite_same_size() {
	python3 - "$MBOX" <<-'EOF'
	import sys
	p = sys.argv[1]
	b = open(p, "rb").read()
	i = b.index(b"body 2\n")
	with open(p, "r+b") as f:
	    f.seek(i)
	    f.write(b"BODY 2\n")
	EOF
}

# A mailbox of several proof blocks (README "Concurrent sessions": 1 MiB
# each): msgs 1, 2 and the head of the 1.2 MB msg 3 in the first block,
# msgs 4-6 after it.  A login after an append reads from the block before
# msg 6 on, never the first block.
big_mbox() {
	local i big
	big=$(python3 -c 'print(("x" * 70 + "\n") * 17000, end="")')
	mbox_add "msg 1" "body 1"
	mbox_add "msg 2" "body 2"
	mbox_add "msg 3" "$big"
	for i in 4 5 6; do
		mbox_add "msg $i" "body $i"
	done
}

# A traced login+STAT ($1 messages); $READS: the offsets of its reads of
# the mailbox, one a line (empty when it read none).
traced_stat() {
	local trace=$BATS_TEST_TMPDIR/trace saved=("${LOGWRAP[@]}")
	LOGWRAP=("${saved[@]}" env ASAN_OPTIONS=detect_leaks=0 strace -f -qq -y
	    -o "$trace" -e trace=read,pread64)
	pop3 <<-EOF
	$LOGIN
	STAT
	QUIT
	EOF
	LOGWRAP=("${saved[@]}")
	[ "$status" -eq 0 ]
	[[ "$output" == *"+OK $1 "* ]]
	! grep -qE '[^p]read\([0-9]+</[^>]*/alice>' "$trace"
	READS=$(grep -E 'pread64\([0-9]+</[^>]*/alice>' "$trace" |
	    sed -E 's/.*, ([0-9]+)\) += .*/\1/')
}

# No read of the mailbox below offset $1, and at least one read.
reads_from() {
	[ -n "$READS" ]
	local off
	for off in $READS; do
		[ "$off" -ge "$1" ] || { echo "read at $off" >&2; return 1; }
	done
}

@test "an unchanged mailbox: login reads no byte of it, and every answer is the scan's" {
	mbox_make 6
	warm
	local idx_size
	idx_size=$(stat -c %s "$IDX")
	# the header, 56 bytes a message (within the 64 a message the
	# format allows) and one block's tag
	[ "$idx_size" -le $((216 + 6 * 64 + 16)) ]
	[ "$(stat -c '%a %u' "$IDX")" = "600 $TEST_UID" ]
	traced_login index 6
	# (while a scan's reads show in the same trace)
	traced_login scan 6 --no-index
	: > "$SYSLOG_FILE"
	compare
	! grep -q "index not used" "$SYSLOG_FILE"
}

@test "a same-size rewrite in place, right after the index was written: not trusted" {
	mbox_make 6
	warm
	rewrite_same_size
	compare
	refused "mailbox rewritten since"
}

@test "a same-size rewrite a second later: not trusted" {
	mbox_make 6
	warm
	sleep 1.1
	rewrite_same_size
	compare
	refused "mailbox rewritten since"
}

@test "a rewrite plus an append: the same answers as a scan" {
	mbox_make 6
	warm
	rewrite_same_size
	mbox_add "msg 7" "body 7"
	compare
}

@test "mail appended since the index: the new message is served" {
	mbox_make 5
	warm
	mbox_add "msg 6" "body 6"
	compare
	[[ "$output" == *"+OK 5 "* ]]	# the last STAT: 6, less the DELE
}

@test "a large append seen by a STAT-only session: the index is rewritten from the records it had and the scan, the next login reads no mailbox byte" {
	mbox_make 6
	warm
	# a tail many times the index's size is worth writing for
	mbox_add "msg 7" "$(head -c 30000 /dev/zero | tr '\0' x)"
	cp -p "$IDX" "$BATS_TEST_TMPDIR/idx"
	traced_stat 7
	! cmp -s "$IDX" "$BATS_TEST_TMPDIR/idx"
	traced_stat 7
	[ -z "$READS" ]
	compare
	! grep -q "index not used" "$SYSLOG_FILE"
}

@test "mail appended to a mailbox of several runs of index records: a login reads the last run, the runs before it when LIST needs them" {
	# the index's records go in runs of 4096, each with its checksum
	mbox_make_many 4100
	warm
	mbox_add "msg 4101" "body 4101"
	# the first run damaged: a byte of message 6's record
	printf '\125' | dd of="$IDX" bs=1 seek=$((216 + 5 * 36 + 9)) \
	    conv=notrunc status=none
	cp -p "$IDX" "$BATS_TEST_TMPDIR/idx"
	pop3 <<-EOF
	$LOGIN
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ "$output" == *"+OK 4101 "* ]]
	# not read, so not found damaged (that would have meant a scan and
	# a new index)
	cmp "$IDX" "$BATS_TEST_TMPDIR/idx"
	# LIST reads it: the mailbox is scanned, every answer is the scan's
	compare
	syslog_wait "index not used: index checksum mismatch; scanning"
}

@test "mail appended to a mailbox of several blocks: only the new bytes are read, every answer is the scan's" {
	big_mbox
	warm
	mbox_add "msg 7" "body 7"
	traced_stat 7
	reads_from 1048576
	# a tail that small is not worth writing the index for: the next
	# login reads it again, and no more
	traced_stat 7
	reads_from 1048576
	# UIDL proves the blocks the logins did not read, and the index is
	# written: the next login reads no byte
	warm
	traced_stat 7
	[ -z "$READS" ]
	compare
	! grep -q "index not used" "$SYSLOG_FILE"
}

@test "a rewrite the appended login does not read: no byte of it is served as indexed" {
	big_mbox
	warm
	# the same length, but message 2 now has a line more (and a size
	# more): its index entry is stale, and the login reads no byte of it
	python3 - "$MBOX" <<-'EOF'
	import sys
	p = sys.argv[1]
	b = open(p, "rb").read()
	i = b.index(b"body 2\n")
	with open(p, "r+b") as f:
	    f.seek(i)
	    f.write(b"bo\ndy2\n")
	EOF
	mbox_add "msg 7" "body 7"
	cp -p "$MBOX" "$BATS_TEST_TMPDIR/before"
	cp -p "$MBOX" "$SPOOL2/alice"
	local script="$LOGIN
RETR 2
RETR 7
UIDL
DELE 1
QUIT"
	pop3 -- -m "$SPOOL2/%u" --no-index <<< "$script"
	local want=$output
	[[ "$want" == *"dy2"* ]]
	pop3 <<< "$script"
	if [ "$output" != "$want" ]; then
		# then it refused what it could not prove, and sent none of it
		[[ "$output" != *"dy2"* ]]
		[[ "$output" == *"body 7"* ]]
		[ "$(grep -c '^-ERR' <<< "$output")" -eq 3 ]	# RETR 2, UIDL, QUIT
		cmp "$MBOX" "$BATS_TEST_TMPDIR/before"
		# and the index went, so the next session scans
		[ ! -e "$IDX" ]
		syslog_wait "index removed"
	fi
	compare
}

@test "an append after a session that deleted mail: only the new bytes are read, every answer is the scan's" {
	big_mbox
	warm
	pop3 <<-EOF
	$LOGIN
	DELE 1
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ "$output" != *"-ERR"* ]]
	mbox_add "msg 7" "body 7"
	traced_stat 6
	reads_from 1048576
	compare
	! grep -q "index not used" "$SYSLOG_FILE"
}

@test "an append that a Content-Length before it now lands on: read from that message on, as a scan would" {
	mbox_make 6
	# msg 7's Content-Length reaches past the end of the file, so a scan
	# ignores it and its unquoted From_ line starts a message; once msg 8
	# is appended it lands on the file's last empty line, and a scan of
	# the whole file reads msgs 7 and 8 as one
	python3 - "$MBOX" <<-'EOF'
	import sys
	date = b"Mon Jan  1 00:00:00 2024"
	body = b"a\n\nFrom inner@example.org " + date + b"\nb\n\n"
	later = (b"From sender@example.org " + date +
	    b"\nFrom: sender@example.org\nSubject: msg 8\n\nbody 8\n\n")
	clen = len(body) + len(later) - 1
	with open(sys.argv[1], "ab") as f:
	    f.write(b"From sender@example.org " + date +
	        b"\nFrom: sender@example.org\nSubject: msg 7\n" +
	        b"Content-Length: %d\n\n" % clen + body)
	EOF
	warm
	[[ "$output" == *"+OK 8 "* ]]	# 6, msg 7 and its inner From_ line
	mbox_add "msg 8" "body 8"
	compare
	[[ "$output" == *"+OK 6 "* ]]	# the last STAT: 7, less the DELE
}

@test "a truncated mailbox: not trusted" {
	mbox_make 7
	warm
	truncate -s $(($(stat -c %s "$MBOX") - 50)) "$MBOX"
	compare
	refused "mailbox shrank"
}

@test "touch -d back to the old times after a rewrite: ctime still tells" {
	mbox_make 6
	warm
	local old
	old=$(stat -c %y "$MBOX")
	sleep 1.1
	rewrite_same_size
	touch -d "$old" "$MBOX"
	[ "$(stat -c %y "$MBOX")" = "$old" ]
	compare
	refused "mailbox rewritten since"
}

@test "the mailbox replaced by rename, same size and mtime: another file" {
	mbox_make 6
	warm
	cp -p "$MBOX" "$MBOX.new"
	python3 - "$MBOX.new" <<-'EOF'
	import sys
	p = sys.argv[1]
	b = open(p, "rb").read().replace(b"body 3\n", b"BODY 3\n")
	open(p, "r+b").write(b)
	EOF
	touch -r "$MBOX" "$MBOX.new"
	mv "$MBOX.new" "$MBOX"
	compare
	refused "index describes another file"
}

@test "the index truncated, bit-flipped or of another version: not trusted" {
	mbox_make 6
	warm
	truncate -s -10 "$IDX"
	compare
	refused "index truncated"
	warm
	printf '\x55' | dd of="$IDX" bs=1 seek=200 conv=notrunc status=none
	compare
	refused "index checksum mismatch"
	warm
	printf '\x01' | dd of="$IDX" bs=1 seek=8 conv=notrunc status=none
	compare
	refused "index of another format version"
}

@test "a damaged part read after login: the session scans, answers as at login" {
	# the header answers STAT; the records, digests and tags are read
	# when LIST, UIDL and RETR first need them, and checked then
	# six records make one run, closed by its 16-byte checksum
	local recs=216 digs=$((216 + 6 * 36 + 16)) tags=$((216 + 6 * 56 + 16))
	local off
	for off in $((recs + 9)) $((tags + 3)) $((digs + 5)); do
		: > "$MBOX"
		mbox_make 6
		warm
		[ "$(stat -c %s "$IDX")" -eq $((tags + 16)) ]
		printf '\x55' | dd of="$IDX" bs=1 seek=$off conv=notrunc \
		    status=none
		compare
	done
	# records and tags: the mailbox scanned at the first LIST; digests:
	# computed from the mailbox at the first UIDL
	[ "$(grep -c 'index not used: index checksum mismatch; scanning' \
	    "$SYSLOG_FILE")" -eq 2 ]
	syslog_wait "index digests not used: index checksum mismatch"
}

@test "a damaged records part read after the mailbox changed: [SYS/TEMP] until QUIT, nothing deleted, the index removed" {
	mbox_make 6
	warm
	cp -p "$MBOX" "$BATS_TEST_TMPDIR/before"
	# after STAT (answered from the header): the records part damaged
	# in place and one message delivered, before the first LIST
	pop3 <<-EOF
	$LOGIN
	STAT
	!sh printf '\125' | dd of='$IDX' bs=1 seek=225 conv=notrunc status=none
	!sh printf 'From x@example.org Mon Jan  1 00:00:00 2024\n\nlate\n\n' >> '$MBOX'
	LIST
	RETR 1
	DELE 1
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ "${lines[3]}" == "+OK 6 "* ]]
	[[ "${lines[4]}" == "-ERR [SYS/TEMP] "* ]]
	[[ "${lines[5]}" == "-ERR [SYS/TEMP] "* ]]
	[[ "${lines[6]}" == "-ERR [SYS/TEMP] "* ]]
	[[ "${lines[7]}" == "+OK 6 "* ]]	# STAT still says what it said
	[[ "${lines[8]}" == "+OK"* ]]
	syslog_wait "index not used: index checksum mismatch; scanning"
	# nothing deleted: the old bytes, then the delivered message
	cmp -n "$(stat -c %s "$BATS_TEST_TMPDIR/before")" \
	    "$BATS_TEST_TMPDIR/before" "$MBOX"
	[ "$(grep -c '^From ' "$MBOX")" -eq 7 ]
	[ ! -e "$IDX" ]
	# the next session scans and sees all seven
	pop3 <<< "$LOGIN
STAT
QUIT"
	[[ "${lines[3]}" == "+OK 7 "* ]]
}

@test "UIDL first, on an index with digests and doubtful blocks whose records fail their checksum: the digests come from the scan" {
	mbox_make 6
	warm
	# block 0 said to be in doubt (the header resealed), and a byte of
	# the records damaged: UIDL needs the records to prove the block
	python3 - "$IDX" <<-'EOF'
	import hashlib, sys
	p = sys.argv[1]
	b = bytearray(open(p, "rb").read())
	b[100:104] = (1).to_bytes(4, "little")
	b[200:216] = hashlib.sha256(bytes(b[:200])).digest()[:16]
	b[216 + 9] ^= 0x55
	with open(p, "r+b") as f:
	    f.write(bytes(b))
	EOF
	cp -p "$MBOX" "$SPOOL2/alice"
	pop3 -- -m "$SPOOL2/%u" --no-index <<< "$LOGIN
UIDL
QUIT"
	local want=$output
	pop3 <<< "$LOGIN
UIDL
QUIT"
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
	[[ "$output" == *"+OK unique-id listing follows"* ]]
	syslog_wait "index not used: index checksum mismatch; scanning"
}

@test "another mailbox's index: not trusted" {
	mbox_make 6
	cp -p "$MBOX" "$SPOOL/other"
	pop3 -- -m "$SPOOL/other" <<< "$LOGIN
STAT
QUIT"
	[ -f "$SPOOL/other.pop3d-index" ]
	cp -p "$SPOOL/other.pop3d-index" "$IDX"
	compare
	refused "index describes another file"
}

@test "an index owned by another user, a symlink or a FIFO: not trusted, not followed, no hang" {
	mbox_make 6
	warm
	chown 5001 "$IDX"
	compare
	# the session, as alice, cannot even open it (0600, not hers)
	refused "(index is owned by another user|cannot open the index)"
	warm
	mv "$IDX" "$BATS_TEST_TMPDIR/elsewhere"
	chown "$TEST_UID" "$BATS_TEST_TMPDIR/elsewhere"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$IDX"
	compare
	refused "index is a symbolic link"
	[ ! -L "$IDX" ]		# replaced by a real index, by rename
	rm -f "$IDX"
	mkfifo -m 600 "$IDX"
	chown "$TEST_UID" "$IDX"
	compare
	refused "index is not a regular file"
}

@test "an index written in the clock tick of the mailbox's last change is not trusted" {
	mbox_make 6
	warm
	# the same index, but with a tick no later than the mailbox's times
	python3 - "$IDX" <<-'EOF'
	import hashlib, struct, sys
	p = sys.argv[1]
	b = bytearray(open(p, "rb").read())
	b[64:72] = b[40:48]	# tick seconds = mtime seconds
	b[72:76] = b[48:52]	# tick nanoseconds = mtime nanoseconds
	b[200:216] = hashlib.sha256(bytes(b[:200])).digest()[:16]	# header
	open(p, "wb").write(b)
	EOF
	compare
	refused "index written in the clock tick"
}

@test "two sessions writing the index at once: one valid index, the same answers" {
	mbox_make 6
	local i p1 p2
	for i in 1 2 3; do
		rm -f "$IDX"
		python3 "$POP3CLIENT" session -- "$POP3D" -p "$PASSWD" \
		    -m "$SPOOL/%u" -d 0 > /dev/null <<< "$LOGIN
UIDL
QUIT" &
		p1=$!
		python3 "$POP3CLIENT" session -- "$POP3D" -p "$PASSWD" \
		    -m "$SPOOL/%u" -d 0 > /dev/null <<< "$LOGIN
UIDL
QUIT" &
		p2=$!
		wait "$p1" "$p2"
	done
	[ ! -e "$IDX.tmp" ]
	compare
	! grep -q "index not used" "$SYSLOG_FILE"
}

@test "SIGKILL while the index is renamed into place: the temp file is left, the next sessions are right" {
	mbox_make 6
	warm
	mbox_add "msg 7" "body 7"
	local saved=("${LOGWRAP[@]}")
	LOGWRAP=("${saved[@]}" strace -f -qq -o /dev/null -e inject=rename,renameat,renameat2:signal=SIGKILL:when=1)
	pop3 <<-EOF
	$LOGIN
	UIDL
	QUIT
	EOF
	LOGWRAP=("${saved[@]}")
	[ -e "$IDX.tmp" ]	# a fresh temp file: the next writer skips
	rm -f "$MBOX.lock"	# what an MDA does with a dead pid's lock
	: > "$SYSLOG_FILE"
	compare
	# once it is stale (a minute), it is removed and the index written
	touch -d '2 minutes ago' "$IDX.tmp"
	compare
	[ ! -e "$IDX.tmp" ]
}

@test "a journal recovery at login: the index is not trusted for the recovered file" {
	mbox_make 6
	warm
	cp -p "$MBOX" "$SPOOL2/alice"
	local saved=("${LOGWRAP[@]}")
	LOGWRAP=("${saved[@]}" strace -f -qq -o /dev/null -e inject=ftruncate:signal=SIGKILL:when=1)
	pop3 <<-EOF
	$LOGIN
	DELE 1
	DELE 4
	QUIT
	EOF
	LOGWRAP=("${saved[@]}")
	[ -e "$MBOX.pop3d-journal" ]
	rm -f "$MBOX.lock"
	# the copy gets the same update without a crash
	pop3 -- -m "$SPOOL2/%u" --no-index <<-EOF
	$LOGIN
	DELE 1
	DELE 4
	QUIT
	EOF
	: > "$SYSLOG_FILE"
	pop3 <<< "$LOGIN
STAT
QUIT"
	[ ! -e "$MBOX.pop3d-journal" ]
	refused "mailbox shrank since"
	cmp "$MBOX" "$SPOOL2/alice"
	compare
}

@test "after UPDATE the index is the new file's: the next login reads no mailbox byte" {
	mbox_make 6
	warm
	pop3 <<-EOF
	$LOGIN
	DELE 1
	DELE 3
	QUIT
	EOF
	[ "$status" -eq 0 ]
	traced_login index 4
	: > "$SYSLOG_FILE"
	compare
	! grep -q "index not used" "$SYSLOG_FILE"
}

@test "--no-index neither reads nor writes it; --check-user tells whether it would be trusted" {
	mbox_make 3
	pop3 -- --no-index <<< "$LOGIN
UIDL
QUIT"
	[ ! -e "$IDX" ]
	run "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" --check-user=alice
	[[ "$output" == *"index:    $IDX does not exist"* ]]
	warm
	run "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" --check-user=alice
	[[ "$output" == *"index:    $IDX is trusted"* ]]
	local before
	before=$(stat -c '%Y %s' "$IDX")
	mbox_add "msg 4"
	run "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" --check-user=alice
	[[ "$output" == *"the mailbox grew since"* ]]
	truncate -s 100 "$MBOX"
	run "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" --check-user=alice
	[[ "$output" == *"is not trusted"* ]]
	[ "$(stat -c '%Y %s' "$IDX")" = "$before" ]	# changed nothing
	run "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" --no-index --check-user=alice
	[[ "$output" == *"index:    none (--no-index)"* ]]
	run "$POP3D" --index=%x
	[ "$status" -ne 0 ]
}
