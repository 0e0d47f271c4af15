# tests/lib/clients.bash - launchers and real clients for launchers.bats and
# clients.bats (load after helper).
#
# Fixtures: launch_fixtures DIR makes a passwd file with one user per
# client (all uid 5000, password "secret", mailbox $SPOOL/NAME), a test
# certificate for "localhost", and the mailboxes the tests copy from.
# Daemons (xinetd, inetd, stunnel, tcpserver, socat, the relay) are
# started on 127.0.0.1 with their own config, log and pid file in the
# test's directory, and stopped by pid (launch_stop_all in teardown).
# Every client runs through client_run with one interface, so a check
# is written once for all six clients.

# bats sets status and output; the .bats files use GREET_QUIT and the rest
# shellcheck disable=SC2034,SC2154

EXAMPLES=$TESTS/..
CLIENTS="fetchmail mpop getmail curl poplib netpop3"
LAUNCH_CACHE=${POP3D_TEST_CACHE:-/var/cache/pop3d-tests}

# The headers each client adds to what it stores; nothing else may differ.
client_ignore() {
	case $1 in
	fetchmail|mpop) echo "--ignore Received" ;;
	getmail) echo "--ignore Return-Path --ignore Delivered-To --ignore Received" ;;
	*) echo "" ;;
	esac
}

# Does CLIENT do STLS / implicit TLS?  (getmail6: pop3s only)
client_has() {
	case $1:$2 in
	getmail:stls) return 1 ;;
	*) return 0 ;;
	esac
}

# open_path DIR: let the dropped-privilege session and the clients that
# run as nobody through every directory above DIR (bats makes its temp
# dirs 0700).
open_path() {
	local d=$1
	while [ -n "$d" ] && [ "$d" != / ]; do
		[ -d "$d" ] && chmod a+x "$d"
		d=$(dirname "$d")
	done
}

