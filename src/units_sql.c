/*-------------------------------------------------------------------------
 *
 * units_sql.c
 *	  The units of units.h for SQL: classbill_internal.minutes_of,
 *	  bytes_per_gb and days_per_month, so the SQL and the C of classbill
 *	  share one definition of each.
 *
 * bytes_per_gb() and days_per_month() are IMMUTABLE and take no argument:
 * the planner folds them into constants.  minutes_of() rounds a numeric
 * of seconds up to whole minutes (SPEC 1.7, 5.1) exactly, by integer
 * division and remainder, whatever the number of digits.
 *
 *-------------------------------------------------------------------------
 */
#include "classbill.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "units.h"

CB_FUNCTION(classbill_minutes_of);
Datum
classbill_minutes_of(PG_FUNCTION_ARGS)
{
	Datum		seconds = PG_GETARG_DATUM(0);
	Datum		minute = NumericGetDatum(int64_to_numeric(CB_SECS_PER_MINUTE));
	Datum		whole = DirectFunctionCall2(numeric_div_trunc, seconds, minute);
	Datum		rest = DirectFunctionCall2(numeric_mod, seconds, minute);

	/* truncation is the ceiling for what is negative, and for an exact minute */
	if (DatumGetBool(DirectFunctionCall2(numeric_gt, rest, NumericGetDatum(int64_to_numeric(0)))) &&
		!numeric_is_nan(DatumGetNumeric(rest)))
		whole = DirectFunctionCall2(numeric_add, whole, NumericGetDatum(int64_to_numeric(1)));
	PG_RETURN_DATUM(whole);
}

CB_FUNCTION(classbill_bytes_per_gb);
Datum
classbill_bytes_per_gb(PG_FUNCTION_ARGS)
{
	PG_RETURN_NUMERIC(int64_to_numeric(CB_BYTES_PER_GB));
}

CB_FUNCTION(classbill_days_per_month);
Datum
classbill_days_per_month(PG_FUNCTION_ARGS)
{
	PG_RETURN_NUMERIC(int64_to_numeric(CB_DAYS_PER_GB_MONTH));
}
