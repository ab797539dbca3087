/*-------------------------------------------------------------------------
 *
 * usage_agg.c
 *	  classbill.room_usage(participant, event, at): the aggregate that
 *	  buffers one room's event rows and sweeps them into a usage value.
 *
 * Transition state (internal): one CbRoomState per group (room_state.h),
 * allocated in the aggregate context: a single buffer with the group's
 * events, 8 bytes each while they fit, and its participants' names, each
 * stored once.  Rows are checked as they arrive (SPEC 8), so a bad row
 * stops the query before anything else is done with it.
 *
 * The combine, serialize and deserialize functions let PostgreSQL run the
 * aggregate in parallel workers and per partition (SPEC 1.9): serialized
 * states carry participant names, not numbers, and combining looks each
 * name up in the receiving state.  The final function puts the events in
 * processing order and sweeps them; it reads classbill.billing_timezone
 * then, so the zone lives in the result and nowhere in the state.
 *
 *-------------------------------------------------------------------------
 */
#include "classbill.h"

#include <limits.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "byteorder.h"
#include "room_state.h"
#include "state_codec.h"

static int	max_room_events = 100000000;

void
cb_define_usage_settings(void)
{
	DefineCustomIntVariable("classbill.max_room_events",
							"Most event rows one room_usage group may hold.",
							"Each buffered row takes 8 to 12 bytes while the group is aggregated.",
							&max_room_events,
							100000000,
							1,
							INT_MAX / 2,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
}

/* ----------------------------------------------------------------
 * Memory for room states: a memory context
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

static inline CbMem
memory_in(MemoryContext ctx)
{
	CbMem		mem = {mem_alloc, mem_realloc, mem_free, ctx};

	return mem;
}

static void
report_room(CbRoomStatus status)
{
	switch (status)
	{
		case CB_ROOM_OK:
			return;
		case CB_ROOM_TOO_MANY_PARTICIPANTS:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("room has more than %u distinct participants",
							CB_MAX_PARTICIPANTS - 2)));
			break;
		case CB_ROOM_NAME_TOO_LONG:
		case CB_ROOM_TOO_LARGE:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("room_usage state of one room is too large")));
			break;
	}
}

static inline void
check_room(CbRoomStatus status)
{
	if (unlikely(status != CB_ROOM_OK))
		report_room(status);
}

static void
check_room_events(uint64 n)
{
	if (n > (uint64) max_room_events)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("room has more than %d event rows", max_room_events),
				 errdetail("Each room_usage group holds one room's events until it is finished."),
				 errhint("Check that the query groups by room, or raise classbill.max_room_events (8 to 12 bytes of memory per row).")));
}

/* ----------------------------------------------------------------
 * Transition
 * ----------------------------------------------------------------
 */
/* A text argument for an error message, cut short if it is long. */
static char *
quote_arg(text *t)
{
	Size		len = VARSIZE_ANY_EXHDR(t);
	int			keep = pg_mbcliplen(VARDATA_ANY(t), (int) Min(len, 200), 80);

	return psprintf("\"%.*s\"%s", keep, VARDATA_ANY(t),
					(Size) keep < len ? "..." : "");
}

static char *
describe_row(FunctionCallInfo fcinfo)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (PG_ARGISNULL(1))
		appendStringInfoString(&buf, "participant NULL");
	else
		appendStringInfo(&buf, "participant %s",
						 quote_arg(PG_GETARG_TEXT_PP(1)));
	if (PG_ARGISNULL(3))
		appendStringInfoString(&buf, ", time NULL");
	else
		appendStringInfo(&buf, ", time %s",
						 timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(3)));
	return buf.data;
}

/*
 * A text argument's bytes.  Short values come in place; only values
 * that are compressed or stored out of line need detoasting.
 */
static inline struct varlena *
text_arg(FunctionCallInfo fcinfo, int n)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(n));

	if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
		v = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(n));
	return v;
}

/* The states' memory: the aggregate context, known from the state itself. */
static inline CbMem
memory_of(void *state)
{
	return memory_in(GetMemoryChunkContext(state));
}

