#!/bin/sh
# deliver-at.sh WHEN MBOX LOG CMD... - run an MDA delivery command at a
# chosen moment, for locking.bats.
#
# WHEN is "now", or "update": wait (at most 30 s, polling every 10 ms)
# until MBOX.pop3d-journal exists, that is until pop3d is in UPDATE and
# holds the mailbox's locks, then run CMD.  Appends to LOG one line
# "journal=yes|no rc=N ms=N" (journal: whether pop3d's journal still
# existed when CMD was started) and then "done".
when=$1 mbox=$2 log=$3
shift 3
if [ "$when" = update ]; then
	i=0
	while [ ! -e "$mbox.pop3d-journal" ] && [ $i -lt 3000 ]; do
		sleep 0.01
		i=$((i + 1))
	done
fi
seen=no
[ -e "$mbox.pop3d-journal" ] && seen=yes
start=$(date +%s%N)
"$@"
rc=$?
end=$(date +%s%N)
echo "journal=$seen rc=$rc ms=$(( (end - start) / 1000000 ))" >> "$log"
echo done >> "$log"
