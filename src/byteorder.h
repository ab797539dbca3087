/*-------------------------------------------------------------------------
 *
 * byteorder.h
 *	  Big-endian loads and stores for classbill's portable formats.
 *
 * Plain C.  Every serialized form (usage values, aggregate states) is read
 * and written through these, never by copying a struct, so the bytes mean
 * the same on every machine.  They go byte by byte, so p needs no
 * alignment.  The 128-bit ones use the compiler's __int128 (GCC and
 * Clang), as the storage sums do (storage.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_BYTEORDER_H
#define CLASSBILL_BYTEORDER_H

#include <stdint.h>

static inline void
cb_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) (v >> 8);
	p[1] = (uint8_t) v;
}

static inline void
cb_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

static inline void
cb_put64(uint8_t *p, uint64_t v)
{
	cb_put32(p, (uint32_t) (v >> 32));
	cb_put32(p + 4, (uint32_t) v);
}

static inline void
cb_put128(uint8_t *p, unsigned __int128 v)
{
	cb_put64(p, (uint64_t) (v >> 64));
	cb_put64(p + 8, (uint64_t) v);
}

static inline uint16_t
cb_get16(const uint8_t *p)
{
	return (uint16_t) ((p[0] << 8) | p[1]);
}

static inline uint32_t
cb_get32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
		((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

static inline uint64_t
cb_get64(const uint8_t *p)
{
	return ((uint64_t) cb_get32(p) << 32) | cb_get32(p + 4);
}

static inline unsigned __int128
cb_get128(const uint8_t *p)
{
	return ((unsigned __int128) cb_get64(p) << 64) | cb_get64(p + 8);
}

#endif							/* CLASSBILL_BYTEORDER_H */
