#!/usr/bin/env python3
"""Mailboxes with a known ground truth, and the check against it.

    integ-mbox.py gen KINDS MBOX TRUTH.json [SEED]
    integ-mbox.py check TRUTH.json MBOX --deleted 1,3 [--expect E]
                  [--delivered FILE]... [--count N]
    integ-mbox.py ranges MBOX

gen writes MBOX from KINDS, a comma-separated list of message kinds:
    s  small (a few hundred bytes)     m  medium (~20 KB)
    L  large (~1 MB)                   c  CRLF line ends
    z  NUL bytes in the body           q  ">From " and "From " body lines
    x  a c-client/Dovecot pseudo-message (X-IMAP:); only first
    n  the last message without its final empty line (end of file)
TRUTH.json (and a copy of the file as TRUTH.orig) records each message's
byte range as README "The mailbox" (Format) defines it: the From_ line
through the empty line before the next From_ line.

check compares MBOX with the truth: it must be exactly the original file
with the ranges of the --deleted messages (numbers as the client sees
them, the hidden pseudo-message not counted) cut out ("deleted") or the
original ("kept"), followed by the --delivered messages (each FILE holds
the bytes an MDA was given; it must appear once, after a From_ line and
followed by one empty line), in any order, and nothing else.  --expect
is deleted, kept or either (default).  Prints "deleted" or "kept";
on a mismatch prints where and exits 1.

ranges prints the ranges pop3d's rules give for any file (a debugging aid).

split RAW DIR takes a raw session transcript (session.py --raw) and
writes the payload of each "+OK N octets" response (RETR, TOP), with the
byte-stuffing undone, to DIR/1, DIR/2, ...; it prints one line for each:
"K octets=N got=M complete" or "... cut" when no final "." came.
"""
import json
import random
import re
import sys


def is_sep(data, off):
    """A From_ line starts at off: 'From ' and a non-blank character."""
    return (data.startswith(b"From ", off) and off + 5 < len(data) and
            data[off + 5:off + 6] not in (b" ", b"\t", b"\r", b"\n"))


def ranges(data):
    """Start offsets of the messages, by README "The mailbox" (Format)."""
    starts = []
    off = 0
    prev_empty = True       # the start of the file counts as after one
    while off < len(data):
        nl = data.find(b"\n", off)
        end = len(data) if nl < 0 else nl + 1
        line = data[off:end]
        if prev_empty and is_sep(data, off):
            starts.append(off)
        prev_empty = line in (b"\n", b"\r\n")
        off = end
    return starts


ALPHA = b"abcdefghijklmnopqrstuvwxyz0123456789 .,-"
TABLE = bytes(ALPHA[i % len(ALPHA)] for i in range(256))


def body_lines(rng, n, crlf=False, width=72):
    eol = b"\r\n" if crlf else b"\n"
    pool = rng.randbytes(n * width).translate(TABLE)
    out = []
    at = 0
    for i in range(n):
        w = rng.randint(1, width)
        s = pool[at:at + w].strip(b" ") or b"x"
        at += w
        if s.startswith(b"."):
            s = b"dot" + s
        out.append(s + eol)
    return b"".join(out)


