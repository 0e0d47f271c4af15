#!/usr/bin/env python3
"""A mail client on Python's poplib, written the way applications use it.

    client-poplib.py [--stls|--ssl] [--cafile F] [--state F] [--delete]
                     HOST PORT USER PASSWORD OUTDIR

Logs in with USER/PASS (after STLS with --stls, over implicit TLS with
--ssl; the certificate is checked against HOST and --cafile), lists UIDL
and fetches with RETR every message whose UIDL is not in the --state file
(all of them without --state), writing each to OUTDIR/N (LF line ends,
as poplib returns lines), deletes each fetched message with --delete, and
QUITs; then records the UIDLs it has seen in the state file.  Exit 0; 3
when the server refuses the login, with the server's reply on stderr; 1
on any other error.

poplib refuses lines over 2048 octets (poplib._MAXLINE) by default and
raises error_proto("line too long"): RFC 5322 allows 998 and real mail
has longer ones, so this client raises the limit as applications must.
"""
import argparse
import os
import poplib
import ssl
import sys

poplib._MAXLINE = 1 << 20

p = argparse.ArgumentParser()
p.add_argument("--stls", action="store_true")
p.add_argument("--ssl", action="store_true")
p.add_argument("--cafile")
p.add_argument("--state")
p.add_argument("--delete", action="store_true")
p.add_argument("host")
p.add_argument("port", type=int)
p.add_argument("user")
p.add_argument("password")
p.add_argument("outdir")
a = p.parse_args()

ctx = ssl.create_default_context(cafile=a.cafile)
if a.ssl:
    pop = poplib.POP3_SSL(a.host, a.port, context=ctx, timeout=60)
else:
    pop = poplib.POP3(a.host, a.port, timeout=60)
    if a.stls:
        pop.stls(context=ctx)
try:
    pop.user(a.user)
    pop.pass_(a.password)
except poplib.error_proto as e:
    print("authentication failed: %s" % e.args[0].decode("latin-1"),
          file=sys.stderr)
    try:
        pop.quit()
    except (poplib.error_proto, OSError):
        pass
    sys.exit(3)

seen = set()
if a.state and os.path.exists(a.state):
    with open(a.state) as f:
        seen = set(f.read().split())
resp, listing, _ = pop.uidl()
now = {}
for line in listing:
    num, uid = line.decode("ascii").split()
    now[uid] = int(num)
fetched = 0
for uid, num in sorted(now.items(), key=lambda x: x[1]):
    if uid in seen:
        continue
    resp, lines, octets = pop.retr(num)
    with open(os.path.join(a.outdir, "%06d" % num), "wb") as f:
        f.write(b"".join(l + b"\n" for l in lines))
    fetched += 1
    if a.delete:
        pop.dele(num)
pop.quit()
if a.state:
    keep = set() if a.delete else set(now)
    with open(a.state, "w") as f:
        f.write("".join(u + "\n" for u in sorted(keep | (seen & set(now)))))
print("fetched %d of %d" % (fetched, len(now)))
