#!/usr/bin/env bats
# Mboxes as real MDAs write them (README "Maildrop"): Content-Length,
# the c-client pseudo-message and what is not one, mail delivered by
# dovecot-lda, procmail and Courier maildrop; mail bombs past the message
# limit; a From_ line over 4 GiB; a same-size rewrite in the clock tick
# of the last delivery; --recover as root on paths a user controls, and
# journals nobody should trust; the spool group a user's link must not
# choose.  Every served message is checked against tests/lib/mbox.py,
# which reads the file itself.

load lib/helper
load lib/mailspool

MODEL=$BATS_TEST_DIRNAME/lib/mbox.py

setup() {
	setup_maildrop
	RAW=$BATS_TEST_TMPDIR/raw
	PARTS=$BATS_TEST_TMPDIR/parts
	EXPECT=$BATS_TEST_TMPDIR/expect
	mkdir -p "$PARTS" "$EXPECT"
	MNT=
}

teardown() {
	syslog_stop
	if [ -n "$MNT" ]; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || :
	fi
	[ -z "${MDA_USER:-}" ] || userdel -f "$MDA_USER" >/dev/null 2>&1 || :
}

write_mbox() {
	printf "$(cat)" > "$MBOX"
	chown "$TEST_UID:$TEST_GID" "$MBOX"
	chmod 600 "$MBOX"
}

# served_as_model: STAT, LIST and RETR of every message equal the model's
# count, sizes and bodies.
served_as_model() {
	local n k script
	n=$(python3 "$MODEL" count "$MBOX")
	script="$LOGIN
STAT
LIST"
	for ((k = 1; k <= n; k++)); do
		script+="
RETR $k"
	done
	script+="
QUIT"
	python3 "$POP3CLIENT" session --raw -- "$POP3D" -p "$PASSWD" \
	    -m "$SPOOL/%u" -d 0 <<< "$script" > "$RAW" || :
	python3 "$MODEL" expect "$MBOX" "$EXPECT"
	python3 "$MODEL" sizes "$MBOX" > "$EXPECT/sizes"
	tr -d '\r' < "$RAW" | sed -n '/^+OK [0-9]* messages/,/^\.$/p' |
	    sed '1d;$d' > "$BATS_TEST_TMPDIR/list"
	diff "$EXPECT/sizes" "$BATS_TEST_TMPDIR/list"
	run python3 "$INTEG_MBOX" split "$RAW" "$PARTS"
	echo "$output" >&2
	[ "${#lines[@]}" -eq "$n" ]
	for ((k = 1; k <= n; k++)); do
		cmp "$EXPECT/$k.body" "$PARTS/$k"
		grep -qx "$k octets=\([0-9]*\) got=\1 complete" <<< "$output"
	done
	SERVED=$n
}

# dele_as_model N...: DELE those + QUIT leaves exactly the model's cut.
dele_as_model() {
	local script="$LOGIN" k
	python3 "$MODEL" cut "$MBOX" "$@" > "$BATS_TEST_TMPDIR/want"
	for k in "$@"; do
		script+="
DELE $k"
	done
	pop3 <<< "$script
QUIT"
	[[ "${lines[-1]}" == "+OK "* ]]
	cmp "$BATS_TEST_TMPDIR/want" "$MBOX"
	assert_clean_spool
}

@test "Content-Length: unquoted From_ lines in a body stay body when the length lands on a separator" {
	# as Dovecot's LDA writes it: no >From quoting, a Content-Length
	write_mbox <<-'EOF'
	From a@example.org  Mon Jan  1 00:00:00 2024\nSubject: one\nContent-Length: 47\n\nline\n\nFrom x@y Mon Jan  1 00:00:00 2024\nforged\n\nFrom b@example.org  Mon Jan  1 00:00:01 2024\nSubject: two\nContent-Length: 6\n\nbody2\n\n
	EOF
	served_as_model
	[ "$SERVED" -eq 2 ]
	grep -q forged "$PARTS/1"
	dele_as_model 1
	[ "$(python3 "$MODEL" count "$MBOX")" -eq 1 ]
}

