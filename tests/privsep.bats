#!/usr/bin/env bats
# privsep.bats - privilege separation (README "Security"): the chrooted
# pre-authentication process, root's record reader, the TLS relay, and
# the review's findings (names like side files, gid 0, escaped log text,
# --login-timeout, non-dumpable processes, the fail delay's clock).

load lib/helper
load lib/certs
load lib/launcher
load lib/accounts

setup() {
	setup_maildrop
	tls_certs "$BATS_FILE_TMPDIR"
	LAUNCHER_PID=
	FRONT_UID=$(id -u pop3d)
	FRONT_ROOT=/var/lib/pop3d/empty
}

teardown() {
	tls_stop
	syslog_stop
}

# The first process of user $1 whose parent is $2 (or any, if empty).
proc_of() {
	local pid
	for pid in $(pgrep -U "$1" -x "$(basename "$POP3D" | cut -c1-15)"); do
		[ -z "${2:-}" ] || [ "$(ps -o ppid= -p "$pid" | tr -d ' ')" = "$2" ] ||
		    continue
		echo "$pid"
		return 0
	done
	return 1
}

@test "hostile records (short, oversized, unterminated, NULs, out of order, a forged verdict, bad or late PEER) never yield a login in root's reader" {
	make -s -C "$TESTS/.." tests/unit/gate-test
	run "$TESTS/unit/gate-test" "$PASSWD"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^ok ' <<< "$output")" -ge 24 ]
	# the two control cases are the only logins
	[ "$(grep -c ': LOGIN$' <<< "$output")" -eq 2 ]
	[ "$(grep -c '(control): LOGIN$' <<< "$output")" -eq 2 ]
}

@test "before login the client talks to a chrooted process of the front user with no_new_privs; root is its parent" {
	mbox_make 1
	pop3 -- <<-EOF
	USER alice
	!sh p=\$(pgrep -u $FRONT_UID -n .) && ps -o uid= -p \$(ps -o ppid= -p \$p) | tr -d ' ' > "$BATS_TEST_TMPDIR/ppid" && readlink /proc/\$p/root > "$BATS_TEST_TMPDIR/root" && grep -E '^(NoNewPrivs|Uid|Gid|CapEff)' /proc/\$p/status > "$BATS_TEST_TMPDIR/status" && cat /proc/\$p/limits > "$BATS_TEST_TMPDIR/limits"
	PASS $PASSWORD
	QUIT
	EOF
	[ "$status" -eq 0 ]
	cat "$BATS_TEST_TMPDIR/status"
	[ "$(cat "$BATS_TEST_TMPDIR/root")" = "$FRONT_ROOT" ]
	grep -qE "^Uid:\s+$FRONT_UID\s+$FRONT_UID\s+$FRONT_UID\s+$FRONT_UID$" "$BATS_TEST_TMPDIR/status"
	grep -qE "^NoNewPrivs:\s+1$" "$BATS_TEST_TMPDIR/status"
	grep -qE "^CapEff:\s+0+$" "$BATS_TEST_TMPDIR/status"
	grep -qE "^Max processes +0 +0" "$BATS_TEST_TMPDIR/limits"
	grep -qE "^Max file size +0 +0" "$BATS_TEST_TMPDIR/limits"
	grep -qE "^Max core file size +0 +0" "$BATS_TEST_TMPDIR/limits"
	# its parent runs as root (and reads no client byte: see the strace test)
	[ "$(cat "$BATS_TEST_TMPDIR/ppid")" = 0 ]
	[[ ${lines[2]} == "+OK alice has 1 messages"* ]]
}

@test "a missing front user or chroot directory: exit 2 and a message that says how to create it" {
	run "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" --front-user=nosuchfront < /dev/null
	[ "$status" -eq 2 ]
	[[ $output == *"no user nosuchfront"*"useradd --system"* ]]
	# under a superserver: one -ERR line, exit 2
	pop3 -- --front-user=nosuchfront <<< ""
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "-ERR [SYS/TEMP] server configuration error" ]
	[ "${#lines[@]}" -eq 1 ]
}

