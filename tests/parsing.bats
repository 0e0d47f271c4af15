#!/usr/bin/env bats
# The mbox parsing rules of README "The mailbox" and pop3d.8 "Mailbox
# format", checked on the bytes RETR sends: where messages begin, what is
# sent as stored, what is refused, the hidden c-client/Dovecot
# pseudo-message, and RETR of a message that changed under the session.

load lib/helper
load lib/mailspool

setup() {
	setup_maildrop
	RAW=$BATS_TEST_TMPDIR/raw
	PARTS=$BATS_TEST_TMPDIR/parts
	mkdir -p "$PARTS"
}

teardown() {
	syslog_stop
}

# pop3_raw [pop3d options] <<< script: the raw transcript in $RAW, the
# RETR/TOP payloads in $PARTS/1.. and their summary in $output.
pop3_raw() {
	python3 "$POP3CLIENT" session --raw -- "${LOGWRAP[@]}" "$POP3D" \
	    -p "$PASSWD" -m "$SPOOL/%u" -d 0 "$@" > "$RAW" || :
	run python3 "$INTEG_MBOX" split "$RAW" "$PARTS"
}

# part_is K FORMAT: payload K is printf FORMAT, its size as announced,
# and it was complete (ended with ".")
part_is() {
	local want=$BATS_TEST_TMPDIR/want.$1 size
	printf "$2" > "$want"
	size=$(stat -c %s "$want")
	cmp "$want" "$PARTS/$1"
	grep -qx "$1 octets=$size got=$size complete" <<< "$output"
}

# write_mbox: the mailbox from printf-style stdin (octal escapes work)
write_mbox() {
	printf "$(cat)" > "$MBOX"
	chown "$TEST_UID:$TEST_GID" "$MBOX"
	chmod 600 "$MBOX"
}

@test "From_ starts a message only at the file's start or after an empty line" {
	write_mbox <<-'EOF'
	From a@example.org Mon Jan  1 00:00:00 2024\nSubject: one\n\nline\nFrom here on it is body\nFrom  two spaces: body\n\nFrom \n\nFrom\tx tab: body\n\nFrom b@example.org Mon Jan  1 00:00:01 2024\nSubject: two\n\nbody two\n
	EOF
	pop3 <<-EOF
	$LOGIN
	STAT
	QUIT
	EOF
	[ "${lines[3]%% *}" = "+OK" ]
	[ "$(echo "${lines[3]}" | cut -d' ' -f2)" = 2 ]
	pop3_raw <<-EOF
	$LOGIN
	RETR 1
	RETR 2
	QUIT
	EOF
	part_is 1 'Subject: one\r\n\r\nline\r\nFrom here on it is body\r\nFrom  two spaces: body\r\n\r\nFrom \r\n\r\nFrom\tx tab: body\r\n'
	# the empty line before the next From_ line and the one ending the
	# file belong to the separator
	part_is 2 'Subject: two\r\n\r\nbody two\r\n'
}

@test "the empty line before a From_ line is the separator's; a second one is the message's" {
	write_mbox <<-'EOF'
	From a@example.org Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\n\n\nFrom b@example.org Mon Jan  1 00:00:01 2024\nSubject: two\n\nlast line without newline
	EOF
	pop3_raw <<-EOF
	$LOGIN
	RETR 1
	RETR 2
	QUIT
	EOF
	part_is 1 'Subject: one\r\n\r\nbody\r\n\r\n'
	# a last line without a newline is sent with a CRLF
	part_is 2 'Subject: two\r\n\r\nlast line without newline\r\n'
}

@test ">From lines are sent as stored, never unquoted; dots are stuffed" {
	write_mbox <<-'EOF'
	From a@example.org Mon Jan  1 00:00:00 2024\nSubject: q\n\n>From the quoted line\n>>From twice\n.\n..x\n
	EOF
	pop3_raw <<-EOF
	$LOGIN
	RETR 1
	QUIT
	EOF
	part_is 1 'Subject: q\r\n\r\n>From the quoted line\r\n>>From twice\r\n.\r\n..x\r\n'
	grep -q $'^\\.\\.\r$' "$RAW"		# "." went out stuffed
	grep -q $'^\\.\\.\\.x\r$' "$RAW"
}

