#!/usr/bin/env bats
# TLS (README "TLS"): STLS (RFC 2595) and implicit TLS (RFC 8314) with pop3d's
# fd 0 and 1 being the TCP socket of a real launcher (socat, see
# lib/launcher.bash); openssl s_client, the suite's scripted client
# (lib/pop3client.py tcp) and real mail clients over TLS; the STARTTLS
# injection;
# plaintext login refused unless --allow-plaintext; bad certificate and
# key options; garbage, aborted and stalled handshakes.

load lib/helper
load lib/certs
load lib/launcher
load lib/mailbox

setup_file() {
	chmod a+x "$BATS_FILE_TMPDIR"
	tls_certs "$BATS_FILE_TMPDIR"
}

setup() {
	needs_tls
	setup_maildrop
	tls_certs "$BATS_FILE_TMPDIR"
	LAUNCHER_PID=
	VERSION=$("$POP3D" --version | awk '{ print $2 }')
}

teardown() {
	tls_stop
	syslog_stop
}

# ---------------------------------------------------------------- #
# openssl s_client                                                 #

@test "s_client -starttls pop3: CAPA over TLS offers USER and SASL PLAIN, login, RETR and DELE work" {
	mbox_make 3
	tls_launch --tls-cert "$CERT" --tls-key "$KEY"
	sclient stls <<-EOF
	CAPA
	$LOGIN
	STAT
	RETR 2
	DELE 2
	QUIT
	EOF
	[ "$status" -eq 0 ]
	expected="+OK capability list follows
TOP
UIDL
RESP-CODES
AUTH-RESP-CODE
PIPELINING
EXPIRE NEVER
USER
SASL PLAIN
IMPLEMENTATION pop3d-$VERSION
.
+OK send PASS
+OK alice has 3 messages (156 octets)
+OK 3 156
+OK 52 octets
From: sender@example.org
Subject: msg 2

body 2
.
+OK message 2 deleted
+OK pop3d signing off (1 messages deleted, 2 left)"
	[ "$output" = "$expected" ]
	pid=$(session_pid 1)
	[ "$(session_status "$pid")" = 0 ]
	run grep -c '^From ' "$MBOX"
	[ "$output" = 2 ]
	! grep -q 'msg 2' "$MBOX"
}

@test "s_client -connect with --tls: the greeting comes over TLS, CAPA has no STLS, a session runs" {
	mbox_make 2
	tls_launch --tls --tls-cert "$CERT" --tls-key "$KEY"
	sclient tls <<-EOF
	CAPA
	$LOGIN
	RETR 1
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "+OK pop3d ready" ]
	[[ $output == *$'SASL PLAIN\nIMPLEMENTATION'* ]]
	[[ $output != *STLS* ]]
	[[ $output == *$'+OK alice has 2 messages (104 octets)\n+OK 52 octets\nFrom: sender@example.org\nSubject: msg 1\n\nbody 1\n.\n+OK pop3d signing off'* ]]
	[ "$(session_status "$(session_pid 1)")" = 0 ]
}

@test "TLS 1.2 is the minimum: s_client -tls1_1 and -tls1 fail, -tls1_2 and -tls1_3 work, without compression" {
	tls_launch --tls --tls-cert "$CERT" --tls-key "$KEY"
	# SECLEVEL=0: let the client offer the old versions at all
	for v in -tls1 -tls1_1; do
		run sh -c 'echo QUIT | timeout 30 openssl s_client "$@" 2>&1' \
		    s_client "$v" -cipher DEFAULT@SECLEVEL=0 \
		    -connect "127.0.0.1:$PORT" -CAfile "$CERT" -ign_eof -crlf
		[ "$status" -ne 0 ]
		[[ $output == *"alert protocol version"* ]]
		[[ $output != *"+OK pop3d ready"* ]]
	done
	for v in -tls1_2 -tls1_3; do
		run sh -c 'echo QUIT | timeout 30 openssl s_client "$@" 2>&1 | tr -d "\r"' \
		    s_client "$v" -connect "127.0.0.1:$PORT" -CAfile "$CERT" \
		    -verify_return_error -ign_eof -crlf
		[ "$status" -eq 0 ]
		[[ $output == *$'+OK pop3d ready\n+OK pop3d signing off'* ]]
		[[ $output == *"Compression: NONE"* ]]
		[[ $output == *"New, TLSv1.${v#-tls1_}, Cipher is"* ]]
	done
}

@test "no renegotiation: s_client's R over TLS 1.2 is refused and the session does not go on" {
	mbox_make 1
	tls_launch --tls --tls-cert "$CERT" --tls-key "$KEY"
	# interactive s_client (no -quiet): "R" alone on a line renegotiates;
	# stdin stays open long enough for the answer and one more command
	run sh -c '(sleep 1.5; echo R; sleep 2; echo CAPA; sleep 1) |
	    timeout 30 openssl s_client "$@" 2>&1 | tr -d "\r"' s_client \
	    -tls1_2 -connect "127.0.0.1:$PORT" -CAfile "$CERT" \
	    -verify_return_error -crlf
	[[ $output == *"+OK pop3d ready"* ]]
	[[ $output == *RENEGOTIATING* ]]
	[[ $output == *"no renegotiation"* ]]
	[[ $output != *"capability list"* ]]
	pid=$(session_pid 1)
	wait_gone "$pid" 10
	[ "$(session_status "$pid")" = 0 ]
}

