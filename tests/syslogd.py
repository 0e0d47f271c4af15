#!/usr/bin/env python3
"""A tiny syslog receiver for tests: syslogd.py SOCKET LOGFILE

Binds a unix datagram socket at SOCKET and appends every message it gets,
one per line, to LOGFILE, until it is killed.  Tests bind-mount SOCKET
over /dev/log in a private mount namespace (see with_syslog in
helper.bash), so nothing outside the test is touched.
"""
import os
import signal
import socket
import sys

path, logfile = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
os.chmod(path, 0o666)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
with open(logfile, "ab", buffering=0) as out:
    while True:
        data = sock.recv(65536)
        out.write(data.rstrip(b"\0\n") + b"\n")
