#!/usr/bin/env bats
# Power cuts, not just kill -9: the crash states a file system allows after
# every operation of a real UPDATE and of a real recovery (powercut.py
# has the model; README "Tests" says what it assumes).  Each state is laid
# out in the spool, dated before this boot, and the next login must answer
# +OK within the lock wait and leave the mailbox as the integrity sweeps
# require: nothing lost, duplicated or corrupted, the deletions all done or
# all undone, mail delivered after the crash kept once; no journal, lock or
# unique lock file left.  The counts go to the TAP log.

load lib/helper

# The states are laid out on tmpfs when there is one: the model, not the
# disk, decides what survived, and pop3d's fsyncs then cost nothing.
setup() {
	chmod a+x "$BATS_RUN_TMPDIR" "$BATS_RUN_TMPDIR/test" "$BATS_TEST_TMPDIR"
	WORK=$BATS_TEST_TMPDIR
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		WORK=$(mktemp -d /dev/shm/pop3d-crashstates.XXXXXX)
		chmod 755 "$WORK"
	fi
}

teardown() {
	[ "$WORK" = "$BATS_TEST_TMPDIR" ] || rm -rf "$WORK"
}

# replay SCENARIO MIN_CHECKED [powercut.py options]: fails on any bad
# state, and when fewer than MIN_CHECKED states were checked (the model
# must not shrink to nothing unnoticed)
replay() {
	local name=$1 min=$2 checked
	shift 2
	run timeout 600 python3 "$TESTS/lib/powercut.py" --pop3d "$POP3D" \
	    --work "$WORK/$name" --scenario "$name" "$@"
	printf '%s\n' "$output" | grep -E '^(#|states=)' |
	    sed "s/^#* *\($name: \)*/# $name: /" >&3
	if [ "$status" -ne 0 ]; then
		printf '%s\n' "$output" | head -30
		return 1
	fi
	checked=$(printf '%s\n' "$output" | sed -n 's/.* checked=\([0-9]*\) .*/\1/p')
	[ "${checked:-0}" -ge "$min" ] || {
		echo "$name: only ${checked:-0} states checked, want $min" >&2
		return 1
	}
}

@test "power-cut states of an UPDATE deleting the first message (~40 KB moved)" {
	replay dele-first 300 --per-point 128 --max-states 400
}

@test "power-cut states of an UPDATE deleting the first message, then mail delivered" {
	replay dele-first-deliver 300 --per-point 128 --max-states 400
}

@test "power-cut states of an UPDATE deleting a middle message" {
	replay dele-middle 300 --per-point 128 --max-states 400
}

@test "power-cut states of an UPDATE deleting a middle message, then mail delivered" {
	replay dele-middle-deliver 300 --per-point 128 --max-states 400
}

@test "power-cut states of an UPDATE deleting only the last message (one ftruncate), with and without mail delivered" {
	replay dele-last 5
	replay dele-last-deliver 5
}

@test "power-cut states of a recovery (update killed right after its commit)" {
	replay recover 300 --per-point 256 --max-states 400
}

@test "power-cut states of a recovery that keeps mail delivered after the first crash" {
	replay recover-deliver 300 --per-point 256 --max-states 400
}

@test "power-cut states of a recovery of an update killed after its ftruncate, with and without mail delivered" {
	replay recover-cut 5
	replay recover-cut-deliver 5
}
