#!/usr/bin/env python3
"""tests/lib/pop3client.py - the test suite's POP3 client (RFC 1939), with
STLS (RFC 2595), implicit TLS, and the PROXY header (HAProxy's "The PROXY
protocol", v1 section 2.1, v2 section 2.2).  Python 3 standard library
only.  As a module: Conn, Session, run_session, proxy_v1, proxy_v2, ...
As a program, one mode a call:

  pop3client.py session [--pipeline] [--raw] [--eof] [--times]
                        [--deadline S] -- POP3D ARGS... < script
      pop3d gets one end of a socket pair as fd 0, 1 and 2, exactly as
      inetd hands it a TCP connection; the client holds the other end and
      runs the script.  Output: the server's bytes (CR removed unless
      --raw), the exit status pop3d's (124: the deadline, default 60 s,
      passed and pop3d was killed).  --pipeline sends every command line
      in one write, then reads until pop3d closes.  --eof half-closes
      after the script (pop3d sees EOF); without it the client reads
      until pop3d closes.  --times prefixes the first reply line of each
      command with the seconds from sending it to the end of that line,
      and a TAB.

  pop3client.py tcp [--tls] [--no-greeting] [--cafile F] [--name N]
                    [--host H] [--source ADDR] [--rcvbuf N] [--proxy HDR]
                    [--deadline S] [--raw] PORT < script
      the same over TCP to H:PORT (127.0.0.1), from ADDR if given; with
      --tls the handshake comes first, the certificate checked against
      --cafile for the name --name (localhost); --proxy v1:ADDR or
      v2:ADDR sends a PROXY header first; --no-greeting does not wait
      for one; --rcvbuf makes the socket's receive buffer small, so that
      the server's writes block.  Events are lines of their own in
      brackets: "[tls TLSv1.3]", "[handshake failed: ...]", "[eof]",
      "[timeout]" (the deadline, default 30 s), "[reset]".  Exit 0.

  pop3client.py raw [--tls --cafile F] [--host H] [--source ADDR]
                    [--wait S] [--no-greeting] [--shut] PORT [TEXT]
      connect, read the first line (not with --no-greeting), read what
      else comes within S seconds (0.5), send TEXT (escapes as in !send)
      or, with no TEXT over plain TCP, half-close; with --shut half-close
      after TEXT too; read to the end.  Prints the bytes with CR shown
      as \\r; exit 124 if the server did not close within 20 s.

  pop3client.py garbage MB -- POP3D ARGS...
  pop3client.py badcmds N -- POP3D ARGS...
  pop3client.py early -- POP3D ARGS...
      floods on an inetd session: MB megabytes without a LF (then QUIT;
      prints VmHWM before and after); N bad command lines in big writes
      (prints VmHWM, how many replies were -ERR, the last reply); an HTTP
      request and garbage before the greeting (prints the bytes back).

  pop3client.py proxy-fuzz PORT COUNT SEED
  pop3client.py proxy-timed PORT ADDR PASSWORD...
  pop3client.py proxy-many PORT COUNT
      to a pop3d that trusts 127.0.0.1's PROXY headers: COUNT mutated v1
      and v2 headers, one a connection, each answered with one -ERR line
      or the greeting ("refused N greeted M"); USER alice and PASS for
      each PASSWORD behind a v1 header for ADDR, printing each PASS
      reply's wait and the reply; COUNT failed logins from distinct
      addresses of 10.0.0.0/8, 8 at once ("done N").

The script: one client line a line, sent with CRLF; each waits for its
complete reply (multi-line replies to the "." line).  In a command,
{APOP:SECRET} becomes the hex MD5 of the greeting's timestamp and SECRET
(RFC 1939 section 7), {TS} the timestamp, {B64:TEXT} the base64 of TEXT
(escapes as in !send).  Lines starting with "!" are directives:
    !sh CMD        run CMD with /bin/sh ($P3A_PID: pop3d's pid, inetd)
    !sleep S       wait S seconds
    !send TEXT     send TEXT as is (\\r \\n \\0 \\\\ \\xNN escapes, no CRLF)
    !read          read one more reply line
    !reply CMD     read the whole reply to CMD (sent before with !send)
    !readbytes N   read until N bytes of reply are buffered
    !close         half-close: the server sees EOF
    !hangup        close the socket (unread data makes it a reset)
    !eof S         wait up to S seconds for the server to close
    !stls          send STLS, read the reply; if +OK, do the handshake
    !handshake     do the TLS handshake now (no STLS sent)
    !close-notify  send a TLS close_notify alert (no QUIT)
    !apop USER S   APOP USER with the digest for the secret S
    !split A|B     over TLS: the record of command A and the first 5
                   bytes of the record of command B in one write; read
                   A's reply; send the rest of B's record, read B's reply
    !hello N       send the first N bytes of a real ClientHello (raw)
    !dribble N S   send the first N bytes of a ClientHello one at a time,
                   S seconds apart, stopping when the server speaks
"""
import base64
import concurrent.futures
import hashlib
import os
import random
import re
import select
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