# ---------------------------------------------------------------- #
# CAPA, STLS and the states                                        #

@test "CAPA lists STLS and neither USER nor SASL before STLS; after it USER and SASL PLAIN and no STLS" {
	tls_launch --tls-cert "$CERT" --tls-key "$KEY"
	tclient <<-EOF
	CAPA
	!stls
	CAPA
	QUIT
	EOF
	[ "$status" -eq 0 ]
	caps="TOP
UIDL
RESP-CODES
AUTH-RESP-CODE
PIPELINING
EXPIRE NEVER"
	expected="+OK pop3d ready
+OK capability list follows
$caps
STLS
IMPLEMENTATION pop3d-$VERSION
.
+OK begin TLS negotiation
[tls TLSv1.3]
+OK capability list follows
$caps
USER
SASL PLAIN
IMPLEMENTATION pop3d-$VERSION
.
+OK pop3d signing off
[eof]"
	[ "$output" = "$expected" ]
}

@test "with --allow-plaintext CAPA lists USER, SASL PLAIN and STLS, and USER/PASS and AUTH PLAIN work without TLS" {
	mbox_make 1
	tls_launch --tls-cert "$CERT" --tls-key "$KEY" --allow-plaintext
	tclient <<-EOF
	CAPA
	$LOGIN
	STAT
	QUIT
	EOF
	[[ $output == *$'EXPIRE NEVER\nUSER\nSASL PLAIN\nSTLS\nIMPLEMENTATION'* ]]
	[[ $output == *$'+OK alice has 1 messages (52 octets)\n+OK 1 52\n+OK pop3d signing off'* ]]
	# AUTH PLAIN, initial response: base64 of "\0alice\0secret"
	tclient <<-EOF
	AUTH PLAIN AGFsaWNlAHNlY3JldA==
	STAT
	QUIT
	EOF
	[[ $output == *$'+OK alice has 1 messages (52 octets)\n+OK 1 52\n'* ]]
	# and with the continuation
	tclient <<-EOF
	AUTH PLAIN
	!send AGFsaWNlAHNlY3JldA==\r\n
	!read
	STAT
	QUIT
	EOF
	[[ $output == *$'\n+ \n+OK alice has 1 messages (52 octets)\n+OK 1 52\n'* ]]
}

@test "without --allow-plaintext USER, PASS and AUTH PLAIN in plaintext get -ERR [AUTH] with a reason" {
	mbox_make 1
	tls_launch --tls-cert "$CERT" --tls-key "$KEY"
	refusal="-ERR [AUTH] plaintext authentication disallowed on an unencrypted connection; use STLS first"
	tclient <<-EOF
	USER alice
	PASS secret
	AUTH PLAIN AGFsaWNlAHNlY3JldA==
	AUTH PLAIN
	AUTH
	STAT
	QUIT
	EOF
	expected="+OK pop3d ready
$refusal
$refusal
$refusal
$refusal
+OK
.
-ERR STAT is not valid in this state
+OK pop3d signing off
[eof]"
	[ "$output" = "$expected" ]
	# STLS lifts the refusal
	tclient <<-EOF
	!stls
	$LOGIN
	STAT
	QUIT
	EOF
	[[ $output == *$'[tls TLSv1.3]\n+OK send PASS\n+OK alice has 1 messages (52 octets)\n+OK 1 52\n'* ]]
}

@test "APOP stays allowed in plaintext when a certificate is configured" {
	mbox_make 1
	printf 'alice:apopsecret\n' > "$BATS_TEST_TMPDIR/apop"
	chmod 600 "$BATS_TEST_TMPDIR/apop"
	tls_launch --tls-cert "$CERT" --tls-key "$KEY" -a "$BATS_TEST_TMPDIR/apop"
	tclient <<-EOF
	!apop alice apopsecret
	STAT
	QUIT
	EOF
	[[ ${lines[0]} =~ ^\+OK\ pop3d\ ready\ \<.*\>$ ]]
	[ "${lines[1]}" = "+OK alice has 1 messages (52 octets)" ]
	[ "${lines[2]}" = "+OK 1 52" ]
}

@test "STLS twice gets -ERR and the TLS session goes on" {
	mbox_make 1
	tls_launch --tls-cert "$CERT" --tls-key "$KEY"
	tclient <<-EOF
	!stls
	STLS
	$LOGIN
	STAT
	QUIT
	EOF
	[[ $output == *$'[tls TLSv1.3]\n-ERR TLS is already active\n+OK send PASS\n+OK alice has 1 messages (52 octets)\n+OK 1 52\n+OK pop3d signing off'* ]]
}

@test "STLS in the TRANSACTION state gets -ERR and the session goes on" {
	mbox_make 1
	tls_launch --tls-cert "$CERT" --tls-key "$KEY" --allow-plaintext
	tclient <<-EOF
	$LOGIN
	STLS
	STAT
	QUIT
	EOF
	expected="+OK pop3d ready
+OK send PASS
+OK alice has 1 messages (52 octets)
-ERR STLS is not valid in this state
+OK 1 52
+OK pop3d signing off (0 messages deleted, 1 left)
[eof]"
	[ "$output" = "$expected" ]
	# and in TRANSACTION after a login over TLS
	tclient <<-EOF
	!stls
	$LOGIN
	STLS
	STAT
	QUIT
	EOF
	[[ $output == *$'+OK alice has 1 messages (52 octets)\n-ERR STLS is not valid in this state\n+OK 1 52\n'* ]]
}

