/*-------------------------------------------------------------------------
 *
 * event_input.h
 *	  What the aggregates over event rows share: checking a row (SPEC 8),
 *	  room buffers in memory contexts, and reporting plain-C failures.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_EVENT_INPUT_H
#define CLASSBILL_EVENT_INPUT_H

#include "classbill.h"

#include "fmgr.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "room_state.h"

/* One event row, checked. */
typedef struct CbRow
{
	int			kind;
	TimestampTz at;
	const char *who;			/* NULL on "end" */
	size_t		wholen;
} CbRow;

/*
 * Read and check the row whose participant, event and time are the
 * arguments first, first + 1 and first + 2 (SPEC 8): errors name the bad
 * value and the row.
 */
extern void cb_read_row(FunctionCallInfo fcinfo, int first, CbRow *row);

/* A text argument for an error message, in quotes, cut short if long. */
extern char *cb_quote_text(text *t);

/* Room buffers live in memory contexts. */
extern CbMem cb_memory_in(MemoryContext ctx);

static inline CbMem
cb_memory_of(void *chunk)
{
	return cb_memory_in(GetMemoryChunkContext(chunk));
}

extern int	cb_max_room_events;
extern void cb_room_limit_exceeded(uint64 n) pg_attribute_noreturn();
extern void cb_report_room(CbRoomStatus status) pg_attribute_noreturn();

static inline void
cb_check_room(CbRoomStatus status)
{
	if (unlikely(status != CB_ROOM_OK))
		cb_report_room(status);
}

/* Room buffers grow one row at a time; this keeps them under the limit. */
static inline void
cb_check_room_size(const CbRoomState *st, uint64 more)
{
	if (unlikely((uint64) st->nevents + more > (uint64) cb_max_room_events))
		cb_room_limit_exceeded((uint64) st->nevents + more);
}

/* All events of a room in processing order (SPEC 1.3), palloc'd. */
extern CbEvent *cb_room_events(CbRoomState *st);

/* The plain-C sweep's interrupt hook: query cancel and statement_timeout. */
extern void cb_interrupt(void);

#endif							/* CLASSBILL_EVENT_INPUT_H */
