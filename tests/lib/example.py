#!/usr/bin/env python3
"""A test config made from one of the shipped examples (xinetd.conf.example,
inetd.conf.example, stunnel.conf.example, pop3d.socket, pop3d@.service),
so a test runs what a sysadmin would install.

    example.py FILE [--map OLD=NEW]... [--set KEY=VALUE]... [ENTRY]...

First, for every kind of FILE, each --map OLD=NEW is applied to the whole
text: the example's own install paths (/usr/local/sbin/pop3d,
/etc/ssl/certs/pop3d.pem, /etc/ssl/private/pop3d.key, /var/mail/%u) are
the placeholders a test replaces with its own.  Then, by FILE's name:

xinetd.conf.example   ENTRY is SERVICE:NAME:PORT:ARGS: the block "service
    SERVICE" as "service NAME" on 127.0.0.1:PORT, type UNLISTED (the port
    need not be in /etc/services), "disable = no" and "cps" raised so a
    burst of connections never switches it off; each --set overrides one
    of these or any other attribute (bind, per_source, env, ...).  Every
    other attribute stays as the example has it.
inetd.conf.example    ENTRY is LINE:HOST:PORT:ARGS: the line whose service
    field is LINE ("pop3", "pop3s", or "#pop3" for the commented-out
    plain line), with the service field HOST:PORT; the rest as the
    example has it.
    ARGS of both: "+TEXT" appends TEXT to the example's pop3d options,
    "=TEXT" replaces them.
stunnel.conf.example  each --set KEY=VALUE replaces the line "KEY = ...";
    a KEY the example has not is added to the global section at the top.
*.service             with an ENTRY (the instance name %i), the words of
    ExecStart= (continuation lines joined, systemd's "-@:+!" prefixes
    dropped, split with POSIX shell quoting, which the shipped unit keeps
    to; %i and %% replaced, then the --map applied to each word) written
    NUL-separated (bash: mapfile -d ''); without one, the unit.
anything else         the text.
The config goes to stdout.  Exit 1 when an ENTRY or KEY is not there.
"""
import os
import re
import shlex
import sys

XINETD_FORCED = {"disable": "no", "type": "UNLISTED", "bind": "127.0.0.1",
                 "flags": "IPv4", "cps": "10000 1"}


def fail(why):
    sys.exit("example.py: " + why)


def with_args(old, spec):
    """ARGS: "+TEXT" appended to old, "=TEXT" instead of it."""
    if spec.startswith("="):
        return spec[1:]
    return (old + " " + spec[1:]).strip()


def xinetd_blocks(text):
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
                fail("cannot parse: " + line)
            attrs.append(a.groups())
        out[m.group(1)] = attrs
    return out


def xinetd(text, sets, entries):
    svc = xinetd_blocks(text)
    forced = dict(XINETD_FORCED, **sets)
    out = []
    for entry in entries:
        service, name, port, args = entry.split(":", 3)
        if service not in svc:
            fail("no service %s" % service)
        out.append("service %s\n{" % name)
        attrs = [(a, op, v) for a, op, v in svc[service]
                 if a not in forced and a != "port"]
        if "server_args" not in [a for a, _, _ in attrs]:
            attrs.append(("server_args", "=", ""))
        for attr, op, value in attrs:
            if attr == "server_args":
                value = with_args(value, args)
                if not value:
                    continue
            out.append("\t%-16s%s %s" % (attr, op, value))
        out += ["\t%-16s= %s" % kv for kv in forced.items()]
        out += ["\t%-16s= %s" % ("port", port), "}\n"]
    return "\n".join(out) + "\n"


def inetd(text, entries):
    lines = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 7 and f[1] == "stream":
            name = "#" + f[0].lstrip("#") if f[0].startswith("#") else f[0]
            lines.setdefault(name, f)
    out = []
    for entry in entries:
        name, host, port, args = entry.split(":", 3)
        if name not in lines:
            fail("no line %s" % name)
        f = lines[name]
        rest = with_args(" ".join(f[7:]), args)
        out.append("\t".join(["%s:%s" % (host, port)] + f[1:7] +
                             ([rest] if rest else [])))
    return "\n".join(out) + "\n"


def stunnel(text, sets):
    out, left = [], dict(sets)
    for line in text.splitlines():
        m = re.match(r"(\w+)\s*=", line)
        if m and m.group(1) in left:
            line = "%s = %s" % (m.group(1), left.pop(m.group(1)))
        out.append(line)
    return "".join("%s = %s\n" % kv for kv in left.items()) + \
        "\n".join(out) + "\n"


def unit_exec(text, instance, maps):
    text = re.sub(r"\\\n", " ", text)
    lines = [l.split("=", 1)[1] for l in text.splitlines()
             if l.startswith("ExecStart=")]
    if len(lines) != 1:
        fail("want one ExecStart=")
    words = []
    for w in shlex.split(lines[0].strip().lstrip("-@:+!")):
        if re.search(r"%[^i%]", w):
            fail("unknown specifier in %r" % w)
        w = w.replace("%i", instance).replace("%%", "%")
        for old, new in maps:
            w = w.replace(old, new)
        words.append(w)
    return "".join(w + "\0" for w in words)


def main(a):
    if not a:
        sys.exit(__doc__)
    path, maps, sets, entries = a[0], [], {}, []
    rest = a[1:]
    while rest:
        x = rest.pop(0)
        if x in ("--map", "--set") and rest:
            k, v = rest.pop(0).split("=", 1)
            if x == "--map":
                maps.append((k, v))
            else:
                sets[k] = v
        else:
            entries.append(x)
    with open(path) as f:
        text = f.read()
    name = os.path.basename(path)
    if name.endswith(".service") and entries:
        # the test's paths may hold "%": mapped after the specifiers
        sys.stdout.write(unit_exec(text, entries[0], maps))
        return 0
    for old, new in maps:
        text = text.replace(old, new)
    if name.startswith("xinetd"):
        text = xinetd(text, sets, entries)
    elif name.startswith("inetd"):
        text = inetd(text, entries)
    elif name.startswith("stunnel"):
        text = stunnel(text, sets)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
