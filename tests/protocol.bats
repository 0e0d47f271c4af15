#!/usr/bin/env bats
# RFC 1939 / 2449 / 3206 as pop3d.8 "Protocol" says: every command in the
# states where it is valid and where it is not, CAPA, response codes,
# PIPELINING, the autologout timer, exit statuses, and the options.

bats_require_minimum_version 1.5.0

load lib/helper
load lib/mailbox

setup() {
	setup_maildrop
	OUT=$BATS_TEST_TMPDIR/out
	mkdir -p "$OUT"
}

teardown() {
	syslog_stop
}

# The capabilities pop3d.8 "Protocol" lists in both states (RFC 2449
# section 6).
CAPA_BOTH="AUTH-RESP-CODE
EXPIRE NEVER
PIPELINING
RESP-CODES
TOP
UIDL"

# capa_of FIRST: the CAPA listing starting at ${lines[FIRST]}, sorted,
# with the IMPLEMENTATION line checked and left out.
capa_of() {
	local i=$1
	[[ ${lines[$i]} == "+OK"* ]] || return 1
	for ((i++; i < ${#lines[@]}; i++)); do
		[ "${lines[$i]}" = "." ] && break
		case ${lines[$i]} in
		"IMPLEMENTATION pop3d-"?*) ;;
		*) printf '%s\n' "${lines[$i]}" ;;
		esac
	done | LC_ALL=C sort
}

make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$BATS_TEST_TMPDIR/key.pem" \
	    -out "$BATS_TEST_TMPDIR/cert.pem" -subj /CN=localhost -days 2 \
	    2>/dev/null
}

@test "the greeting has no <timestamp> unless --apop is given; with it APOP works" {
	mbox_make 1
	pop3 <<-EOF
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "+OK "* ]]
	[[ ${lines[0]} != *"<"* ]]
	[[ ${lines[0]} != *">"* ]]
	printf 'alice:an apop secret\n' > "$BATS_TEST_TMPDIR/apop"
	chmod 600 "$BATS_TEST_TMPDIR/apop"
	pop3 -- -a "$BATS_TEST_TMPDIR/apop" <<-EOF
	APOP alice 00000000000000000000000000000000
	APOP alice {APOP:an apop secret}
	STAT
	QUIT
	EOF
	echo "$output"
	[ "$status" -eq 0 ]
	stamp='^\+OK .*<[!-~]+@[!-~]+>$'	# RFC 1939 section 7: a msg-id
	[[ ${lines[0]} =~ $stamp ]]
	[[ ${lines[1]} == "-ERR [AUTH] "* ]]		# a wrong digest
	[ "${lines[2]}" = "+OK alice has 1 messages (52 octets)" ]
	[ "${lines[3]}" = "+OK 1 52" ]
	[[ ${lines[4]} == "+OK"* ]]
}

@test "CAPA in AUTHORIZATION lists exactly what pop3d.8 says" {
	pop3 <<-EOF
	CAPA
	QUIT
	EOF
	[ "$status" -eq 0 ]
	capa_of 1 > "$OUT/capa"
	printf '%s\nSASL PLAIN\nUSER\n' "$CAPA_BOTH" | LC_ALL=C sort |
	    diff - "$OUT/capa"
	[[ $output == *$'\nIMPLEMENTATION pop3d-'?*$'\n.\n+OK'* ]]
}

@test "CAPA in TRANSACTION lists the same without USER, SASL and STLS" {
	pop3 <<-EOF
	$LOGIN
	CAPA
	QUIT
	EOF
	[ "$status" -eq 0 ]
	capa_of 3 > "$OUT/capa"
	printf '%s\n' "$CAPA_BOTH" | diff - "$OUT/capa"
	grep -q '^IMPLEMENTATION pop3d-' <<< "$output"
}

