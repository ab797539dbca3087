/*-------------------------------------------------------------------------
 *
 * units.h
 *	  The units classbill counts in, defined once for all its C.
 *
 * Plain C.  Instants and durations are microseconds, as PostgreSQL's
 * timestamptz is; billed presence is whole minutes of 60 seconds, rounded
 * up (SPEC 1.7); storage is GB of 2^30 bytes (SPEC 4.2).  SQL reads them through
 * classbill_internal.minutes_of, bytes_per_gb and days_per_month
 * (units_sql.c), so there is one definition of each.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_UNITS_H
#define CLASSBILL_UNITS_H

#include <stdint.h>

#define CB_USEC_PER_SEC		INT64_C(1000000)
#define CB_SECS_PER_MINUTE	60
#define CB_USEC_PER_MINUTE	(CB_SECS_PER_MINUTE * CB_USEC_PER_SEC)
#define CB_USEC_PER_HOUR	(60 * CB_USEC_PER_MINUTE)
#define CB_USEC_PER_DAY		(24 * CB_USEC_PER_HOUR)

#define CB_BYTES_PER_GB		(INT64_C(1) << 30)
#define CB_DAYS_PER_GB_MONTH 30		/* SPEC 4.2: a GB-month is a GB kept 30 days */

/* SPEC 1.7: presence of usec >= 0 microseconds in billed minutes */
static inline int64_t
cb_billed_minutes(int64_t usec)
{
	return usec / CB_USEC_PER_MINUTE + (usec % CB_USEC_PER_MINUTE != 0);
}

#endif							/* CLASSBILL_UNITS_H */
