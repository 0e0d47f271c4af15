#!/bin/sh
# integ-pidof.sh ARG... - the pids (one a line) of the processes whose
# command line begins with exactly these arguments (no procps needed).
exec python3 - "$@" <<'PY'
import os, sys
want = [a.encode() for a in sys.argv[1:]]
for d in os.listdir("/proc"):
    if not d.isdigit() or int(d) == os.getpid():
        continue
    try:
        with open("/proc/%s/cmdline" % d, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        continue
    if argv[:len(want)] == want:
        print(d)
PY