@test "CAPA with a certificate: STLS before TLS, USER and SASL only with --allow-plaintext" {
	needs_tls
	make_cert
	pop3 -- -c "$BATS_TEST_TMPDIR/cert.pem" -k "$BATS_TEST_TMPDIR/key.pem" <<-EOF
	CAPA
	QUIT
	EOF
	[ "$status" -eq 0 ]
	capa_of 1 > "$OUT/capa"
	printf '%s\nSTLS\n' "$CAPA_BOTH" | LC_ALL=C sort | diff - "$OUT/capa"
	pop3 -- -c "$BATS_TEST_TMPDIR/cert.pem" -k "$BATS_TEST_TMPDIR/key.pem" \
	    --allow-plaintext <<-EOF
	CAPA
	$LOGIN
	CAPA
	QUIT
	EOF
	[ "$status" -eq 0 ]
	capa_of 1 > "$OUT/capa"
	printf '%s\nSASL PLAIN\nSTLS\nUSER\n' "$CAPA_BOTH" | LC_ALL=C sort |
	    diff - "$OUT/capa"
	i=$(grep -n '^+OK alice has' <<< "$output" | cut -d: -f1)
	capa_of "$i" > "$OUT/capa"
	printf '%s\n' "$CAPA_BOTH" | diff - "$OUT/capa"
}

@test "what CAPA lists works: USER, SASL PLAIN (initial response and continuation)" {
	mbox_make 1
	plain=$(printf '\0alice\0%s' "$PASSWORD" | base64 -w0)
	pop3 <<-EOF
	AUTH PLAIN $plain
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "+OK alice has 1 messages (52 octets)" ]
	[ "${lines[2]}" = "+OK 1 52" ]
	pop3 <<-EOF
	AUTH PLAIN
	$plain
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "+ " ] || [ "${lines[1]}" = "+" ]
	[ "${lines[2]}" = "+OK alice has 1 messages (52 octets)" ]
	[ "${lines[3]}" = "+OK 1 52" ]
}

@test "every TRANSACTION command with valid arguments" {
	mbox_make 3
	pop3 <<-EOF
	$LOGIN
	STAT
	LIST
	LIST 2
	RETR 2
	TOP 3 0
	UIDL
	UIDL 3
	NOOP
	DELE 1
	STAT
	LIST
	RSET
	LIST 1
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ ${lines[1]} == "+OK"* ]]
	[ "${lines[2]}" = "+OK alice has 3 messages (156 octets)" ]
	[ "${lines[3]}" = "+OK 3 156" ]
	[[ ${lines[4]} == "+OK"* ]]
	[ "${lines[5]}" = "1 52" ]
	[ "${lines[6]}" = "2 52" ]
	[ "${lines[7]}" = "3 52" ]
	[ "${lines[8]}" = "." ]
	[ "${lines[9]}" = "+OK 2 52" ]
	[[ ${lines[10]} == "+OK"* ]]
	[ "${lines[11]}" = "From: sender@example.org" ]
	[ "${lines[12]}" = "Subject: msg 2" ]
	[ "${lines[13]}" = "body 2" ]		# (the empty line is not in lines)
	[ "${lines[14]}" = "." ]
	[[ ${lines[15]} == "+OK"* ]]		# TOP 3 0
	[ "${lines[16]}" = "From: sender@example.org" ]
	[ "${lines[17]}" = "Subject: msg 3" ]
	[ "${lines[18]}" = "." ]
	[[ ${lines[19]} == "+OK"* ]]		# UIDL
	[[ ${lines[20]} =~ ^1\ [!-~]{1,70}$ ]]
	[[ ${lines[21]} =~ ^2\ [!-~]{1,70}$ ]]
	[[ ${lines[22]} =~ ^3\ [!-~]{1,70}$ ]]
	[ "${lines[23]}" = "." ]
	[ "${lines[24]}" = "+OK ${lines[22]}" ]	# UIDL 3
	[[ ${lines[25]} == "+OK"* ]]		# NOOP
	[[ ${lines[26]} == "+OK"* ]]		# DELE 1
	[ "${lines[27]}" = "+OK 2 104" ]
	[[ ${lines[28]} == "+OK"* ]]
	[ "${lines[29]}" = "2 52" ]
	[ "${lines[30]}" = "3 52" ]
	[ "${lines[31]}" = "." ]
	[[ ${lines[32]} == "+OK"* ]]		# RSET
	[ "${lines[33]}" = "+OK 1 52" ]
	[[ ${lines[34]} == "+OK"* ]]		# QUIT
	[ "${#lines[@]}" -eq 35 ]
	# a TOP of 0 lines still ends the header with its empty line
	[[ $output == *$'Subject: msg 3\n\n.\n'* ]]
	[ "$(grep -c '^From ' "$MBOX")" -eq 3 ]
}

