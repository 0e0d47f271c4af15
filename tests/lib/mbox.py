#!/usr/bin/env python3
"""The tests' one model of a Unix mbox as pop3d serves it (README "The
mailbox", pop3d.8 FILES): parse, expected POP3 views, transcripts,
fixtures and the ground-truth check.  It reads the bytes itself and never
asks pop3d.

The rules (README "The mailbox", Format and Content-Length):
- A message starts at a "From " line at the start of the file or right
  after an empty line, followed by a non-blank character (not space, tab,
  CR or LF).  An empty line is "\\n" or "\\r\\n": a CRLF empty line before
  a From_ line is a separator as much as an LF one.
- The From_ line is never sent; the empty line before the next From_
  line, and the one that ends the file, belong to the separator.
- A header's Content-Length: N (a complete line, digits only, at most 19)
  is the body's length when the body's start plus N is the end of the
  file, or the start of an empty line followed by a From_ line or ending
  the file; else it is ignored.  No separator is seen inside such a body.
- A first message that is a c-client pseudo-message (From_ line
  "From MAILER-DAEMON ", Subject "DON'T DELETE THIS MESSAGE -- FOLDER
  INTERNAL DATA", an X-IMAP: or X-IMAPbase: header) is hidden: not
  numbered, never cut.
- RETR sends every line with CRLF (CRLF kept, bare LF made CRLF, a last
  line without newline given one), then byte-stuffs lines starting ".".

Command line (python3 tests/lib/mbox.py CMD ...):
    count MBOX                  number of visible messages
    sizes MBOX                  "N SIZE" per message (RETR octets)
    body MBOX N                 message N as RETR sends it, unstuffed
    top MBOX N L                the same for TOP N L
    expect MBOX DIR L...        DIR/N.body and DIR/N.top-L for each L
    cut MBOX N...               the file with messages N... removed
    ranges MBOX                 start offsets of all messages
    blocks RAW SKIP COUNT DIR   from a raw session transcript: skip SKIP
                                reply lines, then COUNT multi-line replies
                                into DIR/K.hdr (status line), DIR/K.raw
                                (as sent) and DIR/K (unstuffed)
    split RAW DIR               every "+OK N octets" reply's payload,
                                unstuffed, to DIR/1, DIR/2 ...; one line
                                "K octets=N got=M complete|cut" each
    message MBOX N              message N as a client stores it (LF)
    compare [--ignore H]... EXPECTED_MBOX PATH...
                                what a client fetched (files, or
                                directories of files, maildir tmp/ left
                                out) against the messages of
                                EXPECTED_MBOX: line ends normalised to LF,
                                the headers H the client adds dropped from
                                the top; the same multiset, or exit 1
    gen KINDS MBOX TRUTH.json [SEED]
                                a mailbox of KINDS (see KINDS below) and
                                its ground truth (TRUTH.orig: a copy)
    check TRUTH.json MBOX [--deleted 1,3] [--expect deleted|kept|either]
          [--delivered FILE]... [--orig FILE]
                                MBOX against the truth (see check())
    fixture NAME OUT [ARG]      a named fixture (see FIXTURES)
"""
import base64
import hashlib
import json
import os
import random
import re
import sys

sys.dont_write_bytecode = True     # nothing generated in the tree

PSEUDO_FROM = b"From MAILER-DAEMON "
PSEUDO_SUBJECT = b"DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA"
CLEN_DIGITS_MAX = 19               # params.h CLEN_DIGITS_MAX


class NotMbox(ValueError):
    """The file does not start with a From_ line."""


# ---------------------------------------------------------------- parse

def lines_of(data):
    """[(offset, line)], each line with its LF; the last maybe without."""
    out, i = [], 0
    while i < len(data):
        j = data.find(b"\n", i)
        if j < 0:
            out.append((i, data[i:]))
            break
        out.append((i, data[i:j + 1]))
        i = j + 1
    return out


def is_sep(line):
    """A From_ line: "From " and a non-blank character."""
    return line.startswith(b"From ") and len(line) > 5 and \
        line[5:6] not in (b" ", b"\t", b"\r", b"\n")


