/*
 * fuzz_mdindex.c - the libFuzzer entry for the index decoder.
 *
 * Build with clang -fsanitize=fuzzer,address -I. mdindex.c
 * mdindex_file.c tests/unit/fuzz_mdindex.c -lcrypto, and with
 * -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION so that the decoder skips
 * the checksums and mutations reach the checks after them; seed it with
 * `tests/unit/test_mdindex SEEDFILE` (which writes SEEDFILE and
 * SEEDFILE.plain, the index without digests).  The unit test calls the
 * same function on its fixtures.  Whatever the decoder accepts must
 * encode back to the same bytes (the format is canonical: in a fuzzing
 * build, all but the checksums, which the decoder did not check), must
 * hand the same entries to a sink part by part as mdindex_msg_at gives,
 * and must be safe to hand to the trust rule.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mdindex.h"

/* The header's checksums: zero at 152, the parts' at 168, 184, its own
   at 200; the records' are at the end of each run. */
#define SUMS_OFF	152

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

/* The bytes of the input, as a file's. */
struct input {
	const uint8_t *data;
	size_t size;
};

static int
input_in(void *arg, uint64_t off, unsigned char *p, size_t n,
    const char **why)
{
	const struct input *in = arg;

	if (off > in->size || n > in->size - off) {
		*why = "index truncated or of the wrong length";
		return -1;
	}
	memcpy(p, in->data + off, n);
	return 0;
}

/* What a part hands to its sink must be what mdindex_msg_at and
   mdindex_tag_at say, in order, each entry once. */
struct expect {
	const struct mdindex *ix;
	uint32_t next;
};

static void
expect_msg(void *arg, uint32_t i, const struct mdindex_msg *m)
{
	struct expect *e = arg;
	struct mdindex_msg want;

	if (i != e->next++ || i >= e->ix->nmsg)
		abort();
	mdindex_msg_at(e->ix, i, &want);
	if (m->off != want.off || m->end != want.end ||
	    m->size != want.size || m->sep_len != want.sep_len ||
	    m->flags != (want.flags & MDINDEX_REC_FLAGS) || m->dup != 0)
		abort();
}

static void
expect_digest(void *arg, uint32_t i, const unsigned char *d, uint32_t dup)
{
	struct expect *e = arg;
	struct mdindex_msg want;

	if (i != e->next++ || i >= e->ix->nmsg)
		abort();
	mdindex_msg_at(e->ix, i, &want);
	if (!(want.flags & MDINDEX_DIGEST) || dup != want.dup || dup == 0 ||
	    memcmp(d, want.digest, MDINDEX_DIGEST_LEN) != 0)
		abort();
}

static void
expect_tag(void *arg, uint32_t b, const unsigned char *tag)
{
	struct expect *e = arg;

	if (b != e->next++ || b >= e->ix->nblk ||
	    memcmp(tag, mdindex_tag_at(e->ix, b), MDINDEX_TAG_LEN) != 0)
		abort();
}

static void
check_parts(const struct mdindex *ix, const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct expect e = { ix, 0 };
	struct mdindex_sink sink = { expect_msg, expect_digest, expect_tag,
	    &e };
	const char *why = NULL;

	for (int p = 0; p < MDINDEX_PARTS; p++) {
		int there = p != MDINDEX_DIGS ||
		    (ix->flags & MDINDEX_DIGESTS) != 0;
		uint32_t want = p == MDINDEX_TAGS ? ix->nblk : ix->nmsg;

		e.next = 0;
		if ((mdindex_decode_part(ix, (enum mdindex_part)p, input_in,
		    &in, &sink, &why) == 0) != there ||
		    (there && e.next != want))
			abort();
	}
	/* the records from the resuming message on, as a grown login
	   reads them, then those before it */
	e.next = ix->resume;
	if (mdindex_decode_records(ix, ix->resume, ix->nmsg, input_in, &in,
	    &sink, &why) != 0 || e.next != ix->nmsg)
		abort();
	e.next = 0;
	if (mdindex_decode_records(ix, 0, ix->resume, input_in, &in, &sink,
	    &why) != 0 || e.next != ix->resume)
		abort();
}

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/* The bytes after the header but the runs' checksums, which the decoder
   did not check either. */
static int
body_differs(const struct mdindex *ix, const uint8_t *a, const uint8_t *b,
    size_t size)
{
	size_t off = MDINDEX_HEAD_LEN;

	for (uint32_t i = 0; i < ix->nmsg; ) {
		uint32_t k = ix->nmsg - i < MDINDEX_RUN_RECS ? ix->nmsg - i :
		    MDINDEX_RUN_RECS;
		size_t n = (size_t)k * MDINDEX_REC_LEN;

		if (memcmp(a + off, b + off, n) != 0)
			return 1;
		off += n + MDINDEX_SUM_LEN;
		i += k;
	}
	return memcmp(a + off, b + off, size - off) != 0;
}
#endif

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
	if (mdindex_encoded_len(&ix) != size || size < MDINDEX_HEAD_LEN ||
	    (again = malloc(size)) == NULL)
		abort();
	check_parts(&ix, data, size);
	/* ix as decoded, flags and octets too; the encoder fills ix.sum */
	if (mdindex_encode(&ix, &src, again, size, &why) != 0)
		abort();
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	/* the decoder did not check the checksums: all bytes but them */
	if (memcmp(again, data, SUMS_OFF) != 0 ||
	    body_differs(&ix, again, data, size))
		abort();
#else
	if (memcmp(again, data, size) != 0)
		abort();
#endif
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