@test "Content-Length: unquoted From_ lines in the last body stay body when the length lands on the end of the file" {
	# the last message, no empty line after it: the length ends the file
	write_mbox <<-'EOF'
	From a@example.org  Mon Jan  1 00:00:00 2024\nSubject: one\nContent-Length: 47\n\nline\n\nFrom x@y Mon Jan  1 00:00:00 2024\nforged\n
	EOF
	served_as_model
	[ "$SERVED" -eq 1 ]
	grep -q forged "$PARTS/1"
}

@test "Content-Length that does not land on a separator or the end is ignored" {
	write_mbox <<-'EOF'
	From a@example.org Mon Jan  1 00:00:00 2024\nSubject: short\nContent-Length: 3\n\nline one\n\nFrom b@example.org Mon Jan  1 00:00:01 2024\nSubject: long\nContent-Length: 99999\n\nbody\n\nFrom c@example.org Mon Jan  1 00:00:02 2024\nContent-Length: x1\n\nthree\n
	EOF
	served_as_model
	[ "$SERVED" -eq 3 ]
	dele_as_model 2
}

@test "a Dovecot first message with X-IMAPbase is served; a genuine c-client pseudo-message is hidden" {
	write_mbox <<-'EOF'
	From a@example.org  Mon Jan  1 00:00:00 2024\nSubject: first real\nX-IMAPbase: 1704067200 0000000002\nX-UID: 1\nContent-Length: 5\n\nreal\n\nFrom b@example.org  Mon Jan  1 00:00:01 2024\nSubject: two\nX-UID: 2\nContent-Length: 4\n\ntwo\n\n
	EOF
	served_as_model
	[ "$SERVED" -eq 2 ]
	grep -q "first real" "$PARTS/1"
	# the same with a genuine pseudo-message in front
	{
		printf 'From MAILER-DAEMON Mon Jan  1 00:00:00 2024\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nFrom: Mail System Internal Data <MAILER-DAEMON@example.org>\n'
		printf "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1704067200 0000000002\nStatus: RO\n\ninternal\n\n"
		cat "$MBOX"
	} > "$MBOX.new"
	mv "$MBOX.new" "$MBOX"
	chown "$TEST_UID:$TEST_GID" "$MBOX"
	served_as_model
	[ "$SERVED" -eq 2 ]
	! grep -q "FOLDER INTERNAL" "$PARTS"/*
	dele_as_model 1 2
	grep -q "^X-IMAP: " "$MBOX"
}

@test "a stranger's first message with an X-IMAP: header or the pseudo Subject is served and deletable" {
	write_mbox <<-'EOF'
	From MAILER-DAEMON Mon Jan  1 00:00:00 2024\nSubject: DON'\''T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n\nno X-IMAP header: a prank\n\nFrom b@example.org Mon Jan  1 00:00:01 2024\nSubject: two\n\ntwo\n
	EOF
	served_as_model
	[ "$SERVED" -eq 2 ]
	dele_as_model 1
	write_mbox <<-'EOF'
	From evil@example.org Mon Jan  1 00:00:00 2024\nSubject: DON'\''T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1 2\n\nhidden from its owner?\n\nFrom b@example.org Mon Jan  1 00:00:01 2024\nSubject: two\n\ntwo\n
	EOF
	served_as_model
	[ "$SERVED" -eq 2 ]
	grep -q "hidden from its owner" "$PARTS/1"
	dele_as_model 1
}

# as the MDA test's system account
as_mda() {
	setpriv --reuid "$MDA_USER" --regid "$MDA_USER" --init-groups \
	    env HOME="$BATS_TEST_TMPDIR/home" USER="$MDA_USER" "$@"
}

# message K with body lines an mbox must not misread
mda_msg() {
	printf 'From: sender%s@example.org\nSubject: mda %s %s\n\nline one\n\nFrom someone in the body, after an empty line\nFrom x@y Mon Jan  1 00:00:00 2024\n>From quoted\n.a dot line\n\nlast\n' "$1" "$1" "$2"
}

@test "dovecot-lda, procmail and Courier maildrop deliver to one mbox: every message served as written, DELE keeps the rest byte for byte" {
	MDA_USER=p3a_mda_$(printf '%04x' $RANDOM)
	useradd -M -d "$BATS_TEST_TMPDIR/home" -s /bin/sh "$MDA_USER"
	local uid gid home=$BATS_TEST_TMPDIR/home hash k
	uid=$(id -u "$MDA_USER") gid=$(id -g "$MDA_USER")
	hash=$(openssl passwd -6 -salt testsalt "$PASSWORD")
	printf 'alice:%s:%d:%d:Alice:%s:/bin/sh\n' "$hash" "$uid" "$gid" \
	    "$home" > "$PASSWD"
	mkdir -p "$home/run"
	chown "$uid:$gid" "$SPOOL"
	cat > "$home/dovecot.conf" <<-CONF
	mail_location = mbox:$home/mail:INBOX=$MBOX
	log_path = $home/dovecot.log
	base_dir = $home/run
	ssl = no
	mbox_write_locks = dotlock fcntl
	CONF
	printf 'LOCKSLEEP=1\n:0:\n%s\n' "$MBOX" > "$home/procmailrc"
	printf 'to "%s"\n' "$MBOX" > "$home/mailfilter"
	chown -R "$uid:$gid" "$home"
	chmod 600 "$home/mailfilter" "$home/procmailrc"
	for k in 1 2; do
		mda_msg "$k" dovecot | as_mda /usr/lib/dovecot/dovecot-lda \
		    -c "$home/dovecot.conf" -f "sender$k@example.org"
	done
	mda_msg 3 procmail | as_mda procmail -f sender3@example.org \
	    -m "$home/procmailrc"
	mda_msg 4 maildrop | as_mda maildrop -f sender4@example.org \
	    "$home/mailfilter"
	mda_msg 5 dovecot | as_mda /usr/lib/dovecot/dovecot-lda \
	    -c "$home/dovecot.conf" -f sender5@example.org
	grep -q '^Content-Length: ' "$MBOX"	# Dovecot's
	grep -q '^X-IMAPbase: ' "$MBOX"		# in the first real message
	served_as_model
	[ "$SERVED" -eq 5 ]
	for k in 1 2 3 4 5; do
		grep -q "^Subject: mda $k " "$PARTS/$k"
		grep -q "^last" "$PARTS/$k"
	done
	dele_as_model 1 3 4
	[ "$(python3 "$MODEL" count "$MBOX")" -eq 2 ]
}

# ---- --recover as root, and journals nobody should trust -------------

# A victim's mailbox (uid 5001) and an attacker's directory (uid 5000).
victim_and_attacker() {
	VICTIM=$BATS_TEST_TMPDIR/victim
	ATT=$BATS_TEST_TMPDIR/att
	mkdir -p "$VICTIM" "$ATT/Mail"
	chown 5001:5001 "$VICTIM"
	chown -R 5000:5000 "$ATT"
	MBOX=$VICTIM/mbox
	mbox_make 3
	chown 5001:5001 "$MBOX"
	cp -p "$MBOX" "$BATS_TEST_TMPDIR/victim.orig"
}

@test "--recover as root through a hard link to another user's mailbox, with a forged journal: nothing written" {
	victim_and_attacker
	ln "$MBOX" "$ATT/Mail/mbox"
	python3 "$TESTS/lib/forge-journal.py" "$MBOX" "$ATT/Mail/mbox.pop3d-journal" \
	    0 7 "$(stat -c %s "$MBOX")"
	chown 5000:5000 "$ATT/Mail/mbox.pop3d-journal"
	chmod 600 "$ATT/Mail/mbox.pop3d-journal"
	run "$POP3D" --recover "$ATT/Mail/mbox"
	echo "$output" >&2
	[ "$status" -ne 0 ]
	cmp "$MBOX" "$BATS_TEST_TMPDIR/victim.orig"
}

@test "--recover as root while the user swaps a symlinked directory under it: the other user's mailbox is not written" {
	victim_and_attacker
	local i seen=
	mkdir "$ATT/real"
	python3 "$TESTS/lib/forge-journal.py" "$MBOX" "$ATT/real/mbox.pop3d-journal" \
	    0 7 "$(stat -c %s "$MBOX")"
	chown -R 5000:5000 "$ATT/real"
	chmod 600 "$ATT/real/mbox.pop3d-journal"
	ln -s "$VICTIM" "$ATT/Mail2"
	chown -h 5000:5000 "$ATT/Mail2"
	# every fcntl() waits a second: time to swap the link once the
	# victim's mailbox is open, before the journal is looked for
	strace -f -qq -o /dev/null -e inject=fcntl:delay_enter=1000000 \
	    "$POP3D" --recover "$ATT/Mail2/mbox" > "$BATS_TEST_TMPDIR/out" &
	for ((i = 0; i < 250; i++)); do
		if ls -l /proc/[0-9]*/fd 2>/dev/null | grep -q " $MBOX\$"; then
			seen=1
			break
		fi
		sleep 0.02
	done
	ln -sfn "$ATT/real" "$ATT/Mail2"	# as the attacker would
	wait
	cat "$BATS_TEST_TMPDIR/out" >&2
	[ -n "$seen" ]
	cmp "$MBOX" "$BATS_TEST_TMPDIR/victim.orig"
}

