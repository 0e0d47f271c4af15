#!/usr/bin/env bats
# README "The mailbox": what a Unix mbox looks like through POP3 and what is
# left on disk.  Expected bytes come from tests/lib/mbox.py, which reads
# the fixture itself; pop3d is only asked for what is being checked.

load lib/helper
load lib/mailbox

setup() {
	setup_maildrop
	OUT=$BATS_TEST_TMPDIR/out
	mkdir -p "$OUT"
}

teardown() {
	syslog_stop
}

# Eleven messages in every shape README "The mailbox" names; the last one
# ends the file without a newline.
odd_mbox() {
	python3 - "$MBOX" <<-'EOF'
	import sys
	sep = b"From sender@example.org Mon Jan  1 00:00:00 2024\n"
	big = b"".join((b"." if i % 97 == 0 else b"") +
	               b"line %06d of the big message, padded to fifty.\n" % i
	               for i in range(21000))
	msgs = [
	    # 1: dot lines of every kind
	    sep + b"Subject: dots\n\n.\n..\n.hidden\nend.\n. \n...\n\n",
	    # 2: CRLF already in the file (also in the separator's line)
	    b"From crlf@example.org Mon Jan  1 00:00:00 2024\r\n"
	    b"Subject: crlf\r\n\r\nline one\r\nline two\nmixed\r\n\r\n",
	    # 3: an empty body
	    sep + b"Subject: empty\n\n\n",
	    # 4: nothing at all after the From_ line
	    sep + b"\n",
	    # 5: NUL bytes
	    sep + b"Subject: nul\n\na\0b\n\0\n\n",
	    # 6: >From lines stay as stored; From_ not after an empty line
	    #    is body text
	    sep + b"Subject: quoted\n\n>From me\n>>From you\n"
	          b"From inside, not after an empty line\n\n",
	    # 7: a 5000-character line (and a dot line as long)
	    sep + b"Subject: long\n\n" + b"x" * 5000 + b"\n." + b"y" * 4999 +
	    b"\n\n",
	    # 8: "From " with nothing after it is no separator, even after
	    #    an empty line
	    sep + b"Subject: from-space\n\nbody\n\nFrom \nstill body\n\n",
	    # 9: several empty lines before the next separator: only the last
	    #    one belongs to it
	    sep + b"Subject: blanks\n\nbody\n\n\n\n",
	    # 10: about 1 MB
	    sep + b"Subject: big\n\n" + big + b"\n",
	    # 11: the last line has no newline
	    sep + b"Subject: last\n\nno newline at the end",
	]
	with open(sys.argv[1], "wb") as f:
	    f.write(b"".join(msgs))
	EOF
	chown "$TEST_UID:$TEST_GID" "$MBOX"
	chmod 600 "$MBOX"
}

# retr_blocks SKIP COUNT: the multi-line replies of $OUT/raw into $OUT/K
retr_blocks() {
	model blocks "$OUT/raw" "$@" "$OUT"
}

