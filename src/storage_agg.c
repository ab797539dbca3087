/*-------------------------------------------------------------------------
 *
 * storage_agg.c
 *	  classbill.storage_days(from, to, bytes, ready_at, retention,
 *	  deleted_at): byte-marks of a group of recordings (an account's) per
 *	  billing day of [from, to) (SPEC 4.2), the SQL face of storage.c.
 *
 * The state is the window's day boundaries, found once in the billing
 * time zone, and two arrays of 128-bit sums over its days.  Each file is
 * checked (SPEC 8: negative bytes, a deletion before the file was ready,
 * a negative retention are errors naming the value) and added in O(1)
 * plus two partial days.  Combine, serialize and deserialize make the
 * aggregate parallel safe; every row of a group must name the same
 * window.
 *
 * A retention is elapsed time: an interval's months count 30 days and its
 * days 24 hours, as extract(epoch from interval) counts them, so the
 * session's TimeZone never moves an expiry.
 *
 *-------------------------------------------------------------------------
 */
#include "classbill.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "funcapi.h"
#include "access/htup_details.h"

#include "storage.h"

typedef struct StorageState
{
	DateADT		from;
	DateADT		to;
	CbStorage	s;
	int64	   *starts;
} StorageState;

static StorageState *
state_create(MemoryContext ctx, DateADT from, DateADT to)
{
	StorageState *st;
	pg_tz	   *tz = cb_billing_tz();
	uint32		n,
				i;

	if (DATE_NOT_FINITE(from) || DATE_NOT_FINITE(to) || to <= from ||
		from < CB_MIN_DAY || to > CB_MAX_DAY + 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("storage window [%s, %s) is not a range of billing days",
						DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(from))),
						DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(to))))));
	if (to - from > CB_STORAGE_MAX_DAYS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("storage window of %d days is too long", to - from),
				 errhint("Price storage at most a century at a time.")));
	n = (uint32) (to - from);
	st = MemoryContextAllocZero(ctx, sizeof(StorageState));
	st->from = from;
	st->to = to;
	st->starts = MemoryContextAlloc(ctx, (n + 1) * sizeof(int64));
	for (i = 0; i <= n; i++)
		st->starts[i] = cb_day_start(tz, from + (int32) i);
	st->s.first_day = from;
	st->s.ndays = n;
	st->s.starts = st->starts;
	st->s.whole = MemoryContextAllocZero(ctx, (n + 1) * sizeof(cb_int128));
	st->s.partial = MemoryContextAllocZero(ctx, n * sizeof(cb_int128));
	return st;
}

static void
same_window(StorageState *st, DateADT from, DateADT to)
{
	if (from != st->from || to != st->to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("every row of a storage_days group must give the same window")));
}

/* A retention as elapsed microseconds (months of 30 days, days of 24 h). */
static int64
retention_usec(Interval *iv, bool *overflow)
{
	int64		usec = iv->time;
	int64		days = (int64) iv->month * DAYS_PER_MONTH + iv->day;

	*overflow = pg_mul_s64_overflow(days, CB_USEC_PER_DAY, &days) ||
		pg_add_s64_overflow(usec, days, &usec);
	return usec;
}

static char *
ts_text(TimestampTz t)
{
	return pstrdup(timestamptz_to_str(t));
}

CB_FUNCTION(classbill_storage_trans);
Datum
classbill_storage_trans(PG_FUNCTION_ARGS)
{
	StorageState *st;
	DateADT		from,
				to;
	int64		bytes;
	TimestampTz ready,
				end = CB_NO_END;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the storage window must not be NULL")));
	from = PG_GETARG_DATEADT(1);
	to = PG_GETARG_DATEADT(2);
	if (PG_ARGISNULL(0))
	{
		MemoryContext aggctx;

		if (!AggCheckCallContext(fcinfo, &aggctx))
			elog(ERROR, "classbill_storage_trans called in non-aggregate context");
		st = state_create(aggctx, from, to);
	}
	else
	{
		st = (StorageState *) PG_GETARG_POINTER(0);
		same_window(st, from, to);
	}

	/* SPEC 8: the file */
	if (PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a recording needs its size and the time it was ready")));
	bytes = PG_GETARG_INT64(3);
	ready = PG_GETARG_TIMESTAMPTZ(4);
	if (bytes < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recording size " INT64_FORMAT " bytes is negative", bytes),
				 errdetail("The recording was ready at %s.", ts_text(ready))));
	if (ready < CB_MIN_AT || ready >= CB_MAX_AT)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("recording ready time %s is outside the supported range",
						ts_text(ready))));
	if (!PG_ARGISNULL(5))
	{
		Interval   *retention = PG_GETARG_INTERVAL_P(5);
		bool		overflow;
		int64		keep = retention_usec(retention, &overflow);

		if (!overflow && keep < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("retention %s is negative",
							DatumGetCString(DirectFunctionCall1(interval_out,
																IntervalPGetDatum(retention)))),
					 errdetail("The recording was ready at %s.", ts_text(ready))));
		if (!overflow && keep < CB_MAX_AT - ready)
			end = ready + keep;
	}
	if (!PG_ARGISNULL(6))
	{
		TimestampTz deleted = PG_GETARG_TIMESTAMPTZ(6);

		if (deleted < ready)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("recording deleted at %s, before it was ready at %s",
							ts_text(deleted), ts_text(ready))));
		if (deleted < end)
			end = deleted;
	}

	cb_storage_add(&st->s, bytes, ready, end);
	PG_RETURN_POINTER(st);
}

