#!/bin/bash
# tests/auth-proc.bash PARENT_PID BINARY OUT - copy /proc/PID/status of
# the running pop3d to OUT.  Run from a session.py "!sh" line, where the
# shell's $PPID is session.py and pop3d is the child of session.py whose
# executable is BINARY (the same pid through "exec" wrappers).  Writes
# OUT only when exactly one such process is found; exit 1 otherwise.
parent=$1 binary=$(readlink -f "$2") out=$3
found=
for dir in /proc/[0-9]*; do
	[ "$(readlink "$dir/exe" 2>/dev/null)" = "$binary" ] || continue
	ppid=$(awk '/^PPid:/ { print $2 }' "$dir/status" 2>/dev/null)
	[ "$ppid" = "$parent" ] || continue
	[ -z "$found" ] || { echo "auth-proc: two pop3d children" >&2; exit 1; }
	found=$dir
done
[ -n "$found" ] || { echo "auth-proc: no pop3d child of $parent" >&2; exit 1; }
cat "$found/status" > "$out.tmp" && mv "$out.tmp" "$out"