@test "TRANSACTION commands are refused in AUTHORIZATION, and the session goes on" {
	mbox_make 2
	pop3 <<-EOF
	STAT
	LIST
	LIST 1
	RETR 1
	DELE 1
	NOOP
	RSET
	TOP 1 0
	UIDL
	UIDL 1
	PASS $PASSWORD
	$LOGIN
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	for i in $(seq 1 11); do
		[[ ${lines[$i]} == "-ERR "* ]]
	done
	[ "${lines[13]}" = "+OK alice has 2 messages (104 octets)" ]
	[ "${lines[14]}" = "+OK 2 104" ]
	[[ ${lines[15]} == "+OK"* ]]
	[ "${#lines[@]}" -eq 16 ]
	[ "$(grep -c '^From ' "$MBOX")" -eq 2 ]
}

@test "AUTHORIZATION commands are refused in TRANSACTION, and the session goes on" {
	mbox_make 2
	pop3 <<-EOF
	$LOGIN
	USER alice
	PASS $PASSWORD
	APOP alice 0123456789abcdef0123456789abcdef
	AUTH PLAIN
	AUTH
	STLS
	STAT
	QUIT
	EOF
	[ "$status" -eq 0 ]
	for i in $(seq 3 8); do
		[[ ${lines[$i]} == "-ERR "* ]]
	done
	[ "${lines[9]}" = "+OK 2 104" ]
	[[ ${lines[10]} == "+OK"* ]]
	[ "${#lines[@]}" -eq 11 ]
}

@test "USER and PASS: [AUTH] for a wrong password or an unknown user, the same reply; a retry works" {
	mbox_make 1
	pop3 <<-EOF
	PASS $PASSWORD
	USER alice
	PASS wrong
	USER nobody-here
	PASS $PASSWORD
	USER alice
	PASS $PASSWORD
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ ${lines[1]} == "-ERR "* ]]		# PASS before USER
	[[ ${lines[2]} == "+OK"* ]]
	[[ ${lines[3]} == "-ERR [AUTH] "* ]]
	[[ ${lines[4]} == "+OK"* ]]		# USER does not tell
	[ "${lines[5]}" = "${lines[3]}" ]
	[[ ${lines[6]} == "+OK"* ]]
	[ "${lines[7]}" = "+OK alice has 1 messages (52 octets)" ]
}

@test "three failed logins end the session with [AUTH], exit 0" {
	pop3 --deadline 20 <<-EOF
	USER alice
	PASS wrong1
	USER alice
	PASS wrong2
	USER alice
	PASS wrong3
	EOF
	[ "$status" -eq 0 ]
	[[ ${lines[6]} == "-ERR [AUTH] "* ]]
	[ "${#lines[@]}" -eq 7 ]
}

@test "[SYS/TEMP] at QUIT when another program rewrote the mailbox; nothing is deleted" {
	mbox_make 3
	# another program removes the last message meanwhile (no append)
	model cut "$MBOX" 3 > "$OUT/rewritten"
	pop3 <<-EOF
	$LOGIN
	DELE 1
	!sh cat "$OUT/rewritten" > "$MBOX"
	QUIT
	EOF
	[[ ${lines[4]} == "-ERR [SYS/TEMP] "* ]]
	cmp "$OUT/rewritten" "$MBOX"
}