@test "--recover as root of a user's own mailbox with a journal of another owner, two links, or group-writable: refused, untouched" {
	local j how
	MBOX=$SPOOL/alice
	for how in owner links mode; do
		rm -f "$MBOX" "$MBOX".*
		mbox_make 3
		cp -p "$MBOX" "$BATS_TEST_TMPDIR/orig"
		j=$MBOX.pop3d-journal
		python3 "$TESTS/lib/forge-journal.py" "$MBOX" "$j" 0 7 \
		    "$(stat -c %s "$MBOX")"
		chown 5000:5000 "$j"
		chmod 600 "$j"
		case $how in
		owner) chown 5001 "$j" ;;
		links) ln "$j" "$BATS_TEST_TMPDIR/second-link" ;;
		mode) chmod 620 "$j" ;;
		esac
		run "$POP3D" --recover "$MBOX"
		echo "$how: $output" >&2
		[ "$status" -ne 0 ]
		cmp "$MBOX" "$BATS_TEST_TMPDIR/orig"
		rm -f "$BATS_TEST_TMPDIR/second-link"
	done
}

@test "a journal whose offsets wrap around 2^64, or whose kept bytes run past its end, is damaged: login refused, mailbox untouched" {
	mbox_make 3
	cp -p "$MBOX" "$BATS_TEST_TMPDIR/orig"
	local size p k
	size=$(stat -c %s "$MBOX")
	# P + K wraps to 10, inside the file: the marker would land there;
	# then P + K = S1 + 10: the marker and the cut past the end
	for p_k in "0xfffffffffffffff6 20" "$((size - 10)) 20"; do
		read -r p k <<< "$p_k"
		python3 "$TESTS/lib/forge-journal.py" "$MBOX" "$MBOX.pop3d-journal" \
		    "$p" "$k" "$size"
		chown "$TEST_UID:$TEST_GID" "$MBOX.pop3d-journal"
		chmod 600 "$MBOX.pop3d-journal"
		pop3 <<-EOF
		$LOGIN
		QUIT
		EOF
		[[ "${lines[2]}" == "-ERR [SYS/TEMP] "* ]]
		cmp "$MBOX" "$BATS_TEST_TMPDIR/orig"
	done
}

