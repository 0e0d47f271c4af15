#!/usr/bin/env python3
"""Deliver a message into an mbox the way Debian's MDAs lock it.

    deliver.py MBOX [SENDER] < message

Takes an fcntl lock, then MBOX.lock (created with link(), as liblockfile
does), appends a From_ line, the message with ">From " quoting, and an
empty line, fsyncs, and unlocks.  Bounded: gives up after 20 s.
"""
import fcntl
import os
import sys
import time

mbox = sys.argv[1]
sender = sys.argv[2] if len(sys.argv) > 2 else "MAILER-DAEMON"
body = sys.stdin.buffer.read()
lines = body.split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
quoted = b"".join((b">" + l if l.startswith(b"From ") else l) + b"\n"
                  for l in lines)
stamp = time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime()).encode()
data = b"From " + sender.encode() + b" " + stamp + b"\n" + quoted + b"\n"

fd = os.open(mbox, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
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
    os.write(fd, data)
    os.fsync(fd)
finally:
    os.unlink(lock)
    fcntl.lockf(fd, fcntl.LOCK_UN)
    os.close(fd)
