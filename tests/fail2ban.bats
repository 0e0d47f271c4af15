#!/usr/bin/env bats
# The shipped fail2ban filter and jails (fail2ban/, README "Brute force")
# against pop3d's real syslog: fail2ban-regex matches exactly the failed
# logins, and a real fail2ban-server bans the address that keeps failing.

load lib/helper
load lib/accounts
load lib/clients

FILTER=$TESTS/../fail2ban/filter.d/pop3d.conf
JAILS=$TESTS/../fail2ban/jail.d/pop3d.conf

setup() {
	setup_maildrop
	mbox_make 1
	APOP=$BATS_TEST_TMPDIR/apop
	printf 'alice:apop secret of alice\n' > "$APOP"
	chmod 600 "$APOP"
	T=$BATS_TEST_TMPDIR
}

teardown() {
	launch_stop_all
	[ -z "${F2B_DIR:-}" ] || stop_pidfile "$F2B_DIR/fail2ban.pid"
	syslog_stop
}

# as PEER: a session through the client (lib/pop3.bash), the client at PEER as a
# launcher reports it (REMOTE_HOST, as stunnel sets it)
as() {
	local peer=$1
	shift
	REMOTE_HOST=$peer client -- "${LOGWRAP[@]}" "$POP3D" -p "$PASSWD" \
	    -m "$SPOOL/%u" -d 0 --penalty-dir="$T/penalty" -a "$APOP"
}

# Every way a login fails, every way it succeeds, and other lines.
sessions() {
	as 192.0.2.10 <<-EOF
	USER alice
	PASS wrong
	USER nosuchuser
	PASS secret
	QUIT
	EOF
	as 192.0.2.10 <<-EOF
	USER alice
	PASS $PASSWORD
	STAT
	QUIT
	EOF
	as 2001:db8::10 <<-EOF
	APOP alice {APOP:not the secret}
	APOP alice {APOP:apop secret of alice}
	RETR 1
	QUIT
	EOF
	as 198.51.100.20 <<-EOF
	AUTH PLAIN {B64:\\0alice\\0wrong}
	AUTH PLAIN {B64:\\0alice\\0$PASSWORD}
	QUIT
	EOF
	# a name that pretends to be the rest of the line
	as 203.0.113.30 <<-EOF
	AUTH PLAIN {B64:\\0x peer=198.18.0.66 method=USER\\0wrong}
	USER é-peer=198.18.0.67
	PASS wrong
	!send USER z\\x01z\\r\\n
	!read
	PASS wrong
	NOOP
	QUIT
	EOF
	# no address to ban: a unix socket peer is logged as "unix"
	client -- "${LOGWRAP[@]}" "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0 \
	    <<-EOF
	USER alice
	PASS wrong
	QUIT
	EOF
}

# the address at the end of each failed-login line, as pop3d wrote it
failed_peers() {
	sed -n 's/.*pop3d\[[0-9]*\]: authentication failed: user=.* peer=\([0-9a-f.:]*\) method=[A-Z]*$/\1/p' "$1"
}

@test "fail2ban-regex: the shipped filter matches every failed login (USER, APOP, AUTH PLAIN, unknown user, a name posing as a peer) and no other line" {
	syslog_start --mail-log
	sessions
	syslog_wait 'session end: user=- peer=unix '
	local log=$SYSLOG_FILE total failed
	total=$(wc -l < "$log")
	failed=$(failed_peers "$log" | wc -l)
	# USER x2, APOP, PLAIN, the two posing names; a control character
	[ "$failed" -eq 6 ] || { cat "$log" >&2; return 1; }
	[ "$total" -gt $((failed + 8)) ]
	grep -q 'authentication failed: .* peer=unix method=USER$' "$log"
	run fail2ban-regex -o ip "$log" "$FILTER"
	[ "$status" -eq 0 ]
	[ "$output" = "$(failed_peers "$log")" ] ||
	    { echo "$output"; cat "$log"; } >&2
	[ "$output" = "$(failed_peers "$log")" ]
	[[ $output != *198.18.0.6* ]]
	run fail2ban-regex "$log" "$FILTER"
	[[ $output == *"Lines: $total lines, 0 ignored, $failed matched, $((total - failed)) missed"* ]] ||
	    { echo "$output" >&2; return 1; }
}

# session_from SRC PORT PASSWORD: one USER/PASS login over TCP from the
# source address SRC to 127.0.0.1:PORT; prints the PASS reply.
session_from() {
	printf 'USER alice\nPASS %s\nQUIT\n' "$3" |
	    python3 "$POP3CLIENT" tcp --source "$1" "$2" | sed -n 3p
}

