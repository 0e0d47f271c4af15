#!/usr/bin/env bats
# The Debian package (debian/, README "Installing the Debian package"):
# dpkg-buildpackage in a copy of the tree, lintian clean, dpkg -i, a
# session against the installed /usr/sbin/pop3d through the installed
# socket unit (systemd-socket-activate: systemd is not PID 1 here), and
# dpkg --purge leaving none of the package's files, user or directories.

load lib/helper
load lib/clients

SRC=$TESTS/..

# the package's build, once for the file: $PKG_DIR/pop3d_*.deb
setup_file() {
	PKG_DIR=$BATS_FILE_TMPDIR/pkg
	export PKG_DIR
	mkdir -p "$PKG_DIR/src"
	# the tree as a fresh clone (plus what is not committed yet) holds it
	if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$SRC" && git ls-files -z --cached --others \
		    --exclude-standard | xargs -0 cp --parents -t "$PKG_DIR/src")
	else
		cp -a "$SRC/." "$PKG_DIR/src" && make -C "$PKG_DIR/src" clean
	fi
	(cd "$PKG_DIR/src" && dpkg-buildpackage -us -uc -b) \
	    > "$PKG_DIR/build.log" 2>&1
	echo $? > "$PKG_DIR/build.status"
}

setup() {
	setup_maildrop
	mbox_add "packaged" "fetched through the installed unit"
	T=$BATS_TEST_TMPDIR
}

teardown() {
	launch_stop_all
	syslog_stop
	# the namespace goes with its last process: what the package did in
	# it goes with its overlays
	if [ -n "${NS_PID:-}" ]; then
		kill "$NS_PID" 2>/dev/null || :
		wait "$NS_PID" 2>/dev/null || :
	fi
}

# The installation runs in a mount namespace of its own, where /etc, /usr,
# /var and /run are overlays on the host's (writes go to $NS/*/up): the
# real dpkg, adduser and maintainer scripts on a real system view, while
# the host (shared with other test runs) keeps its users, its dpkg
# database and any pop3d user a `make install` made.
ns_start() {
	local d i
	NS=$T/ns
	for d in etc usr var run; do
		mkdir -p "$NS/$d/up" "$NS/$d/work"
	done
	unshare -m --propagation private sh -c 'for d in etc usr var run; do
	    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$0/$d/up,workdir=$0/$d/work" "/$d" || exit 1
	    done; : > "$0/ready"; exec sleep 600' "$NS" 3>&- &
	NS_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -e "$NS/ready" ] && break
		kill -0 "$NS_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	# nothing below may run unless every overlay is there
	for d in etc usr var run; do
		[ "$(ns findmnt -n -o FSTYPE "/$d")" = overlay ] ||
		    { echo "/$d is no overlay in the namespace" >&2; return 1; }
	done
}

# launch_ns PIDFILE CMD...: launch_bg in the namespace (its syslog too)
launch_ns() {
	local pidfile=$1
	shift
	nsenter -t "$NS_PID" -m -- "${LOGWRAP[@]}" "$@" 3>&- &
	echo $! > "$pidfile"
	LAUNCH_PIDFILES+=("$pidfile")
}

ns() {
	nsenter -t "$NS_PID" -m -- "$@"
}

# In the namespace, a machine without pop3d: no package, user or chroot.
ns_clean() {
	ns sh -c 'if dpkg -s pop3d >/dev/null 2>&1; then dpkg --purge pop3d; fi
	    if getent passwd pop3d >/dev/null; then userdel pop3d; fi
	    if getent group pop3d >/dev/null; then groupdel pop3d; fi
	    rm -rf /var/lib/pop3d /run/pop3d' >&2
}

# every path that names pop3d, on the system and in the overlays' changes
pop3d_paths() {
	ns find /etc /usr /var/lib /run -xdev \( -path /var/lib/apt -o \
	    -path /var/lib/dpkg/info \) -prune -o -print 2>/dev/null |
	    grep pop3d | sort
	ns ls /var/lib/dpkg/info | grep '^pop3d\.' || :
	(cd "$NS" && find . | grep pop3d | sort)
}