@test "STAT and LIST sizes are the octets RETR sends, for every message shape" {
	odd_mbox
	[ "$(model count "$MBOX")" -eq 11 ]
	model sizes "$MBOX" > "$OUT/sizes"
	# a few by hand, so the model itself is checked too
	grep -qx '3 18' "$OUT/sizes"	# "Subject: empty" CRLF CRLF
	grep -qx '4 0' "$OUT/sizes"
	grep -qx '11 40' "$OUT/sizes"	# 13 + 2, 2, 21 + 2: CRLF added at the end
	total=$(awk '{ t += $2 } END { print t }' "$OUT/sizes")

	pop3 <<-EOF
	$LOGIN
	STAT
	LIST
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[3]}" = "+OK 11 $total" ]
	printf '%s\n' "${lines[@]:5:11}" > "$OUT/list"
	diff "$OUT/sizes" "$OUT/list"
	for n in 1 4 10 11; do
		pop3 <<-EOF
		$LOGIN
		LIST $n
		QUIT
		EOF
		[ "${lines[3]}" = "+OK $(grep "^$n " "$OUT/sizes")" ]
	done

	script="$LOGIN"
	for n in $(seq 11); do script+=$'\n'"RETR $n"; done
	pop3_raw "$OUT/raw" <<< "$script"$'\nQUIT'
	[ "$status" -eq 0 ]
	retr_blocks 3 11
	mkdir "$OUT/want"
	model expect "$MBOX" "$OUT/want"
	for n in $(seq 11); do
		size=$(wc -c < "$OUT/$n")
		echo "message $n: RETR sent $size octets (unstuffed)"
		[ "$size" -eq "$(awk -v n="$n" '$1 == n { print $2 }' \
		    "$OUT/sizes")" ]
		cmp "$OUT/want/$n.body" "$OUT/$n"
		# the From_ line is never sent
		[ "$(head -c 5 "$OUT/$n")" != "From " ]
	done
	# byte-stuffing was really done: message 1 has ".", ".." and ".hidden"
	grep -qx $'\\.\\.\r' "$OUT/1.raw"
	grep -qx $'\\.\\.\\.\r' "$OUT/1.raw"
	grep -qx $'\\.\\.hidden\r' "$OUT/1.raw"
	# CRLF in the file is not doubled, NULs and >From lines pass as stored
	refute grep -q $'\r\r' "$OUT/2"
	printf 'Subject: nul\r\n\r\na\0b\r\n\0\r\n' | cmp - "$OUT/5"
	grep -qx $'>From me\r' "$OUT/6"
	grep -qx $'From inside, not after an empty line\r' "$OUT/6"
	grep -qx $'From \r' "$OUT/8"
	# the last line without a newline is sent with a CRLF
	[ "$(tail -c 23 "$OUT/11")" = $'no newline at the end\r' ]
	[ "$(wc -c < "$OUT/10")" -gt 1000000 ]
}

@test "the empty line before a separator and at the end of the file is not part of a message" {
	printf 'From a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody one\n\nFrom b@c Mon Jan  1 00:00:00 2024\nSubject: two\n\nbody two\n\n' |
	    mbox_raw
	pop3_raw "$OUT/raw" <<-EOF
	$LOGIN
	RETR 1
	RETR 2
	QUIT
	EOF
	[ "$status" -eq 0 ]
	retr_blocks 3 2
	[ "$(cat "$OUT/1.raw")" = $'Subject: one\r\n\r\nbody one\r\n.\r' ]
	[ "$(cat "$OUT/2.raw")" = $'Subject: two\r\n\r\nbody two\r\n.\r' ]
	model body "$MBOX" 1 | cmp - "$OUT/1"
	pop3 <<-EOF
	$LOGIN
	LIST
	QUIT
	EOF
	# "Subject: one" CRLF CRLF "body one" CRLF = 14 + 2 + 10
	[ "${lines[4]}" = "1 26" ]
	[ "${lines[5]}" = "2 26" ]
}

@test "a CRLF empty line before a From_ line is a separator: pop3d, the model and the client comparison agree" {
	# README "The mailbox": an empty line is one the scanner (mbox.c)
	# sees as LF or CRLF alone; the CRLF one before "From " and the one
	# ending the file belong to the separator, like LF ones
	printf 'From a@b Mon Jan  1 00:00:00 2024\r\nSubject: one\r\n\r\nbody one\r\n\r\nFrom b@c Mon Jan  1 00:00:00 2024\r\nSubject: two\r\n\r\nbody two\r\n\r\n' |
	    mbox_raw
	pop3_raw "$OUT/raw" <<-EOF
	$LOGIN
	STAT
	RETR 1
	RETR 2
	QUIT
	EOF
	[ "$status" -eq 0 ]
	grep -qa '^+OK 2 52' "$OUT/raw"
	retr_blocks 4 2
	[ "$(cat "$OUT/1.raw")" = $'Subject: one\r\n\r\nbody one\r\n.\r' ]
	[ "$(cat "$OUT/2.raw")" = $'Subject: two\r\n\r\nbody two\r\n.\r' ]
	[ "$(model count "$MBOX")" -eq 2 ]
	[ "$(model sizes "$MBOX")" = $'1 26\n2 26' ]
	model body "$MBOX" 1 | cmp - "$OUT/1"
	model body "$MBOX" 2 | cmp - "$OUT/2"
	# what a client stores (RETR's bytes) is what the comparison expects
	model compare "$MBOX" "$OUT/1" "$OUT/2"
	refute model compare "$MBOX" "$OUT/1" 2> /dev/null
}