def is_empty(line):
    return line in (b"\n", b"\r\n")


def header_value(line, name):
    if line[:len(name)].lower() != name.lower():
        return None
    return line[len(name):].strip(b" \t\r\n")


def clen_end(data, body_start, header):
    """Where a trusted Content-Length ends the body, or None."""
    n = None
    for line in header:
        v = header_value(line, b"Content-Length:")
        if v is not None and line.endswith(b"\n"):
            n = int(v) if v.isdigit() and len(v) <= CLEN_DIGITS_MAX \
                else None
    if n is None or body_start + n > len(data):
        return None
    end = body_start + n
    rest = data[end:]
    if end == len(data) or rest in (b"\n", b"\r\n"):
        return end
    for nl in (b"\n", b"\r\n"):
        if rest.startswith(nl) and is_sep(rest[len(nl):].split(b"\n")[0]
                                          + b"\n"):
            return end
    return None


def is_pseudo(m, header):
    whole = [l for l in header if l.endswith(b"\n")]
    return m["start"] == 0 and m["sep"].startswith(PSEUDO_FROM) \
        and any(header_value(l, b"Subject:") == PSEUDO_SUBJECT
                for l in whole) \
        and any(header_value(l, b"X-IMAP:") is not None or
                header_value(l, b"X-IMAPbase:") is not None for l in whole)


def parse(data, strict=True):
    """All messages (the pseudo-message too): dicts with start, end (the
    byte range on disk, separator included), sep (the From_ line), lines
    (the message's lines as stored) and pseudo.  strict: a file that does
    not start with a From_ line raises NotMbox; else such lines are
    skipped (a damaged file, read for what is left of it)."""
    msgs = []
    prev_empty = True       # the start of the file counts as after one
    in_header, header, body_end = False, [], 0
    for off, line in lines_of(data):
        if prev_empty and is_sep(line) and off >= body_end:
            msgs.append({"start": off, "lines": [], "sep": line,
                         "pseudo": False})
            in_header, header = True, []
        elif not msgs:
            if strict:
                raise NotMbox("not an mbox")
        else:
            msgs[-1]["lines"].append(line)
            if in_header and is_empty(line):
                in_header = False
                e = clen_end(data, off + len(line), header)
                body_end = e if e is not None else body_end
                msgs[-1]["pseudo"] = is_pseudo(msgs[-1], header)
            elif in_header:
                header.append(line)
        prev_empty = is_empty(line)
    if msgs and in_header:
        msgs[-1]["pseudo"] = is_pseudo(msgs[-1], header)
    for k, m in enumerate(msgs):
        m["end"] = msgs[k + 1]["start"] if k + 1 < len(msgs) else len(data)
        # the empty line before the next separator / at the end of file
        if m["lines"] and is_empty(m["lines"][-1]):
            m["lines"].pop()
    return msgs


def starts(data):
    """Start offsets of all messages (damaged files allowed)."""
    return [m["start"] for m in parse(data, strict=False)]


def visible(msgs):
    """The messages a client sees, and the hidden ones kept always."""
    if msgs and msgs[0].get("pseudo"):
        return msgs[1:], msgs[:1]
    return msgs, []


def messages(data):
    """The messages a client sees."""
    return visible(parse(data))[0]


# ---------------------------------------------------------------- views

def crlf(line):
    if line.endswith(b"\r\n"):
        return line
    if line.endswith(b"\n"):
        return line[:-1] + b"\r\n"
    return line + b"\r\n"


def body(m):
    """What RETR sends, before byte-stuffing."""
    return b"".join(crlf(l) for l in m["lines"])


def top(m, n):
    """What TOP n sends, before byte-stuffing."""
    out, in_body = [], False
    for l in m["lines"]:
        if in_body:
            if n <= 0:
                break
            n -= 1
        out.append(crlf(l))
        if not in_body and is_empty(crlf(l)):
            in_body = True
    return b"".join(out)


def stored(m):
    """The message as a client stores it: RETR's bytes with LF ends."""
    return body(m).replace(b"\r\n", b"\n")