@test "strace: no read of the client's socket with euid 0; every read before login by the chrooted front user (plain, STLS, pop3s)" {
	mbox_make 2
	T=$BATS_TEST_TMPDIR
	cat > "$T/traced" <<-EOF
	#!/bin/sh
	# (LeakSanitizer cannot run under ptrace)
	ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0"
	export ASAN_OPTIONS
	exec strace -f -qq -o "$T/trace.\$\$" -e trace=read,readv,recvfrom,recvmsg,pread64,setresuid,setuid,chroot,clone,clone3,fork,vfork,dup,dup2,dup3,fcntl "$POP3D" "\$@"
	EOF
	chmod 755 "$T/traced"
	local real=$POP3D
	POP3D=$T/traced
	# plain: a wrong password, the right one, RETR, QUIT
	pop3 -- <<-EOF
	USER alice
	PASS wrong
	$LOGIN
	RETR 1
	QUIT
	EOF
	[[ $output == *"+OK pop3d signing off"* ]]
	# STLS and implicit TLS, each with a wrong and a right password
	tls_launch --tls-cert "$CERT" --tls-key "$KEY"
	tclient <<-EOF
	!stls
	USER alice
	PASS wrong
	$LOGIN
	RETR 2
	QUIT
	EOF
	[[ $output == *"+OK pop3d signing off"* ]]
	tls_stop
	tls_launch --tls --tls-cert "$CERT" --tls-key "$KEY"
	tclient --tls <<-EOF
	USER alice
	PASS wrong
	$LOGIN
	RETR 1
	QUIT
	EOF
	[[ $output == *"+OK pop3d signing off"* ]]
	tls_stop
	POP3D=$real
	sleep 0.5
	run python3 "$TESTS/lib/socketreaders.py" "$FRONT_UID" "$TEST_UID" "$FRONT_ROOT" "$T"/trace.*
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'problems 0' <<< "$output")" -eq 3 ]
	# the plain session's user part read fd 0 itself after the hand-off
	grep -qE 'user-session reads [1-9]' <<< "$output"
}

# wait (bounded) until process $1 has a child; print it
child_of() {
	local i c
	for ((i = 0; i < 50; i++)); do
		c=$(pgrep -P "$1" | head -1)
		[ -n "$c" ] && { echo "$c"; return 0; }
		sleep 0.1
	done
	return 1
}

@test "over TLS the user's session holds no byte of the private key; the front (the control) does" {
	mbox_make 1
	tls_launch --tls-cert "$CERT" --tls-key "$KEY"
	T=$BATS_TEST_TMPDIR
	timeout 60 python3 "$POP3CLIENT" tcp --cafile "$CERT" "$PORT" > "$T/client.out" <<-EOF &
	!stls
	CAPA
	!sleep 2
	$LOGIN
	RETR 1
	!sleep 8
	QUIT
	EOF
	local client=$! root front i
	root=$(session_pid 1)
	front=$(child_of "$root")
	sleep 1
	run python3 "$TESTS/lib/memscan.py" "$front" "$KEY"
	echo "front $front: $output"
	[ "$status" -eq 1 ]		# the control: the key is there
	for ((i = 0; i < 100; i++)); do	# logged in, RETR done
		[ "$(ps -o uid= -p "$root" | tr -d ' ')" = "$TEST_UID" ] && break
		sleep 0.1
	done
	sleep 0.5
	[ "$(ps -o uid= -p "$root" | tr -d ' ')" = "$TEST_UID" ]
	run python3 "$TESTS/lib/memscan.py" "$root" "$KEY"
	echo "session $root: $output"
	[ "$status" -eq 0 ]
	[[ $output == *"found: nothing" ]]
	wait "$client"
	grep -q "+OK pop3d signing off" "$T/client.out"
}