@test "a journal of a replaced mailbox (another inode) is kept aside as .orphan, never replayed into the new file" {
	mbox_make 3
	cp -p "$MBOX" "$BATS_TEST_TMPDIR/orig"
	# a well-formed journal, but for the file now at orig's inode
	python3 "$TESTS/lib/forge-journal.py" "$BATS_TEST_TMPDIR/orig" \
	    "$MBOX.pop3d-journal" 0 20 "$(stat -c %s "$MBOX")"
	chown "$TEST_UID:$TEST_GID" "$MBOX.pop3d-journal"
	chmod 600 "$MBOX.pop3d-journal"
	syslog_start
	pop3 <<-EOF
	$LOGIN
	QUIT
	EOF
	[[ "${lines[2]}" == "+OK alice has 3 messages"* ]]
	cmp "$MBOX" "$BATS_TEST_TMPDIR/orig"
	[ ! -e "$MBOX.pop3d-journal" ]
	[ -f "$MBOX.pop3d-journal.orphan" ]
	syslog_wait "belongs to a mailbox that was replaced"
}

@test "a symlinked maildrop directory does not choose the spool group: only a root-owned g+w directory not writable by others earns one" {
	local grpdir=$BATS_TEST_TMPDIR/staffdir out
	mkdir -p "$grpdir" "$BATS_TEST_TMPDIR/home"
	chown root:staff "$grpdir"
	chmod 2775 "$grpdir"
	ln -s "$grpdir" "$BATS_TEST_TMPDIR/home/Mail"
	chown -h "$TEST_UID:$TEST_GID" "$BATS_TEST_TMPDIR/home/Mail"
	run "$POP3D" --check-user alice -p "$PASSWD" \
	    -m "$BATS_TEST_TMPDIR/home/Mail/%u" < /dev/null
	echo "$output" >&2
	[[ "$output" != *"spool:"* ]]
	# the same directory named without the user's link still earns it
	run "$POP3D" --check-user alice -p "$PASSWD" -m "$grpdir/%u" < /dev/null
	[[ "$output" == *"spool:    the user needs group staff"* ]]
	# a world-writable one earns nothing: anyone may plant files there
	chmod 2777 "$grpdir"
	run "$POP3D" --check-user alice -p "$PASSWD" -m "$grpdir/%u" < /dev/null
	[[ "$output" != *"spool:"* ]]
	chmod 2775 "$grpdir"
	# a user-owned group-writable directory earns nothing
	chown "$TEST_UID:staff" "$grpdir"
	run "$POP3D" --check-user alice -p "$PASSWD" -m "$grpdir/%u" < /dev/null
	[[ "$output" != *"spool:"* ]]
}

