#!/bin/sh
# bench/update-cost.sh [POP3D...] - what UPDATE costs on a ~1 GB mailbox.
#
# Generates (in $BENCH_TMP, default a fresh directory under /tmp, removed
# afterwards; never in the tree) a mailbox of $BENCH_MSGS messages
# (default 100000) of ~10 KB each, then in one run measures:
#   cp         copying the file (the cost a temp-file-and-rename update pays)
#   login      a session that logs in and quits (index only)
#   uidl       a session that asks UIDL (digests of every message)
#   del-last   a session deleting the last message: whole session, QUIT
#   del-first  a session deleting the first message: whole session, QUIT
# Wall times in milliseconds, one line each.  Deleting only the last
# messages is one ftruncate() (README "The mailbox", Deleting), so del-last
# QUIT should stay under 50 ms.  Run as root (the session runs as uid 5000, as in
# the tests) or as the mailbox's owner.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || set -- "$here/pop3d"
MSGS=${BENCH_MSGS:-100000}
dir=${BENCH_TMP:-$(mktemp -d /tmp/pop3d-update-cost.XXXXXX)}
trap 'rm -rf "$dir"' EXIT INT TERM
chmod 755 "$dir"
if [ "$(id -u)" = 0 ]; then uid=5000; else uid=$(id -u); fi
mkdir -p "$dir/spool"
chown "$uid" "$dir/spool"
pw=$(openssl passwd -6 -salt bench secret)
printf 'bench:%s:%s:%s:Bench:%s:/bin/sh\n' "$pw" "$uid" "$uid" "$dir" > "$dir/passwd"
mbox=$dir/spool/bench

python3 - "$mbox" "$MSGS" <<'EOF'
import random, sys
path, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(1)
alpha = b"abcdefghijklmnopqrstuvwxyz0123456789 .,"
table = bytes(alpha[i % len(alpha)] for i in range(256))
pool = rng.randbytes(1 << 20).translate(table)
lines = [pool[i:i + 72] + b"\n" for i in range(0, len(pool) - 72, 73)]
with open(path, "wb", buffering=1 << 22) as f:
    for i in range(n):
        body = b"".join(lines[(i * 7 + k) % len(lines)] for k in range(135))
        f.write(b"From sender%d@example.org Mon Jan  1 %02d:%02d:%02d 2024\n"
                b"From: sender%d@example.org\nSubject: bench %d\n"
                b"Message-ID: <bench-%d@example.org>\n\n" % (
                    i % 97, i // 3600 % 24, i // 60 % 60, i % 60, i % 97,
                    i, i) + body + b"\n")
EOF
chown "$uid" "$mbox"
chmod 600 "$mbox"
sync "$mbox"		# or the first fsync pays for writing the generated file
count=$MSGS

# session COMMAND...: times the whole session and the reply
# to each command; prints "total quit" in ms
session() {
	python3 - "$bin" "$dir/passwd" "$dir/spool/%u" "$@" <<'EOF'
import socket, subprocess, sys, time
pop3d, passwd, template = sys.argv[1:4]
cmds = sys.argv[4:]
t0 = time.monotonic()
ours, theirs = socket.socketpair()
p = subprocess.Popen([pop3d, "-p", passwd, "-m", template, "-d", "0"],
                     stdin=theirs, stdout=theirs, stderr=theirs)
theirs.close()
f = ours.makefile("rb")
def reply(multi):
    l = f.readline()
    if multi and l.startswith(b"+OK"):
        while f.readline() not in (b".\r\n", b""):
            pass
    return l
reply(False)
times = {}
for c in ["USER bench", "PASS secret"] + cmds:
    t = time.monotonic()
    ours.sendall(c.encode() + b"\r\n")
    r = reply(c == "UIDL")
    times[c.split()[0]] = (time.monotonic() - t) * 1000
    if not r.startswith(b"+OK"):
        sys.exit("%s: %r" % (c, r))
p.wait()
total = (time.monotonic() - t0) * 1000
print("%.1f %.1f %.1f" % (total, times.get("QUIT", 0), times.get("PASS", 0)))
EOF
}

size=$(stat -c %s "$mbox")
cat "$mbox" > /dev/null		# warm the page cache for everyone
echo "# mailbox: $count messages, $size bytes"
t=$(date +%s%N)
cp "$mbox" "$dir/copy"
sync "$dir/copy" 2>/dev/null || :
echo "cp+fsync     $(( ($(date +%s%N) - t) / 1000000 )) ms"
rm -f "$dir/copy"
cp "$mbox" "$dir/orig"		# each binary starts from the same file
for bin in "$@"; do
	cat "$dir/orig" > "$mbox"	# in place: same inode, owner, mode
	sync		# no writeback of our own copies may run into a session
	echo "# pop3d: $bin"
	set -- $(session QUIT)
	echo "login        session $1 ms (PASS, i.e. index: $3 ms)"
	set -- $(session UIDL QUIT)
	echo "uidl         session $1 ms"
	set -- $(session "DELE $count" QUIT)
	echo "del-last     session $1 ms, QUIT $2 ms"
	sync
	set -- $(session "DELE 1" QUIT)
	echo "del-first    session $1 ms, QUIT $2 ms"
done