@test "an account named like a side file (alice.lock, alice.pop3d-journal, .alice) cannot log in, and alice's mailbox is untouched" {
	mbox_make 2
	local hash name before
	hash=$(openssl passwd -6 -salt testsalt "$PASSWORD")
	for name in alice.lock alice.lock.123.host alice.pop3d-journal alice.pop3d-index .alice; do
		printf '%s:%s:%d:%d:X:%s:/bin/sh\n' "$name" "$hash" "$TEST_UID" \
		    "$TEST_GID" "$BATS_TEST_TMPDIR" >> "$PASSWD"
	done
	before=$(sha256sum < "$MBOX")
	for name in alice.lock alice.lock.123.host alice.pop3d-journal alice.pop3d-index .alice; do
		pop3 -- <<-EOF
		USER $name
		PASS $PASSWORD
		AUTH PLAIN $(printf '\0%s\0%s' "$name" "$PASSWORD" | base64 -w0)
		QUIT
		EOF
		[ "${lines[1]}" = "-ERR [AUTH] invalid user name" ]
		[ "${lines[2]}" = "-ERR give USER first" ]
		[ "${lines[3]}" = "-ERR [AUTH] invalid user name or password" ]
		[ "${lines[4]}" = "+OK pop3d signing off" ]
	done
	[ "$(sha256sum < "$MBOX")" = "$before" ]
	[ "$(ls "$SPOOL")" = alice ]
	pop3 -- <<-EOF
	$LOGIN
	QUIT
	EOF
	[[ ${lines[2]} == "+OK alice has 2 messages"* ]]
}

@test "an account with gid 0 never logs in (--passwd and system accounts)" {
	local hash
	hash=$(openssl passwd -6 -salt testsalt "$PASSWORD")
	printf 'wheel0:%s:5001:0:X:%s:/bin/sh\n' "$hash" "$BATS_TEST_TMPDIR" >> "$PASSWD"
	pop3 -- <<-EOF
	USER wheel0
	PASS $PASSWORD
	QUIT
	EOF
	[ "${lines[2]}" = "-ERR [AUTH] invalid user name or password" ]
	# the control: the same entry with its own gid logs in
	sed -i 's/^wheel0:\(.*\):5001:0:/wheel0:\1:5001:5001:/' "$PASSWD"
	pop3 -- <<-EOF
	USER wheel0
	PASS $PASSWORD
	QUIT
	EOF
	[[ ${lines[2]} == "+OK wheel0 has 0 messages"* ]]
	# a system account in group root
	userdel -f pop3dgid0 2>/dev/null || :
	useradd -M -N -g 0 -u 5077 -s /bin/sh pop3dgid0
	echo "pop3dgid0:$PASSWORD" | chpasswd
	run python3 "$POP3CLIENT" session -- "$POP3D" -m "$SPOOL/%u" -d 0 <<-EOF
	USER pop3dgid0
	PASS $PASSWORD
	QUIT
	EOF
	userdel -f pop3dgid0
	[ "${lines[2]}" = "-ERR [AUTH] invalid user name or password" ]
}

