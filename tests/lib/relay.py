#!/usr/bin/env python3
"""A plaintext TCP relay that records a POP3 client's commands.

    relay.py PORT TARGET_PORT TRANSCRIPT [ON_QUIT_COMMAND]

Listens on 127.0.0.1:PORT and relays each connection to
127.0.0.1:TARGET_PORT.  Every line the client sends is appended to
TRANSCRIPT ("N> LINE", N the connection number, PASS arguments kept: the
tests use a test password).  When a client that has sent DELE sends
QUIT, ON_QUIT_COMMAND (if given) runs with /bin/sh and must finish
before the QUIT is passed on: the tests use it to deliver mail while a session is in TRANSACTION,
after the client's last command and before the server's UPDATE.
Bounded: a connection idle for 120 s is dropped.  Stopped by SIGTERM.
"""
import os
import signal
import socket
import subprocess
import sys
import threading

port, target, transcript = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
on_quit = sys.argv[4] if len(sys.argv) > 4 else None
lock = threading.Lock()


def log(n, line):
    with lock, open(transcript, "ab") as f:
        f.write(b"%d> %s\n" % (n, line.rstrip(b"\r\n")))


def server_to_client(up, down):
    try:
        while True:
            data = up.recv(65536)
            if not data:
                break
            down.sendall(data)
    except OSError:
        pass
    try:
        down.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(n, down):
    down.settimeout(120)
    try:
        up = socket.create_connection(("127.0.0.1", target), timeout=120)
    except OSError:
        down.close()
        return
    t = threading.Thread(target=server_to_client, args=(up, down),
                         daemon=True)
    t.start()
    buf = b""
    deleted = False
    try:
        while True:
            data = down.recv(65536)
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line += b"\n"
                log(n, line)
                word = line.strip().upper()
                deleted = deleted or word.startswith(b"DELE ")
                if on_quit and deleted and word == b"QUIT":
                    subprocess.run(on_quit, shell=True, check=False,
                                   timeout=60)
                up.sendall(line)
        if buf:
            up.sendall(buf)
        up.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    t.join(120)
    up.close()
    down.close()


def main():
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    n = 0
    while True:
        conn, _ = ls.accept()
        n += 1
        threading.Thread(target=serve, args=(n, conn), daemon=True).start()


if __name__ == "__main__":
    main()
