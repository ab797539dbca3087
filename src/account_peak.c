/*-------------------------------------------------------------------------
 *
 * account_peak.c
 *	  classbill.account_peak(room, participant, event, at) and
 *	  classbill.account_daily_peaks(...): the most participants present at
 *	  once across all the rooms of an account (SPEC 3.6).
 *
 * Each room's sessions are those of SPEC 1, built from that room's rows
 * alone ("end" closes only its own room), so the state keeps one room
 * buffer (room_state.h) per room, found by name.  The final functions
 * sweep every room, gather its presences and count them together
 * (concurrency.c).  Combine, serialize and deserialize work room by room,
 * so the aggregates run in parallel workers like room_usage.
 *
 *-------------------------------------------------------------------------
 */
#include "classbill.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "account_codec.h"
#include "concurrency.h"
#include "event_input.h"

typedef struct Room
{
	char	   *name;
	uint32		namelen;
	uint32		hash;
	CbRoomState *st;
} Room;

typedef struct AccountState
{
	MemoryContext ctx;
	uint32		nrooms;
	uint32		maxrooms;
	Room	   *rooms;
	uint32	   *slots;			/* room index + 1, 0 for empty */
	uint32		slotmask;
} AccountState;

static AccountState *
account_create(MemoryContext ctx)
{
	AccountState *as = MemoryContextAllocZero(ctx, sizeof(AccountState));

	as->ctx = ctx;
	as->maxrooms = 8;
	as->rooms = MemoryContextAlloc(ctx, as->maxrooms * sizeof(Room));
	as->slotmask = 15;
	as->slots = MemoryContextAllocZero(ctx, 16 * sizeof(uint32));
	return as;
}

static uint32
name_hash(const char *name, uint32 len)
{
	return hash_bytes((const unsigned char *) name, (int) len);
}

/* The room of that name, created empty if it is new. */
static Room *
room_of(AccountState *as, const char *name, uint32 len)
{
	uint32		h = name_hash(name, len);
	uint32		i;
	Room	   *r;

	for (i = h & as->slotmask; as->slots[i] != 0; i = (i + 1) & as->slotmask)
	{
		r = &as->rooms[as->slots[i] - 1];
		if (r->hash == h && r->namelen == len && memcmp(r->name, name, len) == 0)
			return r;
	}

	if (as->nrooms == as->maxrooms)
	{
		as->maxrooms *= 2;
		as->rooms = repalloc_huge(as->rooms, (Size) as->maxrooms * sizeof(Room));
	}
	r = &as->rooms[as->nrooms++];
	r->name = MemoryContextAlloc(as->ctx, Max(len, 1));
	memcpy(r->name, name, len);
	r->namelen = len;
	r->hash = h;
	{
		CbMem		mem = cb_memory_in(as->ctx);

		r->st = cb_room_create(&mem, 24);
	}
	as->slots[i] = as->nrooms;

	/* keep the table at most half full */
	if (as->nrooms * 2 > as->slotmask + 1)
	{
		uint32		nslots = (as->slotmask + 1) * 2;
		uint32		k;

		pfree(as->slots);
		as->slots = MemoryContextAllocExtended(as->ctx, (Size) nslots * sizeof(uint32),
											   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		as->slotmask = nslots - 1;
		for (k = 0; k < as->nrooms; k++)
		{
			for (i = as->rooms[k].hash & as->slotmask; as->slots[i] != 0;
				 i = (i + 1) & as->slotmask)
				;
			as->slots[i] = k + 1;
		}
		r = &as->rooms[as->nrooms - 1];
	}
	return r;
}

CB_FUNCTION(classbill_account_peak_trans);
Datum
classbill_account_peak_trans(PG_FUNCTION_ARGS)
{
	AccountState *as;
	CbRow		row;
	text	   *room;
	Room	   *r;
	CbMem		mem;
	uint32		pid = 0;

	if (PG_ARGISNULL(0))
	{
		MemoryContext aggctx;

		if (!AggCheckCallContext(fcinfo, &aggctx))
			elog(ERROR, "classbill_account_peak_trans called in non-aggregate context");
		as = account_create(aggctx);
	}
	else
		as = (AccountState *) PG_GETARG_POINTER(0);

	cb_read_row(fcinfo, 2, &row);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("room must not be NULL"),
				 errdetail("Event \"%s\" at %s.", cb_kind_name(row.kind),
						   timestamptz_to_str(row.at))));
	room = PG_GETARG_TEXT_PP(1);
	r = room_of(as, VARDATA_ANY(room), VARSIZE_ANY_EXHDR(room));

	mem = cb_memory_in(as->ctx);
	cb_check_room_size(r->st, 1);
	if (row.who)
		cb_check_room(cb_room_participant(&r->st, &mem, row.who, row.wholen, &pid));
	cb_check_room(cb_room_add_event(&r->st, &mem, row.at, row.kind, pid));
	PG_RETURN_POINTER(as);
}

