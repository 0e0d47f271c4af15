#!/bin/bash
# bench/tls-timing.sh [ROUNDS] - what TLS costs a whole session.
#
# One run: pop3d behind socat on loopback three ways -- plaintext, STLS
# and implicit TLS (--tls) -- and a Python client that times complete
# sessions: connect, (handshake,) greeting, USER, PASS, RETR of a 1 MB
# message, QUIT, until the server closes; and the same without the RETR.
# ROUNDS sessions of each kind (default 20), interleaved, then the
# median, minimum and maximum of each in milliseconds.  Run as root
# (pop3d drops to uid 5000); POP3D picks the binary (default ./pop3d).
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-20}
POP3D=$(realpath "${POP3D:-./pop3d}")
dir=$(mktemp -d /tmp/pop3d-tls-timing.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || :
	done
	rm -rf "$dir"
}
trap cleanup EXIT
chmod 755 "$dir"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
hash=$(openssl passwd -6 -salt testsalt secret)
printf 'alice:%s:5000:5000:Alice:%s:/bin/sh\n' "$hash" "$dir" > "$dir/passwd"
mkdir "$dir/spool"
python3 - "$dir/spool/alice" <<'EOF'
import random, sys
r = random.Random(1)
lines = [b"From big@example.org Mon Jan  1 00:00:00 2024",
         b"From: big@example.org", b"Subject: one megabyte", b""]
size = 0
while size < 1 << 20:
    l = bytes(r.choice(b"abcdefghijklmnopqrstuvwxyz .,") for _ in range(76))
    lines.append(l)
    size += len(l) + 2
open(sys.argv[1], "wb").write(b"\n".join(lines) + b"\n\n")
EOF
chown -R 5000:5000 "$dir/spool"
chmod 600 "$dir/spool/alice"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# launch NAME OPTIONS...: socat on a free port, $port
launch() {
	local name=$1 i
	shift
	port=$(free_port)
	printf '#!/bin/sh\nexec "%s" -p "%s" -m "%s/spool/%%u" -d 0 %s\n' \
	    "$POP3D" "$dir/passwd" "$dir" "$*" > "$dir/run-$name"
	chmod 755 "$dir/run-$name"
	socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" \
	    "EXEC:$dir/run-$name,nofork" >/dev/null 2>>"$dir/socat.err" &
	pids+=($!)
	for ((i = 0; i < 100; i++)); do
		grep -q "0100007F:$(printf %04X "$port") 00000000:0000 0A" \
		    /proc/net/tcp && break
		sleep 0.05
	done
}

launch plain
plain=$port
tlsopt="--tls-cert $dir/cert.pem --tls-key $dir/key.pem"
launch stls "$tlsopt"
stls=$port
launch implicit --tls "$tlsopt"
implicit=$port

python3 - "$ROUNDS" "$dir/cert.pem" "$plain" "$stls" "$implicit" <<'EOF'
import socket, ssl, statistics, sys, time

rounds, cafile = int(sys.argv[1]), sys.argv[2]
ports = {"plaintext": int(sys.argv[3]), "STLS": int(sys.argv[4]),
         "implicit TLS": int(sys.argv[5])}
ctx = ssl.create_default_context(cafile=cafile)


class Conn:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(1 << 16)
            if not d:
                raise EOFError
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def cmd(self, c):
        self.sock.sendall(c + b"\r\n")
        r = self.line()
        assert r.startswith(b"+OK"), (c, r)
        return r


def session(kind, port, retr=True):
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if kind == "implicit TLS":
        s = ctx.wrap_socket(s, server_hostname="localhost")
    c = Conn(s)
    c.line()
    if kind == "STLS":
        c.cmd(b"STLS")
        c.sock = ctx.wrap_socket(s, server_hostname="localhost")
    c.cmd(b"USER alice")
    c.cmd(b"PASS secret")
    if retr:
        size = int(c.cmd(b"RETR 1").split()[1])
        # read to the final ".": cheap on the client, so the figures are
        # the server's and the channel's
        chunks, got, tail = [c.buf], len(c.buf), c.buf[-5:]
        while not tail.endswith(b"\r\n.\r\n") and not (
                got == 3 and tail == b".\r\n"):
            d = c.sock.recv(1 << 18)
            if not d:
                raise EOFError
            chunks.append(d)
            got += len(d)
            tail = (tail + d)[-5:]
        c.buf = b""
        assert got >= size, (got, size)
    c.cmd(b"QUIT")
    while c.sock.recv(1 << 16):
        pass
    c.sock.close()
    return (time.perf_counter() - t0) * 1000


times = {k: [] for k in ports}
login = {k: [] for k in ports}
for k, p in ports.items():  # one warm-up session each
    session(k, p)
for _ in range(rounds):
    for k, p in ports.items():
        times[k].append(session(k, p))
        login[k].append(session(k, p, retr=False))
for title, table in (("connect, handshake, USER/PASS, RETR of a 1 MB "
                      "message, QUIT", times),
                     ("the same without the RETR", login)):
    print("%d sessions each: %s" % (rounds, title))
    base = statistics.median(table["plaintext"])
    for k, t in table.items():
        m = statistics.median(t)
        print("  %-13s median %7.2f ms  min %7.2f  max %7.2f  (%+.2f ms)"
              % (k, m, min(t), max(t), m - base))
EOF
