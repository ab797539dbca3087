/*-------------------------------------------------------------------------
 *
 * usage_agg.c
 *	  classbill.room_usage(participant, event, at): the aggregate that
 *	  buffers one room's event rows and sweeps them into a usage value.
 *
 * Transition state (internal): one allocation per group in the aggregate
 * context, a 16-byte header followed by the group's events, 12 bytes each
 * (event.h), in arrival order.  Participants are numbered by a dictionary
 * that all groups of the context share (participants.c), so a group holds
 * no names and no memory context of its own.  Rows are checked as they
 * arrive (SPEC 8), so a bad row stops the query before anything else is
 * done with it.
 *
 * The combine, serialize and deserialize functions let PostgreSQL run the
 * aggregate in parallel workers and per partition (SPEC 1.9): serialized
 * states carry the names of their participants, and combining looks them
 * up in the receiving context's dictionary.  The final function
 * renumbers, sorts and sweeps a copy of the events; it reads
 * classbill.billing_timezone then, so the zone lives in the result and
 * nowhere in the state.
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
#include "participants.h"
#include "state_codec.h"

typedef struct UsageState
{
	CbDict	   *dict;			/* numbers the participants of events */
	uint32		nevents;
	uint32		maxevents;
	CbEvent		events[FLEXIBLE_ARRAY_MEMBER];
} UsageState;

#define STATE_BYTES(n)	(offsetof(UsageState, events) + (Size) (n) * sizeof(CbEvent))

static int	max_room_events = 100000000;

void
cb_define_usage_settings(void)
{
	DefineCustomIntVariable("classbill.max_room_events",
							"Most event rows one room_usage group may hold.",
							"Each buffered row takes 12 bytes while the group is aggregated.",
							&max_room_events,
							100000000,
							1,
							INT_MAX / 2,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
}

/* ----------------------------------------------------------------
 * The state
 *
 * Small states are sized to a power of two, which is what the allocator
 * hands out anyway, so all of it becomes capacity.  Above 8 kB chunks are
 * exact, and growth by half keeps the slack near a quarter.
 * ----------------------------------------------------------------
 */
static Size
state_bytes_for(uint64 nevents)
{
	Size		need = STATE_BYTES(nevents);
	Size		size = 64;

	if (need > 8192)
		return need + need / 2;
	while (size < need)
		size *= 2;
	return size;
}

static UsageState *
state_create(MemoryContext ctx, CbDict *dict, uint64 nevents)
{
	Size		bytes = state_bytes_for(nevents);
	UsageState *st = MemoryContextAllocHuge(ctx, bytes);

	st->dict = dict;
	st->nevents = 0;
	st->maxevents = (uint32) Min((bytes - STATE_BYTES(0)) / sizeof(CbEvent),
								 (Size) PG_UINT32_MAX);
	return st;
}

/* Room for more events; the state may move. */
static UsageState *
state_reserve(UsageState *st, uint64 more)
{
	uint64		need = (uint64) st->nevents + more;
	Size		bytes;

	if (need <= st->maxevents)
		return st;
	if (need > (uint64) max_room_events)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("room has more than %d event rows", max_room_events),
				 errdetail("Each room_usage group holds one room's events until it is finished."),
				 errhint("Check that the query groups by room, or raise classbill.max_room_events (12 bytes of memory per row).")));
	bytes = state_bytes_for(need);
	st = repalloc_huge(st, bytes);
	st->maxevents = (uint32) Min((bytes - STATE_BYTES(0)) / sizeof(CbEvent),
								 (Size) PG_UINT32_MAX);
	return st;
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