# launch_fixtures DIR: $SPOOL, $PASSWD, $CERT, $KEY, $BADCERT, $FIXTURE
# (the five hard messages), $BASE (three small ones), $NEWMSG_DIR.
launch_fixtures() {
	local dir=$1 hash u
	mkdir -p "$dir"
	chmod 755 "$dir"
	open_path "$dir"
	SPOOL=$dir/spool
	mkdir -p "$SPOOL"
	chown "$TEST_UID:$TEST_GID" "$SPOOL"
	PASSWD=$dir/passwd
	hash=$(openssl passwd -6 -salt testsalt "$PASSWORD")
	: > "$PASSWD"
	for u in alice $CLIENTS; do
		printf '%s:%s:%d:%d:%s:%s:/bin/sh\n' "$u" "$hash" "$TEST_UID" \
		    "$TEST_GID" "$u" "$dir" >> "$PASSWD"
	done
	CERT=$dir/cert.pem
	KEY=$dir/key.pem
	BADCERT=$dir/bad-cert.pem
	if [ ! -s "$CERT" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout "$KEY" -out "$CERT" -days 2 \
		    -subj /CN=localhost \
		    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
		    2>/dev/null || return 1
		echo "this is not a certificate" > "$BADCERT"
	fi
	FIXTURE=$dir/fixture.mbox
	[ -s "$FIXTURE" ] || python3 "$TESTS/lib/mbox.py" fixture clients \
	    "$FIXTURE" 8 || return 1
	BASE=$dir/base.mbox
	python3 "$TESTS/lib/mbox.py" fixture base "$BASE" 3 || return 1
}

# mbox_put USER FILE: USER's mailbox becomes a copy of FILE.
mbox_put() {
	rm -f "$SPOOL/$1" "$SPOOL/$1.lock" "$SPOOL/$1.pop3d-journal"
	cp "$2" "$SPOOL/$1"
	chown "$TEST_UID:$TEST_GID" "$SPOOL/$1"
	chmod 600 "$SPOOL/$1"
}

# deliver_new USER TAG N OUT_MBOX: deliver N messages "TAG k" the way an
# MDA does (tests/lib/deliver.py: fcntl + dotlock) and append what each
# message looks like in an mbox to OUT_MBOX (the expected fetch).
deliver_new() {
	local user=$1 tag=$2 n=$3 out=$4 k msg
	for ((k = 1; k <= n; k++)); do
		msg="From: mda@example.org
Subject: $tag $k
Message-ID: <$tag-$k@example.org>

new mail $tag $k
.
"
		printf '%s' "$msg" | python3 "$TESTS/lib/deliver.py" "$SPOOL/$user" \
		    "mda@example.org" || return 1
		printf 'From x Thu Jan  1 00:00:00 1970\n%s\n' "$msg" >> "$out"
	done
	chown "$TEST_UID:$TEST_GID" "$SPOOL/$user"
}

# ---------------------------------------------------------------- #
# Daemons                                                          #

LAUNCH_PIDFILES=()

# launch_bg PIDFILE CMD...: start CMD in the background (through
# $LOGWRAP when a test syslog runs, so its children log there) and
# remember the pid for launch_stop_all.
launch_bg() {
	local pidfile=$1
	shift
	# fd 3 is bats' own: a daemon holding it would make bats wait forever
	"${LOGWRAP[@]}" "$@" 3>&- &
	echo $! > "$pidfile"
	LAUNCH_PIDFILES+=("$pidfile")
}

launch_stop_all() {
	local f
	for f in "${LAUNCH_PIDFILES[@]}"; do
		stop_pidfile "$f"
	done
	LAUNCH_PIDFILES=()
}

# example_conf FILE ARGS...: the shipped example FILE (a name in the
# source tree) as a test config (see lib/example.py), with the example's
# pop3d, certificate, key and spool paths mapped to the test's (after
# any --map in ARGS, which come first).
example_conf() {
	local file=$1
	shift
	python3 "$TESTS/lib/example.py" "$EXAMPLES/$file" "$@" \
	    --map /usr/local/sbin/pop3d="$POP3D" \
	    --map /etc/ssl/certs/pop3d.pem="$CERT" \
	    --map /etc/ssl/private/pop3d.key="$KEY" \
	    --map /var/mail/%u="$SPOOL/%u"
}

# xinetd_conf OUT SERVICE:NAME:PORT:ARGS...: a config made from
# xinetd.conf.example.
xinetd_conf() {
	local out=$1
	shift
	example_conf xinetd.conf.example "$@" > "$out"
}

# xinetd_start DIR PORT...: run xinetd on DIR/xinetd.conf (foreground,
# own pid file and log) and wait until it listens on every PORT.
xinetd_start() {
	local dir=$1 p
	shift
	launch_bg "$dir/xinetd.run.pid" xinetd -dontfork -f "$dir/xinetd.conf" \
	    -pidfile "$dir/xinetd.pid" -filelog "$dir/xinetd.log"
	for p in "$@"; do
		wait_port "$p" || { cat "$dir/xinetd.log" >&2; return 1; }
	done
}

# The common pop3d options of every test service.
pop3d_test_args() {
	echo "-m $SPOOL/%u -p $PASSWD -d 0 --penalty-dir=$BATS_TEST_TMPDIR/penalty"
}

# relay_start DIR PORT TARGET [ON_QUIT]: relay.py; its transcript
# of client commands is DIR/relay.log.
relay_start() {
	: > "$1/relay.log"
	launch_bg "$1/relay.pid" python3 "$TESTS/lib/relay.py" "$2" "$3" \
	    "$1/relay.log" ${4:+"$4"}
	wait_port "$2"
}

# openbsd-inetd conflicts with xinetd as a package: unpack its .deb into
# the cache instead (downloaded once, reused across runs) and install the
# libraries it needs if the host lacks them.
inetd_binary() {
	INETD=$LAUNCH_CACHE/openbsd-inetd/usr/sbin/inetd
	if [ ! -x "$INETD" ]; then
		mkdir -p "$LAUNCH_CACHE" || return 1
		(cd "$LAUNCH_CACHE" && rm -f openbsd-inetd_*.deb &&
		    apt-get download -q openbsd-inetd >/dev/null 2>&1 &&
		    dpkg -x openbsd-inetd_*.deb openbsd-inetd) || {
			echo "cannot fetch openbsd-inetd (apt-get download)" >&2
			return 1
		}
	fi
	if ldd "$INETD" | grep -q 'not found'; then
		"$TESTS/install-packages" libevent-2.1-7 libwrap0 libbsd0 \
		    libtirpc3 >/dev/null 2>&1 || return 1
	fi
	[ -x "$INETD" ]
}

# ---------------------------------------------------------------- #
# Clients                                                          #

# client_run CLIENT MODE PORT USER PASSWORD OUTDIR [--state DIR] [--delete]
# MODE: plain (127.0.0.1, USER/PASS in clear), stls (STLS, certificate
# checked against "localhost"), ssl (pop3s, same check).  Runs the real
# client once, fetching into OUTDIR (made here); bats' run sets $status
# and $output.  --state DIR keeps the client's own record of UIDLs seen
# (fetchmail's idfile, mpop's uidls file, getmail's oldmail file, the
# scripts' state file) across runs, so a second run fetches only new
# mail.  Without --delete mail stays on the server.
client_run() {
	local client=$1 mode=$2 port=$3 user=$4 pass=$5 out=$6
	shift 6
	local state='' delete='' host=localhost
	while [ $# -gt 0 ]; do
		case $1 in
		--state) state=$2; shift ;;
		--delete) delete=1 ;;
		esac
		shift
	done
	[ "$mode" = plain ] && host=127.0.0.1
	local work
	work=$(mktemp -d "$BATS_TEST_TMPDIR/$client.XXXXXX")
	[ -n "$state" ] || state=$work/state
	mkdir -p "$state" "$out"
	case $client in
	fetchmail) fetchmail_run ;;
	mpop) mpop_run ;;
	getmail) getmail_run ;;
	curl|poplib|netpop3) script_run ;;
	*) echo "unknown client $client" >&2; return 1 ;;
	esac
}