CB_FUNCTION(classbill_account_peak_combine);
Datum
classbill_account_peak_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	AccountState *as1;
	AccountState *as2;
	CbMem		mem;
	uint32		k;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "classbill_account_peak_combine called in non-aggregate context");
	as1 = PG_ARGISNULL(0) ? NULL : (AccountState *) PG_GETARG_POINTER(0);
	as2 = PG_ARGISNULL(1) ? NULL : (AccountState *) PG_GETARG_POINTER(1);
	if (as2 == NULL)
	{
		if (as1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(as1);
	}
	if (as1 == NULL)
		as1 = account_create(aggctx);
	mem = cb_memory_in(as1->ctx);
	for (k = 0; k < as2->nrooms; k++)
	{
		Room	   *src = &as2->rooms[k];
		Room	   *dst = room_of(as1, src->name, src->namelen);

		cb_check_room_size(dst->st, src->st->nevents);
		cb_check_room(cb_room_merge(&dst->st, &mem, src->st));
	}
	PG_RETURN_POINTER(as1);
}

/* The serialized form is account_codec.h's; this only wraps it in a bytea. */
CB_FUNCTION(classbill_account_peak_serial);
Datum
classbill_account_peak_serial(PG_FUNCTION_ARGS)
{
	AccountState *as = (AccountState *) PG_GETARG_POINTER(0);
	uint64		size = CB_ACCOUNT_HEADER;
	bytea	   *result;
	uint8	   *p;
	uint32		k;

	for (k = 0; k < as->nrooms && size <= MaxAllocSize; k++)
	{
		uint64		s = cb_account_room_size(as->rooms[k].namelen, as->rooms[k].st);

		size = (s == 0) ? PG_UINT64_MAX : size + s;
	}
	if (size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("account_peak state of %u rooms is too large to pass between processes",
						as->nrooms),
				 errhint("Disable parallel aggregation for this query (SET max_parallel_workers_per_gather = 0).")));
	result = palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	p = cb_account_write_header((uint8 *) VARDATA(result), as->nrooms);
	for (k = 0; k < as->nrooms; k++)
		p = cb_account_write_room(p, as->rooms[k].name, as->rooms[k].namelen,
								  as->rooms[k].st);
	PG_RETURN_BYTEA_P(result);
}

CB_FUNCTION(classbill_account_peak_deserial);
Datum
classbill_account_peak_deserial(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	CbAccountView v;
	const char *why;
	AccountState *as;
	CbMem		mem;
	const uint8 *p;
	uint32		k;

	why = cb_account_open((const uint8 *) VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), &v);
	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid account_peak aggregate state: %s", why)));
	as = account_create(CurrentMemoryContext);
	mem = cb_memory_in(CurrentMemoryContext);
	/* a name that comes twice is one room, as in the transition */
	for (k = 0, p = v.rooms; k < v.nrooms; k++)
	{
		CbAccountRoom room;
		CbRoomState *st;
		Room	   *r;

		cb_account_room(&v, p, &room);
		p = room.next;
		cb_check_room(cb_room_deserialize(&room.state, &mem, &st));
		r = room_of(as, room.name, room.namelen);
		cb_check_room(cb_room_merge(&r->st, &mem, st));
		cb_room_free(st, &mem);
	}
	PG_RETURN_POINTER(as);
}