@test "client text in syslog is escaped: a name with ESC and UTF-8 bytes is logged as \\x1b and \\xc3\\xa9" {
	syslog_start
	pop3 -- <<-EOF
	!send USER caf\xc3\xa9\r\n
	!read
	!send PASS wrong\r\n
	!read
	QUIT
	EOF
	local apop=$BATS_TEST_TMPDIR/apop
	echo "alice:s3cret" > "$apop"
	chmod 600 "$apop"
	pop3 -- -a "$apop" <<-EOF
	!send APOP \x1b[31mev\xc3\xa9l 0123456789abcdef0123456789abcdef\r\n
	!read
	QUIT
	EOF
	syslog_wait 'authentication failed: user=caf\\xc3\\xa9 peer=[^ ]+ method=USER$'
	syslog_wait 'authentication failed: user=\\x1b\[31mev\\xc3\\xa9l peer=[^ ]+ method=APOP$'
	# no raw control or 8-bit byte anywhere in the log
	run grep -c -P '[\x00-\x08\x0b-\x1f\x7f-\xff]' "$SYSLOG_FILE"
	[ "$output" = 0 ]
}

@test "--login-timeout 2: a client trickling a byte every 0.3 s is cut off after about 2 s in AUTHORIZATION" {
	local script="" i
	for ((i = 0; i < 30; i++)); do
		script+="!send x"$'\n'"!sleep 0.3"$'\n'
	done
	syslog_start
	local t0=$SECONDS
	pop3 --deadline 20 -- --login-timeout 2 -t 600 <<< "$script"
	local took=$((SECONDS - t0))
	echo "took $took s"
	[ "$status" -eq 0 ]
	[ "$took" -le 5 ]
	# (the client is still sending, so it may miss the last words)
	syslog_wait "autologout: user=- "
	syslog_wait "session end: user=- .* end=timeout$"
	# the control: after login the deadline is over
	mbox_make 1
	pop3 -- --login-timeout 1 <<-EOF
	$LOGIN
	!sleep 1.5
	STAT
	QUIT
	EOF
	[[ ${lines[3]} == "+OK 1 "* ]]
	[ "${lines[4]}" = "+OK pop3d signing off (0 messages deleted, 1 left)" ]
}

@test "no process of a session is dumpable after its credential changes (front, user session)" {
	[[ $POP3D != *asan* ]] || skip "LeakSanitizer needs the process dumpable"
	mbox_make 1
	T=$BATS_TEST_TMPDIR
	# with fs.suid_dumpable 1 the kernel makes a process dumpable again at
	# every credential change (proc(5)): only pop3d's own prctl after each
	# change keeps it non-dumpable
	local was
	was=$(cat /proc/sys/fs/suid_dumpable)
	echo 1 > /proc/sys/fs/suid_dumpable
	pop3 -- <<-EOF
	USER alice
	!sh r=\$(pgrep -P \$PPID -x "$(basename "$POP3D" | cut -c1-15)"); stat -c %u /proc/\$(pgrep -P \$r)/status > "$T/front"
	PASS $PASSWORD
	!sh r=\$(pgrep -P \$PPID -x "$(basename "$POP3D" | cut -c1-15)"); stat -c %u /proc/\$r/status > "$T/user"; ps -o uid= -p \$r | tr -d ' ' > "$T/uid"
	QUIT
	EOF
	echo "$was" > /proc/sys/fs/suid_dumpable
	[ "$status" -eq 0 ]
	# the files in /proc/PID of a non-dumpable process belong to root
	[ "$(cat "$T/uid")" = "$TEST_UID" ]	# the session, as the user
	[ "$(cat "$T/front")" = 0 ]
	[ "$(cat "$T/user")" = 0 ]
}

@test "fail delay from the command's arrival: an unknown user, a yescrypt and an md5crypt account answer within 30 ms of each other" {
	local y m
	y=$(printf '%s' "$PASSWORD" | python3 "$TESTS/lib/crypthash.py" '$y$')
	m=$(openssl passwd -1 -salt abcdefgh "$PASSWORD")
	printf 'yes:%s:5000:5000:Y:%s:/bin/sh\nmd5:%s:5000:5000:M:%s:/bin/sh\n' \
	    "$y" "$BATS_TEST_TMPDIR" "$m" "$BATS_TEST_TMPDIR" >> "$PASSWD"
	local who i t med=()
	for who in yes md5 nosuchuser; do
		: > "$BATS_TEST_TMPDIR/t"
		for ((i = 0; i < 5; i++)); do
			client --times -- "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 1 <<-EOF
			USER $who
			PASS wrong
			QUIT
			EOF
			[ "${lines[2]#*$'\t'}" = "$AUTH_FAIL_REPLY" ]
			echo "${lines[2]%%$'\t'*}" >> "$BATS_TEST_TMPDIR/t"
		done
		med+=("$(auth_median < "$BATS_TEST_TMPDIR/t")")
	done
	echo "medians: yescrypt ${med[0]} md5crypt ${med[1]} unknown ${med[2]}"
	awk -v a="${med[0]}" -v b="${med[1]}" -v c="${med[2]}" 'BEGIN {
	    hi = a; lo = a
	    if (b > hi) hi = b; if (c > hi) hi = c
	    if (b < lo) lo = b; if (c < lo) lo = c
	    exit !(lo >= 0.99 && hi - lo < 0.03) }'
}

