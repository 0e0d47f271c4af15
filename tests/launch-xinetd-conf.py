#!/usr/bin/env python3
"""Make a test xinetd config from xinetd.conf.example.

    launch-xinetd-conf.py EXAMPLE SERVER [--map OLD=NEW]... \\
        [--set ATTR=VALUE]... SERVICE:NAME:PORT:ARGS...

For each SERVICE:NAME:PORT:ARGS the block "service SERVICE" of EXAMPLE is
copied as "service NAME" listening on 127.0.0.1:PORT (type UNLISTED, so
the port need not match /etc/services), with "server" set to SERVER,
"disable = no" and "cps" raised so a test's burst of connections never
switches it off; each --set ATTR=VALUE overrides one of these or any
other attribute of the block (bind, per_source, ...).  ARGS: "+TEXT"
keeps the example's server_args (with every --map OLD=NEW applied) and
appends TEXT; "=TEXT" replaces them.
Every other attribute (socket_type, wait, user, instances, ...) stays as
the example has it, so the test runs what a sysadmin would install.  The
config goes to stdout.
"""
import re
import sys


def blocks(text):
    """{name: [(attribute, operator, value), ...]} of the service blocks."""
    out = {}
    for m in re.finditer(r"^service\s+(\S+)\s*\{(.*?)^\}", text, re.M | re.S):
        attrs = []
        for line in m.group(2).splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            a = re.match(r"(\S+)\s*([-+]?=)\s*(.*)$", line)
            if not a:
                sys.exit("launch-xinetd-conf: cannot parse: " + line)
            attrs.append((a.group(1), a.group(2), a.group(3)))
        out[m.group(1)] = attrs
    return out


def main():
    args = sys.argv[1:]
    if len(args) < 3:
        sys.exit(__doc__)
    example, server = args[0], args[1]
    maps, specs, sets = [], [], {}
    rest = args[2:]
    while rest:
        a = rest.pop(0)
        if a == "--map":
            old, new = rest.pop(0).split("=", 1)
            maps.append((old, new))
        elif a == "--set":
            attr, value = rest.pop(0).split("=", 1)
            sets[attr] = value
        else:
            specs.append(a)
    with open(example) as f:
        svc = blocks(f.read())
    forced = {"disable": "no", "type": "UNLISTED", "server": server,
              "bind": "127.0.0.1", "flags": "IPv4", "cps": "10000 1"}
    forced.update(sets)
    for spec in specs:
        service, name, port, sargs = spec.split(":", 3)
        if service not in svc:
            sys.exit("launch-xinetd-conf: no service %s in %s" %
                     (service, example))
        print("service %s\n{" % name)
        seen = set()
        for attr, op, value in svc[service]:
            if attr in forced or attr == "port":
                continue
            if attr == "server_args":
                for old, new in maps:
                    value = value.replace(old, new)
                if sargs.startswith("="):
                    value = sargs[1:]
                elif sargs.startswith("+") and sargs[1:]:
                    value = value + " " + sargs[1:]
                seen.add(attr)
            print("\t%-16s%s %s" % (attr, op, value))
        if "server_args" not in seen and sargs[1:]:
            print("\t%-16s= %s" % ("server_args", sargs[1:]))
        for attr, value in forced.items():
            print("\t%-16s= %s" % (attr, value))
        print("\t%-16s= %s" % ("port", port))
        print("}\n")


if __name__ == "__main__":
    main()
