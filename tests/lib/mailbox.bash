# tests/lib/mailbox.bash - mailboxes the tests lay out byte by byte
# (protocol.bats, badinput.bats, mbox.bats, tls.bats), and the
# independent mbox model.

# model ARGS...: tests/lib/mbox.py, our own reading of README
# "The mailbox"
model() {
	python3 "$TESTS/lib/mbox.py" "$@"
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
	python3 "$TESTS/lib/mbox.py" message "$1" "$2"
}

# mbox_fixture FILE N: N messages with the lines clients get wrong (a
# lone ".", lines starting with ".", "..", ">From ", long lines, an
# empty body line), in a mailbox FILE; the first one is about 100 KB.
mbox_fixture() {
	python3 "$TESTS/lib/mbox.py" fixture dots "$1" "$2"
	chown "$TEST_UID:$TEST_GID" "$1"
	chmod 600 "$1"
}

# mbox_big FILE KB: one message of about KB kilobytes (Message-ID <m1@...>,
# random text lines of 0 to 199 characters, some starting with ".") in a
# mailbox FILE.
mbox_big() {
	python3 "$TESTS/lib/mbox.py" fixture big "$1" "$2"
	chown "$TEST_UID:$TEST_GID" "$1"
	chmod 600 "$1"
}
