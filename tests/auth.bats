#!/usr/bin/env bats
# USER/PASS against the system accounts and a --passwd file: the crypt
# methods, account states, root and --min-uid, malformed passwd lines,
# uniform failure replies and timing, --fail-delay, the failure limit,
# response codes, and user names refused before any lookup.
#
# System accounts are made with useradd + chpasswd -c METHOD (bcrypt via
# libxcrypt and usermod -p) and removed in teardown.

load lib/helper
load lib/accounts

setup() {
	setup_maildrop
	auth_spool
}

teardown() {
	auth_teardown
}

# ---------------------------------------------------------------------
# System accounts: the five crypt methods

# A new account with METHOD logs in with its password only.
method_login() {
	local method=$1 name pw="right $1 pass-phrase"
	name=$(auth_name "${method,,}")
	auth_user "$name"
	auth_password "$name" "$method" "$pw"
	sysacct <<-EOF
	USER $name
	PASS wrong-$method
	USER $name
	PASS ${pw}x
	USER $name
	PASS $pw
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	[ "${lines[4]}" = "$AUTH_FAIL_REPLY" ]
	[ "${lines[6]}" = "+OK $name has 0 messages (0 octets)" ]
	[ "${lines[7]}" = "+OK pop3d signing off (0 messages deleted, 0 left)" ]
}

@test "system account, yescrypt (chpasswd -c YESCRYPT): right password in, wrong out" {
	method_login YESCRYPT
}

@test "system account, sha512crypt (chpasswd -c SHA512): right password in, wrong out" {
	method_login SHA512
}

@test "system account, sha256crypt (chpasswd -c SHA256): right password in, wrong out" {
	method_login SHA256
}

@test "system account, md5crypt (chpasswd -c MD5): right password in, wrong out" {
	method_login MD5
}

@test "system account, bcrypt (libxcrypt hash, usermod -p): right password in, wrong out" {
	method_login BCRYPT
}

# ---------------------------------------------------------------------
# System accounts: states that must fail

# try_login NAME PASSWORD [pop3d options]: one attempt; $status, $output
try_login() {
	local name=$1 pw=$2
	shift 2
	sysacct -- "$@" <<-EOF
	USER $name
	PASS $pw
	QUIT
	EOF
}

@test "system account locked with usermod -L (!hash) fails with its right password; unlocked, it logs in" {
	local name
	name=$(auth_name locked)
	auth_user "$name"
	auth_password "$name" YESCRYPT "pw-$name"
	auth_retry usermod -L "$name"
	[[ $(auth_shadow_hash "$name") == '!$y$'* ]]
	syslog_start
	try_login "$name" "pw-$name"
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	syslog_wait "login refused for $name: account is locked"
	auth_retry usermod -U "$name"
	try_login "$name" "pw-$name"
	[ "${lines[2]}" = "+OK $name has 0 messages (0 octets)" ]
}