CB_FUNCTION(classbill_room_usage_trans);
Datum
classbill_room_usage_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	CbMem		mem;
	CbRoomState *st;
	struct varlena *event;
	int			kind;
	TimestampTz at;
	uint32		pid = 0;

	/* SPEC 8: the event kind */
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event kind must not be NULL"),
				 errdetail("Row: %s.", describe_row(fcinfo))));
	event = text_arg(fcinfo, 2);
	kind = cb_parse_kind(VARDATA_ANY(event), VARSIZE_ANY_EXHDR(event));
	if (kind < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown event kind %s", quote_arg((text *) event)),
				 errdetail("Row: %s.", describe_row(fcinfo)),
				 errhint("Event kinds are join, leave, heartbeat, end, stage_up and stage_down, in any letter case.")));

	/* SPEC 8: the time */
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event time must not be NULL"),
				 errdetail("Row: %s, event \"%s\".", describe_row(fcinfo),
						   cb_kind_name(kind))));
	at = PG_GETARG_TIMESTAMPTZ(3);
	if (unlikely(at < CB_MIN_AT || at >= CB_MAX_AT))
	{
		if (TIMESTAMP_NOT_FINITE(at))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("event time must be finite, not %s",
							timestamptz_to_str(at)),
					 errdetail("Row: %s, event \"%s\".", describe_row(fcinfo),
							   cb_kind_name(kind))));
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("event time %s is outside the supported range",
						timestamptz_to_str(at)),
				 errdetail("classbill accepts times from 1900-01-01 to 2299-12-31 UTC. Row: %s, event \"%s\".",
						   describe_row(fcinfo), cb_kind_name(kind))));
	}

	/* SPEC 8: the participant, except on "end" */
	if (cb_kind_has_participant(kind) && PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("participant must not be NULL on a \"%s\" event",
						cb_kind_name(kind)),
				 errdetail("Row: %s.", describe_row(fcinfo)),
				 errhint("Only \"end\" events may have a NULL participant.")));

	/*
	 * The first row of a group makes sure this is an aggregate call and
	 * creates the state in the aggregate context; the others find the
	 * context from the state.
	 */
	if (PG_ARGISNULL(0))
	{
		if (!AggCheckCallContext(fcinfo, &aggctx))
			elog(ERROR, "classbill_room_usage_trans called in non-aggregate context");
		mem = memory_in(aggctx);
		st = cb_room_create(&mem, 24);
	}
	else
	{
		st = (CbRoomState *) PG_GETARG_POINTER(0);
		mem = memory_of(st);
		if (unlikely(st->nevents >= (uint32) max_room_events))
			check_room_events((uint64) st->nevents + 1);
	}

	if (cb_kind_has_participant(kind))
	{
		struct varlena *who = text_arg(fcinfo, 1);

		check_room(cb_room_participant(&st, &mem, VARDATA_ANY(who),
									   VARSIZE_ANY_EXHDR(who), &pid));
	}
	check_room(cb_room_add_event(&st, &mem, at, kind, pid));
	PG_RETURN_POINTER(st);
}

/* ----------------------------------------------------------------
 * Combine, serialize, deserialize
 * ----------------------------------------------------------------
 */

/* Append every event of src to *dst, in *dst's participant numbers. */
static void
merge_into(CbRoomState **dst, const CbMem *mem, const CbRoomState *src)
{
	uint32	   *map = palloc(Max(src->nparticipants, 1) * sizeof(uint32));
	uint32		k,
				i;

	check_room_events((uint64) (*dst)->nevents + src->nevents);
	for (k = 0; k < src->nparticipants; k++)
	{
		size_t		len;
		const char *name = cb_room_name(src, k, &len);

		check_room(cb_room_participant(dst, mem, name, len, &map[k]));
	}
	check_room(cb_room_reserve(dst, mem, src->nevents));
	for (i = 0; i < src->nevents; i++)
	{
		CbEvent		e;
		int			kind;

		cb_room_event(src, i, &e);
		kind = cb_event_kind(&e);
		check_room(cb_room_add_event(dst, mem, cb_event_at(&e), kind,
									 cb_kind_has_participant(kind) ? map[cb_event_pid(&e)] : 0));
	}
	pfree(map);
}

CB_FUNCTION(classbill_room_usage_combine);
Datum
classbill_room_usage_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	CbMem		mem;
	CbRoomState *st1;
	CbRoomState *st2;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "classbill_room_usage_combine called in non-aggregate context");

	st1 = PG_ARGISNULL(0) ? NULL : (CbRoomState *) PG_GETARG_POINTER(0);
	st2 = PG_ARGISNULL(1) ? NULL : (CbRoomState *) PG_GETARG_POINTER(1);
	if (st2 == NULL)
	{
		if (st1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st1);
	}
	/* never hand back st2: it lives in memory the executor will reset */
	mem = memory_in(aggctx);
	if (st1 == NULL)
		st1 = cb_room_create(&mem, st2->nevents);
	merge_into(&st1, &mem, st2);
	PG_RETURN_POINTER(st1);
}