MULTI = {b"CAPA", b"LIST", b"UIDL", b"RETR", b"TOP", b"AUTH"}
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
CONNECT_TIMEOUT = 20  # seconds: a connect, or one exchange of raw
RECV_MAX = 1 << 16
FLOOD_DEADLINE = 120  # seconds: a whole flood and its replies
PROXY_TIMED_DEADLINE = 120  # seconds: every PASS of proxy-timed, delays too


# ---- the escape syntax ----

def unescape(text):
    """Bytes of TEXT with \\r \\n \\0 \\\\ \\xNN replaced."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    return re.sub(rb"\\(r|n|0|\\|x[0-9a-fA-F]{2})",
                  lambda m: {b"r": b"\r", b"n": b"\n", b"0": b"\0",
                             b"\\": b"\\"}.get(m.group(1)) or
                  bytes([int(m.group(1)[1:], 16)]),
                  text.encode("latin-1"))


def timestamp(greeting):
    """The greeting's msg-id (RFC 1939 section 7), or b""."""
    m = re.search(rb"<[^<>]*>", greeting)
    return m.group(0) if m else b""


def apop_digest(stamp, secret):
    if isinstance(secret, str):
        secret = secret.encode("latin-1")
    return hashlib.md5(stamp + secret).hexdigest().encode()


def substitute(line, stamp):
    """{APOP:SECRET}, {B64:TEXT} and {TS} in a command line (bytes)."""
    line = re.sub(rb"\{APOP:([^}]*)\}",
                  lambda m: apop_digest(stamp, m.group(1)), line)
    line = re.sub(rb"\{B64:([^}]*)\}",
                  lambda m: base64.b64encode(unescape(m.group(1))), line)
    return line.replace(b"{TS}", stamp)


def multi_line(command, first):
    """Does FIRST, the reply to COMMAND, go on to a "." line?"""
    parts = command.split()
    word = parts[0].upper() if parts else b""
    if not first.startswith(b"+OK") or word not in MULTI:
        return False
    return not (word in (b"LIST", b"UIDL", b"AUTH") and len(parts) > 1)


# ---- PROXY headers ----

def proxy_v1(addr, dst=None, sport=40000, dport=110):
    fam = "TCP6" if ":" in addr else "TCP4"
    dst = dst or ("2001:db8::1" if ":" in addr else "192.0.2.1")
    return ("PROXY %s %s %s %d %d\r\n" % (fam, addr, dst, sport,
                                          dport)).encode()


def proxy_v2(addr="192.0.2.9", dst="192.0.2.1", sport=40000, dport=110):
    body = socket.inet_aton(addr) + socket.inet_aton(dst) + \
        struct.pack("!HH", sport, dport)
    return V2_SIG + b"\x21\x11" + struct.pack("!H", len(body)) + body


def proxy_header(spec):
    """v1:ADDR or v2:ADDR."""
    version, addr = spec.split(":", 1)
    return proxy_v1(addr) if version == "v1" else proxy_v2(addr)


# ---- connections ----

