/*-------------------------------------------------------------------------
 *
 * event.h
 *	  One buffered event row of a room, as the usage engine keeps it.
 *
 * Plain C, no PostgreSQL headers: the sweep, the state codec and the
 * fuzz harnesses all share this definition.
 *
 * An event is 12 bytes: the instant (microseconds since 2000-01-01 UTC,
 * the timestamptz representation) split in two 32-bit halves so that the
 * struct needs only 4-byte alignment, and a key that packs the event kind
 * (3 bits) above the participant number (29 bits).  Rows are processed
 * by time, then by the same-instant order of SPEC 1.3 (the kind's number).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_EVENT_H
#define CLASSBILL_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "units.h"

/*
 * Event kinds, numbered in the order SPEC 1.3 processes them at one
 * instant: leave, stage_down, end, heartbeat, join, stage_up.
 */
typedef enum CbEventKind
{
	CB_LEAVE = 0,
	CB_STAGE_DOWN = 1,
	CB_END = 2,
	CB_HEARTBEAT = 3,
	CB_JOIN = 4,
	CB_STAGE_UP = 5
} CbEventKind;

#define CB_NUM_KINDS		6

/*
 * The key: kind in the top CB_KIND_BITS bits, participant below.  Every
 * packing and unpacking of a key goes through these (the room buffer's
 * narrow key, room_state.h, takes its kind field's width from here too).
 */
#define CB_KIND_BITS		3
#define CB_KIND_SHIFT		(32 - CB_KIND_BITS)
#define CB_MAX_PARTICIPANTS	((uint32_t) 1 << CB_KIND_SHIFT)	/* exclusive */
#define CB_PID_MASK			(CB_MAX_PARTICIPANTS - 1)
#define CB_KEY(kind, pid)	(((uint32_t) (kind) << CB_KIND_SHIFT) | (uint32_t) (pid))
#define CB_KEY_KIND(key)	((int) ((uint32_t) (key) >> CB_KIND_SHIFT))
#define CB_KEY_PID(key)		((uint32_t) (key) & CB_PID_MASK)

_Static_assert(CB_NUM_KINDS <= 1 << CB_KIND_BITS, "event kinds fit in the key");

/*
 * Long loops (sorting, sweeping, counting) call cb_interrupt_hook every
 * CB_INTERRUPT_BLOCK steps when it is set.  The program around the core
 * points it at a function that does not return when the work must stop:
 * inside PostgreSQL, CHECK_FOR_INTERRUPTS (query cancel,
 * statement_timeout, termination).  The core holds nothing that must be
 * released when it does not return: its memory comes from the caller's
 * allocator.
 */
extern void (*cb_interrupt_hook) (void);

#define CB_INTERRUPT_BLOCK	((size_t) 1 << 16)
#define CB_INTERRUPT_POINT() \
	do { if (cb_interrupt_hook != NULL) cb_interrupt_hook(); } while (0)

typedef struct CbEvent
{
	uint32_t	at_lo;
	uint32_t	at_hi;
	uint32_t	key;			/* CB_KEY(kind, participant) */
} CbEvent;

/*
 * The instants classbill accepts: [1900-01-01, 2300-01-01) UTC, in
 * microseconds since 2000-01-01 UTC.  Bounding time keeps every duration
 * and every per-session day count small (SPEC 8: such rows are errors).
 */
#define CB_MIN_AT			(INT64_C(-36524) * CB_USEC_PER_DAY)
#define CB_MAX_AT			(INT64_C(109573) * CB_USEC_PER_DAY)
/* billing days that can hold presence, in days since 2000-01-01 */
#define CB_MIN_DAY			(-36525)
#define CB_MAX_DAY			109573
/* "no instant", for the time of a peak of zero */
#define CB_NO_TIME			INT64_MIN

static inline int64_t
cb_event_at(const CbEvent *e)
{
	return (int64_t) (((uint64_t) e->at_hi << 32) | e->at_lo);
}

static inline int
cb_event_kind(const CbEvent *e)
{
	return CB_KEY_KIND(e->key);
}

static inline uint32_t
cb_event_pid(const CbEvent *e)
{
	return CB_KEY_PID(e->key);
}

static inline void
cb_event_set(CbEvent *e, int64_t at, int kind, uint32_t pid)
{
	e->at_lo = (uint32_t) ((uint64_t) at & 0xFFFFFFFFu);
	e->at_hi = (uint32_t) ((uint64_t) at >> 32);
	e->key = CB_KEY(kind, pid);
}

/* Does this kind name a participant (everything but "end")? */
static inline int
cb_kind_has_participant(int kind)
{
	return kind != CB_END;
}

extern const char *cb_kind_name(int kind);

/*
 * Event kinds are case-insensitive (SPEC 1.2); -1 for anything else.
 * The names differ in length, so the length picks the candidate.  Setting
 * bit 0x20 of each byte lowercases exactly the ASCII letters, and the one
 * non-letter, '_', lacks that bit: so (row | (name & 0x20...)) == name
 * compares letters in any case and '_' as it is, a word at a time (two
 * words, which may overlap, cover any name: 2, 4 or 8 bytes each).
 * Inline: every row goes through it.
 */
static inline uint64_t
cb_kind_word(const char *p, size_t width)
{
	uint64_t	w = 0;

	/* constant widths: each memcpy is one load (the bytes' order is the same on both sides) */
	if (width == 8)
		memcpy(&w, p, 8);
	else if (width == 4)
	{
		uint32_t	v;

		memcpy(&v, p, 4);
		w = v;
	}
	else
	{
		uint16_t	v;

		memcpy(&v, p, 2);
		w = v;
	}
	return w;
}

static inline int
cb_parse_kind(const char *s, size_t len)
{
	static const signed char by_length[11] = {
		-1, -1, -1, CB_END, CB_JOIN, CB_LEAVE, -1, -1,
		CB_STAGE_UP, CB_HEARTBEAT, CB_STAGE_DOWN
	};
	static const char *const names[CB_NUM_KINDS] = {
		"leave", "stage_down", "end", "heartbeat", "join", "stage_up"
	};
	const uint64_t case_bits = UINT64_C(0x2020202020202020);
	int			k;
	const char *name;
	size_t		width;
	uint64_t	n0,
				n1;

	if (len > 10 || (k = by_length[len]) < 0)
		return -1;
	name = names[k];
	width = len >= 8 ? 8 : len >= 4 ? 4 : 2;
	n0 = cb_kind_word(name, width);
	n1 = cb_kind_word(name + len - width, width);
	if ((cb_kind_word(s, width) | (n0 & case_bits)) != n0 ||
		(cb_kind_word(s + len - width, width) | (n1 & case_bits)) != n1)
		return -1;
	return k;
}

#endif							/* CLASSBILL_EVENT_H */
