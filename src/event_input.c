/*-------------------------------------------------------------------------
 *
 * event_input.c
 *	  Checking event rows (SPEC 8) and keeping room buffers, for the
 *	  aggregates over event rows (room_usage, account_peak).
 *
 * A bad row stops the query with an error that says what is wrong, names
 * the bad value and shows the row; nothing is dropped silently (SPEC 8.1).
 *
 *-------------------------------------------------------------------------
 */
#include "event_input.h"

#include <limits.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

int			cb_max_room_events = 100000000;

void
cb_define_input_settings(void)
{
	DefineCustomIntVariable("classbill.max_room_events",
							"Most event rows one room may hold while it is aggregated.",
							"Each buffered row takes 8 to 12 bytes while the room is aggregated.",
							&cb_max_room_events,
							100000000,
							1,
							INT_MAX / 2,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
}

/* ----------------------------------------------------------------
 * Rows
 * ----------------------------------------------------------------
 */
char *
cb_quote_text(text *t)
{
	Size		len = VARSIZE_ANY_EXHDR(t);
	int			keep = pg_mbcliplen(VARDATA_ANY(t), (int) Min(len, 200), 80);

	return psprintf("\"%.*s\"%s", keep, VARDATA_ANY(t),
					(Size) keep < len ? "..." : "");
}

static char *
describe_row(FunctionCallInfo fcinfo, int first)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (PG_ARGISNULL(first))
		appendStringInfoString(&buf, "participant NULL");
	else
		appendStringInfo(&buf, "participant %s",
						 cb_quote_text(PG_GETARG_TEXT_PP(first)));
	if (PG_ARGISNULL(first + 2))
		appendStringInfoString(&buf, ", time NULL");
	else
		appendStringInfo(&buf, ", time %s",
						 timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(first + 2)));
	return buf.data;
}

void
cb_bad_row(FunctionCallInfo fcinfo, int first, CbRowProblem problem, int kind)
{
	TimestampTz at;

	switch (problem)
	{
		case CB_ROW_NULL_EVENT:
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("event kind must not be NULL"),
					 errdetail("Row: %s.", describe_row(fcinfo, first))));
			break;
		case CB_ROW_UNKNOWN_KIND:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown event kind %s",
							cb_quote_text(PG_GETARG_TEXT_PP(first + 1))),
					 errdetail("Row: %s.", describe_row(fcinfo, first)),
					 errhint("Event kinds are join, leave, heartbeat, end, stage_up and stage_down, in any letter case.")));
			break;
		case CB_ROW_NULL_TIME:
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("event time must not be NULL"),
					 errdetail("Row: %s, event \"%s\".", describe_row(fcinfo, first),
							   cb_kind_name(kind))));
			break;
		case CB_ROW_TIME_RANGE:
			at = PG_GETARG_TIMESTAMPTZ(first + 2);
			if (TIMESTAMP_NOT_FINITE(at))
				ereport(ERROR,
						(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						 errmsg("event time must be finite, not %s",
								timestamptz_to_str(at)),
						 errdetail("Row: %s, event \"%s\".", describe_row(fcinfo, first),
								   cb_kind_name(kind))));
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("event time %s is outside the supported range",
							timestamptz_to_str(at)),
					 errdetail("classbill accepts times from 1900-01-01 to 2299-12-31 UTC. Row: %s, event \"%s\".",
							   describe_row(fcinfo, first), cb_kind_name(kind))));
			break;
		case CB_ROW_NULL_PARTICIPANT:
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("participant must not be NULL on a \"%s\" event",
							cb_kind_name(kind)),
					 errdetail("Row: %s.", describe_row(fcinfo, first)),
					 errhint("Only \"end\" events may have a NULL participant.")));
			break;
	}
	pg_unreachable();
}

/* ----------------------------------------------------------------
 * Room buffers
 * ----------------------------------------------------------------
 */
static void *
mem_alloc(void *arg, size_t size)
{
	return MemoryContextAllocHuge((MemoryContext) arg, size);
}

static void *
mem_realloc(void *arg, void *ptr, size_t size)
{
	return repalloc_huge(ptr, size);
}

static void
mem_free(void *arg, void *ptr)
{
	pfree(ptr);
}

CbMem
cb_memory_in(MemoryContext ctx)
{
	CbMem		mem = {mem_alloc, mem_realloc, mem_free, ctx};

	return mem;
}

void
cb_room_limit_exceeded(uint64 n)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("room has more than %d event rows", cb_max_room_events),
			 errdetail("A room's events are held in memory until it is finished; this one reached " UINT64_FORMAT ".", n),
			 errhint("Check that the query groups by room, or raise classbill.max_room_events (8 to 12 bytes of memory per row).")));
}

void
cb_report_room(CbRoomStatus status)
{
	switch (status)
	{
		case CB_ROOM_TOO_MANY_PARTICIPANTS:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("room has more than %u distinct participants",
							CB_MAX_PARTICIPANTS - 2)));
			break;
		case CB_ROOM_NAME_TOO_LONG:
		case CB_ROOM_TOO_LARGE:
		default:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the events of one room are too large to hold")));
			break;
	}
	pg_unreachable();
}

CbEvent *
cb_room_events(CbRoomState *st)
{
	CbEvent    *ev = palloc_extended(Max((Size) st->nevents, 1) * sizeof(CbEvent),
									 MCXT_ALLOC_HUGE);
	CbEvent    *tmp = NULL;

	/*
	 * Sorting the state's own events, if they need it, changes nothing they
	 * mean, so later transitions (in a window) stay valid.
	 */
	if (!cb_room_sorted(st))
		tmp = palloc_extended(Max((Size) st->nevents, 1) * sizeof(CbEvent), MCXT_ALLOC_HUGE);
	cb_room_events_in_order(st, ev, tmp);
	if (tmp)
		pfree(tmp);
	return ev;
}

/* ----------------------------------------------------------------
 * The plain-C code's allocator, interrupts and failures
 * ----------------------------------------------------------------
 */
static void *
palloc_for_core(void *arg, size_t size)
{
	return palloc_extended(size == 0 ? 1 : size, MCXT_ALLOC_HUGE);
}

const CbAlloc cb_palloc_allocator = {palloc_for_core, NULL};

void
cb_interrupt(void)
{
	CHECK_FOR_INTERRUPTS();
}

void
cb_report_status(CbStatus status, const char *what)
{
	switch (status)
	{
		case CB_ERR_OVERFLOW:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s: a total is out of range for a 64-bit integer", what)));
			break;
		case CB_ERR_NOMEM:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory in %s", what)));
			break;
		default:
			elog(ERROR, "%s: internal inconsistency (status %d)", what, (int) status);
	}
	pg_unreachable();
}
