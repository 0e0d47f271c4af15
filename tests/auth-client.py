#!/usr/bin/env python3
"""A POP3 client for the authentication tests.

pop3d gets one end of a socket pair as fd 0, 1 and 2, as under inetd (the
way tests/session.py starts it); this script holds the other end and, unlike
session.py, can compute what depends on the greeting and time each reply.

    auth-client.py [--times] [--deadline S] -- POP3D ARGS... < script

Script lines are sent with CRLF after the previous reply is complete; in
them {APOP:SECRET} becomes the hex MD5 of the greeting's timestamp and
SECRET (RFC 1939 section 7), {TS} the timestamp, and {B64:TEXT} the base64
of TEXT, where \\0 is a NUL byte.  Directives:
    !sh CMD     run CMD with /bin/sh; $P3A_PID is pop3d's pid
    !send TEXT  send TEXT as it is (\\r \\n \\0 \\xNN escapes, no CRLF)
    !read       read one more reply line
    !close      half-close: pop3d sees EOF (the end of the script does too)
Output: the server's lines without CR.  With --times, the first reply line
of each command is prefixed by the seconds from the end of sending the
command to the end of that line, and a TAB.  The exit status is pop3d's,
or 124 when the deadline (default 60 s) passed and pop3d was killed.
"""
import base64
import hashlib
import os
import re
import socket
import subprocess
import sys
import time

MULTI = {b"CAPA", b"LIST", b"UIDL", b"RETR", b"TOP", b"AUTH"}


def unescape(text):
    return re.sub(rb"\\(r|n|0|\\|x[0-9a-fA-F]{2})",
                  lambda m: {b"r": b"\r", b"n": b"\n", b"0": b"\0",
                             b"\\": b"\\"}.get(m.group(1)) or
                  bytes([int(m.group(1)[1:], 16)]),
                  text.encode("latin-1"))


class Conn:
    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline
        self.buf = b""
        self.eof = False

    def line(self):
        while b"\n" not in self.buf and not self.eof:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            data = self.sock.recv(4096)
            if not data:
                self.eof = True
            self.buf += data
        if b"\n" not in self.buf:
            rest, self.buf = self.buf, b""
            return rest
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"


def substitute(line, timestamp):
    def apop(m):
        return hashlib.md5(timestamp + m.group(1)).hexdigest().encode()

    def b64(m):
        return base64.b64encode(unescape(m.group(1).decode("latin-1")))
    line = re.sub(rb"\{APOP:([^}]*)\}", apop, line)
    line = re.sub(rb"\{B64:([^}]*)\}", b64, line)
    return line.replace(b"{TS}", timestamp)


def main():
    args = sys.argv[1:]
    times = False
    deadline = 60.0
    while args and args[0] != "--":
        opt = args.pop(0)
        if opt == "--times":
            times = True
        elif opt == "--deadline":
            deadline = float(args.pop(0))
        else:
            sys.exit("auth-client.py: unknown option " + opt)
    argv = args[1:]
    script = sys.stdin.buffer.read().splitlines()

    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(argv, stdin=theirs, stdout=theirs, stderr=theirs,
                            close_fds=True)
    theirs.close()
    conn = Conn(ours, time.monotonic() + deadline)
    out = []
    status = 0
    try:
        greeting = conn.line()
        out.append(greeting)
        m = re.search(rb"<[^>]*>", greeting)
        timestamp = m.group(0) if m else b""
        for l in script:
            if conn.eof:
                break
            if l.startswith(b"!sh "):
                env = dict(os.environ, P3A_PID=str(proc.pid))
                subprocess.run(l[4:].decode("latin-1"), shell=True,
                               env=env, check=False)
            elif l.startswith(b"!send "):
                try:
                    ours.sendall(unescape(l[6:].decode("latin-1")))
                except OSError:
                    break
            elif l == b"!read":
                out.append(conn.line())
            elif l == b"!close":
                ours.shutdown(socket.SHUT_WR)
            else:
                cmd = substitute(l, timestamp)
                # before the send: the server may answer (and a loaded
                # machine deschedule us) before sendall returns
                sent = time.monotonic()
                try:
                    ours.sendall(cmd + b"\r\n")
                except OSError:
                    break
                first = conn.line()
                if times:
                    first = b"%.6f\t" % (time.monotonic() - sent) + first
                out.append(first)
                parts = cmd.split()
                word = parts[0].upper() if parts else b""
                if (b"+OK" in first[:20] and word in MULTI and
                        not (word in (b"LIST", b"UIDL", b"AUTH") and
                             len(parts) > 1)):
                    while not conn.eof:
                        line = conn.line()
                        out.append(line)
                        if line in (b".\r\n", b".\n"):
                            break
        try:
            ours.shutdown(socket.SHUT_WR)  # the script is over: EOF
        except OSError:
            pass
        while not conn.eof:
            rest = conn.line()
            if rest:
                out.append(rest)
        status = proc.wait(timeout=max(1, conn.deadline - time.monotonic()))
    except (TimeoutError, socket.timeout, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
        status = 124
    except (ConnectionResetError, BrokenPipeError):
        status = proc.wait()
    sys.stdout.buffer.write(b"".join(out).replace(b"\r\n", b"\n"))
    sys.stdout.flush()
    if status < 0:
        status = 128 - status
    sys.exit(status)


if __name__ == "__main__":
    main()  # SIGPIPE stays ignored: a closed socket is an OSError
