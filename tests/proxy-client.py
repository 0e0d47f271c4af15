#!/usr/bin/env python3
"""tests/proxy-client.py - clients that send pop3d a PROXY header
themselves (HAProxy's "The PROXY protocol", v1 section 2.1, v2 section
2.2), for tests/proxy.bats.

  proxy-client.py fuzz PORT COUNT SEED
      COUNT mutations of valid v1 and v2 headers, each on its own
      connection from 127.0.0.1: every answer must be one -ERR line and
      the end, or (the mutation left a valid header) the greeting.
      Prints "refused N greeted M"; exits 1 on any other answer.
  proxy-client.py timed PORT ADDR PASSWORD...
      a v1 header carrying ADDR, then USER alice and PASS for each
      PASSWORD; prints each PASS reply's wait in seconds and the reply.
  proxy-client.py many PORT COUNT
      COUNT sessions, each a header with a distinct address of
      10.0.0.0/8 and one failed login (8 at once); prints "done N".
"""
import concurrent.futures
import random
import socket
import struct
import sys
import time

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
LIMIT = 20  # seconds any one connection may take


def v1(addr):
    fam = "TCP6" if ":" in addr else "TCP4"
    dst = "2001:db8::1" if ":" in addr else "192.0.2.1"
    return ("PROXY %s %s %s 40000 110\r\n" % (fam, addr, dst)).encode()


def v2(addr="192.0.2.9"):
    body = socket.inet_aton(addr) + socket.inet_aton("192.0.2.1") + \
        struct.pack("!HH", 40000, 110)
    return V2_SIG + b"\x21\x11" + struct.pack("!H", len(body)) + body


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), LIMIT)
    s.settimeout(LIMIT)
    return s


def read_all(s):
    got = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except ConnectionResetError:
        got += b"<reset>"
    return got


def readline(s):
    got = b""
    while not got.endswith(b"\n"):
        d = s.recv(1)
        if not d:
            break
        got += d
    return got.decode("latin-1").rstrip("\r\n")


def mutate(rng, h):
    h = bytearray(h)
    kind = rng.randrange(4)
    if kind == 0:  # flip bytes
        for _ in range(rng.randint(1, 3)):
            h[rng.randrange(len(h))] = rng.randrange(256)
    elif kind == 1:  # cut short
        h = h[:rng.randrange(len(h))]
    elif kind == 2:  # insert
        i = rng.randrange(len(h) + 1)
        h[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    else:  # delete a run
        i = rng.randrange(len(h))
        del h[i:i + rng.randint(1, 6)]
    return bytes(h)


def fuzz(port, count, seed):
    rng = random.Random(seed)
    refused = greeted = 0
    for i in range(count):
        h = mutate(rng, v1("198.51.100.%d" % (i % 250)) if i % 2 else v2())
        s = connect(port)
        s.sendall(h)
        s.shutdown(socket.SHUT_WR)
        got = read_all(s).decode("latin-1")
        s.close()
        lines = got.split("\r\n")
        if got.startswith("-ERR ") and got.count("\r\n") == 1 and \
                got.endswith("\r\n"):
            refused += 1
        elif got.startswith("+OK pop3d ready"):
            greeted += 1
        else:
            print("mutation %d %r: answer %r" % (i, h, lines))
            return 1
    print("refused %d greeted %d" % (refused, greeted))
    return 0


def timed(port, addr, passwords):
    s = connect(port)
    s.sendall(v1(addr))
    if not readline(s).startswith("+OK"):
        return 1
    for pw in passwords:
        s.sendall(b"USER alice\r\n")
        readline(s)
        t = time.monotonic()
        s.sendall(("PASS %s\r\n" % pw).encode())
        reply = readline(s)
        print("%.2f %s" % (time.monotonic() - t, reply))
        if reply.startswith("+OK"):
            s.sendall(b"QUIT\r\n")
            readline(s)
            break
    s.close()
    return 0


def one_failure(port, i):
    addr = "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
    s = connect(port)
    s.sendall(v1(addr) + b"USER alice\r\nPASS wrong\r\nQUIT\r\n")
    got = read_all(s)
    s.close()
    return b"invalid user name or password" in got


def many(port, count):
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        ok = sum(ex.map(lambda i: one_failure(port, i), range(1, count + 1)))
    print("done %d" % ok)
    return 0 if ok == count else 1


def main(argv):
    port = int(argv[2])
    if argv[1] == "fuzz":
        return fuzz(port, int(argv[3]), int(argv[4]))
    if argv[1] == "timed":
        return timed(port, argv[3], argv[4:])
    if argv[1] == "many":
        return many(port, int(argv[3]))
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
