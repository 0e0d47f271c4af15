#!/usr/bin/env python3
"""The tests' one delivery agent: mail put into a mailbox the way Debian's
MDAs lock it (README "Locking"), or handed to a real MDA.

    deliver.py MBOX [SENDER] < message
        an fcntl lock, then MBOX.lock (created with link(), as liblockfile
        does); appends a From_ line, the message with ">From " quoting and
        an empty line; fsyncs and unlocks.  Gives up after 20 s.
    deliver.py --second MBOX [SENDER] < message
        the same, started at the start of a wall-clock second
    deliver.py --swap MBOX OLD NEW [LOG]
        under the same locks, a same-size rewrite: the first OLD in the
        file becomes NEW (of the same length); LOG gets "TRIED MTIME"
        (whole seconds: when the rewrite was tried, and the file's mtime)
    deliver.py --swap-next MBOX OLD NEW [LOG]
        --swap after waiting (at most 5 s) for someone else's MBOX.lock,
        so the rewrite comes right after that locker's
    deliver.py --mda KIND MBOX MSG [RCFILE]
        one delivery of the file MSG (no From_ line) by a real MDA:
        dotlockfile  as the mailbox's owner (its uid, and that number as
                     gid: the tests' users have gid = uid; no supplementary
                     groups), liblockfile's dotlockfile -p takes MBOX.lock
                     (and breaks one whose pid is dead), the message is
                     appended with a From_ line and an empty line, the lock
                     removed; no fcntl lock
        procmail     procmail -m RCFILE as root, the rcfile delivering to
                     MBOX with a local lockfile (MBOX.lock, then a kernel
                     lock)
        fcntl        this program's own delivery, as above
        The mailbox's owner, group and mode are left as they were.
    deliver.py --store DIR < message
        a client's MDA: the message, byte for byte, into the next free
        DIR/NNNNNN (O_EXCL, so concurrent deliveries never share a file)
"""
import fcntl
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # nothing generated in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mbox  # noqa: E402  (tests/lib/mbox.py: the From_ line and quoting)

LOCK_WAIT = 20          # seconds before a delivery gives up
RETRY = 0.05            # seconds between lock attempts
STORE_MAX = 100000      # files in a --store directory


class Locked(Exception):
    pass


def lock(fd, path, deadline):
    """fcntl, then path.lock by link() (liblockfile's way)."""
    lockname = path + ".lock"
    tmp = "%s.%d.deliver" % (lockname, os.getpid())
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            if time.monotonic() > deadline:
                raise Locked("mailbox stays locked")
            time.sleep(RETRY)
            continue
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        try:
            os.link(tmp, lockname)
        except OSError:
            pass
        got = os.stat(tmp).st_nlink == 2
        os.unlink(tmp)
        if got:
            return
        fcntl.lockf(fd, fcntl.LOCK_UN)
        if time.monotonic() > deadline:
            raise Locked("dotlock stays taken")
        time.sleep(RETRY)


def unlock(fd, path):
    os.unlink(path + ".lock")
    fcntl.lockf(fd, fcntl.LOCK_UN)


def locked(path, flags, work):
    """Run work(fd) on path under both locks, then fsync."""
    fd = os.open(path, flags, 0o600)
    try:
        lock(fd, path, time.monotonic() + LOCK_WAIT)
        try:
            work(fd)
            os.fsync(fd)
        finally:
            unlock(fd, path)
    finally:
        os.close(fd)


def deliver(path, msg, sender="MAILER-DAEMON"):
    """Append msg (bytes, no From_ line) as an MDA does."""
    stamp = time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime()).encode()
    data = mbox.mbox_form(msg, sender.encode(), stamp)
    locked(path, os.O_RDWR | os.O_CREAT | os.O_APPEND,
           lambda fd: os.write(fd, data))


def swap(path, old, new, log=None):
    """A same-size rewrite of the first old in the file into new."""
    if len(old) != len(new):
        raise ValueError("--swap: OLD and NEW differ in length")
    tried = int(time.time())

    def work(fd):
        if log:
            with open(log, "w") as f:
                f.write("%d %d\n" % (tried, int(os.stat(path).st_mtime)))
        at = os.pread(fd, os.fstat(fd).st_size, 0).index(old)
        os.pwrite(fd, new, at)
    locked(path, os.O_RDWR, work)


def store(d, data):
    for n in range(1, STORE_MAX):
        try:
            fd = os.open(os.path.join(d, "%06d" % n),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return
    raise Locked("%s is full" % d)


def real_mda(kind, path, msg, rcfile=None):
    """One delivery of the file msg by a real MDA; its exit status."""
    if kind == "fcntl":
        with open(msg, "rb") as f:
            deliver(path, f.read())
        return 0
    if kind == "procmail":
        with open(msg, "rb") as f:
            return subprocess.run(["procmail", "-f", "mda@example.org",
                                   "-m", rcfile], stdin=f).returncode
    if kind == "dotlockfile":
        uid = os.stat(path).st_uid
        form = msg + ".mbox"
        with open(msg, "rb") as f:
            data = f.read()
        with open(form, "wb") as f:
            f.write(b"From mda@example.org Mon Jan  1 00:00:00 2024\n" +
                    data + b"\n")
        os.chmod(form, 0o644)
        return subprocess.run(
            ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid,
             "--clear-groups", "dotlockfile", "-p", "-r", "30", "-i", "1",
             path + ".lock", "sh", "-c", 'cat "$0" >> "$1"', form,
             path]).returncode
    raise ValueError("unknown MDA %s" % kind)


def main(a):
    if not a:
        sys.exit(__doc__)
    if a[0] == "--mda":
        return real_mda(a[1], a[2], a[3], a[4] if len(a) > 4 else None)
    if a[0] == "--store":
        store(a[1], sys.stdin.buffer.read())
        return 0
    if a[0] in ("--swap", "--swap-next"):
        if a[0] == "--swap-next":
            t0 = time.monotonic()
            while not os.path.exists(a[1] + ".lock") and \
                    time.monotonic() < t0 + 5:
                time.sleep(0.001)
        swap(a[1], a[2].encode(), a[3].encode(), a[4] if len(a) > 4
             else None)
        return 0
    if a[0] == "--second":
        time.sleep(1.0 - time.time() % 1)
        a = a[1:]
    deliver(a[0], sys.stdin.buffer.read(),
            a[1] if len(a) > 1 else "MAILER-DAEMON")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (Locked, ValueError) as e:
        sys.exit("deliver.py: %s" % e)
