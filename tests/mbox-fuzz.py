#!/usr/bin/env python3
"""Random mailboxes (fixed seeds) against tests/mbox-model.py.

    mbox-fuzz.py FIRST LAST -- POP3D ARGS...

For each seed in [FIRST, LAST) it writes a random mbox to $MBOX (dot lines,
CRLF and bare CR, NUL bytes, "From " and ">From " lines, empty lines, long
lines, a last line without newline, byte-identical messages), then
  1. one session: LIST, UIDL, then RETR and TOP of every message, all
     compared with the model (sizes, unstuffed bytes, stuffing
     well-formed; UIDLs unique, 1-70 characters of 0x21..0x7E);
  2. one session: UIDL (sometimes), DELE of a random set, sometimes a
     delivery with tests/deliver.py mid-session, QUIT; the file must be
     the model's cut plus the delivered bytes.
Prints one line per difference and "N seeds, M differences"; exits 1 on
any difference.  Each session is bounded by a 60 s deadline
(tests/lib/pop3client.py).
"""
import importlib.util
import os
import random
import subprocess
import sys

TESTS = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "model", os.path.join(TESTS, "mbox-model.py"))
model = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model)
sys.dont_write_bytecode = True  # nothing generated in the tree
sys.path.insert(0, os.path.join(TESTS, "lib"))
import pop3client  # noqa: E402  (tests/lib is not a package)

MBOX = os.environ["MBOX"]
WORK = os.environ["WORK"]
UID = int(os.environ.get("TEST_UID", "5000"))
PASSWORD = os.environ.get("PASSWORD", "secret")


def generate(r):
    pieces = [b"", b".", b"..", b"From x", b"From ", b">From y", b"\r",
              b"\0", b"a", b"xy", b" ", b"\t"]
    msgs = []
    for _ in range(r.randint(1, 10)):
        if msgs and r.random() < 0.15:
            msgs.append(r.choice(msgs))	# a byte-identical copy
            continue
        out = [b"From u%d@example.org Mon Jan  1 00:00:00 2024" %
               r.randint(0, 3) + r.choice([b"\n", b"\r\n"])]
        for _ in range(r.choice([0, 1, 3, 10, 200])):
            line = b"".join(r.choice(pieces) if r.random() > 0.01 else
                            b"z" * r.choice([300, 5000, 70000])
                            for _ in range(r.randint(0, 4)))
            out.append(line + r.choice([b"\n", b"\n", b"\r\n"]))
        out.append(r.choice([b"\n", b"\r\n"]))
        msgs.append(b"".join(out))
    data = b"".join(msgs)
    if r.random() < 0.3:
        data = data.rstrip(b"\r\n")	# the last line without newline
    return data


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
    with open(os.path.join(WORK, "raw"), "wb") as f:
        f.write(b"".join(lines[k + 1:]))
    out = os.path.join(WORK, "blocks")
    os.makedirs(out, exist_ok=True)
    res = subprocess.run(["python3", os.path.join(TESTS, "mbox-model.py"),
                          "blocks", os.path.join(WORK, "raw"), "0",
                          str(2 * n), out], capture_output=True, text=True)
    if res.returncode != 0:
        return bad + ["seed %d: %s" % (seed, res.stderr.strip())]
    for i, m in enumerate(msgs):
        with open(os.path.join(out, str(2 * i + 1)), "rb") as f:
            if f.read() != model.body(m):
                bad.append("seed %d: RETR %d differs" % (seed, i + 1))
        with open(os.path.join(out, str(2 * i + 2)), "rb") as f:
            if f.read() != model.top(m, tops[i]):
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
                   (os.path.join(TESTS, "deliver.py"), MBOX, MBOX, snap))
    session(argv, script + "QUIT\n")
    want = b"".join(data[m["start"]:m["end"]]
                    for k, m in enumerate(msgs) if k + 1 not in gone)
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
        data = generate(r)
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