PG_FUNCTION_INFO_V1(classbill_room_usage_trans);
Datum
classbill_room_usage_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	UsageState *st;
	text	   *event;
	int			kind;
	TimestampTz at;
	uint32		pid = 0;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "classbill_room_usage_trans called in non-aggregate context");

	/* SPEC 8: the event kind */
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event kind must not be NULL"),
				 errdetail("Row: %s.", describe_row(fcinfo))));
	event = PG_GETARG_TEXT_PP(2);
	kind = cb_parse_kind(VARDATA_ANY(event), VARSIZE_ANY_EXHDR(event));
	if (kind < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown event kind %s", quote_arg(event)),
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
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("event time must be finite, not %s",
						timestamptz_to_str(at)),
				 errdetail("Row: %s, event \"%s\".", describe_row(fcinfo),
						   cb_kind_name(kind))));
	if (at < CB_MIN_AT || at >= CB_MAX_AT)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("event time %s is outside the supported range",
						timestamptz_to_str(at)),
				 errdetail("classbill accepts times from 1900-01-01 to 2299-12-31 UTC. Row: %s, event \"%s\".",
						   describe_row(fcinfo), cb_kind_name(kind))));

	/* SPEC 8: the participant, except on "end" */
	if (cb_kind_has_participant(kind) && PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("participant must not be NULL on a \"%s\" event",
						cb_kind_name(kind)),
				 errdetail("Row: %s.", describe_row(fcinfo)),
				 errhint("Only \"end\" events may have a NULL participant.")));

	if (PG_ARGISNULL(0))
		st = state_create(aggctx, cb_dict_for_context(fcinfo->flinfo, aggctx), 1);
	else
		st = state_reserve((UsageState *) PG_GETARG_POINTER(0), 1);

	if (cb_kind_has_participant(kind))
	{
		text	   *who = PG_GETARG_TEXT_PP(1);

		pid = cb_dict_intern(st->dict, VARDATA_ANY(who), VARSIZE_ANY_EXHDR(who));
	}
	cb_event_set(&st->events[st->nevents++], at, kind, pid);
	PG_RETURN_POINTER(st);
}

/* ----------------------------------------------------------------
 * Combine, serialize, deserialize
 * ----------------------------------------------------------------
 */

/*
 * A copy of a state's events with its participants numbered 0..k-1 (in
 * *k), and, with ids non-NULL, their dictionary numbers in *ids.
 */
static CbEvent *
renumbered_events(UsageState *st, uint32 *k, uint32 **ids)
{
	CbEvent    *out = palloc_extended(Max((Size) st->nevents, 1) * sizeof(CbEvent),
									  MCXT_ALLOC_HUGE);

	if (ids)
		*ids = palloc_extended(Max((Size) st->nevents, 1) * sizeof(uint32),
							   MCXT_ALLOC_HUGE);
	*k = cb_dict_renumber(st->dict, st->events, st->nevents, out,
						  ids ? *ids : NULL);
	return out;
}

/* Append every event of src to dst, in dst's participant numbers. */
static UsageState *
merge_into(UsageState *dst, UsageState *src)
{
	uint32		k,
				j,
				i;
	uint32	   *ids;
	CbEvent    *ev = renumbered_events(src, &k, &ids);

	/* ids[j]: src's number of participant j; now dst's number */
	for (j = 0; j < k; j++)
	{
		uint32		len;
		const char *name = cb_dict_name(src->dict, ids[j], &len);

		ids[j] = cb_dict_intern(dst->dict, name, len);
	}

	dst = state_reserve(dst, src->nevents);
	for (i = 0; i < src->nevents; i++)
	{
		int			kind = cb_event_kind(&ev[i]);

		cb_event_set(&dst->events[dst->nevents++], cb_event_at(&ev[i]), kind,
					 cb_kind_has_participant(kind) ? ids[cb_event_pid(&ev[i])] : 0);
	}
	pfree(ev);
	pfree(ids);
	return dst;
}

PG_FUNCTION_INFO_V1(classbill_room_usage_combine);
Datum
classbill_room_usage_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	UsageState *st1;
	UsageState *st2;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "classbill_room_usage_combine called in non-aggregate context");

	st1 = PG_ARGISNULL(0) ? NULL : (UsageState *) PG_GETARG_POINTER(0);
	st2 = PG_ARGISNULL(1) ? NULL : (UsageState *) PG_GETARG_POINTER(1);
	if (st2 == NULL)
	{
		if (st1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st1);
	}
	/* never hand back st2: it lives in memory the executor will reset */
	if (st1 == NULL)
		st1 = state_create(aggctx, cb_dict_for_context(fcinfo->flinfo, aggctx),
						   st2->nevents);
	PG_RETURN_POINTER(merge_into(st1, st2));
}

