#!/usr/bin/env python3
"""An independent model of README "The mailbox", for the tests to compare with.

    mbox-model.py count MBOX            number of messages
    mbox-model.py sizes MBOX            "N SIZE" per message (RETR octets)
    mbox-model.py body MBOX N           message N as RETR sends it, CRLF
                                        line ends, before byte-stuffing
    mbox-model.py top MBOX N L          the same for TOP N L
    mbox-model.py expect MBOX DIR L...  all of the above at once, into files:
                                        DIR/N.body and DIR/N.top-L for each L
    mbox-model.py cut MBOX N...         the file with messages N... removed
    mbox-model.py blocks RAW SKIP COUNT DIR
                                        from a raw (--raw) server transcript:
                                        skip SKIP reply lines, then read COUNT
                                        multi-line replies into DIR/K.hdr
                                        (the status line), DIR/K.raw (the
                                        data as sent) and DIR/K (unstuffed,
                                        without the final .CRLF)

It reads the mbox bytes itself and never asks pop3d.  A message starts at
a "From " line (at the start of the file or after an empty line) followed
by a non-space character; the empty line before the next separator and
the one ending the file belong to the separator.  A header's
Content-Length: N is the body's length when the body's start plus N is
the end of the file or the start of a separator's empty line (or of the
empty line that ends the file); else it is ignored.  A first message that
is a c-client pseudo-message ("From MAILER-DAEMON ", the Subject "DON'T
DELETE THIS MESSAGE -- FOLDER INTERNAL DATA" and an X-IMAP: or
X-IMAPbase: header) is hidden: not numbered, never cut.  A header line
counts only when it ends in a newline (a file cut inside the header
hides nothing).
"""
import os
import sys


def lines_of(data):
    out, i = [], 0
    while i < len(data):
        j = data.find(b"\n", i)
        if j < 0:
            out.append((i, data[i:]))
            break
        out.append((i, data[i:j + 1]))
        i = j + 1
    return out


def is_sep(line):
    return line.startswith(b"From ") and len(line) > 5 and \
        line[5:6] not in (b" ", b"\t", b"\r", b"\n")


def is_empty(line):
    return line in (b"\n", b"\r\n")


PSEUDO_SUBJECT = b"DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA"


def header_value(line, name):
    if line[:len(name)].lower() != name.lower():
        return None
    return line[len(name):].strip(b" \t\r\n")


def clen_end(data, body_start, header):
    """Where a trusted Content-Length ends the body, or None."""
    n = None
    for line in header:
        v = header_value(line, b"Content-Length:")
        if v is not None and line.endswith(b"\n"):
            n = int(v) if v.isdigit() and len(v) <= 19 else None
    if n is None or body_start + n > len(data):
        return None
    end = body_start + n
    rest = data[end:]
    if end == len(data) or rest in (b"\n", b"\r\n"):
        return end
    for nl in (b"\n", b"\r\n"):
        if rest.startswith(nl) and is_sep(rest[len(nl):].split(b"\n")[0]
                                          + b"\n"):
            return end
    return None


def is_pseudo(m, first_line, header):
    return m["start"] == 0 and first_line.startswith(b"From MAILER-DAEMON ") \
        and any(header_value(l, b"Subject:") == PSEUDO_SUBJECT
                for l in header if l.endswith(b"\n")) \
        and any(header_value(l, b"X-IMAP:") is not None or
                header_value(l, b"X-IMAPbase:") is not None
                for l in header if l.endswith(b"\n"))


