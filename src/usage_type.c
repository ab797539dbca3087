/*-------------------------------------------------------------------------
 *
 * usage_type.c
 *	  The classbill.usage type: input, output, binary send/receive, the
 *	  accessors of SPEC 9 and the rollup aggregate's transition.
 *
 * A value's bytes are the portable format of usage_value.h behind a
 * varlena header.  Values are read through PG_DETOAST_DATUM_PACKED and
 * byte-wise loads, so short values are used where they lie.
 *
 *-------------------------------------------------------------------------
 */
#include "classbill.h"

#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

typedef struct varlena Usage;

#define DatumGetUsageP(d)		((Usage *) PG_DETOAST_DATUM_PACKED(d))
#define PG_GETARG_USAGE_P(n)	DatumGetUsageP(PG_GETARG_DATUM(n))
#define USAGE_BYTES(u)			((const uint8 *) VARDATA_ANY(u))
#define USAGE_LEN(u)			VARSIZE_ANY_EXHDR(u)

Usage *
cb_usage_make(const CbUsage *u)
{
	Size		size = cb_usage_size(u->tzlen, u->ndays);
	Usage	   *result;

	if (size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("usage value of %u days is too large", u->ndays)));
	result = palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	cb_usage_encode(u, (uint8 *) VARDATA(result));
	return result;
}

/*
 * Bytes from outside (binary input): check them, and store the zone under
 * the name this server knows it by.
 */
static Usage *
usage_from_bytes(const uint8 *bytes, Size len)
{
	const char *why = cb_usage_check(bytes, len);
	CbUsage		u;
	CbDayTotal *days;
	char	   *tzname;
	pg_tz	   *tz;
	uint32		i;

	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid classbill.usage value: %s", why)));
	cb_usage_header(bytes, &u);
	tzname = pnstrdup(u.tz, u.tzlen);
	tz = cb_lookup_tz(tzname);
	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" of classbill.usage value is not recognized",
						tzname)));
	days = palloc(Max(u.ndays, 1) * sizeof(CbDayTotal));
	for (i = 0; i < u.ndays; i++)
		days[i] = cb_usage_day(bytes, i);
	u.days = days;
	u.tz = pg_get_timezone_name(tz);
	u.tzlen = strlen(u.tz);
	return cb_usage_make(&u);
}

CB_FUNCTION(classbill_usage_in);
Datum
classbill_usage_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	CbUsage		u;
	char		err[256];
	pg_tz	   *tz;

	if (cb_usage_parse(str, &cb_palloc_allocator, &u, err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type classbill.usage: %s", err)));
	tz = cb_lookup_tz(u.tz);
	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" of classbill.usage value is not recognized",
						u.tz)));
	u.tz = pg_get_timezone_name(tz);
	u.tzlen = strlen(u.tz);
	PG_RETURN_POINTER(cb_usage_make(&u));
}

CB_FUNCTION(classbill_usage_out);
Datum
classbill_usage_out(PG_FUNCTION_ARGS)
{
	Usage	   *u = PG_GETARG_USAGE_P(0);
	char	   *out = palloc(cb_usage_text_bound(USAGE_BYTES(u)));

	cb_usage_to_text(USAGE_BYTES(u), out);
	PG_RETURN_CSTRING(out);
}

CB_FUNCTION(classbill_usage_recv);
Datum
classbill_usage_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	Size		len = buf->len - buf->cursor;
	const char *bytes = pq_getmsgbytes(buf, (int) len);

	PG_RETURN_POINTER(usage_from_bytes((const uint8 *) bytes, len));
}

CB_FUNCTION(classbill_usage_send);
Datum
classbill_usage_send(PG_FUNCTION_ARGS)
{
	Usage	   *u = PG_GETARG_USAGE_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, (const char *) USAGE_BYTES(u), (int) USAGE_LEN(u));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ----------------------------------------------------------------
 * Accessors
 * ----------------------------------------------------------------
 */

/* the header of a stored value */
static void
header_of(Usage *u, CbUsage *h)
{
	if (USAGE_LEN(u) < CB_USAGE_HEADER)
		elog(ERROR, "corrupt classbill.usage value");
	cb_usage_header(USAGE_BYTES(u), h);
}

static int64
total_usec(Usage *u)
{
	uint32		n = cb_usage_ndays(USAGE_BYTES(u));
	uint32		i;
	int64		sum = 0;

	for (i = 0; i < n; i++)
		if (pg_add_s64_overflow(sum, cb_usage_day(USAGE_BYTES(u), i).usec, &sum))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("total presence is out of range")));
	return sum;
}

CB_FUNCTION(classbill_usage_seconds);
Datum
classbill_usage_seconds(PG_FUNCTION_ARGS)
{
	PG_RETURN_NUMERIC(int64_div_fast_to_numeric(total_usec(PG_GETARG_USAGE_P(0)), 6));
}