@test "\"From \" inside a body, not after an empty line, is body text" {
	printf 'From a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\nFrom the start it was clear\nFrom x@y Mon Jan  1 00:00:00 2024\n\n' |
	    mbox_raw
	pop3 <<-EOF
	$LOGIN
	STAT
	RETR 1
	QUIT
	EOF
	[ "${lines[3]}" = "+OK 1 $(model sizes "$MBOX" | awk '{ print $2 }')" ]
	[ "$(model count "$MBOX")" -eq 1 ]
	[ "${lines[6]}" = "body" ]
	[ "${lines[7]}" = "From the start it was clear" ]
	[ "${lines[8]}" = "From x@y Mon Jan  1 00:00:00 2024" ]
	[ "${lines[9]}" = "." ]
}

@test "TOP n 0 is the header and its blank line; TOP n 99999999 is RETR byte for byte" {
	odd_mbox
	script="$LOGIN"
	for n in $(seq 11); do
		script+=$'\n'"TOP $n 0"$'\n'"TOP $n 2"$'\n'"TOP $n 99999999"
		script+=$'\n'"RETR $n"
	done
	pop3_raw "$OUT/raw" <<< "$script"$'\nQUIT'
	[ "$status" -eq 0 ]
	retr_blocks 3 44
	mkdir "$OUT/want"
	model expect "$MBOX" "$OUT/want" 0 2
	for n in $(seq 11); do
		b=$(((n - 1) * 4))
		cmp "$OUT/want/$n.top-0" "$OUT/$((b + 1))"
		cmp "$OUT/want/$n.top-2" "$OUT/$((b + 2))"
		cmp "$OUT/$((b + 4)).raw" "$OUT/$((b + 3)).raw"
		cmp "$OUT/want/$n.body" "$OUT/$((b + 3))"
	done
	# by hand: the header of message 1 and its blank line, nothing more
	[ "$(cat "$OUT/1.raw")" = $'Subject: dots\r\n\r\n.\r' ]
	# two body lines, stuffed
	[ "$(cat "$OUT/2.raw")" = $'Subject: dots\r\n\r\n..\r\n...\r\n.\r' ]
}

@test "a missing mailbox is an empty maildrop and is not created" {
	pop3 <<-EOF
	$LOGIN
	STAT
	LIST
	UIDL
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[3]}" = "+OK 0 0" ]
	[[ ${lines[4]} == "+OK"* ]]
	[ "${lines[5]}" = "." ]
	[[ ${lines[6]} == "+OK"* ]]
	[ "${lines[7]}" = "." ]
	[[ ${lines[8]} == "+OK"* ]]
	[ ! -e "$MBOX" ]
	[ -z "$(ls -A "$SPOOL")" ]
	# an empty file is an empty maildrop too, and stays as it is
	: | mbox_raw
	pop3 <<-EOF
	$LOGIN
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[3]}" = "+OK 0 0" ]
	[ -f "$MBOX" ]
	[ ! -s "$MBOX" ]
}

@test "a file that does not start with a From_ line is refused with [SYS/PERM], logged, and left alone" {
	syslog_start
	for head in 'Subject: no separator' '' 'from lower@case' '>From a@b'; do
		printf '%s\n\nbody\n\nFrom a@b Mon Jan  1 00:00:00 2024\n\nx\n' \
		    "$head" > "$MBOX"
		chown "$TEST_UID:$TEST_GID" "$MBOX"
		cp "$MBOX" "$OUT/before"
		pop3 <<-EOF
		$LOGIN
		QUIT
		EOF
		[[ ${lines[2]} == "-ERR [SYS/PERM] "* ]]
		cmp "$MBOX" "$OUT/before"
	done
	syslog_wait "pop3d.*$MBOX"
}