def cut(data, gone):
    """The file with the visible messages numbered in gone removed."""
    msgs, hidden = visible(parse(data))
    return b"".join([data[m["start"]:m["end"]] for m in hidden] +
                    [data[m["start"]:m["end"]] for k, m in enumerate(msgs)
                     if k + 1 not in gone])


# ---------------------------------------------------------- transcripts

class BadReply(ValueError):
    pass


def blocks(raw, skip, count):
    """From a raw transcript: skip SKIP reply lines, then COUNT multi-line
    replies as (status line, data as sent, data unstuffed)."""
    lines = [l for _, l in lines_of(raw)]
    k, out = skip, []
    for b in range(1, count + 1):
        if k >= len(lines) or not lines[k].startswith(b"+OK"):
            raise BadReply("reply %d is not +OK: %r" %
                           (b, lines[k] if k < len(lines) else b"(none)"))
        hdr = lines[k]
        k += 1
        data, plain = [], []
        while True:
            if k >= len(lines):
                raise BadReply("reply %d has no final ." % b)
            l = lines[k]
            k += 1
            data.append(l)
            if not l.endswith(b"\r\n"):
                raise BadReply("line without CRLF: %r" % l[:60])
            if l == b".\r\n":
                break
            if l.startswith(b"."):
                if not l.startswith(b".."):
                    raise BadReply("unstuffed dot line: %r" % l[:60])
                l = l[1:]
            plain.append(l)
        out.append((hdr.rstrip(b"\r\n"), b"".join(data), b"".join(plain)))
    return out


def octet_replies(raw):
    """Every "+OK N octets" reply (RETR, TOP) of a transcript, even one
    cut short: [(N, payload unstuffed, complete)]."""
    out = []
    for m in re.finditer(rb"\+OK (\d+) octets\r\n", raw):
        rest = raw[m.end():]
        end = rest.find(b"\r\n.\r\n")
        complete = end >= 0 or rest.startswith(b".\r\n")
        if rest.startswith(b".\r\n"):
            payload = b""
        elif end >= 0:
            payload = rest[:end + 2]
        else:
            payload = rest
        payload = b"\r\n".join(l[1:] if l.startswith(b".") else l
                               for l in payload.split(b"\r\n"))
        out.append((int(m.group(1)), payload, complete))
    return out


# -------------------------------------------------------------- clients

def strip_added(msg, ignore):
    """Drop headers named in ignore from the top of the header block."""
    while True:
        m = re.match(rb"([!-9;-~]+):[^\n]*\n(?:[ \t][^\n]*\n)*", msg)
        if not m or m.group(1).lower() not in ignore:
            return msg
        msg = msg[m.end():]


def fetched_files(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if d != "tmp")
                for n in sorted(names):
                    yield os.path.join(root, n)
        else:
            yield p


def subject(msg):
    m = re.search(rb"^Subject: ([^\n]*)", msg, re.M)
    return m.group(1).decode("latin-1") if m else "(no subject)"


def compare(expected_data, got, out=sys.stderr):
    """got: [(name, bytes as the client stored them, LF ends, added
    headers dropped)] against the messages of expected_data.  True when
    they are the same multiset; else says what differs on out."""
    expected = [stored(m) for m in messages(expected_data)]
    key = lambda m: hashlib.sha256(m).digest()
    if sorted(expected, key=key) == sorted((m for _, m in got), key=key):
        return True
    print("compare: expected %d messages, got %d" %
          (len(expected), len(got)), file=out)
    left = list(expected)
    for path, m in got:
        if m in left:
            left.remove(m)
            continue
        print("  %s (%d bytes, %s) matches no expected message" %
              (path, len(m), subject(m)), file=out)
        for e in expected:
            if subject(e) == subject(m):
                i = next((k for k in range(min(len(e), len(m)))
                          if e[k] != m[k]), min(len(e), len(m)))
                print("    vs expected (%d bytes): first difference at "
                      "byte %d: got %r, want %r" %
                      (len(e), i, m[max(0, i - 20):i + 40],
                       e[max(0, i - 20):i + 40]), file=out)
    for e in left:
        print("  missing: %s (%d bytes)" % (subject(e), len(e)), file=out)
    return False


# ------------------------------------------------------------- fixtures

