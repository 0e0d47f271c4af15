# tests/lib/helper.bash - what every test file loads.
#
# Conventions: each test gets a maildrop directory owned by the test user
# (uid 5000) in $BATS_TEST_TMPDIR, a --passwd file with alice/secret, and
# runs pop3d through tests/lib/pop3client.py (lib/pop3.bash), which hands
# it a socket as fd 0, 1 and 2 the way inetd does.  Daemons a test needs are started by the test, on
# loopback, and stopped by pid in teardown.

TESTS=$BATS_TEST_DIRNAME
POP3D=${POP3D:-$TESTS/../pop3d}
TEST_UID=5000
TEST_GID=5000
PASSWORD=secret

# shellcheck source=lib/syslog.bash
source "$TESTS/lib/syslog.bash"
# shellcheck source=lib/pop3.bash
source "$TESTS/lib/pop3.bash"

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

# A mailbox of N messages "msg 1" .. "msg N", written at once (for the
# thousands that outgrow a buffer or a run of index records).
mbox_make_many() {
	python3 - "$MBOX" "$1" <<-'EOF'
	import sys
	with open(sys.argv[1], "a") as f:
	    for i in range(1, int(sys.argv[2]) + 1):
	        f.write("From sender@example.org Mon Jan  1 00:00:00 2024\n"
	                "From: sender@example.org\nSubject: msg %d\n\n"
	                "body %d\n\n" % (i, i))
	EOF
	chown "$TEST_UID:$TEST_GID" "$MBOX"
	chmod 600 "$MBOX"
}

# Is $POP3D a cross build's launcher, running it under qemu-user?  (Its
# memory is qemu's too, and it is slower.)
is_emulated() {
	case $POP3D in
	*.run) return 0 ;;
	esac
	return 1
}

# Is $POP3D the sanitizer build?  (Its memory and timing differ.)
is_asan() {
	case $POP3D in
	*asan*) return 0 ;;
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

# refute CMD...: fail (showing what matched) if CMD succeeds.  (bats
# ignores the status of "! CMD" except on a test's last line.)
refute() {
	local out
	if out=$("$@" 2>&1); then
		echo "unexpected success: $*" >&2
		printf '%s\n' "$out" | head -5 >&2
		return 1
	fi
}

# The login lines most scripts start with.
LOGIN="USER alice
PASS $PASSWORD"

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