@test "system accounts with hash \"!\" or \"*\" never log in" {
	local name hash
	syslog_start
	for hash in '!' '*'; do
		name=$(auth_name star)
		auth_user "$name"
		auth_retry usermod -p "$hash" "$name"
		[ "$(auth_shadow_hash "$name")" = "$hash" ]
		sysacct <<-EOF
		USER $name
		PASS $hash
		USER $name
		PASS x
		QUIT
		EOF
		[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
		[ "${lines[4]}" = "$AUTH_FAIL_REPLY" ]
		syslog_wait "login refused for $name: account is locked"
	done
}

@test "system account with an empty hash fails with an empty and any other password" {
	local name
	name=$(auth_name empty)
	auth_user "$name"
	auth_retry usermod -p '' "$name"
	[ "$(getent shadow "$name" | cut -d: -f2)" = "" ]
	syslog_start
	sysacct <<-EOF
	USER $name
	!send PASS \r\n
	!read
	USER $name
	PASS x
	QUIT
	EOF
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	[ "${lines[4]}" = "$AUTH_FAIL_REPLY" ]
	syslog_wait "login refused for $name: empty password hash"
}

@test "system account expired (chage -E yesterday, or today) fails; with a future date it logs in" {
	local name
	name=$(auth_name expired)
	auth_user "$name"
	auth_password "$name" YESCRYPT "pw-$name"
	syslog_start
	auth_retry chage -E "$(date -d yesterday +%F)" "$name"
	try_login "$name" "pw-$name"
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	syslog_wait "login refused for $name: account has expired"
	auth_retry chage -E "$(date -d '+2 days' +%F)" "$name"
	try_login "$name" "pw-$name"
	[ "${lines[2]}" = "+OK $name has 0 messages (0 octets)" ]
	# shadow(5), as login(1) reads it: disabled on the expiry day itself
	auth_retry chage -E "$(date -u +%F)" "$name"
	try_login "$name" "pw-$name"
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
}

@test "system account whose password must be changed (chage -d 0) fails" {
	local name
	name=$(auth_name mustchg)
	auth_user "$name"
	auth_password "$name" SHA512 "pw-$name"
	try_login "$name" "pw-$name"
	[ "${lines[2]}" = "+OK $name has 0 messages (0 octets)" ]
	syslog_start
	auth_retry chage -d 0 "$name"
	try_login "$name" "pw-$name"
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	syslog_wait "login refused for $name: password must be changed"
}

@test "system account whose password aged out (last change + max days in the past) fails" {
	local name
	name=$(auth_name aged)
	auth_user "$name"
	auth_password "$name" SHA256 "pw-$name"
	syslog_start
	auth_retry chage -d 2000-01-01 -M 30 "$name"
	try_login "$name" "pw-$name"
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	syslog_wait "login refused for $name: password has expired"
	# changed today, 30 days to go: fine
	auth_retry chage -d "$(date +%F)" -M 30 "$name"
	try_login "$name" "pw-$name"
	[ "${lines[2]}" = "+OK $name has 0 messages (0 octets)" ]
}

@test "root never logs in: USER root, and a uid-0 account with a known password even with --min-uid 0" {
	local name
	try_login root "anything"
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	try_login root "" --min-uid 0
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	# a second uid-0 name (as some hosts have "toor"), password known
	name=$(auth_name root)
	auth_user "$name" -o -u 0 -N -g nogroup
	[ "$(id -u "$name")" = 0 ]
	auth_password "$name" YESCRYPT "pw-$name"
	syslog_start
	try_login "$name" "pw-$name" --min-uid 0
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	try_login "$name" "pw-$name"
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	syslog_wait "login refused for $name: uid 0 never logs in"
}

@test "--min-uid: default 1000 keeps a system uid out; --min-uid at its uid lets it in, one above does not" {
	local name uid
	name=$(auth_name sys)
	auth_user "$name" -r
	uid=$(id -u "$name")
	[ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ]
	auth_password "$name" YESCRYPT "pw-$name"
	syslog_start
	try_login "$name" "pw-$name"
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	syslog_wait "login refused for $name: uid below --min-uid"
	try_login "$name" "pw-$name" --min-uid "$((uid + 1))"
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	try_login "$name" "pw-$name" --min-uid "$uid"
	[ "${lines[2]}" = "+OK $name has 0 messages (0 octets)" ]
	[ "$status" -eq 0 ]
}

@test "unknown user, wrong password, locked, expired and low-uid system accounts get the same reply" {
	local good locked expired low
	good=$(auth_name good) locked=$(auth_name lock)
	expired=$(auth_name exp) low=$(auth_name low)
	auth_user "$good"
	auth_user "$locked"
	auth_user "$expired"
	auth_user "$low" -r
	for n in "$good" "$locked" "$expired" "$low"; do
		auth_password "$n" YESCRYPT "pw-$n"
	done
	auth_retry usermod -L "$locked"
	auth_retry chage -E 1 "$expired"
	try_login "p3a_nosuchuser" "pw-x"
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	try_login "$good" "pw-wrong"
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	for n in "$locked" "$expired" "$low"; do
		try_login "$n" "pw-$n"
		[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	done
}

# ---------------------------------------------------------------------
# Timing: an unknown name costs what a wrong password costs

# time_pairs KNOWN UNKNOWN [pop3d options]: 20 sessions, each timing
# PASS for the known name (wrong password) and the unknown one, in
# alternating order; leaves the round-trip times in $BATS_TEST_TMPDIR/{known,unknown}.
time_pairs() {
	local known=$1 unknown=$2 i first second t1 t2
	shift 2
	: > "$BATS_TEST_TMPDIR/known"
	: > "$BATS_TEST_TMPDIR/unknown"
	for ((i = 0; i < 20; i++)); do
		if ((i % 2)); then first=$known second=$unknown
		else first=$unknown second=$known; fi
		client --times -- "$POP3D" -d 0 "$@" <<-EOF
		USER $first
		PASS not-the-password-$i
		USER $second
		PASS not-the-password-$i
		QUIT
		EOF
		[ "$status" -eq 0 ]
		[ "${lines[2]#*$'\t'}" = "$AUTH_FAIL_REPLY" ]
		[ "${lines[4]#*$'\t'}" = "$AUTH_FAIL_REPLY" ]
		t1=${lines[2]%%$'\t'*} t2=${lines[4]%%$'\t'*}
		if ((i % 2)); then
			echo "$t1" >> "$BATS_TEST_TMPDIR/known"
			echo "$t2" >> "$BATS_TEST_TMPDIR/unknown"
		else
			echo "$t1" >> "$BATS_TEST_TMPDIR/unknown"
			echo "$t2" >> "$BATS_TEST_TMPDIR/known"
		fi
	done
	KNOWN_MEDIAN=$(auth_median < "$BATS_TEST_TMPDIR/known")
	UNKNOWN_MEDIAN=$(auth_median < "$BATS_TEST_TMPDIR/unknown")
	echo "median PASS round trip: known $KNOWN_MEDIAN s, unknown $UNKNOWN_MEDIAN s" >&2
}

# The dummy hash imitates the method most shadow hashes use: make sure
# that is yescrypt at Debian's default cost, whatever else is on the host.
yescrypt_majority() {
	local i
	for ((i = 0; i < 10; i++)); do
		getent shadow | cut -d: -f2 | awk -F'$' '
		    /^\$/ { k = "$" $2 "$"
			    if ($2 ~ /^(y|gy|2a|2b|2y|7)$/ || $3 ~ /^rounds=/)
				    k = k $3 "$"
			    n[k]++ }
		    END { y = n["$y$j9T$"]; for (k in n)
			    if (k != "$y$j9T$" && n[k] >= y) exit 1 }' &&
		    return 0
		local extra
		extra=$(auth_name extra)
		auth_user "$extra"
		auth_password "$extra" YESCRYPT "pw-$extra"
	done
	echo "cannot make yescrypt the most used method in /etc/shadow" >&2
	return 1
}

@test "timing: unknown user and wrong password of a yescrypt system account take the same time (medians of 20 within 20%)" {
	local name
	name=$(auth_name timing)
	auth_user "$name"
	auth_password "$name" YESCRYPT "pw-$name"
	[[ $(auth_shadow_hash "$name") == '$y$j9T$'* ]]
	yescrypt_majority
	time_pairs "$name" "p3a_no_such_user" -m "$SPOOL/%u"
	auth_within "$KNOWN_MEDIAN" "$UNKNOWN_MEDIAN" 20
}

@test "timing: unknown user and wrong password of a yescrypt --passwd user take the same time (medians of 20 within 20%)" {
	local hash
	hash=$(auth_hash '$y$' "pw-yes")
	printf 'yes:%s:5000:5000:Y:%s:/bin/sh\n' "$hash" "$BATS_TEST_TMPDIR" \
	    > "$PASSWD"
	time_pairs yes nosuchuser -p "$PASSWD" -m "$SPOOL/%u"
	auth_within "$KNOWN_MEDIAN" "$UNKNOWN_MEDIAN" 20
}

# ---------------------------------------------------------------------
# --passwd FILE

@test "--passwd: users hashed with each of the five methods log in with the right password only" {
	local m i=0 hash
	chmod 1777 "$SPOOL"
	for m in $AUTH_METHODS; do
		hash=$(auth_hash "$(auth_prefix "$m")" "pw $m")
		printf '%s:%s:%d:5000:%s:%s:/bin/sh\n' "${m,,}" "$hash" \
		    "$((5001 + i++))" "$m" "$BATS_TEST_TMPDIR" >> "$PASSWD"
	done
	for m in $AUTH_METHODS; do
		pop3 <<-EOF
		USER ${m,,}
		PASS pw $m!
		USER ${m,,}
		PASS pw $m
		QUIT
		EOF
		[ "$status" -eq 0 ]
		[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
		[ "${lines[4]}" = "+OK ${m,,} has 0 messages (0 octets)" ]
	done
}

@test "--passwd: locked, empty, uid 0 and low-uid entries fail; --min-uid lets the low uid in, never uid 0" {
	local h
	h=$(auth_hash '$6$' pw)
	chmod 1777 "$SPOOL"
	{
		printf 'bang:!:5010:5000::%s:/bin/sh\n' "$BATS_TEST_TMPDIR"
		printf 'star:*:5011:5000::%s:/bin/sh\n' "$BATS_TEST_TMPDIR"
		printf 'locked:!%s:5012:5000::%s:/bin/sh\n' "$h" "$BATS_TEST_TMPDIR"
		printf 'empty::5013:5000::%s:/bin/sh\n' "$BATS_TEST_TMPDIR"
		printf 'toor:%s:0:0::%s:/bin/sh\n' "$h" "$BATS_TEST_TMPDIR"
		printf 'low:%s:999:999::%s:/bin/sh\n' "$h" "$BATS_TEST_TMPDIR"
		printf 'fine:%s:5014:5000::%s:/bin/sh\n' "$h" "$BATS_TEST_TMPDIR"
	} >> "$PASSWD"
	syslog_start
	for u in bang star locked empty toor low; do
		pop3 <<-EOF
		USER $u
		PASS pw
		QUIT
		EOF
		[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	done
	pop3 <<-EOF
	USER empty
	!send PASS \r\n
	!read
	QUIT
	EOF
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	syslog_wait "login refused for locked: account is locked"
	syslog_wait "login refused for empty: empty password hash"
	syslog_wait "login refused for toor: uid 0 never logs in"
	syslog_wait "login refused for low: uid below --min-uid"
	pop3 -- --min-uid 999 <<-EOF
	USER low
	PASS pw
	QUIT
	EOF
	[ "${lines[2]}" = "+OK low has 0 messages (0 octets)" ]
	pop3 -- --min-uid 0 <<-EOF
	USER toor
	PASS pw
	QUIT
	EOF
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	pop3 <<-EOF
	USER fine
	PASS pw
	QUIT
	EOF
	[ "${lines[2]}" = "+OK fine has 0 messages (0 octets)" ]
}

@test "--passwd: a refused account is not let in by the password of the account whose hash stood in for its own" {
	# a refused account's password is checked against another account's
	# hash (alice's, the file's most common method), for equal timing:
	# alice's password must still not open it
	local h
	h=$(auth_hash '$6$' pw-other)
	chmod 1777 "$SPOOL"
	{
		printf 'low:%s:999:999::%s:/bin/sh\n' "$h" "$BATS_TEST_TMPDIR"
		printf 'locked:!%s:5012:5000::%s:/bin/sh\n' "$h" "$BATS_TEST_TMPDIR"
	} >> "$PASSWD"
	for u in low locked; do
		pop3 <<-EOF
		USER $u
		PASS $PASSWORD
		QUIT
		EOF
		[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	done
	# and alice's password is the right one for alice
	pop3 <<-EOF
	$LOGIN
	QUIT
	EOF
	[[ "${lines[2]}" == "+OK alice has "* ]]
}

@test "--passwd: the home directory comes from the file (%h in --maildrop)" {
	local home=$BATS_TEST_TMPDIR/home-bob h
	mkdir -p "$home"
	chown 5001:5001 "$home"
	h=$(auth_hash '$5$' "bob pw")
	printf 'bob:%s:5001:5001:Bob:%s:/bin/sh\n' "$h" "$home" >> "$PASSWD"
	MBOX=$home/mbox
	mbox_make 2
	chown 5001:5001 "$MBOX"
	pop3 -- -m '%h/mbox' <<-EOF
	USER bob
	PASS bob pw
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "+OK bob has 2 messages (104 octets)" ]
	[ "${lines[3]}" = "+OK 2 104" ]
}

@test "--passwd: malformed lines are skipped with a syslog warning naming the line, and the good ones still work" {
	local h long
	h=$(auth_hash '$6$' "pw2")
	long=$(printf 'x%.0s' {1..1100})
	{
		echo 'garbage'						# 2
		printf 'bob:%s:notanumber:5000:B:/:/bin/sh\n' "$h"	# 3
		printf 'carol:%s:5002:5000:C:/:/bin/sh:extra\n' "$h"	# 4
		printf 'dave:%s:5003:5000:%s:/:/bin/sh\n' "$h" "$long"	# 5
		printf 'nul\0l:%s:5004:5000:N:/:/bin/sh\n' "$h"		# 6
		echo							# 7
		echo '# a comment'					# 8
		printf 'erin:%s:-1:5000:E:/:/bin/sh\n' "$h"		# 9
		printf 'fred:%s:4294967296:5000:F:/:/bin/sh\n' "$h"	# 10
		printf ':%s:5005:5000:F:/:/bin/sh\n' "$h"		# 11
		printf 'gina:%s:5006:x:G:/:/bin/sh\n' "$h"		# 12
		printf 'bob:%s:5001:5000:B:%s:/bin/sh' "$h" "$BATS_TEST_TMPDIR"	# 13, no newline
	} >> "$PASSWD"
	chmod 1777 "$SPOOL"
	syslog_start
	pop3 <<-EOF
	USER alice
	PASS $PASSWORD
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "+OK alice has 0 messages (0 octets)" ]
	pop3 <<-EOF
	USER bob
	PASS pw2
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "+OK bob has 0 messages (0 octets)" ]
	pop3 <<-EOF
	USER carol
	PASS pw2
	USER dave
	PASS pw2
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	[ "${lines[4]}" = "$AUTH_FAIL_REPLY" ]
	for n in 2 3 4 5 6 9 10 11 12; do
		syslog_wait "$PASSWD:$n: malformed line skipped"
	done
	for n in 1 7 8 13; do
		! grep -q "$PASSWD:$n: " "$SYSLOG_FILE"
	done
	! grep -qi 'sanitizer\|runtime error' "$SYSLOG_FILE"
}

@test "--passwd: a file that vanishes before PASS gives -ERR [SYS/TEMP]; back again, the login works" {
	syslog_start
	pop3 <<-EOF
	USER alice
	!sh mv '$PASSWD' '$PASSWD.away'
	PASS $PASSWORD
	!sh mv '$PASSWD.away' '$PASSWD'
	USER alice
	PASS $PASSWORD
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "-ERR [SYS/TEMP] cannot read the account database" ]
	[ "${lines[4]}" = "+OK alice has 0 messages (0 octets)" ]
	syslog_wait "open $PASSWD: No such file or directory"
}

@test "--passwd: a missing file at start is exit 2 with one -ERR [SYS/TEMP] line" {
	rm -f "$PASSWD"
	client -- "$POP3D" -p "$PASSWD" <<-EOF
	USER alice
	EOF
	[ "$status" -eq 2 ]
	[ "$output" = "-ERR [SYS/TEMP] server configuration error" ]
}

# ---------------------------------------------------------------------
# Failures: delay, limit, codes

@test "--fail-delay 1: a failed PASS answers after about 1 s, a good one at once" {
	client --times -- "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 1 <<-EOF
	USER alice
	PASS wrong
	USER alice
	PASS $PASSWORD
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]#*$'\t'}" = "$AUTH_FAIL_REPLY" ]
	[ "${lines[4]#*$'\t'}" = "+OK alice has 0 messages (0 octets)" ]
	awk -v t="${lines[2]%%$'\t'*}" 'BEGIN { exit !(t >= 1.0 && t < 4.0) }'
	awk -v t="${lines[4]%%$'\t'*}" 'BEGIN { exit !(t < 0.9) }'
}

