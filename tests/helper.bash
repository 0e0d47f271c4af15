# tests/helper.bash - what every test file loads.
#
# Conventions: each test gets a maildrop directory owned by the test user
# (uid 5000) in $BATS_TEST_TMPDIR, a --passwd file with alice/secret, and
# runs pop3d through session.py, which hands it a socket as fd 0, 1 and 2
# the way inetd does.  Daemons a test needs are started by the test, on
# loopback, and stopped by pid in teardown.

TESTS=$BATS_TEST_DIRNAME
POP3D=${POP3D:-$TESTS/../pop3d}
TEST_UID=5000
TEST_GID=5000
PASSWORD=secret

# A user-owned spool directory, a passwd file and an (absent) mailbox.
setup_maildrop() {
	# bats makes its temp dirs 0700: let the dropped-privilege session in
	chmod a+x "$BATS_RUN_TMPDIR" "$BATS_RUN_TMPDIR/test" "$BATS_TEST_TMPDIR"
	SPOOL=$BATS_TEST_TMPDIR/spool
	mkdir -p "$SPOOL"
	chown "$TEST_UID:$TEST_GID" "$SPOOL"
	PASSWD=$BATS_TEST_TMPDIR/passwd
	# sha512crypt with few rounds: real crypt(3), fast tests
	local hash
	hash=$(openssl passwd -6 -salt testsalt "$PASSWORD")
	printf 'alice:%s:%d:%d:Alice:%s:/bin/sh\n' "$hash" "$TEST_UID" \
	    "$TEST_GID" "$BATS_TEST_TMPDIR" > "$PASSWD"
	MBOX=$SPOOL/alice
}

# Append one message: mbox_add SUBJECT [BODY] [FROM_LINE_DATE]
mbox_add() {
	local subject=$1 body=${2:-"body of $1"} date=${3:-"Mon Jan  1 00:00:00 2024"}
	printf 'From sender@example.org %s\nFrom: sender@example.org\nSubject: %s\n\n%s\n\n' \
	    "$date" "$subject" "$body" >> "$MBOX"
	chown "$TEST_UID:$TEST_GID" "$MBOX"
	chmod 600 "$MBOX"
}

# A mailbox of N messages "msg 1" .. "msg N".
mbox_make() {
	local i
	for ((i = 1; i <= $1; i++)); do
		mbox_add "msg $i" "body $i"
	done
}

# pop3 [session.py options] [-- extra pop3d options] <<< "script"
# Runs one session; $output holds the server's reply lines (no CR).
pop3() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		opts+=("$1")
		shift
	done
	[ "${1:-}" = "--" ] && shift
	run python3 "$TESTS/session.py" "${opts[@]}" -- "${LOGWRAP[@]}" \
	    "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0 "$@"
}

# Is $POP3D a cross build's launcher, running it under qemu-user?  (Its
# memory is qemu's too, and it is slower.)
is_emulated() {
	case $POP3D in
	*.run) return 0 ;;
	esac
	return 1
}

# Skip a test of TLS when $POP3D was built without it (make TLS=no; its
# --version says so).
needs_tls() {
	case $("$POP3D" --version 2>/dev/null) in
	*"without TLS"*) skip "this pop3d was built without TLS (make TLS=no)" ;;
	esac
}

# The login lines most scripts start with.
LOGIN="USER alice
PASS $PASSWORD"

# Our own syslog for this test (syslog_start [--mail-log]: see
# syslogd.py): pop3d run through $LOGWRAP (pop3 does it)
# logs into $SYSLOG_FILE.  /dev/log is a bind mount in a private mount
# namespace, so the host's syslog, if any, is left alone.
syslog_start() {
	SYSLOG_FILE=$BATS_TEST_TMPDIR/syslog.txt
	SYSLOG_SOCK=$BATS_TEST_TMPDIR/log.sock
	: > "$SYSLOG_FILE"
	[ -e /dev/log ] || : > /dev/log	# a mount point, if none exists
	python3 "$TESTS/syslogd.py" "$SYSLOG_SOCK" "$SYSLOG_FILE" "$@" &
	SYSLOG_PID=$!
	local i
	for ((i = 0; i < 100; i++)); do
		[ -S "$SYSLOG_SOCK" ] && break
		sleep 0.05
	done
	LOGWRAP=(unshare -m sh -c 'mount --bind "$0" /dev/log && exec "$@"' \
	    "$SYSLOG_SOCK")
}

syslog_stop() {
	if [ -n "${SYSLOG_PID:-}" ]; then
		kill "$SYSLOG_PID" 2>/dev/null || :
		wait "$SYSLOG_PID" 2>/dev/null || :
		SYSLOG_PID=
	fi
	LOGWRAP=()
}

# Wait (bounded) until the syslog holds a line matching a regex.
syslog_wait() {
	local i
	for ((i = 0; i < 50; i++)); do
		grep -qE "$1" "$SYSLOG_FILE" && return 0
		sleep 0.1
	done
	echo "syslog has no line matching: $1" >&2
	cat "$SYSLOG_FILE" >&2
	return 1
}

# A free TCP port on loopback (bounded retries).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Wait (bounded) until something listens on ${2:-127.0.0.1}:$1.
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		python3 -c 'import socket,sys; socket.create_connection((sys.argv[2],int(sys.argv[1])),1).close()' "$1" "${2:-127.0.0.1}" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listens on port $1" >&2
	return 1
}

# Kill a daemon by its pid file, bounded.
stop_pidfile() {
	local pid i
	[ -f "$1" ] || return 0
	pid=$(cat "$1")
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || :
}

LOGWRAP=()
