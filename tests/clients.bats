#!/usr/bin/env bats
# Real mail clients through a real xinetd, compared byte for byte with the
# mbox they were served from.
#
# One xinetd for the whole file (setup_file), made from xinetd.conf.example:
# plain POP3, STLS and pop3s services, plus one with --apop.  Each client
# has its own user and mailbox ($SPOOL/CLIENT), reset by every test.  For
# each client: fetch all keeping mail (the five hard messages: dot lines,
# a 5,000-character line, an 8 MB attachment, a ">From " body line, no
# final newline), an incremental fetch by UIDL, fetch-and-delete with mail
# delivered during the session, a wrong password, and STLS / pop3s where
# the client has them.  Comparisons: tests/lib/mbox.py compare (line ends
# normalised, only the headers the client adds itself ignored).
#
# Packages: xinetd fetchmail mpop getmail6 curl python3 perl
# libio-socket-ssl-perl (Net::POP3 STLS/pop3s) openssl util-linux.

load lib/helper
load lib/clients

setup_file() {
	export FX=$BATS_FILE_TMPDIR/fx
	launch_fixtures "$FX"
	export SPOOL PASSWD CERT KEY BADCERT FIXTURE BASE
	P_PLAIN=$(free_port)
	P_STLS=$(free_port)
	P_TLS=$(free_port)
	P_APOP=$(free_port)
	export P_PLAIN P_STLS P_TLS P_APOP
	printf 'curl:%s\n' "$PASSWORD" > "$FX/apop"
	chmod 600 "$FX/apop"
	local args
	args=$(pop3d_test_args)
	xinetd_conf "$FX/xinetd.conf" \
	    "pop3-plain:t-plain:$P_PLAIN:+$args" \
	    "pop3:t-stls:$P_STLS:+$args" \
	    "pop3s:t-tls:$P_TLS:+$args" \
	    "pop3-plain:t-apop:$P_APOP:+$args --apop $FX/apop"
	xinetd_start "$FX" "$P_PLAIN" "$P_STLS" "$P_TLS" "$P_APOP"
}

teardown_file() {
	stop_pidfile "$FX/xinetd.run.pid"
}

setup() {
	T=$BATS_TEST_TMPDIR
	open_path "$T"
}

teardown() {
	launch_stop_all
}

# Show what the client said when a check fails.
ran_ok() {
	if [ "$status" -ne 0 ]; then
		echo "client exit status $status; it said:" >&2
		printf '%s\n' "$output" | tail -20 >&2
		return 1
	fi
}

# All five hard messages, mail kept: what arrives is the mbox, and the
# mailbox is left byte-identical.
check_keep() {
	local c=$1 mode=${2:-plain} port=$P_PLAIN
	case $mode in stls) port=$P_STLS ;; ssl) port=$P_TLS ;; esac
	[ "$mode" = plain ] || needs_tls
	mbox_put "$c" "$FIXTURE"
	client_run "$c" "$mode" "$port" "$c" "$PASSWORD" "$T/out"
	ran_ok
	client_compare "$c" "$FIXTURE" "$T/out"
	cmp "$FIXTURE" "$SPOOL/$c"
}

# Fetch all (kept), three deliveries, fetch again with the client's own
# UIDL record: only the three arrive, and the client asked for only three
# messages (relay transcript).
check_incremental() {
	local c=$1 port before
	port=$(free_port)
	relay_start "$T" "$port" "$P_PLAIN"
	mbox_put "$c" "$BASE"
	mkdir "$T/state"
	client_run "$c" plain "$port" "$c" "$PASSWORD" "$T/out1" \
	    --state "$T/state"
	ran_ok
	client_compare "$c" "$BASE" "$T/out1"
	: > "$T/new.mbox"
	deliver_new "$c" "inc-$c" 3 "$T/new.mbox"
	cp "$SPOOL/$c" "$T/before-second"
	before=$(wc -l < "$T/relay.log")
	client_run "$c" plain "$port" "$c" "$PASSWORD" "$T/out2" \
	    --state "$T/state"
	ran_ok
	client_compare "$c" "$T/new.mbox" "$T/out2"
	run grep -c -E '^[0-9]+> (RETR|TOP) ' <(tail -n +"$((before + 1))" "$T/relay.log")
	[ "$output" = 3 ]
	cmp "$T/before-second" "$SPOOL/$c"
}

