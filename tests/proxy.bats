#!/usr/bin/env bats
# PROXY protocol (README "Behind HAProxy or stunnel") and the per-source
# penalty (README "Brute force"): a real HAProxy (send-proxy, send-proxy-v2)
# and stunnel (protocol = proxy) in front of pop3d under socat on
# loopback; the client is 127.0.0.2 so that its address differs from the
# balancer's (127.0.0.1), which is the only --proxy-from peer.

load lib/helper
load lib/clients
load lib/certs

FILTER=$TESTS/../fail2ban/filter.d/pop3d.conf

setup() {
	setup_maildrop
	mbox_make 1
	T=$BATS_TEST_TMPDIR
	PEN=$T/penalty
}

teardown() {
	launch_stop_all
	syslog_stop
}

# pop3d_start ARGS...: pop3d under socat on 127.0.0.1:$PP, fd 0/1 the TCP
# socket itself (EXEC nofork), trusting PROXY headers from 127.0.0.1.
pop3d_start() {
	PP=$(free_port)
	launch_bg "$T/socat.pid" socat \
	    "TCP-LISTEN:$PP,bind=127.0.0.1,reuseaddr,fork" \
	    "EXEC:$POP3D -m $SPOOL/%u -p $PASSWD --proxy-from=127.0.0.1 --penalty-dir=$PEN $*,nofork" \
	    2>> "$T/socat.log"
	wait_port "$PP"
}

# haproxy_start SERVER-OPTION: HAProxy on 127.0.0.1:$PH to pop3d, with
# its own config and pid file.
haproxy_start() {
	PH=$(free_port)
	cat > "$T/haproxy.cfg" <<-EOF
	global
	    pidfile $T/haproxy.pid
	defaults
	    mode tcp
	    timeout connect 5s
	    timeout client 30s
	    timeout server 30s
	listen pop3
	    bind 127.0.0.1:$PH
	    server pop3d 127.0.0.1:$PP $1
	EOF
	launch_bg "$T/haproxy.run.pid" haproxy -db -f "$T/haproxy.cfg"
	wait_port "$PH"
}

# wait_port's probe is a session too: let it end before counting lines
settle() {
	syslog_wait 'session end: user=- peer=127\.0\.0\.1 '
}

@test "HAProxy send-proxy and send-proxy-v2: the logged and failed-login peer is the client's 127.0.0.2; fail2ban-regex finds it" {
	local opt
	syslog_start --mail-log
	pop3d_start -d 0
	for opt in send-proxy send-proxy-v2; do
		haproxy_start "$opt"
		run raw_session "$PH" 'USER alice\r\nPASS wrong\r\nUSER alice\r\nPASS secret\r\nQUIT\r\n'
		[[ $output == "+OK pop3d ready"*"-ERR [AUTH] invalid user name or password"*"+OK alice has 1 messages"* ]] ||
		    { echo "$opt: $output" >&2; return 1; }
		stop_pidfile "$T/haproxy.run.pid"
	done
	syslog_wait 'session end: user=alice peer=127\.0\.0\.2 .*end=quit'
	[ "$(grep -c 'authentication failed: user=alice peer=127\.0\.0\.2 method=USER$' "$SYSLOG_FILE")" -eq 2 ]
	[ "$(grep -c 'login: user=alice peer=127\.0\.0\.2 method=USER' "$SYSLOG_FILE")" -eq 2 ]
	# no line of these sessions names the balancer as the client
	! grep -E 'user=alice peer=127\.0\.0\.1' "$SYSLOG_FILE"
	run fail2ban-regex -o ip "$SYSLOG_FILE" "$FILTER"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '127.0.0.2\n127.0.0.2')" ] ||
	    { echo "$output" >&2; cat "$SYSLOG_FILE" >&2; return 1; }
}

@test "HAProxy send-proxy-v2 in front of pop3d --tls: the header comes before the handshake" {
	needs_tls
	tls_certs "$BATS_RUN_TMPDIR"
	syslog_start
	pop3d_start -d 0 --tls --tls-cert="$CERT" --tls-key="$KEY"
	haproxy_start send-proxy-v2
	run raw_session_tls "$PH" 'USER alice\r\nPASS secret\r\nQUIT\r\n'
	[[ $output == "+OK pop3d ready"*"+OK alice has 1 messages"* ]] ||
	    { echo "$output" >&2; return 1; }
	syslog_wait 'login: user=alice peer=127\.0\.0\.2 method=USER'
}

@test "stunnel with protocol = proxy: the logged peer is the client's 127.0.0.2" {
	needs_tls
	tls_certs "$BATS_RUN_TMPDIR"
	syslog_start
	pop3d_start -d 0
	local ps
	ps=$(free_port)
	cat > "$T/stunnel.conf" <<-EOF
	foreground = yes
	pid = $T/stunnel.pid
	[pop3s]
	accept = 127.0.0.1:$ps
	connect = 127.0.0.1:$PP
	cert = $CERT
	key = $KEY
	protocol = proxy
	EOF
	launch_bg "$T/stunnel.run.pid" stunnel4 "$T/stunnel.conf"
	wait_port "$ps"
	run raw_session_tls "$ps" 'USER alice\r\nPASS wrong\r\nQUIT\r\n'
	[[ $output == "+OK pop3d ready"*"-ERR [AUTH] invalid user name or password"* ]] ||
	    { echo "$output" >&2; return 1; }
	syslog_wait 'authentication failed: user=alice peer=127\.0\.0\.2 method=USER$'
}

