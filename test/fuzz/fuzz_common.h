/*-------------------------------------------------------------------------
 *
 * fuzz_common.h
 *	  What the libFuzzer harnesses of test/fuzz share: memory for the plain
 *	  C core and a UTC calendar.
 *
 * The core takes its memory from the caller (CbAlloc for results that are
 * never freed one by one, CbMem for room buffers) and its billing days
 * from a CbCalendar.  Inside PostgreSQL those are memory contexts and the
 * billing time zone; here they are malloc, a list of blocks freed after
 * each input, and UTC days of exactly 86,400 s, so that AddressSanitizer
 * sees every allocation at its exact size.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_FUZZ_COMMON_H
#define CLASSBILL_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "room_state.h"
#include "sweep.h"

/*
 * A mismatch or a broken contract: say what, then abort() so that
 * libFuzzer keeps the input.
 */
#define FUZZ_CHECK(cond, ...) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "fuzz check failed at %s:%d: %s\n", \
					__FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

/* ----------------------------------------------------------------
 * CbAlloc: an arena of malloc'd blocks, freed together
 * ----------------------------------------------------------------
 */
typedef struct FuzzBlock
{
	struct FuzzBlock *next;
	max_align_t data[];			/* keeps the payload aligned like malloc's */
} FuzzBlock;

typedef struct FuzzArena
{
	FuzzBlock  *head;
} FuzzArena;

static inline void *
fuzz_arena_alloc(void *arg, size_t size)
{
	FuzzArena  *arena = arg;
	FuzzBlock  *b;

	if (size > SIZE_MAX - sizeof(FuzzBlock))
		return NULL;
	b = malloc(sizeof(FuzzBlock) + size);
	if (b == NULL)
		return NULL;			/* the core reports CB_ERR_NOMEM */
	b->next = arena->head;
	arena->head = b;
	return b->data;
}

static inline void
fuzz_arena_free_all(FuzzArena *arena)
{
	while (arena->head)
	{
		FuzzBlock  *next = arena->head->next;

		free(arena->head);
		arena->head = next;
	}
}

static inline CbAlloc
fuzz_alloc_in(FuzzArena *arena)
{
	CbAlloc		a = {fuzz_arena_alloc, arena};

	return a;
}

/* ----------------------------------------------------------------
 * CbMem: plain malloc; room buffers are freed with cb_room_free
 * ----------------------------------------------------------------
 */
static inline void *
fuzz_mem_alloc(void *arg, size_t size)
{
	void	   *p = malloc(size ? size : 1);

	(void) arg;
	/* palloc never returns NULL, and the core relies on that */
	FUZZ_CHECK(p != NULL, "out of memory for %zu bytes", size);
	return p;
}

static inline void *
fuzz_mem_realloc(void *arg, void *ptr, size_t size)
{
	void	   *p = realloc(ptr, size ? size : 1);

	(void) arg;
	FUZZ_CHECK(p != NULL, "out of memory for %zu bytes", size);
	return p;
}

static inline void
fuzz_mem_free(void *arg, void *ptr)
{
	(void) arg;
	free(ptr);
}

static const CbMem fuzz_mem = {fuzz_mem_alloc, fuzz_mem_realloc, fuzz_mem_free, NULL};

/* ----------------------------------------------------------------
 * The UTC calendar: day d is [d * 86400 s, (d + 1) * 86400 s) after
 * 2000-01-01 00:00 UTC, numbered like PostgreSQL dates
 * ----------------------------------------------------------------
 */
static inline int64_t
fuzz_floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	/* C division truncates toward zero; instants before 2000 need floor */
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static inline void
fuzz_utc_day_of(void *arg, int64_t t, int32_t *day, int64_t *start, int64_t *end)
{
	int64_t		d = fuzz_floor_div(t, CB_USEC_PER_DAY);

	(void) arg;
	*day = (int32_t) d;
	*start = d * CB_USEC_PER_DAY;
	*end = *start + CB_USEC_PER_DAY;
}

static const CbCalendar fuzz_utc = {fuzz_utc_day_of, NULL};

/* The sweep's interrupt callback; the core must call it, never rely on it. */
static inline void
fuzz_no_interrupt(void)
{
}

/* FNV-1a of the input: the seed of every "random" choice a harness makes */
static inline uint64_t
fuzz_hash(const uint8_t *data, size_t size)
{
	uint64_t	h = UINT64_C(0xcbf29ce484222325);
	size_t		i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * UINT64_C(0x100000001b3);
	return h;
}

/* xorshift64*: deterministic choices derived from that seed */
static inline uint64_t
fuzz_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(0x2545F4914F6CDD1D);
}

#endif							/* CLASSBILL_FUZZ_COMMON_H */