@test "UIDLs are 1-70 characters of 0x21-0x7E and unique, also for two and three identical messages" {
	mbox_add "one"
	mbox_add "twin" "same body"
	mbox_add "twin" "same body"
	mbox_add "two"
	mbox_add "triplet" "same"
	mbox_add "triplet" "same"
	mbox_add "triplet" "same"
	cmp <(sed -n 7,12p "$MBOX") <(sed -n 13,18p "$MBOX")	# byte-identical
	cp "$MBOX" "$OUT/before"
	pop3 <<-EOF
	$LOGIN
	UIDL
	UIDL 3
	UIDL 7
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ ${lines[3]} == "+OK"* ]]
	printf '%s\n' "${lines[@]:4:8}" > "$OUT/uidl"
	[ "$(sed -n 8p "$OUT/uidl")" = "." ]
	head -7 "$OUT/uidl" > "$OUT/u"
	cat "$OUT/u"
	[ "$(cut -d' ' -f1 "$OUT/u" | tr '\n' ' ')" = "1 2 3 4 5 6 7 " ]
	refute env LC_ALL=C grep -Evx '[0-9]+ [!-~]{1,70}' "$OUT/u"
	[ "$(cut -d' ' -f2 "$OUT/u" | sort -u | wc -l)" -eq 7 ]
	[ "${lines[12]}" = "+OK $(sed -n 3p "$OUT/u")" ]
	[ "${lines[13]}" = "+OK $(sed -n 7p "$OUT/u")" ]
	# computing them never rewrites the mailbox
	cmp "$MBOX" "$OUT/before"
}

@test "UIDLs stay the same across sessions, after deletions of other messages and new deliveries" {
	mbox_add "keep 1"
	mbox_add "gone 2"
	mbox_add "dup" "same"
	mbox_add "keep 4"
	mbox_add "dup" "same"
	mbox_add "gone 6"
	mbox_add "dup" "same"
	pop3 <<-EOF
	$LOGIN
	UIDL
	QUIT
	EOF
	printf '%s\n' "${lines[@]:4:7}" | cut -d' ' -f2 > "$OUT/first"
	[ "$(wc -l < "$OUT/first")" -eq 7 ]
	stat -c '%i %s %Y' "$MBOX" > "$OUT/stat"
	# the same again: nothing changed, nothing rewritten
	pop3 <<-EOF
	$LOGIN
	UIDL
	QUIT
	EOF
	printf '%s\n' "${lines[@]:4:7}" | cut -d' ' -f2 | cmp - "$OUT/first"
	stat -c '%i %s %Y' "$MBOX" | cmp - "$OUT/stat"

	pop3 <<-EOF
	$LOGIN
	DELE 2
	DELE 6
	QUIT
	EOF
	[ "$status" -eq 0 ]
	printf 'Subject: new\n\nnew mail\n' |
	    python3 "$TESTS/lib/deliver.py" "$MBOX" new@example.org
	pop3 <<-EOF
	$LOGIN
	UIDL
	UIDL 6
	QUIT
	EOF
	[ "$status" -eq 0 ]
	printf '%s\n' "${lines[@]:4:6}" | cut -d' ' -f2 > "$OUT/after"
	# survivors 1 3 4 5 7 are now 1-5, with the UIDLs they had
	sed -n '1p;3p;4p;5p;7p' "$OUT/first" | cmp - <(head -5 "$OUT/after")
	new=$(sed -n 6p "$OUT/after")
	refute grep -qx -- "$new" "$OUT/first"
	[ "${lines[11]}" = "+OK 6 $new" ]
}

