#!/usr/bin/env bats
# APOP (RFC 1939 section 7) with a --apop secrets file, and AUTH PLAIN
# (RFC 5034, RFC 4616); passwords kept out of syslog.

load lib/helper
load lib/accounts

setup() {
	setup_maildrop
	APOP=$BATS_TEST_TMPDIR/apop
	printf 'alice:apop secret of alice\nbob:bob-apop\n' > "$APOP"
	chmod 600 "$APOP"
	# bob has an APOP secret but no account
	printf 'carol:%s:5000:5000:Carol:%s:/bin/sh\n' \
	    "$(auth_hash '$6$' carolpw)" "$BATS_TEST_TMPDIR" >> "$PASSWD"
}

teardown() {
	auth_teardown
}

# apop [pop3d options] <<< script: a session through the client (lib/pop3.bash)
# with --passwd and --apop.
apop() {
	client -- "${LOGWRAP[@]}" "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0 \
	    -a "$APOP" "$@"
}

GREETING_TS='^\+OK pop3d ready <([0-9]+)\.([0-9a-f]{16})@([^>]+)>$'

# ---------------------------------------------------------------------
# APOP

@test "without --apop the greeting has no timestamp and APOP is not available" {
	pop3 <<-EOF
	APOP alice 0123456789abcdef0123456789abcdef
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "+OK pop3d ready" ]
	[ "${lines[1]}" = "-ERR APOP is not available" ]
}

@test "--apop: the greeting carries <pid.random@host>, with pop3d's pid, fresh in each connection" {
	local first pid
	apop <<-EOF
	!sh echo \$P3A_PID > '$BATS_TEST_TMPDIR/pid'
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ $GREETING_TS ]]
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	[ "${BASH_REMATCH[1]}" = "$pid" ]
	[ "${BASH_REMATCH[3]}" = "$(uname -n)" ]
	first=${BASH_REMATCH[2]}
	apop <<-EOF
	QUIT
	EOF
	[[ "${lines[0]}" =~ $GREETING_TS ]]
	[ "${BASH_REMATCH[2]}" != "$first" ]
	[ "${BASH_REMATCH[2]}" != 0000000000000000 ]
}

@test "APOP: the right digest logs in; the digest of another timestamp does not" {
	mbox_make 1
	apop <<-EOF
	APOP alice {APOP:apop secret of alice}
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "+OK alice has 1 messages (52 octets)" ]
	[ "${lines[2]}" = "+OK 1 52" ]
	# replaying a digest made for an old timestamp
	local ts old
	[[ "${lines[0]}" =~ $GREETING_TS ]]
	ts="<${BASH_REMATCH[1]}.${BASH_REMATCH[2]}@${BASH_REMATCH[3]}>"
	old=$(printf '%s%s' "$ts" "apop secret of alice" | md5sum | cut -c1-32)
	apop <<-EOF
	APOP alice $old
	QUIT
	EOF
	[ "${lines[1]}" = "$AUTH_FAIL_REPLY" ]
}

@test "APOP: wrong secret, unknown user, no secret, no account, bad digest all fail with the same reply" {
	local script
	for script in "APOP alice {APOP:apop secret of alicE}" \
	    "APOP nobody {APOP:apop secret of alice}" \
	    "APOP carol {APOP:carolpw}" \
	    "APOP bob {APOP:bob-apop}" \
	    "APOP alice {APOP:apop secret of alice}0" \
	    "APOP alice xyz" \
	    "APOP alice 0123456789abcdef0123456789abcdeg" \
	    "APOP ../alice {APOP:apop secret of alice}"; do
		apop <<< "$script"
		[ "$status" -eq 0 ]
		[[ "${lines[0]}" =~ $GREETING_TS ]]
		[ "${lines[1]}" = "$AUTH_FAIL_REPLY" ]
	done
}

@test "APOP: a user with an empty secret in the file never logs in" {
	printf 'alice:\n' > "$APOP"
	apop <<-EOF
	APOP alice {APOP:}
	QUIT
	EOF
	[[ "${lines[0]}" =~ $GREETING_TS ]]
	[ "${lines[1]}" = "$AUTH_FAIL_REPLY" ]
}

@test "APOP: a locked --passwd account fails even with the right digest" {
	sed -i 's/^alice:/alice:!/' "$PASSWD"
	apop <<-EOF
	APOP alice {APOP:apop secret of alice}
	QUIT
	EOF
	[ "${lines[1]}" = "$AUTH_FAIL_REPLY" ]
}