# ---- big and hostile mailboxes ----------------------------------------

@test "a mail bomb past the message limit: the first 2,000,000 are served and deletable, syslog says so, the rest wait" {
	syslog_start
	python3 - "$MBOX" <<-'PY'
	import sys
	with open(sys.argv[1], "wb") as f:
	    f.write(b"".join(b"From b x\nS: %d\n\n" % i for i in range(2000003)))
	PY
	chown "$TEST_UID:$TEST_GID" "$MBOX"
	pop3 --deadline 120 <<-EOF
	$LOGIN
	STAT
	LIST 2000000
	LIST 2000001
	TOP 1 0
	DELE 1
	DELE 2
	DELE 3
	QUIT
	EOF
	echo "${lines[@]:0:9}" >&2
	[[ "${lines[2]}" == "+OK alice has 2000000 messages "* ]]
	[[ "${lines[3]}" == "+OK 2000000 "* ]]
	[[ "${lines[4]}" == "+OK 2000000 "* ]]
	[[ "${lines[5]}" == "-ERR "* ]]
	[ "${lines[7]}" = "S: 0" ]
	[[ "${lines[-1]}" == "+OK "* ]]
	syslog_wait "more than 2000000 messages"
	head -c 9 "$MBOX" | grep -q "^From b x"
	[ "$(head -2 "$MBOX" | tail -1)" = "S: 3" ]
	pop3 --deadline 120 <<-EOF
	$LOGIN
	QUIT
	EOF
	[[ "${lines[2]}" == "+OK alice has 2000000 messages "* ]]
	[ "$(grep -c '^From ' "$MBOX")" -eq 2000000 ]
}