@test "under --tls, STLS gets -ERR" {
	tls_launch --tls --tls-cert "$CERT" --tls-key "$KEY"
	tclient --tls <<-EOF
	STLS
	QUIT
	EOF
	expected="[tls TLSv1.3]
+OK pop3d ready
-ERR TLS is already active
+OK pop3d signing off
[eof]"
	[ "$output" = "$expected" ]
}

@test "without a certificate STLS gets -ERR and CAPA does not list it" {
	pop3 <<-EOF
	CAPA
	STLS
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ $output == *$'EXPIRE NEVER\nUSER\nSASL PLAIN\nIMPLEMENTATION'* ]]
	[[ $output == *$'\n-ERR STLS is not available\n+OK pop3d signing off'* ]]
}

# ---------------------------------------------------------------- #
# STARTTLS command injection (CVE-2011-0411 class)                 #

@test "STARTTLS injection: CAPA sent with STLS in one plaintext write is not run after the handshake" {
	tls_launch --tls-cert "$CERT" --tls-key "$KEY"
	tclient <<-EOF
	!send STLS\r\nCAPA\r\n
	!read
	!handshake
	QUIT
	EOF
	expected="+OK pop3d ready
+OK begin TLS negotiation
[tls TLSv1.3]
+OK pop3d signing off
[eof]"
	[ "$output" = "$expected" ]
}

@test "STARTTLS injection: USER and PASS sent with STLS in one write neither log in nor leave a user behind" {
	mbox_make 1
	tls_launch --tls-cert "$CERT" --tls-key "$KEY" --allow-plaintext
	tclient <<-EOF
	!send STLS\r\nUSER alice\r\nPASS secret\r\nDELE 1\r\nQUIT\r\n
	!read
	!handshake
	STAT
	PASS secret
	QUIT
	EOF
	expected="+OK pop3d ready
+OK begin TLS negotiation
[tls TLSv1.3]
-ERR STAT is not valid in this state
-ERR give USER first
+OK pop3d signing off
[eof]"
	[ "$output" = "$expected" ]
	grep -q 'msg 1' "$MBOX"
}

@test "STARTTLS injection: a long pipelined tail after STLS is discarded too, and USER before STLS is forgotten" {
	tls_launch --tls-cert "$CERT" --tls-key "$KEY" --allow-plaintext
	# 300 CAPAs (over 2 kB) after STLS; USER given before STLS
	tail=$(printf 'CAPA\\r\\n%.0s' $(seq 300))
	tclient <<-EOF
	USER alice
	!send STLS\r\n$tail
	!read
	!handshake
	PASS secret
	QUIT
	EOF
	expected="+OK pop3d ready
+OK send PASS
+OK begin TLS negotiation
[tls TLSv1.3]
-ERR give USER first
+OK pop3d signing off
[eof]"
	[ "$output" = "$expected" ]
}

# ---------------------------------------------------------------- #
# Bad certificate and key options                                  #

# start_by_hand OPTIONS: pop3d as a sysadmin runs it, no terminal, stdin
# empty; $status, $out (stdout) and $err (stderr) are set.
start_by_hand() {
	status=0
	timeout 20 setsid "$POP3D" -p "$PASSWD" -d 0 "$@" \
	    < /dev/null > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err" ||
	    status=$?
	out=$(cat "$BATS_TEST_TMPDIR/out")
	err=$(cat "$BATS_TEST_TMPDIR/err")
}

# refused_with WORDS...: exit 2, nothing on stdout (no greeting), one line
# "pop3d: ..." on stderr that contains each of WORDS.
refused_with() {
	local w
	echo "status=$status out=[$out] err=[$err]"
	[ "$status" -eq 2 ]
	[ -z "$out" ]
	[ "$(wc -l < "$BATS_TEST_TMPDIR/err")" -eq 1 ]
	[[ $err == "pop3d: "* ]]
	for w in "$@"; do
		[[ $err == *"$w"* ]]
	done
}

@test "a missing certificate or key file: exit 2, one line on stderr saying so, no greeting" {
	start_by_hand --tls-cert "$BATS_TEST_TMPDIR/nope.pem" --tls-key "$KEY"
	refused_with nope.pem "No such file or directory"
	start_by_hand --tls-cert "$CERT" --tls-key "$BATS_TEST_TMPDIR/nope.pem"
	refused_with nope.pem "No such file or directory"
	start_by_hand --tls --tls-cert "$CERT" --tls-key "$BATS_TEST_TMPDIR/nope.pem"
	refused_with nope.pem "No such file or directory"
}

