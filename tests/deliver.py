#!/usr/bin/env python3
"""Deliver a message into an mbox the way Debian's MDAs lock it.

    deliver.py MBOX [SENDER] < message
    deliver.py --swap MBOX OLD NEW [LOG]
    deliver.py --swap-next MBOX OLD NEW [LOG]
    deliver.py --second MBOX [SENDER] < message

Takes an fcntl lock, then MBOX.lock (created with link(), as liblockfile
does), appends a From_ line, the message with ">From " quoting, and an
empty line, fsyncs, and unlocks.  Bounded: gives up after 20 s.  With
--swap it rewrites instead, under the same locks: the first OLD in the
file becomes NEW, of the same length (a same-size rewrite), and LOG gets
"TRIED MTIME" (whole seconds: when the rewrite was tried, and the file's
mtime then).  --swap-next first waits (bounded) for someone else's
MBOX.lock, so the rewrite comes right after that locker's.  --second waits
for the start of a wall-clock second first.
"""
import fcntl
import os
import sys
import time

swap = sys.argv[1] in ("--swap", "--swap-next")
if sys.argv[1] == "--swap-next":
    t0 = time.monotonic()
    while not os.path.exists(sys.argv[2] + ".lock") and \
            time.monotonic() < t0 + 5:
        time.sleep(0.001)
if swap or sys.argv[1] == "--second":
    if not swap:
        time.sleep(1.0 - time.time() % 1)
    sys.argv.pop(1)
tried = int(time.time())
mbox = sys.argv[1]
sender = sys.argv[2] if len(sys.argv) > 2 and not swap else "MAILER-DAEMON"
body = b"" if swap else sys.stdin.buffer.read()
lines = body.split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
quoted = b"".join((b">" + l if l.startswith(b"From ") else l) + b"\n"
                  for l in lines)
stamp = time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime()).encode()
data = b"From " + sender.encode() + b" " + stamp + b"\n" + quoted + b"\n"

fd = os.open(mbox, os.O_RDWR | (0 if swap else os.O_CREAT | os.O_APPEND),
             0o600)
deadline = time.monotonic() + 20
lock = mbox + ".lock"
tmp = "%s.%d.deliver" % (lock, os.getpid())
while True:
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("deliver.py: mailbox stays locked")
        time.sleep(0.05)
        continue
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    try:
        os.link(tmp, lock)
    except OSError:
        pass
    got = os.stat(tmp).st_nlink == 2
    os.unlink(tmp)
    if got:
        break
    fcntl.lockf(fd, fcntl.LOCK_UN)
    if time.monotonic() > deadline:
        sys.exit("deliver.py: dotlock stays taken")
    time.sleep(0.05)
try:
    if swap:
        old, new = sys.argv[2].encode(), sys.argv[3].encode()
        assert len(old) == len(new)
        if len(sys.argv) > 4:
            with open(sys.argv[4], "w") as f:
                f.write("%d %d\n" % (tried, int(os.stat(mbox).st_mtime)))
        at = os.pread(fd, os.fstat(fd).st_size, 0).index(old)
        os.pwrite(fd, new, at)
    else:
        os.write(fd, data)
    os.fsync(fd)
finally:
    os.unlink(lock)
    fcntl.lockf(fd, fcntl.LOCK_UN)
    os.close(fd)
