# tests/lib/pop3.bash - every way a test talks POP3 through
# tests/lib/pop3client.py (its text says the modes, options and the
# script's escape syntax).  Loaded by helper.bash.
#
# The inetd-style wrappers take [client options] [-- extra pop3d
# options] and a script on stdin; pop3_split is their one option parser.

# bats sets status and output
# shellcheck disable=SC2034,SC2154

POP3CLIENT=$TESTS/lib/pop3client.py

# pop3_split ARGS...: POP3_OPTS, the client's options up to "--", and
# POP3_EXTRA, the words after it.
pop3_split() {
	POP3_OPTS=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		POP3_OPTS+=("$1")
		shift
	done
	[ "${1:-}" = "--" ] && shift
	POP3_EXTRA=("$@")
}

# pop3_session [client options] -- COMMAND... <<< script: COMMAND (pop3d,
# or pop3d behind env, strace, setpriv...) on a socket pair as fd 0, 1
# and 2, as inetd starts it; the server's bytes on stdout, COMMAND's
# exit status.
pop3_session() {
	python3 "$POP3CLIENT" session "$@"
}

# pop3 [client options] [-- extra pop3d options] <<< "script"
# One session with the test's --passwd and spool; $output holds the
# server's reply lines (no CR).
pop3() {
	pop3_split "$@"
	run pop3_session "${POP3_OPTS[@]}" -- "${LOGWRAP[@]}" \
	    "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0 "${POP3_EXTRA[@]}"
}

# pop3_raw OUTFILE [client options] [-- extra pop3d options] <<< script
# Like pop3, but the server's bytes go to OUTFILE untouched (CRLF kept;
# bats' run drops NUL bytes and trailing newlines) and the exit status
# goes to $status.
pop3_raw() {
	local out=$1
	shift
	pop3_split "$@"
	status=0
	pop3_session --raw "${POP3_OPTS[@]}" -- "${LOGWRAP[@]}" \
	    "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0 "${POP3_EXTRA[@]}" \
	    > "$out" || status=$?
}

# sysacct [client options] [-- extra pop3d options] <<< script: one
# session against the system accounts (no --passwd).
sysacct() {
	pop3_split "$@"
	run pop3_session "${POP3_OPTS[@]}" -- "${LOGWRAP[@]}" \
	    "$POP3D" -m "$SPOOL/%u" -d 0 "${POP3_EXTRA[@]}"
}

# client [client options] -- COMMAND... <<< script: one session that
# half-closes after the script ({APOP:secret}, {B64:text}, --times).
client() {
	run pop3_session --eof "$@"
}

# tclient [tcp options] <<< script: a session over TCP to 127.0.0.1:$PORT
# (the certificate checked against $CERT); $output, $status.
tclient() {
	run timeout 60 python3 "$POP3CLIENT" tcp --cafile "$CERT" "$@" "$PORT"
	echo "pop3client.py tcp $*:"	# shown when the test fails
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

# retr_body: from tclient's $output, the message RETR sent (the lines
# after "+OK N octets" up to the "." line), dot-unstuffed.
retr_body() {
	awk 'body && $0 == "." { exit } body { sub(/^\./, ""); print }
	    /^\+OK [0-9]+ octets$/ { body = 1 }' <<< "$output"
}

# raw_session PORT [TEXT [WAIT]]: connect from 127.0.0.2 (a peer that is
# not 127.0.0.1), read what the server sends first, wait WAIT seconds
# (default 0.5) for anything more, send TEXT (\r\n escapes; none: a
# half-close), read to EOF; prints the bytes received with CR shown as
# \r.
raw_session() {
	python3 "$POP3CLIENT" raw --source 127.0.0.2 --wait "${3:-0.5}" \
	    "$1" "${2:-}"
}

# raw_session_tls PORT [TEXT [WAIT]]: raw_session over implicit TLS (the
# certificate checked against "localhost" and $CERT).
raw_session_tls() {
	python3 "$POP3CLIENT" raw --tls --cafile "$CERT" --source 127.0.0.2 \
	    --wait "${3:-0.5}" "$1" "${2:-}"
}

# The exact bytes of a good session that only says QUIT (raw_session's
# notation; bats' $output has no final newline).
GREET_QUIT='+OK pop3d ready\r
+OK pop3d signing off\r'
BAD_SETUP='-ERR [SYS/TEMP] server configuration error\r'

# greets_and_quits PORT [tls]: a raw session (raw_session, or
# raw_session_tls) that says only QUIT gets the greeting and the
# sign-off, nothing else.
greets_and_quits() {
	local out
	if [ "${2:-}" = tls ]; then
		out=$(raw_session_tls "$1" 'QUIT\r\n')
	else
		out=$(raw_session "$1" 'QUIT\r\n')
	fi
	[ "$out" = "$GREET_QUIT" ] || { echo "port $1: $out" >&2; return 1; }
}
