/*-------------------------------------------------------------------------
 *
 * drawdown_sql.c
 *	  classbill.drawdown(uses, packs): the SQL face of drawdown.c.
 *
 * Takes one account's and one tier's billable minutes per day and mode,
 * each with its postpaid rate, and that account's packs of the tier with
 * their balances, both as arrays in any order; puts them in drawdown
 * order (SPEC 3.5) and returns one row per allocation: minutes a pack
 * covered, or overage priced at the rate.  The same inputs give the same
 * rows whatever order the arrays come in.
 *
 *-------------------------------------------------------------------------
 */
#include "classbill.h"

#include "access/htup_details.h"
#include "catalog/pg_enum.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "drawdown.h"

typedef struct UseRow
{
	DateADT		day;
	int			mode;			/* 0 = 1v1, 1 = 1vn */
	Oid			mode_oid;
	int64		minutes;
	Numeric		rate;
} UseRow;

typedef struct PackRow
{
	int64		pack_id;
	TimestampTz purchased_at;
	int32		from_day;
	int64		balance;
} PackRow;

/* The rows of a composite array, deformed; NULL elements refused. */
static Datum **
array_rows(ArrayType *arr, int natts_expected, const char *what,
		   int *nrows, bool ***nulls_out)
{
	Oid			elemtype = ARR_ELEMTYPE(arr);
	TupleDesc	desc;
	Datum	   *elems;
	bool	   *elemnulls;
	int			n,
				i;
	Datum	  **rows;
	bool	  **nulls;

	desc = lookup_rowtype_tupdesc(elemtype, -1);
	if (desc->natts != natts_expected)
		elog(ERROR, "%s has %d fields, expected %d", what, desc->natts, natts_expected);
	deconstruct_array(arr, elemtype, -1, false, TYPALIGN_DOUBLE, &elems, &elemnulls, &n);
	rows = palloc(Max(n, 1) * sizeof(Datum *));
	nulls = palloc(Max(n, 1) * sizeof(bool *));
	for (i = 0; i < n; i++)
	{
		HeapTupleData tuple;
		HeapTupleHeader h;

		if (elemnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL elements", what)));
		h = DatumGetHeapTupleHeader(elems[i]);
		tuple.t_len = HeapTupleHeaderGetDatumLength(h);
		ItemPointerSetInvalid(&tuple.t_self);
		tuple.t_tableOid = InvalidOid;
		tuple.t_data = h;
		rows[i] = palloc(natts_expected * sizeof(Datum));
		nulls[i] = palloc(natts_expected * sizeof(bool));
		heap_deform_tuple(&tuple, desc, rows[i], nulls[i]);
	}
	ReleaseTupleDesc(desc);
	*nrows = n;
	*nulls_out = nulls;
	return rows;
}

static int
compare_uses(const void *a, const void *b)
{
	const UseRow *x = a;
	const UseRow *y = b;
	int			c;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	/* SPEC 3.5: the mode with the higher postpaid rate first, ties 1v1 */
	c = DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(y->rate),
										  NumericGetDatum(x->rate)));
	if (c != 0)
		return c;
	return x->mode - y->mode;
}

static int
compare_packs(const void *a, const void *b)
{
	const PackRow *x = a;
	const PackRow *y = b;

	/* SPEC 3.5: oldest first, by purchase time, then pack id */
	if (x->purchased_at != y->purchased_at)
		return x->purchased_at < y->purchased_at ? -1 : 1;
	if (x->pack_id != y->pack_id)
		return x->pack_id < y->pack_id ? -1 : 1;
	return 0;
}

/* 0 for '1v1', 1 for '1vn': the mode enum's labels, not its OIDs. */
static int
mode_rank(Oid mode)
{
	HeapTuple	tup = SearchSysCache1(ENUMOID, ObjectIdGetDatum(mode));
	int			rank;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "no mode with OID %u", mode);
	rank = strcmp(NameStr(((Form_pg_enum) GETSTRUCT(tup))->enumlabel), "1v1") == 0 ? 0 : 1;
	ReleaseSysCache(tup);
	return rank;
}

static char *
day_text(DateADT day)
{
	return DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(day)));
}