/* ----------------------------------------------------------------
 * Finals
 * ----------------------------------------------------------------
 */
typedef struct Intervals
{
	int64	   *v;				/* start, end, start, end... */
	Size		n;
	Size		cap;
} Intervals;

static void
collect(void *arg, int64_t start, int64_t end)
{
	Intervals  *iv = (Intervals *) arg;

	if (iv->n == iv->cap)
	{
		iv->cap = iv->cap ? iv->cap * 2 : 256;
		iv->v = iv->v ? repalloc_huge(iv->v, iv->cap * 2 * sizeof(int64))
			: palloc_extended(iv->cap * 2 * sizeof(int64), MCXT_ALLOC_HUGE);
	}
	iv->v[2 * iv->n] = start;
	iv->v[2 * iv->n + 1] = end;
	iv->n++;
}

/* Per billing day, the peak across all rooms and its first instant. */
static CbDayPeak *
daily_peaks(AccountState *as, size_t *ndays)
{
	Intervals	iv = {NULL, 0, 0};
	CbPresenceSink sink = {collect, &iv};
	CbCalendar	cal = cb_calendar(cb_billing_tz());
	CbDayPeak  *days;
	CbStatus	status;
	uint32		k;

	for (k = 0; k < as->nrooms; k++)
	{
		CbRoomState *st = as->rooms[k].st;
		CbEvent    *ev = cb_room_events(st);
		CbSweepResult r;

		status = cb_sweep(ev, st->nevents, st->nparticipants, &cal,
						  &cb_palloc_allocator, cb_interrupt, &sink, &r);
		if (status != CB_OK)
			cb_report_status(status, "account_peak");
		pfree(ev);
	}
	status = cb_daily_peaks(iv.v, iv.n, &cal, &cb_palloc_allocator, &days, ndays);
	if (status != CB_OK)
		cb_report_status(status, "account_peak");
	return days;
}

CB_FUNCTION(classbill_account_peak_final);
Datum
classbill_account_peak_final(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	CbDayPeak  *days;
	size_t		ndays,
				i;
	int32		peak = 0;
	int64		at = CB_NO_TIME;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "account_peak must return a composite type");
	days = daily_peaks((AccountState *) PG_GETARG_POINTER(0), &ndays);
	for (i = 0; i < ndays; i++)
		if (days[i].peak > peak)
		{
			peak = days[i].peak;
			at = days[i].at;
		}
	values[0] = Int32GetDatum(peak);
	values[1] = TimestampTzGetDatum(at);
	nulls[1] = (at == CB_NO_TIME);
	desc = BlessTupleDesc(desc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

CB_FUNCTION(classbill_account_daily_peaks_final);
Datum
classbill_account_daily_peaks_final(PG_FUNCTION_ARGS)
{
	Oid			arraytype = get_fn_expr_rettype(fcinfo->flinfo);
	Oid			elemtype = get_element_type(arraytype);
	TupleDesc	desc;
	CbDayPeak  *days;
	size_t		ndays,
				i;
	Datum	   *elems;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (!OidIsValid(elemtype))
		elog(ERROR, "account_daily_peaks must return an array");
	desc = lookup_rowtype_tupdesc_copy(elemtype, -1);
	desc = BlessTupleDesc(desc);
	days = daily_peaks((AccountState *) PG_GETARG_POINTER(0), &ndays);
	elems = palloc(Max(ndays, 1) * sizeof(Datum));
	for (i = 0; i < ndays; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = DateADTGetDatum(days[i].day);
		values[1] = Int32GetDatum(days[i].peak);
		values[2] = TimestampTzGetDatum(days[i].at);
		elems[i] = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	}
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, (int) ndays, elemtype,
										  typlen, typbyval, typalign));
}
