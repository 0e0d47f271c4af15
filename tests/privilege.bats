#!/usr/bin/env bats
# After login the session runs as the user and cannot return to root
# (read from /proc/PID/status during the session); pop3d started as a
# normal user serves that user only; pop3d --check-user describes a
# setup without touching the mailbox.

load lib/helper
load lib/accounts

setup() {
	setup_maildrop
	HOLDER_PID=
}

teardown() {
	if [ -n "$HOLDER_PID" ]; then
		kill "$HOLDER_PID" 2>/dev/null || :
		wait "$HOLDER_PID" 2>/dev/null || :
	fi
	auth_teardown
}

STATUS_FILE=status.txt

# The !sh line that copies pop3d's /proc status to $BATS_TEST_TMPDIR.
# \$PPID is expanded by the client's shell: the client's own pid.
proc_line() {
	echo "!sh bash '$TESTS/lib/procstatus.bash' \"\$PPID\" '$POP3D' '$BATS_TEST_TMPDIR/$STATUS_FILE'"
}

# field NAME: the values of a /proc/PID/status line, space-separated
field() {
	awk -v f="$1:" '$1 == f { $1 = ""; sub(/^ +/, ""); print }' \
	    "$BATS_TEST_TMPDIR/$STATUS_FILE"
}

# The checks every logged-in session passes: all uids U, gids as given
# (real effective saved fs), supplementary groups exactly GROUPS (sorted),
# no capabilities, no way back to root.
check_dropped() {
	local uid=$1 gids=$2 groups=$3
	[ -s "$BATS_TEST_TMPDIR/$STATUS_FILE" ]
	echo "Uid: $(field Uid) Gid: $(field Gid) Groups: $(field Groups)" >&2
	[ "$(field Uid)" = "$uid $uid $uid $uid" ]
	[ "$(field Gid)" = "$gids" ]
	[ "$(field Groups | tr ' ' '\n' | sed '/^$/d' | sort -n | xargs)" = "$groups" ]
	[ "$(field CapEff)" = 0000000000000000 ]
	[ "$(field CapPrm)" = 0000000000000000 ]
	[ "$(field CapAmb)" = 0000000000000000 ]
	# neither a saved uid nor a capability could bring root back
	[[ " $(field Uid) " != *" 0 "* ]]
	[[ " $(field Gid) " != *" 0 "* ]]
}

# ---------------------------------------------------------------------
# The session process

@test "system account session: all uids and gids the user's, its groups (with a usermod -aG one), no capabilities" {
	local name group uid gid sgid
	name=$(auth_name priv) group=$(auth_name grp)
	auth_group "$group"
	auth_user "$name"
	auth_retry usermod -aG "$group" "$name"
	auth_password "$name" YESCRYPT "pw-$name"
	uid=$(id -u "$name") gid=$(id -g "$name")
	sgid=$(getent group "$group" | cut -d: -f3)
	auth_spool "$name"
	MBOX=$SPOOL/$name
	mbox_make 1
	chown "$name:" "$MBOX"
	sysacct <<-EOF
	USER $name
	PASS pw-$name
	$(proc_line)
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "+OK $name has 1 messages (52 octets)" ]
	[ "${lines[3]}" = "+OK 1 52" ]
	check_dropped "$uid" "$gid $gid $gid $gid" \
	    "$(printf '%s\n' "$gid" "$sgid" | sort -n | xargs)"
}

@test "root:mail 2775 spool: only the saved gid is mail, and DELE + QUIT work through it" {
	local name uid gid mail
	mail=$(getent group mail | cut -d: -f3)
	name=$(auth_name spool)
	auth_user "$name"
	auth_password "$name" SHA512 "pw-$name"
	uid=$(id -u "$name") gid=$(id -g "$name")
	SPOOL=$BATS_TEST_TMPDIR/varmail
	mkdir "$SPOOL"
	chown root:mail "$SPOOL"
	chmod 2775 "$SPOOL"
	MBOX=$SPOOL/$name
	mbox_make 2
	chown "$name:mail" "$MBOX"
	chmod 660 "$MBOX"
	# LeakSanitizer's exit-time check must ptrace the process, which
	# the kernel refuses while the saved gid (mail) differs from the
	# real one: it would end an ASan build with a fatal error, exit 1
	[[ $POP3D != *-asan ]] ||
	    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	sysacct <<-EOF
	USER $name
	PASS pw-$name
	$(proc_line)
	DELE 1
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "+OK $name has 2 messages (104 octets)" ]
	[ "${lines[4]}" = "+OK pop3d signing off (1 messages deleted, 1 left)" ]
	check_dropped "$uid" "$gid $gid $mail $gid" "$gid"
	[ "$(grep -c '^From ' "$MBOX")" -eq 1 ]
	grep -q '^Subject: msg 2$' "$MBOX"
	[ ! -e "$MBOX.lock" ]
	[ ! -e "$MBOX.pop3d-journal" ]
}