@test "--fail-delay: the default is 2 s, and 0 answers at once" {
	client --times -- "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" <<-EOF
	USER alice
	PASS wrong
	QUIT
	EOF
	[ "${lines[2]#*$'\t'}" = "$AUTH_FAIL_REPLY" ]
	awk -v t="${lines[2]%%$'\t'*}" 'BEGIN { exit !(t >= 2.0 && t < 5.0) }'
	client --times -- "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0 <<-EOF
	USER alice
	PASS wrong
	QUIT
	EOF
	[ "${lines[2]#*$'\t'}" = "$AUTH_FAIL_REPLY" ]
	awk -v t="${lines[2]%%$'\t'*}" 'BEGIN { exit !(t < 0.9) }'
}

@test "three failed logins end the connection; the right password is not even read after that" {
	syslog_start
	client -- "${LOGWRAP[@]}" "$POP3D" -p "$PASSWD" -m "$SPOOL/%u" -d 0 <<-EOF
	USER alice
	PASS wrong1
	USER nobody
	PASS wrong2
	USER alice
	PASS wrong3
	USER alice
	PASS $PASSWORD
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "$AUTH_FAIL_REPLY" ]
	[ "${lines[4]}" = "$AUTH_FAIL_REPLY" ]
	[ "${lines[6]}" = "$AUTH_FAIL_REPLY; too many failures, closing" ]
	[ "${#lines[@]}" -eq 7 ]
	syslog_wait "session end: .*end=too many failed logins"
	! grep -q "login: user=alice" "$SYSLOG_FILE"
}

