#!/usr/bin/env python3
"""An MDA for client tests: launch-store.py DIR < message

Writes the message on stdin, byte for byte, to the next free DIR/NNNNNN
(created with O_EXCL, so concurrent deliveries never share a file).
"""
import os
import sys

d = sys.argv[1]
data = sys.stdin.buffer.read()
for n in range(1, 100000):
    try:
        fd = os.open(os.path.join(d, "%06d" % n),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        continue
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    sys.exit(0)
sys.exit("launch-store: %s is full" % d)
