# tests/lib/syslog.bash - our own syslog for a test (loaded by
# helper.bash).  syslog_start [--mail-log] (see syslogd.py): pop3d run
# through $LOGWRAP (pop3 does it) logs into $SYSLOG_FILE.  /dev/log is a
# bind mount in a private mount namespace, so the host's syslog, if any,
# is left alone.

# LOGWRAP is for the other files; its sh -c text expands in that shell
# shellcheck disable=SC2034,SC2016

SYSLOGD=$TESTS/lib/syslogd.py

syslog_start() {
	SYSLOG_FILE=$BATS_TEST_TMPDIR/syslog.txt
	SYSLOG_SOCK=$BATS_TEST_TMPDIR/log.sock
	: > "$SYSLOG_FILE"
	[ -e /dev/log ] || : > /dev/log	# a mount point, if none exists
	python3 "$SYSLOGD" "$SYSLOG_SOCK" "$SYSLOG_FILE" "$@" &
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

LOGWRAP=()