@test "a From_ line over 4 GiB does not desync sizes (a sparse file)" {
	python3 - "$MBOX" <<-'PY'
	import sys
	with open(sys.argv[1], "wb") as f:
	    f.write(b"From a@example.org ")
	    f.seek((1 << 32) + 100, 1)	# a hole: NUL bytes, no LF
	    f.write(b" Mon Jan  1 00:00:00 2024\nSubject: huge From_ line\n\nbody one\n\n")
	    f.write(b"From b@example.org Mon Jan  1 00:00:01 2024\nSubject: two\n\nbody two\n")
	PY
	chown "$TEST_UID:$TEST_GID" "$MBOX"
	pop3 --deadline 120 <<-EOF
	$LOGIN
	LIST
	RETR 1
	RETR 2
	QUIT
	EOF
	echo "${lines[@]}" >&2
	[[ "${lines[2]}" == "+OK alice has 2 messages "* ]]
	[ "${lines[4]}" = "1 38" ]	# "Subject: huge From_ line\r\n\r\nbody one\r\n"
	[ "${lines[5]}" = "2 26" ]
	# RETR 1 is exactly its header and body
	grep -A4 -x "+OK 38 octets" <<< "$output" | tr '\n' '|' |
	    grep -qx '+OK 38 octets|Subject: huge From_ line||body one|.|'
}

# one round: deliver at the start of a second, log in, and rewrite right
# after pop3d's index (the rewriter waits for pop3d's locks)
same_tick_round() {
	rm -f "$MBOX" "$BATS_TEST_TMPDIR/tried"
	mbox_make 2
	printf 'Subject: msg 3\n\nbody 3\n' > "$BATS_TEST_TMPDIR/msg3"
	cp "$MBOX" "$BATS_TEST_TMPDIR/want"
	printf 'From MAILER-DAEMON x\nSubject: msg 3\n\nbody 3\n\n' >> "$BATS_TEST_TMPDIR/want"
	python3 "$MODEL" expect "$BATS_TEST_TMPDIR/want" "$EXPECT"
	pop3 --raw <<-EOF
	!sh python3 $TESTS/lib/deliver.py --second $MBOX < $BATS_TEST_TMPDIR/msg3; python3 $TESTS/lib/deliver.py --swap-next $MBOX "body 1" "BODY 1" $BATS_TEST_TMPDIR/tried &
	$LOGIN
	!sleep 0.5
	RETR 1
	RETR 2
	RETR 3
	DELE 1
	QUIT
	EOF
	printf '%s' "$output" > "$RAW"
}

@test "a same-size rewrite in the clock tick of the last delivery, right after login, is caught: nothing wrong sent or deleted" {
	# a file system with whole-second timestamps makes the tick a second,
	# so delivery, login and rewrite fit in one
	local img=$BATS_TEST_TMPDIR/fs.img k p i
	truncate -s 16M "$img"
	mkfs.ext4 -q -I 128 -F "$img" 2>/dev/null
	MNT=$BATS_TEST_TMPDIR/mnt
	mkdir -p "$MNT"
	mount -o loop "$img" "$MNT" || skip "no loop mounts here"
	SPOOL=$MNT/spool
	mkdir "$SPOOL"
	chown "$TEST_UID:$TEST_GID" "$SPOOL"
	MBOX=$SPOOL/alice
	# the rewrite must be tried in the delivery's second (bounded retries
	# when the machine is too loaded for that)
	for ((i = 0; i < 5; i++)); do
		same_tick_round
		read -r tried mtime < "$BATS_TEST_TMPDIR/tried"
		[ "$tried" != "$mtime" ] || break
	done
	[ "$tried" = "$mtime" ] || skip "never managed one second for all three"
	run python3 "$INTEG_MBOX" split "$RAW" "$PARTS"
	echo "$output" >&2
	# whatever was sent is a message as indexed, never "BODY 1"
	for p in "$PARTS"/*; do
		[ -e "$p" ] || continue
		for k in 1 2 3; do
			cmp -s "$p" "$EXPECT/$k.body" && break
		done
		cmp "$p" "$EXPECT/$k.body"
	done
	! grep -q "BODY 1" "$RAW"
	# and the update refused: the rewritten message is still there
	grep -q "^BODY 1" "$MBOX"
	[ "$(python3 "$MODEL" count "$MBOX")" -eq 3 ]
}
