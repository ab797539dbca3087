/*-------------------------------------------------------------------------
 *
 * room_state.h
 *	  The buffer room_usage keeps for one room while aggregating.
 *
 * Plain C; memory comes through CbMem.  One allocation holds everything:
 *
 *	  [ header | events -->         free         <-- participants ]
 *
 * Events are appended at the front in arrival order.  While a room's rows
 * lie within 2^45 microseconds (about 13 months) of its first row and it
 * has fewer than 65,536 participants, an event is one 64-bit key:
 *
 *	  (at - base) << 19 | kind << 16 | participant
 *
 * whose numeric order is the processing order of SPEC 1.3.  Otherwise the
 * room switches, once, to 12-byte events (event.h).  Participants, at the
 * end of the buffer, are numbered in order of first appearance: a record
 * of 8 bytes each (hash, where the name is) and their names (room_state.c);
 * rooms with many participants also get a hash index beside the buffer.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_ROOM_STATE_H
#define CLASSBILL_ROOM_STATE_H

#include <string.h>

#include "sweep.h"

typedef struct CbMem
{
	void	   *(*alloc) (void *arg, size_t size);
	void	   *(*realloc) (void *arg, void *ptr, size_t size);
	void		(*free) (void *arg, void *ptr);
	void	   *arg;
} CbMem;

typedef struct CbRoomIndex CbRoomIndex;

typedef struct CbRoomState
{
	uint64_t	size;			/* bytes of the buffer, header included */
	int64_t		base;			/* narrow keys count from here; CB_WIDE */
	CbRoomIndex *index;			/* NULL until the room is large */
	uint64_t	seen;			/* bit hash % 64 of every participant */
	uint32_t	namebytes;		/* bytes of names */
	uint32_t	reccap;			/* participant records reserved */
	uint32_t	nevents;
	uint32_t	nparticipants;
} CbRoomState;

#define CB_ROOM_RECORD_BYTES	8	/* per participant, see room_state.c */
#define CB_WIDE				INT64_MIN

/* The narrow key: its kind field as wide as the 12-byte key's (event.h) */
#define CB_NARROW_PID_BITS	16
#define CB_NARROW_KIND_SHIFT	CB_NARROW_PID_BITS
#define CB_NARROW_AT_SHIFT	(CB_NARROW_KIND_SHIFT + CB_KIND_BITS)
#define CB_NARROW_SPAN		(INT64_C(1) << (64 - CB_NARROW_AT_SHIFT))	/* 2^45 */
#define CB_NARROW_MAX_PIDS	((uint32_t) 1 << CB_NARROW_PID_BITS)
#define CB_NARROW_PID_MASK	(CB_NARROW_MAX_PIDS - 1)
#define CB_NARROW_KIND_MASK	((1u << CB_KIND_BITS) - 1)

typedef enum CbRoomStatus
{
	CB_ROOM_OK = 0,
	CB_ROOM_TOO_MANY_PARTICIPANTS,
	CB_ROOM_NAME_TOO_LONG,
	CB_ROOM_TOO_LARGE
} CbRoomStatus;

/* A new, empty state with room for about `events` events. */
extern CbRoomState *cb_room_create(const CbMem *mem, uint32_t events);

/*
 * Number a participant, adding it if new.  The state may move (returned
 * through *st).  name is not NUL-terminated.
 */
extern CbRoomStatus cb_room_participant(CbRoomState **st, const CbMem *mem,
										const char *name, size_t len,
										uint32_t *pid);

/* Append an event (pid 0 for "end"); the state may move. */
extern CbRoomStatus cb_room_add_event_slow(CbRoomState **st, const CbMem *mem,
										   int64_t at, int kind, uint32_t pid);

static inline uint64_t
narrow_key(const CbRoomState *st, int64_t at, int kind, uint32_t pid)
{
	return ((uint64_t) (at - st->base) << CB_NARROW_AT_SHIFT) |
		((uint64_t) kind << CB_NARROW_KIND_SHIFT) | pid;
}

/* The common case inline: a narrow event that fits where there is room. */
static inline CbRoomStatus
cb_room_add_event(CbRoomState **stp, const CbMem *mem, int64_t at, int kind,
				  uint32_t pid)
{
	CbRoomState *st = *stp;
	uint8_t    *slot = (uint8_t *) st + sizeof(CbRoomState) +
		(uint64_t) st->nevents * sizeof(uint64_t);

	if (st->base != CB_WIDE && st->nevents > 0 &&
		at >= st->base && at - st->base < CB_NARROW_SPAN &&
		pid < CB_NARROW_MAX_PIDS &&
		slot + sizeof(uint64_t) <= (uint8_t *) st + st->size -
		(uint64_t) st->reccap * CB_ROOM_RECORD_BYTES - st->namebytes)
	{
		uint64_t	key = narrow_key(st, at, kind, pid);

		memcpy(slot, &key, sizeof(key));
		st->nevents++;
		return CB_ROOM_OK;
	}
	return cb_room_add_event_slow(stp, mem, at, kind, pid);
}

/* Make room for `more` events at once; the state may move. */
extern CbRoomStatus cb_room_reserve(CbRoomState **st, const CbMem *mem,
									uint64_t more);

/* The name of participant pid (pids run 0 .. nparticipants-1). */
extern const char *cb_room_name(const CbRoomState *st, uint32_t pid, size_t *len);

/* Event i in the 12-byte form. */
extern void cb_room_event(const CbRoomState *st, uint32_t i, CbEvent *e);

/*
 * All events, in processing order (SPEC 1.3), in out (n events).  Sorts
 * the state's own events in place when it has to, which changes nothing
 * they mean.  tmp must hold n events, or be NULL if the caller checked
 * that no sort is needed with cb_room_sorted.
 */
extern int	cb_room_sorted(const CbRoomState *st);
extern void cb_room_events_in_order(CbRoomState *st, CbEvent *out, CbEvent *tmp);

extern void cb_room_free(CbRoomState *st, const CbMem *mem);

/* A copy of src: what merging it into an empty state gives. */
extern CbRoomState *cb_room_copy(const CbRoomState *src, const CbMem *mem);

/* Append every event of src to *dst, in *dst's participant numbers. */
extern CbRoomStatus cb_room_merge(CbRoomState **dst, const CbMem *mem,
								  const CbRoomState *src);

/*
 * Put the state's own events in processing order (changes nothing they
 * mean); tmp space comes from mem.  Parallel workers do this before they
 * serialize, so that the leader merges sorted runs instead of sorting.
 */
extern void cb_room_sort(CbRoomState *st, const CbMem *mem);

/*
 * The serialized form of state_codec.h: participant names, not numbers.
 * cb_room_serial_size is 0 when the form would not fit in size_t.
 */
struct CbStateView;
extern size_t cb_room_serial_size(const CbRoomState *st);
extern void cb_room_serialize(const CbRoomState *st, uint8_t *out);
/* A state from a serialized form that cb_state_open accepted. */
extern CbRoomStatus cb_room_deserialize(const struct CbStateView *v,
										const CbMem *mem, CbRoomState **out);

/*
 * Add the events of a serialized form straight to *dst, as deserializing
 * it and merging would, without building the state in between.  When
 * both are in processing order, the result is too (a merge of the two
 * runs, in place from the end), so the final function need not sort.
 */
extern CbRoomStatus cb_room_merge_serialized(CbRoomState **dst, const CbMem *mem,
											 const struct CbStateView *v);

#endif							/* CLASSBILL_ROOM_STATE_H */