@test "an unreadable certificate or key file: exit 2, one line on stderr saying so" {
	# run as a non-root user, for whom mode 000 means unreadable
	d=$BATS_TEST_TMPDIR
	cp "$CERT" "$d/cert.pem"
	cp "$KEY" "$d/key.pem"
	chmod 644 "$PASSWD" "$d/cert.pem"
	chmod 000 "$d/key.pem"
	status=0
	timeout 20 setpriv --reuid="$TEST_UID" --regid="$TEST_GID" \
	    --clear-groups "$POP3D" -p "$PASSWD" --tls-cert "$d/cert.pem" \
	    --tls-key "$d/key.pem" < /dev/null > "$d/out" 2> "$d/err" ||
	    status=$?
	out=$(cat "$d/out") err=$(cat "$d/err")
	refused_with key.pem "Permission denied"
	chmod 644 "$d/key.pem"
	chmod 000 "$d/cert.pem"
	status=0
	timeout 20 setpriv --reuid="$TEST_UID" --regid="$TEST_GID" \
	    --clear-groups "$POP3D" -p "$PASSWD" --tls-cert "$d/cert.pem" \
	    --tls-key "$d/key.pem" < /dev/null > "$d/out" 2> "$d/err" ||
	    status=$?
	out=$(cat "$d/out") err=$(cat "$d/err")
	refused_with cert.pem "Permission denied"
	# a directory is no certificate either
	mkdir "$d/dir"
	start_by_hand --tls-cert "$d/dir" --tls-key "$KEY"
	refused_with "$d/dir"
}

@test "a certificate or key that is not PEM, or the one given as the other: exit 2, one line naming the file" {
	start_by_hand --tls-cert "$JUNK" --tls-key "$KEY"
	refused_with "$JUNK"
	start_by_hand --tls-cert "$CERT_DER" --tls-key "$KEY"
	refused_with "$CERT_DER"
	start_by_hand --tls-cert "$CERT" --tls-key "$JUNK"
	refused_with "$JUNK"
	start_by_hand --tls-cert "$KEY" --tls-key "$KEY"
	refused_with "$KEY"
	start_by_hand --tls-cert "$CERT" --tls-key "$CERT"
	refused_with "$CERT"
}

@test "a key that does not match the certificate: exit 2, one line saying so" {
	start_by_hand --tls-cert "$CERT" --tls-key "$OTHER_KEY"
	refused_with "$OTHER_KEY" match
	start_by_hand --tls --tls-cert "$ENC_CERT" --tls-key "$KEY"
	refused_with "$KEY" match
}

@test "only one of --tls-cert and --tls-key, or --tls without them: exit 2, one line" {
	start_by_hand --tls-cert "$CERT"
	refused_with --tls-cert --tls-key
	start_by_hand --tls-key "$KEY"
	refused_with --tls-cert --tls-key
	start_by_hand --tls
	refused_with --tls
	start_by_hand --tls --tls-key "$KEY"
	refused_with --tls-cert
}

@test "an encrypted key: exit 2 with one line, no pass phrase prompt, nothing read from stdin" {
	start_by_hand --tls-cert "$ENC_CERT" --tls-key "$ENC_KEY"
	refused_with "$ENC_KEY"
	[[ $err != *"pass phrase"* ]]
	# stdin holding the pass phrase must not unlock it either
	run sh -c 'echo hunter2 | timeout 20 setsid "$@" >/dev/null 2>&1' sh \
	    "$POP3D" -p "$PASSWD" --tls-cert "$ENC_CERT" --tls-key "$ENC_KEY"
	[ "$status" -eq 2 ]
}

@test "bad TLS options under a superserver: one -ERR [SYS/TEMP] line to the client, exit 2, reason in syslog" {
	syslog_start
	pop3 --deadline 20 -- --tls-cert "$CERT" --tls-key "$OTHER_KEY" <<-EOF
	QUIT
	EOF
	[ "$status" -eq 2 ]
	[ "$output" = "-ERR [SYS/TEMP] server configuration error" ]
	syslog_wait "pop3d\[[0-9]+\]: .*$OTHER_KEY"
	# an encrypted key: no prompt to the client, no read from it
	pop3 --deadline 8 -- --tls-cert "$ENC_CERT" --tls-key "$ENC_KEY" <<-EOF
	QUIT
	EOF
	[ "$status" -eq 2 ]
	[ "$output" = "-ERR [SYS/TEMP] server configuration error" ]
}

# ---------------------------------------------------------------- #
# Handshakes that go wrong                                         #

@test "garbage instead of a ClientHello (--tls) ends the session cleanly with a syslog line" {
	syslog_start
	tls_launch --tls --tls-cert "$CERT" --tls-key "$KEY"
	tclient --no-greeting <<-EOF
	!send USER alice\r\nPASS secret\r\n
	!eof 20
	EOF
	[[ $output != *"+OK"* ]]
	[[ $output == *"[eof]"* ]]
	pid=$(session_pid 1)
	[ "$(session_status "$pid")" = 0 ]
	syslog_wait "pop3d\[$pid\]: peer=.*TLS handshake failed"
	# binary garbage: a TLS record header with a nonsense length
	tclient --no-greeting <<-EOF
	!send \x16\x03\x01\xff\xff\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00
	!eof 20
	EOF
	[[ $output == *"[eof]"* ]]
	pid=$(session_pid 2)
	[ "$(session_status "$pid")" = 0 ]
	syslog_wait "pop3d\[$pid\]: peer=.*TLS handshake failed"
}

