# tests/lib/accounts.bash - system accounts for the auth tests
# (auth.bats, apop-sasl.bats, privilege.bats, privsep.bats, fail2ban.bats).
# Load after helper.bash; the sessions are lib/pop3.bash's sysacct and
# client.
#
# Accounts are real: useradd, chpasswd -c METHOD, chage, usermod.  Every
# name starts with "p3a_" and is written to $BATS_TEST_TMPDIR/auth-users
# before it is created, so auth_teardown removes it even when the test
# failed half-way.

# Methods chpasswd -c knows, plus BCRYPT: Debian 12's chpasswd cannot make
# bcrypt, so that hash comes from libxcrypt's crypt_gensalt + crypt
# (tests/lib/crypthash.py, through ctypes) and is set with usermod -p.
AUTH_METHODS="YESCRYPT SHA512 SHA256 MD5 BCRYPT"

# Prefix of each method's hashes, for crypthash.py and for checks.
auth_prefix() {
	case $1 in
	YESCRYPT) echo '$y$' ;;
	SHA512) echo '$6$' ;;
	SHA256) echo '$5$' ;;
	MD5) echo '$1$' ;;
	BCRYPT) echo '$2b$' ;;
	*) echo "auth_prefix: unknown method $1" >&2; return 1 ;;
	esac
}

# auth_hash PREFIX PASSWORD: a libxcrypt hash (random salt, default cost).
auth_hash() {
	printf '%s' "$2" | python3 "$TESTS/lib/crypthash.py" "$1"
}

# A fresh user name: p3a_TAG_RANDOM (at most 32 characters).
auth_name() {
	printf 'p3a_%s_%04x%04x' "${1:0:12}" $RANDOM $RANDOM
}

# Run an account tool, retrying (bounded) while another process holds
# the passwd/shadow lock.
auth_retry() {
	local i
	for ((i = 0; i < 20; i++)); do
		"$@" && return 0
		sleep 0.25
	done
	echo "failed 20 times: $*" >&2
	return 1
}

# auth_user NAME [useradd options...]: create a system account with no
# usable password yet, home $BATS_TEST_TMPDIR.  Prints nothing.
auth_user() {
	local name=$1
	shift
	echo "$name" >> "$BATS_TEST_TMPDIR/auth-users"
	auth_retry useradd -M -d "$BATS_TEST_TMPDIR" -s /bin/sh "$@" "$name"
}

# auth_password NAME METHOD PASSWORD: set a password the way an admin does.
auth_password() {
	if [ "$2" = BCRYPT ]; then
		local hash
		hash=$(auth_hash '$2b$' "$3") || return 1
		auth_retry usermod -p "$hash" "$1"
	else
		printf '%s:%s\n' "$1" "$3" | auth_retry chpasswd -c "$2"
	fi
	auth_shadow_hash "$1" | grep -qF "$(auth_prefix "$2")" || {
		echo "$1 has no $2 hash: $(auth_shadow_hash "$1" | cut -c1-8)" >&2
		return 1
	}
}

# The hash field of NAME in /etc/shadow.
auth_shadow_hash() {
	getent shadow "$1" | cut -d: -f2
}

# Remove every account this test made (teardown; never fails).
auth_teardown() {
	syslog_stop
	[ -f "$BATS_TEST_TMPDIR/auth-users" ] || return 0
	local name
	while read -r name; do
		case $name in p3a_*) ;; *) continue ;; esac
		if getent passwd "$name" >/dev/null; then
			# lock first: a uid-0 alias must never stay usable
			usermod -L -e 1 "$name" >/dev/null 2>&1 || :
			auth_retry userdel -f "$name" >/dev/null 2>&1 || :
		fi
		if getent group "$name" >/dev/null; then
			auth_retry groupdel "$name" >/dev/null 2>&1 || :
		fi
	done < "$BATS_TEST_TMPDIR/auth-users"
	rm -f "$BATS_TEST_TMPDIR/auth-users"
}

# auth_group NAME: a group that auth_teardown removes.
auth_group() {
	echo "$1" >> "$BATS_TEST_TMPDIR/auth-users"
	auth_retry groupadd "$1"
}

# auth_spool [USER]: $SPOOL for system users, owned by USER (mode 700)
# or, without USER, shared by all (mode 1777, like /tmp).
auth_spool() {
	chmod a+x "$BATS_RUN_TMPDIR" "$BATS_RUN_TMPDIR/test" "$BATS_TEST_TMPDIR"
	SPOOL=$BATS_TEST_TMPDIR/sysspool
	mkdir -p "$SPOOL"
	if [ -n "${1:-}" ]; then
		chown "$1:" "$SPOOL"
		chmod 700 "$SPOOL"
	else
		chmod 1777 "$SPOOL"
	fi
}

# The failure reply every wrong name, password or account state gets.
AUTH_FAIL_REPLY="-ERR [AUTH] invalid user name or password"

# Median of the numbers on stdin (one a line).
auth_median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) exit 1
		if (NR % 2) print v[(NR + 1) / 2]
		else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Exit 0 if A and B (seconds) are within PERCENT of each other.
auth_within() {
	awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN {
		hi = a > b ? a : b; lo = a > b ? b : a
		exit !(lo > 0 && hi <= lo * (1 + p / 100)) }'
}