@test "after QUIT the mailbox holds exactly the surviving messages, byte for byte and in order" {
	odd_mbox
	chmod 640 "$MBOX"
	model cut "$MBOX" 1 4 7 11 > "$OUT/want"
	pop3 <<-EOF
	$LOGIN
	DELE 1
	DELE 4
	DELE 7
	DELE 11
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ ${lines[-1]} == "+OK"* ]]
	cmp "$OUT/want" "$MBOX"
	[ "$(stat -c '%u:%g %a' "$MBOX")" = "$TEST_UID:$TEST_GID 640" ]
	[ "$(model count "$MBOX")" -eq 7 ]
	[ ! -e "$MBOX.lock" ]
	# nothing but the mailbox and its persistent index (README
	# "Persistent index"): no lock, journal or temp file left
	[ -z "$(ls "$SPOOL" | grep -v '^alice$' | grep -v '^alice.pop3d-index$')" ]
}

@test "deleting the first, a middle and the last message, then all of them" {
	mbox_make 6
	model cut "$MBOX" 1 3 6 > "$OUT/want"
	pop3 <<-EOF
	$LOGIN
	DELE 6
	DELE 1
	DELE 3
	QUIT
	EOF
	[ "$status" -eq 0 ]
	cmp "$OUT/want" "$MBOX"
	grep '^Subject' "$MBOX" | tr '\n' ' ' | grep -qx 'Subject: msg 2 Subject: msg 4 Subject: msg 5 '
	pop3 <<-EOF
	$LOGIN
	DELE 1
	DELE 2
	DELE 3
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ -f "$MBOX" ]
	[ ! -s "$MBOX" ]
}

@test "a message delivered mid-session (fcntl + dotlock) is kept after QUIT" {
	mbox_make 3
	cp "$MBOX" "$OUT/before"
	pop3 <<-EOF
	$LOGIN
	STAT
	!sh printf 'Subject: mid\n\nFrom the middle of the session\n' | python3 "$TESTS/lib/deliver.py" "$MBOX" mid@example.org && cp "$MBOX" "$OUT/delivered"
	STAT
	LIST
	DELE 1
	DELE 3
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[3]}" = "${lines[4]}" ]	# the session's view is fixed
	[[ ${lines[-1]} == "+OK"* ]]
	cmp -n "$(wc -c < "$OUT/before")" "$OUT/before" "$OUT/delivered"
	{ model cut "$OUT/before" 1 3
	  tail -c +"$(($(wc -c < "$OUT/before") + 1))" "$OUT/delivered"
	} > "$OUT/want"
	cmp "$OUT/want" "$MBOX"
	grep -q '^>From the middle of the session$' "$MBOX"
	[ ! -e "$MBOX.lock" ]
}

@test "a message delivered mid-session is kept when QUIT deletes only the last message" {
	mbox_make 3
	cp "$MBOX" "$OUT/before"
	pop3 <<-EOF
	$LOGIN
	!sh printf 'Subject: mid\n\nFrom the middle of the session\n' | python3 "$TESTS/lib/deliver.py" "$MBOX" mid@example.org && cp "$MBOX" "$OUT/delivered"
	DELE 3
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ ${lines[-1]} == "+OK"* ]]
	{ model cut "$OUT/before" 3
	  tail -c +"$(($(wc -c < "$OUT/before") + 1))" "$OUT/delivered"
	} > "$OUT/want"
	cmp "$OUT/want" "$MBOX"
	grep -q '^>From the middle of the session$' "$MBOX"
}

@test "a session that ends without QUIT (EOF, autologout, SIGTERM) deletes nothing" {
	mbox_make 4
	cp "$MBOX" "$OUT/before"
	stat -c '%i %s %Y' "$MBOX" > "$OUT/stat"
	pop3 <<-EOF
	$LOGIN
	DELE 1
	DELE 4
	!close
	EOF
	[ "$status" -eq 0 ]
	cmp "$OUT/before" "$MBOX"
	pop3 --deadline 20 -- --timeout 1 <<-EOF
	$LOGIN
	DELE 2
	DELE 3
	!read
	EOF
	[ "$status" -ne 124 ]
	[[ ${lines[-1]} == "-ERR"* ]]
	cmp "$OUT/before" "$MBOX"
	# a signal: the wrapper records pop3d's pid (exec keeps it)
	LOGWRAP=(sh -c 'echo $$ > "$0"; exec "$@"' "$OUT/pid")
	pop3 --deadline 20 <<-EOF
	$LOGIN
	DELE 1
	DELE 2
	!sh kill -TERM "\$(cat "$OUT/pid")"
	EOF
	[ "$status" -ne 124 ]
	cmp "$OUT/before" "$MBOX"
	stat -c '%i %s %Y' "$MBOX" | cmp - "$OUT/stat"
}