# fetchmail 6.4 insists on TLS unless told sslproto ''; it checks the
# certificate name against the poll name (so: poll localhost); it fetches
# with TOP n 99999999 when keeping mail; it adds a Received: header.
fetchmail_run() {
	local tls keep="keep"
	case $mode in
	plain) tls="sslproto ''" ;;
	stls) tls="sslproto 'TLS1.2+' sslcertck sslcertfile \"$CERT\"" ;;
	ssl) tls="ssl sslcertck sslcertfile \"$CERT\"" ;;
	esac
	[ -z "$delete" ] || keep="nokeep"
	cat > "$work/rc" <<-EOF
	set no syslog
	set idfile "$state/fetchids"
	poll $host with proto POP3 port $port uidl timeout 60
	  user "$user" there with password "$pass" is root here
	  options $keep no rewrite $tls
	  mda "python3 $TESTS/lib/deliver.py --store $out"
	EOF
	chmod 600 "$work/rc"
	# its own lock: as root fetchmail locks /var/run/fetchmail.pid, shared
	# with any other fetchmail on the machine
	run env HOME="$work" timeout 120 fetchmail -f "$work/rc" --nodetach \
	    --pidfile "$work/fetchmail.pid"
}

# mpop: "auth user" where there is no TLS (its default refuses clear-text
# passwords); maildir delivery; adds a Received: header.
mpop_run() {
	local tls auth=on keep=on
	case $mode in
	plain) tls="tls off"; auth=user ;;
	stls) tls="tls on
tls_starttls on
tls_trust_file $CERT" ;;
	ssl) tls="tls on
