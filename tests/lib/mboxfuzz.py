#!/usr/bin/env python3
"""Random mailboxes (fixed seeds) against tests/lib/mbox.py.

    mboxfuzz.py FIRST LAST -- POP3D ARGS...

For each seed in [FIRST, LAST) it writes a random mbox to $MBOX
(lib/mbox.py random_mbox), then
  1. one session: LIST, UIDL, then RETR and TOP of every message, all
     compared with the model (sizes, unstuffed bytes, stuffing
     well-formed; UIDLs unique, 1-70 characters of 0x21..0x7E);
  2. one session: UIDL (sometimes), DELE of a random set, sometimes a
     delivery with tests/lib/deliver.py mid-session, QUIT; the file must be
     the model's cut plus the delivered bytes.
Prints one line per difference and "N seeds, M differences"; exits 1 on
any difference.  Each session is bounded by a 60 s deadline
(tests/lib/pop3client.py).
"""
import os
import random
import subprocess
import sys

sys.dont_write_bytecode = True     # nothing generated in the tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mbox as model  # noqa: E402
import pop3client  # noqa: E402  (tests/lib is not a package)

MBOX = os.environ["MBOX"]
WORK = os.environ["WORK"]
UID = int(os.environ.get("TEST_UID", "5000"))
PASSWORD = os.environ.get("PASSWORD", "secret")


def session(argv, script):
    return pop3client.inetd_session(argv, script.splitlines(),
                                    deadline=60)[0]


def check_read(seed, r, data, argv):
    msgs = model.parse(data)
    n = len(msgs)
    tops = [r.choice([0, 1, 2, 99999999]) for _ in range(n)]
    script = "USER alice\nPASS %s\nLIST\nUIDL\n" % PASSWORD + "".join(
        "RETR %d\nTOP %d %d\n" % (i + 1, i + 1, tops[i]) for i in range(n))
    lines = [l for _, l in model.lines_of(session(argv, script + "QUIT\n"))]
    bad = []
    k, sizes = 4, []
    while k < len(lines) and lines[k] != b".\r\n":
        sizes.append(int(lines[k].split()[1]))
        k += 1
    want = [len(model.body(m)) for m in msgs]
    if sizes != want:
        bad.append("seed %d: LIST %s, model %s" % (seed, sizes, want))
    k += 2	# the "." and UIDL's "+OK"
    uidls = []
    while k < len(lines) and lines[k] != b".\r\n":
        uidls.append(lines[k].rstrip(b"\r\n").split(b" ", 1)[1])
        k += 1
    if len(uidls) != n or len(set(uidls)) != n or not all(
            1 <= len(u) <= 70 and all(0x21 <= c <= 0x7E for c in u)
            for u in uidls):
        bad.append("seed %d: UIDLs %s" % (seed, uidls))
    try:
        got = model.blocks(b"".join(lines[k + 1:]), 0, 2 * n)
    except model.BadReply as e:
        return bad + ["seed %d: %s" % (seed, e)]
    for i, m in enumerate(msgs):
        if got[2 * i][2] != model.body(m):
            bad.append("seed %d: RETR %d differs" % (seed, i + 1))
        if got[2 * i + 1][2] != model.top(m, tops[i]):
            bad.append("seed %d: TOP %d %d differs" %
                       (seed, i + 1, tops[i]))
    return bad


def check_update(seed, r, data, argv):
    msgs = model.parse(data)
    gone = {i for i in range(1, len(msgs) + 1) if r.random() < 0.4}
    deliver = r.random() < 0.3
    snap = os.path.join(WORK, "delivered")
    script = "USER alice\nPASS %s\n" % PASSWORD
    if r.random() < 0.5:
        script += "UIDL\n"
    script += "".join("DELE %d\n" % i for i in sorted(gone))
    if deliver:
        script += ("!sh printf 'Subject: new\\n\\nFrom here\\n.\\n' | "
                   "python3 %s %s new@example.org && cp %s %s\n" %
                   (os.path.join(HERE, "deliver.py"), MBOX, MBOX,
                    snap))
    session(argv, script + "QUIT\n")
    want = model.cut(data, gone)
    if deliver:
        with open(snap, "rb") as f:
            want += f.read()[len(data):]
    with open(MBOX, "rb") as f:
        if f.read() != want:
            return ["seed %d: after deleting %s%s the file differs" %
                    (seed, sorted(gone), " and a delivery" if deliver
                     else "")]
    return []


def main():
    cut = sys.argv.index("--")
    first, last = int(sys.argv[1]), int(sys.argv[2])
    argv = sys.argv[cut + 1:]
    bad = []
    for seed in range(first, last):
        r = random.Random(seed)
        data = model.random_mbox(r)
        for check in (check_read, check_update):
            with open(MBOX, "wb") as f:
                f.write(data)
            os.chown(MBOX, UID, UID)
            os.chmod(MBOX, 0o600)
            try:
                bad += check(seed, r, data, argv)
            except (IndexError, ValueError) as e:
                bad.append("seed %d: unexpected replies (%s)" % (seed, e))
    for b in bad:
        print(b)
    print("%d seeds, %d differences" % (last - first, len(bad)))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
