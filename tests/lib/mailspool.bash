# tests/lib/mailspool.bash - a /var/mail-like spool, mailboxes with their
# ground truth, MDA messages and the fault-injection sweeps, for the
# "never lose a message" tests (README "The mailbox").
#
# Loaded after helper.bash.  Fixtures come from lib/mbox.py (a mailbox
# and its ground truth); the fault-injection sweeps are faultsweep.py.

INTEG_MBOX=$TESTS/lib/mbox.py
INTEG_SWEEP=$TESTS/lib/faultsweep.py

# integ_sweep NAME ARGS... - one sweep in its own work directory (under
# $INTEG_WORK if set: another file system); its summary lines go to the
# TAP output, every failing point to the log.
integ_sweep() {
	local name=$1 work
	shift
	work=${INTEG_WORK:-$BATS_TEST_TMPDIR}/$name
	chmod a+x "$BATS_RUN_TMPDIR" "$BATS_RUN_TMPDIR/test" "$BATS_TEST_TMPDIR"
	run timeout 900 python3 "$INTEG_SWEEP" --pop3d "$POP3D" --work "$work" "$@"
	printf '%s\n' "$output" | grep -E '^(#|points=)' | sed "s/^#* */# $name: /" >&3
	if [ "$status" -ne 0 ]; then
		printf '%s\n' "$output" | head -40
		return 1
	fi
}

# integ_gen KINDS - $MBOX from lib/mbox.py kinds, truth in $TRUTH.
integ_gen() {
	TRUTH=$BATS_TEST_TMPDIR/truth.json
	python3 "$INTEG_MBOX" gen "$1" "$MBOX" "$TRUTH" "${2:-1}"
	chown "$TEST_UID:$TEST_GID" "$MBOX"
	chmod 600 "$MBOX"
}

# integ_check ARGS... - the mailbox against the truth (see lib/mbox.py check()).
integ_check() {
	python3 "$INTEG_MBOX" check "$TRUTH" "$MBOX" "$@"
}

# No lock, no journal and no temporary file left next to the mailbox.
assert_clean_spool() {
	local dir=${1:-$SPOOL} left
	left=$(cd "$dir" && ls -A | grep -E '\.lock|pop3d-journal' || :)
	if [ -n "$left" ]; then
		echo "left behind in $dir: $left" >&2
		return 1
	fi
}

# A /var/mail-like spool: root:mail 2775, the mailbox alice's with group
# mail, mode 0660; alice (uid 5000) is not in group mail.
setup_mail_spool() {
	setup_maildrop
	SPOOL=$BATS_TEST_TMPDIR/varmail
	mkdir -p "$SPOOL"
	chown root:mail "$SPOOL"
	chmod 2775 "$SPOOL"
	MBOX=$SPOOL/alice
}

# Make $MBOX alice:mail 0660 (after mbox_add, which makes it 5000:5000 600).
mail_spool_owner() {
	chown "$TEST_UID:mail" "$MBOX"
	chmod 0660 "$MBOX"
}

# A message on stdin of an MDA: msg_file FILE TAG
msg_file() {
	printf 'From: mda@example.org\nSubject: delivery %s\nMessage-ID: <%s@example.org>\n\nDelivered by an MDA (%s).\nSecond line.\n' \
	    "$2" "$2" "$2" > "$1"
}

# pid of a process that stays alive until killed (for live-lock tests).
start_sleeper() {
	sleep 120 &
	SLEEPER_PID=$!
}

stop_sleeper() {
	if [ -n "${SLEEPER_PID:-}" ]; then
		kill "$SLEEPER_PID" 2>/dev/null || :
		wait "$SLEEPER_PID" 2>/dev/null || :
		SLEEPER_PID=
	fi
}
