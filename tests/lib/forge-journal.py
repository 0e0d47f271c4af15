#!/usr/bin/env python3
"""Write a pop3d journal for MBOX, as an attacker would forge one.

    forge-journal.py MBOX JOURNAL P K S1 [KEPT_TEXT]

The header follows journal.c's layout table: magic, state (committed),
the mailbox's inode, P, S1, K, the marker's length and the marker, and a
SHA-256 over them; then K kept bytes (KEPT_TEXT repeated).  Numbers may
be given in hex (0x...) so that sums can be made to wrap.
"""
import hashlib
import os
import struct
import sys


def main():
    mbox, journal = sys.argv[1], sys.argv[2]
    p, k, s1 = (int(a, 0) for a in sys.argv[3:6])
    text = (sys.argv[6] if len(sys.argv) > 6 else "forged\n").encode()
    h = bytearray(4096)
    h[0:8] = b"POP3DJ01"
    h[8] = 1
    mlen = 1
    for at, v in ((16, os.stat(mbox).st_ino), (24, p), (32, s1), (40, k),
                  (48, mlen)):
        struct.pack_into("<Q", h, at, v & (2 ** 64 - 1))
    h[56:88] = b"\0" + b"M" * 31
    h[96:128] = hashlib.sha256(bytes(h[16:88])).digest()
    kept = (text * (k // max(len(text), 1) + 1))[:k] if k < 2 ** 20 else b""
    with open(journal, "wb") as f:
        f.write(bytes(h) + kept)


if __name__ == "__main__":
    main()
