# tests/tls-lib.bash - what tls.bats needs besides helper.bash.
#
# tls_certs DIR: a throw-away self-signed certificate for "localhost"
# (and 127.0.0.1) with its key, plus the bad files the option tests use.
# tls_launch ARGS...: pop3d behind a real TCP launcher on 127.0.0.1:$PORT,
# socat TCP-LISTEN,fork with EXEC:...,nofork, so that pop3d's fd 0 and 1
# are the TCP socket itself (as under inetd or tcpserver) and fd 2 is
# the launcher's stderr ($LAUNCH_ERR: where ASan would report).  Each
# session is started by a small wrapper that records pop3d's pid in
# $SESSIONS and "PID STATUS" in $STATUSES when it exits.

TLS_CLIENT=$TESTS/tls-client.py

# tls_certs DIR: $CERT, $KEY, $OTHER_KEY (another key), $ENC_CERT and
# $ENC_KEY (a pair whose key is encrypted, pass phrase "hunter2"),
# $JUNK (not PEM), $CERT_DER (the certificate in DER).
tls_certs() {
	local dir=$1
	CERT=$dir/cert.pem
	KEY=$dir/key.pem
	OTHER_KEY=$dir/other-key.pem
	ENC_CERT=$dir/enc-cert.pem
	ENC_KEY=$dir/enc-key.pem
	JUNK=$dir/junk.pem
	CERT_DER=$dir/cert.der
	[ -s "$CERT" ] && return 0
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$KEY" -out "$CERT" -days 2 -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null &&
	openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$OTHER_KEY" 2>/dev/null &&
	openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 \
	    -aes256 -pass pass:hunter2 -out "$ENC_KEY" 2>/dev/null &&
	openssl req -x509 -key "$ENC_KEY" -passin pass:hunter2 \
	    -out "$ENC_CERT" -days 2 -subj /CN=localhost 2>/dev/null &&
	openssl x509 -in "$CERT" -outform DER -out "$CERT_DER" || return 1
	echo "this is not a certificate" > "$JUNK"
	chmod 644 "$CERT" "$KEY" "$OTHER_KEY" "$ENC_CERT" "$ENC_KEY" "$JUNK"
}

# Does process PID listen on 127.0.0.1:PORT?  (/proc, so that probing
# does not itself start a session; and by socket inode, so that another
# daemon that took the port meanwhile does not count.)
port_listening() {
	local inode
	inode=$(awk -v a="0100007F:$(printf %04X "$2")" \
	    '$2 == a && $3 == "00000000:0000" && $4 == "0A" { print $10 }' \
	    /proc/net/tcp)
	[ -n "$inode" ] &&
	    ls -l "/proc/$1/fd" 2>/dev/null | grep -q "socket:\[$inode\]"
}

# tls_launch [pop3d options]: pop3d -p $PASSWD -m $SPOOL/%u -d 0 OPTIONS
# for each connection to 127.0.0.1:$PORT.
tls_launch() {
	local dir=$BATS_TEST_TMPDIR i a try args=""
	SESSIONS=$dir/sessions
	STATUSES=$dir/statuses
	LAUNCH_ERR=$dir/launcher.err
	: > "$SESSIONS"
	: > "$STATUSES"
	: > "$LAUNCH_ERR"
	for a in "$@"; do
		args="$args '$a'"
	done
	cat > "$dir/pop3d-run" <<-EOF
	#!/bin/sh
	# one session: fd 0 and 1 are the TCP socket socat accepted
	exec 3<&0
	"$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0 --penalty-dir="$dir/penalty" $args 0<&3 3<&- &
	pid=\$!
	exec 3<&-
	echo \$pid >> "$SESSIONS"
	wait \$pid
	echo "\$pid \$?" >> "$STATUSES"
	EOF
	chmod 755 "$dir/pop3d-run"
	# a port another test takes meanwhile makes socat fail: try again
	for ((try = 0; try < 3; try++)); do
		PORT=$(free_port)
		# fd 3 is bats' own: a daemon holding it would make bats wait
		"${LOGWRAP[@]}" socat \
		    "TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork" \
		    "EXEC:$dir/pop3d-run,nofork" 2>> "$LAUNCH_ERR" 3>&- &
		LAUNCHER_PID=$!
		for ((i = 0; i < 100; i++)); do
			port_listening "$LAUNCHER_PID" "$PORT" && return 0
			kill -0 "$LAUNCHER_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill "$LAUNCHER_PID" 2>/dev/null
		wait "$LAUNCHER_PID" 2>/dev/null
	done
	echo "socat does not listen on $PORT" >&2
	cat "$LAUNCH_ERR" >&2
	LAUNCHER_PID=
	return 1
}