@test "[IN-USE] when the mailbox stays locked (after about 10 s), and the lock is left alone" {
	mbox_make 1
	echo $$ > "$MBOX.lock"	# a dotlock of a live process
	start=$SECONDS
	pop3 --deadline 40 <<-EOF
	$LOGIN
	QUIT
	EOF
	[ "$status" -ne 124 ]
	[[ ${lines[2]} == "-ERR [IN-USE] "* ]]
	[ $((SECONDS - start)) -ge 8 ]
	[ $((SECONDS - start)) -le 20 ]	# the wait is bounded: ~10 s
	[ "$(cat "$MBOX.lock")" = $$ ]
	rm -f "$MBOX.lock"
}

@test "commands are case-insensitive" {
	mbox_make 2
	pop3 <<-EOF
	capa
	user alice
	pAsS $PASSWORD
	sTaT
	list
	List 1
	retr 1
	Top 2 0
	uidl
	uidL 2
	noop
	dele 1
	rset
	Dele 2
	quit
	EOF
	[ "$status" -eq 0 ]
	refute grep -q '^-ERR' <<< "$output"
	[ "$(grep -c '^+OK' <<< "$output")" -eq 16 ]
	[ "$(grep -c '^From ' "$MBOX")" -eq 1 ]
	grep -q 'msg 1' "$MBOX"
}

@test "a bare LF ends a command line as CRLF does; replies still end in CRLF" {
	mbox_make 2
	pop3_raw "$OUT/raw" <<-EOF
	!send USER alice\n
	!read
	!send PASS $PASSWORD\n
	!read
	!send STAT\nLIST 2\r\nDELE 1\n
	!read
	!read
	!read
	!send QUIT\n
	!read
	EOF
	[ "$status" -eq 0 ]
	tr -d '\r' < "$OUT/raw" > "$OUT/text"
	[ "$(sed -n 4,5p "$OUT/text")" = $'+OK 2 104\n+OK 2 52' ]
	sed -n 6p "$OUT/text" | grep -q '^+OK'
	# every line the server sent ends in CRLF
	[ "$(grep -c $'\r$' "$OUT/raw")" -eq "$(wc -l < "$OUT/raw")" ]
	[ "$(wc -l < "$OUT/raw")" -eq 7 ]
	tail -1 "$OUT/text" | grep -q '^+OK'
	[ "$(grep -c '^From ' "$MBOX")" -eq 1 ]
}

@test "PIPELINING: a whole session in one write is answered in few writes, as unpipelined" {
	mbox_make 4
	cat > "$OUT/script" <<-EOF
	CAPA
	$LOGIN
	STAT
	LIST
	UIDL
	RETR 1
	TOP 2 0
	DELE 1
	NOOP
	LIST 2
	UIDL 2
	RSET
	DELE 4
	STAT
	QUIT
	EOF
	cp "$MBOX" "$OUT/before"
	pop3 < "$OUT/script"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" > "$OUT/plain"
	cp "$OUT/before" "$MBOX"
	# (LeakSanitizer cannot work under ptrace: the ASan build skips it)
	LOGWRAP=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	    timeout 60 strace -f -qq -o "$OUT/strace"
	    -e trace=write,writev,sendto,sendmsg)
	pop3 --pipeline --deadline 60 < "$OUT/script"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" | diff "$OUT/plain" -
	# writes to the client (fd 0, 1 or 2): the greeting, then few
	grep -E '^[0-9]+ +(write|writev|sendto|sendmsg)\([012],' "$OUT/strace" \
	    > "$OUT/writes" || :
	cat "$OUT/writes"
	n=$(wc -l < "$OUT/writes")
	[ "$n" -ge 2 ]
	[ "$n" -le 3 ]
	model cut "$OUT/before" 4 | cmp - "$MBOX"
}

