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

/* What is wrong with a row (SPEC 8.1). */
typedef enum CbRowProblem
{
	CB_ROW_NULL_EVENT,
	CB_ROW_UNKNOWN_KIND,
	CB_ROW_NULL_TIME,
	CB_ROW_TIME_RANGE,
	CB_ROW_NULL_PARTICIPANT
} CbRowProblem;

/* The error for a bad row: names the bad value and the row. */
extern void cb_bad_row(FunctionCallInfo fcinfo, int first, CbRowProblem problem,
					   int kind) pg_attribute_noreturn();

/*
 * A text argument's bytes.  Short values come in place; only values that
 * are compressed or stored out of line need detoasting.
 */
static inline struct varlena *
cb_text_arg(FunctionCallInfo fcinfo, int n)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(n));

	if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
		v = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(n));
	return v;
}

/*
 * Read and check the row whose participant, event and time are the
 * arguments first, first + 1 and first + 2 (SPEC 8).  Inline, with the
 * errors out of line: every row comes through here.
 */
static inline void
cb_read_row(FunctionCallInfo fcinfo, int first, CbRow *row)
{
	struct varlena *event;

	if (unlikely(PG_ARGISNULL(first + 1)))
		cb_bad_row(fcinfo, first, CB_ROW_NULL_EVENT, -1);
	event = cb_text_arg(fcinfo, first + 1);
	row->kind = cb_parse_kind(VARDATA_ANY(event), VARSIZE_ANY_EXHDR(event));
	if (unlikely(row->kind < 0))
		cb_bad_row(fcinfo, first, CB_ROW_UNKNOWN_KIND, -1);
	if (unlikely(PG_ARGISNULL(first + 2)))
		cb_bad_row(fcinfo, first, CB_ROW_NULL_TIME, row->kind);
	row->at = PG_GETARG_TIMESTAMPTZ(first + 2);
	if (unlikely(row->at < CB_MIN_AT || row->at >= CB_MAX_AT))
		cb_bad_row(fcinfo, first, CB_ROW_TIME_RANGE, row->kind);
	row->who = NULL;
	row->wholen = 0;
	if (cb_kind_has_participant(row->kind))
	{
		struct varlena *who;

		if (unlikely(PG_ARGISNULL(first)))
			cb_bad_row(fcinfo, first, CB_ROW_NULL_PARTICIPANT, row->kind);
		who = cb_text_arg(fcinfo, first);
		row->who = VARDATA_ANY(who);
		row->wholen = VARSIZE_ANY_EXHDR(who);
	}
}

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