# Is PID a live process (a zombie is not)?
pid_alive() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# wait_gone PID SECONDS: 0 once PID has exited, 1 if it still runs.
wait_gone() {
	local i n=$(($2 * 10))
	for ((i = 0; i < n; i++)); do
		pid_alive "$1" || return 0
		sleep 0.1
	done
	return 1
}

# The pid of the Nth session (1-based), waiting briefly for the wrapper.
session_pid() {
	local i
	for ((i = 0; i < 50; i++)); do
		sed -n "${1}p" "$SESSIONS" | grep . && return 0
		sleep 0.1
	done
	echo "no session $1 in $SESSIONS" >&2
	return 1
}

# session_status PID: pop3d's exit status (waits up to 10 s).
session_status() {
	local i
	for ((i = 0; i < 100; i++)); do
		awk -v p="$1" '$1 == p { print $2; f = 1 } END { exit !f }' \
		    "$STATUSES" && return 0
		sleep 0.1
	done
	echo "session $1 has not ended" >&2
	return 1
}

# Stop the launcher and any session left, by pid; report sanitizer
# findings on the launcher's stderr (pop3d's fd 2).
tls_stop() {
	local pid
	if [ -n "${LAUNCHER_PID:-}" ]; then
		kill "$LAUNCHER_PID" 2>/dev/null || :
		wait "$LAUNCHER_PID" 2>/dev/null || :
		LAUNCHER_PID=
	fi
	if [ -f "${SESSIONS:-/nonexistent}" ]; then
		while read -r pid; do
			pid_alive "$pid" && kill -9 "$pid" 2>/dev/null
		done < "$SESSIONS"
	fi
	if [ -s "${LAUNCH_ERR:-/nonexistent}" ] &&
	    grep -qE 'Sanitizer|runtime error' "$LAUNCH_ERR"; then
		echo "sanitizer report on pop3d's stderr:" >&2
		cat "$LAUNCH_ERR" >&2
		return 1
	fi
	return 0
}

# tclient [tls-client.py options] <<< script: $output, $status.
tclient() {
	run timeout 60 python3 "$TLS_CLIENT" --cafile "$CERT" "$@" "$PORT"
	echo "tls-client.py $*:"	# shown when the test fails
	if [ ${#output} -gt 20000 ]; then
		echo "${output:0:3000}"
		echo "[... $((${#output} - 4000)) bytes ...]"
		echo "${output: -1000}"
	else
		echo "$output"
	fi
}

# sclient MODE [s_client options] <<< script: openssl s_client against
# $PORT, verifying the certificate for "localhost"; MODE is stls or tls.
# The script is sent after the handshake; s_client waits for the server
# to close.  $output is the server's bytes without CR.
sclient() {
	local mode=$1
	shift
	[ "$mode" = stls ] && set -- -starttls pop3 "$@"
	run sh -c 'timeout 60 openssl s_client "$@" 2>/dev/null | tr -d "\r"' \
	    s_client -connect "127.0.0.1:$PORT" -CAfile "$CERT" \
	    -verify_hostname localhost -verify_return_error -quiet -crlf "$@"
	echo "s_client $mode:"	# shown when the test fails
	echo "$output"
}

# The body of message N of an mbox as RETR's client would store it: the
# lines after the From_ line, up to the empty line before the next one.
mbox_message() {
	python3 "$TESTS/lib/mbox.py" message "$1" "$2"
}

# mbox_fixture FILE N: N messages with the lines clients get wrong (a
# lone ".", lines starting with ".", "..", ">From ", long lines, an
# empty body line), in a mailbox FILE; the first one is about 100 KB.
mbox_fixture() {
	python3 "$TESTS/lib/mbox.py" fixture dots "$1" "$2"
	chown "$TEST_UID:$TEST_GID" "$1"
	chmod 600 "$1"
}

# mbox_big FILE KB: one message of about KB kilobytes (Message-ID <m1@...>,
# random text lines of 0 to 199 characters, some starting with ".") in a
# mailbox FILE.
mbox_big() {
	python3 "$TESTS/lib/mbox.py" fixture big "$1" "$2"
	chown "$TEST_UID:$TEST_GID" "$1"
	chmod 600 "$1"
}

# retr_body: from tls-client.py's $output, the message RETR sent (the
# lines after "+OK N octets" up to the "." line), dot-unstuffed.
retr_body() {
	awk 'body && $0 == "." { exit } body { sub(/^\./, ""); print }
	    /^\+OK [0-9]+ octets$/ { body = 1 }' <<< "$output"
}