# Fetch and delete; one message is delivered while the session is in
# TRANSACTION (the relay delivers it when the client sends QUIT after
# DELE).  Afterwards the mailbox holds exactly that message.
check_delete() {
	local c=$1 port
	port=$(free_port)
	printf 'From: mda@example.org\nSubject: meanwhile %s\n\ndelivered during the session\n' \
	    "$c" > "$T/meanwhile.eml"
	relay_start "$T" "$port" "$P_PLAIN" \
	    "python3 $TESTS/lib/deliver.py $SPOOL/$c < $T/meanwhile.eml"
	mbox_put "$c" "$BASE"
	client_run "$c" plain "$port" "$c" "$PASSWORD" "$T/out" --delete
	ran_ok
	client_compare "$c" "$BASE" "$T/out"
	run grep -c -E '^[0-9]+> DELE ' "$T/relay.log"
	[ "$output" = 3 ]
	# the mailbox is exactly the one message delivered meanwhile
	python3 "$TESTS/lib/mbox.py" compare "$SPOOL/$c" "$T/meanwhile.eml"
	[ ! -e "$SPOOL/$c.lock" ]
	[ ! -e "$SPOOL/$c.pop3d-journal" ]
}

# A wrong password: the client says the login was refused, fetches
# nothing, and the mailbox is untouched.
check_wrong_password() {
	local c=$1
	mbox_put "$c" "$BASE"
	client_run "$c" plain "$P_PLAIN" "$c" "not-$PASSWORD" "$T/out"
	if ! client_auth_failed "$c"; then
		echo "no authentication error from $c (status $status):" >&2
		printf '%s\n' "$output" | tail -20 >&2
		return 1
	fi
	[ -z "$(find "$T/out" -type f)" ]
	cmp "$BASE" "$SPOOL/$c"
	[ ! -e "$SPOOL/$c.lock" ]
}

@test "fetchmail: fetch all keeping mail, the five hard messages byte for byte" {
	check_keep fetchmail
}
@test "fetchmail: incremental fetch by UIDL gets only the three new messages" {
	check_incremental fetchmail
}
@test "fetchmail: fetch and delete keeps only mail delivered meanwhile" {
	check_delete fetchmail
}
@test "fetchmail: a wrong password is an authentication error, mailbox untouched" {
	check_wrong_password fetchmail
}
@test "fetchmail: STLS, certificate checked against the poll name" {
	check_keep fetchmail stls
}
@test "fetchmail: pop3s" {
	check_keep fetchmail ssl
}
@test "fetchmail 6.4 with no TLS options: refuses the plain service, logs in through STLS where offered" {
	needs_tls
	mbox_put fetchmail "$BASE"
	cat > "$T/rc" <<-EOF
	set no syslog
	poll localhost with proto POP3 port PORT
	  user "fetchmail" there with password "$PASSWORD" is root here
	  options keep no rewrite sslcertfile "$CERT"
	  mda "python3 $TESTS/lib/deliver.py --store $T/out"
	EOF
	mkdir "$T/out"
	sed "s/PORT/$P_PLAIN/" "$T/rc" > "$T/rc.plain"
	sed "s/PORT/$P_STLS/" "$T/rc" > "$T/rc.stls"
	chmod 600 "$T/rc.plain" "$T/rc.stls"
	run env HOME="$T" timeout 60 fetchmail -f "$T/rc.plain" --nodetach \
	    --pidfile "$T/fetchmail.pid"
	[ "$status" -ne 0 ]
	[ -z "$(ls "$T/out")" ]
	run env HOME="$T" timeout 60 fetchmail -f "$T/rc.stls" --nodetach \
	    --pidfile "$T/fetchmail.pid"
	ran_ok
	client_compare fetchmail "$BASE" "$T/out"
}

@test "mpop: fetch all keeping mail, the five hard messages byte for byte" {
	check_keep mpop
}
@test "mpop: incremental fetch by UIDL gets only the three new messages" {
	check_incremental mpop
}
@test "mpop: fetch and delete keeps only mail delivered meanwhile" {
	check_delete mpop
}
@test "mpop: a wrong password is an authentication error, mailbox untouched" {
	check_wrong_password mpop
}
@test "mpop: STLS" {
	check_keep mpop stls
}
@test "mpop: pop3s" {
	check_keep mpop ssl
}

