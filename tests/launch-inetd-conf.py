#!/usr/bin/env python3
"""Make a test inetd.conf from inetd.conf.example.

    launch-inetd-conf.py EXAMPLE SERVER [--map OLD=NEW]... \\
        ENTRY:HOST:PORT:ARGS...

ENTRY names a line of EXAMPLE by its service field: "pop3", "pop3s", or
"#pop3" for the commented-out plain line.  That line is written with the
service field HOST:PORT, the program path replaced by SERVER, every
--map OLD=NEW applied to the arguments, and ARGS ("+TEXT": appended;
"=TEXT": the arguments after argv[0] replaced) -- the wait, user and
argv[0] fields stay as the example has them.  The config goes to stdout.
"""
import sys


def main():
    args = sys.argv[1:]
    if len(args) < 3:
        sys.exit(__doc__)
    example, server = args[0], args[1]
    maps, specs = [], []
    rest = args[2:]
    while rest:
        a = rest.pop(0)
        if a == "--map":
            old, new = rest.pop(0).split("=", 1)
            maps.append((old, new))
        else:
            specs.append(a)
    entries = {}
    with open(example) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 7 and fields[1] == "stream":
                name = fields[0]
                if name.startswith("#") and len(name) > 1:
                    name = "#" + name.lstrip("#")
                entries.setdefault(name, fields)
    for spec in specs:
        entry, host, port, sargs = spec.split(":", 3)
        if entry not in entries:
            sys.exit("launch-inetd-conf: no line %s in %s" % (entry, example))
        f = list(entries[entry])
        argv = f[6:]
        rest_args = " ".join(argv[1:])
        for old, new in maps:
            rest_args = rest_args.replace(old, new)
        if sargs.startswith("="):
            rest_args = sargs[1:]
        elif sargs[1:]:
            rest_args = (rest_args + " " + sargs[1:]).strip()
        print("\t".join(["%s:%s" % (host, port)] + f[1:5] + [server, argv[0]] +
                        ([rest_args] if rest_args else [])))


if __name__ == "__main__":
    main()
