/*
 * byteorder.h - fixed little-endian fields for the files pop3d writes
 * beside a mailbox (the index; the journal can share it), so that hosts
 * of any architecture sharing one spool read the same numbers.
 *
 * Byte by byte, never by casting a buffer to an integer: no alignment or
 * host byte order enters the file.
 */
#ifndef BYTEORDER_H
#define BYTEORDER_H

#include <stdint.h>

/* The n low bytes of v at p, least significant first (n <= 8). */
static inline void
le_put(unsigned char *p, uint64_t v, int n)
{
#pragma GCC unroll 8
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Least significant first, as le_put.  Unrolled, with a constant n the
   compiler makes either one load or store on a little-endian host. */
static inline uint64_t
le_get(const unsigned char *p, int n)
{
	uint64_t v = 0;

#pragma GCC unroll 8
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#endif
