/*-------------------------------------------------------------------------
 *
 * usage_agg.c
 *	  classbill.room_usage(participant, event, at): the aggregate that
 *	  buffers one room's event rows and sweeps them into a usage value.
 *
 * Transition state (internal, allocated in the aggregate context, one
 * flat structure per group, no memory context of its own):
 *	- the events, 12 bytes each (event.h), in arrival order;
 *	- a participant dictionary: names concatenated in one buffer, the end
 *	  offset of each, and an open-addressing table from name to number.
 * Rows are checked as they arrive (SPEC 8), so a bad row stops the query
 * before anything else is done with it.
 *
 * The combine, serialize and deserialize functions let PostgreSQL run the
 * aggregate in parallel workers and per partition (SPEC 1.9): partial
 * states carry names, not numbers, and are re-interned when combined.
 * The final function sorts and sweeps; it reads classbill.billing_timezone
 * then, so the zone lives in the result and nowhere in the state.
 *
 *-------------------------------------------------------------------------
 */
#include "classbill.h"

#include <limits.h>

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "byteorder.h"
#include "state_codec.h"

#define NO_PID UINT32_MAX

typedef struct UsageState
{
	CbEvent    *events;
	uint32		nevents;
	uint32		maxevents;

	/* participant dictionary */
	uint32		nparts;
	uint32		maxparts;
	uint32	   *name_end;		/* name of pid p is names[end(p-1), end(p)) */
	char	   *names;
	Size		namebytes;
	Size		namecap;
	uint32	   *slots;			/* pid + 1, 0 for empty; NULL if flat */
	uint32		slotmask;
	uint32		lastpid;		/* most recent lookup, NO_PID if none */
	MemoryContext ctx;
} UsageState;

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
 * Growing arrays
 *
 * Small requests are rounded up to a power of two, which is what the
 * allocator hands out anyway, so all of it becomes capacity.  Above 8 kB
 * chunks are exact, and growth by half keeps the slack near a quarter.
 * ----------------------------------------------------------------
 */
static Size
grow_bytes(Size need)
{
	Size		size = 64;

	if (need > 8192)
		return need + need / 2;
	while (size < need)
		size *= 2;
	return size;
}

static void *
grow(MemoryContext ctx, void *ptr, Size need, Size *got)
{
	Size		size = grow_bytes(need);

	*got = size;
	if (ptr == NULL)
		return MemoryContextAllocHuge(ctx, size);
	return repalloc_huge(ptr, size);
}

static UsageState *
state_create(MemoryContext ctx)
{
	UsageState *st = MemoryContextAllocZero(ctx, sizeof(UsageState));

	st->ctx = ctx;
	st->lastpid = NO_PID;
	return st;
}

static void
reserve_events(UsageState *st, uint64 more)
{
	Size		got;

	if (st->nevents + more <= st->maxevents)
		return;
	if (st->nevents + more > (uint64) max_room_events)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("room has more than %d event rows", max_room_events),
				 errdetail("Each room_usage group holds one room's events until it is finished."),
				 errhint("Check that the query groups by room, or raise classbill.max_room_events (12 bytes of memory per row).")));
	st->events = grow(st->ctx, st->events, (st->nevents + more) * sizeof(CbEvent), &got);
	st->maxevents = (uint32) Min(got / sizeof(CbEvent), (Size) PG_UINT32_MAX);
}

static inline void
add_event(UsageState *st, int64 at, int kind, uint32 pid)
{
	if (st->nevents == st->maxevents)
		reserve_events(st, 1);
	cb_event_set(&st->events[st->nevents++], at, kind, pid);
}

/* ----------------------------------------------------------------
 * Participant dictionary
 * ----------------------------------------------------------------
 */
static inline const char *
name_of(const UsageState *st, uint32 pid, uint32 *len)
{
	uint32		start = pid ? st->name_end[pid - 1] : 0;

	*len = st->name_end[pid] - start;
	return st->names + start;
}

static void
rehash(UsageState *st, uint32 nslots)
{
	uint32		pid;

	if (st->slots)
		pfree(st->slots);
	st->slots = MemoryContextAllocZero(st->ctx, nslots * sizeof(uint32));
	st->slotmask = nslots - 1;
	for (pid = 0; pid < st->nparts; pid++)
	{
		uint32		len;
		const char *name = name_of(st, pid, &len);
		uint32		i = hash_bytes((const unsigned char *) name, (int) len) & st->slotmask;

		while (st->slots[i] != 0)
			i = (i + 1) & st->slotmask;
		st->slots[i] = pid + 1;
	}
}

