#!/usr/bin/env bats
# pop3d under every launcher it ships an example for, each started by the
# test from that example on a loopback port (own config, log and pid file
# in the test's directory, stopped by pid): xinetd, openbsd-inetd,
# systemd socket activation, stunnel, tcpserver and socat; at least two
# real clients through each; what each launcher is known to trip over;
# and the syslog lines a sysadmin reads.  The full client matrix runs
# through xinetd in clients.bats.
#
# Raw sessions connect from 127.0.0.2, so a logged peer of 127.0.0.2
# proves the address came from the connection (or the launcher's
# variable), not a default.
#
# Packages: xinetd stunnel4 ucspi-tcp socat systemd (systemd-analyze,
# systemd-socket-activate) fetchmail mpop getmail6 curl perl
# libio-socket-ssl-perl python3 openssl strace util-linux; openbsd-inetd
# is unpacked from its .deb into /var/cache/pop3d-tests (it conflicts
# with xinetd), with its libraries (libevent-2.1-7 libwrap0 libbsd0
# libtirpc3) installed if missing.

bats_require_minimum_version 1.5.0
load lib/helper
load lib/clients

setup_file() {
	export FX=$BATS_FILE_TMPDIR/fx
	launch_fixtures "$FX"
	export SPOOL PASSWD CERT KEY BADCERT FIXTURE BASE
}

setup() {
	T=$BATS_TEST_TMPDIR
	open_path "$T"
	ARGS=$(pop3d_test_args)
}

teardown() {
	launch_stop_all
	syslog_stop
}

ran_ok() {
	if [ "$status" -ne 0 ]; then
		echo "exit status $status; output:" >&2
		printf '%s\n' "$output" | tail -20 >&2
		return 1
	fi
}

# One fetch of BASE by CLIENT in MODE through PORT, compared byte for byte.
fetch_base() {
	local c=$1 mode=$2 port=$3
	mbox_put "$c" "$BASE"
	client_run "$c" "$mode" "$port" "$c" "$PASSWORD" "$T/out-$c-$mode"
	ran_ok
	client_compare "$c" "$BASE" "$T/out-$c-$mode"
	cmp "$BASE" "$SPOOL/$c"
}

# The same bad option run by hand: exit 2, the reason on stderr, nothing
# on stdout.
by_hand_says() {
	local want=$1
	shift
	run --separate-stderr "$POP3D" "$@" < /dev/null
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[[ $stderr == "pop3d: "*"$want"* ]] ||
	    { echo "stderr: $stderr" >&2; return 1; }
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
}

# ---------------------------------------------------------------- xinetd

@test "xinetd: on a good start the client gets the greeting and nothing else (plain, STLS, pop3s)" {
	needs_tls
	local p1 p2 p3
	# xinetd silently disables a service whose server_args is empty:
	# every service of the example has some
	run grep -cE '^[[:space:]]*server_args[[:space:]]*=[[:space:]]*[^[:space:]]' \
	    "$EXAMPLES/xinetd.conf.example"
	[ "$output" -eq "$(grep -c '^service ' "$EXAMPLES/xinetd.conf.example")" ]
	p1=$(free_port) p2=$(free_port) p3=$(free_port)
	xinetd_conf "$T/xinetd.conf" "pop3-plain:t-plain:$p1:+$ARGS" \
	    "pop3:t-stls:$p2:+$ARGS" "pop3s:t-tls:$p3:+$ARGS"
	xinetd_start "$T" "$p1" "$p2" "$p3"
	greets_and_quits "$p1"
	greets_and_quits "$p2"
	greets_and_quits "$p3" tls
	# and a whole session through each, with two clients
	fetch_base poplib plain "$p1"
	fetch_base curl stls "$p2"
	fetch_base poplib ssl "$p3"
}

