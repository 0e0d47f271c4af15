#!/usr/bin/env bats
# Several hosts, one spool (README "Several hosts, one spool"): two pop3d
# hosts behind a real HAProxy, both serving one spool directory, while
# procmail delivers into it.
#
# The layout, all made by the test and removed in teardown:
#   front   a network namespace with HAProxy (mode tcp, round robin) on
#           127.0.0.1:110 and the clients (cluster.py), which connect
#           from 127.0.1.N; a veth to each host: 10.231.1.1/30 and
#           10.231.2.1/30 (no route leads out of these namespaces).
#   popa, popb  a network namespace each (10.231.1.2, 10.231.2.2), and
#           in it network, UTS (hostname popa/popb, so the `pid host` of
#           pop3d's dotlocks differ), PID (so a pid of one host means
#           nothing on the other, as on real hosts) and mount namespaces
#           (its own /proc; /dev/log bound to that host's own syslogd.py).
#           Its own xinetd (from xinetd.conf.example) runs pop3d on port
#           110; procmail delivers on that host (nsenter).
# The spool is one directory of the host's file system, root:mail 2775 as
# Debian's /var/mail, seen at the same path by both hosts.  NFS cannot be
# mounted on the machines the tests run on, so the shared spool is a local
# directory: this tests the locks between hosts (dotlocks with different
# host names and pid spaces, fcntl locks) but not NFS's caching; README
# keeps the NFS rules.
#
# HAProxy sends a PROXY v2 header (send-proxy-v2) exactly when pop3d
# accepts one (`pop3d --help` names --proxy-from); then each host's pop3d
# gets --proxy-from=HAProxy's address and its syslog must show the
# clients' addresses, else HAProxy's.
#
# Packages: haproxy iproute2 xinetd procmail util-linux (unshare, nsenter).

load lib/helper
load lib/mailspool

FRONT_A=10.231.1.1
FRONT_B=10.231.2.1
HOST_A=10.231.1.2
HOST_B=10.231.2.2

setup() {
	for c in haproxy ip xinetd procmail unshare nsenter; do
		command -v "$c" >/dev/null || skip "$c is not installed"
	done
	[ "$(id -u)" = 0 ] || skip "needs root (namespaces)"
	# unique names: ip netns names are global to the machine
	NS=p3cl$$
	CL=$BATS_TEST_TMPDIR/cluster
	setup_mail_spool
	: > "$MBOX"
	mail_spool_owner
	printf 'alice:%s\n' "$PASSWORD" > "$BATS_TEST_TMPDIR/apop"
	chmod 600 "$BATS_TEST_TMPDIR/apop"
	mkdir -p "$CL"
	chmod 755 "$CL"
	if "$POP3D" --help 2>&1 | grep -q proxy-from; then
		SEND_PROXY=send-proxy-v2
	else
		SEND_PROXY=
	fi
}

teardown() {
	local h
	[ -n "${NS:-}" ] || return 0	# skipped before anything started
	for h in a b; do
		stop_host "$h"
	done
	stop_pidfile "$CL/haproxy.pid"
	for h in a b; do
		stop_pidfile "$CL/$h/syslogd.pid"
	done
	for h in front a b; do
		ip netns del "$NS$h" 2>/dev/null || :
	done
}

# The three network namespaces and the two veth pairs, made inside them
# (never in the machine's own namespace).
make_network() {
	local h ns
	ip netns add "${NS}front" || return 1
	ip -n "${NS}front" link set lo up || return 1
	for h in a b; do
		ns=$NS$h
		ip netns add "$ns" || return 1
		ip -n "${NS}front" link add "v$h" type veth peer name eth0 \
		    netns "$ns" || return 1
		ip -n "$ns" link set lo up || return 1
	done
	ip -n "${NS}front" addr add "$FRONT_A/30" dev va &&
	ip -n "${NS}front" addr add "$FRONT_B/30" dev vb &&
	ip -n "${NS}a" addr add "$HOST_A/30" dev eth0 &&
	ip -n "${NS}b" addr add "$HOST_B/30" dev eth0 || return 1
	for h in a b; do
		ip -n "${NS}front" link set "v$h" up &&
		ip -n "$NS$h" link set eth0 up || return 1
	done
}

# start_host H BALANCER: host popH: its syslogd, then xinetd as pid 1 of
# the host's PID namespace.  $CL/H/host.pid is xinetd's pid as this
# namespace sees it (its own pid file says 1).
start_host() {
	local h=$1 balancer=$2 dir=$CL/$1 args i pid upid
	mkdir -p "$dir"
	: > "$dir/syslog"
	python3 "$TESTS/lib/syslogd.py" "$dir/log.sock" "$dir/syslog" 3>&- &
	echo $! > "$dir/syslogd.pid"
	[ -e /dev/log ] || : > /dev/log	# a mount point, if none exists
	args="-m $SPOOL/%u -p $PASSWD -a $BATS_TEST_TMPDIR/apop -d 0"
	[ -z "$SEND_PROXY" ] || args="$args --proxy-from=$balancer"
	# every connection comes from the balancer: xinetd's per_source
	# would count them all as one client.  An ASan build's reports go to
	# files (fd 2 is the client), checked at the end.
	mkdir -p "$dir/asan"
	chmod 1777 "$dir/asan"
	python3 "$TESTS/lib/example.py" "$TESTS/../xinetd.conf.example" \
	    --map /usr/local/sbin/pop3d="$POP3D" \
	    --set bind=0.0.0.0 --set per_source=UNLIMITED \
	    --set env="ASAN_OPTIONS=log_path=$dir/asan/report" \
	    "pop3-plain:pop3:110:+$args" > "$dir/xinetd.conf" || return 1
	for ((i = 0; i < 50; i++)); do
		[ -S "$dir/log.sock" ] && break
		sleep 0.1
	done
	ip netns exec "$NS$h" unshare --uts --pid --mount --fork --kill-child \
	    --mount-proc sh -c 'hostname "$0" && mount --bind "$1" /dev/log &&
	    exec xinetd -dontfork -f "$2" -pidfile "$3" -filelog "$4"' \
	    "pop$h" "$dir/log.sock" "$dir/xinetd.conf" "$dir/xinetd.pid" \
	    "$dir/xinetd.log" 3>&- &
	upid=$!
	echo "$upid" > "$dir/unshare.pid"
	for ((i = 0; i < 100; i++)); do
		pid=$(cat "/proc/$upid/task/$upid/children" 2>/dev/null)
		pid=${pid%% *}
		[ -n "$pid" ] && echo "$pid" > "$dir/host.pid"
		[ -n "$pid" ] && [ -s "$dir/xinetd.pid" ] &&
		    grep -q 'Started working' "$dir/xinetd.log" 2>/dev/null &&
		    return 0
		sleep 0.1
	done
	echo "host pop$h did not start" >&2
	cat "$dir/xinetd.log" >&2
	return 1
}

