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
#include "utils/datetime.h"
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

/*
 * An instant as UTC ISO 8601 whatever the session's TimeZone and DateStyle,
 * so that what a row's problem says does not depend on the session
 * (classbill_internal.event_problem is immutable and may run on a shard).
 */
static char *
utc_text(TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char		buf[MAXDATELEN + 1];

	if (TIMESTAMP_NOT_FINITE(t))
		return pstrdup(TIMESTAMP_IS_NOBEGIN(t) ? "-infinity" : "infinity");
	if (timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		return pstrdup("(out of range)");
	EncodeDateTime(&tm, fsec, false, 0, NULL, USE_ISO_DATES, buf);
	return psprintf("%s+00", buf);
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
						 utc_text(PG_GETARG_TIMESTAMPTZ(first + 2)));
	return buf.data;
}

/*
 * What an error for a bad row says, shared by the error itself and by
 * classbill_internal.event_problem, which reports the same words without
 * stopping the query (a close holds back one account, SPEC 7.5).
 */
typedef struct RowProblemText
{
	int			sqlstate;
	char	   *message;
	char	   *detail;
	const char *hint;
} RowProblemText;

static RowProblemText
describe_problem(FunctionCallInfo fcinfo, int first, CbRowProblem problem, int kind)
{
	RowProblemText t = {0, NULL, NULL, NULL};
	TimestampTz at;

	switch (problem)
	{
		case CB_ROW_NULL_EVENT:
			t.sqlstate = ERRCODE_NULL_VALUE_NOT_ALLOWED;
			t.message = pstrdup("event kind must not be NULL");
			t.detail = psprintf("Row: %s.", describe_row(fcinfo, first));
			break;
		case CB_ROW_UNKNOWN_KIND:
			t.sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
			t.message = psprintf("unknown event kind %s",
								 cb_quote_text(PG_GETARG_TEXT_PP(first + 1)));
			t.detail = psprintf("Row: %s.", describe_row(fcinfo, first));
			t.hint = "Event kinds are join, leave, heartbeat, end, stage_up and stage_down, in any letter case.";
			break;
		case CB_ROW_NULL_TIME:
			t.sqlstate = ERRCODE_NULL_VALUE_NOT_ALLOWED;
			t.message = pstrdup("event time must not be NULL");
			t.detail = psprintf("Row: %s, event \"%s\".", describe_row(fcinfo, first),
								cb_kind_name(kind));
			break;
		case CB_ROW_TIME_RANGE:
			at = PG_GETARG_TIMESTAMPTZ(first + 2);
			t.sqlstate = ERRCODE_DATETIME_VALUE_OUT_OF_RANGE;
			if (TIMESTAMP_NOT_FINITE(at))
			{
				t.message = psprintf("event time must be finite, not %s", utc_text(at));
				t.detail = psprintf("Row: %s, event \"%s\".", describe_row(fcinfo, first),
									cb_kind_name(kind));
			}
			else
			{
				t.message = psprintf("event time %s is outside the supported range", utc_text(at));
				t.detail = psprintf("classbill accepts times from 1900-01-01 to 2299-12-31 UTC. Row: %s, event \"%s\".",
									describe_row(fcinfo, first), cb_kind_name(kind));
			}
			break;
		case CB_ROW_NULL_PARTICIPANT:
			t.sqlstate = ERRCODE_NULL_VALUE_NOT_ALLOWED;
			t.message = psprintf("participant must not be NULL on a \"%s\" event",
								 cb_kind_name(kind));
			t.detail = psprintf("Row: %s.", describe_row(fcinfo, first));
			t.hint = "Only \"end\" events may have a NULL participant.";
			break;
	}
	return t;
}

void
cb_bad_row(FunctionCallInfo fcinfo, int first, CbRowProblem problem, int kind)
{
	RowProblemText t = describe_problem(fcinfo, first, problem, kind);

	ereport(ERROR,
			(errcode(t.sqlstate),
			 errmsg_internal("%s", t.message),
			 errdetail_internal("%s", t.detail),
			 t.hint ? errhint("%s", t.hint) : 0));
	pg_unreachable();
}

/*
 * classbill_internal.event_problem(participant, event, at): NULL for a row
 * room_usage accepts, else what its error would say (message and row).
 * The checks are those of cb_read_row, in the same order.
 */
CB_FUNCTION(classbill_event_problem);
Datum
classbill_event_problem(PG_FUNCTION_ARGS)
{
	int			kind = -1;
	CbRowProblem problem;
	RowProblemText t;

	if (PG_ARGISNULL(1))
		problem = CB_ROW_NULL_EVENT;
	else
	{
		struct varlena *event = cb_text_arg(fcinfo, 1);

		kind = cb_parse_kind(VARDATA_ANY(event), VARSIZE_ANY_EXHDR(event));
		if (kind < 0)
			problem = CB_ROW_UNKNOWN_KIND;
		else if (PG_ARGISNULL(2))
			problem = CB_ROW_NULL_TIME;
		else if (PG_GETARG_TIMESTAMPTZ(2) < CB_MIN_AT || PG_GETARG_TIMESTAMPTZ(2) >= CB_MAX_AT)
			problem = CB_ROW_TIME_RANGE;
		else if (cb_kind_has_participant(kind) && PG_ARGISNULL(0))
			problem = CB_ROW_NULL_PARTICIPANT;
		else
			PG_RETURN_NULL();
	}
	t = describe_problem(fcinfo, 0, problem, kind);
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("%s (%s)", t.message, t.detail)));
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