@test "garbage after STLS instead of a ClientHello ends the session cleanly with a syslog line" {
	syslog_start
	tls_launch --tls-cert "$CERT" --tls-key "$KEY"
	tclient <<-EOF
	STLS
	!send CAPA\r\n
	!eof 20
	EOF
	[[ $output == *$'+OK begin TLS negotiation\n'* ]]
	[[ $output != *"capability"* ]]
	[[ $output == *"[eof]"* ]]
	pid=$(session_pid 1)
	[ "$(session_status "$pid")" = 0 ]
	syslog_wait "pop3d\[$pid\]: peer=.*TLS handshake failed"
	syslog_wait "pop3d\[$pid\]: session end: .*end=TLS handshake failed"
}

@test "a client that closes mid-handshake leaves no pop3d behind (--tls and STLS)" {
	syslog_start
	tls_launch --tls --tls-cert "$CERT" --tls-key "$KEY"
	tclient --no-greeting <<-EOF
	!hello 40
	!sleep 0.3
	!hangup
	EOF
	pid=$(session_pid 1)
	wait_gone "$pid" 10
	[ "$(session_status "$pid")" = 0 ]
	syslog_wait "pop3d\[$pid\]: .*closed the connection during the TLS handshake"
	tls_stop
	tls_launch --tls-cert "$CERT" --tls-key "$KEY"
	tclient <<-EOF
	STLS
	!hello 40
	!sleep 0.3
	!hangup
	EOF
	pid=$(session_pid 1)
	wait_gone "$pid" 10
	[ "$(session_status "$pid")" = 0 ]
	syslog_wait "pop3d\[$pid\]: .*closed the connection during the TLS handshake"
	# and one that closes right after "+OK begin TLS negotiation"
	tclient <<-EOF
	STLS
	!hangup
	EOF
	pid=$(session_pid 2)
	wait_gone "$pid" 10
	[ "$(session_status "$pid")" = 0 ]
}

@test "a client that stalls mid-handshake is dropped by --timeout 2 (--tls and STLS)" {
	syslog_start
	tls_launch --tls --timeout 2 --tls-cert "$CERT" --tls-key "$KEY"
	start=$SECONDS
	tclient --no-greeting <<-EOF
	!hello 40
	!eof 30
	EOF
	[[ $output == *"[eof]"* ]]
	pid=$(session_pid 1)
	wait_gone "$pid" 10
	elapsed=$((SECONDS - start))
	echo "elapsed $elapsed s"
	[ "$elapsed" -ge 1 ] && [ "$elapsed" -le 15 ]
	[ "$(session_status "$pid")" = 0 ]
	syslog_wait "pop3d\[$pid\]: .*TLS handshake timed out"
	# nothing at all instead of a ClientHello
	tclient --no-greeting <<-EOF
	!eof 30
	EOF
	[[ $output == *"[eof]"* ]]
	wait_gone "$(session_pid 2)" 10
	# a byte every 0.5 s: the bound is for the whole handshake, not per
	# read (40 bytes would take 20 s)
	start=$SECONDS
	tclient --no-greeting <<-EOF
	!dribble 40 0.5
	!eof 30
	EOF
	[[ $output == *"[eof]"* ]]
	pid=$(session_pid 3)
	wait_gone "$pid" 10
	echo "elapsed $((SECONDS - start)) s"
	[ $((SECONDS - start)) -le 12 ]
	syslog_wait "pop3d\\[$pid\\]: .*TLS handshake timed out"
	tls_stop
	tls_launch --timeout 2 --tls-cert "$CERT" --tls-key "$KEY"
	start=$SECONDS
	tclient <<-EOF
	STLS
	!hello 40
	!eof 30
	EOF
	[[ $output == *"[eof]"* ]]
	pid=$(session_pid 1)
	wait_gone "$pid" 10
	elapsed=$((SECONDS - start))
	[ "$elapsed" -le 15 ]
	syslog_wait "pop3d\[$pid\]: .*TLS handshake timed out"
}

@test "after a handshake, an idle TLS client is logged out by the autologout timer" {
	tls_launch --tls --timeout 2 --tls-cert "$CERT" --tls-key "$KEY"
	tclient --tls <<-EOF
	!eof 30
	EOF
	expected="[tls TLSv1.3]
+OK pop3d ready
-ERR autologout: idle for too long
[eof]"
	[ "$output" = "$expected" ]
	wait_gone "$(session_pid 1)" 10
}

# ---------------------------------------------------------------- #
# Over TLS: pipelining, big messages                               #

@test "pipelined commands in one TLS write all get their replies, in order" {
	mbox_make 3
	tls_launch --tls --tls-cert "$CERT" --tls-key "$KEY"
	batch="USER alice\r\nPASS secret\r\n"
	for i in $(seq 60); do
		batch="${batch}LIST $((i % 3 + 1))\r\nNOOP\r\n"
	done
	tclient --tls <<-EOF
	!send ${batch}QUIT\r\n
	!eof 30
	EOF
	[ "$(grep -c '^+OK [123] 52$' <<< "$output")" -eq 60 ]
	[ "$(grep -c '^+OK$' <<< "$output")" -eq 60 ]
	[[ $output == *$'+OK pop3d signing off (0 messages deleted, 3 left)\n[eof]' ]]
}

