# tests/proto-lib.bash - shared by protocol.bats, badinput.bats, mbox.bats.
#
# Byte-exact sessions (bats' run drops NUL bytes and trailing newlines, so
# pop3_raw writes the server's bytes to a file), the independent mbox
# model, and small helpers.  Load it after helper.

# model ARGS...: tests/lib/mbox.py, our own reading of README
# "The mailbox"
model() {
	python3 "$TESTS/lib/mbox.py" "$@"
}

# pop3_raw OUTFILE [session.py options] [-- extra pop3d options] <<< script
# Like pop3, but the server's bytes go to OUTFILE untouched (CRLF kept)
# and the exit status goes to $status.
pop3_raw() {
	local out=$1 opts=()
	shift
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		opts+=("$1")
		shift
	done
	[ "${1:-}" = "--" ] && shift
	status=0
	python3 "$TESTS/session.py" --raw "${opts[@]}" -- "${LOGWRAP[@]}" \
	    "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0 "$@" > "$out" || status=$?
}

# Is $POP3D the sanitizer build?  (Its memory and timing differ.)
is_asan() {
	case $POP3D in
	*asan*) return 0 ;;
	esac
	return 1
}

# mbox_raw < bytes: append the bytes as they are and give the mailbox to
# the test user.
mbox_raw() {
	cat >> "$MBOX"
	chown "$TEST_UID:$TEST_GID" "$MBOX"
	chmod 600 "$MBOX"
}

# refute CMD...: fail if CMD succeeds.  (bats ignores the status of
# "! CMD" except on a test's last line.)
refute() {
	if "$@"; then
		echo "unexpected success: $*" >&2
		return 1
	fi
	return 0
}
