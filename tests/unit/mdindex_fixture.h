/*
 * tests/unit/mdindex_fixture.h - the index fixture test_mdindex.c (the
 * format and the trust rule) and test_mdindex_file.c (the side file)
 * share: a mailbox of three messages over two blocks, its encoding, and
 * the helpers that reseal an edited copy and compare a decoded one.
 */
#ifndef MDINDEX_FIXTURE_H
#define MDINDEX_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "mdindex.h"

#define FIX_MSGS	3
#define FIX_BLKS	2
/* the RETR sizes of messages 1 and 2: message 0 is hidden */
#define FIX_OCTETS	(1100000ULL + 1400000000ULL)

/* The header's fields of the new layout, and where the parts are in the
   fixture with digests (without them, the tags follow the records and
   the checksum of their one run). */
#define H_OCTETS	136
#define H_FLAGS		144
#define H_RESUME	148
#define H_ZERO		152
#define H_SUM(part)	(152 + (part) * MDINDEX_SUM_LEN)
#define H_SUM_HEAD	(MDINDEX_HEAD_LEN - MDINDEX_SUM_LEN)
#define REC(i, field)	(MDINDEX_HEAD_LEN + (i) * MDINDEX_REC_LEN + (field))
#define RUN_SUM		REC(FIX_MSGS, 0)
#define DIG(i, field)	(RUN_SUM + MDINDEX_SUM_LEN + (i) * MDINDEX_DIG_LEN + \
	(field))
#define TAG(b)		(DIG(FIX_MSGS, 0) + (b) * MDINDEX_TAG_LEN)
#define TAG_PLAIN(b)	(RUN_SUM + MDINDEX_SUM_LEN + (b) * MDINDEX_TAG_LEN)

/* what the decoder says of a record that contradicts the others */
#define INCONSISTENT	"index has an inconsistent message entry"

extern struct mdindex_msg fix_msg[FIX_MSGS];
extern unsigned char fix_tag[FIX_BLKS][MDINDEX_TAG_LEN];
extern const struct mdindex_source fix_src;

void fixture(struct mdindex *ix);
void fixture_plain(struct mdindex *ix);
void record_only(uint32_t i, struct mdindex_msg *m);
unsigned char *encode_why(struct mdindex *ix, size_t *len, const char **why);
unsigned char *encode(struct mdindex *ix, size_t *len);
int sum_is(const unsigned char *p, size_t n, const unsigned char *want);
void run_sum(const unsigned char *key, uint32_t r, const unsigned char *p,
    size_t n, unsigned char sum[MDINDEX_SUM_LEN]);
void reseal(unsigned char *buf, size_t len);
int msgs_equal(const struct mdindex *ix);
int tags_equal(const struct mdindex *ix);

#endif