@test "xinetd: a bad option or an unreadable --passwd: one -ERR [SYS/TEMP] line, the reason in syslog; by hand on stderr" {
	local p1 p2 p3
	p1=$(free_port) p2=$(free_port) p3=$(free_port)
	syslog_start
	xinetd_conf "$T/xinetd.conf" "pop3-plain:t-bogus:$p1:=--bogus-option" \
	    "pop3-plain:t-timeout:$p2:=$ARGS --timeout 0" \
	    "pop3-plain:t-passwd:$p3:=-p $T/no-such-passwd"
	xinetd_start "$T" "$p1" "$p2" "$p3"
	for p in "$p1" "$p2" "$p3"; do
		run raw_session "$p" 'QUIT\r\n'
		[ "$output" = "$BAD_SETUP" ]
	done
	syslog_wait 'pop3d\[[0-9]+\]: unknown option --bogus-option'
	syslog_wait 'pop3d\[[0-9]+\]: --timeout wants 1 to 86400 seconds'
	syslog_wait "pop3d\[[0-9]+\]: cannot read --passwd file $T/no-such-passwd: No such file"
	by_hand_says "unknown option --bogus-option" --bogus-option
	by_hand_says "--timeout wants 1 to" --timeout 0
	by_hand_says "cannot read --passwd file" -p "$T/no-such-passwd"
}

@test "xinetd: a missing or broken certificate: one -ERR [SYS/TEMP] line (STLS and pop3s), the reason in syslog; by hand on stderr" {
	needs_tls
	local p1 p2
	p1=$(free_port) p2=$(free_port)
	syslog_start
	xinetd_conf "$T/xinetd.conf" \
	    "pop3:t-stls:$p1:=--tls-cert $T/no-cert.pem --tls-key $KEY $ARGS" \
	    "pop3s:t-tls:$p2:=--tls --tls-cert $BADCERT --tls-key $KEY $ARGS"
	xinetd_start "$T" "$p1" "$p2"
	run raw_session "$p1" 'QUIT\r\n'
	[ "$output" = "$BAD_SETUP" ]
	# pop3s: the client expects a handshake, gets the one line and EOF
	run raw_session "$p2" ''
	[ "$output" = "$BAD_SETUP" ]
	syslog_wait "pop3d\[[0-9]+\]: cannot read --tls-cert file $T/no-cert.pem: No such file"
	syslog_wait "pop3d\[[0-9]+\]: certificate $BADCERT: not a PEM certificate"
	by_hand_says "cannot read --tls-cert file $T/no-cert.pem: No such file" \
	    --tls-cert "$T/no-cert.pem" --tls-key "$KEY"
	by_hand_says "certificate $BADCERT: not a PEM certificate" \
	    --tls --tls-cert "$BADCERT" --tls-key "$KEY"
}