@test "failures carry [AUTH] (AUTH-RESP-CODE is in CAPA); PASS without USER has no code" {
	pop3 <<-EOF
	CAPA
	PASS $PASSWORD
	USER alice
	PASS wrong
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ "$output" == *$'\nRESP-CODES\n'* ]]
	[[ "$output" == *$'\nAUTH-RESP-CODE\n'* ]]
	[[ "$output" == *$'\n-ERR give USER first\n'* ]]
	[[ "$output" == *$'\n'"$AUTH_FAIL_REPLY"$'\n'* ]]
}

# ---------------------------------------------------------------------
# User names refused before any lookup

# With the passwd file gone, any lookup would answer [SYS/TEMP]: an
# [AUTH] refusal shows the name never reached one.
@test "user names with /, .., control characters, a leading - or over 64 octets are refused before any lookup" {
	local long65 pw64 name64
	name64=$(printf 'n%.0s' {1..64})
	long65=${name64}x
	printf '%s:%s:5000:5000::%s:/bin/sh\n' "$name64" \
	    "$(auth_hash '$5$' pw64)" "$BATS_TEST_TMPDIR" >> "$PASSWD"
	# 64 octets is allowed (AUTH PLAIN: USER arguments stop at 40)
	pop3 <<-EOF
	AUTH PLAIN $(printf '\0%s\0pw64' "$name64" | base64 -w0)
	QUIT
	EOF
	[ "${lines[1]}" = "+OK $name64 has 0 messages (0 octets)" ]
	pop3 <<-EOF
	!sh rm -f '$PASSWD'
	USER a/b
	USER ../alice
	USER alice/..
	USER ..
	USER .
	USER -alice
	!send USER al\x01ice\r\n
	!read
	!send USER al\x1bice\r\n
	!read
	!send USER al\x7fice\r\n
	!read
	!send USER alice\x09x\r\n
	!read
	AUTH PLAIN $(printf '\0%s\0pw' "$long65" | base64 -w0)
	AUTH PLAIN $(printf '\0a/b\0pw' | base64 -w0)
	USER $long65
	USER alice
	PASS $PASSWORD
	QUIT
	EOF
	[ "$status" -eq 0 ]
	local i
	for ((i = 1; i <= 10; i++)); do
		[ "${lines[i]}" = "-ERR [AUTH] invalid user name" ]
	done
	[ "${lines[11]}" = "$AUTH_FAIL_REPLY" ]
	[ "${lines[12]}" = "$AUTH_FAIL_REPLY" ]
	# USER arguments stop at 40 octets (RFC 1939)
	[ "${lines[13]}" = "-ERR argument too long" ]
	# and a lookup would indeed have failed
	[ "${lines[14]}" = "+OK send PASS" ]
	[ "${lines[15]}" = "-ERR [SYS/TEMP] cannot read the account database" ]
}