@test "APOP: a system account with a secret logs in (system accounts, no --passwd)" {
	local name
	name=$(auth_name apop)
	auth_user "$name"
	auth_password "$name" YESCRYPT "pw-$name"
	auth_spool
	printf '%s:sys-secret\n' "$name" > "$APOP"
	client -- "$POP3D" -m "$SPOOL/%u" -d 0 -a "$APOP" <<-EOF
	APOP $name {APOP:sys-secret}
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "+OK $name has 0 messages (0 octets)" ]
}

# refused_apop_file: the file is refused (syslog), no timestamp, no APOP
refused_apop_file() {
	syslog_start
	apop <<-EOF
	APOP alice {APOP:apop secret of alice}
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "+OK pop3d ready" ]
	[ "${lines[1]}" = "-ERR APOP is not available" ]
	syslog_wait "$APOP must be a file owned by root with no group or other access; APOP disabled"
	syslog_stop
}

@test "--apop: a group-readable (0640) secrets file is refused" {
	chmod 640 "$APOP"
	refused_apop_file
}

@test "--apop: a world-readable (0604) secrets file is refused" {
	chmod 604 "$APOP"
	refused_apop_file
}

@test "--apop: a secrets file not owned by root is refused; root's 0400 is fine" {
	chown "$TEST_UID" "$APOP"
	refused_apop_file
	chown root "$APOP"
	chmod 400 "$APOP"
	apop <<-EOF
	APOP alice {APOP:apop secret of alice}
	QUIT
	EOF
	[[ "${lines[0]}" =~ $GREETING_TS ]]
	[ "${lines[1]}" = "+OK alice has 0 messages (0 octets)" ]
}

@test "--apop: an unreadable (missing) secrets file is exit 2 at start" {
	rm -f "$APOP"
	apop <<-EOF
	QUIT
	EOF
	[ "$status" -eq 2 ]
	[ "$output" = "-ERR [SYS/TEMP] server configuration error" ]
	run "$POP3D" -p "$PASSWD" -a "$APOP" --check-user alice
	[ "$status" -eq 2 ]
	[[ "$output" == "pop3d: cannot read --apop file $APOP: No such file or directory" ]]
}

# ---------------------------------------------------------------------
# AUTH PLAIN

@test "CAPA lists USER and SASL PLAIN; AUTH without a mechanism lists PLAIN" {
	pop3 <<-EOF
	CAPA
	AUTH
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ "$output" == *$'\nUSER\n'* ]]
	[[ "$output" == *$'\nSASL PLAIN\n'* ]]
	[[ "$output" == *$'\n.\n+OK\nPLAIN\n.\n+OK pop3d signing off' ]]
}

@test "AUTH PLAIN with an initial response logs in" {
	pop3 <<-EOF
	AUTH PLAIN $(printf '\0alice\0%s' "$PASSWORD" | base64 -w0)
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "+OK alice has 0 messages (0 octets)" ]
}

@test "AUTH PLAIN after a \"+ \" continuation logs in" {
	pop3 --raw <<-EOF
	AUTH PLAIN
	$(printf '\0alice\0%s' "$PASSWORD" | base64 -w0)
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = $'+ \r' ]
	[ "${lines[2]}" = $'+OK alice has 0 messages (0 octets)\r' ]
}

@test "AUTH PLAIN: \"*\" cancels with -ERR and the session goes on" {
	pop3 <<-EOF
	AUTH PLAIN
	*
	AUTH PLAIN
	*
	AUTH PLAIN
	*
	AUTH PLAIN $(printf '\0alice\0%s' "$PASSWORD" | base64 -w0)
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "+ " ]
	[ "${lines[2]}" = "-ERR authentication cancelled" ]
	[ "${lines[6]}" = "-ERR authentication cancelled" ]
	[ "${lines[7]}" = "+OK alice has 0 messages (0 octets)" ]
}

@test "AUTH PLAIN: bad base64, a missing NUL, or an empty response fail with [AUTH]" {
	local resp
	for resp in '!!!!' 'YWxpY2U' 'AGFsaWNl===' \
	    "$(printf 'alice\0%s' "$PASSWORD" | base64 -w0)" \
	    "$(printf '\0alice\0%s\0' "$PASSWORD" | base64 -w0)" '='; do
		pop3 <<-EOF
		AUTH PLAIN $resp
		QUIT
		EOF
		[ "$status" -eq 0 ]
		[ "${lines[1]}" = "$AUTH_FAIL_REPLY" ]
	done
	pop3 <<-EOF
	AUTH PLAIN
	@@@@
	QUIT
	EOF
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
}