@test "CRLF in the file is kept as is and counted once; bare LF becomes CRLF" {
	write_mbox <<-'EOF'
	From a@example.org Mon Jan  1 00:00:00 2024\r\nSubject: crlf\r\n\r\nbody\r\nmixed bare LF\nend\r\n\r\nFrom b@example.org Mon Jan  1 00:00:01 2024\nSubject: b\n\nx\n
	EOF
	pop3 <<-EOF
	$LOGIN
	LIST
	QUIT
	EOF
	[ "${lines[4]}" = "1 43" ]
	pop3_raw <<-EOF
	$LOGIN
	RETR 1
	QUIT
	EOF
	part_is 1 'Subject: crlf\r\n\r\nbody\r\nmixed bare LF\r\nend\r\n'
	! grep -q $'\r\r' "$RAW"
}

@test "NUL bytes are passed through and counted" {
	write_mbox <<-'EOF'
	From a@example.org Mon Jan  1 00:00:00 2024\nSubject: nul\n\na\0b\n\0\0\n
	EOF
	pop3_raw <<-EOF
	$LOGIN
	RETR 1
	QUIT
	EOF
	part_is 1 'Subject: nul\r\n\r\na\0b\r\n\0\0\r\n'
}

@test "a file not starting with From_ is refused with -ERR [SYS/PERM] and a syslog line" {
	syslog_start
	printf 'Subject: no separator\n\nbody\n\nFrom a@example.org Mon Jan  1 00:00:00 2024\nSubject: x\n\ny\n' > "$MBOX"
	chown "$TEST_UID:$TEST_GID" "$MBOX"
	cp "$MBOX" "$BATS_TEST_TMPDIR/before"
	pop3 <<-EOF
	$LOGIN
	STAT
	EOF
	[[ "${lines[2]}" == "-ERR [SYS/PERM] "* ]]
	syslog_wait "alice does not start with a From_ line"
	cmp "$MBOX" "$BATS_TEST_TMPDIR/before"
	assert_clean_spool
}

@test "a file starting with an empty line or 'From  ' is not an mbox either" {
	local head
	for head in '\nFrom a@example.org Mon Jan  1 00:00:00 2024\n' \
	    'From  a@example.org Mon Jan  1 00:00:00 2024\n' 'From \n' '>From x\n'; do
		printf "${head}Subject: x\n\ny\n" > "$MBOX"
		chown "$TEST_UID:$TEST_GID" "$MBOX"
		pop3 <<-EOF
		$LOGIN
		EOF
		[[ "${lines[2]}" == "-ERR [SYS/PERM] "* ]]
	done
}

@test "the X-IMAP pseudo-message is hidden: not counted, not numbered" {
	integ_gen x,s,s,s
	pop3 <<-EOF
	$LOGIN
	STAT
	LIST
	UIDL
	TOP 1 0
	RETR 4
	QUIT
	EOF
	[[ "${lines[2]}" == "+OK alice has 3 messages "* ]]
	[[ "${lines[3]}" == "+OK 3 "* ]]
	[[ "${lines[4]}" == "+OK 3 messages "* ]]
	[[ "${lines[5]}" == "1 "* ]]
	[[ "${lines[8]}" == "." ]]
	[[ "$output" == *"Subject: integ message 2 kind s"* ]]
	[[ "$output" != *"FOLDER INTERNAL DATA"* ]]
	[[ "$output" == *"-ERR "* ]]		# RETR 4: no such message
}