CB_FUNCTION(classbill_room_usage_serial);
Datum
classbill_room_usage_serial(PG_FUNCTION_ARGS)
{
	CbRoomState *st = (CbRoomState *) PG_GETARG_POINTER(0);
	uint64		namebytes = 0;
	Size		size;
	bytea	   *result;
	uint8	   *p;
	uint32		k,
				i;

	for (k = 0; k < st->nparticipants; k++)
	{
		size_t		len;

		(void) cb_room_name(st, k, &len);
		namebytes += len;
	}
	size = cb_state_size(st->nparticipants, namebytes, st->nevents);
	if (size == 0 || size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("room_usage state of %u events is too large to pass between processes",
						st->nevents),
				 errhint("Disable parallel aggregation for this query (SET max_parallel_workers_per_gather = 0).")));
	result = palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	p = cb_state_write_header((uint8 *) VARDATA(result), st->nparticipants,
							  (uint32) namebytes, st->nevents);
	for (k = 0; k < st->nparticipants; k++)
	{
		size_t		len;

		(void) cb_room_name(st, k, &len);
		cb_put32(p, (uint32) len);
		p += 4;
	}
	for (k = 0; k < st->nparticipants; k++)
	{
		size_t		len;
		const char *name = cb_room_name(st, k, &len);

		memcpy(p, name, len);
		p += len;
	}
	for (i = 0; i < st->nevents; i++)
	{
		CbEvent		e;

		cb_room_event(st, i, &e);
		p = cb_state_write_event(p, &e);
	}
	PG_RETURN_BYTEA_P(result);
}

/*
 * The result is built in the current memory context by the same steps as
 * the transition function, so a forged state with a name twice still
 * gives one participant.
 */
CB_FUNCTION(classbill_room_usage_deserial);
Datum
classbill_room_usage_deserial(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	CbMem		mem = memory_in(CurrentMemoryContext);
	CbStateView v;
	const char *why;
	CbRoomState *st;
	uint32	   *map;
	uint32		i;
	const uint8 *name;

	why = cb_state_open((const uint8 *) VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), &v);
	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid room_usage aggregate state: %s", why)));
	check_room_events(v.nevents);

	st = cb_room_create(&mem, v.nevents);
	map = palloc(Max(v.nparticipants, 1) * sizeof(uint32));
	name = v.names;
	for (i = 0; i < v.nparticipants; i++)
	{
		uint32		len = cb_get32(v.lengths + 4 * (Size) i);

		check_room(cb_room_participant(&st, &mem, (const char *) name, len, &map[i]));
		name += len;
	}
	for (i = 0; i < v.nevents; i++)
	{
		CbEvent		e;
		int			kind;

		cb_state_event(&v, i, &e);
		kind = cb_event_kind(&e);
		check_room(cb_room_add_event(&st, &mem, cb_event_at(&e), kind,
									 cb_kind_has_participant(kind) ? map[cb_event_pid(&e)] : 0));
	}
	pfree(map);
	PG_RETURN_POINTER(st);
}

/* ----------------------------------------------------------------
 * Final
 * ----------------------------------------------------------------
 */
static void *
palloc_for_core(void *arg, size_t size)
{
	return palloc_extended(size == 0 ? 1 : size, MCXT_ALLOC_HUGE);
}

const CbAlloc cb_palloc_allocator = {palloc_for_core, NULL};

static void
interrupt_for_core(void)
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

CB_FUNCTION(classbill_room_usage_final);
Datum
classbill_room_usage_final(PG_FUNCTION_ARGS)
{
	CbRoomState *st;
	CbEvent    *ev;
	CbEvent    *tmp = NULL;
	CbCalendar	cal;
	pg_tz	   *tz;
	CbSweepResult r;
	CbStatus	status;
	CbUsage		u;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (CbRoomState *) PG_GETARG_POINTER(0);

	/*
	 * Sorting the state's own events, if they need it, changes nothing they
	 * mean, so later transitions (in a window) stay valid.
	 */
	ev = palloc_extended(Max((Size) st->nevents, 1) * sizeof(CbEvent), MCXT_ALLOC_HUGE);
	if (!cb_room_sorted(st))
		tmp = palloc_extended(Max((Size) st->nevents, 1) * sizeof(CbEvent), MCXT_ALLOC_HUGE);
	cb_room_events_in_order(st, ev, tmp);
	if (tmp)
		pfree(tmp);

	tz = cb_billing_tz();
	cal = cb_calendar(tz);
	status = cb_sweep(ev, st->nevents, st->nparticipants, &cal,
					  &cb_palloc_allocator, interrupt_for_core, &r);
	if (status != CB_OK)
		cb_report_status(status, "room_usage");

	memset(&u, 0, sizeof(u));
	u.tz = pg_get_timezone_name(tz);
	u.tzlen = strlen(u.tz);
	u.rooms = 1;
	u.participants = r.participants;
	u.peak = r.peak;
	u.stage_peak = r.stage_peak;
	u.peak_at = r.peak_at;
	u.stage_peak_at = r.stage_peak_at;
	u.quality = r.quality;
	u.ndays = r.ndays;
	u.days = r.days;
	PG_RETURN_POINTER(cb_usage_make(&u));
}