@test "a reply is not held back by TLS bytes that hold no complete command (part of the next record)" {
	mbox_make 1
	tls_launch --tls --timeout 5 --tls-cert "$CERT" --tls-key "$KEY"
	# the NOOP record arrives with the first 5 bytes of the STAT record;
	# the client sends the rest only after NOOP's reply (a TLS 1.3
	# KeyUpdate arriving with a command has the same effect)
	tclient --tls <<-EOF
	$LOGIN
	!split NOOP|STAT
	QUIT
	EOF
	expected="[tls TLSv1.3]
+OK pop3d ready
+OK send PASS
+OK alice has 1 messages (52 octets)
+OK
+OK 1 52
+OK pop3d signing off (0 messages deleted, 1 left)
[eof]"
	[ "$output" = "$expected" ]
}

@test "a 1 MB message over TLS arrives byte for byte (s_client and poplib)" {
	mbox_big "$MBOX" 1024
	mbox_message "$MBOX" 1 > "$BATS_TEST_TMPDIR/big"
	tls_launch --tls-cert "$CERT" --tls-key "$KEY"
	sclient stls <<-EOF
	$LOGIN
	RETR 1
	QUIT
	EOF
	[ "$status" -eq 0 ]
	retr_body > "$BATS_TEST_TMPDIR/got"
	cmp "$BATS_TEST_TMPDIR/big" "$BATS_TEST_TMPDIR/got"
	run timeout 60 python3 "$TESTS/lib/poplib-tls.py" stls "$PORT" "$CERT" \
	    "$BATS_TEST_TMPDIR/poplib"
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/big" "$BATS_TEST_TMPDIR/poplib/1"
	[ ! -s "$MBOX" ]
}

@test "a slow TLS reader (small receive buffer, late reads) gets a 1 MB RETR whole" {
	mbox_big "$MBOX" 1024
	mbox_message "$MBOX" 1 > "$BATS_TEST_TMPDIR/big"
	tls_launch --tls --tls-cert "$CERT" --tls-key "$KEY"
	tclient --tls --rcvbuf 4096 <<-EOF
	$LOGIN
	!send RETR 1\r\n
	!sleep 1
	!reply RETR 1
	QUIT
	EOF
	retr_body > "$BATS_TEST_TMPDIR/got"
	cmp "$BATS_TEST_TMPDIR/big" "$BATS_TEST_TMPDIR/got"
	[[ $output == *$'\n.\n+OK pop3d signing off (0 messages deleted, 1 left)\n[eof]' ]]
	[ "$(session_status "$(session_pid 1)")" = 0 ]
}

