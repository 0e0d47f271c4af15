#!/usr/bin/env bats
# Locks that interoperate with Debian's MDAs, deliveries during a session
# and during UPDATE, concurrent sessions of one user, stale and live
# dotlocks, and no PATH.lock left behind (README "The mailbox", Locking;
# pop3d.8 "Locking").
#
# The /var/mail-like tests use a spool directory root:mail 2775 with the
# mailbox alice:mail 0660; alice (uid 5000) is not in group mail, so
# pop3d, started as root, must keep mail as its saved gid to create
# PATH.lock and its journal there.  A slow UPDATE is pop3d under strace
# with every fsync delayed, and the MDA is started (tests/lib/deliver-at.sh)
# once pop3d's journal exists, that is while pop3d holds the locks.

load lib/helper
load lib/mailspool

setup() {
	LOG=$BATS_TEST_TMPDIR/mda.log
	MSG=$BATS_TEST_TMPDIR/msg
	SLEEPER_PID=
}

teardown() {
	stop_sleeper
	syslog_stop
}

# pop3d under strace: every fsync waits 0.3 s, so UPDATE takes seconds
slow_update() {
	LOGWRAP=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	    strace -f -qq -o /dev/null -e inject=fsync:delay_enter=300000 --)
}

# wait (bounded) for deliver-at.sh to finish
wait_mda() {
	local i
	for ((i = 0; i < 600; i++)); do
		grep -qx done "$LOG" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "the MDA did not finish" >&2
	return 1
}

# procmail -m with a rcfile that delivers to $MBOX, as root (it locks
# $MBOX.lock, then takes a kernel fcntl lock; LOCKSLEEP=1 instead of 8 s
# between tries keeps the tests short)
procmail_rc() {
	mkdir -p "$BATS_TEST_TMPDIR/rc"
	chmod 755 "$BATS_TEST_TMPDIR/rc"
	PMRC=$BATS_TEST_TMPDIR/rc/procmailrc
	printf 'LOGFILE=%s/procmail.log\nLOCKSLEEP=1\nVERBOSE=yes\n:0:\n%s\n' \
	    "$BATS_TEST_TMPDIR" "$MBOX" > "$PMRC"
	chmod 644 "$PMRC"
}

ms_now() {
	echo $(( $(date +%s%N) / 1000000 ))
}

# ---- the /var/mail-like spool -------------------------------------

@test "/var/mail-like spool: pop3d keeps mail as saved gid only, creates PATH.lock and its journal" {
	setup_mail_spool
	integ_gen s,L,s,s
	mail_spool_owner
	local ino=$(stat -c %i "$MBOX")
	LOGWRAP=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	    strace -f -qq -o "$BATS_TEST_TMPDIR/trace" -e trace=link,linkat,rename,renameat,renameat2,setresgid --)
	pop3 <<-EOF
	$LOGIN
	!sh grep Gid: /proc/\$(sh $TESTS/lib/pidof.sh $POP3D -p $PASSWD)/status > $BATS_TEST_TMPDIR/gid
	DELE 1
	QUIT
	EOF
	[[ "${lines[4]}" == "+OK pop3d signing off (1 messages deleted, 3 left)" ]]
	# real, effective, saved, fs gid: only the saved one is mail
	local mail=$(getent group mail | cut -d: -f3)
	[ "$(awk '{print $2, $3, $4, $5}' "$BATS_TEST_TMPDIR/gid")" = "$TEST_GID $TEST_GID $mail $TEST_GID" ]
	# both in the mailbox's directory, opened once
	grep -qE "linkat\([0-9]+, \"alice\.lock\.[^\"]*\", [0-9]+, \"alice\.lock\", 0\) = 0" "$BATS_TEST_TMPDIR/trace"
	grep -qE "renameat2?\([0-9]+, \"alice\.pop3d-journal\.tmp\", [0-9]+, \"alice\.pop3d-journal\"(, 0)?\) = 0" "$BATS_TEST_TMPDIR/trace"
	integ_check --deleted 1 --expect deleted
	[ "$(stat -c %u:%G:%a:%i "$MBOX")" = "$TEST_UID:mail:660:$ino" ]
	assert_clean_spool
}

