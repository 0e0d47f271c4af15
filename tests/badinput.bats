#!/usr/bin/env bats
# pop3d.8 "Protocol", RFC 1939 and RFC 2449 section 4: every malformed,
# oversized or unexpected input gets -ERR and the session goes on;
# nothing crashes, nothing blocks, memory does not grow with what the
# client sends.

bats_require_minimum_version 1.5.0

load lib/helper
load lib/mailbox

setup() {
	setup_maildrop
	OUT=$BATS_TEST_TMPDIR/out
	mkdir -p "$OUT"
}

# spaces N: N spaces
spaces() {
	printf '%*s' "$1" ''
}

# errs: how many reply lines are -ERR
errs() {
	grep -c '^-ERR' <<< "$output" || :
}

@test "a 255-octet command line (CRLF included) is accepted, a 256-octet one gets one -ERR" {
	mbox_make 1
	ok255="NOOP$(spaces 249)"	# + CRLF = 255 octets
	bad256="NOOP$(spaces 250)"	# + CRLF = 256 octets
	ok255lf="NOOP$(spaces 250)"	# + LF = 255 octets
	bad256lf="NOOP$(spaces 251)"	# + LF = 256 octets
	[ $((${#ok255} + 2)) -eq 255 ]
	pop3 <<-EOF
	$LOGIN
	$ok255
	$bad256
	!send $ok255lf\n
	!read
	!send $bad256lf\n
	!read
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ ${lines[3]} == "+OK"* ]]
	[[ ${lines[4]} == "-ERR "* ]]
	[[ ${lines[5]} == "+OK"* ]]
	[[ ${lines[6]} == "-ERR "* ]]
	[ "${lines[7]}" = "+OK 1 52" ]
	[[ ${lines[8]} == "+OK"* ]]
	[ "${#lines[@]}" -eq 9 ]
}

@test "the limit holds when a line arrives in pieces, split right at the boundary" {
	mbox_make 1
	head254="NOOP$(spaces 249)"	# then \r\n: 255 octets in all
	head255="NOOP$(spaces 250)"	# then \r\n: 256 octets in all
	pop3 <<-EOF
	$LOGIN
	!send $head254\r
	!sleep 0.3
	!send \n
	!read
	!send $head255\r
	!sleep 0.3
	!send \n
	!read
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ ${lines[3]} == "+OK"* ]]
	[[ ${lines[4]} == "-ERR "* ]]
	[ "${lines[5]}" = "+OK 1 52" ]
	[ "${#lines[@]}" -eq 7 ]
}

@test "the rest of an over-long line is discarded, never run as a second command" {
	mbox_make 2
	cp "$MBOX" "$OUT/before"
	a255=$(printf 'A%.0s' $(seq 255))
	a256=$(printf 'A%.0s' $(seq 256))
	a20k=$(head -c 20000 /dev/zero | tr '\0' A)
	# DELE 1 first: a QUIT run by mistake would delete it
	pop3 --deadline 30 <<-EOF
	$LOGIN
	DELE 1
	!send ${a255}QUIT\r\n
	!read
	!send ${a256}QUIT\r\n
	!read
	!send ${a255}
	!sleep 0.3
	!send QUIT\r\n
	!read
	!send ${a20k}
	!send QUIT\r\n
	!read
	!send ${a255}\rQUIT\r\n
	!read
	STAT
	!close
	EOF
	[ "$status" -eq 0 ]
	for i in 4 5 6 7 8; do
		[[ ${lines[$i]} == "-ERR "* ]]
	done
	[ "${lines[9]}" = "+OK 1 52" ]	# still in TRANSACTION, 1 deleted
	[ "${#lines[@]}" -eq 10 ]
	[ "$(errs)" -eq 5 ]
	cmp "$OUT/before" "$MBOX"	# no QUIT ran: nothing deleted
}

