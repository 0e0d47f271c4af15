/*
 * fuzz_authrec.c - the libFuzzer entry for root's record reader
 * (authrec.c authrec_recv), which reads whatever a compromised
 * pre-authentication process writes.
 *
 * The input is the byte stream on the link, through a real pipe.  Every
 * record accepted must have a type and exactly the fields authrec.h
 * lists, inside its buffer; the reader must stop at the first bad one.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What authrec.h's table says each type carries; -1: the hand-off. */
static const struct {
	int type, fields;
} spec[] = {
	{ REC_READY, 0 }, { REC_SETUP, 1 }, { REC_HELLO, 1 }, { REC_PEER, 1 },
	{ REC_PASS, 2 }, { REC_APOP, 2 }, { REC_VERDICT, 2 },
	{ REC_PLAIN, 3 }, { REC_HANDOFF, -1 },
};

static int
expected_fields(int type)
{
	for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++)
		if (spec[i].type == type)
			return spec[i].fields;
	abort();	/* an unknown type was accepted */
}

static void
check_record(const struct authrec *r)
{
	int want = expected_fields(r->type);

	if (r->len > AUTHREC_MAX || r->data[r->len] != '\0')
		abort();
	if (want < 0) {
		if (r->len < 1 || r->len - 1 > IN_BUF)
			abort();
		return;
	}
	if (r->nfields != want)
		abort();
	for (int i = 0; i < want; i++)
		if (r->field[i] < r->data || r->field[i] > r->data + r->len)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct authrec r;
	const char *why = NULL;
	int fd[2], got;

	/* a pipe holds 64 KiB: the writer never blocks */
	if (size > 65536)
		size = 65536;
	if (pipe(fd) != 0 || write(fd[1], data, size) != (ssize_t)size ||
	    close(fd[1]) != 0)
		abort();
	while ((got = authrec_recv(fd[0], &r, 1000, &why)) == 1)
		check_record(&r);
	if (got < 0 && why == NULL)
		abort();
	if (close(fd[0]) != 0)
		abort();
	return 0;
}