@test "AUTH PLAIN: authzid equal to the user works, a different authzid fails" {
	pop3 <<-EOF
	AUTH PLAIN $(printf 'carol\0alice\0%s' "$PASSWORD" | base64 -w0)
	AUTH PLAIN $(printf 'alice\0alice\0%s' "$PASSWORD" | base64 -w0)
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$AUTH_FAIL_REPLY" ]
	[ "${lines[2]}" = "+OK alice has 0 messages (0 octets)" ]
}

@test "AUTH PLAIN: a wrong password or unknown user fails; a system account logs in" {
	local name
	pop3 <<-EOF
	AUTH PLAIN $(printf '\0alice\0wrong' | base64 -w0)
	AUTH PLAIN $(printf '\0nobody\0%s' "$PASSWORD" | base64 -w0)
	QUIT
	EOF
	[ "${lines[1]}" = "$AUTH_FAIL_REPLY" ]
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	name=$(auth_name plain)
	auth_user "$name"
	auth_password "$name" BCRYPT "pw $name"
	auth_spool
	sysacct <<-EOF
	AUTH PLAIN $(printf '\0%s\0pw %s' "$name" "$name" | base64 -w0)
	QUIT
	EOF
	[ "${lines[1]}" = "+OK $name has 0 messages (0 octets)" ]
}

@test "USER/PASS, APOP and AUTH PLAIN failures add up: the third ends the connection" {
	apop <<-EOF
	USER alice
	PASS wrong
	APOP alice {APOP:wrong}
	AUTH PLAIN $(printf '\0alice\0wrong' | base64 -w0)
	APOP alice {APOP:apop secret of alice}
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	[ "${lines[3]}" = "$AUTH_FAIL_REPLY" ]
	[ "${lines[4]}" = "$AUTH_FAIL_REPLY; too many failures, closing" ]
	[ "${#lines[@]}" -eq 5 ]
}

# ---------------------------------------------------------------------
# Syslog

@test "passwords, their base64 and APOP secrets never reach syslog (USER/PASS, AUTH PLAIN, APOP; good and bad)" {
	local good=Good-Pass-7Qx bad=Bad-Pass-9Zy apopgood=Apop-Secret-4Kw
	local apopbad=Apop-Wrong-2Jv h plain_good plain_bad
	h=$(auth_hash '$6$' "$good")
	printf 'dora:%s:5000:5000:Dora:%s:/bin/sh\n' "$h" "$BATS_TEST_TMPDIR" \
	    >> "$PASSWD"
	printf 'dora:%s\n' "$apopgood" > "$APOP"
	plain_good=$(printf '\0dora\0%s' "$good" | base64 -w0)
	plain_bad=$(printf '\0dora\0%s' "$bad" | base64 -w0)
	syslog_start
	apop <<-EOF
	USER dora
	PASS $bad
	USER dora
	PASS $good
	QUIT
	EOF
	[ "${lines[4]}" = "+OK dora has 0 messages (0 octets)" ]
	apop <<-EOF
	AUTH PLAIN $plain_bad
	AUTH PLAIN
	$plain_bad
	AUTH PLAIN $plain_good
	QUIT
	EOF
	[ "${lines[2]}" = "+ " ]
	[ "${lines[4]}" = "+OK dora has 0 messages (0 octets)" ]
	apop <<-EOF
	APOP dora {APOP:$apopbad}
	APOP dora {APOP:$apopgood}
	QUIT
	EOF
	[ "${lines[2]}" = "+OK dora has 0 messages (0 octets)" ]
	syslog_wait "session end: .*user=dora"
	syslog_wait "authentication failed: user=dora .*method=APOP"
	syslog_wait "authentication failed: user=\(sasl\) .*method=PLAIN"
	local s
	for s in "$good" "$bad" "$apopgood" "$apopbad" "$plain_good" \
	    "$plain_bad" "$(printf %s "$good" | base64 -w0)" \
	    "$(printf %s "$bad" | base64 -w0)"; do
		! grep -qF -- "$s" "$SYSLOG_FILE" || {
			echo "syslog holds $s:" >&2
			grep -F -- "$s" "$SYSLOG_FILE" >&2
			false
		}
	done
}