@test "xinetd: syslog: login failures look the same for unknown users and wrong passwords; one session-end line per session" {
	local p
	p=$(free_port)
	syslog_start
	xinetd_conf "$T/xinetd.conf" "pop3-plain:t-plain:$p:+$ARGS"
	xinetd_start "$T" "$p"
	mbox_put alice "$BASE"
	run raw_session "$p" 'USER alice\r\nPASS wrong\r\nUSER nosuchuser\r\nPASS wrong\r\nUSER alice\r\nPASS secret\r\nLIST\r\nRETR 1\r\nRETR 2\r\nDELE 1\r\nQUIT\r\n'
	# the client cannot tell the two failures apart
	[ "$(grep -c -F -- '-ERR [AUTH] invalid user name or password\r' <<< "$output")" -eq 2 ]
	local s1 s2 s3
	s1=$(sed -n 's/^1 \([0-9]*\)\\r$/\1/p' <<< "$output")
	s2=$(sed -n 's/^2 \([0-9]*\)\\r$/\1/p' <<< "$output")
	s3=$(sed -n 's/^3 \([0-9]*\)\\r$/\1/p' <<< "$output")
	[ -n "$s1" ]
	[ -n "$s2" ]
	[ -n "$s3" ]
	syslog_wait "pop3d\[[0-9]+\]: session end: user=alice peer=127\.0\.0\.2 retr=2/$((s1 + s2)) dele=1/$s1 left=2/$((s2 + s3)) time=[0-9]+\.[0-9]{3} end=quit$"
	grep -qE "pop3d\[[0-9]+\]: authentication failed: user=alice peer=127\.0\.0\.2 method=USER$" "$SYSLOG_FILE"
	grep -qE "pop3d\[[0-9]+\]: authentication failed: user=nosuchuser peer=127\.0\.0\.2 method=USER$" "$SYSLOG_FILE"
	grep -qE "pop3d\[[0-9]+\]: login: user=alice peer=127\.0\.0\.2 method=USER messages=3 octets=$((s1 + s2 + s3))$" "$SYSLOG_FILE"
	# nothing in the log says whether a user exists
	refute grep -iE 'unknown user|no such user|not found|exist' "$SYSLOG_FILE"
	# no password in the log
	refute grep -F 'wrong' "$SYSLOG_FILE"
	refute grep -F "$PASSWORD" "$SYSLOG_FILE"
	# a session that never logs in, and one cut off by three failures
	run raw_session "$p" ''
	run raw_session "$p" 'USER a\r\nPASS x\r\nUSER b\r\nPASS x\r\nUSER c\r\nPASS x\r\n'
	[[ $output == *"too many failures, closing"* ]]
	syslog_wait "session end: user=- peer=127\.0\.0\.2 retr=0/0 dele=0/0 left=0/0 time=[0-9.]+ end=eof$"
	syslog_wait "session end: user=- peer=127\.0\.0\.2 retr=0/0 dele=0/0 left=0/0 time=[0-9.]+ end=too many failed logins$"
	# every pop3d process logs exactly one session-end line (wait_port's
	# probes are sessions too)
	run awk '/pop3d\[[0-9]+\]:/ { match($0, /pop3d\[[0-9]+\]/); p = substr($0, RSTART, RLENGTH); seen[p] = 1 }
	    /session end:/ { n[p]++ }
	    END { for (p in seen) if (n[p] != 1) { print p, n[p] + 0; bad = 1 }; exit bad }' "$SYSLOG_FILE"
	ran_ok
}

# ---------------------------------------------------------------- inetd

# inetd_start DIR PORT...: openbsd-inetd -i on DIR/inetd.conf in its own
# mount namespace with a private tmpfs on /run (it always writes
# /run/inetd.pid); through $LOGWRAP when a test syslog runs.
inetd_start() {
	local dir=$1 p
	shift
	inetd_binary
	launch_bg "$dir/inetd.pid" unshare -m sh -c \
	    'mount -t tmpfs tmpfs /run && exec "$@"' sh \
	    "$INETD" -i "$dir/inetd.conf"
	for p in "$@"; do
		wait_port "$p" || return 1
	done
}

inetd_conf() {
	local out=$1
	shift
	example_conf inetd.conf.example "$@" > "$out"
}

@test "openbsd-inetd: the example's lines in a private /run: fetchmail and curl fetch (plain, STLS, pop3s); greeting only; peer logged" {
	needs_tls
	local p1 p2 p3 had_pid=
	p1=$(free_port) p2=$(free_port) p3=$(free_port)
	[ -e /run/inetd.pid ] && had_pid=1
	syslog_start
	inetd_conf "$T/inetd.conf" "#pop3:127.0.0.1:$p1:+$ARGS" \
	    "pop3:127.0.0.1:$p2:+$ARGS" "pop3s:127.0.0.1:$p3:+$ARGS"
	inetd_start "$T" "$p1" "$p2" "$p3"
	# inetd's pid file is in its private /run, not the host's
	local pid
	pid=$(cat "$T/inetd.pid")
	[ "$(cat "/proc/$pid/root/run/inetd.pid")" = "$pid" ]
	[ -n "$had_pid" ] || [ ! -e /run/inetd.pid ]
	greets_and_quits "$p1"
	greets_and_quits "$p2"
	greets_and_quits "$p3" tls
	syslog_wait "session end: user=- peer=127\.0\.0\.2 .* end=quit$"
	fetch_base fetchmail plain "$p1"
	fetch_base fetchmail stls "$p2"
	fetch_base curl plain "$p1"
	fetch_base curl ssl "$p3"
}

