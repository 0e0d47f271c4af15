#!/usr/bin/env python3
"""A scripted POP3 client over TCP, with STLS and implicit TLS, for tls.bats.

    tls-client.py [--tls] [--no-greeting] [--cafile F] [--name N]
                  [--rcvbuf N] [--deadline S] [--raw] PORT < script

Connects to 127.0.0.1:PORT (with --tls: handshake first, verifying the
server's certificate against --cafile for the name --name, default
localhost), reads the greeting (not with --no-greeting: for talking to
a --tls server in plaintext; --rcvbuf makes the socket's receive buffer
small, so that a server's writes block), then runs the script on stdin, one line
at a time.  A plain line is a command: sent with CRLF, and its whole
reply is read (multi-line replies to the "." line).  Directives:
    !stls          send STLS, read the reply; if +OK, do the handshake
    !handshake     do the TLS handshake now (no STLS sent)
    !send TEXT     send TEXT as is (\\r \\n \\0 \\xNN escapes; no CRLF)
    !read          read one more reply line
    !reply CMD     read the whole reply to CMD (sent before with !send)
    !readbytes N   read until N bytes of reply are buffered
    !close-notify  send a TLS close_notify alert (no QUIT)
    !apop USER S   APOP USER with the digest of the greeting's timestamp
                   and the secret S
    !split A|B     over TLS: the record of command A and the first 5
                   bytes of the record of command B in one write; read
                   A's reply; send the rest of B's record, read B's reply
    !hello N       send the first N bytes of a real ClientHello (raw,
                   on the plain socket), nothing more
    !dribble N S   send the first N bytes of a ClientHello one at a time,
                   S seconds apart, stopping when the server closes
    !close         close the socket (the server sees EOF)
    !sleep S       wait S seconds
    !eof S         wait up to S seconds for the server to close
After the script, everything the server still sends is read until it
closes (bounded by --deadline, default 30 s).

Output: the server's bytes (CR removed unless --raw), with events on
lines of their own in brackets: "[tls TLSv1.3]" when a handshake
succeeded, "[handshake failed: ...]", "[eof]" when the server closed,
"[timeout]" when the deadline passed, "[reset]".  Exit status 0, or 2 on
a usage error.
"""
import hashlib
import re
import select
import socket
import ssl
import sys
import time

MULTI = {b"CAPA", b"LIST", b"UIDL", b"RETR", b"TOP", b"AUTH"}


def unescape(text):
    return re.sub(rb"\\(r|n|0|\\|x[0-9a-fA-F]{2})",
                  lambda m: {b"r": b"\r", b"n": b"\n", b"0": b"\0",
                             b"\\": b"\\"}.get(m.group(1)) or
                  bytes([int(m.group(1)[1:], 16)]),
                  text.encode("latin-1"))