CB_FUNCTION(classbill_storage_combine);
Datum
classbill_storage_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	StorageState *st1;
	StorageState *st2;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "classbill_storage_combine called in non-aggregate context");
	st1 = PG_ARGISNULL(0) ? NULL : (StorageState *) PG_GETARG_POINTER(0);
	st2 = PG_ARGISNULL(1) ? NULL : (StorageState *) PG_GETARG_POINTER(1);
	if (st2 == NULL)
	{
		if (st1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st1);
	}
	if (st1 == NULL)
		st1 = state_create(aggctx, st2->from, st2->to);
	else
		same_window(st1, st2->from, st2->to);
	cb_storage_merge(&st1->s, &st2->s);
	PG_RETURN_POINTER(st1);
}

/* The serialized form is storage.h's; this only wraps it in a bytea. */
CB_FUNCTION(classbill_storage_serial);
Datum
classbill_storage_serial(PG_FUNCTION_ARGS)
{
	StorageState *st = (StorageState *) PG_GETARG_POINTER(0);
	Size		size = cb_storage_state_size(st->s.ndays);
	bytea	   *result = palloc(VARHDRSZ + size);

	SET_VARSIZE(result, VARHDRSZ + size);
	cb_storage_serialize(&st->s, (uint8 *) VARDATA(result));
	PG_RETURN_BYTEA_P(result);
}

CB_FUNCTION(classbill_storage_deserial);
Datum
classbill_storage_deserial(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	CbStorageView v;
	const char *why;
	StorageState *st;

	why = cb_storage_open((const uint8 *) VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), &v);
	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid storage_days aggregate state: %s", why)));
	st = state_create(CurrentMemoryContext, v.first_day,
					  v.first_day + (DateADT) v.ndays);
	cb_storage_read(&v, &st->s);
	PG_RETURN_POINTER(st);
}

/* An exact decimal numeric from a 128-bit integer. */
static Numeric
numeric_from_int128(cb_int128 v)
{
	char		buf[48];
	char	   *p = buf + sizeof(buf) - 1;
	bool		neg = v < 0;
	unsigned __int128 u = neg ? -(unsigned __int128) v : (unsigned __int128) v;

	*p = '\0';
	do
	{
		*--p = (char) ('0' + (int) (u % 10));
		u /= 10;
	} while (u != 0);
	if (neg)
		*--p = '-';
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(p),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

/* Days with storage: (day, marks, byte_marks). */
CB_FUNCTION(classbill_storage_final);
Datum
classbill_storage_final(PG_FUNCTION_ARGS)
{
	StorageState *st;
	CbStorage	s;
	Oid			elemtype = get_element_type(get_fn_expr_rettype(fcinfo->flinfo));
	TupleDesc	desc;
	Datum	   *elems;
	int			nelems = 0;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	uint32		i;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (StorageState *) PG_GETARG_POINTER(0);
	if (!OidIsValid(elemtype))
		elog(ERROR, "storage_days must return an array");

	/* the running sums go to a copy: the state stays what it was */
	s = st->s;
	s.whole = palloc((s.ndays + 1) * sizeof(cb_int128));
	memcpy(s.whole, st->s.whole, (s.ndays + 1) * sizeof(cb_int128));
	cb_storage_finish(&s);

	desc = BlessTupleDesc(lookup_rowtype_tupdesc_copy(elemtype, -1));
	elems = palloc(Max(s.ndays, 1) * sizeof(Datum));
	for (i = 0; i < s.ndays; i++)
	{
		cb_int128	bm = cb_storage_byte_marks(&s, i);
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		if (bm == 0)
			continue;
		values[0] = DateADTGetDatum(st->from + (DateADT) i);
		values[1] = Int32GetDatum((int32) cb_day_marks(s.starts[i], s.starts[i + 1]));
		values[2] = NumericGetDatum(numeric_from_int128(bm));
		elems[nelems++] = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	}
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, nelems, elemtype, typlen, typbyval, typalign));
}