tls_starttls off
tls_trust_file $CERT" ;;
	esac
	[ -z "$delete" ] || keep=off
	mkdir -p "$out/new" "$out/cur" "$out/tmp"
	cat > "$work/rc" <<-EOF
	account test
	host $host
	port $port
	timeout 60
	user $user
	password $pass
	auth $auth
	$tls
	delivery maildir $out
	keep $keep
	uidls_file $state/uidls
	EOF
	chmod 600 "$work/rc"
	run timeout 120 mpop -C "$work/rc" -a
}

# getmail6 refuses to deliver as root: it runs as nobody here.  No STLS;
# pop3s with SimplePOP3SSLRetriever.  Adds Return-Path, Delivered-To and
# Received.  Its oldmail file in --getmaildir is the UIDL record.
getmail_run() {
	local type=SimplePOP3Retriever ca='' gdel=false
	[ "$mode" = ssl ] && type=SimplePOP3SSLRetriever ca="ca_certs = $CERT"
	[ -z "$delete" ] || gdel=true
	mkdir -p "$out/new" "$out/cur" "$out/tmp"
	cat > "$work/rc" <<-EOF
	[retriever]
	type = $type
	server = $host
	port = $port
	username = $user
	password = $pass
	timeout = 60
	$ca

	[destination]
	type = Maildir
	path = $out/

	[options]
	read_all = false
	delete = $gdel
	EOF
	chown -R nobody:nogroup "$work" "$out" "$state"
	chmod a+r "$CERT"
	# getmail exits 127 on a refused login; keep bats' "command not
	# found" warning (BW01) out of it
	run sh -c '"$@"; s=$?; [ $s -ne 127 ] || s=100; exit $s' getmail \
	    timeout 120 setpriv --reuid nobody --regid nogroup --clear-groups \
	    env HOME="$work" getmail --getmaildir "$state" --rcfile "$work/rc"
}

# curl (client-curl.sh), poplib (client-poplib.py), Net::POP3
# (client-netpop3.pl): one interface, see the scripts.
script_run() {
	local opts=(--state "$state/uids")
	case $mode in
	stls) opts+=(--stls --cafile "$CERT") ;;
	ssl) opts+=(--ssl --cafile "$CERT") ;;
	esac
	[ -z "$delete" ] || opts+=(--delete)
	case $client in
	curl) run timeout 120 bash "$TESTS/lib/client-curl.sh" "${opts[@]}" \
	    "$host" "$port" "$user" "$pass" "$out" ;;
	poplib) run timeout 120 python3 "$TESTS/lib/client-poplib.py" \
	    "${opts[@]}" "$host" "$port" "$user" "$pass" "$out" ;;
	netpop3) run timeout 120 perl "$TESTS/lib/client-netpop3.pl" \
	    "${opts[@]}" "$host" "$port" "$user" "$pass" "$out" ;;
	esac
}

# Did the client say the server refused the login?  Each in its words.
client_auth_failed() {
	case $1 in
	fetchmail) [ "$status" -eq 3 ] &&
	    [[ $output == *"Authorization failure"* || $output == *"uthentication fail"* ]] ;;
	mpop) [ "$status" -eq 77 ] &&
	    [[ $output == *"authentication failed"* ]] ;;
	getmail) [ "$status" -ne 0 ] &&
	    [[ $output == *"-ERR [AUTH] invalid user name or password"* ]] ;;
	curl) [ "$status" -eq 3 ] && [[ $output == *"Login denied"* ]] ;;
	poplib|netpop3) [ "$status" -eq 3 ] &&
	    [[ $output == *"[AUTH] invalid user name or password"* ]] ;;
	esac
}

# client_compare CLIENT EXPECTED_MBOX OUTDIR: byte for byte, line ends
# normalised, only the client's own headers ignored.
client_compare() {
	# shellcheck disable=SC2046
	python3 "$TESTS/lib/mbox.py" compare $(client_ignore "$1") "$2" "$3"
}

# How many RETR/TOP commands connection N of the relay transcript sent.
relay_fetches() {
	grep -c -E "^$1> (RETR|TOP) " "$2" || :
}