static uint32
intern(UsageState *st, const char *name, uint32 len)
{
	uint32		i,
				pid;
	Size		got;

	/* rows of one participant often arrive together */
	if (st->lastpid != NO_PID)
	{
		uint32		l;
		const char *s = name_of(st, st->lastpid, &l);

		if (l == len && memcmp(s, name, len) == 0)
			return st->lastpid;
	}

	if (st->slots == NULL)
		rehash(st, 16);
	i = hash_bytes((const unsigned char *) name, (int) len) & st->slotmask;
	while (st->slots[i] != 0)
	{
		uint32		l;
		const char *s;

		pid = st->slots[i] - 1;
		s = name_of(st, pid, &l);
		if (l == len && memcmp(s, name, len) == 0)
		{
			st->lastpid = pid;
			return pid;
		}
		i = (i + 1) & st->slotmask;
	}

	/* a new participant */
	if (st->nparts + 1 >= CB_MAX_PARTICIPANTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("room has more than %u distinct participants",
						CB_MAX_PARTICIPANTS - 1)));
	if ((uint64) st->namebytes + len > PG_UINT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("participant names of one room exceed 4 GB")));
	if (st->nparts == st->maxparts)
	{
		st->name_end = grow(st->ctx, st->name_end,
							(st->nparts + 1) * sizeof(uint32), &got);
		st->maxparts = (uint32) (got / sizeof(uint32));
	}
	if (st->namebytes + len > st->namecap)
		st->names = grow(st->ctx, st->names, st->namebytes + len, &st->namecap);
	memcpy(st->names + st->namebytes, name, len);
	st->namebytes += len;
	pid = st->nparts++;
	st->name_end[pid] = (uint32) st->namebytes;
	st->slots[i] = pid + 1;
	st->lastpid = pid;

	/* keep the table at most half full */
	if (st->nparts * 2 > st->slotmask + 1)
		rehash(st, (st->slotmask + 1) * 2);
	return pid;
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
		st = state_create(aggctx);
	else
		st = (UsageState *) PG_GETARG_POINTER(0);

	if (cb_kind_has_participant(kind))
	{
		text	   *who = PG_GETARG_TEXT_PP(1);

		pid = intern(st, VARDATA_ANY(who), VARSIZE_ANY_EXHDR(who));
	}
	add_event(st, at, kind, pid);
	PG_RETURN_POINTER(st);
}

/* ----------------------------------------------------------------
 * Combine, serialize, deserialize
 * ----------------------------------------------------------------
 */

/* Append every event of src to dst, renumbering its participants. */
static void
merge_into(UsageState *dst, const UsageState *src)
{
	uint32	   *map = NULL;
	uint32		pid,
				i;

	if (src->nparts > 0)
		map = palloc(src->nparts * sizeof(uint32));
	for (pid = 0; pid < src->nparts; pid++)
	{
		uint32		len;
		const char *name = name_of(src, pid, &len);

		map[pid] = intern(dst, name, len);
	}

	reserve_events(dst, src->nevents);
	for (i = 0; i < src->nevents; i++)
	{
		const CbEvent *e = &src->events[i];
		int			kind = cb_event_kind(e);

		cb_event_set(&dst->events[dst->nevents++], cb_event_at(e), kind,
					 cb_kind_has_participant(kind) ? map[cb_event_pid(e)] : 0);
	}
	if (map)
		pfree(map);
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
		st1 = state_create(aggctx);
	merge_into(st1, st2);
	PG_RETURN_POINTER(st1);
}

PG_FUNCTION_INFO_V1(classbill_room_usage_serial);
Datum
classbill_room_usage_serial(PG_FUNCTION_ARGS)
{
	UsageState *st = (UsageState *) PG_GETARG_POINTER(0);
	Size		size = cb_state_size(st->nparts, st->namebytes, st->nevents);
	bytea	   *result;
	uint8	   *p;
	uint32		pid,
				i;

	if (size == 0 || size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("room_usage state of %u events is too large to pass between processes",
						st->nevents),
				 errhint("Disable parallel aggregation for this query (SET max_parallel_workers_per_gather = 0).")));
	result = palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	p = cb_state_write_header((uint8 *) VARDATA(result), st->nparts,
							  (uint32) st->namebytes, st->nevents);
	for (pid = 0; pid < st->nparts; pid++)
	{
		uint32		len;

		(void) name_of(st, pid, &len);
		cb_put32(p, len);
		p += 4;
	}
	if (st->namebytes > 0)
		memcpy(p, st->names, st->namebytes);
	p += st->namebytes;
	for (i = 0; i < st->nevents; i++)
		p = cb_state_write_event(p, &st->events[i]);
	PG_RETURN_BYTEA_P(result);
}

/*
 * The result is a flat state (no hash table) in the current memory
 * context: the combine function only reads it, re-interning its names.
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
	Size		end = 0;

	why = cb_state_open((const uint8 *) VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), &v);
	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid room_usage aggregate state: %s", why)));

	st = state_create(CurrentMemoryContext);
	st->nparts = st->maxparts = v.nparticipants;
	st->nevents = st->maxevents = v.nevents;
	st->namebytes = st->namecap = v.namebytes;
	st->name_end = palloc_extended(Max(v.nparticipants, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	st->names = palloc_extended(Max(v.namebytes, 1), MCXT_ALLOC_HUGE);
	st->events = palloc_extended(Max((Size) v.nevents, 1) * sizeof(CbEvent), MCXT_ALLOC_HUGE);
	for (i = 0; i < v.nparticipants; i++)
	{
		end += cb_get32(v.lengths + 4 * (Size) i);
		st->name_end[i] = (uint32) end;
	}
	if (v.namebytes > 0)
		memcpy(st->names, v.names, v.namebytes);
	for (i = 0; i < v.nevents; i++)
		cb_state_event(&v, i, &st->events[i]);
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
	CbEvent    *tmp;
	CbCalendar	cal;
	pg_tz	   *tz;
	CbSweepResult r;
	CbStatus	status;
	CbUsage		u;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (UsageState *) PG_GETARG_POINTER(0);

	/*
	 * Sorting in place leaves the state meaning what it meant (the order of
	 * buffered rows carries nothing), so later transitions stay valid.
	 */
	if (!cb_events_sorted(st->events, st->nevents))
	{
		tmp = palloc_extended(Max((Size) st->nevents, 1) * sizeof(CbEvent), MCXT_ALLOC_HUGE);
		cb_sort_events(st->events, st->nevents, tmp);
		pfree(tmp);
	}

	tz = cb_billing_tz();
	cal = cb_calendar(tz);
	status = cb_sweep(st->events, st->nevents, st->nparts, &cal,
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