@test "arguments over 40 characters are refused; PASS and AUTH PLAIN take a long pass phrase" {
	mbox_make 1
	phrase="a long pass phrase, with spaces: $(printf 'correct horse battery staple %.0s' 1 2 3 4)end"
	[ "${#phrase}" -gt 140 ]
	hash=$(openssl passwd -6 -salt longsalt "$phrase")
	printf 'bob:%s:%d:%d:Bob:%s:/bin/sh\n' "$hash" "$TEST_UID" \
	    "$TEST_GID" "$BATS_TEST_TMPDIR" >> "$PASSWD"
	cp "$MBOX" "$SPOOL/bob"
	chown "$TEST_UID:$TEST_GID" "$SPOOL/bob"
	n40=$(printf '0%.0s' $(seq 39))1
	n41=0$n40
	u41=$(printf 'u%.0s' $(seq 41))
	pop3 <<-EOF
	USER $u41
	USER bob
	PASS $phrase
	LIST $n40
	LIST $n41
	RETR $n41
	TOP $n41 0
	TOP 1 $n41
	DELE $n41
	UIDL $n41
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ ${lines[1]} == "-ERR "* ]]
	[[ ${lines[2]} == "+OK"* ]]
	[ "${lines[3]}" = "+OK bob has 1 messages (52 octets)" ]
	[ "${lines[4]}" = "+OK 1 52" ]		# 40 characters: fine
	for i in 5 6 7 8 9 10; do
		[[ ${lines[$i]} == "-ERR "* ]]
	done
	[ "${lines[11]}" = "+OK 1 52" ]
	plain=$(printf '\0bob\0%s' "$phrase" | base64 -w0)
	[ "${#plain}" -gt 40 ]
	pop3 <<-EOF
	AUTH PLAIN $plain
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "+OK bob has 1 messages (52 octets)" ]
	[ "${lines[2]}" = "+OK 1 52" ]
}

@test "NUL bytes in a command line get -ERR, in both states" {
	mbox_make 1
	pop3 <<-EOF
	!send NO\0OP\r\n
	!read
	!send \0\r\n
	!read
	!send USER al\0ice\r\n
	!read
	!send QUIT\0\r\n
	!read
	$LOGIN
	!send STAT\0\r\n
	!read
	!send RETR 1\0\r\n
	!read
	!send DELE\x001\r\n
	!read
	!send \0$(printf 'A%.0s' $(seq 300))\r\n
	!read
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	for i in 1 2 3 4 7 8 9 10; do
		[[ ${lines[$i]} == "-ERR "* ]]
	done
	[ "${lines[6]}" = "+OK alice has 1 messages (52 octets)" ]
	[ "${lines[11]}" = "+OK 1 52" ]
	[[ ${lines[12]} == "+OK"* ]]
	[ "${#lines[@]}" -eq 13 ]
	[ "$(grep -c '^From ' "$MBOX")" -eq 1 ]
}

@test "unknown commands get -ERR, in both states" {
	mbox_make 1
	pop3 <<-EOF
	XYZZY
	STATUS
	QUITX
	ST AT
	!send \r\n
	!read
	!send  \r\n
	!read
	!send \x09QUIT\r\n
	!read
	!send QUIT\x80\xff\r\n
	!read
	+OK
	.
	$LOGIN
	XYZZY
	RETRIEVE 1
	DELETE 1
	!send \r\n
	!read
	!send  STAT\r\n
	!read
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[[ ${lines[$i]} == "-ERR "* ]]
	done
	[ "${lines[12]}" = "+OK alice has 1 messages (52 octets)" ]
	for i in 13 14 15 16 17; do
		[[ ${lines[$i]} == "-ERR "* ]]
	done
	[ "${lines[18]}" = "+OK 1 52" ]
	[[ ${lines[19]} == "+OK"* ]]
	[ "${#lines[@]}" -eq 20 ]
	[ "$(grep -c '^From ' "$MBOX")" -eq 1 ]
}

@test "commands in the wrong state get -ERR and change nothing" {
	mbox_make 2
	pop3 <<-EOF
	DELE 1
	RETR 1
	STAT
	$LOGIN
	USER alice
	PASS $PASSWORD
	STLS
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "$(errs)" -eq 6 ]
	[ "${lines[5]}" = "+OK alice has 2 messages (104 octets)" ]
	[ "${lines[9]}" = "+OK 2 104" ]
	[ "$(grep -c '^From ' "$MBOX")" -eq 2 ]
}

@test "bad, zero, negative, huge and out-of-range message numbers get -ERR for every command" {
	mbox_make 3
	cp "$MBOX" "$OUT/before"
	script="$LOGIN"
	count=0
	for n in 0 -1 +1 1x x 0x1 1.0 1,2 4 10 2147483647 2147483648 \
	    4294967295 4294967296 4294967297 18446744073709551617 \
	    99999999999999999999 -0 "$(printf '\xb9')"; do
		for cmd in RETR "TOP %s 0" LIST UIDL DELE; do
			[ "$cmd" = "${cmd#*%s}" ] && cmd="$cmd %s"
			script+=$'\n'"$(printf "$cmd" "$n")"
			count=$((count + 1))
		done
	done
	# the other arguments: TOP's line count, missing and extra arguments
	for line in "TOP 1 -1" "TOP 1 x" "TOP 1 1x" "TOP 1 +1" "TOP 1" \
	    "TOP 1 0 0" "TOP" "RETR" "RETR 1 2" "DELE" "DELE 1 2" "LIST 1 2" \
	    "UIDL 1 2" "STAT 1" "NOOP 1" "RSET 1" "QUIT 1"; do
		script+=$'\n'"$line"
		count=$((count + 1))
	done
	pop3 <<< "$script"$'\nSTAT\nLIST\nQUIT'
	[ "$status" -eq 0 ]
	echo "$count bad commands"
	[ "$(errs)" -eq "$count" ]
	[ "${lines[$((count + 3))]}" = "+OK 3 156" ]
	[[ ${lines[-1]} == "+OK"* ]]
	[ "${#lines[@]}" -eq $((count + 10)) ]
	cmp "$OUT/before" "$MBOX"
}

