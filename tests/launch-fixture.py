#!/usr/bin/env python3
"""Write the mailbox the client tests fetch: launch-fixture.py OUT [MB]

Five messages that real clients and servers trip over: dot lines (".",
"..", ".x" -- byte-stuffed on the wire), a 5,000-character line (over
poplib's 2048-octet default and over RFC 5322's 998), an attachment of
MB megabytes of base64 (default 8; deterministic pseudo-random data), a
">From " body line (sent as stored), and, last in the file, a message
whose last line has no newline.
"""
import base64
import random
import sys

out = sys.argv[1]
mb = float(sys.argv[2]) if len(sys.argv) > 2 else 8.0


def msg(n, subject, body, date="Mon Jan  1 00:00:0%d 2024"):
    return (b"From sender%d@example.org " % n + (date % n).encode() +
            b"\nFrom: Sender %d <sender%d@example.org>\n" % (n, n) +
            b"To: alice@example.org\nSubject: " + subject.encode() +
            b"\nMessage-ID: <fixture-%d@example.org>\n"
            b"Date: Mon, 1 Jan 2024 00:00:0%d +0000\n\n" % (n, n) + body)


parts = []
parts.append(msg(1, "dot lines",
                 b".\n..\n.leading dot\n...\nplain line\n. \n.\r\n"
                 b"between\n.\n"))
long_line = (b"0123456789" * 500)[:5000]
parts.append(msg(2, "a 5000-character line",
                 b"before\n" + long_line + b"\nafter\n"))
raw = random.Random(1939).randbytes(int(mb * 1024 * 1024 * 3 / 4))
b64 = base64.encodebytes(raw)		# 76-character lines
parts.append(msg(3, "an attachment of %g MB" % mb,
                 b"MIME-Version: 1.0\n"
                 b"Content-Type: multipart/mixed; boundary=\"b1939\"\n\n"
                 b"--b1939\nContent-Type: text/plain\n\nSee attached.\n"
                 b"--b1939\nContent-Type: application/octet-stream\n"
                 b"Content-Transfer-Encoding: base64\n"
                 b"Content-Disposition: attachment; filename=\"data.bin\"\n"
                 b"\n" + b64 + b"--b1939--\n"))
parts.append(msg(4, "a From line in the body",
                 b"The next line was quoted by the MDA:\n"
                 b">From the beginning, this was a body line.\n"
                 b">>From twice quoted.\nFrom: not a separator (no empty "
                 b"line before it)\n"))
parts.append(msg(5, "no final newline",
                 b"first line\nthe last line has no newline"))
with open(out, "wb") as f:
    # messages are separated by an empty line; the file ends without one
    f.write(b"\n".join(parts))
