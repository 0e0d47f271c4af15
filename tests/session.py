#!/usr/bin/env python3
"""Run pop3d the way inetd does and talk POP3 to it.

pop3d gets one end of a connected socket pair as fd 0, 1 and 2, exactly as
inetd/xinetd hand it a TCP connection; this script holds the other end.

    session.py [--pipeline] [--deadline S] [--raw] -- POP3D ARGS... < script

The script on stdin is one client line per line (sent with CRLF).  Lines
starting with "!" are directives, run after the previous reply is complete:
    !sh CMD        run CMD with /bin/sh (deliver mail mid-session, ...)
    !sleep S       wait S seconds
    !send TEXT     send TEXT without waiting for a reply (\\r \\n \\0 \\xNN
                   escapes allowed; no CRLF is added)
    !close         half-close: the server sees EOF
    !read          read one more reply line
By default each command waits for its complete reply (multi-line replies
are read to the "." line).  --pipeline sends all plain lines in one write
and then reads until the server closes.  The server's bytes go to stdout
(CR removed unless --raw); the exit status is pop3d's.  --deadline bounds
the whole run (default 60 s); on expiry pop3d is killed and status is 124.
"""
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
        self.out = bytearray()
        self.eof = False

    def fill(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)
        data = self.sock.recv(1 << 16)
        if not data:
            self.eof = True
        self.buf += data
        self.out += data

    def line(self):
        while b"\n" not in self.buf and not self.eof:
            self.fill()
        if b"\n" not in self.buf:
            rest, self.buf = self.buf, b""
            return rest
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def reply(self, command):
        first = self.line()
        parts = command.split()
        word = parts[0].upper() if parts else b""
        if not first.startswith(b"+OK") or word not in MULTI:
            return
        if word in (b"LIST", b"UIDL", b"AUTH") and len(parts) > 1:
            return
        while not self.eof:
            if self.line() in (b".\r\n", b".\n"):
                break

    def drain(self):
        while not self.eof:
            self.fill()


def main():
    args = sys.argv[1:]
    pipeline = raw = False
    deadline = 60.0
    while args and args[0] != "--":
        opt = args.pop(0)
        if opt == "--pipeline":
            pipeline = True
        elif opt == "--raw":
            raw = True
        elif opt == "--deadline":
            deadline = float(args.pop(0))
        else:
            sys.exit("session.py: unknown option " + opt)
    argv = args[1:]
    script = sys.stdin.buffer.read().decode("latin-1").splitlines()

    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(argv, stdin=theirs, stdout=theirs, stderr=theirs,
                            close_fds=True)
    theirs.close()
    conn = Conn(ours, time.monotonic() + deadline)
    status = 0
    try:
        conn.line()  # greeting (or a startup -ERR)
        if pipeline:
            plain = [l for l in script if not l.startswith("!")]
            ours.sendall("".join(l + "\r\n" for l in plain).encode(
                "latin-1"))
            if "!close" in script:
                ours.shutdown(socket.SHUT_WR)
            conn.drain()
        else:
            for l in script:
                if l.startswith("!sh "):
                    subprocess.run(l[4:], shell=True, check=False)
                elif l.startswith("!sleep "):
                    time.sleep(float(l[7:]))
                elif l.startswith("!send "):
                    ours.sendall(unescape(l[6:]))
                elif l == "!close":
                    ours.shutdown(socket.SHUT_WR)
                elif l == "!read":
                    conn.line()
                else:
                    cmd = l.encode("latin-1")
                    try:
                        ours.sendall(cmd + b"\r\n")
                    except OSError:
                        break
                    conn.reply(cmd)
                if conn.eof:
                    break
            conn.drain()
        status = proc.wait(timeout=max(1, conn.deadline - time.monotonic()))
    except (TimeoutError, socket.timeout, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
        status = 124
    except (ConnectionResetError, BrokenPipeError):
        status = proc.wait()
    out = bytes(conn.out)
    if not raw:
        out = out.replace(b"\r\n", b"\n")
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    if status < 0:
        status = 128 - status
    sys.exit(status)


if __name__ == "__main__":
    # SIGPIPE stays ignored: pop3d closing first is a BrokenPipeError,
    # handled in main(), not a death by signal (exit 141)
    main()
