#!/usr/bin/env python3
"""Clients session.py cannot play, for protocol.bats and badinput.bats.

    proto-client.py MODE [ARGS] -- POP3D ARGS...

pop3d gets one end of a socket pair as fd 0, 1 and 2 (as under inetd).
Modes:
    garbage MB     after the greeting, send MB megabytes without a LF, then
                   CRLF, then QUIT; prints the server's VmHWM (kB) after the
                   greeting and after the flood, and every reply line
    badcmds N      send N bad command lines (unknown, NUL, too long, wrong
                   state, bad numbers, in a cycle) in big writes while
                   reading the replies; prints the VmHWM before and after,
                   how many replies were -ERR, and the last reply
    early          send an HTTP request and garbage at once, without waiting
                   for a greeting (as to a TLS port), half-close, and print
                   how many bytes came back
    apop USER SECRET
                   APOP with the digest of the greeting's timestamp, then
                   APOP with a wrong digest, then QUIT; prints every reply
Bounded: everything ends within 120 s (status 124 otherwise).  The exit
status is pop3d's.
"""
import hashlib
import re
import socket
import subprocess
import sys
import threading
import time

DEADLINE = time.monotonic() + 120


def hwm(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            left = DEADLINE - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            data = self.sock.recv(1 << 16)
            if not data:
                rest, self.buf = self.buf, b""
                return rest
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"


def say(line):
    sys.stdout.write(line.decode("latin-1").rstrip("\r\n") + "\n")


def garbage(sock, rd, proc, mb):
    before = hwm(proc.pid)
    chunk = (b"garbage without a line feed \0\r " * 2048)[:65536]
    for _ in range(mb * 16):
        sock.sendall(chunk)
    sock.sendall(b"\r\n")
    say(rd.line())
    after = hwm(proc.pid)
    sock.sendall(b"QUIT\r\n")
    say(rd.line())
    print("hwm-before %d" % before)
    print("hwm-after %d" % after)


BAD = [b"XYZZY", b"STAT", b"RETR 1", b"NO\0OP", b"", b"USER " + b"u" * 41,
       b"A" * 300, b"LIST -1", b"TOP 1 x", b"DELE 99999999999999999999",
       b"PASS", b"UIDL 0"]


def badcmds(sock, rd, proc, n):
    before = hwm(proc.pid)
    data = b"".join(BAD[i % len(BAD)] + b"\r\n" for i in range(n))

    def send():
        try:
            sock.sendall(data)
        except OSError:
            pass

    t = threading.Thread(target=send, daemon=True)
    t.start()
    errs = other = 0
    last = b""
    for _ in range(n):
        last = rd.line()
        if not last:
            break
        if last.startswith(b"-ERR "):
            errs += 1
        else:
            other += 1
    t.join(max(0, DEADLINE - time.monotonic()))
    after = hwm(proc.pid)
    sock.sendall(b"QUIT\r\n")
    say(rd.line())
    print("hwm-before %d" % before)
    print("hwm-after %d" % after)
    print("errors %d" % errs)
    print("other %d" % other)
    say(b"last " + last)


def apop(sock, rd, greeting, user, secret):
    m = re.search(rb"<[^<>]*>", greeting)
    stamp = m.group(0) if m else b""
    digest = hashlib.md5(stamp + secret.encode()).hexdigest().encode()
    sock.sendall(b"APOP " + user.encode() + b" " + b"0" * 32 + b"\r\n")
    say(rd.line())
    sock.sendall(b"APOP " + user.encode() + b" " + digest + b"\r\n")
    say(rd.line())
    sock.sendall(b"STAT\r\nQUIT\r\n")
    say(rd.line())
    say(rd.line())


def main():
    args = sys.argv[1:]
    cut = args.index("--")
    mode, margs, argv = args[0], args[1:cut], args[cut + 1:]
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(argv, stdin=theirs, stdout=theirs, stderr=theirs,
                            close_fds=True)
    theirs.close()
    rd = Reader(ours)
    try:
        if mode == "early":
            ours.sendall(b"GET / HTTP/1.0\r\n\r\n" + b"garbage " * 1000 +
                         b"\r\n")
            ours.shutdown(socket.SHUT_WR)
            got = 0
            while True:
                line = rd.line()
                if not line:
                    break
                got += len(line)
            print("received %d" % got)
            status = proc.wait(timeout=max(1, DEADLINE - time.monotonic()))
            sys.exit(status if status >= 0 else 128 - status)
        greeting = rd.line()
        say(greeting)
        if mode == "garbage":
            garbage(ours, rd, proc, int(margs[0]))
        elif mode == "badcmds":
            badcmds(ours, rd, proc, int(margs[0]))
        elif mode == "apop":
            apop(ours, rd, greeting, margs[0], margs[1])
        else:
            sys.exit("proto-client: unknown mode " + mode)
        ours.shutdown(socket.SHUT_WR)
        while rd.line():
            pass
        status = proc.wait(timeout=max(1, DEADLINE - time.monotonic()))
    except (TimeoutError, socket.timeout, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
        status = 124
    except OSError as e:
        print("proto-client: %s" % e)
        status = proc.wait(timeout=max(1, DEADLINE - time.monotonic()))
    sys.stdout.flush()
    sys.exit(status if status >= 0 else 128 - status)


if __name__ == "__main__":
    main()