@test "a TLS client that stops reading mid-RETR is dropped by --timeout 2 and nothing is deleted" {
	syslog_start
	# more than the kernel buffers hold (net.ipv4.tcp_wmem: 4 MB at most)
	mbox_big "$MBOX" 6144
	mbox_add "second"
	cp "$MBOX" "$BATS_TEST_TMPDIR/before"
	tls_launch --tls --timeout 2 --tls-cert "$CERT" --tls-key "$KEY"
	start=$SECONDS
	tclient --tls --rcvbuf 4096 <<-EOF
	$LOGIN
	DELE 2
	!send RETR 1\r\n
	!sleep 6
	!eof 30
	EOF
	[[ $output == *"[eof]"* ]]
	# cut off: less than the message arrived, and no final "."
	[ ${#output} -lt $((6 * 1024 * 1024)) ]
	[[ $output != *$'\n.\n'* ]]
	pid=$(session_pid 1)
	wait_gone "$pid" 10
	echo "elapsed $((SECONDS - start)) s"
	[ $((SECONDS - start)) -le 20 ]
	syslog_wait "pop3d\\[$pid\\]: session end: user=alice .*dele=0/"
	cmp "$MBOX" "$BATS_TEST_TMPDIR/before"
}

@test "a TLS client that goes away mid-RETR ends the session; nothing is deleted, no pop3d is left" {
	syslog_start
	mbox_big "$MBOX" 6144	# more than the kernel buffers hold
	mbox_add "second"
	cp "$MBOX" "$BATS_TEST_TMPDIR/before"
	tls_launch --tls --tls-cert "$CERT" --tls-key "$KEY"
	tclient --tls --rcvbuf 4096 <<-EOF
	$LOGIN
	DELE 2
	!send RETR 1\r\n
	!readbytes 20000
	!hangup
	EOF
	pid=$(session_pid 1)
	wait_gone "$pid" 10
	[ "$(session_status "$pid")" = 0 ]
	syslog_wait "pop3d\[$pid\]: session end: user=alice .*dele=0/.*end=client went away"
	cmp "$MBOX" "$BATS_TEST_TMPDIR/before"
}

@test "a TLS close_notify instead of QUIT ends the session cleanly and deletes nothing" {
	syslog_start
	mbox_make 2
	cp "$MBOX" "$BATS_TEST_TMPDIR/before"
	tls_launch --tls-cert "$CERT" --tls-key "$KEY"
	tclient <<-EOF
	!stls
	$LOGIN
	DELE 1
	!close-notify
	!eof 20
	EOF
	[[ $output == *$'+OK message 1 deleted\n[close_notify sent]\n[eof]'* ]]
	pid=$(session_pid 1)
	wait_gone "$pid" 10
	[ "$(session_status "$pid")" = 0 ]
	syslog_wait "pop3d\[$pid\]: session end: user=alice .*dele=0/.*end=eof"
	cmp "$MBOX" "$BATS_TEST_TMPDIR/before"
}

# ---------------------------------------------------------------- #
# Real clients over TLS: fetch, compare with the mbox, delete      #

# fetched_all ORIG DIR N: DIR holds messages 1..N of mbox ORIG (found by
# Message-ID, line ends normalised), byte for byte.
fetched_all() {
	local n f
	for ((n = 1; n <= $3; n++)); do
		f=$(grep -l "^Message-ID: <m$n@example.org>" -r "$2" | head -1)
		[ -n "$f" ] || { echo "message $n not fetched into $2" >&2; return 1; }
		mbox_message "$1" "$n" > "$BATS_TEST_TMPDIR/want"
		tr -d '\r' < "$f" > "$BATS_TEST_TMPDIR/got"
		cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got" || return 1
	done
	[ "$(grep -rl '^Message-ID: ' "$2" | wc -l)" -eq "$3" ]
}

@test "curl over pop3s:// and over pop3:// with --ssl-reqd (STLS) fetches and deletes mail" {
	mbox_fixture "$MBOX" 4
	cp "$MBOX" "$BATS_TEST_TMPDIR/orig"
	tls_launch --tls-cert "$CERT" --tls-key "$KEY"
	out=$BATS_TEST_TMPDIR/curl
	mkdir -p "$out"
	# curl checks the certificate against --cacert for "localhost"
	c=(timeout 60 curl -sS --cacert "$CERT" -u alice:secret
	    --resolve "localhost:$PORT:127.0.0.1")
	run "${c[@]}" --ssl-reqd "pop3://localhost:$PORT/1" -o "$out/1" \
	    "pop3://localhost:$PORT/2" -o "$out/2"
	[ "$status" -eq 0 ]
	run "${c[@]}" --ssl-reqd -X DELE -I "pop3://localhost:$PORT/1" \
	    "pop3://localhost:$PORT/2"
	[ "$status" -eq 0 ]
	fetched_all "$BATS_TEST_TMPDIR/orig" "$out" 2
	run grep -c '^From ' "$MBOX"
	[ "$output" = 2 ]
	# and no certificate trust, no session: verification is on
	run timeout 60 curl -sS -u alice:secret --ssl-reqd \
	    "pop3://localhost:$PORT/1" --resolve "localhost:$PORT:127.0.0.1"
	[ "$status" -eq 60 ]
	tls_stop
	tls_launch --tls --tls-cert "$CERT" --tls-key "$KEY"
	c=(timeout 60 curl -sS --cacert "$CERT" -u alice:secret
	    --resolve "localhost:$PORT:127.0.0.1")
	# what is left is now messages 1 and 2 (formerly 3 and 4)
	run "${c[@]}" "pop3s://localhost:$PORT/1" -o "$out/3" \
	    "pop3s://localhost:$PORT/2" -o "$out/4"
	[ "$status" -eq 0 ]
	run "${c[@]}" -X DELE -I "pop3s://localhost:$PORT/1" \
	    "pop3s://localhost:$PORT/2"
	[ "$status" -eq 0 ]
	fetched_all "$BATS_TEST_TMPDIR/orig" "$out" 4
	[ ! -s "$MBOX" ]
}

@test "python poplib with POP3_SSL and with stls() fetches and deletes mail" {
	mbox_fixture "$MBOX" 3
	cp "$MBOX" "$BATS_TEST_TMPDIR/orig"
	tls_launch --tls-cert "$CERT" --tls-key "$KEY"
	run timeout 60 python3 "$TESTS/lib/poplib-tls.py" stls "$PORT" "$CERT" \
	    "$BATS_TEST_TMPDIR/stls"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "+OK begin TLS negotiation" ]
	[[ ${lines[1]} == "STAT 3 "* ]]
	fetched_all "$BATS_TEST_TMPDIR/orig" "$BATS_TEST_TMPDIR/stls" 3
	[ ! -s "$MBOX" ]
	mbox_fixture "$MBOX" 3
	tls_stop
	tls_launch --tls --tls-cert "$CERT" --tls-key "$KEY"
	run timeout 60 python3 "$TESTS/lib/poplib-tls.py" ssl "$PORT" "$CERT" \
	    "$BATS_TEST_TMPDIR/ssl"
	[ "$status" -eq 0 ]
	fetched_all "$BATS_TEST_TMPDIR/orig" "$BATS_TEST_TMPDIR/ssl" 3
	[ ! -s "$MBOX" ]
}

# mpop_run DIR MODE: mpop (GnuTLS) fetches into maildir DIR/md and
# deletes; MODE starttls or tls.  The certificate is trusted through
# tls_trust_file only.
mpop_run() {
	local dir=$1 starttls=off
	[ "$2" = starttls ] && starttls=on
	mkdir -p "$dir/md/new" "$dir/md/cur" "$dir/md/tmp"
	cat > "$dir/rc" <<-EOF
	account test
	host 127.0.0.1
	tls_host_override localhost
	port $PORT
	timeout 60
	tls on
	tls_starttls $starttls
	tls_trust_file $CERT
	user alice
	password $PASSWORD
	delivery maildir $dir/md
	received_header off
	keep off
	uidls_file $dir/uidls
	EOF
	chmod 600 "$dir/rc"
	run timeout 120 mpop -C "$dir/rc" -a
}

@test "mpop with tls_starttls on and off fetches and deletes mail" {
	mbox_fixture "$MBOX" 3
	cp "$MBOX" "$BATS_TEST_TMPDIR/orig"
	tls_launch --tls-cert "$CERT" --tls-key "$KEY"
	mpop_run "$BATS_TEST_TMPDIR/starttls" starttls
	echo "$output"
	[ "$status" -eq 0 ]
	fetched_all "$BATS_TEST_TMPDIR/orig" "$BATS_TEST_TMPDIR/starttls/md" 3
	[ ! -s "$MBOX" ]
	mbox_fixture "$MBOX" 3
	tls_stop
	tls_launch --tls --tls-cert "$CERT" --tls-key "$KEY"
	mpop_run "$BATS_TEST_TMPDIR/tls" tls
	echo "$output"
	[ "$status" -eq 0 ]
	fetched_all "$BATS_TEST_TMPDIR/orig" "$BATS_TEST_TMPDIR/tls/md" 3
	[ ! -s "$MBOX" ]
}

# ---------------------------------------------------------------- #
# SNI, ALPN, renewed certificates                                  #

# mkcert NAME SAN: a self-signed certificate $T/NAME.pem, key $T/NAME.key
mkcert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$BATS_TEST_TMPDIR/$1.key" -out "$BATS_TEST_TMPDIR/$1.pem" \
	    -days 2 -subj "/CN=$1" -addext "subjectAltName=$2" 2>/dev/null
	chmod 644 "$BATS_TEST_TMPDIR/$1.key"
}