@test "procmail delivers while a session is open: the mail is kept after the update" {
	setup_mail_spool
	integ_gen s,m,s,s
	mail_spool_owner
	procmail_rc
	msg_file "$MSG" open-session
	pop3 <<-EOF
	$LOGIN
	DELE 2
	!sh python3 $TESTS/lib/deliver.py --mda procmail $MBOX $MSG $PMRC
	DELE 3
	QUIT
	EOF
	[[ "${lines[5]}" == "+OK pop3d signing off (2 messages deleted, 2 left)" ]]
	integ_check --deleted 2,3 --expect deleted --delivered "$MSG"
	grep -q "Locking \"$MBOX.lock\"" "$BATS_TEST_TMPDIR/procmail.log"
	assert_clean_spool
}

@test "procmail delivers during UPDATE: it waits for pop3d's locks; nothing is lost" {
	setup_mail_spool
	integ_gen s,L,s,L,s
	mail_spool_owner
	procmail_rc
	msg_file "$MSG" during-update
	slow_update
	pop3 <<-EOF
	$LOGIN
	DELE 1
	!sh sh $TESTS/lib/deliver-at.sh update $MBOX $LOG python3 $TESTS/lib/deliver.py --mda procmail $MBOX $MSG $PMRC > /dev/null 2>&1 &
	QUIT
	EOF
	[[ "${lines[4]}" == "+OK pop3d signing off (1 messages deleted, 4 left)" ]]
	wait_mda
	grep -q "^journal=yes rc=0 " "$LOG"	# it ran while pop3d held the locks
	integ_check --deleted 1 --expect deleted --delivered "$MSG"
	[ "$(stat -c %u:%G:%a "$MBOX")" = "$TEST_UID:mail:660" ]
	assert_clean_spool
}

@test "dotlockfile (setgid mail, run by the user) delivers during a session and during UPDATE" {
	setup_mail_spool
	integ_gen s,L,s,L,s
	mail_spool_owner
	msg_file "$MSG.1" dotlock-session
	msg_file "$MSG.2" dotlock-update
	slow_update
	pop3 <<-EOF
	$LOGIN
	DELE 1
	!sh python3 $TESTS/lib/deliver.py --mda dotlockfile $MBOX $MSG.1
	DELE 5
	!sh sh $TESTS/lib/deliver-at.sh update $MBOX $LOG python3 $TESTS/lib/deliver.py --mda dotlockfile $MBOX $MSG.2 > /dev/null 2>&1 &
	QUIT
	EOF
	[[ "${lines[5]}" == "+OK pop3d signing off (2 messages deleted, 3 left)" ]]
	wait_mda
	grep -q "^journal=yes rc=0 " "$LOG"
	integ_check --deleted 1,5 --expect deleted --delivered "$MSG.1" --delivered "$MSG.2"
	assert_clean_spool
}

@test "tests/lib/deliver.py (fcntl, then dotlock) during UPDATE waits and is kept" {
	setup_maildrop
	integ_gen L,s,L,s
	msg_file "$MSG" deliver-py
	slow_update
	pop3 <<-EOF
	$LOGIN
	DELE 2
	!sh sh $TESTS/lib/deliver-at.sh update $MBOX $LOG python3 $TESTS/lib/deliver.py --mda fcntl $MBOX $MSG > /dev/null 2>&1 &
	QUIT
	EOF
	[[ "${lines[4]}" == "+OK pop3d signing off (1 messages deleted, 3 left)" ]]
	wait_mda
	grep -q "^journal=yes rc=0 " "$LOG"
	integ_check --deleted 2 --expect deleted --delivered "$MSG"
	assert_clean_spool
}