def connect(port, host="127.0.0.1", source=None, rcvbuf=None,
            timeout=CONNECT_TIMEOUT):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if source:
        s.bind((source, 0))
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def spawn(argv, env=None):
    """Start ARGV with one end of a socket pair as fd 0, 1 and 2, as
    inetd does; returns (process, our end)."""
    ours, theirs = socket.socketpair()
    if env is None and argv and os.path.basename(argv[0]) == "strace":
        # LeakSanitizer cannot run under ptrace (an ASan build exits 1)
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                               ":detect_leaks=0").lstrip(":")
    proc = subprocess.Popen(argv, stdin=theirs, stdout=theirs,
                            stderr=theirs, close_fds=True, env=env)
    theirs.close()
    return proc, ours


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


class Conn:
    """One POP3 connection over a connected socket.  Every byte received
    is kept in out; TLS runs over memory BIOs, so that the client decides
    how the records reach the socket (see split).  With events, what
    happens to the connection is written into out as "[...]" lines."""

    def __init__(self, sock, deadline, events=False, cafile=None,
                 name="localhost"):
        self.sock = sock
        self.deadline = time.monotonic() + deadline
        self.events = events
        self.cafile = cafile
        self.name = name
        self.tls = None
        self.buf = b""
        self.out = bytearray()
        self.eof = False
        self.broken = False  # a send failed
        self.greeting = b""

    def event(self, text):
        if not self.events:
            return
        if self.out and not self.out.endswith(b"\n"):
            self.out += b"\n"
        self.out += b"[" + text.encode() + b"]\n"

    def recv_raw(self, until=None):
        left = (until or self.deadline) - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)
        try:
            return self.sock.recv(RECV_MAX)
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
            return False
        self.event("tls " + self.tls.version())
        return True

    def recv(self, until=None):
        """Decrypted bytes, or b"" at the end."""
        if self.tls is None:
            return self.recv_raw(until)
        while True:
            try:
                return self.tls.read(RECV_MAX)
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
        """The next line with its line end (at the end: what is left)."""
        while b"\n" not in self.buf and not self.eof:
            self.fill()
        if b"\n" not in self.buf:
            rest, self.buf = self.buf, b""
            return rest
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def mark(self, line, prefix):
        """Insert PREFIX before LINE, the line line() just returned, in
        out."""
        at = len(self.out) - len(self.buf) - len(line)
        self.out[at:at] = prefix

    def reply(self, command, sent=None):
        """Read the whole reply to COMMAND; returns its first line.  With
        SENT (a time.monotonic()), the first line is marked with the
        seconds it took."""
        first = self.line()
        if sent is not None:
            self.mark(first, b"%.6f\t" % (time.monotonic() - sent))
        if multi_line(command, first):
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
            self.broken = True
        return not self.broken

    def command(self, cmd, times=False):
        """Send CMD (bytes, no CRLF) and read its whole reply."""
        # the time before the send: the server may answer (and a loaded
        # machine deschedule us) before sendall returns
        sent = time.monotonic() if times else None
        if self.send(cmd + b"\r\n"):
            return self.reply(cmd, sent)
        return b""

    def half_close(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

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

    def drain(self):
        while not self.eof:
            self.fill()

    def dribble(self, n, gap):
        hello = client_hello(self.name)[:n]
        i = 0
        for i in range(len(hello)):
            try:
                self.sock.sendall(hello[i:i + 1])
            except OSError:
                break
            if select.select([self.sock], [], [], gap)[0]:
                break  # the server spoke or closed
        self.event("dribbled %d bytes" % (i + 1))


def directive(c, l, env):
    """Run one script line L (a str) on connection C."""
    if l.startswith("!sh "):
        subprocess.run(l[4:], shell=True, env=env, check=False)
    elif l.startswith("!sleep "):
        time.sleep(float(l[7:]))
    elif l.startswith("!send "):
        c.send(unescape(l[6:]))
    elif l == "!read":
        c.line()
    elif l.startswith("!reply "):
        c.reply(l[7:].encode("latin-1"))
    elif l.startswith("!readbytes "):
        while len(c.buf) < int(l[11:]) and not c.eof:
            c.fill()
    elif l == "!close":
        c.half_close()
    elif l == "!hangup":
        c.sock.close()
        c.event("closed")
        c.eof = True
    elif l.startswith("!eof "):
        c.wait_eof(float(l[5:]))
    elif l == "!stls":
        if c.command(b"STLS").startswith(b"+OK"):
            c.handshake()
    elif l == "!handshake":
        c.handshake()
    elif l == "!close-notify":
        try:
            c.tls.unwrap()
        except ssl.SSLWantReadError:
            pass
        c.push()
        c.event("close_notify sent")
    elif l.startswith("!apop "):
        user, secret = l[6:].split(" ", 1)
        c.command(("APOP %s " % user).encode("latin-1") +
                  apop_digest(timestamp(c.greeting), secret))
    elif l.startswith("!split "):
        a, b = l[7:].encode("latin-1").split(b"|")
        c.split(a, b, 5)
    elif l.startswith("!dribble "):
        n, gap = l[9:].split()
        c.dribble(int(n), float(gap))
    elif l.startswith("!hello "):
        c.sock.sendall(client_hello(c.name)[:int(l[7:])])
    else:
        return False
    return True


def run_script(c, script, times=False, env=None):
    """Run SCRIPT (a list of str lines) on C, whose greeting is read."""
    stamp = timestamp(c.greeting)
    for l in script:
        if (c.eof or c.broken) and not l.startswith("!sleep"):
            break
        if l.startswith("!") and directive(c, l, env):
            continue
        c.command(substitute(l.encode("latin-1"), stamp), times)


def pipeline(c, script):
    """All command lines in one write; "!close" half-closes after it."""
    stamp = timestamp(c.greeting)
    plain = [substitute(l.encode("latin-1"), stamp) for l in script
             if not l.startswith("!")]
    c.send(b"".join(l + b"\r\n" for l in plain))
    if "!close" in script:
        c.half_close()


def exit_status(status):
    return 128 - status if status < 0 else status


def wait_bounded(proc, c):
    """pop3d's exit status; killed (124) when C's deadline passed."""
    try:
        return exit_status(proc.wait(
            timeout=max(1, c.deadline - time.monotonic())))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return 124


def inetd_run(argv, deadline, body, report=False):
    """Start ARGV as inetd does (spawn), run BODY(conn, process), read to
    the end; returns (conn, pop3d's exit status; 124: DEADLINE passed
    and pop3d was killed).  REPORT: print an error that ended the run."""
    proc, ours = spawn(argv)
    c = Conn(ours, deadline)
    try:
        body(c, proc)
        c.drain()
        status = wait_bounded(proc, c)
    except (TimeoutError, socket.timeout):
        proc.kill()
        proc.wait()
        status = 124
    except OSError as e:
        if report:
            print("pop3client: %s" % e)
        status = wait_bounded(proc, c)
    ours.close()
    return c, status


def inetd_session(argv, script, pipelined=False, deadline=60.0, eof=False,
                  times=False):
    """Run pop3d (ARGV) on a socket pair and SCRIPT (a list of str) on
    it; returns (all bytes received, exit status; 124 on the deadline)."""
    def body(c, proc):
        c.greeting = c.line()  # (or a startup -ERR)
        if pipelined:
            pipeline(c, script)
        else:
            run_script(c, script, times,
                       dict(os.environ, P3A_PID=str(proc.pid)))
        if eof:
            c.half_close()
    c, status = inetd_run(argv, deadline, body)
    return bytes(c.out), status


def tcp_session(port, script, tls=False, greeting=True, cafile=None,
                name="localhost", host="127.0.0.1", source=None,
                rcvbuf=None, proxy=None, deadline=30.0):
    """SCRIPT over TCP; returns the bytes received, with events."""
    sock = connect(port, host, source, rcvbuf, 10)
    c = Conn(sock, deadline, True, cafile, name)
    try:
        if proxy:
            c.send(proxy_header(proxy))
        if tls:
            c.handshake()
        if greeting and not c.eof:
            c.greeting = c.line()
        run_script(c, script)
        if c.broken:
            c.eof = True
        while not c.eof:
            c.fill()
    except (TimeoutError, socket.timeout):
        c.event("timeout")
    sock.close()
    return bytes(c.out)


def raw_exchange(port, text=b"", tls=False, cafile=None, host="127.0.0.1",
                 source=None, wait=0.5, greeting=True, shut=False):
    """raw (see the module's text); returns (bytes, closed)."""
    sock = connect(port, host, source)
    c = Conn(sock, CONNECT_TIMEOUT, cafile=cafile)
    if tls and not c.handshake():
        raise ConnectionError("TLS handshake failed")
    if greeting:
        c.line()
        try:
            c.wait_eof(wait)
        except (ssl.SSLError, OSError):
            pass
    c.deadline = time.monotonic() + CONNECT_TIMEOUT
    try:
        if text:
            c.send(text)
        if (not text and not tls) or shut:
            c.half_close()
        c.drain()
    except (TimeoutError, OSError):
        pass
    sock.close()
    return bytes(c.out), c.eof


# ---- Session: the same inetd session, for Python callers ----

class Session:
    """pop3d on a socket pair as fd 0, 1, 2, as inetd runs it; replies as
    str without the line end."""

    def __init__(self, argv, deadline=60.0):
        self.proc, self.ours = spawn(argv)
        self.conn = Conn(self.ours, deadline)

    @property
    def eof(self):
        return self.conn.eof

    def line(self):
        try:
            data = self.conn.line()
        except TimeoutError:
            raise TimeoutError("pop3d did not answer in time")
        except BrokenPipeError:
            self.conn.eof, data = True, b""
        if data.endswith(b"\n"):
            data = data[:-1].rstrip(b"\r")
        return data.decode("latin-1")

    def cmd(self, text, multi=False):
        if not self.conn.send(text.encode() + b"\r\n"):
            return ""
        first = self.line()
        if multi and first.startswith("+OK"):
            while not self.eof and self.line() != ".":
                pass
        return first

    def finish(self):
        """Half-close, read to the end; pop3d's status or "timeout"."""
        self.conn.half_close()
        while not self.eof:
            self.line()
        left = max(1.0, self.conn.deadline - time.monotonic())
        try:
            rc = self.proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "timeout"
        self.ours.close()
        return rc


def run_session(argv, commands):
    """COMMANDS: POP3 lines (UIDL and LIST read to the "."); stops after a
    failed PASS.  Returns (replies, exit status or "timeout")."""
    s = Session(argv)
    replies = []
    try:
        replies.append(s.line())
        for c in commands:
            if s.eof:
                break
            r = s.cmd(c, multi=c in ("UIDL", "LIST"))
            replies.append(r)
            if c.startswith("PASS") and not r.startswith("+OK"):
                break
        rc = s.finish()
    except TimeoutError as e:
        s.proc.kill()
        s.proc.wait()
        return replies + ["<%s>" % e], "timeout"
    return replies, rc


# ---- Pop3: a plain line client for programs (fetch loops) ----

class Closed(ConnectionError):
    """The server closed the connection (or cut a line short)."""


class Pop3:
    """A blocking POP3 client over TCP: line(), cmd(), multi()."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=30,
                 line_max=RECV_MAX):
        self.sock = connect(port, host, source, timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.line_max = line_max
        self.last = "(greeting)"

    def line(self):
        """A reply line without CRLF; Closed if it ends early, ValueError
        if it is longer than line_max."""
        data = self.file.readline(self.line_max)
        if not data.endswith(b"\r\n"):
            err = Closed if len(data) < self.line_max else ValueError
            raise err("after %s: connection ended or line cut: %r" %
                      (self.last.split()[0], data[:80]))
        return data[:-2]

    def cmd(self, text):
        self.last = text
        self.sock.sendall(text.encode() + b"\r\n")
        return self.line()

    def multi(self):
        """The body of a multi-line reply, dot-unstuffed."""
        lines = []
        for _ in range(self.line_max):
            data = self.line()
            if data == b".":
                return lines
            lines.append(data[1:] if data.startswith(b".") else data)
        raise ValueError("multi-line reply without an end")

    def close(self):
        try:
            self.file.close()
            self.sock.close()
        except OSError:
            pass


# ---- floods on an inetd session ----

def hwm(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def say(line):
    sys.stdout.write(line.decode("latin-1").rstrip("\r\n") + "\n")


def flood_garbage(c, proc, mb):
    before = hwm(proc.pid)
    chunk = (b"garbage without a line feed \0\r " * 2048)[:65536]
    for _ in range(mb * 16):
        c.sock.sendall(chunk)
    c.sock.sendall(b"\r\n")
    say(c.line())
    after = hwm(proc.pid)
    c.sock.sendall(b"QUIT\r\n")
    say(c.line())
    print("hwm-before %d" % before)
    print("hwm-after %d" % after)


BAD = [b"XYZZY", b"STAT", b"RETR 1", b"NO\0OP", b"", b"USER " + b"u" * 41,
       b"A" * 300, b"LIST -1", b"TOP 1 x", b"DELE 99999999999999999999",
       b"PASS", b"UIDL 0"]


def flood_badcmds(c, proc, n):
    before = hwm(proc.pid)
    data = b"".join(BAD[i % len(BAD)] + b"\r\n" for i in range(n))

    def send():
        try:
            c.sock.sendall(data)
        except OSError:
            pass

    t = threading.Thread(target=send, daemon=True)
    t.start()
    errs = other = 0
    last = b""
    for _ in range(n):
        last = c.line()
        if not last:
            break
        if last.startswith(b"-ERR "):
            errs += 1
        else:
            other += 1
    t.join(max(0, c.deadline - time.monotonic()))
    after = hwm(proc.pid)
    c.sock.sendall(b"QUIT\r\n")
    say(c.line())
    print("hwm-before %d" % before)
    print("hwm-after %d" % after)
    print("errors %d" % errs)
    print("other %d" % other)
    say(b"last " + last)


def flood(mode, margs, argv):
    """The garbage, badcmds and early modes; returns pop3d's status."""
    def body(c, proc):
        if mode == "early":
            c.sock.sendall(b"GET / HTTP/1.0\r\n\r\n" + b"garbage " * 1000 +
                           b"\r\n")
        else:
            say(c.line())
            if mode == "garbage":
                flood_garbage(c, proc, int(margs[0]))
            else:
                flood_badcmds(c, proc, int(margs[0]))
        c.half_close()
    c, status = inetd_run(argv, FLOOD_DEADLINE, body, report=True)
    if mode == "early":
        print("received %d" % len(c.out))
    sys.stdout.flush()
    return status


# ---- PROXY header clients ----

def read_all(s):
    got = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except ConnectionResetError:
        got += b"<reset>"
    return got


def mutate(rng, h):
    h = bytearray(h)
    kind = rng.randrange(4)
    if kind == 0:  # flip bytes
        for _ in range(rng.randint(1, 3)):
            h[rng.randrange(len(h))] = rng.randrange(256)
    elif kind == 1:  # cut short
        h = h[:rng.randrange(len(h))]
    elif kind == 2:  # insert
        i = rng.randrange(len(h) + 1)
        h[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    else:  # delete a run
        i = rng.randrange(len(h))
        del h[i:i + rng.randint(1, 6)]
    return bytes(h)


def proxy_fuzz(port, count, seed):
    rng = random.Random(seed)
    refused = greeted = 0
    for i in range(count):
        h = mutate(rng, proxy_v1("198.51.100.%d" % (i % 250)) if i % 2
                   else proxy_v2())
        s = connect(port)
        s.sendall(h)
        s.shutdown(socket.SHUT_WR)
        got = read_all(s).decode("latin-1")
        s.close()
        if got.startswith("-ERR ") and got.count("\r\n") == 1 and \
                got.endswith("\r\n"):
            refused += 1
        elif got.startswith("+OK pop3d ready"):
            greeted += 1
        else:
            print("mutation %d %r: answer %r" % (i, h, got.split("\r\n")))
            return 1
    print("refused %d greeted %d" % (refused, greeted))
    return 0


def proxy_timed(port, addr, passwords):
    c = Conn(connect(port), PROXY_TIMED_DEADLINE)
    c.send(proxy_v1(addr))
    if not c.line().startswith(b"+OK"):
        return 1
    for pw in passwords:
        c.command(b"USER alice")
        t = time.monotonic()
        reply = c.command(b"PASS " + pw.encode("latin-1"))
        reply = reply.decode("latin-1").rstrip("\r\n")
        print("%.2f %s" % (time.monotonic() - t, reply))
        if reply.startswith("+OK"):
            c.command(b"QUIT")
            break
    c.sock.close()
    return 0


def one_failure(port, i):
    addr = "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
    s = connect(port)
    s.sendall(proxy_v1(addr) + b"USER alice\r\nPASS wrong\r\nQUIT\r\n")
    got = read_all(s)
    s.close()
    return b"invalid user name or password" in got


def proxy_many(port, count):
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        ok = sum(ex.map(lambda i: one_failure(port, i), range(1, count + 1)))
    print("done %d" % ok)
    return 0 if ok == count else 1


# ---- the command line ----

def options(args, flags, valued):
    """Split ARGS into ({option: value or True}, the rest) at "--" or the
    first word that is not an option."""
    opts = {}
    while args and args[0].startswith("--") and args[0] != "--":
        opt = args.pop(0)[2:]
        if opt in flags:
            opts[opt] = True
        elif opt in valued and args:
            opts[opt] = args.pop(0)
        else:
            sys.stderr.write("pop3client.py: unknown option --%s\n" % opt)
            sys.exit(2)
    if args and args[0] == "--":
        args.pop(0)
    return opts, args


def stdin_script():
    return sys.stdin.buffer.read().decode("latin-1").splitlines()


def write(out, raw):
    if not raw:
        out = out.replace(b"\r\n", b"\n")
    sys.stdout.buffer.write(out)
    sys.stdout.flush()


def main_session(args):
    o, argv = options(args, {"pipeline", "raw", "eof", "times"},
                      {"deadline"})
    out, status = inetd_session(argv, stdin_script(), "pipeline" in o,
                                float(o.get("deadline", 60)), "eof" in o,
                                "times" in o)
    write(out, "raw" in o)
    return status


def main_tcp(args):
    o, rest = options(args, {"tls", "no-greeting", "raw"},
                      {"cafile", "name", "host", "source", "rcvbuf",
                       "proxy", "deadline"})
    if len(rest) != 1:
        sys.stderr.write(__doc__)
        return 2
    out = tcp_session(int(rest[0]), stdin_script(), "tls" in o,
                      "no-greeting" not in o, o.get("cafile"),
                      o.get("name", "localhost"),
                      o.get("host", "127.0.0.1"), o.get("source"),
                      int(o["rcvbuf"]) if "rcvbuf" in o else None,
                      o.get("proxy"), float(o.get("deadline", 30)))
    write(out, "raw" in o)
    return 0


def main_raw(args):
    o, rest = options(args, {"tls", "no-greeting", "shut"},
                      {"cafile", "host", "source", "wait"})
    text = unescape(rest[1]) if len(rest) > 1 else b""
    out, closed = raw_exchange(int(rest[0]), text, "tls" in o,
                               o.get("cafile"), o.get("host", "127.0.0.1"),
                               o.get("source"), float(o.get("wait", 0.5)),
                               "no-greeting" not in o, "shut" in o)
    sys.stdout.write(out.decode("latin-1").replace("\r", "\\r"))
    return 0 if closed else 124


def main(argv):
    if not argv:
        sys.stderr.write(__doc__)
        return 2
    mode, args = argv[0], argv[1:]
    if mode == "session":
        return main_session(args)
    if mode == "tcp":
        return main_tcp(args)
    if mode == "raw":
        return main_raw(args)
    if mode in ("garbage", "badcmds", "early"):
        cut = args.index("--")
        return flood(mode, args[:cut], args[cut + 1:])
    if mode == "proxy-fuzz":
        return proxy_fuzz(int(args[0]), int(args[1]), int(args[2]))
    if mode == "proxy-timed":
        return proxy_timed(int(args[0]), args[1], args[2:])
    if mode == "proxy-many":
        return proxy_many(int(args[0]), int(args[1]))
    sys.stderr.write("pop3client.py: unknown mode %s\n" % mode)
    return 2


if __name__ == "__main__":
    # SIGPIPE stays ignored: pop3d closing first is an OSError, not a
    # death by signal (exit 141)
    sys.exit(main(sys.argv[1:]))