@test "RSET undoes DELE" {
	mbox_make 4
	cp "$MBOX" "$OUT/before"
	pop3 <<-EOF
	$LOGIN
	DELE 1
	DELE 3
	STAT
	RSET
	STAT
	RETR 3
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[5]}" = "+OK 2 104" ]	# 2 x 52, as in session.bats
	[[ ${lines[6]} == "+OK"* ]]
	[ "${lines[7]}" = "+OK 4 208" ]
	[[ ${lines[8]} == "+OK"* ]]
	cmp "$OUT/before" "$MBOX"
	model cut "$MBOX" 2 > "$OUT/want"
	pop3 <<-EOF
	$LOGIN
	DELE 1
	DELE 2
	RSET
	DELE 2
	QUIT
	EOF
	[ "$status" -eq 0 ]
	cmp "$OUT/want" "$MBOX"
}

@test "random mailboxes (fixed seeds): sizes, RETR, TOP, UIDL and UPDATE agree with the model" {
	local seeds=20
	is_emulated && seeds=5		# under qemu-user: fewer, same kinds
	mkdir -p "$OUT/fuzz"
	run env MBOX="$MBOX" WORK="$OUT/fuzz" TEST_UID="$TEST_UID" \
	    PASSWORD="$PASSWORD" timeout 300 python3 "$TESTS/lib/mboxfuzz.py" 1 \
	    $((seeds + 1)) -- "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "$seeds seeds, 0 differences" ]
}

@test "UIDLs of a 24 MB mailbox (many read buffers): SHA-256 of each message, as documented" {
	# 48 messages of ~512 KB (24 MB): messages span many 1 MB reads; a
	# byte-identical pair sits on each side of the middle byte.  The expected UIDLs are computed here from README's
	# definition: the first 128 bits of SHA-256 over From_ line and body,
	# in hex, "-2" for the second byte-identical copy.
	python3 - "$MBOX" "$OUT/expect" <<-'PY'
	import hashlib, sys
	msgs = []
	for i in range(48):
	    n = i if i not in (30,) else 17	# 17 and 30 are byte-identical
	    line = ("line %d of message %d " % (0, n)).ljust(75, "x") + "\n"
	    body = "".join(line.replace(" 0 ", " %d " % k, 1)
	                   for k in range(7000))
	    msgs.append(("From sender%d@example.org Mon Nov 23 10:00:00 2026\n"
	                  "Subject: big %d\n\n%s" % (n, n, body)).encode())
	seen, out = {}, []
	for m in msgs:
	    h = hashlib.sha256(m).hexdigest()[:32]
	    seen[h] = seen.get(h, 0) + 1
	    out.append(h if seen[h] == 1 else "%s-%d" % (h, seen[h]))
	with open(sys.argv[1], "wb") as f:
	    f.write(b"\n".join(msgs) + b"\n")
	with open(sys.argv[2], "w") as f:
	    f.write("".join("%d %s\n" % (i + 1, u) for i, u in enumerate(out)))
	PY
	chown "$TEST_UID:$TEST_GID" "$MBOX"
	[ "$(stat -c %s "$MBOX")" -gt $((16 * 1024 * 1024)) ]
	pop3 <<-EOF
	$LOGIN
	UIDL
	QUIT
	EOF
	[ "$status" -eq 0 ]
	printf '%s\n' "${lines[@]:4:48}" | cmp - "$OUT/expect"
	[ "${lines[52]}" = "." ]
	[[ $(sed -n 31p "$OUT/expect") == *-2 ]]
}