@test "killed in UPDATE; dotlockfile -p breaks the dead pid's lock and delivers; nothing lost" {
	setup_mail_spool
	integ_gen s,L,s,m,s
	mail_spool_owner
	msg_file "$MSG.1" after-crash
	run python3 "$POP3CLIENT" session -- env \
	    "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    strace -f -qq -o /dev/null -e inject=ftruncate:signal=SIGKILL:when=1 \
	    "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0 <<-EOF
	$LOGIN
	DELE 1
	DELE 3
	QUIT
	EOF
	[ -e "$MBOX.lock" ]
	[ -e "$MBOX.pop3d-journal" ]
	local t0=$(ms_now)
	python3 "$TESTS/lib/deliver.py" --mda dotlockfile "$MBOX" "$MSG.1"
	[ $(( $(ms_now) - t0 )) -lt 5000 ]	# broken at once, not waited for
	pop3 <<-EOF
	$LOGIN
	STAT
	QUIT
	EOF
	[[ "${lines[3]}" == "+OK 4 "* ]]
	integ_check --deleted 1,3 --expect deleted --delivered "$MSG.1"
	[ "$(stat -c %u:%G:%a "$MBOX")" = "$TEST_UID:mail:660" ]
	assert_clean_spool
}

@test "an fcntl lock held by another process is waited for, then QUIT succeeds" {
	setup_maildrop
	integ_gen s,s,s
	local flag=$BATS_TEST_TMPDIR/locked
	# the holder notes it if the mailbox changed while it held the lock
	# (read through its own descriptor: closing another one of the file
	# would drop the lock)
	python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX)
before = os.pread(fd, 1 << 20, 0)
open(sys.argv[2], "w").close()
time.sleep(2)
if os.pread(fd, 1 << 20, 0) != before:
    open(sys.argv[2] + ".changed", "w").close()' "$MBOX" "$flag" &
	local holder=$! i
	for ((i = 0; i < 100; i++)); do
		[ -e "$flag" ] && break
		sleep 0.05
	done
	[ -e "$flag" ]
	local t0=$(ms_now)
	pop3 <<-EOF
	$LOGIN
	DELE 2
	QUIT
	EOF
	wait "$holder"
	[[ "${lines[2]}" == "+OK alice has 3 messages"* ]]
	[[ "${lines[4]}" == "+OK "* ]]
	[ $(( $(ms_now) - t0 )) -ge 1000 ]	# it did wait for the holder
	[ ! -e "$flag.changed" ]	# nothing written under the holder's lock
	integ_check --deleted 2 --expect deleted
	assert_clean_spool
}

# ---- concurrent sessions of one user ------------------------------

# other_session_line N...: a "!sh" line running a whole second session
# of alice that deletes messages N...; its transcript: other.out
other_session_line() {
	local script="USER alice\\nPASS $PASSWORD\\n" n
	for n in "$@"; do
		script="${script}DELE $n\\n"
	done
	echo "printf '${script}QUIT\\n' | python3 $POP3CLIENT session -- $POP3D -p $PASSWD -m $SPOOL/%u -d 0 > $BATS_TEST_TMPDIR/other.out"
}

# the second session deleted its N messages
other_ok() {
	grep -q "^+OK pop3d signing off ($1 messages deleted" "$BATS_TEST_TMPDIR/other.out"
}

# check_second_quit MINE OTHERS: the later QUIT (last line of $output)
# either deleted exactly MINE, or deleted nothing and said why
check_second_quit() {
	local quit=${lines[${#lines[@]} - 1]}
	case $quit in
	"+OK "*)
		integ_check --deleted "$1,$2" --expect deleted ;;
	"-ERR [SYS/TEMP] "?* | "-ERR [IN-USE] "?*)
		integ_check --deleted "$2" --expect deleted ;;
	*)
		echo "second QUIT answered: $quit" >&2
		return 1 ;;
	esac
	assert_clean_spool
}

@test "two overlapping sessions: the later one deleting a later message loses nothing" {
	setup_maildrop
	integ_gen s,m,s,m,s,s
	pop3 <<-EOF
	$LOGIN
	DELE 5
	!sh $(other_session_line 2)
	QUIT
	EOF
	other_ok 1
	check_second_quit 5 2
}

@test "two overlapping sessions: the later one deleting an earlier message loses nothing" {
	setup_maildrop
	integ_gen s,m,s,m,s,s
	pop3 <<-EOF
	$LOGIN
	UIDL
	DELE 1
	!sh $(other_session_line 4 6)
	QUIT
	EOF
	other_ok 2
	check_second_quit 1 4,6
}