@test "the X-IMAPbase pseudo-message survives deleting every visible message" {
	# as Dovecot writes it
	write_mbox <<-'EOF'
	From MAILER-DAEMON Mon Jan  1 00:00:00 2024\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nFrom: Mail System Internal Data <MAILER-DAEMON@example.org>\nSubject: DON\047T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nMessage-ID: <1704067200@example.org>\nX-IMAPbase: 1704067200 0000000003\nStatus: RO\n\nThis text is part of the internal format of your mail folder, and is not\na real message.  It is created automatically by the mail system software.\n\nFrom a@example.org Mon Jan  1 00:00:01 2024\nSubject: one\n\n1\n\nFrom b@example.org Mon Jan  1 00:00:02 2024\nSubject: two\n\n2\n
	EOF
	head -c "$(grep -b -m1 '^From a@' "$MBOX" | cut -d: -f1)" "$MBOX" > "$BATS_TEST_TMPDIR/pseudo"
	pop3 <<-EOF
	$LOGIN
	DELE 1
	DELE 2
	QUIT
	EOF
	[[ "${lines[2]}" == "+OK alice has 2 messages "* ]]
	[[ "${lines[5]}" == "+OK "* ]]
	cmp "$MBOX" "$BATS_TEST_TMPDIR/pseudo"
	pop3 <<-EOF
	$LOGIN
	STAT
	QUIT
	EOF
	[ "${lines[3]}" = "+OK 0 0" ]
	assert_clean_spool
}

@test "X-IMAP outside the first message's header hides nothing" {
	write_mbox <<-'EOF'
	From a@example.org Mon Jan  1 00:00:00 2024\nSubject: one\n\nX-IMAP: 1 2 in the body\n\nFrom b@example.org Mon Jan  1 00:00:01 2024\nX-IMAP: 1704067200 0000000042\nSubject: second\n\n2\n
	EOF
	pop3 <<-EOF
	$LOGIN
	STAT
	QUIT
	EOF
	[[ "${lines[3]}" == "+OK 2 "* ]]
}

@test "STAT, LIST and RETR agree on sizes for every kind of message" {
	integ_gen x,s,c,z,q,m,c,s,n 3
	pop3 <<-EOF
	$LOGIN
	LIST
	QUIT
	EOF
	local list=("${lines[@]:4:8}")
	pop3_raw <<-EOF
	$LOGIN
	RETR 1
	RETR 2
	RETR 3
	RETR 4
	RETR 5
	RETR 6
	RETR 7
	RETR 8
	QUIT
	EOF
	[ "${#lines[@]}" -eq 8 ]
	local i
	for ((i = 0; i < 8; i++)); do
		[ "${lines[i]}" = "$((i + 1)) octets=${list[i]#* } got=${list[i]#* } complete" ]
	done
}

# --- RETR of a message whose bytes changed under the session ---------

# retr_not_complete K: RETR K was refused or cut, never ended with "."
retr_not_complete() {
	if grep -q "^$1 octets=.* complete" <<< "$output"; then
		echo "RETR was sent as complete:" >&2
		cat "$RAW" >&2
		return 1
	fi
}

@test "RETR after another program cut the mailbox short is refused or cut" {
	integ_gen s,m,m,s
	pop3_raw <<-EOF
	$LOGIN
	!sh truncate -s -3000 $MBOX
	RETR 3
	QUIT
	EOF
	retr_not_complete 1
}

@test "RETR after another program removed an earlier message is refused or cut" {
	integ_gen s,s,s,s
	local second=$(python3 "$INTEG_MBOX" ranges "$MBOX" | cut -d' ' -f2)
	local third=$(python3 "$INTEG_MBOX" ranges "$MBOX" | cut -d' ' -f3)
	pop3_raw <<-EOF
	$LOGIN
	!sh python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); open(sys.argv[1],"r+b").write(d[:$second]+d[$third:]+b"\0"*($third-$second))' $MBOX
	RETR 2
	QUIT
	EOF
	retr_not_complete 1
}