@test "dpkg-buildpackage -us -uc -b builds pop3d_*.deb with dpkg-buildflags; lintian reports no error and no warning" {
	[ "$(cat "$PKG_DIR/build.status")" -eq 0 ] ||
	    { tail -40 "$PKG_DIR/build.log" >&2; return 1; }
	ls "$PKG_DIR"/pop3d_*_*.deb "$PKG_DIR"/pop3d_*_*.changes
	# the flags dpkg-buildflags gives reach the compiler
	grep -qE '^cc .*-ffile-prefix-map=.*-Werror=format-security.* -c -o pop3d.o pop3d.c' \
	    "$PKG_DIR/build.log"
	run lintian --fail-on error,warning "$PKG_DIR"/pop3d_*_*.changes \
	    "$PKG_DIR"/pop3d_*_*.deb
	[ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
	! grep -E '^[EW]: ' <<< "$output"
}

@test "dpkg -i: the front user and chroot, nothing enabled; a session through the installed socket unit; dpkg --purge leaves nothing" {
	local deb port cmd before after f
	ns_start
	ns_clean
	deb=$(ls "$PKG_DIR"/pop3d_*_*.deb)
	before=$(pop3d_paths)
	ns dpkg -i "$deb"

	# what postinst made
	[[ $(ns getent passwd pop3d) =~ ^pop3d:x:[0-9]+:[0-9]+:[^:]*:/nonexistent:/usr/sbin/nologin$ ]]
	ns getent group pop3d
	[ "$(ns stat -c '%U:%G %a' /var/lib/pop3d/empty)" = "root:root 755" ]
	[ -z "$(ns ls -A /var/lib/pop3d/empty)" ]
	# installed, with Debian's paths, and not enabled
	ns dpkg -L pop3d > "$T/files"
	for f in /usr/sbin/pop3d /usr/share/man/man8/pop3d.8.gz \
	    /usr/share/doc/pop3d/README.md.gz /usr/share/doc/pop3d/copyright \
	    /usr/share/doc/pop3d/examples/inetd.conf.example \
	    /usr/share/doc/pop3d/examples/xinetd.conf.example \
	    /usr/share/doc/pop3d/examples/stunnel.conf.example \
	    /lib/systemd/system/pop3d.socket /lib/systemd/system/pop3d@.service \
	    /etc/fail2ban/filter.d/pop3d.conf /etc/fail2ban/jail.d/pop3d.conf; do
		grep -qx "$f" "$T/files" && ns test -e "$f" ||
		    { echo "not installed: $f" >&2; return 1; }
	done
	ns cat /lib/systemd/system/pop3d@.service > "$T/pop3d@.service"
	grep -q 'exec /usr/sbin/pop3d ' "$T/pop3d@.service"
	! grep -q /usr/local "$T/pop3d@.service"
	! ns test -e /etc/systemd/system/sockets.target.wants/pop3d.socket
	! ns grep -q '^enabled *= *true' /etc/fail2ban/jail.d/pop3d.conf
	ns man -l /usr/share/man/man8/pop3d.8.gz > /dev/null

	# the installed unit's command, as systemd would run it for a
	# connection to port 110 (its certificate paths made the test's)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=localhost \
	    2>/dev/null
	port=$(free_port)
	mapfile -d '' cmd < <(python3 "$TESTS/lib/example.py" \
	    "$T/pop3d@.service" \
	    "1-127.0.0.1:$port-127.0.0.2:40000" \
	    --map "/usr/sbin/pop3d=/usr/sbin/pop3d -p $PASSWD -m $SPOOL/%u -d 0 --allow-plaintext" \
	    --map "/etc/ssl/certs/pop3d.pem=$T/cert.pem" \
	    --map "/etc/ssl/private/pop3d.key=$T/key.pem")
	[ "${#cmd[@]}" -gt 1 ]
	syslog_start
	launch_ns "$T/sa.pid" systemd-socket-activate --inetd -a \
	    -l "127.0.0.1:$port" "${cmd[@]}" 2>> "$T/sa.log"
	wait_port "$port"
	run raw_session "$port" 'CAPA\r\nUSER alice\r\nPASS secret\r\nRETR 1\r\nQUIT\r\n'
	[[ $output == *'STLS\r'* ]] || { echo "$output" >&2; return 1; }
	[[ $output == *'fetched through the installed unit\r'* ]]
	[[ $output == *'+OK'*'logging out'* ]] || [[ $output == *'+OK'* ]]
	syslog_wait 'login: user=alice peer=127.0.0.2 method=USER'
	launch_stop_all

	ns dpkg --purge pop3d
	after=$(pop3d_paths)
	[ "$before" = "$after" ] ||
	    { diff <(echo "$before") <(echo "$after") >&2; return 1; }
	while read -r f; do
		! ns test -e "$f" || ns test -d "$f" ||
		    { echo "left behind: $f" >&2; return 1; }
	done < "$T/files"
	! ns getent passwd pop3d
	! ns getent group pop3d
	! ns test -e /var/lib/pop3d
	! ns test -e /run/pop3d
}
