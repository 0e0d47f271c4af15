#!/usr/bin/env bats
# A whole session the way a client runs one: login, look, fetch, delete.

load lib/helper

setup() {
	setup_maildrop
}

@test "greeting, login, STAT, RETR, DELE and QUIT remove exactly the deleted message" {
	mbox_make 3
	pop3 <<-EOF
	$LOGIN
	STAT
	RETR 2
	DELE 2
	QUIT
	EOF
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "+OK pop3d ready" ]
	[ "${lines[2]}" = "+OK alice has 3 messages (156 octets)" ]
	[ "${lines[3]}" = "+OK 3 156" ]
	[ "${lines[4]}" = "+OK 52 octets" ]
	# bats leaves empty lines out of ${lines[@]}
	[ "${lines[7]}" = "body 2" ]
	[ "${lines[8]}" = "." ]
	[ "${lines[10]}" = "+OK pop3d signing off (1 messages deleted, 2 left)" ]
	run grep -c '^From ' "$MBOX"
	[ "$output" = 2 ]
	! grep -q 'msg 2' "$MBOX"
}

@test "a session that ends without QUIT deletes nothing" {
	mbox_make 2
	cp "$MBOX" "$BATS_TEST_TMPDIR/before"
	pop3 <<-EOF
	$LOGIN
	DELE 1
	!close
	EOF
	[ "$status" -eq 0 ]
	cmp "$MBOX" "$BATS_TEST_TMPDIR/before"
}