@test "openbsd-inetd: a bad option gives the client one -ERR [SYS/TEMP] line and syslog the reason" {
	local p
	p=$(free_port)
	syslog_start
	inetd_conf "$T/inetd.conf" "pop3:127.0.0.1:$p:=--bogus-option"
	inetd_start "$T" "$p"
	run raw_session "$p" 'QUIT\r\n'
	[ "$output" = "$BAD_SETUP" ]
	syslog_wait 'pop3d\[[0-9]+\]: unknown option --bogus-option'
}

# ---------------------------------------------------------------- systemd

@test "systemd: pop3d.socket and pop3d@.service pass systemd-analyze verify without a warning" {
	mkdir -p "$T/units" "$T/man/man8"
	example_conf pop3d.socket > "$T/units/pop3d.socket"
	example_conf pop3d@.service > "$T/units/pop3d@.service"
	local man=--man=no
	if [ -f "$EXAMPLES/pop3d.8" ]; then
		# Documentation=man:pop3d(8) must name a page that exists
		cp "$EXAMPLES/pop3d.8" "$T/man/man8/"
		man=--man=yes
	fi
	cd "$T/units"
	run env MANPATH="$T/man" systemd-analyze verify "$man" \
	    ./pop3d.socket ./pop3d@.service
	ran_ok
	[ -z "$output" ] || { echo "$output" >&2; return 1; }
	grep -qx 'Accept=yes' pop3d.socket
	grep -qx 'ListenStream=110' pop3d.socket
	grep -qx 'ListenStream=995' pop3d.socket
	grep -qx 'StandardInput=socket' pop3d@.service
	refute grep -E '^(User|DynamicUser|PrivateUsers)=' pop3d@.service
}

# The unit's ExecStart, as systemd would run it for a connection to
# local port LPORT (%i is "N-LOCAL:PORT-REMOTE:PORT"), with the test's
# paths, and the port the unit treats as pop3s mapped to TLSPORT.
unit_command() {
	local lport=$1 tlsport=$2
	mapfile -d '' UNIT_CMD < <(example_conf pop3d@.service \
	    --map "/usr/local/sbin/pop3d=$POP3D $ARGS" \
	    --map ":995-=:$tlsport-" "1-127.0.0.1:$lport-127.0.0.2:40000")
	[ "${#UNIT_CMD[@]}" -gt 1 ]
}

@test "systemd-socket-activate --inetd -a: the unit's command per connection; mpop and poplib over STLS (port 110's socket) and pop3s (port 995's)" {
	needs_tls
	local p1 p2
	p1=$(free_port) p2=$(free_port)
	unit_command "$p1" "$p2"
	launch_bg "$T/sa1.pid" systemd-socket-activate --inetd -a \
	    -l "127.0.0.1:$p1" "${UNIT_CMD[@]}" 2>> "$T/sa.log"
	unit_command "$p2" "$p2"
	launch_bg "$T/sa2.pid" systemd-socket-activate --inetd -a \
	    -l "127.0.0.1:$p2" "${UNIT_CMD[@]}" 2>> "$T/sa.log"
	wait_port "$p1"
	wait_port "$p2"
	run raw_session "$p1" 'CAPA\r\nQUIT\r\n'
	[[ $output == *'STLS\r'* ]]
	greets_and_quits "$p2" tls
	fetch_base mpop stls "$p1"
	fetch_base poplib stls "$p1"
	fetch_base mpop ssl "$p2"
	fetch_base poplib ssl "$p2"
}