# getmail6 has no STLS for POP3 (only SimplePOP3SSLRetriever): no STLS test.
@test "getmail: fetch all keeping mail, the five hard messages byte for byte" {
	check_keep getmail
}
@test "getmail: incremental fetch by UIDL gets only the three new messages" {
	check_incremental getmail
}
@test "getmail: fetch and delete keeps only mail delivered meanwhile" {
	check_delete getmail
}
@test "getmail: a wrong password is an authentication error, mailbox untouched" {
	check_wrong_password getmail
}
@test "getmail: pop3s" {
	check_keep getmail ssl
}

@test "curl: fetch all keeping mail, the five hard messages byte for byte" {
	check_keep curl
}
@test "curl: incremental fetch by UIDL gets only the three new messages" {
	check_incremental curl
}
@test "curl: fetch and delete keeps only mail delivered meanwhile" {
	check_delete curl
}
@test "curl: a wrong password is an authentication error, mailbox untouched" {
	check_wrong_password curl
}
@test "curl: STLS (--ssl-reqd)" {
	check_keep curl stls
}
@test "curl: pop3s" {
	check_keep curl ssl
}
@test "curl with a timestamp in the greeting (--apop): SASL PLAIN as CAPA offers, APOP when asked" {
	# curl picks SASL when CAPA lists it and APOP only otherwise, so the
	# timestamp (shown only with --apop) does not change how it logs in;
	# --login-options AUTH=+APOP makes it use APOP, which must work too.
	local port
	port=$(free_port)
	relay_start "$T" "$port" "$P_APOP"
	mbox_put curl "$BASE"
	run raw_session "$P_APOP" 'QUIT\r\n'
	[[ $output == '+OK pop3d ready <'*'@'*'>\r'* ]]
	client_run curl plain "$port" curl "$PASSWORD" "$T/out1"
	ran_ok
	client_compare curl "$BASE" "$T/out1"
	grep -q -E '^[0-9]+> AUTH PLAIN' "$T/relay.log"
	refute grep -E '^[0-9]+> APOP' "$T/relay.log"
	: > "$T/relay.log"
	run curl -sS --max-time 60 -u "curl:$PASSWORD" \
	    --login-options 'AUTH=+APOP' "pop3://127.0.0.1:$port/2" -o "$T/m2"
	ran_ok
	grep -q -E '^[0-9]+> APOP curl [0-9a-f]{32}$' "$T/relay.log"
	refute grep -E '^[0-9]+> (USER|PASS|AUTH)' "$T/relay.log"
	mkdir "$T/out2"
	mv "$T/m2" "$T/out2/"
	python3 "$TESTS/lib/mbox.py" cut "$BASE" 1 3 > "$T/base2.mbox"
	client_compare curl "$T/base2.mbox" "$T/out2"
	# the plain service has no --apop: no timestamp
	run raw_session "$P_PLAIN" 'QUIT\r\n'
	[ "$output" = '+OK pop3d ready\r
+OK pop3d signing off\r' ]
}

@test "poplib: fetch all keeping mail, the five hard messages byte for byte" {
	check_keep poplib
}
@test "poplib: incremental fetch by UIDL gets only the three new messages" {
	check_incremental poplib
}
@test "poplib: fetch and delete keeps only mail delivered meanwhile" {
	check_delete poplib
}
@test "poplib: a wrong password is an authentication error, mailbox untouched" {
	check_wrong_password poplib
}
@test "poplib: STLS" {
	check_keep poplib stls
}
@test "poplib: pop3s" {
	check_keep poplib ssl
}

@test "Net::POP3: fetch all keeping mail, the five hard messages byte for byte" {
	check_keep netpop3
}
@test "Net::POP3: incremental fetch by UIDL gets only the three new messages" {
	check_incremental netpop3
}
@test "Net::POP3: fetch and delete keeps only mail delivered meanwhile" {
	check_delete netpop3
}
@test "Net::POP3: a wrong password is an authentication error, mailbox untouched" {
	check_wrong_password netpop3
}
@test "Net::POP3: STLS" {
	check_keep netpop3 stls
}
@test "Net::POP3: pop3s" {
	check_keep netpop3 ssl
}
