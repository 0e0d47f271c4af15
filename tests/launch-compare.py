#!/usr/bin/env python3
"""Compare what a mail client fetched with the mbox it was served from.

    launch-compare.py [--ignore HEADER]... EXPECTED_MBOX PATH...

EXPECTED_MBOX holds exactly the messages the client should have fetched.
It is split here independently of pop3d, by README "The mailbox" (Format):
a message starts at a "From " line at the start of the file or after an
empty line; the From_ line is not part of the message, nor is the empty
line before the next From_ line or the one that ends the file; a last
line without a newline gets one.  Each PATH is a file holding one fetched
message or a directory of such files (searched recursively, maildir tmp/
left out).

Each fetched message has its line ends normalised (CRLF -> LF) and the
headers a client adds itself removed from the top of its header block
(--ignore NAME, e.g. Received, Delivered-To, Return-Path); nothing else.
The fetched and the expected messages must then be the same multiset of
byte strings: same count, every byte equal.  Exit 0 if so; otherwise 1
with what differs on stderr.
"""
import hashlib
import os
import re
import sys


def split_mbox(data):
    """The messages of an mbox, as pop3d must send them (LF line ends)."""
    starts = [m.start() for m in re.finditer(rb"(?:^|(?<=\n\n))From \S",
                                             data)]
    if data and (not starts or starts[0] != 0):
        sys.exit("launch-compare: the expected file is not an mbox")
    msgs = []
    for i, s in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        chunk = data[s:end]
        nl = chunk.find(b"\n")
        body = chunk[nl + 1:] if nl >= 0 else b""
        if i + 1 < len(starts):
            body = body[:-1]		# the empty line before the next From_
        elif body.endswith(b"\n\n"):
            body = body[:-1]		# the empty line that ends the file
        if body and not body.endswith(b"\n"):
            body += b"\n"		# a last line without newline
        msgs.append(body.replace(b"\r\n", b"\n"))
    return msgs


def strip_added(msg, ignore):
    """Drop headers named in ignore from the top of the header block."""
    while True:
        m = re.match(rb"([!-9;-~]+):[^\n]*\n(?:[ \t][^\n]*\n)*", msg)
        if not m or m.group(1).lower() not in ignore:
            return msg
        msg = msg[m.end():]


def files(paths):
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


def main():
    args = sys.argv[1:]
    ignore = set()
    while args and args[0] == "--ignore":
        args.pop(0)
        ignore.add(args.pop(0).lower().encode())
    if len(args) < 2:
        sys.exit(__doc__)
    with open(args[0], "rb") as f:
        expected = split_mbox(f.read())
    got = []
    for path in files(args[1:]):
        with open(path, "rb") as f:
            got.append((path, strip_added(f.read().replace(b"\r\n", b"\n"),
                                          ignore)))
    key = lambda m: hashlib.sha256(m).digest()
    want = sorted(expected, key=key)
    have = sorted((m for _, m in got), key=key)
    if want == have:
        return 0
    print("launch-compare: expected %d messages, got %d" %
          (len(expected), len(got)), file=sys.stderr)
    left = list(expected)
    for path, m in got:
        if m in left:
            left.remove(m)
            continue
        print("  %s (%d bytes, %s) matches no expected message" %
              (path, len(m), subject(m)), file=sys.stderr)
        for e in expected:
            if subject(e) == subject(m):
                i = next((k for k in range(min(len(e), len(m)))
                          if e[k] != m[k]), min(len(e), len(m)))
                print("    vs expected (%d bytes): first difference at "
                      "byte %d: got %r, want %r" %
                      (len(e), i, m[max(0, i - 20):i + 40],
                       e[max(0, i - 20):i + 40]), file=sys.stderr)
    for e in left:
        print("  missing: %s (%d bytes)" % (subject(e), len(e)),
              file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