def parse(data):
    msgs = []
    prev_empty = True
    in_header, header, body_end = False, [], 0
    for off, line in lines_of(data):
        if prev_empty and is_sep(line) and off >= body_end:
            msgs.append({"start": off, "lines": [], "sep": line})
            in_header, header = True, []
        elif not msgs:
            sys.exit("mbox-model: not an mbox")
        else:
            msgs[-1]["lines"].append(line)
            if in_header and is_empty(line):
                in_header = False
                e = clen_end(data, off + len(line), header)
                body_end = e if e is not None else body_end
                msgs[-1]["pseudo"] = is_pseudo(msgs[-1], msgs[-1]["sep"],
                                               header)
            elif in_header:
                header.append(line)
        prev_empty = is_empty(line)
    if msgs and in_header:
        msgs[-1]["pseudo"] = is_pseudo(msgs[-1], msgs[-1]["sep"], header)
    for k, m in enumerate(msgs):
        m["end"] = msgs[k + 1]["start"] if k + 1 < len(msgs) else len(data)
        # the empty line before the next separator / at the end of file
        if m["lines"] and is_empty(m["lines"][-1]):
            m["lines"].pop()
    return msgs


def visible(msgs):
    """The messages a client sees, and the hidden ones kept always."""
    if msgs and msgs[0].get("pseudo"):
        return msgs[1:], msgs[:1]
    return msgs, []


def crlf(line):
    if line.endswith(b"\r\n"):
        return line
    if line.endswith(b"\n"):
        return line[:-1] + b"\r\n"
    return line + b"\r\n"


def body(m):
    return b"".join(crlf(l) for l in m["lines"])


def top(m, n):
    out, in_body = [], False
    for l in m["lines"]:
        if in_body:
            if n <= 0:
                break
            n -= 1
        out.append(crlf(l))
        if not in_body and is_empty(crlf(l)):
            in_body = True
    return b"".join(out)


def blocks(raw, skip, count, outdir):
    lines = [l for _, l in lines_of(raw)]
    k = skip
    for b in range(1, count + 1):
        if k >= len(lines) or not lines[k].startswith(b"+OK"):
            sys.exit("mbox-model: reply %d is not +OK: %r" %
                     (b, lines[k] if k < len(lines) else b"(none)"))
        hdr = lines[k]
        k += 1
        data, plain = [], []
        while True:
            if k >= len(lines):
                sys.exit("mbox-model: reply %d has no final ." % b)
            l = lines[k]
            k += 1
            data.append(l)
            if not l.endswith(b"\r\n"):
                sys.exit("mbox-model: line without CRLF: %r" % l[:60])
            if l == b".\r\n":
                break
            if l.startswith(b"."):
                if not l.startswith(b".."):
                    sys.exit("mbox-model: unstuffed dot line: %r" % l[:60])
                l = l[1:]
            plain.append(l)
        with open(os.path.join(outdir, "%d.hdr" % b), "wb") as f:
            f.write(hdr.rstrip(b"\r\n"))
        with open(os.path.join(outdir, "%d.raw" % b), "wb") as f:
            f.write(b"".join(data))
        with open(os.path.join(outdir, str(b)), "wb") as f:
            f.write(b"".join(plain))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    out = sys.stdout.buffer
    if cmd == "blocks":
        with open(args[0], "rb") as f:
            blocks(f.read(), int(args[1]), int(args[2]), args[3])
        return
    with open(args[0], "rb") as f:
        data = f.read()
    msgs, hidden = visible(parse(data))
    if cmd == "count":
        out.write(b"%d\n" % len(msgs))
    elif cmd == "sizes":
        for k, m in enumerate(msgs):
            out.write(b"%d %d\n" % (k + 1, len(body(m))))
    elif cmd == "body":
        out.write(body(msgs[int(args[1]) - 1]))
    elif cmd == "top":
        out.write(top(msgs[int(args[1]) - 1], int(args[2])))
    elif cmd == "expect":
        for k, m in enumerate(msgs):
            with open(os.path.join(args[1], "%d.body" % (k + 1)), "wb") as f:
                f.write(body(m))
            for l in args[2:]:
                with open(os.path.join(args[1], "%d.top-%s" % (k + 1, l)),
                          "wb") as f:
                    f.write(top(m, int(l)))
    elif cmd == "cut":
        gone = {int(a) for a in args[1:]}
        for m in hidden:
            out.write(data[m["start"]:m["end"]])
        for k, m in enumerate(msgs):
            if k + 1 not in gone:
                out.write(data[m["start"]:m["end"]])
    else:
        sys.exit("mbox-model: unknown command " + cmd)


if __name__ == "__main__":
    main()