CB_FUNCTION(classbill_drawdown);
Datum
classbill_drawdown(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	UseRow	   *uses;
	PackRow    *packs;
	CbUse	   *cuse;
	CbPack	   *cpack;
	CbDraw	   *draws;
	size_t		ndraws;
	Datum	  **rows;
	bool	  **nulls;
	int			nuse = 0,
				npack = 0,
				i;
	Oid			mode_oid[2] = {InvalidOid, InvalidOid};
	CbCalendar	cal = cb_calendar(cb_billing_tz());
	CbDrawStatus status;

	InitMaterializedSRF(fcinfo, 0);

	/* uses: (day, mode, minutes, rate) */
	rows = PG_ARGISNULL(0) ? NULL :
		array_rows(PG_GETARG_ARRAYTYPE_P(0), 4, "uses", &nuse, &nulls);
	uses = palloc(Max(nuse, 1) * sizeof(UseRow));
	for (i = 0; i < nuse; i++)
	{
		UseRow	   *u = &uses[i];

		if (nulls[i][0] || nulls[i][1] || nulls[i][2])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a use row needs its day, mode and minutes")));
		u->day = DatumGetDateADT(rows[i][0]);
		u->mode_oid = DatumGetObjectId(rows[i][1]);
		u->mode = mode_rank(u->mode_oid);
		mode_oid[u->mode] = u->mode_oid;
		u->minutes = DatumGetInt64(rows[i][2]);
		if (DATE_NOT_FINITE(u->day) || u->day < CB_MIN_DAY || u->day > CB_MAX_DAY)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("use day %s is out of range", day_text(u->day))));
		if (u->minutes < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("negative minutes " INT64_FORMAT " on %s", u->minutes, day_text(u->day))));
		if (nulls[i][3])
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("no postpaid rate for mode %s on %s",
							u->mode ? "1vn" : "1v1", day_text(u->day)),
					 errhint("Every billable day needs the rate in effect, even when packs cover it: it orders the modes (SPEC 3.5).")));
		u->rate = DatumGetNumeric(rows[i][3]);
	}
	qsort(uses, nuse, sizeof(UseRow), compare_uses);
	for (i = 1; i < nuse; i++)
		if (uses[i].day == uses[i - 1].day && uses[i].mode == uses[i - 1].mode)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("two use rows for mode %s on %s",
							uses[i].mode ? "1vn" : "1v1", day_text(uses[i].day)),
					 errhint("Give one row per day and mode, with the day's minutes of that mode.")));

	/* packs: (pack_id, purchased_at, balance) */
	rows = PG_ARGISNULL(1) ? NULL :
		array_rows(PG_GETARG_ARRAYTYPE_P(1), 3, "packs", &npack, &nulls);
	packs = palloc(Max(npack, 1) * sizeof(PackRow));
	for (i = 0; i < npack; i++)
	{
		PackRow    *p = &packs[i];
		int64		start,
					end;

		if (nulls[i][0] || nulls[i][1] || nulls[i][2])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a pack needs its id, purchase time and balance")));
		p->pack_id = DatumGetInt64(rows[i][0]);
		p->purchased_at = DatumGetTimestampTz(rows[i][1]);
		p->balance = DatumGetInt64(rows[i][2]);
		if (p->purchased_at < CB_MIN_AT || p->purchased_at >= CB_MAX_AT)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("pack " INT64_FORMAT " was bought at %s, outside the supported range",
							p->pack_id, timestamptz_to_str(p->purchased_at))));
		if (p->balance < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pack " INT64_FORMAT " has a negative balance " INT64_FORMAT,
							p->pack_id, p->balance)));
		/* SPEC 3.5: from 00:00 of its purchase day, in the billing zone */
		cal.day_of(cal.arg, p->purchased_at, &p->from_day, &start, &end);
	}
	qsort(packs, npack, sizeof(PackRow), compare_packs);
	for (i = 1; i < npack; i++)
		if (packs[i].pack_id == packs[i - 1].pack_id)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pack " INT64_FORMAT " is given twice", packs[i].pack_id)));

	/* the drawdown itself */
	cuse = palloc(Max(nuse, 1) * sizeof(CbUse));
	for (i = 0; i < nuse; i++)
	{
		cuse[i].day = uses[i].day;
		cuse[i].minutes = uses[i].minutes;
	}
	cpack = palloc(Max(npack, 1) * sizeof(CbPack));
	for (i = 0; i < npack; i++)
	{
		cpack[i].from_day = packs[i].from_day;
		cpack[i].balance = packs[i].balance;
	}
	draws = palloc(cb_drawdown_bound(nuse, npack) * sizeof(CbDraw) + sizeof(CbDraw));
	status = cb_drawdown(cuse, nuse, cpack, npack, draws, &ndraws);
	if (status != CB_DRAW_OK)
		elog(ERROR, "drawdown failed (status %d)", (int) status);

	for (i = 0; i < (int) ndraws; i++)
	{
		const UseRow *u = &uses[draws[i].use];
		Datum		values[6];
		bool		isnull[6] = {false, false, false, false, false, false};
		Numeric		minutes = int64_to_numeric(draws[i].minutes);

		values[0] = DateADTGetDatum(u->day);
		values[1] = ObjectIdGetDatum(mode_oid[u->mode]);
		if (draws[i].pack == CB_OVERAGE)
		{
			isnull[2] = true;
			values[5] = DirectFunctionCall2(numeric_mul, NumericGetDatum(minutes),
											NumericGetDatum(u->rate));
		}
		else
		{
			values[2] = Int64GetDatum(packs[draws[i].pack].pack_id);
			values[5] = NumericGetDatum(int64_to_numeric(0));
		}
		values[3] = Int64GetDatum(draws[i].minutes);
		values[4] = NumericGetDatum(u->rate);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	return (Datum) 0;
}