@test "channel: a pipelined STAT, then a RETR of a message that changes mid-send: STAT's reply arrives, then the RETR is refused or cut" {
	# one message that fits the output buffer: everything stays corked
	# until the RETR ends, so a cut must keep STAT's reply
	python3 - "$MBOX" <<-'PY'
	import sys
	body = b"".join(b"line %06d of a long message\n" % i for i in range(6000))
	with open(sys.argv[1], "wb") as f:
	    f.write(b"From a@example.org Mon Jan  1 00:00:00 2024\nSubject: big\n\n" + body + b"\n")
	    f.write(b"From b@example.org Mon Jan  1 00:00:00 2024\nSubject: small\n\nsmall\n")
	PY
	chown "$TEST_UID:$TEST_GID" "$MBOX"
	chmod 600 "$MBOX"
	T=$BATS_TEST_TMPDIR
	local script="$LOGIN
!send STAT\r\nRETR 1\r\n
!sleep 4"
	# a dry run: the session's last pread is the RETR's read of message 1
	# (with the messages after it when they fit one read: emit.c; no
	# index: both sessions must read the mailbox the same way)
	run python3 "$POP3CLIENT" session -- strace -f -qq -o "$T/dry" -e trace=pread64 \
	    "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0 -t 2 --no-index <<< "$script"
	local main k
	main=$(grep -m1 ', 180125, 0) = 180125' "$T/dry" | awk '{ print $1 }')
	k=$(grep -cE "^$main +pread64\(" "$T/dry")
	# that last read covers message 1, octets 44 to 180058
	grep -E "^$main +pread64\(" "$T/dry" | tail -1 |
	    sed -E 's/.*, ([0-9]+)\) += ([0-9]+)$/\1 \2/' |
	    { read -r off got; [ "$off" -le 44 ] && [ $((off + got)) -ge 180058 ]; }
	# that read returns, then waits 2 s; meanwhile another program
	# rewrites the message in place (same size, same times would be a
	# different test): the proof after the last byte fails
	(
		for ((i = 0; i < 200; i++)); do
			m=$(head -1 "$T/trace" 2>/dev/null | awk '{ print $1 }')
			n=$(grep -cE "^${m:-x} +pread64\(" "$T/trace" 2>/dev/null || :)
			[ "${n:-0}" -ge $((k - 1)) ] && break
			sleep 0.05
		done
		sleep 0.5
		python3 -c 'import sys; p=sys.argv[1]; d=bytearray(open(p,"rb").read()); d[100000:100010]=b"XXXXXXXXXX"; open(p,"r+b").write(bytes(d))' "$MBOX"
	) 3>&- 2> "$T/writer.err" &
	local writer=$!
	run python3 "$POP3CLIENT" session -- strace -f -qq -o "$T/trace" -e trace=pread64 \
	    -e inject=pread64:delay_exit=2000000:when=$k \
	    "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0 --no-index <<< "$script"
	wait "$writer" || :
	grep -q XXXXXXXXXX "$MBOX" || { cat "$T/writer.err"; return 1; }
	printf '%s\n' "${lines[@]:0:5}"
	echo "... ${#lines[@]} lines, the last: ${lines[-1]}"
	[[ ${lines[3]} == "+OK 2 "* ]]			# STAT's reply is there
	# the RETR is refused (the proof after the read ahead fails before
	# "+OK") or its response is cut: never a final "." (nor bytes the
	# index does not describe); the session ends
	[ "${lines[-1]}" != "." ]
	[[ ${lines[4]} == "-ERR"* ]] || [[ ${lines[4]} == "+OK 180"* ]]
	[[ $output != *"XXXXXXXXXX"* ]]
	[[ $output != *"small"* ]]
}

@test "started as a normal user: one process, no separation, and --check-user says so" {
	mbox_make 1
	chmod 644 "$PASSWD"
	run setpriv --reuid "$TEST_UID" --regid "$TEST_GID" --clear-groups \
	    "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -C alice < /dev/null
	echo "$output"
	[[ $output == *"privsep:  none: not started as root, so the session is one process"* ]]
	T=$BATS_TEST_TMPDIR
	run python3 "$POP3CLIENT" session -- setpriv --reuid "$TEST_UID" \
	    --regid "$TEST_GID" --clear-groups \
	    "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0 <<-EOF
	USER alice
	!sh for p in \$(pgrep -P \$PPID -x "$(basename "$POP3D" | cut -c1-15)"); do pgrep -c -P \$p; done > "$T/n"
	PASS $PASSWORD
	QUIT
	EOF
	[[ ${lines[2]} == "+OK alice has 1 messages"* ]]
	[ "$(cat "$T/n")" = 0 ]		# pop3d has no child
}
