#!/usr/bin/env python3
"""Fetch-and-delete sessions through a balancer while an MDA delivers.

    cluster.py --connect ADDR:PORT --mbox PATH --mda CMD [--mda CMD]...
        [--user alice] [--password secret] [--sessions 300]
        [--parallel 30] [--messages 300] [--deliverers 4]
        [--source-net 127.0.1] [--deadline 240]

The driver of cluster.bats.  Delivery k (0 <= k < messages) runs the
shell command --mda[k % len(mda)] with message k on stdin; the message
carries "cluster-id=K" in its body.  Session j (0 <= j < sessions) waits
until about j * messages / sessions deliveries are done, so the two
interleave, then connects from SOURCE-NET.(j % 250 + 1), logs in with
USER/PASS, RETRs every message, DELEs every message and QUITs (RFC 1939).
At most --parallel sessions are open at once.

A login answered "-ERR [IN-USE]", a login, RETR or QUIT answered
"-ERR [SYS/TEMP]" (RFC 2449 and RFC 3206: the maildrop was locked, or
changed by another session, so nothing was deleted), or a RETR cut off
by the end of the connection (the message changed while it was sent:
pop3d ends the session, deleting nothing) is counted and the session is
tried again, at most MAX_TRIES times.  A message counts as
fetched only by a session whose QUIT answered +OK: that session deleted
it.  The messages of a session whose QUIT failed are still in the
mailbox, and any client fetches them again.

At the end the mailbox file is read: every delivered id must be in
exactly one committed session or in the file, once; nothing else may be
in either.  One summary line goes to stdout ("mda-seconds=MEAN/MAX": how
long a delivery took), then the faults, if any; the exit status is 0 only
with no fault.  Every wait has a timeout and every loop a bound;
--deadline bounds the whole run.
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # nothing generated in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3client import Closed, Pop3  # noqa: E402  (tests/lib: no package)

MAX_TRIES = 60		# attempts of one session (each [IN-USE] or [SYS/TEMP])
IO_TIMEOUT = 30		# one reply; pop3d waits at most ~10 s for a lock
MDA_TIMEOUT = 60	# one delivery (procmail retries the lock every second)
LINE_MAX = 1 << 16
ID_RE = re.compile(rb"cluster-id=(\d+)")


def message(k):
    """Message k: a few header lines and a body of k-dependent length,
    with a line starting with a dot (byte-stuffed by RETR)."""
    pad = "".join("line %d of message %d\n" % (i, k) for i in range(k % 40))
    return ("From: mda@example.org\nSubject: cluster %d\n"
            "Message-ID: <cluster-%d@example.org>\n\n"
            "cluster-id=%d\n.dot line\n%s" % (k, k, k, pad)).encode()


class Fault(Exception):
    pass


class Run:
    def __init__(self, opt):
        self.opt = opt
        self.lock = threading.Lock()
        self.delivered = []		# ids whose MDA exited 0
        self.mda_failed = []		# (id, status, stderr)
        self.done_deliveries = 0
        self.mda_secs = []		# how long each delivery took
        self.committed = collections.Counter()	# id -> committed fetches
        self.refetched = 0		# RETRs of sessions whose QUIT failed
        self.count = collections.Counter()	# reply kinds, greetings' hosts
        self.faults = []
        self.end = time.monotonic() + opt.deadline

    def fault(self, text):
        with self.lock:
            self.faults.append(text)

    # ---- deliveries
    def deliver(self, k):
        cmd = self.opt.mda[k % len(self.opt.mda)]
        t0 = time.monotonic()
        try:
            p = subprocess.run(["sh", "-c", cmd], input=message(k),
                               capture_output=True, timeout=MDA_TIMEOUT)
            status, err = p.returncode, p.stderr[-200:]
        except subprocess.TimeoutExpired:
            status, err = "timeout", b""
        with self.lock:
            self.mda_secs.append(time.monotonic() - t0)
            if status == 0:
                self.delivered.append(k)
            else:
                self.mda_failed.append((k, status, err))
            self.done_deliveries += 1

    def deliverer(self, ids):
        for k in ids:
            if time.monotonic() > self.end:
                self.fault("deadline: delivery %d not started" % k)
                return
            self.deliver(k)

    # ---- sessions
    def session_once(self, j):
        """One attempt: "ok", "in-use", "sys-temp" or "cut"."""
        src = "%s.%d" % (self.opt.source_net, j % 250 + 1)
        c = Pop3(self.opt.addr[1], self.opt.addr[0], src, IO_TIMEOUT,
                 LINE_MAX)
        try:
            greet = c.line()
            if not greet.startswith(b"+OK"):
                raise Fault("greeting: %r" % greet)
            m = re.search(rb"@([^>]+)>", greet)
            with self.lock:
                self.count["host " + (m.group(1).decode() if m else "?")] += 1
            r = c.cmd("USER " + self.opt.user)
            if not r.startswith(b"+OK"):
                raise Fault("USER: %r" % r)
            r = c.cmd("PASS " + self.opt.password)
            if r.startswith(b"-ERR [IN-USE]"):
                return "in-use"
            if r.startswith(b"-ERR [SYS/TEMP]"):
                return "sys-temp"
            if not r.startswith(b"+OK"):
                raise Fault("PASS: %r" % r)
            r = c.cmd("STAT")
            if not r.startswith(b"+OK "):
                raise Fault("STAT: %r" % r)
            n = int(r.split()[1])
            got = []
            for i in range(1, n + 1):
                try:
                    r = c.cmd("RETR %d" % i)
                    body = c.multi() if r.startswith(b"+OK") else None
                except Closed:
                    # changed while it was sent: pop3d cuts the reply
                    # and ends the session, deleting nothing
                    with self.lock:
                        self.refetched += len(got)
                    return "cut"
                if r.startswith(b"-ERR [SYS/TEMP]"):
                    # changed under the session (RFC 3206): nothing is
                    # deleted yet; end it (if pop3d has not) and come back
                    try:
                        c.cmd("QUIT")
                    except Closed:
                        pass
                    with self.lock:
                        self.refetched += len(got)
                    return "sys-temp"
                if not r.startswith(b"+OK"):
                    raise Fault("RETR %d: %r" % (i, r))
                ids = [int(x) for x in ID_RE.findall(b"\n".join(body))]
                if len(ids) != 1:
                    raise Fault("RETR %d: ids %r" % (i, ids))
                got.append(ids[0])
            for i in range(1, n + 1):
                r = c.cmd("DELE %d" % i)
                if not r.startswith(b"+OK"):
                    raise Fault("DELE %d: %r" % (i, r))
            r = c.cmd("QUIT")
            with self.lock:
                if r.startswith(b"+OK"):
                    self.committed.update(got)
                    return "ok"
                if r.startswith(b"-ERR [SYS/TEMP]"):
                    self.refetched += len(got)
                    return "sys-temp"
            raise Fault("QUIT: %r" % r)
        finally:
            c.close()

    def session(self, j):
        want = j * self.opt.messages // self.opt.sessions
        while self.done_deliveries < want and time.monotonic() < self.end:
            time.sleep(0.02)
        for _ in range(MAX_TRIES):
            if time.monotonic() > self.end:
                self.fault("deadline: session %d unfinished" % j)
                return
            try:
                r = self.session_once(j)
            except (Fault, OSError, ValueError) as e:
                self.fault("session %d: %s" % (j, e))
                return
            with self.lock:
                self.count[r] += 1
            if r == "ok":
                return
            time.sleep(0.05 + 0.01 * (j % 10))
        with self.lock:
            self.count["gave up"] += 1

    def sessions(self, queue):
        while True:
            with self.lock:
                if not queue:
                    return
                j = queue.popleft()
            self.session(j)


def mailbox_ids(path):
    """The ids in the mailbox file, with their counts."""
    with open(path, "rb") as f:
        return collections.Counter(int(x) for x in ID_RE.findall(f.read()))


def check(run, left):
    faults = list(run.faults)
    for k, status, err in run.mda_failed:
        faults.append("delivery %d: status %s %r" % (k, status, err))
    delivered = set(run.delivered)
    for k in sorted(delivered):
        n = run.committed[k] + left[k]
        if n == 0:
            faults.append("message %d lost" % k)
        elif n > 1:
            faults.append("message %d twice: fetched %d, in the mailbox %d" %
                          (k, run.committed[k], left[k]))
    for k in sorted(set(run.committed) | set(left)):
        if k not in delivered:
            faults.append("message %d was never delivered" % k)
    return faults


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", required=True)
    ap.add_argument("--mbox", required=True)
    ap.add_argument("--mda", action="append", required=True)
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--sessions", type=int, default=300)
    ap.add_argument("--parallel", type=int, default=30)
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--deliverers", type=int, default=4)
    ap.add_argument("--source-net", default="127.0.1")
    ap.add_argument("--deadline", type=float, default=240)
    opt = ap.parse_args()
    host, port = opt.connect.rsplit(":", 1)
    opt.addr = (host, int(port))

    run = Run(opt)
    start = time.monotonic()
    threads = [threading.Thread(target=run.deliverer,
                                args=(range(i, opt.messages, opt.deliverers),))
               for i in range(opt.deliverers)]
    queue = collections.deque(range(opt.sessions))
    threads += [threading.Thread(target=run.sessions, args=(queue,))
                for _ in range(opt.parallel)]
    for t in threads:
        t.daemon = True
        t.start()
    for t in threads:
        t.join(max(0.0, run.end - time.monotonic()) + 1)
        if t.is_alive():
            run.fault("deadline: a thread is still running")
            break
    secs = time.monotonic() - start
    left = mailbox_ids(opt.mbox)
    faults = check(run, left)
    mean = sum(run.mda_secs) / max(1, len(run.mda_secs))
    worst = max(run.mda_secs, default=0.0)
    c = run.count
    hosts = " ".join("%s=%d" % (k[5:], v) for k, v in sorted(c.items())
                     if k.startswith("host "))
    print("sessions=%d ok=%d in-use=%d sys-temp=%d cut=%d gave-up=%d "
          "delivered=%d fetched=%d left=%d refetched=%d seconds=%.1f "
          "mda-seconds=%.2f/%.2f hosts: %s" %
          (opt.sessions, c["ok"], c["in-use"], c["sys-temp"], c["cut"],
           c["gave up"],
           len(run.delivered), sum(run.committed.values()),
           sum(left.values()), run.refetched, secs, mean, worst, hosts))
    for f in faults[:40]:
        print("FAULT " + f)
    sys.exit(1 if faults else 0)


if __name__ == "__main__":
    main()