PG_FUNCTION_INFO_V1(classbill_room_usage_serial);
Datum
classbill_room_usage_serial(PG_FUNCTION_ARGS)
{
	UsageState *st = (UsageState *) PG_GETARG_POINTER(0);
	uint32		k,
				j,
				i;
	uint32	   *ids;
	CbEvent    *ev = renumbered_events(st, &k, &ids);
	uint64		namebytes = 0;
	Size		size;
	bytea	   *result;
	uint8	   *p;

	for (j = 0; j < k; j++)
	{
		uint32		len;

		(void) cb_dict_name(st->dict, ids[j], &len);
		namebytes += len;
	}
	size = cb_state_size(k, namebytes, st->nevents);
	if (size == 0 || size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("room_usage state of %u events is too large to pass between processes",
						st->nevents),
				 errhint("Disable parallel aggregation for this query (SET max_parallel_workers_per_gather = 0).")));
	result = palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	p = cb_state_write_header((uint8 *) VARDATA(result), k, (uint32) namebytes,
							  st->nevents);
	for (j = 0; j < k; j++)
	{
		uint32		len;

		(void) cb_dict_name(st->dict, ids[j], &len);
		cb_put32(p, len);
		p += 4;
	}
	for (j = 0; j < k; j++)
	{
		uint32		len;
		const char *name = cb_dict_name(st->dict, ids[j], &len);

		memcpy(p, name, len);
		p += len;
	}
	for (i = 0; i < st->nevents; i++)
		p = cb_state_write_event(p, &ev[i]);
	PG_RETURN_BYTEA_P(result);
}

/*
 * The result, in the current memory context, has a private dictionary
 * that only lists its names: the combine function reads it once.
 */
PG_FUNCTION_INFO_V1(classbill_room_usage_deserial);
Datum
classbill_room_usage_deserial(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	CbStateView v;
	const char *why;
	UsageState *st;
	uint32		i;
	const uint8 *name;

	why = cb_state_open((const uint8 *) VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), &v);
	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid room_usage aggregate state: %s", why)));

	st = state_create(CurrentMemoryContext,
					  cb_dict_create_list(CurrentMemoryContext, v.nparticipants),
					  v.nevents);
	name = v.names;
	for (i = 0; i < v.nparticipants; i++)
	{
		uint32		len = cb_get32(v.lengths + 4 * (Size) i);

		cb_dict_append(st->dict, (const char *) name, len);
		name += len;
	}
	for (i = 0; i < v.nevents; i++)
		cb_state_event(&v, i, &st->events[i]);
	st->nevents = v.nevents;
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

PG_FUNCTION_INFO_V1(classbill_room_usage_final);
Datum
classbill_room_usage_final(PG_FUNCTION_ARGS)
{
	UsageState *st;
	CbEvent    *ev;
	uint32		k;
	CbCalendar	cal;
	pg_tz	   *tz;
	CbSweepResult r;
	CbStatus	status;
	CbUsage		u;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (UsageState *) PG_GETARG_POINTER(0);

	/* the state itself is left as it is: transitions may follow */
	ev = renumbered_events(st, &k, NULL);
	if (!cb_events_sorted(ev, st->nevents))
	{
		CbEvent    *tmp = palloc_extended((Size) st->nevents * sizeof(CbEvent),
										  MCXT_ALLOC_HUGE);

		cb_sort_events(ev, st->nevents, tmp);
		pfree(tmp);
	}

	tz = cb_billing_tz();
	cal = cb_calendar(tz);
	status = cb_sweep(ev, st->nevents, k, &cal,
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
	u.quality = r.quality;
	u.ndays = r.ndays;
	u.days = r.days;
	PG_RETURN_POINTER(cb_usage_make(&u));
}
