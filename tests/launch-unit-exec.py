#!/usr/bin/env python3
"""The command line of a systemd unit's ExecStart=, for a test to run.

    launch-unit-exec.py UNIT INSTANCE [--map OLD=NEW]...

Reads ExecStart= from UNIT (continuation lines joined as systemd joins
them), drops systemd's "-@:+!" prefixes, splits it into words with
systemd's quoting rules (close enough: POSIX shell quoting, which the
shipped unit keeps to), replaces the specifier %i with INSTANCE and %%
with %, applies each --map OLD=NEW to every word, and writes the words
NUL-separated to stdout (bash: mapfile -d '').  Exit 1 if the unit has
not exactly one ExecStart= or uses another specifier.
"""
import re
import shlex
import sys

unit, instance = sys.argv[1], sys.argv[2]
maps = []
rest = sys.argv[3:]
while rest:
    if rest.pop(0) != "--map":
        sys.exit(__doc__)
    old, new = rest.pop(0).split("=", 1)
    maps.append((old, new))
with open(unit) as f:
    text = re.sub(r"\\\n", " ", f.read())
lines = [l.split("=", 1)[1] for l in text.splitlines()
         if l.startswith("ExecStart=")]
if len(lines) != 1:
    sys.exit("launch-unit-exec: want one ExecStart= in %s" % unit)
cmd = lines[0].strip().lstrip("-@:+!")
words = []
for w in shlex.split(cmd):
    if re.search(r"%[^i%]", w):
        sys.exit("launch-unit-exec: unknown specifier in %r" % w)
    w = w.replace("%i", instance).replace("%%", "%")
    for old, new in maps:
        w = w.replace(old, new)
    words.append(w)
sys.stdout.write("".join(w + "\0" for w in words))