@test "a huge TOP line count means the whole message" {
	mbox_make 2
	pop3 <<-EOF
	$LOGIN
	TOP 2 99999999999999999999999999
	RETR 2
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "${lines[@]:4:4}")" = "$(printf '%s\n' "${lines[@]:9:4}")" ]
	[ "${lines[7]}" = "." ]
}

@test "a deleted message's number gets -ERR from RETR, TOP, LIST, UIDL and DELE" {
	mbox_make 3
	model cut "$MBOX" 2 > "$OUT/want"
	pop3 <<-EOF
	$LOGIN
	DELE 2
	RETR 2
	TOP 2 0
	LIST 2
	UIDL 2
	DELE 2
	STAT
	LIST
	UIDL
	QUIT
	EOF
	[ "$status" -eq 0 ]
	for i in 4 5 6 7 8; do
		[[ ${lines[$i]} == "-ERR "* ]]
	done
	[ "${lines[9]}" = "+OK 2 104" ]
	[ "$(printf '%s\n' "${lines[@]:11:2}")" = $'1 52\n3 52' ]
	[[ ${lines[15]} =~ ^1\  ]]
	[[ ${lines[16]} =~ ^3\  ]]
	[ "${lines[17]}" = "." ]
	[[ ${lines[18]} == "+OK"* ]]
	cmp "$OUT/want" "$MBOX"
}

# Memory bound: the server's peak RSS (VmHWM) may grow by at most 2 MB
# over what it had right after the greeting, whatever the client sends;
# and stays under 16 MB in all (64 MB for the sanitizer build, 32 MB
# under qemu-user, whose own code and translation cache count too).
hwm_ok() {
	local before after limit=16384
	before=$(awk '$1 == "hwm-before" { print $2 }' <<< "$output")
	after=$(awk '$1 == "hwm-after" { print $2 }' <<< "$output")
	is_asan && limit=65536
	is_emulated && limit=32768
	echo "VmHWM: ${before} kB after the greeting, ${after} kB after the flood"
	[ -n "$before" ] && [ -n "$after" ]
	[ $((after - before)) -le 2048 ]
	[ "$after" -le "$limit" ]
}

@test "memory does not grow with 50 MB of garbage without a LF" {
	run python3 "$POP3CLIENT" garbage 50 -- "$POP3D" \
	    -p "$PASSWD" -m "$SPOOL/%u" -d 0
	echo "$output"
	[ "$status" -eq 0 ]
	[[ ${lines[1]} == "-ERR "* ]]		# one -ERR for all of it
	[[ ${lines[2]} == "+OK"* ]]		# and the QUIT after it works
	hwm_ok
}

@test "memory does not grow with 100000 bad commands, each answered with one -ERR" {
	run python3 "$POP3CLIENT" badcmds 100000 -- "$POP3D" \
	    -p "$PASSWD" -m "$SPOOL/%u" -d 0
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx 'errors 100000' <<< "$output"
	grep -qx 'other 0' <<< "$output"
	[[ ${lines[1]} == "+OK"* ]]		# QUIT still works
	hwm_ok
}

@test "garbage instead of a TLS handshake ends the session cleanly (--tls and STLS)" {
	needs_tls
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$BATS_TEST_TMPDIR/key.pem" \
	    -out "$BATS_TEST_TMPDIR/cert.pem" -subj /CN=localhost -days 2 \
	    2>/dev/null
	tls=(-c "$BATS_TEST_TMPDIR/cert.pem" -k "$BATS_TEST_TMPDIR/key.pem")
	# implicit TLS: garbage as the first bytes
	run python3 "$POP3CLIENT" early -- "$POP3D" -p "$PASSWD" \
	    -m "$SPOOL/%u" -d 0 "${tls[@]}" --tls --timeout 5
	echo "status $status: $output"
	[ "$status" -eq 0 ]
	# STLS, then garbage
	pop3 --deadline 20 -- "${tls[@]}" --timeout 5 <<-EOF
	STLS
	!send GET / HTTP/1.0\r\n\r\n$(printf 'garbage%.0s' $(seq 100))\r\n
	!close
	EOF
	echo "status $status: $output"
	[ "$status" -eq 0 ]
	[[ ${lines[1]} == "+OK"* ]]
	[ "${#lines[@]}" -le 3 ]
}
