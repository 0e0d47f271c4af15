#!/usr/bin/env python3
"""What privilege separation costs: this tree's pop3d against a base
revision's, interleaved in one run (as root).

    bench/privsep-cost.py [--base main] [--size M] [--rounds 7]

Builds the base revision (git archive of --base) and this tree into a
temporary directory, generates corpus --size with bench/gen.c, and runs,
alternating the two binaries (order flipped every round):
  quit   login + QUIT on an empty mailbox (sha512crypt, 1000 rounds:
         both pay the same hash, so the difference is beyond it)
  retr   RETR of every message, pipelined, plain
  stls   the same after STLS (base: TLS in the one process; this tree:
         the pre-authentication process relays)
Each session runs pop3d on a socket pair as fd 0, 1 and 2, the way inetd
does; the time is from the spawn to pop3d's exit, all replies read.
Prints medians and the ratio.  The front user (pop3d) and
/var/lib/pop3d/empty must exist (make install-front).
"""
import argparse
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
UID = GID = 5000


def sh(*argv, **kw):
    subprocess.run(argv, check=True, **kw)


def build(tmp, base):
    old = os.path.join(tmp, "base")
    os.mkdir(old)
    tar = subprocess.run(["git", "-C", TOP, "archive", base],
                         capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", old], input=tar, check=True)
    sh("make", "-s", "-C", old, "pop3d")
    sh("make", "-s", "-C", TOP, "pop3d")
    return os.path.join(old, "pop3d"), os.path.join(TOP, "pop3d")


def setup(tmp, size):
    gen = os.path.join(tmp, "gen")
    sh("cc", "-O2", "-o", gen, os.path.join(HERE, "gen.c"), "-lm")
    spool = os.path.join(tmp, "spool")
    empty = os.path.join(tmp, "empty")
    for d in (spool, empty):
        os.mkdir(d)
        os.chown(d, UID, GID)
    mbox = os.path.join(spool, "u")
    sh(gen, size, "1", mbox, stdout=subprocess.DEVNULL)
    os.chown(mbox, UID, GID)
    os.chmod(mbox, 0o600)
    with open(mbox, "rb") as f:
        count = sum(1 for l in f if l.startswith(b"From "))
    h = subprocess.run(["openssl", "passwd", "-6", "-salt",
                        "rounds=1000$benchsalt", "pw"], capture_output=True,
                       text=True, check=True).stdout.strip()
    pw = os.path.join(tmp, "passwd")
    with open(pw, "w") as f:
        f.write("u:%s:%d:%d:U:%s:/bin/sh\n" % (h, UID, GID, tmp))
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
       "-days", "2", "-subj", "/CN=localhost", stderr=subprocess.DEVNULL)
    os.chmod(tmp, 0o755)
    return spool, empty, pw, cert, key, count


def session(argv, script, end=b"signing off"):
    a, b = socket.socketpair()
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=b, stdout=b, stderr=b)
    b.close()
    s = a
    buf = bytearray(1 << 20)
    w = threading.Thread(target=s.sendall, args=(script,))
    w.start()
    total = 0
    while True:
        n = s.recv_into(buf)
        if n == 0:
            break
        total += n
        if buf[max(0, n - 80):n].find(end) >= 0:
            break
    w.join()
    p.wait()
    dt = time.monotonic() - t0
    s.close()
    return dt, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="main")
    ap.add_argument("--size", default="M")
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pop3d-privsep-") as tmp:
        old, new = build(tmp, a.base)
        spool, empty, pw, cert, key, count = setup(tmp, a.size)
        login = b"USER u\r\nPASS pw\r\n"
        retr = login + b"".join(b"RETR %d\r\n" % i
                                for i in range(1, count + 1)) + b"QUIT\r\n"
        cases = {
            "quit": (["-m", empty + "/%u"], login + b"QUIT\r\n", False),
            "retr": (["-m", spool + "/%u"], retr, False),
            "stls": (["-m", spool + "/%u", "-c", cert, "-k", key],
                     b"STLS\r\n", True),
        }
        res = {(c, b): [] for c in cases for b in ("base", "this")}
        for r in range(a.rounds):
            order = [("base", old), ("this", new)]
            if r % 2:
                order.reverse()
            for c, (opts, script, tls) in cases.items():
                for name, binary in order:
                    argv = [binary, "-p", pw, "-d", "0"] + opts
                    if tls:
                        dt, n = session_tls(argv, retr)
                    else:
                        dt, n = session(argv, script)
                    res[c, name].append(dt)
        print("corpus %s, %d messages, %d rounds, medians (s):" % (
            a.size, count, a.rounds))
        for c in cases:
            mb, mt = (statistics.median(res[c, b]) for b in ("base", "this"))
            print("  %-5s base %.4f  this %.4f  diff %+.4f  ratio %.3f" % (
                c, mb, mt, mt - mb, mt / mb))


def session_tls(argv, script):
    a, b = socket.socketpair()
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=b, stdout=b, stderr=b)
    b.close()
    got = b""
    a.sendall(b"STLS\r\n")
    while b"begin TLS" not in got:
        got += a.recv(4096)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(a)
    w = threading.Thread(target=s.sendall, args=(script,))
    w.start()
    buf = bytearray(1 << 20)
    tail = b""
    while True:
        try:
            n = s.recv_into(buf)
        except (ssl.SSLError, OSError):
            break
        if n == 0:
            break
        tail = (tail + bytes(buf[:n]))[-80:]
        if b"signing off" in tail:
            break
    w.join()
    p.wait()
    dt = time.monotonic() - t0
    s.close()
    return dt, 0


if __name__ == "__main__":
    main()