CB_FUNCTION(classbill_usage_minutes);
Datum
classbill_usage_minutes(PG_FUNCTION_ARGS)
{
	Usage	   *u = PG_GETARG_USAGE_P(0);
	uint32		n = cb_usage_ndays(USAGE_BYTES(u));
	uint32		i;
	int64		sum = 0;

	for (i = 0; i < n; i++)
		sum += cb_billed_minutes(cb_usage_day(USAGE_BYTES(u), i).usec);
	PG_RETURN_INT64(sum);
}

CB_FUNCTION(classbill_usage_daily);
Datum
classbill_usage_daily(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Usage	   *u = PG_GETARG_USAGE_P(0);
	uint32		n = cb_usage_ndays(USAGE_BYTES(u));
	uint32		i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < n; i++)
	{
		CbDayTotal	d = cb_usage_day(USAGE_BYTES(u), i);
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = DateADTGetDatum(d.day);
		values[1] = NumericGetDatum(int64_div_fast_to_numeric(d.usec, 6));
		values[2] = Int64GetDatum(cb_billed_minutes(d.usec));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * daily_detail(usage): daily() with the participants present each day, from
 * which SPEC 3.1 infers a billing day's mode.
 */
CB_FUNCTION(classbill_usage_daily_detail);
Datum
classbill_usage_daily_detail(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Usage	   *u = PG_GETARG_USAGE_P(0);
	uint32		n = cb_usage_ndays(USAGE_BYTES(u));
	uint32		i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < n; i++)
	{
		CbDayTotal	d = cb_usage_day(USAGE_BYTES(u), i);
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = DateADTGetDatum(d.day);
		values[1] = NumericGetDatum(int64_div_fast_to_numeric(d.usec, 6));
		values[2] = Int64GetDatum(cb_billed_minutes(d.usec));
		values[3] = Int32GetDatum(d.participants);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

static int32
int32_or_error(int64 v, const char *what)
{
	if (v > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s " INT64_FORMAT " is out of range for type integer", what, v)));
	return (int32) v;
}

CB_FUNCTION(classbill_usage_participants);
Datum
classbill_usage_participants(PG_FUNCTION_ARGS)
{
	CbUsage		h;

	header_of(PG_GETARG_USAGE_P(0), &h);
	PG_RETURN_INT32(int32_or_error(h.participants, "participants"));
}

/* Accessors that read one header field. */
#define HEADER_ACCESSOR(fn, ret, expr) \
CB_FUNCTION(fn); \
Datum \
fn(PG_FUNCTION_ARGS) \
{ \
	CbUsage		h; \
\
	header_of(PG_GETARG_USAGE_P(0), &h); \
	ret(expr); \
}

HEADER_ACCESSOR(classbill_usage_peak, PG_RETURN_INT32, h.peak)
HEADER_ACCESSOR(classbill_usage_stage_peak, PG_RETURN_INT32, h.stage_peak)
HEADER_ACCESSOR(classbill_usage_rooms, PG_RETURN_INT64, h.rooms)
HEADER_ACCESSOR(classbill_usage_events, PG_RETURN_INT64, h.quality.events)
HEADER_ACCESSOR(classbill_usage_duplicate_joins, PG_RETURN_INT64, h.quality.duplicate_joins)
HEADER_ACCESSOR(classbill_usage_orphan_leaves, PG_RETURN_INT64, h.quality.orphan_leaves)
HEADER_ACCESSOR(classbill_usage_stray_heartbeats, PG_RETURN_INT64, h.quality.stray_heartbeats)
HEADER_ACCESSOR(classbill_usage_stray_stage_events, PG_RETURN_INT64, h.quality.stray_stage)
HEADER_ACCESSOR(classbill_usage_unterminated_sessions, PG_RETURN_INT64, h.quality.unterminated)
HEADER_ACCESSOR(classbill_usage_billing_timezone, PG_RETURN_TEXT_P,
				cstring_to_text_with_len(h.tz, (int) h.tzlen))

/*
 * in_billing_zone(usage): the value itself if it was built for the billing
 * time zone in effect here, else an error.  A value computed on another
 * node (a postgres_fdw shard, a Citus worker) carries that node's zone;
 * billing it under another would move minutes between days silently.
 */
CB_FUNCTION(classbill_usage_in_billing_zone);
Datum
classbill_usage_in_billing_zone(PG_FUNCTION_ARGS)
{
	Usage	   *u = PG_GETARG_USAGE_P(0);
	CbUsage		h;
	const char *here = cb_billing_tz_name();

	header_of(u, &h);
	if (h.tzlen != strlen(here) || memcmp(h.tz, here, h.tzlen) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("classbill.usage value is for billing time zone \"%.*s\", but classbill.billing_timezone is \"%s\"",
						(int) h.tzlen, h.tz, here),
				 errdetail("The value was built where the setting differs: another node, or an earlier session."),
				 errhint("Set classbill.billing_timezone to the same zone on every node; for a postgres_fdw server: ALTER SERVER ... OPTIONS (ADD options '-c classbill.billing_timezone=%s').",
						 here)));
	PG_RETURN_POINTER(u);
}

/*
 * in_zone(usage, zone): the value itself if it was built for that billing
 * time zone, else an error.  Immutable, so that a query shipped to another
 * node takes the zone of the session that bills along as a constant and
 * the check holds wherever it runs (SPEC 9).
 */
CB_FUNCTION(classbill_usage_in_zone);
Datum
classbill_usage_in_zone(PG_FUNCTION_ARGS)
{
	Usage	   *u = PG_GETARG_USAGE_P(0);
	text	   *zone = PG_GETARG_TEXT_PP(1);
	CbUsage		h;

	header_of(u, &h);
	if (h.tzlen != VARSIZE_ANY_EXHDR(zone) || memcmp(h.tz, VARDATA_ANY(zone), h.tzlen) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("classbill.usage value is for billing time zone \"%.*s\", but it is billed in \"%s\"",
						(int) h.tzlen, h.tz, text_to_cstring(zone)),
				 errdetail("The value was built where classbill.billing_timezone differs: another node, or an earlier session."),
				 errhint("Set classbill.billing_timezone to the same zone on every node; for a postgres_fdw server: ALTER SERVER ... OPTIONS (ADD options '-c classbill.billing_timezone=%s').",
						 text_to_cstring(zone))));
	PG_RETURN_POINTER(u);
}

/* The first instant of a peak; NULL for a peak of 0. */
static Datum
instant_or_null(FunctionCallInfo fcinfo, int64 at)
{
	if (at == CB_NO_TIME)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(at);
}

CB_FUNCTION(classbill_usage_peak_at);
Datum
classbill_usage_peak_at(PG_FUNCTION_ARGS)
{
	CbUsage		h;

	header_of(PG_GETARG_USAGE_P(0), &h);
	return instant_or_null(fcinfo, h.peak_at);
}

CB_FUNCTION(classbill_usage_stage_peak_at);
Datum
classbill_usage_stage_peak_at(PG_FUNCTION_ARGS)
{
	CbUsage		h;

	header_of(PG_GETARG_USAGE_P(0), &h);
	return instant_or_null(fcinfo, h.stage_peak_at);
}

/* ----------------------------------------------------------------
 * rollup(usage): the state is a usage value itself
 * ----------------------------------------------------------------
 */
static void
report_zone_mismatch(Usage *a, Usage *b)
{
	CbUsage		ha,
				hb;

	header_of(a, &ha);
	header_of(b, &hb);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot merge usage values built for different billing time zones"),
			 errdetail("One value is for \"%.*s\", the other for \"%.*s\".",
					   (int) ha.tzlen, ha.tz, (int) hb.tzlen, hb.tz),
			 errhint("Build every value with the same classbill.billing_timezone.")));
}