@test "autologout after --timeout 1: idle before login, idle after login, and in mid-line" {
	mbox_make 2
	cp "$MBOX" "$OUT/before"
	start=$SECONDS
	pop3 --deadline 20 -- --timeout 1 <<-EOF
	!read
	EOF
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[1]} == "-ERR "* ]]
	pop3 --deadline 20 -- --timeout 1 <<-EOF
	$LOGIN
	DELE 1
	!read
	EOF
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 5 ]
	[[ ${lines[4]} == "-ERR "* ]]
	pop3 --deadline 20 -- --timeout 1 <<-EOF
	$LOGIN
	!send STA
	!read
	EOF
	[ "$status" -eq 0 ]
	[[ ${lines[3]} == "-ERR "* ]]
	[ "${#lines[@]}" -eq 4 ]
	# three sessions of about 1 s each (20 s for all: a busy machine)
	[ $((SECONDS - start)) -lt 20 ]
	cmp "$OUT/before" "$MBOX"
}

@test "the autologout timer starts again with every command" {
	pop3 --deadline 30 -- --timeout 3 <<-EOF
	$LOGIN
	!sleep 1
	NOOP
	!sleep 1
	NOOP
	!sleep 1
	NOOP
	!sleep 1
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 7 ]
	refute grep -q '^-ERR' <<< "$output"
}

@test "the autologout timer also bounds a client that stops reading a long RETR" {
	python3 -c 'import sys; sys.stdout.write("From a@b Mon Jan  1 00:00:00 2024\nSubject: big\n\n" + ("x" * 79 + "\n") * 50000 + "\n")' |
	    mbox_raw
	LOGWRAP=(sh -c 'echo $$ > "$0"; exec "$@"' "$OUT/pid")
	pop3 --deadline 30 -- --timeout 1 <<-EOF
	$LOGIN
	!send RETR 1\r\n
	!sleep 4
	!sh { grep -q '^State:.*Z' /proc/\$(cat "$OUT/pid")/status || ! test -e /proc/\$(cat "$OUT/pid"); } 2>/dev/null && echo gone > "$OUT/state"
	EOF
	[ "$status" -ne 124 ]
	[ "$(cat "$OUT/state")" = gone ]
}

@test "the process ends at once after the autologout, not when the client goes" {
	start=$SECONDS
	run timeout 30 python3 "$POP3CLIENT" session -- "$POP3D" -p "$PASSWD" \
	    -m "$SPOOL/%u" -d 0 --timeout 1 < /dev/null
	[ "$status" -eq 0 ]
	[[ ${lines[1]} == "-ERR "* ]]
	[ $((SECONDS - start)) -le 10 ]
}

@test "exit status 0 after QUIT and after EOF, in both states" {
	mbox_make 1
	pop3 <<-EOF
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[[ ${lines[1]} == "+OK"* ]]
	pop3 <<-EOF
	$LOGIN
	QUIT
	EOF
	[ "$status" -eq 0 ]
	pop3 <<-EOF
	!close
	EOF
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	pop3 <<-EOF
	USER alice
	!send PAS
	!close
	EOF
	[ "$status" -eq 0 ]
	pop3 <<-EOF
	$LOGIN
	DELE 1
	!close
	EOF
	[ "$status" -eq 0 ]
	[ "$(grep -c '^From ' "$MBOX")" -eq 1 ]
}

@test "--help and --version print to stdout and exit 0" {
	run --separate-stderr "$POP3D" --help
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	for opt in --passwd --maildrop --apop --timeout --fail-delay \
	    --tls-cert --tls-key --tls --allow-plaintext --help --version; do
		grep -q -- "$opt" <<< "$output"
	done
	run --separate-stderr "$POP3D" -h
	[ "$status" -eq 0 ]
	grep -q -- --passwd <<< "$output"
	run --separate-stderr "$POP3D" --version
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ $output =~ ^pop3d\ [0-9] ]]
	[ "${#lines[@]}" -eq 1 ]
	run --separate-stderr "$POP3D" -V
	[ "$status" -eq 0 ]
	[[ $output =~ ^pop3d\ [0-9] ]]
}