@test "--passwd user: uid and gid come from the file, groups only its gid" {
	sysacct -- -p "$PASSWD" <<-EOF
	USER alice
	PASS $PASSWORD
	$(proc_line)
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "+OK alice has 0 messages (0 octets)" ]
	check_dropped 5000 "5000 5000 5000 5000" 5000
}

@test "--passwd user named like a system account gets only its file gid, not that account's groups" {
	local name group
	name=$(auth_name twin) group=$(auth_name tgrp)
	auth_group "$group"
	auth_user "$name" -G "$group"
	printf '%s:%s:5001:5001:Twin:%s:/bin/sh\n' "$name" \
	    "$(auth_hash '$6$' twinpw)" "$BATS_TEST_TMPDIR" > "$PASSWD"
	chmod 1777 "$SPOOL"
	sysacct -- -p "$PASSWD" <<-EOF
	USER $name
	PASS twinpw
	$(proc_line)
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "+OK $name has 0 messages (0 octets)" ]
	check_dropped 5001 "5001 5001 5001 5001" 5001
}

# ---------------------------------------------------------------------
# Started as a normal user

# asuser UID GID [client options] [-- pop3d options] <<< script
asuser() {
	local uid=$1 gid=$2
	shift 2
	pop3_split "$@"
	run pop3_session "${POP3_OPTS[@]}" -- "${LOGWRAP[@]}" \
	    setpriv --reuid="$uid" --regid="$gid" --clear-groups \
	    "$POP3D" -m "$SPOOL/%u" -d 0 "${POP3_EXTRA[@]}"
}

@test "started as a normal user: serves that user's own uid and refuses another one, saying why" {
	local h
	h=$(auth_hash '$6$' bobpw)
	printf 'bob:%s:5001:5001:Bob:%s:/bin/sh\n' "$h" "$BATS_TEST_TMPDIR" \
	    >> "$PASSWD"
	mbox_make 1
	asuser 5000 5000 -- -p "$PASSWD" <<-EOF
	USER alice
	PASS $PASSWORD
	$(proc_line)
	RETR 1
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "+OK alice has 1 messages (52 octets)" ]
	[ "${lines[3]}" = "+OK 52 octets" ]
	check_dropped 5000 "5000 5000 5000 5000" ""
	syslog_start
	asuser 5000 5000 -- -p "$PASSWD" <<-EOF
	USER bob
	PASS bobpw
	EOF
	[ "${lines[2]}" = "-ERR [SYS/PERM] server is not running as root and can serve only its own user" ]
	syslog_wait "pop3d runs as uid 5000, not root, and cannot serve bob \(uid 5001\)"
}

@test "started as a normal user: a --passwd file it cannot read at login gives -ERR [SYS/TEMP]" {
	asuser 5000 5000 -- -p "$PASSWD" <<-EOF
	USER alice
	!sh chmod 000 '$PASSWD'
	PASS $PASSWORD
	!sh chmod 644 '$PASSWD'
	USER alice
	PASS $PASSWORD
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "-ERR [SYS/TEMP] cannot read the account database" ]
	[ "${lines[4]}" = "+OK alice has 0 messages (0 octets)" ]
}

@test "started as a normal user without --passwd: the unreadable shadow file gives -ERR [SYS/TEMP], for every name" {
	local name uid gid
	name=$(auth_name self)
	auth_user "$name"
	auth_password "$name" YESCRYPT "pw-$name"
	uid=$(id -u "$name") gid=$(id -g "$name")
	auth_spool "$name"
	syslog_start
	asuser "$uid" "$gid" <<-EOF
	USER $name
	PASS pw-$name
	USER p3a_no_such_user
	PASS pw-$name
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "-ERR [SYS/TEMP] cannot read the account database" ]
	# the same for a name that does not exist: no user enumeration
	[ "${lines[4]}" = "-ERR [SYS/TEMP] cannot read the account database" ]
	syslog_wait "cannot read the shadow file"
}

# ---------------------------------------------------------------------
# pop3d --check-user

# The mailbox, its directory and their times, to compare before/after.
snapshot() {
	{
		stat -c '%n %s %Y %Z %i %a %U:%G' "$MBOX" "$(dirname "$MBOX")"
		sha256sum "$MBOX"
		ls -a "$(dirname "$MBOX")"
	} 2>&1
}