/*
 * Transition and combine function of rollup, strict: the first value of a
 * group becomes its state.  Inside an aggregate the state is added to in
 * place while the value brings no new day; otherwise a merged copy is
 * returned and the executor keeps that.
 */
CB_FUNCTION(classbill_usage_rollup_trans);
Datum
classbill_usage_rollup_trans(PG_FUNCTION_ARGS)
{
	Datum		sdatum = PG_GETARG_DATUM(0);
	Usage	   *state = DatumGetUsageP(sdatum);
	Usage	   *value = PG_GETARG_USAGE_P(1);
	Size		size;
	Usage	   *result;
	CbStatus	status;

	if (AggCheckCallContext(fcinfo, NULL) &&
		(Pointer) state == DatumGetPointer(sdatum) &&
		!VARATT_IS_EXTENDED(state))
	{
		if (cb_usage_add_inplace((uint8 *) VARDATA(state), USAGE_BYTES(value), &status))
			PG_RETURN_POINTER(state);
		if (status != CB_OK)
			cb_report_status(status, "rollup");
	}

	size = cb_usage_merge_size(USAGE_BYTES(state), USAGE_BYTES(value));
	if (size == 0)
		report_zone_mismatch(state, value);
	if (size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("rolled-up usage value is too large")));
	result = palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	status = cb_usage_merge(USAGE_BYTES(state), USAGE_BYTES(value),
							(uint8 *) VARDATA(result));
	if (status != CB_OK)
		cb_report_status(status, "rollup");
	PG_RETURN_POINTER(result);
}
