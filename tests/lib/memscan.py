#!/usr/bin/env python3
"""Look for a TLS private key in a live process's memory (as root).

    memscan.py PID KEY.pem

Reads every readable mapping of /proc/PID/maps through /proc/PID/mem and
searches it for the key material: the private scalar (the EC key's
"priv" bytes, big-endian and in the little-endian limbs of a BIGNUM), the
key's DER, and a line of its PEM text.  Prints what it
found and exits 1 if any was found, 0 if none, 2 if it could not read.
"""
import re
import subprocess
import sys


def material(key):
    text = subprocess.run(["openssl", "pkey", "-in", key, "-noout",
                           "-text"], capture_output=True, text=True,
                          check=True).stdout
    m = re.search(r"priv:\s*((?:\s*[0-9a-f]{2}:?)+)", text)
    priv = bytes.fromhex(re.sub(r"[^0-9a-f]", "", m.group(1)))
    priv = priv.lstrip(b"\0") if len(priv) > 32 else priv
    der = subprocess.run(["openssl", "pkey", "-in", key, "-outform",
                          "DER"], capture_output=True, check=True).stdout
    lines = [l for l in open(key, "rb").read().splitlines()
             if l and not l.startswith(b"-----")]
    return {"private scalar": priv,
            "private scalar as a BIGNUM": priv[::-1], "DER key": der,
            "PEM line": lines[len(lines) // 2]}


def main():
    pid, key = sys.argv[1], sys.argv[2]
    want = material(key)
    found, scanned = set(), 0
    try:
        maps = open("/proc/%s/maps" % pid).read().splitlines()
        mem = open("/proc/%s/mem" % pid, "rb", 0)
    except OSError as e:
        print("cannot read process %s: %s" % (pid, e))
        sys.exit(2)
    for line in maps:
        f = line.split()
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if f[1][0] != "r" or (len(f) > 5 and f[5] in ("[vvar]",
                                                      "[vsyscall]")):
            continue
        if hi - lo > 1 << 30:		# ASan's shadow: nothing of ours
            continue
        try:
            mem.seek(lo)
            data = mem.read(hi - lo)
        except OSError:
            continue
        scanned += len(data)
        for name, b in want.items():
            if b in data:
                found.add(name)
    print("scanned %d bytes of pid %s; found: %s" %
          (scanned, pid, ", ".join(sorted(found)) or "nothing"))
    sys.exit(1 if found else 0)


main()