# The option errors both tests try.
bad_options() {
	local d=$BATS_TEST_TMPDIR
	cat <<-EOF
	--bogus
	-x
	--timeout
	--timeout=0
	--timeout=abc
	--timeout=-5
	--timeout=99999999999999999999
	--fail-delay=-1
	--fail-delay=x
	--passwd=$d/no-such-file
	--apop=$d/no-such-file
	--maildrop=$d/%x
	--tls-cert=$d/no-such-file
	--tls-cert=$d/no-such-file --tls-key=$d/no-such-file
	--tls
	an-argument
	EOF
}

@test "option errors by hand: exit 2 and one line on stderr, nothing on stdout" {
	while read -r -a args; do
		run --separate-stderr "$POP3D" "${args[@]}" < /dev/null
		echo "${args[*]}: status $status, stderr: $stderr"
		[ "$status" -eq 2 ]
		[ -z "$output" ]
		[ -n "$stderr" ]
		[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	done < <(bad_options)
}

@test "option errors under a superserver: exit 2, at most one -ERR [SYS/TEMP] line to the client, reason in syslog" {
	syslog_start
	while read -r -a args; do
		pop3_raw "$OUT/raw" < /dev/null -- "${args[@]}"
		echo "${args[*]}: status $status: $(cat -A "$OUT/raw")"
		[ "$status" -eq 2 ]
		[ "$(wc -c < "$OUT/raw")" -eq 0 ] ||
		    grep -qx -e $'-ERR \\[SYS/TEMP\\] [ -~]*\r' "$OUT/raw"
		[ "$(wc -l < "$OUT/raw")" -le 1 ]
	done < <(bad_options)
	syslog_wait 'pop3d.*(unknown option|--bogus)'
	syslog_wait 'pop3d.*no-such-file'
}

@test "a UIDL listing longer than the output buffer: every message not deleted once, in order, each line whole, as UIDL n and the previous session said" {
	# 9000 messages: a listing of more than 256 KiB, sent in several
	# buffers; the first session digests the mailbox, the second reads
	# the digests from the index it wrote
	mbox_make_many 9000
	pop3 <<-EOF
	$LOGIN
	UIDL
	QUIT
	EOF
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" > "$OUT/first"
	pop3 <<-EOF
	$LOGIN
	DELE 1
	DELE 4500
	DELE 9000
	UIDL
	UIDL 4501
	RSET
	QUIT
	EOF
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" > "$OUT/second"
	python3 - "$OUT/first" "$OUT/second" <<-'PY'
	import re, sys
	def listing(lines, at):
	    assert lines[at].startswith("+OK"), lines[at]
	    end = lines.index(".", at)
	    out = {}
	    for l in lines[at + 1:end]:
	        m = re.fullmatch(r"([0-9]+) ([!-~]{1,70})", l)
	        assert m, "broken line %r" % l
	        n = int(m.group(1))
	        assert not out or n > max(out), "out of order at %d" % n
	        out[n] = m.group(2)
	    return out, end
	first = open(sys.argv[1]).read().split("\n")
	second = open(sys.argv[2]).read().split("\n")
	a, _ = listing(first, 3)
	assert sorted(a) == list(range(1, 9001)), len(a)
	assert len(set(a.values())) == 9000
	b, end = listing(second, 6)
	assert sorted(b) == [n for n in range(1, 9001)
	                     if n not in (1, 4500, 9000)], len(b)
	assert all(b[n] == a[n] for n in b)
	assert second[end + 1] == "+OK 4501 " + a[4501], second[end + 1]
	PY
}