@test "a PROXY header from a peer not in --proxy-from (v1, v2) ends the session with one -ERR after the greeting" {
	syslog_start
	pop3d_start -d 0
	run raw_session "$PP" 'PROXY TCP4 192.0.2.7 192.0.2.1 40000 110\r\nUSER alice\r\n'
	[ "$output" = '+OK pop3d ready\r
-ERR PROXY header not accepted from this peer\r' ]
	run python3 "$POP3CLIENT" raw --source 127.0.0.2 --wait 0 --shut "$PP" \
	    '\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c\0\0\0\0\0\0\0\0\0\0\0\0'
	[ "$status" -eq 0 ]
	[ "$output" = '+OK pop3d ready\r
-ERR PROXY header not accepted from this peer\r' ]
	syslog_wait 'peer=127\.0\.0\.2: PROXY header from a peer not in --proxy-from; session ended'
	# the listed peer must send one: a plain POP3 start is refused
	run python3 "$POP3CLIENT" raw --no-greeting --shut "$PP" 'CAPA\r\n'
	[ "$status" -eq 0 ]	# and then the end
	[ "$output" = '-ERR bad PROXY header\r' ]
}

@test "--proxy-from 127.0.0.4/31 lists 127.0.0.4 and .5, not .2 or .6: a prefix is matched to its last bit" {
	PP=$(free_port)
	launch_bg "$T/socat.pid" socat \
	    "TCP-LISTEN:$PP,bind=127.0.0.1,reuseaddr,fork" \
	    "EXEC:$POP3D -m $SPOOL/%u -p $PASSWD --proxy-from=127.0.0.4/31 --penalty-dir=$PEN -d 0,nofork" \
	    2>> "$T/socat.log"
	wait_port "$PP"
	run python3 - "$PP" <<-'EOF'
	import socket, sys
	for src in ("127.0.0.5", "127.0.0.4", "127.0.0.2", "127.0.0.6"):
	    s = socket.socket(); s.bind((src, 0)); s.settimeout(20)
	    s.connect(("127.0.0.1", int(sys.argv[1])))
	    s.sendall(b"PROXY TCP4 192.0.2.7 192.0.2.1 40000 110\r\nQUIT\r\n")
	    s.shutdown(socket.SHUT_WR)
	    got = b""
	    while True:
	        d = s.recv(4096)
	        if not d:
	            break
	        got += d
	    print(src, "|".join(got.decode().split("\r\n")))
	EOF
	echo "$output"
	[ "${lines[0]}" = "127.0.0.5 +OK pop3d ready|+OK pop3d signing off|" ]
	[ "${lines[1]}" = "127.0.0.4 +OK pop3d ready|+OK pop3d signing off|" ]
	[ "${lines[2]}" = "127.0.0.2 +OK pop3d ready|-ERR PROXY header not accepted from this peer|" ]
	[ "${lines[3]}" = "127.0.0.6 +OK pop3d ready|-ERR PROXY header not accepted from this peer|" ]
}

@test "PROXY fuzz: 400 mutated v1 and v2 headers from the listed peer each get one -ERR or, if still valid, the greeting" {
	pop3d_start -d 0 --login-timeout=3
	run timeout 300 python3 "$POP3CLIENT" proxy-fuzz "$PP" 400 1
	echo "$output"
	[ "$status" -eq 0 ]
	# most mutations break the header
	local refused=${output#refused }
	refused=${refused%% *}
	[ "$refused" -ge 300 ]
}

# waits ADDR PASSWORD...: the seconds each PASS reply took, one a line
waits() {
	python3 "$POP3CLIENT" proxy-timed "$PP" "$@" | cut -d' ' -f1
}

# within GOT WANT: |GOT - WANT| <= 0.35 s
within() {
	python3 -c 'import sys; g, w = map(float, sys.argv[1:]); sys.exit(abs(g - w) > 0.35)' "$1" "$2" ||
	    { echo "waited $1 s, the schedule says $2 s" >&2; return 1; }
}

@test "penalty: the 2nd..6th failed logins of one address wait 1, 2, 4, 8, 15 s over two sessions; another address is not slowed; a good login clears it" {
	pop3d_start -d 0
	local w
	mapfile -t w < <(waits 192.0.2.50 a b c)
	within "${w[0]}" 0
	within "${w[1]}" 1
	within "${w[2]}" 2
	# another address meanwhile: no wait
	mapfile -t w < <(waits 2001:db8::50 a)
	within "${w[0]}" 0
	mapfile -t w < <(waits 192.0.2.50 d e f)
	within "${w[0]}" 4
	within "${w[1]}" 8
	within "${w[2]}" 15
	# a good login still waits its turn (15 s), then clears the address
	mapfile -t w < <(waits 192.0.2.50 secret)
	within "${w[0]}" 15
	mapfile -t w < <(waits 192.0.2.50 a b)
	within "${w[0]}" 0
	within "${w[1]}" 1
	# the state is root's, 0700, in --penalty-dir only
	[ "$(stat -c %U:%a "$PEN")" = root:700 ]
}

@test "penalty: the state stays one file of constant size under 10,000 distinct PROXY-supplied addresses" {
	pop3d_start -d 0
	# the table as one failure makes it, from an address the 10,000 do
	# not repeat (a second failure would wait the schedule's 1 s)
	python3 "$POP3CLIENT" proxy-timed "$PP" 192.0.2.7 wrong > /dev/null
	local files size
	files=$(ls "$PEN")
	size=$(du -b "$PEN" | cut -f1)
	run timeout 600 python3 "$POP3CLIENT" proxy-many "$PP" 10000
	[ "$output" = "done 10000" ]
	[ "$(ls "$PEN")" = "$files" ]
	[ "$(du -b "$PEN" | cut -f1)" = "$size" ]
}
