#!/usr/bin/env python3
"""A tiny syslog receiver for tests: syslogd.py SOCKET LOGFILE [--mail-log]

Binds a unix datagram socket at SOCKET and appends every message it gets,
one per line, to LOGFILE, until it is killed.  With --mail-log each line is
written as rsyslog writes /var/log/mail.log ("Mmm dd hh:mm:ss HOST
ident[pid]: text": the priority dropped, the host name added).  Tests bind-mount SOCKET
over /dev/log in a private mount namespace (see syslog_start in
tests/lib/syslog.bash), so nothing outside the test is touched.
"""
import os
import re
import signal
import socket
import sys

path, logfile = sys.argv[1], sys.argv[2]
mail_log = sys.argv[3:] == ["--mail-log"]
host = socket.gethostname().encode()


def line(data):
    data = data.rstrip(b"\0\n")
    if mail_log:
        # glibc sends "<PRI>Mmm dd hh:mm:ss ident[pid]: text"
        data = re.sub(rb"^<\d+>(.{15}) ", lambda m: m.group(1) + b" " +
                      host + b" ", data, count=1, flags=re.S)
    return data + b"\n"


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
        out.write(line(data))