@test "systemd: on a dual-stack socket (pop3d.socket's ListenStream=110 binds [::]) an IPv4 client is logged as IPv4, not ::ffff:a.b.c.d" {
	# systemd hands IPv4 clients of a dual-stack socket over as
	# v4-mapped IPv6 addresses; [::ffff:127.0.0.1] is the loopback-only
	# stand-in for [::]
	local p
	p=$(free_port)
	syslog_start
	# shellcheck disable=SC2086
	launch_bg "$T/sa.pid" systemd-socket-activate --inetd -a \
	    -l "[::ffff:127.0.0.1]:$p" "$POP3D" $ARGS 2>> "$T/sa.log"
	wait_port "$p"
	greets_and_quits "$p"
	syslog_wait "session end: user=- peer=[^ ]*127\.0\.0\.2 "
	grep -qE "session end: user=- peer=127\.0\.0\.2 .* end=quit$" "$SYSLOG_FILE" ||
	    { grep 'session end' "$SYSLOG_FILE" >&2; return 1; }
}

@test "IPv6: systemd-socket-activate on [::1]; USER/PASS/LIST and curl over ::1; the peer is logged as ::1" {
	local p
	p=$(free_port)
	mbox_put curl "$BASE"
	syslog_start
	# shellcheck disable=SC2086
	launch_bg "$T/sa6.pid" systemd-socket-activate --inetd -a \
	    -l "[::1]:$p" "$POP3D" $ARGS 2>> "$T/sa6.log"
	wait_port "$p" ::1
	run python3 "$POP3CLIENT" raw --host ::1 "$p" \
	    "USER curl\\r\\nPASS $PASSWORD\\r\\nSTAT\\r\\nQUIT\\r\\n"
	[ "$status" -eq 0 ]
	[[ ${lines[3]} == "+OK $(grep -c '^From ' "$BASE") "* ]]
	run curl -s --max-time 20 -u "curl:$PASSWORD" "pop3://[::1]:$p/"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | grep -c '^[0-9]* [0-9]*.$')" -eq "$(grep -c '^From ' "$BASE")" ]
	syslog_wait "session end: user=curl peer=::1 .* end=quit$"
	cmp "$BASE" "$SPOOL/curl"
}

@test "systemd hardening: NoNewPrivileges and the unit's capability bounding set keep the privilege drop and spool-group dotlocking working" {
	# a spool like Debian's /var/mail: root:mail 2775, the user not in
	# group mail, so only the saved gid lets pop3d make alice.lock
	local spool=$T/mail caps
	mkdir "$spool"
	chown root:mail "$spool"
	chmod 2775 "$spool"
	mbox_make_in() { cp "$BASE" "$spool/alice"; chown "$TEST_UID:mail" "$spool/alice"; chmod 660 "$spool/alice"; }
	mbox_make_in
	run "$POP3D" -p "$PASSWD" -m "$spool/%u" --check-user=alice
	[[ $output == *"needs group mail to create $spool/alice.lock"* ]]
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$EXAMPLES/pop3d@.service" |
	    tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
	grep -qx 'NoNewPrivileges=yes' "$EXAMPLES/pop3d@.service"
	# (LeakSanitizer cannot run under ptrace: no leak check here)
	run python3 "$POP3CLIENT" session -- env \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    strace -f -qq -o "$T/strace" \
	    -e trace=link,linkat setpriv --nnp --bounding-set "-all,$caps" \
	    "$POP3D" -p "$PASSWD" -m "$spool/%u" -d 0 <<-EOF
	$LOGIN
	DELE 1
	QUIT
	EOF
	ran_ok
	[[ $output == *"+OK pop3d signing off (1 messages deleted, 2 left)"* ]]
	[ "$(grep -c '^From ' "$spool/alice")" -eq 2 ]
	grep -qE "link(at)?\(.*\"($spool/)?alice\.lock\".* = 0$" "$T/strace"
	# the control: without CAP_SETGID in the bounding set the drop fails
	# (the pre-authentication process's, before the greeting)
	mbox_make_in
	run python3 "$POP3CLIENT" session -- setpriv --nnp \
	    --bounding-set "-all,+setuid,+dac_read_search,+sys_chroot" \
	    "$POP3D" -p "$PASSWD" -m "$spool/%u" -d 0 <<-EOF
	$LOGIN
	EOF
	[[ $output == *"-ERR [SYS/TEMP] server configuration error"* ]]
	cmp "$BASE" "$spool/alice"
}