@test "two overlapping sessions and a delivery that refills the file to its old size" {
	setup_maildrop
	integ_gen s,s,s,s
	# mail as long as message 2, so the file is as long as at login
	local len=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t["starts"][2]-t["starts"][1])' "$TRUTH")
	python3 -c 'import sys; n=int(sys.argv[1]); h=b"From late@example.org Mon Jan  1 00:09:00 2024\nSubject: late\n\n"; sys.stdout.buffer.write(h+b"x"*(n-len(h)-2)+b"\n\n")' "$len" > "$BATS_TEST_TMPDIR/late"
	pop3 <<-EOF
	$LOGIN
	DELE 4
	!sh $(other_session_line 2)
	!sh cat $BATS_TEST_TMPDIR/late >> $MBOX
	QUIT
	EOF
	local quit=${lines[${#lines[@]} - 1]}
	grep -q '^Subject: late' "$MBOX"
	grep -q 'integ message 1 ' "$MBOX"
	grep -q 'integ message 3 ' "$MBOX"
	! grep -q 'integ message 2 ' "$MBOX"
	if [[ "$quit" == "+OK "* ]]; then
		! grep -q 'integ message 4 ' "$MBOX"
	else
		[[ "$quit" == "-ERR [SYS/TEMP] "?* || "$quit" == "-ERR [IN-USE] "?* ]]
		grep -q 'integ message 4 ' "$MBOX"
	fi
	assert_clean_spool
}

@test "two overlapping sessions never delete a wrong message (same From_ lines and sizes)" {
	# a burst of same-size mail from one sender within one second has
	# identical From_ lines; the first session's QUIT must not take the
	# mail that moved into the place of the message it marked
	setup_maildrop
	local i
	for i in 1 2 3; do
		mbox_add "msg $i" "body $i"
	done
	pop3 <<-EOF
	$LOGIN
	RETR 3
	DELE 3
	!sh $(other_session_line 2)
	!sh printf 'From sender@example.org Mon Jan  1 00:00:00 2024\nFrom: sender@example.org\nSubject: msg 4\n\nbody 4\n\n' >> $MBOX
	QUIT
	EOF
	local quit=${lines[${#lines[@]} - 1]}
	grep -q '^Subject: msg 1$' "$MBOX"
	grep -q '^Subject: msg 4$' "$MBOX"	# never seen by anyone: kept
	! grep -q '^Subject: msg 2$' "$MBOX"
	if [[ "$quit" == "+OK "* ]]; then
		! grep -q '^Subject: msg 3$' "$MBOX"
	else
		grep -q '^Subject: msg 3$' "$MBOX"
	fi
}

# ---- stale and live dotlocks --------------------------------------

dead_pid() {
	sh -c 'exit 0' &
	local pid=$!
	wait "$pid" || :
	echo "$pid"
}

# dele_at_once [N]: log in, delete message N (1), QUIT: all answered +OK
# within 5 s (no lock wait), nothing left next to the mailbox
dele_at_once() {
	local t0=$(ms_now)
	pop3 <<-EOF
	$LOGIN
	DELE ${1:-1}
	QUIT
	EOF
	[ $(( $(ms_now) - t0 )) -lt 5000 ]
	[[ "${lines[2]}" == "+OK alice has "* ]]
	[[ "${lines[4]}" == "+OK "* ]]
	assert_clean_spool
}

@test "a dotlock naming a dead pid (liblockfile's and pop3d's format) is broken at once, with a killed pop3d's unique file" {
	setup_maildrop
	syslog_start
	integ_gen s,s,s
	local form pid
	for form in "$(dead_pid)" "$(dead_pid) $(uname -n)"; do
		printf '%s\n' "$form" > "$MBOX.lock"
		# what a pop3d killed between link() and unlink() leaves
		pid=${form%% *}
		[ "$form" = "$pid" ] ||
		    ln "$MBOX.lock" "$MBOX.lock.$pid.$(uname -n)"
		dele_at_once
	done
	syslog_wait "breaking stale lock $MBOX.lock"
	syslog_stop
	integ_check --deleted 1,2 --expect deleted
}

@test "a pid-less dotlock 10 minutes old is broken at once" {
	setup_maildrop
	integ_gen s,s
	: > "$MBOX.lock"
	touch -d '10 minutes ago' "$MBOX.lock"
	dele_at_once 2
	integ_check --deleted 2 --expect deleted
}

# log in: -ERR [IN-USE] after the ~10 s lock wait (bounded above too)
login_in_use() {
	local t0=$(ms_now) took
	pop3 <<-EOF
	$LOGIN
	EOF
	took=$(( $(ms_now) - t0 ))
	[[ "${lines[2]}" == "-ERR [IN-USE] "* ]]
	[ "$took" -ge 9000 ]
	[ "$took" -lt 40000 ]
}

# ---- locks from before a power cut ----------------------------------

boot_time() {
	awk '$1 == "btime" { print $2 }' /proc/stat
}

# pop3d sees a boot $1 seconds ago: /proc/stat bind-mounted over by a copy
# with that btime, in a private mount namespace (the host's is untouched).
# It lets a test tell the boot rule from the 5-minute rule on a machine
# that has been up for longer than 5 minutes.
fake_boot() {
	FAKE_BTIME=$(( $(date +%s) - $1 ))
	sed "s/^btime .*/btime $FAKE_BTIME/" /proc/stat > "$BATS_TEST_TMPDIR/stat"
	LOGWRAP=(unshare -m sh -c 'mount --bind "$0" /proc/stat && exec "$@"' \
	    "$BATS_TEST_TMPDIR/stat")
}

@test "after a power cut: a dotlock from before the boot naming a live (reused) pid is broken at once" {
	setup_maildrop
	integ_gen s,s,s
	start_sleeper
	local form before=$(( $(boot_time) - 60 ))
	for form in "$SLEEPER_PID" "$SLEEPER_PID $(uname -n)"; do
		printf '%s\n' "$form" > "$MBOX.lock"
		touch -d "@$before" "$MBOX.lock"
		dele_at_once
		kill -0 "$SLEEPER_PID"
	done
	integ_check --deleted 1,2 --expect deleted
}

@test "after a power cut: an empty dotlock from before a boot a minute ago is broken at once" {
	setup_maildrop
	integ_gen s,s
	fake_boot 60
	: > "$MBOX.lock"
	touch -d "@$(( FAKE_BTIME - 60 ))" "$MBOX.lock"	# 2 minutes old
	dele_at_once
	integ_check --deleted 1 --expect deleted
}

@test "an empty dotlock younger than the boot (and than 5 minutes) is still respected: [IN-USE]" {
	setup_maildrop
	integ_gen s,s
	fake_boot 120
	: > "$MBOX.lock"
	touch -d "@$(( FAKE_BTIME + 60 ))" "$MBOX.lock"	# 1 minute old
	login_in_use
	[ -e "$MBOX.lock" ] && [ ! -s "$MBOX.lock" ]
	integ_check --expect kept
}

@test "pop3d's dotlock is never empty after a crash: its content is fsynced before link()" {
	setup_maildrop
	integ_gen s,s
	local trace=$BATS_TEST_TMPDIR/trace
	LOGWRAP=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	    strace -f -qq -y -o "$trace" -e trace=openat,write,fsync,link,linkat --)
	pop3 <<-EOF
	$LOGIN
	DELE 1
	QUIT
	EOF
	[[ "${lines[4]}" == "+OK "* ]]
	# each lock taken (login, QUIT, and the index written at the end):
	# create, write "pid host", fsync, link;
	# the unique file named by its descriptor's path (-y) or, in linkat,
	# by its name in the mailbox's directory
	local uniq="$MBOX.lock.[0-9]*.$(uname -n)"
	run awk -v u="$MBOX.lock." -v n="\"${MBOX##*/}.lock." '
	    (index($0, u) || index($0, n)) && / (write|fsync|linkat?)\(/ {
		    sub(/^[0-9]+ +/, ""); sub(/\(.*/, ""); printf "%s ", $0 }' "$trace"
	echo "calls on the unique file: $output"
	[[ "$output" =~ ^(write\ fsync\ linkat\ ){2,3}$ ]]
	grep -qE "write\([0-9]+<$uniq>, \"[0-9]+ $(uname -n)\\\\n\"" "$trace"
	integ_check --deleted 1 --expect deleted
	assert_clean_spool
}

@test "unique files MAILBOX.lock.PID.HOST of dead or pre-boot lockers are removed; a live one's and another host's are kept" {
	setup_maildrop
	integ_gen s,s
	syslog_start
	start_sleeper
	local host=$(uname -n) dead=$(dead_pid) before=$(( $(boot_time) - 60 ))
	sleep 300 &
	local live=$!
	printf '%s %s\n' "$dead" "$host" > "$MBOX.lock.$dead.$host"
	printf '%s %s\n' "$SLEEPER_PID" "$host" > "$MBOX.lock.$SLEEPER_PID.$host"
	touch -d "@$before" "$MBOX.lock.$SLEEPER_PID.$host"
	printf '%s %s\n' "$live" "$host" > "$MBOX.lock.$live.$host"
	printf '%s other\n' "$dead" > "$MBOX.lock.$dead.other.example"
	pop3 <<-EOF
	$LOGIN
	QUIT
	EOF
	kill "$live"; wait "$live" || :
	[[ "${lines[2]}" == "+OK alice has "* ]]
	[ ! -e "$MBOX.lock.$dead.$host" ]
	[ ! -e "$MBOX.lock.$SLEEPER_PID.$host" ]
	[ -e "$MBOX.lock.$live.$host" ]
	[ -e "$MBOX.lock.$dead.other.example" ]
	[ ! -e "$MBOX.lock" ]
	syslog_wait "removed $MBOX.lock.$dead.$host, left by a dead locker"
	integ_check --expect kept
}

@test "a dotlock held by a live process: -ERR [IN-USE] after the ~10 s bound, lock and mailbox untouched" {
	setup_maildrop
	integ_gen s,s
	start_sleeper
	printf '%s\n' "$SLEEPER_PID" > "$MBOX.lock"
	login_in_use
	[ "$(cat "$MBOX.lock")" = "$SLEEPER_PID" ]
	integ_check --expect kept
	rm -f "$MBOX.lock"
	assert_clean_spool
}

# ---- no PATH.lock left behind --------------------------------------

@test "no PATH.lock after EOF, SIGTERM mid-session, or a refused mailbox" {
	setup_maildrop
	integ_gen s,s,s
	pop3 <<-EOF
	$LOGIN
	DELE 1
	!close
	EOF
	integ_check --expect kept
	assert_clean_spool
	pop3 <<-EOF
	$LOGIN
	DELE 1
	!sh kill -TERM \$(sh $TESTS/lib/pidof.sh $POP3D -p $PASSWD)
	!sleep 0.5
	QUIT
	EOF
	[[ "$output" != *"signing off"* ]]
	integ_check --expect kept
	assert_clean_spool
	printf 'not an mbox\n' > "$MBOX"
	pop3 <<-EOF
	$LOGIN
	EOF
	[[ "${lines[2]}" == "-ERR [SYS/PERM] "* ]]
	assert_clean_spool
}

@test "SIGTERM, SIGHUP or SIGINT during UPDATE: the update finishes, the client gets its reply, then pop3d ends; no lock, no journal" {
	setup_maildrop
	slow_update
	local sig
	for sig in TERM HUP INT; do
		rm -f "$MBOX" "$LOG"
		integ_gen L,s,L,s
		pop3 <<-EOF
		$LOGIN
		DELE 1
		!sh sh $TESTS/lib/deliver-at.sh update $MBOX $LOG sh -c 'kill -$sig \$(sh "\$0" "\$1" -p "\$2")' $TESTS/lib/pidof.sh $POP3D $PASSWD > /dev/null 2>&1 &
		QUIT
		EOF
		printf 'SIG%s: %s\n' "$sig" "${lines[@]}" >&2
		[ "${lines[4]}" = "+OK pop3d signing off (1 messages deleted, 3 left)" ]
		wait_mda
		grep -q "^journal=yes rc=0 " "$LOG"
		integ_check --deleted 1 --expect deleted
		assert_clean_spool
	done
}
