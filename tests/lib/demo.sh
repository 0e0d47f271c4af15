#!/bin/sh
# tests/lib/demo.sh POP3D - `make demo`: a session on this terminal.
#
# Makes a demo user "demo" (password "demo") in a passwd file and a small
# mailbox in a temporary directory, then runs pop3d on the terminal, so a
# newcomer can type USER demo, PASS demo, LIST, RETR 1, QUIT.
set -eu
pop3d=${1:-./pop3d}
dir=$(mktemp -d /tmp/pop3d-demo.XXXXXX)
trap 'rm -rf "$dir"' EXIT INT TERM
chmod 755 "$dir"
if [ "$(id -u)" = 0 ]; then
	# root would refuse to serve uid 0: serve the demo as nobody
	uid=$(id -u nobody)
	gid=$(id -g nobody)
else
	uid=$(id -u)
	gid=$(id -g)
fi
hash=$(openssl passwd -6 demo)
printf 'demo:%s:%s:%s:Demo User:%s:/bin/sh\n' "$hash" "$uid" "$gid" \
    "$dir" > "$dir/passwd"
cat > "$dir/demo" <<'MBOX'
From alice@example.org Mon Nov 23 09:15:00 2026
From: Alice <alice@example.org>
To: demo@example.org
Subject: Welcome to pop3d

Hello! This is the first message of the demo mailbox.
Try LIST, UIDL, TOP 1 0, RETR 1, DELE 1 and QUIT.

From bob@example.org Mon Nov 23 10:42:13 2026
From: Bob <bob@example.org>
To: demo@example.org
Subject: Dots and From lines

.A line starting with a dot is byte-stuffed by RETR.
>From lines are sent as they are stored.

From carol@example.org Mon Nov 23 11:05:59 2026
From: Carol <carol@example.org>
To: demo@example.org
Subject: Short one

Bye.

MBOX
chown -R "$uid:$gid" "$dir"
chmod 600 "$dir/demo"
chmod 644 "$dir/passwd"
echo "pop3d demo: type USER demo, PASS demo, LIST, RETR 1, DELE 1, QUIT."
echo "(the mailbox is $dir/demo; it is removed when the session ends)"
"$pop3d" --passwd "$dir/passwd" --maildrop "$dir/%u" --fail-delay 1 \
    --min-uid 1 || :
