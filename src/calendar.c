/*-------------------------------------------------------------------------
 *
 * calendar.c
 *	  The billing time zone setting and billing-day boundaries (SPEC 0,
 *	  1.6, 9).
 *
 * Billing day D is [start(D), start(D + 1)) where start(D) is local
 * midnight of D in the billing time zone, resolved exactly as
 * "D::timestamp AT TIME ZONE zone" resolves it, so days of 23 and 25 hours
 * and zones whose clocks jump at midnight fall out of PostgreSQL's own
 * time zone code.  Converting an instant to a day costs a time zone
 * lookup, so recent days are cached per zone.
 *
 *-------------------------------------------------------------------------
 */
#include "classbill.h"

#include "datatype/timestamp.h"
#include "utils/datetime.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

static char *billing_timezone_string = NULL;
static pg_tz *billing_tz = NULL;

/*
 * Resolve a zone name the way the TimeZone setting does, or NULL.  Zones
 * that count leap seconds are refused: their days are not 86400 seconds of
 * timestamptz arithmetic.
 */
pg_tz *
cb_lookup_tz(const char *name)
{
	pg_tz	   *tz = pg_tzset(name);

	if (tz == NULL || !pg_tz_acceptable(tz))
		return NULL;
	return tz;
}

static bool
check_billing_timezone(char **newval, void **extra, GucSource source)
{
	pg_tz	   *tz;
	pg_tz	  **keep;

	if (*newval == NULL || **newval == '\0')
	{
		GUC_check_errmsg("classbill.billing_timezone must name a time zone");
		return false;
	}
	tz = cb_lookup_tz(*newval);
	if (tz == NULL)
	{
		GUC_check_errmsg("time zone \"%s\" is not recognized", *newval);
		GUC_check_errhint("Use a name from pg_timezone_names, such as 'Asia/Shanghai' or 'UTC'.");
		return false;
	}
	keep = guc_malloc(LOG, sizeof(pg_tz *));
	if (keep == NULL)
		return false;
	*keep = tz;
	*extra = keep;
	return true;
}

static void
assign_billing_timezone(const char *newval, void *extra)
{
	billing_tz = *(pg_tz **) extra;
}

static const char *
show_billing_timezone(void)
{
	return billing_tz ? pg_get_timezone_name(billing_tz) : billing_timezone_string;
}

void
cb_define_calendar_settings(void)
{
	DefineCustomStringVariable("classbill.billing_timezone",
							   "Time zone whose calendar days are billing days.",
							   "Read when a classbill.usage value is built and kept inside it.",
							   &billing_timezone_string,
							   "Asia/Shanghai",
							   PGC_USERSET,
							   0,
							   check_billing_timezone,
							   assign_billing_timezone,
							   show_billing_timezone);
}

pg_tz *
cb_billing_tz(void)
{
	if (billing_tz == NULL)
		elog(ERROR, "classbill.billing_timezone is not set");
	return billing_tz;
}

const char *
cb_billing_tz_name(void)
{
	return pg_get_timezone_name(cb_billing_tz());
}

/*
 * classbill.billing_timezone(): the setting now.  SQL and PL/pgSQL code
 * reads the zone through this, not current_setting(): calling it loads
 * the library, which defines the setting, so a fresh session (a pg_cron
 * job) finds it even when nothing of classbill ran there before.
 */
CB_FUNCTION(classbill_billing_timezone_now);
Datum
classbill_billing_timezone_now(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(cb_billing_tz_name()));
}

/* ----------------------------------------------------------------
 * Day boundaries
 * ----------------------------------------------------------------
 */
TimestampTz
cb_day_start(pg_tz *tz, int32 day)
{
	struct pg_tm tm;
	int			offset;
	TimestampTz result;

	memset(&tm, 0, sizeof(tm));
	j2date(day + POSTGRES_EPOCH_JDATE, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	offset = DetermineTimeZoneOffset(&tm, tz);
	if (tm2timestamp(&tm, 0, &offset, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("billing day out of range")));
	return result;
}

/* A small direct-mapped cache of day bounds, for one zone at a time. */
#define DAY_CACHE_SIZE 64

typedef struct DayBounds
{
	int32		day;
	bool		valid;
	TimestampTz start;
	TimestampTz end;
} DayBounds;

static pg_tz *cache_tz = NULL;
static DayBounds day_cache[DAY_CACHE_SIZE];
static int	last_hit = 0;

static const DayBounds *
bounds_of(pg_tz *tz, int32 day)
{
	DayBounds  *b = &day_cache[(uint32) day % DAY_CACHE_SIZE];

	if (!b->valid || b->day != day)
	{
		b->start = cb_day_start(tz, day);
		b->end = cb_day_start(tz, day + 1);
		b->day = day;
		b->valid = true;
	}
	return b;
}

static void
pg_day_of(void *arg, int64_t t, int32_t *day, int64_t *start, int64_t *end)
{
	pg_tz	   *tz = (pg_tz *) arg;
	const DayBounds *b;
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;
	int32		d;

	if (cache_tz != tz)
	{
		memset(day_cache, 0, sizeof(day_cache));
		cache_tz = tz;
	}

	/* instants of one room mostly fall on the day asked for last */
	b = &day_cache[last_hit];
	if (!(b->valid && t >= b->start && t < b->end))
	{
		if (timestamp2tm(t, &offset, &tm, &fsec, NULL, tz) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range")));
		d = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
		b = bounds_of(tz, d);

		/* where local dates are not monotonic, the boundaries decide */
		while (t < b->start)
			b = bounds_of(tz, --d);
		while (t >= b->end)
			b = bounds_of(tz, ++d);
		last_hit = (int) ((uint32) d % DAY_CACHE_SIZE);
	}
	*day = b->day;
	*start = b->start;
	*end = b->end;
}

CbCalendar
cb_calendar(pg_tz *tz)
{
	CbCalendar	cal;

	cal.day_of = pg_day_of;
	cal.arg = tz;
	return cal;
}