# served_cn [s_client options]: the CN of the certificate pop3d sends
# with --tls on $PORT, or "refused" if the handshake fails
served_cn() {
	local out
	out=$(echo QUIT | timeout 20 openssl s_client -connect "127.0.0.1:$PORT" \
	    -ign_eof "$@" 2>&1) || { echo refused; return 0; }
	[[ $out == *"+OK pop3d signing off"* ]] || { echo refused; return 0; }
	sed -n 's/^subject=.*CN *= *\([^,/]*\).*/\1/p' <<< "$out"
}

@test "SNI: --tls-cert/--tls-key pairs, each name gets its certificate (a SAN name, a wildcard), an unknown name and no name the first pair" {
	mkcert mail.example.org DNS:mail.example.org
	mkcert wild.example.net 'DNS:*.example.net'
	local d=$BATS_TEST_TMPDIR
	tls_launch --tls --tls-cert "$CERT" --tls-key "$KEY" \
	    --tls-cert "$d/mail.example.org.pem" --tls-key "$d/mail.example.org.key" \
	    --tls-cert "$d/wild.example.net.pem" --tls-key "$d/wild.example.net.key"
	[ "$(served_cn -servername mail.example.org)" = mail.example.org ]
	[ "$(served_cn -servername pop.example.net)" = wild.example.net ]
	[ "$(served_cn -servername unknown.example.com)" = localhost ]
	[ "$(served_cn -noservername)" = localhost ]
	# the wildcard covers one label only (X509_check_host)
	[ "$(served_cn -servername a.b.example.net)" = localhost ]
}

@test "ALPN: -alpn pop3 is accepted and selected, no ALPN works, -alpn imap is refused in the handshake (no_application_protocol)" {
	tls_launch --tls --tls-cert "$CERT" --tls-key "$KEY"
	run sh -c "echo QUIT | timeout 20 openssl s_client -connect 127.0.0.1:$PORT -ign_eof -alpn pop3 2>&1"
	[[ $output == *"ALPN protocol: pop3"* ]]
	[[ $output == *"+OK pop3d signing off"* ]]
	[ "$(served_cn)" = localhost ]
	run sh -c "echo QUIT | timeout 20 openssl s_client -connect 127.0.0.1:$PORT -ign_eof -alpn imap,pop3s 2>&1"
	[[ $output != *"+OK pop3d"* ]]
	[[ $output == *"no application protocol"* ]] || { echo "$output" >&2; return 1; }
	# imap alone
	run sh -c "echo QUIT | timeout 20 openssl s_client -connect 127.0.0.1:$PORT -ign_eof -alpn imap 2>&1"
	[[ $output == *"no application protocol"* ]]
}

@test "a certificate replaced by rename is used by the next connection, with no reload" {
	mkcert old.example.org DNS:old.example.org
	mkcert new.example.org DNS:new.example.org
	local d=$BATS_TEST_TMPDIR
	cp "$d/old.example.org.pem" "$d/live.pem"
	cp "$d/old.example.org.key" "$d/live.key"
	tls_launch --tls --tls-cert "$d/live.pem" --tls-key "$d/live.key"
	[ "$(served_cn)" = old.example.org ]
	# as certbot or an ACME client does: new files renamed over the old
	cp "$d/new.example.org.key" "$d/live.key.tmp"
	cp "$d/new.example.org.pem" "$d/live.pem.tmp"
	mv "$d/live.key.tmp" "$d/live.key"
	mv "$d/live.pem.tmp" "$d/live.pem"
	[ "$(served_cn)" = new.example.org ]
}