ALPHA = b"abcdefghijklmnopqrstuvwxyz0123456789 .,-"
TABLE = bytes(ALPHA[i % len(ALPHA)] for i in range(256))


def text_lines(rng, n, eol=b"\n", width=72):
    pool = rng.randbytes(n * width).translate(TABLE)
    out, at = [], 0
    for _ in range(n):
        w = rng.randint(1, width)
        s = pool[at:at + w].strip(b" ") or b"x"
        at += w
        if s.startswith(b"."):
            s = b"dot" + s
        out.append(s + eol)
    return b"".join(out)


PSEUDO_MESSAGE = (
    b"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n"
    b"Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
    b"From: Mail System Internal Data <MAILER-DAEMON@example.org>\n"
    b"Subject: " + PSEUDO_SUBJECT + b"\n"
    b"Message-ID: <1704067200@example.org>\n"
    b"X-IMAP: 1704067200 0000000042\n"
    b"Status: RO\n\n"
    b"This text is part of the internal format of your mail "
    b"folder, and is not\na real message.  It is created "
    b"automatically by the mail system software.\n")

KINDS = """\
    s  small (a few hundred bytes)     m  medium (~20 KB)
    L  large (~1 MB)                   c  CRLF line ends
    z  NUL bytes in the body           q  ">From " and "From " body lines
    x  a c-client/Dovecot pseudo-message (X-IMAP:); only first
    n  the last message without its final empty line (end of file)"""