# A fail2ban configuration of its own in $F2B_DIR: the shipped filter
# and jails, the file jail pointed at LOG, and an action that records
# bans in $F2B_DIR/bans instead of touching the firewall.
f2b_config() {
	F2B_DIR=$T/f2b
	mkdir -p "$F2B_DIR/filter.d" "$F2B_DIR/jail.d" "$F2B_DIR/action.d"
	cp "$FILTER" "$F2B_DIR/filter.d/"
	cp "$JAILS" "$F2B_DIR/jail.d/"
	: > "$F2B_DIR/bans"
	cat > "$F2B_DIR/fail2ban.conf" <<-EOF
	[Definition]
	loglevel = INFO
	logtarget = $F2B_DIR/fail2ban.log
	socket = $F2B_DIR/fail2ban.sock
	pidfile = $F2B_DIR/fail2ban.pid
	dbfile = :memory:
	EOF
	cat > "$F2B_DIR/action.d/record.conf" <<-EOF
	[Definition]
	actionstart =
	actionstop =
	actioncheck =
	actionban = echo <ip> >> $F2B_DIR/bans
	actionunban =
	EOF
	printf '[DEFAULT]\n' > "$F2B_DIR/jail.conf"
	cat > "$F2B_DIR/jail.local" <<-EOF
	[pop3d-mail-log]
	enabled = true
	logpath = $1
	backend = polling
	maxretry = 3
	action = record
	EOF
}

f2b() {
	fail2ban-client -c "$F2B_DIR" "$@"
}

@test "fail2ban-client reads both shipped jails (journal and mail.log) with the shipped filter" {
	f2b_config "$T/mail.log"
	: > "$T/mail.log"
	printf '[pop3d]\nenabled = true\n' >> "$F2B_DIR/jail.local"
	run f2b -d
	[ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
	[[ $output == *"'add', 'pop3d', 'systemd'"* ]]
	[[ $output == *"'add', 'pop3d-mail-log', 'polling'"* ]]
	[[ $output == *"'set', 'pop3d', 'addjournalmatch', 'SYSLOG_IDENTIFIER=pop3d'"* ]]
	[[ $output == *"'set', 'pop3d-mail-log', 'addlogpath', '$T/mail.log'"* ]]
}

@test "fail2ban-server with the shipped jail bans 127.0.0.2 after 3 failed logins, and not 127.0.0.1 after 2" {
	local port i
	syslog_start --mail-log
	f2b_config "$SYSLOG_FILE"
	port=$(free_port)
	launch_bg "$T/socat.pid" socat \
	    "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" \
	    "EXEC:$POP3D -p $PASSWD -m $SPOOL/%u -d 0 --penalty-dir=$T/penalty"
	wait_port "$port"
	run f2b -x start
	[ "$status" -eq 0 ] || { echo "$output" >&2; cat "$F2B_DIR/fail2ban.log" >&2; return 1; }
	# bounded: the server answers once its jail runs
	for ((i = 0; i < 50; i++)); do
		f2b status pop3d-mail-log >/dev/null 2>&1 && break
		sleep 0.2
	done
	run session_from 127.0.0.1 "$port" wrong
	[[ $output == "-ERR [AUTH] "* ]]
	run session_from 127.0.0.1 "$port" wrong
	run session_from 127.0.0.1 "$port" "$PASSWORD"
	[[ $output == "+OK"* ]]
	run session_from 127.0.0.2 "$port" wrong
	run session_from 127.0.0.2 "$port" wrong
	syslog_wait 'failed: user=alice peer=127.0.0.2 method=USER'
	sleep 2
	[ ! -s "$F2B_DIR/bans" ]
	run session_from 127.0.0.2 "$port" wrong
	for ((i = 0; i < 100; i++)); do
		[ -s "$F2B_DIR/bans" ] && break
		sleep 0.2
	done
	[ "$(cat "$F2B_DIR/bans")" = 127.0.0.2 ] ||
	    { cat "$F2B_DIR/bans" "$F2B_DIR/fail2ban.log" "$SYSLOG_FILE" >&2; return 1; }
	[ "$(grep -c 'failed: user=alice peer=127.0.0.1 method=USER$' \
	    "$SYSLOG_FILE")" -eq 2 ]
	run f2b status pop3d-mail-log
	[[ $output == *"Currently banned:"*1* ]]
	[[ $output == *"Banned IP list:"*127.0.0.2* ]]
	[[ $output != *"127.0.0.1"* ]]
	f2b stop >/dev/null 2>&1 || :
}
