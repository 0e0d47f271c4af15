#!/usr/bin/env python3
"""Fetch and delete every message with Python's poplib, over TLS.

    poplib-tls.py ssl|stls PORT CAFILE OUTDIR

Connects to 127.0.0.1:PORT with POP3_SSL (ssl) or POP3 + stls() (stls),
verifying the certificate against CAFILE for 127.0.0.1, logs
in as alice/secret, stores each message as OUTDIR/N (lines joined with
LF, as poplib returns them dot-unstuffed), DELEs it, and QUITs.  Prints
the replies to STLS and QUIT and the STAT figures.
"""
import os
import poplib
import ssl
import sys

mode, port, cafile, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    sys.argv[4]
ctx = ssl.create_default_context(cafile=cafile)
# the certificate names 127.0.0.1 (and localhost): poplib checks it
if mode == "ssl":
    pop = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=60)
else:
    pop = poplib.POP3("127.0.0.1", port, timeout=60)
    print(pop.stls(context=ctx).decode())
pop.user("alice")
pop.pass_("secret")
count, octets = pop.stat()
print("STAT %d %d" % (count, octets))
os.makedirs(outdir, exist_ok=True)
for n in range(1, count + 1):
    resp, lines, size = pop.retr(n)
    with open(os.path.join(outdir, str(n)), "wb") as f:
        f.write(b"".join(l + b"\n" for l in lines))
    pop.dele(n)
print(pop.quit().decode())