def kind_message(rng, kind, num):
    """One message of a gen() kind, without its separator's empty line."""
    eol = b"\r\n" if kind == "c" else b"\n"
    if kind == "x":
        return PSEUDO_MESSAGE
    head = (b"From sender%d@example.org Mon Jan  1 00:%02d:%02d 2024\n" %
            (num, num // 60 % 60, num % 60))
    hdr = (b"From: sender%d@example.org" % num + eol +
           b"Subject: integ message %d kind %s" % (num, kind.encode()) + eol +
           b"Message-ID: <integ-%d@example.org>" % num + eol)
    if kind == "L":
        text = text_lines(rng, 28000)          # ~ 1 MB
    elif kind == "m":
        text = text_lines(rng, 500)
    else:
        text = text_lines(rng, rng.randint(2, 12), eol)
    if kind == "z":
        text += b"nul\0bytes\0\0in the body" + eol
    if kind == "q":
        text += (b">From quoted, sent as stored" + eol +
                 b"From here on not a separator (no empty line before)" +
                 eol + b"." + eol + b".." + eol)
    return head + hdr + eol + text


def gen_kinds(spec, seed=1):
    """The bytes of a mailbox of comma-separated KINDS."""
    rng = random.Random(seed)
    kinds = spec.split(",")
    parts = []
    for i, k in enumerate(kinds):
        msg = kind_message(rng, k, i + 1)
        if k == "n" and i != len(kinds) - 1:
            raise ValueError("gen: n only last")
        if k == "n":
            msg = msg.rstrip(b"\n")     # no final newline at all
        elif k == "c":
            msg += b"\r\n" if rng.random() < 0.5 else b"\n"
        else:
            msg += b"\n"
        parts.append(msg)
    return b"".join(parts)


def gen(spec, path, truth_path, seed=1):
    """gen_kinds into path and TRUTH.orig, the ranges into truth_path."""
    data = gen_kinds(spec, seed)
    for p in (path, truth_path[:-len(".json")] + ".orig"):
        with open(p, "wb") as f:
            f.write(data)
    kinds = spec.split(",")
    at = starts(data)
    if len(at) != len(kinds):
        raise ValueError("gen: %d messages found, %d made" %
                         (len(at), len(kinds)))
    truth = {"spec": spec, "size": len(data), "starts": at,
             "hidden": 1 if kinds[0] == "x" else 0}
    with open(truth_path, "w") as f:
        json.dump(truth, f)
    return truth


def random_mbox(r):
    """A random mailbox from the generator r: dot lines, CRLF and bare CR,
    NUL bytes, "From " and ">From " lines, empty lines, long lines, a last
    line without newline, byte-identical messages."""
    pieces = [b"", b".", b"..", b"From x", b"From ", b">From y", b"\r",
              b"\0", b"a", b"xy", b" ", b"\t"]
    msgs = []
    for _ in range(r.randint(1, 10)):
        if msgs and r.random() < 0.15:
            msgs.append(r.choice(msgs))	# a byte-identical copy
            continue
        out = [b"From u%d@example.org Mon Jan  1 00:00:00 2024" %
               r.randint(0, 3) + r.choice([b"\n", b"\r\n"])]
        for _ in range(r.choice([0, 1, 3, 10, 200])):
            line = b"".join(r.choice(pieces) if r.random() > 0.01 else
                            b"z" * r.choice([300, 5000, 70000])
                            for _ in range(r.randint(0, 4)))
            out.append(line + r.choice([b"\n", b"\n", b"\r\n"]))
        out.append(r.choice([b"\n", b"\r\n"]))
        msgs.append(b"".join(out))
    data = b"".join(msgs)
    if r.random() < 0.3:
        data = data.rstrip(b"\r\n")	# the last line without newline
    return data


def clients_fixture(mb=8.0):
    """Five messages real clients and servers trip over: dot lines (".",
    "..", ".x"), a 5,000-character line (over poplib's 2048-octet default
    and RFC 5322's 998), an attachment of mb megabytes of base64
    (deterministic), ">From " body lines, and, last in the file, a message
    whose last line has no newline."""
    def msg(n, subj, text):
        return (b"From sender%d@example.org Mon Jan  1 00:00:0%d 2024\n"
                b"From: Sender %d <sender%d@example.org>\n"
                b"To: alice@example.org\nSubject: %s\n"
                b"Message-ID: <fixture-%d@example.org>\n"
                b"Date: Mon, 1 Jan 2024 00:00:0%d +0000\n\n" %
                (n, n, n, n, subj.encode(), n, n) + text)
    raw = random.Random(1939).randbytes(int(mb * 1024 * 1024 * 3 / 4))
    parts = [
        msg(1, "dot lines", b".\n..\n.leading dot\n...\nplain line\n. \n"
            b".\r\nbetween\n.\n"),
        msg(2, "a 5000-character line", b"before\n" +
            (b"0123456789" * 500)[:5000] + b"\nafter\n"),
        msg(3, "an attachment of %g MB" % mb,
            b"MIME-Version: 1.0\n"
            b"Content-Type: multipart/mixed; boundary=\"b1939\"\n\n"
            b"--b1939\nContent-Type: text/plain\n\nSee attached.\n"
            b"--b1939\nContent-Type: application/octet-stream\n"
            b"Content-Transfer-Encoding: base64\n"
            b"Content-Disposition: attachment; filename=\"data.bin\"\n"
            b"\n" + base64.encodebytes(raw) + b"--b1939--\n"),
        msg(4, "a From line in the body",
            b"The next line was quoted by the MDA:\n"
            b">From the beginning, this was a body line.\n"
            b">>From twice quoted.\nFrom: not a separator (no empty "
            b"line before it)\n"),
        msg(5, "no final newline",
            b"first line\nthe last line has no newline"),
    ]
    # messages are separated by an empty line; the file ends without one
    return b"\n".join(parts)


def base_fixture(n=3):
    """n small messages "base k" with a dot line and a ".." line."""
    return b"".join(
        b"From base%d@example.org Tue Jan  2 00:00:0%d 2024\n"
        b"From: base%d@example.org\nSubject: base %d\n"
        b"Message-ID: <base-%d@example.org>\n\n"
        b"base body %d\n.\n..dots\n\n" % ((k,) * 6)
        for k in range(1, n + 1))


def dots_fixture(n):
    """n messages with the lines clients get wrong (a lone ".", lines
    starting ".", "..", ">From ", a 900-character line, an empty body
    line); the first one is about 100 KB."""
    out = []
    for i in range(1, n + 1):
        lines = [b".", b".starts with a dot", b"..two dots",
                 b">From quoted", b"", b"x" * 900, b"end of message %d" % i]
        if i == 1:
            lines += [(b"line %05d " % k) + b"abcdefgh" * 10
                      for k in range(1100)]
        out.append(b"From sender@example.org Mon Jan  1 00:00:0%d 2024\n"
                   % (i % 10) +
                   b"From: sender@example.org\nTo: alice@example.org\n"
                   b"Subject: message %d\nMessage-ID: <m%d@example.org>\n\n"
                   % (i, i) + b"\n".join(lines) + b"\n\n")
    return b"".join(out)


def big_fixture(kb):
    """One message of about kb kilobytes (Message-ID <m1@example.org>,
    random text lines of 0 to 199 characters, some starting ".")."""
    r = random.Random(5)
    lines = [b"From big@example.org Mon Jan  1 00:00:00 2024",
             b"From: big@example.org", b"Subject: big",
             b"Message-ID: <m1@example.org>", b""]
    table = bytes(b"abcdefghijklmnopqrstuvwxyz ."[i % 28] for i in range(256))
    size, want = 0, kb * 1024
    while size < want:
        l = r.randbytes(r.randrange(0, 200)).translate(table)
        lines.append(l)
        size += len(l) + 2
    return b"\n".join(lines) + b"\n\n"


FIXTURES = {
    "clients": lambda a: clients_fixture(float(a or 8)),
    "base": lambda a: base_fixture(int(a or 3)),
    "dots": lambda a: dots_fixture(int(a or 3)),
    "big": lambda a: big_fixture(int(a or 1024)),
}


def mbox_form(msg, sender, stamp=b"Mon Jan  1 00:00:00 2024"):
    """msg (no From_ line) as an MDA appends it: a From_ line, the lines
    with "From " quoted as ">From ", a newline at the end, an empty
    line."""
    lines = msg.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    quoted = b"".join((b">" + l if l.startswith(b"From ") else l) + b"\n"
                      for l in lines)
    return b"From " + sender + b" " + stamp + b"\n" + quoted + b"\n"


# -------------------------------------------------------- ground truth

def expected(orig, truth, deleted):
    """The original file with the deleted messages' ranges cut out."""
    at = truth["starts"] + [len(orig)]
    hidden = truth["hidden"]
    return b"".join(orig[at[i]:at[i + 1]] for i in range(len(at) - 1)
                    if not (i >= hidden and (i - hidden + 1) in deleted))


FROM_LINE = re.compile(rb"From [^ \t\r\n][^\n]*\n")


def match_deliveries(rest, deliveries):
    """rest must be the deliveries, each once, in any order, each after a
    From_ line and followed by one empty line; None or what is wrong."""
    left = list(deliveries)
    off = 0
    while off < len(rest):
        m = FROM_LINE.match(rest, off)
        if m is None:
            return "appended bytes at +%d are not a From_ line: %r" % (
                off, rest[off:off + 60])
        for i, d in enumerate(left):
            if rest.startswith(d + b"\n", m.end()):
                off = m.end() + len(d) + 1
                del left[i]
                break
        else:
            return "appended message at +%d is none of the deliveries " \
                   "(or a duplicate): %r" % (off, rest[off:off + 120])
    if left:
        return "%d delivered message(s) missing, first: %r" % (
            len(left), left[0][:80])
    return None


def first_diff(a, b):
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def check(truth_path, mbox, deleted, expect="either", delivered=(),
          orig_path=None):
    """MBOX must be exactly the original with the ranges of the deleted
    messages (numbers as the client sees them) cut out ("deleted") or the
    original ("kept"), followed by the delivered messages (the bytes an
    MDA was given).  Returns (name, None) or (None, why)."""
    with open(truth_path) as f:
        truth = json.load(f)
    with open(orig_path or truth_path[:-len(".json")] + ".orig", "rb") as f:
        orig = f.read()
    try:
        with open(mbox, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        data = b""
    deliveries = []
    for p in delivered:
        with open(p, "rb") as f:
            deliveries.append(f.read())
    cands = []
    if expect in ("deleted", "either"):
        cands.append(("deleted", expected(orig, truth, deleted)))
    if expect in ("kept", "either"):
        cands.append(("kept", orig))
    reasons = []
    for name, base in cands:
        if not data.startswith(base):
            at = first_diff(data, base)
            reasons.append("not %s: differs at byte %d of %d (file %d "
                           "bytes): file has %r, expected %r" % (
                               name, at, len(base), len(data),
                               data[at:at + 40], base[at:at + 40]))
            continue
        why = match_deliveries(data[len(base):], deliveries)
        if why is None:
            return name, None
        reasons.append("not %s: %s" % (name, why))
    return None, "; ".join(reasons)


# ---------------------------------------------------------- command line

def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def cmd_check(a):
    deleted, expect, delivered, orig = set(), "either", [], None
    i = 2
    while i < len(a):
        if a[i] == "--deleted":
            deleted = {int(x) for x in a[i + 1].split(",") if x}
        elif a[i] == "--expect":
            expect = a[i + 1]
        elif a[i] == "--delivered":
            delivered.append(a[i + 1])
        elif a[i] == "--orig":
            orig = a[i + 1]
        else:
            sys.exit("check: unknown option " + a[i])
        i += 2
    name, why = check(a[0], a[1], deleted, expect, delivered, orig)
    if name is None:
        print("MISMATCH: " + why)
        return 1
    print(name)
    return 0


def cmd_compare(a):
    ignore = set()
    while a and a[0] == "--ignore":
        a.pop(0)
        ignore.add(a.pop(0).lower().encode())
    if len(a) < 2:
        sys.exit(__doc__)
    got = [(p, strip_added(read(p).replace(b"\r\n", b"\n"), ignore))
           for p in fetched_files(a[1:])]
    return 0 if compare(read(a[0]), got) else 1


def cmd_views(cmd, a, out):
    msgs, _ = visible(parse(read(a[0])))
    if cmd == "count":
        out.write(b"%d\n" % len(msgs))
    elif cmd == "sizes":
        for k, m in enumerate(msgs):
            out.write(b"%d %d\n" % (k + 1, len(body(m))))
    elif cmd == "body":
        out.write(body(msgs[int(a[1]) - 1]))
    elif cmd == "message":
        out.write(stored(msgs[int(a[1]) - 1]))
    elif cmd == "top":
        out.write(top(msgs[int(a[1]) - 1], int(a[2])))
    elif cmd == "expect":
        for k, m in enumerate(msgs):
            write(os.path.join(a[1], "%d.body" % (k + 1)), body(m))
            for l in a[2:]:
                write(os.path.join(a[1], "%d.top-%s" % (k + 1, l)),
                      top(m, int(l)))
    return 0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, a = sys.argv[1], sys.argv[2:]
    out = sys.stdout.buffer
    try:
        if cmd in ("count", "sizes", "body", "message", "top", "expect"):
            return cmd_views(cmd, a, out)
        if cmd == "cut":
            out.write(cut(read(a[0]), {int(x) for x in a[1:]}))
        elif cmd == "ranges":
            print(" ".join(map(str, starts(read(a[0])))))
        elif cmd == "blocks":
            for k, (hdr, raw, plain) in enumerate(
                    blocks(read(a[0]), int(a[1]), int(a[2])), 1):
                write(os.path.join(a[3], "%d.hdr" % k), hdr)
                write(os.path.join(a[3], "%d.raw" % k), raw)
                write(os.path.join(a[3], str(k)), plain)
        elif cmd == "split":
            for k, (n, payload, done) in enumerate(
                    octet_replies(read(a[0])), 1):
                write(os.path.join(a[1], str(k)), payload)
                print("%d octets=%d got=%d %s" % (
                    k, n, len(payload), "complete" if done else "cut"))
        elif cmd == "compare":
            return cmd_compare(a)
        elif cmd == "gen":
            gen(a[0], a[1], a[2], int(a[3]) if len(a) > 3 else 1)
        elif cmd == "check":
            return cmd_check(a)
        elif cmd == "fixture":
            write(a[1], FIXTURES[a[0]](a[2] if len(a) > 2 else None))
        else:
            sys.exit("mbox.py: unknown command %s\n%s" % (cmd, __doc__))
    except (NotMbox, BadReply, ValueError) as e:
        sys.exit("mbox.py: %s" % e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
