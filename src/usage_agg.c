/*-------------------------------------------------------------------------
 *
 * usage_agg.c
 *	  classbill.room_usage(participant, event, at): the aggregate that
 *	  buffers one room's event rows and sweeps them into a usage value.
 *
 * Transition state (internal): one CbRoomState per group (room_state.h),
 * allocated in the aggregate context: a single buffer with the group's
 * events, 8 bytes each while they fit, and its participants' names, each
 * stored once.  Rows are checked as they arrive (SPEC 8, event_input.c),
 * so a bad row stops the query before anything else is done with it.
 *
 * The combine, serialize and deserialize functions let PostgreSQL run the
 * aggregate in parallel workers and per partition (SPEC 1.9): serialized
 * states carry participant names, not numbers, and combining looks each
 * name up in the receiving state.  The final function puts the events in
 * processing order and sweeps them; it reads classbill.billing_timezone
 * then, so the zone lives in the result and nowhere in the state.
 *
 * Over a plain table every worker holds a part of every room, and the
 * leader alone combines and sweeps them all, so the work is shifted off
 * the leader: a worker sorts its part before serializing it; the leader's
 * deserialize function only checks the form and hands combine a view of
 * it (UsageView), and combine merges the view's sorted run straight into
 * the group's sorted state, so no state is built twice and the final
 * function finds its events in order.
 *
 *-------------------------------------------------------------------------
 */
#include "classbill.h"

#include "fmgr.h"
#include "utils/memutils.h"

#include "event_input.h"
#include "state_codec.h"

/*
 * What the deserialize function returns: a checked serialized form, not a
 * state.  Its first word is 0 where a CbRoomState's is its size, never 0,
 * so combine tells the two apart (partial states reach combine
 * unserialized when no process boundary lies between, as in a
 * partitionwise plan without workers).
 */
typedef struct UsageView
{
	uint64		zero;
	CbStateView v;
} UsageView;

static inline bool
is_view(const void *p)
{
	return ((const UsageView *) p)->zero == 0;
}

static inline CbRoomState *
state_arg(FunctionCallInfo fcinfo, int n)
{
	CbRoomState *st = (CbRoomState *) PG_GETARG_POINTER(n);

	if (is_view(st))
		elog(ERROR, "room_usage: a serialized state where a state was expected");
	return st;
}

CB_FUNCTION(classbill_room_usage_trans);
Datum
classbill_room_usage_trans(PG_FUNCTION_ARGS)
{
	CbRow		row;
	CbMem		mem;
	CbRoomState *st;
	uint32		pid = 0;

	cb_read_row(fcinfo, 1, &row);

	/*
	 * The first row of a group makes sure this is an aggregate call and
	 * creates the state in the aggregate context; the others find the
	 * context from the state.
	 */
	if (PG_ARGISNULL(0))
	{
		MemoryContext aggctx;

		if (!AggCheckCallContext(fcinfo, &aggctx))
			elog(ERROR, "classbill_room_usage_trans called in non-aggregate context");
		mem = cb_memory_in(aggctx);
		st = cb_room_create(&mem, 24);
	}
	else
	{
		st = (CbRoomState *) PG_GETARG_POINTER(0);
		mem = cb_memory_of(st);
		cb_check_room_size(st, 1);
	}

	if (row.who)
		cb_check_room(cb_room_participant(&st, &mem, row.who, row.wholen, &pid));
	cb_check_room(cb_room_add_event(&st, &mem, row.at, row.kind, pid));
	PG_RETURN_POINTER(st);
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

	st1 = PG_ARGISNULL(0) ? NULL : state_arg(fcinfo, 0);
	if (PG_ARGISNULL(1))
	{
		if (st1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st1);
	}
	/* never hand back the second: it lives in memory the executor will reset */
	mem = cb_memory_in(aggctx);
	if (is_view(PG_GETARG_POINTER(1)))
	{
		const CbStateView *v = &((const UsageView *) PG_GETARG_POINTER(1))->v;

		if (st1 == NULL)
			cb_check_room(cb_room_deserialize(v, &mem, &st1));
		else
		{
			cb_check_room_size(st1, v->nevents);
			cb_check_room(cb_room_merge_serialized(&st1, &mem, v));
		}
		PG_RETURN_POINTER(st1);
	}
	st2 = state_arg(fcinfo, 1);
	if (st1 == NULL)
	{
		cb_check_room_size(st2, 0);
		PG_RETURN_POINTER(cb_room_copy(st2, &mem));
	}
	cb_check_room_size(st1, st2->nevents);
	cb_check_room(cb_room_merge(&st1, &mem, st2));
	PG_RETURN_POINTER(st1);
}

CB_FUNCTION(classbill_room_usage_serial);
Datum
classbill_room_usage_serial(PG_FUNCTION_ARGS)
{
	CbRoomState *st = state_arg(fcinfo, 0);
	Size		size = cb_room_serial_size(st);
	CbMem		mem = cb_memory_in(CurrentMemoryContext);
	bytea	   *result;

	if (size == 0 || size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("room_usage state of %u events is too large to pass between processes",
						st->nevents),
				 errhint("Disable parallel aggregation for this query (SET max_parallel_workers_per_gather = 0).")));
	/* sorted here, in the worker, the leader's combine merges sorted runs */
	cb_room_sort(st, &mem);
	result = palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	cb_room_serialize(st, (uint8 *) VARDATA(result));
	PG_RETURN_BYTEA_P(result);
}

/*
 * A checked view of the form (UsageView), in the current memory context
 * with the detoasted bytes it points into; combine reads it once, before
 * the executor resets that context.
 */
CB_FUNCTION(classbill_room_usage_deserial);
Datum
classbill_room_usage_deserial(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	UsageView  *view = palloc(sizeof(UsageView));
	const char *why;

	why = cb_state_open((const uint8 *) VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), &view->v);
	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid room_usage aggregate state: %s", why)));
	if (view->v.nevents > (uint32) cb_max_room_events)
		cb_room_limit_exceeded(view->v.nevents);
	view->zero = 0;
	PG_RETURN_POINTER(view);
}

CB_FUNCTION(classbill_room_usage_final);
Datum
classbill_room_usage_final(PG_FUNCTION_ARGS)
{
	CbRoomState *st;
	CbEvent    *ev;
	CbCalendar	cal;
	pg_tz	   *tz;
	CbSweepResult r;
	CbStatus	status;
	CbUsage		u;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = state_arg(fcinfo, 0);
	ev = cb_room_events(st);

	tz = cb_billing_tz();
	cal = cb_calendar(tz);
	status = cb_sweep(ev, st->nevents, st->nparticipants, &cal,
					  &cb_palloc_allocator, cb_interrupt, NULL, &r);
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