@test "RETR after a same-size rewrite of the message (UIDL seen) is refused or cut" {
	integ_gen s,s,s
	pop3_raw <<-EOF
	$LOGIN
	UIDL
	!sh python3 -c 'import sys; p=sys.argv[1]; d=open(p,"rb").read(); open(p,"r+b").write(d.replace(b"Subject: integ message 2 kind s", b"Subject: INTEG MESSAGE 2 KIND S"))' $MBOX
	RETR 2
	QUIT
	EOF
	retr_not_complete 1
}

@test "RETR after a same-size rewrite of the message (no UIDL) is refused or cut" {
	# bytes changed under the session: sending them as message 2 is
	# sending a message the index does not describe
	integ_gen s,s,s
	pop3_raw <<-EOF
	$LOGIN
	!sh python3 -c 'import sys; p=sys.argv[1]; d=open(p,"rb").read(); open(p,"r+b").write(d.replace(b"Subject: integ message 2 kind s", b"Subject: INTEG MESSAGE 2 KIND S"))' $MBOX
	RETR 2
	QUIT
	EOF
	retr_not_complete 1
}

@test "RETR of a message read and proven with the one before it, then rewritten: the bytes indexed or none" {
	# RETR 1 reads messages 1-3 at once and proves them (emit.c); a
	# rewrite after that must never reach the client as message 2
	integ_gen s,s,s
	pop3_raw <<-EOF
	$LOGIN
	RETR 2
	QUIT
	EOF
	cp "$PARTS/1" "$BATS_TEST_TMPDIR/orig2"
	grep -q "integ message 2 kind s" "$BATS_TEST_TMPDIR/orig2"
	pop3_raw <<-EOF
	$LOGIN
	RETR 1
	!sh python3 -c 'import sys; p=sys.argv[1]; d=open(p,"rb").read(); open(p,"r+b").write(d.replace(b"Subject: integ message 2 kind s", b"Subject: INTEG MESSAGE 2 KIND S"))' $MBOX
	RETR 2
	QUIT
	EOF
	grep -q "INTEG MESSAGE 2" "$MBOX"
	! grep -q "INTEG MESSAGE 2" "$RAW"
	if grep -q "^2 octets=.* complete" <<< "$output"; then
		cmp "$BATS_TEST_TMPDIR/orig2" "$PARTS/2"
	fi
}

@test "RETR after a same-size rewrite with the old mtime put back (touch -r) is refused or cut: the ctime tells" {
	integ_gen s,s,s
	touch -r "$MBOX" "$BATS_TEST_TMPDIR/times"
	pop3_raw <<-EOF
	$LOGIN
	!sh python3 -c 'import sys; p=sys.argv[1]; d=open(p,"rb").read(); open(p,"r+b").write(d.replace(b"Subject: integ message 2 kind s", b"Subject: INTEG MESSAGE 2 KIND S"))' $MBOX && touch -r $BATS_TEST_TMPDIR/times $MBOX
	RETR 2
	QUIT
	EOF
	retr_not_complete 1
}

@test "RETR never sends another message in the place of the one asked for (same From_ lines and sizes)" {
	# three messages with one From_ line and equal sizes, as a burst
	# from one sender within a second looks; another session deletes
	# message 1 and mail of the same size arrives: message 2 is now
	# where message 1 was
	local i
	for i in 1 2 3; do
		mbox_add "msg $i" "body $i"
	done
	pop3_raw <<-EOF
	$LOGIN
	!sh printf 'USER alice\nPASS secret\nDELE 1\nQUIT\n' | python3 $POP3CLIENT session -- $POP3D -p $PASSWD -m $SPOOL/%u -d 0 >/dev/null
	!sh printf 'From sender@example.org Mon Jan  1 00:00:00 2024\nFrom: sender@example.org\nSubject: msg 4\n\nbody 4\n\n' >> $MBOX
	RETR 1
	QUIT
	EOF
	retr_not_complete 1
}
