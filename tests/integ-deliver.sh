#!/bin/sh
# integ-deliver.sh KIND MBOX MSG [RCFILE] - one delivery of MSG (a message
# without a From_ line) into MBOX by a real Debian MDA, for locking.bats.
#
#   dotlockfile  as the mailbox's owner (its uid, and that number as gid:
#                the tests' users have gid = uid; no supplementary groups): liblockfile's setgid-mail
#                dotlockfile -p takes MBOX.lock (and breaks one whose pid
#                is dead), the message is appended with a From_ line and
#                an empty line, the lock removed; no fcntl lock
#   procmail     procmail -m RCFILE as root, the rcfile delivering to MBOX
#                with a local lockfile (MBOX.lock, then a kernel lock)
#   deliver.py   tests/deliver.py (fcntl, then a link()ed MBOX.lock)
# The mailbox's owner, group and mode are left as they were.
set -u
kind=$1 mbox=$2 msg=$3
case $kind in
dotlockfile)
	uid=$(stat -c %u "$mbox")
	form=$msg.mbox
	{ printf 'From mda@example.org Mon Jan  1 00:00:00 2024\n'
	  cat "$msg"; printf '\n'; } > "$form"
	chmod 644 "$form"
	exec setpriv --reuid="$uid" --regid="$uid" --clear-groups \
	    dotlockfile -p -r 30 -i 1 "$mbox.lock" \
	    sh -c 'cat "$0" >> "$1"' "$form" "$mbox"
	;;
procmail)
	exec procmail -f mda@example.org -m "$4" < "$msg"
	;;
deliver.py)
	exec python3 "$(dirname "$0")/deliver.py" "$mbox" < "$msg"
	;;
esac
echo "integ-deliver.sh: unknown kind $kind" >&2
exit 2