# ---------------------------------------------------------------- stunnel

@test "stunnel4: the example execs pop3d per connection for pop3s; poplib and curl fetch; greeting only; the peer is stunnel's REMOTE_HOST" {
	local p
	p=$(free_port)
	syslog_start
	example_conf stunnel.conf.example --set output="$T/stunnel.log" \
	    --set pid="$T/stunnel.pid" --set accept="127.0.0.1:$p" \
	    --set execArgs="pop3d $ARGS" > "$T/stunnel.conf"
	grep -q "^execArgs = pop3d -m" "$T/stunnel.conf"
	# stunnel daemonizes and writes its pid file
	"${LOGWRAP[@]}" stunnel4 "$T/stunnel.conf" 3>&-
	LAUNCH_PIDFILES+=("$T/stunnel.pid")
	wait_port "$p"
	local i
	for ((i = 0; i < 50; i++)); do
		[ -s "$T/stunnel.pid" ] && break
		sleep 0.1
	done
	[ -s "$T/stunnel.pid" ]
	greets_and_quits "$p" tls
	# fd 0 is a unix socket pair: only REMOTE_HOST knows 127.0.0.2
	syslog_wait "session end: user=- peer=127\.0\.0\.2 .* end=quit$"
	fetch_base poplib ssl "$p"
	fetch_base curl ssl "$p"
}

# ---------------------------------------------------------------- tcpserver

@test "tcpserver: pop3d per connection; Net::POP3 and getmail fetch; greeting only; peer logged" {
	local p
	p=$(free_port)
	syslog_start
	# shellcheck disable=SC2086
	launch_bg "$T/tcpserver.pid" tcpserver -H -R -l 0 127.0.0.1 "$p" \
	    "$POP3D" $ARGS 2>> "$T/tcpserver.log"
	wait_port "$p"
	greets_and_quits "$p"
	syslog_wait "session end: user=- peer=127\.0\.0\.2 .* end=quit$"
	fetch_base netpop3 plain "$p"
	fetch_base getmail plain "$p"
}

# ---------------------------------------------------------------- socat

@test "socat: EXEC per connection; poplib and curl fetch; the peer is SOCAT_PEERADDR; a bad option goes to socat's stderr, not the client" {
	local p1 p2
	p1=$(free_port) p2=$(free_port)
	syslog_start
	launch_bg "$T/socat1.pid" socat \
	    "TCP-LISTEN:$p1,bind=127.0.0.1,reuseaddr,fork" \
	    "EXEC:$POP3D $ARGS" 2>> "$T/socat1.log"
	launch_bg "$T/socat2.pid" socat \
	    "TCP-LISTEN:$p2,bind=127.0.0.1,reuseaddr,fork" \
	    "EXEC:$POP3D --bogus-option" 2>> "$T/socat2.log"
	wait_port "$p1"
	wait_port "$p2"
	greets_and_quits "$p1"
	# fd 0 is a unix socket pair: only SOCAT_PEERADDR knows 127.0.0.2
	syslog_wait "session end: user=- peer=127\.0\.0\.2 .* end=quit$"
	fetch_base poplib plain "$p1"
	fetch_base curl plain "$p1"
	# under socat fd 2 is socat's stderr, not the client: the reason goes
	# there and the client sees the connection close with nothing
	run raw_session "$p2" ''
	[ -z "$output" ]
	local i
	for ((i = 0; i < 50; i++)); do
		grep -q 'pop3d: unknown option --bogus-option' "$T/socat2.log" && break
		sleep 0.1
	done
	grep -q 'pop3d: unknown option --bogus-option' "$T/socat2.log"
}
