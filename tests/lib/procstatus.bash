#!/bin/bash
# tests/lib/procstatus.bash PARENT_PID BINARY OUT - copy /proc/PID/status of
# the running pop3d to OUT.  Run from a session's "!sh" line
# (tests/lib/pop3client.py), where the shell's $PPID is the client and pop3d is the child of the client whose
# executable is BINARY (the same pid through "exec" wrappers).  Writes
# OUT only when exactly one such process is found; exit 1 otherwise.
# A cross build's launcher X.run runs qemu-user on X: then the process's
# executable is qemu and X is in its command line.
parent=$1 binary=$(readlink -f "${2%.run}") out=$3
found=
is_pop3d() {
	local exe
	exe=$(readlink "$1/exe" 2>/dev/null) || return 1
	[ "$exe" = "$binary" ] && return 0
	case ${exe##*/} in
	qemu-*) tr '\0' '\n' < "$1/cmdline" 2>/dev/null | grep -qxF "$binary" ;;
	*) return 1 ;;
	esac
}
for dir in /proc/[0-9]*; do
	is_pop3d "$dir" || continue
	ppid=$(awk '/^PPid:/ { print $2 }' "$dir/status" 2>/dev/null)
	[ "$ppid" = "$parent" ] || continue
	[ -z "$found" ] || { echo "procstatus: two pop3d children" >&2; exit 1; }
	found=$dir
done
[ -n "$found" ] || { echo "procstatus: no pop3d child of $parent" >&2; exit 1; }
cat "$found/status" > "$out.tmp" && mv "$out.tmp" "$out"
