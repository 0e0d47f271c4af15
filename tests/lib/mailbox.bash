# tests/lib/mailbox.bash - mailboxes the tests lay out byte by byte
# (protocol.bats, badinput.bats, mbox.bats, tls.bats), and the
# independent mbox model.

# model ARGS...: tests/mbox-model.py, our own reading of README
# "The mailbox"
model() {
	python3 "$TESTS/mbox-model.py" "$@"
}

# mbox_raw < bytes: append the bytes as they are and give the mailbox to
# the test user.
mbox_raw() {
	cat >> "$MBOX"
	chown "$TEST_UID:$TEST_GID" "$MBOX"
	chmod 600 "$MBOX"
}

# The body of message N of an mbox as RETR's client would store it: the
# lines after the From_ line, up to the empty line before the next one.
mbox_message() {
	python3 - "$1" "$2" <<-'EOF'
	import re, sys
	data = open(sys.argv[1], "rb").read()
	parts = re.split(rb"(?:^|(?<=\n)\n)From [^\n]*\n", data)[1:]
	msg = parts[int(sys.argv[2]) - 1]
	if msg.endswith(b"\n\n"):
	    msg = msg[:-1]
	sys.stdout.buffer.write(msg)
	EOF
}

# mbox_fixture FILE N: N messages with the lines clients get wrong (a
# lone ".", lines starting with ".", "..", ">From ", long lines, an
# empty body line), in a mailbox FILE; the first one is about 100 KB.
mbox_fixture() {
	python3 - "$1" "$2" <<-'EOF'
	import sys
	out, n = sys.argv[1], int(sys.argv[2])
	with open(out, "wb") as f:
	    for i in range(1, n + 1):
	        body = [b".", b".starts with a dot", b"..two dots",
	                b">From quoted", b"", b"x" * 900,
	                b"end of message %d" % i]
	        if i == 1:
	            body += [(b"line %05d " % k) + b"abcdefgh" * 10
	                     for k in range(1100)]
	        f.write(b"From sender@example.org Mon Jan  1 00:00:0%d 2024\n"
	                % (i % 10))
	        f.write(b"From: sender@example.org\nTo: alice@example.org\n"
	                b"Subject: message %d\nMessage-ID: <m%d@example.org>\n\n"
	                % (i, i))
	        f.write(b"\n".join(body) + b"\n\n")
	EOF
	chown "$TEST_UID:$TEST_GID" "$1"
	chmod 600 "$1"
}

# mbox_big FILE KB: one message of about KB kilobytes (Message-ID <m1@...>,
# random text lines of 0 to 199 characters, some starting with ".") in a
# mailbox FILE.
mbox_big() {
	python3 - "$1" "$2" <<-'EOF2'
	import random, sys
	r = random.Random(5)
	lines = [b"From big@example.org Mon Jan  1 00:00:00 2024",
	         b"From: big@example.org", b"Subject: big",
	         b"Message-ID: <m1@example.org>", b""]
	size, want = 0, int(sys.argv[2]) * 1024
	table = bytes.maketrans(bytes(range(256)),
	                        bytes(b"abcdefghijklmnopqrstuvwxyz ."[i % 28]
	                              for i in range(256)))
	while size < want:
	    l = r.randbytes(r.randrange(0, 200)).translate(table)
	    lines.append(l)
	    size += len(l) + 2
	open(sys.argv[1], "wb").write(b"\n".join(lines) + b"\n\n")
	EOF2
	chown "$TEST_UID:$TEST_GID" "$1"
	chmod 600 "$1"
}