def client_hello(name):
    """The bytes of a real ClientHello, made with a memory BIO."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


class Client:
    """A POP3 connection; TLS runs over memory BIOs so that the client
    decides how the records reach the socket (see split)."""

    def __init__(self, port, deadline, cafile, name, rcvbuf=None):
        self.deadline = time.monotonic() + deadline
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.cafile = cafile
        self.name = name
        self.tls = None
        self.buf = b""
        self.out = bytearray()
        self.eof = False

    def event(self, text):
        if self.out and not self.out.endswith(b"\n"):
            self.out += b"\n"
        self.out += b"[" + text.encode() + b"]\n"

    def recv_raw(self, until=None):
        left = (until or self.deadline) - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)
        try:
            return self.sock.recv(1 << 16)
        except ConnectionResetError:
            self.event("reset")
            return b""

    def push(self):
        """Send what TLS has written to its outgoing BIO."""
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def handshake(self):
        if self.buf:
            self.event("plaintext after the STLS reply: %r" % self.buf)
            self.buf = b""
        ctx = ssl.create_default_context(cafile=self.cafile)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing,
                                server_hostname=self.name)
        try:
            while True:
                try:
                    self.tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    self.push()
                    data = self.recv_raw()
                    if not data:
                        raise ConnectionError("EOF during the handshake")
                    self.incoming.write(data)
            self.push()
        except (ssl.SSLError, OSError, TimeoutError) as e:
            self.event("handshake failed: %s" % e)
            self.eof = True
            return
        self.event("tls " + self.tls.version())

    def recv(self, until=None):
        """Decrypted bytes, or b"" at the end."""
        if self.tls is None:
            return self.recv_raw(until)
        while True:
            try:
                return self.tls.read(1 << 16)
            except ssl.SSLWantReadError:
                self.push()
                data = self.recv_raw(until)
                if not data:
                    return b""
                self.incoming.write(data)
            except ssl.SSLZeroReturnError:
                return b""
            except ssl.SSLError as e:
                self.event("tls error: %s" % e.reason)
                return b""

    def fill(self, until=None):
        data = self.recv(until)
        if not data:
            self.eof = True
            self.event("eof")
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
            return first
        if word in (b"LIST", b"UIDL", b"AUTH") and len(parts) > 1:
            return first
        while not self.eof:
            if self.line() in (b".\r\n", b".\n"):
                break
        return first

    def send(self, data):
        try:
            if self.tls is None:
                self.sock.sendall(data)
            else:
                self.tls.write(data)
                self.push()
        except OSError as e:
            self.event("send failed: %s" % e.__class__.__name__)
            self.eof = True

    def split(self, first, second, cut):
        """TLS: send the record of command first and the first cut bytes
        of the record of command second in one write; read the reply to
        first; then send the rest and read the reply to second."""
        self.tls.write(first + b"\r\n")
        one = self.outgoing.read()
        self.tls.write(second + b"\r\n")
        two = self.outgoing.read()
        self.sock.sendall(one + two[:cut])
        self.reply(first)
        if not self.eof:
            self.sock.sendall(two[cut:])
            self.reply(second)

    def wait_eof(self, secs):
        until = min(self.deadline, time.monotonic() + secs)
        try:
            while not self.eof:
                self.fill(until)
        except (TimeoutError, socket.timeout):
            self.event("no eof after %s s" % secs)


def main():
    args = sys.argv[1:]
    implicit = raw = no_greeting = False
    cafile = rcvbuf = None
    name = "localhost"
    deadline = 30.0
    while len(args) > 1:
        opt = args.pop(0)
        if opt == "--tls":
            implicit = True
        elif opt == "--no-greeting":
            no_greeting = True
        elif opt == "--raw":
            raw = True
        elif opt == "--cafile":
            cafile = args.pop(0)
        elif opt == "--rcvbuf":
            rcvbuf = int(args.pop(0))
        elif opt == "--name":
            name = args.pop(0)
        elif opt == "--deadline":
            deadline = float(args.pop(0))
        else:
            sys.stderr.write("tls-client.py: unknown option %s\n" % opt)
            sys.exit(2)
    if len(args) != 1:
        sys.stderr.write(__doc__)
        sys.exit(2)
    script = sys.stdin.buffer.read().decode("latin-1").splitlines()
    c = Client(int(args[0]), deadline, cafile, name, rcvbuf)
    try:
        if implicit:
            c.handshake()
        greeting = b"" if c.eof or no_greeting else c.line()
        for l in script:
            if c.eof and not l.startswith("!sleep"):
                break
            if l == "!stls":
                c.send(b"STLS\r\n")
                if c.reply(b"STLS").startswith(b"+OK"):
                    c.handshake()
            elif l == "!handshake":
                c.handshake()
            elif l.startswith("!send "):
                c.send(unescape(l[6:]))
            elif l == "!read":
                c.line()
            elif l.startswith("!reply "):
                c.reply(l[7:].encode("latin-1"))
            elif l.startswith("!readbytes "):
                while len(c.buf) < int(l[11:]) and not c.eof:
                    c.fill()
            elif l == "!close-notify":
                try:
                    c.tls.unwrap()
                except ssl.SSLWantReadError:
                    pass
                c.push()
                c.event("close_notify sent")
            elif l.startswith("!apop "):
                user, secret = l[6:].split(" ", 1)
                stamp = re.search(rb"<[^>]*>", greeting)
                digest = hashlib.md5((stamp.group(0) if stamp else b"") +
                                     secret.encode()).hexdigest()
                cmd = ("APOP %s %s" % (user, digest)).encode()
                c.send(cmd + b"\r\n")
                c.reply(cmd)
            elif l.startswith("!split "):
                a, b = l[7:].encode("latin-1").split(b"|")
                c.split(a, b, 5)
            elif l.startswith("!dribble "):
                n, gap = l[9:].split()
                hello = client_hello(name)[:int(n)]
                for i in range(len(hello)):
                    try:
                        c.sock.sendall(hello[i:i + 1])
                    except OSError:
                        break
                    if select.select([c.sock], [], [], float(gap))[0]:
                        break  # the server spoke or closed
                c.event("dribbled %d bytes" % (i + 1))
            elif l.startswith("!hello "):
                c.sock.sendall(client_hello(name)[:int(l[7:])])
            elif l == "!close":
                c.sock.close()
                c.event("closed")
                c.eof = True
            elif l.startswith("!sleep "):
                time.sleep(float(l[7:]))
            elif l.startswith("!eof "):
                c.wait_eof(float(l[5:]))
            else:
                cmd = l.encode("latin-1")
                c.send(cmd + b"\r\n")
                if not c.eof:
                    c.reply(cmd)
        while not c.eof:
            c.fill()
    except (TimeoutError, socket.timeout):
        c.event("timeout")
    out = bytes(c.out)
    if not raw:
        out = out.replace(b"\r\n", b"\n")
    sys.stdout.buffer.write(out)


if __name__ == "__main__":
    main()