def make_message(rng, kind, num):
    crlf = kind == "c"
    eol = b"\r\n" if crlf else b"\n"
    sec = num % 60
    head = (b"From sender%d@example.org Mon Jan  1 00:%02d:%02d 2024\n" %
            (num, num // 60 % 60, sec))
    hdr = (b"From: sender%d@example.org" % num + eol +
           b"Subject: integ message %d kind %s" % (num, kind.encode()) + eol +
           b"Message-ID: <integ-%d@example.org>" % num + eol)
    if kind == "x":
        return (b"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n"
                b"Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
                b"From: Mail System Internal Data <MAILER-DAEMON@example.org>\n"
                b"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
                b"Message-ID: <1704067200@example.org>\n"
                b"X-IMAP: 1704067200 0000000042\n"
                b"Status: RO\n\n"
                b"This text is part of the internal format of your mail "
                b"folder, and is not\na real message.  It is created "
                b"automatically by the mail system software.\n")
    if kind == "L":
        body = body_lines(rng, 28000)          # ~ 1 MB
    elif kind == "m":
        body = body_lines(rng, 500)
    else:
        body = body_lines(rng, rng.randint(2, 12), crlf)
    if kind == "z":
        body += b"nul\0bytes\0\0in the body" + eol
    if kind == "q":
        body += (b">From quoted, sent as stored" + eol +
                 b"From here on not a separator (no empty line before)" + eol +
                 b"." + eol + b".." + eol)
    return head + hdr + eol + body


def gen(spec, path, truth_path, seed=1):
    rng = random.Random(seed)
    kinds = spec.split(",")
    parts = []
    for i, k in enumerate(kinds):
        msg = make_message(rng, k, i + 1)
        last = i == len(kinds) - 1
        if k == "n" and not last:
            raise SystemExit("gen: n only last")
        if k == "n":
            msg = msg.rstrip(b"\n")     # no final newline at all
        elif k == "c":
            msg += b"\r\n" if rng.random() < 0.5 else b"\n"
        else:
            msg += b"\n"
        parts.append(msg)
    data = b"".join(parts)
    for p in (path, truth_path[:-len(".json")] + ".orig"):
        with open(p, "wb") as f:
            f.write(data)
    starts = ranges(data)
    if len(starts) != len(kinds):
        raise SystemExit("gen: %d messages found, %d made" %
                         (len(starts), len(kinds)))
    truth = {"spec": spec, "size": len(data), "starts": starts,
             "hidden": 1 if kinds[0] == "x" else 0}
    with open(truth_path, "w") as f:
        json.dump(truth, f)
    return truth


def expected(orig, truth, deleted):
    """The original file with the deleted messages' ranges cut out."""
    starts = truth["starts"] + [len(orig)]
    hidden = truth["hidden"]
    out = []
    for i in range(len(truth["starts"])):
        if i >= hidden and (i - hidden + 1) in deleted:
            continue
        out.append(orig[starts[i]:starts[i + 1]])
    return b"".join(out)


FROM_LINE = re.compile(rb"From [^ \t\r\n][^\n]*\n")


def match_deliveries(rest, deliveries):
    """rest must be the deliveries, each once, in any order."""
    left = list(deliveries)
    off = 0
    while off < len(rest):
        m = FROM_LINE.match(rest, off)
        if m is None:
            return "appended bytes at +%d are not a From_ line: %r" % (
                off, rest[off:off + 60])
        body_at = m.end()
        for i, d in enumerate(left):
            if rest.startswith(d + b"\n", body_at):
                off = body_at + len(d) + 1
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
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def check(truth_path, mbox, deleted, expect="either", delivered=(),
          orig_path=None):
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


def split(raw_path, out_dir):
    with open(raw_path, "rb") as f:
        raw = f.read()
    k = 0
    for m in re.finditer(rb"\+OK (\d+) octets\r\n", raw):
        k += 1
        body = raw[m.end():]
        end = body.find(b"\r\n.\r\n")
        complete = end >= 0 or body.startswith(b".\r\n")
        if body.startswith(b".\r\n"):
            payload = b""
        elif end >= 0:
            payload = body[:end + 2]
        else:
            payload = body
        lines = payload.split(b"\r\n")
        payload = b"\r\n".join(l[1:] if l.startswith(b".") else l
                                for l in lines)
        with open("%s/%d" % (out_dir, k), "wb") as f:
            f.write(payload)
        print("%d octets=%s got=%d %s" % (k, m.group(1).decode(),
                                          len(payload),
                                          "complete" if complete else "cut"))
    return 0


def main():
    a = sys.argv[1:]
    if not a:
        raise SystemExit(__doc__)
    if a[0] == "gen":
        gen(a[1], a[2], a[3], int(a[4]) if len(a) > 4 else 1)
        return 0
    if a[0] == "split":
        return split(a[1], a[2])
    if a[0] == "ranges":
        with open(a[1], "rb") as f:
            print(" ".join(map(str, ranges(f.read()))))
        return 0
    if a[0] == "check":
        truth, mbox = a[1], a[2]
        deleted, expect, delivered, orig = set(), "either", [], None
        i = 3
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
                raise SystemExit("check: unknown option " + a[i])
            i += 2
        name, why = check(truth, mbox, deleted, expect, delivered, orig)
        if name is None:
            print("MISMATCH: " + why)
            return 1
        print(name)
        return 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