@test "--check-user: a system account with a mailbox: source, path, readable/writable, lock state; nothing touched" {
	local name uid gid before size octets
	name=$(auth_name check)
	auth_user "$name"
	auth_password "$name" YESCRYPT "pw-$name"
	uid=$(id -u "$name") gid=$(id -g "$name")
	auth_spool "$name"
	MBOX=$SPOOL/$name
	mbox_make 2
	chown "$name:" "$MBOX"
	size=$(stat -c %s "$MBOX")
	octets=$(python3 "$TESTS/lib/mbox.py" sizes "$MBOX" |
	    awk '{ s += $2 } END { print s }')
	before=$(snapshot)
	sleep 1.1	# a changed mtime/ctime would show
	run "$POP3D" --check-user "$name" -m "$SPOOL/%u" < /dev/null
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "user:     $name
source:   system accounts
uid/gid:  $uid/$gid
home:     $BATS_TEST_TMPDIR
login:    allowed (with the right password)
privsep:  before login a process as pop3d, chrooted to /var/lib/pop3d/empty
maildrop: $MBOX
mailbox:  $size bytes, readable and writable, mbox format, 2 messages ($octets octets)
index:    $MBOX.pop3d-index does not exist (written at the end of a session)
fcntl:    free
dotlock:  $MBOX.lock can be created" ]
	[ "$(snapshot)" = "$before" ]
}

@test "--check-user: a --passwd user without a mailbox: the file is named, the mailbox is not created" {
	local before
	before=$(snapshot)
	run "$POP3D" --check-user alice -p "$PASSWD" -m "$SPOOL/%u" < /dev/null
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "source:   passwd file $PASSWD" ]
	[ "${lines[2]}" = "uid/gid:  5000/5000" ]
	[[ "$output" == *"
maildrop: $MBOX
mailbox:  does not exist (an empty maildrop; it is not created)
index:    $MBOX.pop3d-index not needed (no mail)
dotlock:  $MBOX.lock can be created" ]]
	[ ! -e "$MBOX" ]
	[ "$(snapshot)" = "$before" ]
}

@test "--check-user: a held dotlock and a held fcntl lock are reported and fail the check" {
	local before i
	mbox_make 1
	# an MDA holding the fcntl lock (bounded: 30 s at most)
	python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(30)' "$MBOX" "$BATS_TEST_TMPDIR/locked" &
	HOLDER_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -e "$BATS_TEST_TMPDIR/locked" ] && break
		sleep 0.05
	done
	[ -e "$BATS_TEST_TMPDIR/locked" ]
	echo "$HOLDER_PID" > "$MBOX.lock"
	before=$(snapshot)
	run "$POP3D" --check-user alice -p "$PASSWD" -m "$SPOOL/%u" < /dev/null
	echo "$output" >&2
	[ "$status" -eq 1 ]
	[[ "$output" == *"
fcntl:    locked now by pid $HOLDER_PID
dotlock:  $MBOX.lock exists ("*" s old)"* ]]
	[ "$(snapshot)" = "$before" ]
	[ "$(cat "$MBOX.lock")" = "$HOLDER_PID" ]
}

@test "--check-user: a root:mail 2775 spool needs the mail group, kept as a saved gid" {
	local name
	name=$(auth_name chks)
	auth_user "$name"
	auth_password "$name" SHA512 "pw-$name"
	SPOOL=$BATS_TEST_TMPDIR/varmail
	mkdir "$SPOOL"
	chown root:mail "$SPOOL"
	chmod 2775 "$SPOOL"
	MBOX=$SPOOL/$name
	run "$POP3D" --check-user "$name" -m "$SPOOL/%u" < /dev/null
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[[ "$output" == *"
maildrop: $MBOX
spool:    the user needs group mail to create $MBOX.lock; pop3d keeps it as a saved gid
mailbox:  does not exist (an empty maildrop; it is not created)
index:    $MBOX.pop3d-index not needed (no mail)
dotlock:  $MBOX.lock can be created" ]]
	[ ! -e "$MBOX" ]
}

@test "--check-user: unknown, locked and invalid users are reported and exit 1" {
	local name
	run "$POP3D" --check-user p3a_no_such_user < /dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "user:     p3a_no_such_user
source:   system accounts
result:   no such user" ]
	name=$(auth_name chkl)
	auth_user "$name"
	auth_password "$name" MD5 "pw-$name"
	auth_retry usermod -L "$name"
	auth_spool
	run "$POP3D" --check-user "$name" -m "$SPOOL/%u" < /dev/null
	[ "$status" -eq 1 ]
	[ "${lines[4]}" = "login:    refused: account is locked" ]
	run "$POP3D" --check-user '../etc' < /dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "../etc: not a valid user name" ]
}