# stop_host H: xinetd is the PID namespace's init: when it ends, the
# kernel kills every process of the host (sessions, deliveries).
stop_host() {
	stop_pidfile "$CL/$1/host.pid"
	stop_pidfile "$CL/$1/unshare.pid"
}

start_haproxy() {
	cat > "$CL/haproxy.cfg" <<-EOF
	global
	    maxconn 256
	defaults
	    mode tcp
	    timeout connect 5s
	    timeout client 60s
	    timeout server 60s
	frontend pop3
	    bind 127.0.0.1:110
	    default_backend pop3d
	# no health checks: each probe would be a whole pop3d session
	backend pop3d
	    balance roundrobin
	    server popa $HOST_A:110 $SEND_PROXY
	    server popb $HOST_B:110 $SEND_PROXY
	EOF
	ip netns exec "${NS}front" haproxy -D -f "$CL/haproxy.cfg" \
	    -p "$CL/haproxy.pid" 3>&- || return 1
	ip netns exec "${NS}front" bash -c "$(declare -f wait_port); wait_port 110"
}

# procmail's rcfile for host H: deliver to $MBOX with a local lockfile
# ($MBOX.lock, then a kernel lock), retrying the lock every second.
procmail_rc_for() {
	printf 'LOGFILE=%s/procmail.log\nLOCKSLEEP=1\n:0:\n%s\n' \
	    "$CL/$1" "$MBOX" > "$CL/$1/procmailrc"
	chmod 644 "$CL/$1/procmailrc"
}

@test "two hosts behind HAProxy, one spool: 300 fetch-and-delete sessions while procmail delivers 300 messages; none lost, none twice" {
	make_network
	start_host a "$FRONT_A"
	start_host b "$FRONT_B"
	start_haproxy
	local h mda=()
	for h in a b; do
		procmail_rc_for "$h"
		mda+=(--mda "nsenter -t $(cat "$CL/$h/host.pid") -n -u -p -m -- procmail -f mda@example.org -m $CL/$h/procmailrc")
	done
	local start=$SECONDS
	run timeout 300 ip netns exec "${NS}front" python3 "$TESTS/lib/cluster.py" \
	    --connect 127.0.0.1:110 --mbox "$MBOX" "${mda[@]}" \
	    --sessions 300 --parallel 30 --messages 300 --deliverers 2 \
	    --deadline 240
	echo "# cluster: $(( SECONDS - start )) s: ${lines[0]}" >&3
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "sessions=300 ok=300 "* ]]
	# both hosts served, under their own names
	[[ "${lines[0]}" =~ hosts:\ popa=[0-9]+\ popb=[0-9]+$ ]]
	# the hosts' pid spaces overlap (the same pid served sessions on
	# both), so only the host part of a dotlock's `pid host` tells whose
	# lock it is
	[ -n "$(comm -12 <(grep -o 'pop3d\[[0-9]*\]' "$CL/a/syslog" | sort -u) \
	    <(grep -o 'pop3d\[[0-9]*\]' "$CL/b/syslog" | sort -u))" ]
	# the mailbox as Debian keeps it; no lock, journal or temp file left
	[ "$(stat -c %u:%G:%a "$MBOX")" = "$TEST_UID:mail:660" ]
	assert_clean_spool
	for h in a b; do
		if [ -n "$(ls -A "$CL/$h/asan")" ]; then
			head -40 "$CL/$h/asan/"*
			return 1
		fi
	done
	# each host logged its own sessions' peers: with PROXY the clients'
	# addresses and never the balancer's, else the balancer's address on
	# that host's link (start_haproxy's probe came from 127.0.0.1)
	local front peers
	for h in a b; do
		[ "$h" = a ] && front=$FRONT_A || front=$FRONT_B
		peers=$(grep -oE 'login: user=alice peer=[^ ]+' "$CL/$h/syslog" |
		    sed 's/.*peer=//' | sort -u)
		[ -n "$peers" ]
		if [ -n "$SEND_PROXY" ]; then
			# (start_haproxy's probe may close before HAProxy
			# sent its header: pop3d then names the balancer)
			if printf '%s\n' "$peers" | grep -vE '^127\.0\.1\.[0-9]+$' ||
			    grep -F "peer=$front " "$CL/$h/syslog" |
			    grep -vF 'end=PROXY header refused'; then
				return 1
			fi
		else
			[ "$peers" = "$front" ]
		fi
	done
}
