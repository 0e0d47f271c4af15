/*
 * fuzz_mdindex.c - the libFuzzer entry for the index decoder.
 *
 * Build with clang -fsanitize=fuzzer,address -I. mdindex.c
 * mdindex_file.c tests/unit/fuzz_mdindex.c -lcrypto, and with
 * -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION so that the decoder skips
 * the checksum and mutations reach the checks after it; seed it with
 * `tests/unit/test_mdindex SEEDFILE`.  The unit test calls the same
 * function on its fixtures.  Whatever the decoder
 * accepts must encode back to the same bytes (the format is canonical)
 * and must be safe to hand to the trust rule.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mdindex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The decoded index as the encoder's source. */
static void
decoded_msg(void *arg, uint32_t i, struct mdindex_msg *m)
{
	mdindex_msg_at(arg, i, m);
}

static const unsigned char *
decoded_tag(void *arg, uint32_t b)
{
	return mdindex_tag_at(arg, b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mdindex ix;
	struct stat mbox, file;
	const char *why = NULL;
	struct mdindex_source src = { decoded_msg, decoded_tag, &ix };
	unsigned char *again;

	if (mdindex_decode(data, size, &ix, &why) != 0)
		return why == NULL ? (abort(), 0) : 0;
	if (mdindex_encoded_len(&ix) != size ||
	    (again = malloc(size)) == NULL)
		abort();
	if (mdindex_encode(&ix, &src, again, size, &why) != 0)
		abort();
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	size -= MDINDEX_SUM_LEN;	/* the decoder did not check it */
#endif
	if (memcmp(again, data, size) != 0)
		abort();
	free(again);
	memset(&mbox, 0, sizeof(mbox));
	mbox.st_uid = (uid_t)ix.uid;
	mbox.st_dev = (dev_t)ix.dev;
	mbox.st_ino = (ino_t)ix.ino;
	mbox.st_size = (off_t)(ix.size & INT64_MAX);
	mbox.st_mtim = ix.mtime;
	mbox.st_ctim = ix.ctime;
	file = mbox;
	file.st_mode = S_IFREG | 0600;
	file.st_nlink = 1;
	(void)mdindex_trust(&ix, &mbox, &file, &why);
	mdindex_free(&ix);
	return 0;
}
