#!/bin/sh
# pidof.sh ARG... - the pids (one a line) of the processes whose
# command line begins with exactly these arguments (no procps needed).
# A cross build's launcher (pop3d-ARCH.run, see the Makefile) shows up
# as "qemu-ARCH SYSROOT/LOADER --library-path DIRS pop3d-ARCH ARG...":
# that matches too.
exec python3 - "$@" <<'PY'
import os, sys
want = [a.encode() for a in sys.argv[1:]]
if want and want[0].endswith(b".run"):
    want[0] = want[0][:-4]

def unemulated(argv):
    """argv without a leading qemu-user, the target's dynamic loader and
    their options."""
    if not argv or not os.path.basename(argv[0]).startswith(b"qemu-"):
        return argv
    i = 1
    while i < len(argv) and argv[i].startswith(b"-"):
        i += 2          # the launcher's options all take a value
    if i < len(argv) and os.path.basename(argv[i]).startswith(b"ld"):
        i += 1
        while i < len(argv) and argv[i].startswith(b"--"):
            i += 2
    return argv[i:]

for d in os.listdir("/proc"):
    if not d.isdigit() or int(d) == os.getpid():
        continue
    try:
        with open("/proc/%s/cmdline" % d, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        continue
    if argv[:len(want)] == want or unemulated(argv)[:len(want)] == want:
        print(d)
PY
