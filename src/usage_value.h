/*-------------------------------------------------------------------------
 *
 * usage_value.h
 *	  The bytes of a classbill.usage value, its text form and its merge.
 *
 * Plain C.  One portable format serves on disk, in binary send/receive
 * and in rollups: a versioned header of big-endian integers, the billing
 * time zone name, then the billing days in ascending order.
 *
 *	  offset  size  field
 *	       0     1  format version (CB_USAGE_VERSION)
 *	       1     1  flags, reserved, 0
 *	       2     2  length of the time zone name, 1..CB_TZ_MAXLEN
 *	       4     4  number of days
 *	       8     8  rooms merged into this value
 *	      16     8  participants (distinct per room, summed over rooms)
 *	      24     4  peak
 *	      28     4  stage peak
 *	      32    48  quality counters: events, duplicate joins, orphan
 *	                leaves, stray heartbeats, stray stage, unterminated
 *	      80     8  first instant of the peak (microseconds since
 *	                2000-01-01 UTC; INT64_MIN when the peak is 0)
 *	      88     8  first instant of the stage peak, likewise
 *	      96     n  time zone name (not terminated)
 *	    96+n  16*d  days: day (int32, days since 2000-01-01), participants
 *	                present that day (int32, >= 1), presence in
 *	                microseconds (int64, > 0)
 *
 * Version 1 (classbill 1.0 and 1.1) had 12-byte days without the
 * participants; such values are still read, each day taking the value's
 * participants, and every value written is version 2.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_USAGE_VALUE_H
#define CLASSBILL_USAGE_VALUE_H

#include "sweep.h"

#define CB_USAGE_VERSION	2
#define CB_USAGE_HEADER		96
#define CB_USAGE_DAYSIZE	16
#define CB_USAGE_V1_DAYSIZE	12
#define CB_TZ_MAXLEN		255
/* days in one value: every day classbill accepts */
#define CB_MAX_DAYS			((uint32_t) (CB_MAX_DAY - CB_MIN_DAY + 1))

/* The logical value; tz and days point into memory the caller owns. */
typedef struct CbUsage
{
	const char *tz;
	size_t		tzlen;
	int64_t		rooms;
	int64_t		participants;
	int32_t		peak;
	int32_t		stage_peak;
	int64_t		peak_at;		/* CB_NO_TIME when peak is 0 */
	int64_t		stage_peak_at;
	CbQuality	quality;
	uint32_t	ndays;
	const CbDayTotal *days;
} CbUsage;

static inline size_t
cb_usage_size(size_t tzlen, uint32_t ndays)
{
	return CB_USAGE_HEADER + tzlen + (size_t) ndays * CB_USAGE_DAYSIZE;
}

extern void cb_usage_encode(const CbUsage *u, uint8_t *buf);

/* Check everything a reader relies on; NULL when valid, else why not. */
extern const char *cb_usage_check(const uint8_t *buf, size_t len);

/* Readers of a value that passed cb_usage_check (or that we built). */
extern void cb_usage_header(const uint8_t *buf, CbUsage *u);
extern CbDayTotal cb_usage_day(const uint8_t *buf, uint32_t i);
/* Size of a value's days as stored (version 1 values had smaller days). */
extern size_t cb_usage_stored_size(const uint8_t *buf);
extern uint32_t cb_usage_ndays(const uint8_t *buf);

/*
 * Merge b into a (SPEC 9 rollup): days add up, counts add up, peaks take
 * the larger (and its instant; the earlier one between equal peaks).  cb_usage_merge_size returns the size of the result, or 0
 * if the time zones differ.  cb_usage_merge writes it and returns
 * CB_ERR_OVERFLOW if a sum leaves int64.  cb_usage_add_inplace adds b into
 * a without moving anything when every day of b is already in a, and
 * returns 0 (with a unchanged) when it is not.
 */
extern size_t cb_usage_merge_size(const uint8_t *a, const uint8_t *b);
extern CbStatus cb_usage_merge(const uint8_t *a, const uint8_t *b, uint8_t *out);
extern int	cb_usage_add_inplace(uint8_t *a, const uint8_t *b, CbStatus *status);

/* ----------------------------------------------------------------
 * Text form
 *
 *	 tz=Asia/Shanghai rooms=1 participants=3 peak=3
 *	 peak_at=2026-11-02T02:00:00Z stage_peak=0 stage_peak_at= events=6
 *	 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0
 *	 stray_stage_events=0 unterminated_sessions=0
 *	 days=2026-11-02:2400:3,2026-11-03:0.5:1
 *
 * on one line; instants are UTC with at most six decimals of a second
 * (empty when the peak is 0); each day is date:seconds:participants, the
 * seconds with at most six decimals.  Input also takes date:seconds (the
 * form of classbill 1.0 and 1.1): the day then takes the value's
 * participants.
 * ----------------------------------------------------------------
 */

/* Upper bound of the text length of a value, terminator included. */
extern size_t cb_usage_text_bound(const uint8_t *buf);
extern void cb_usage_to_text(const uint8_t *buf, char *out);

/*
 * Parse text into *u.  Days and the time zone name are allocated with mem.
 * On failure returns nonzero with a message in errbuf.  The time zone
 * name is not checked against a zone database here.
 */
extern int	cb_usage_parse(const char *text, const CbAlloc *mem, CbUsage *u,
						   char *errbuf, size_t errlen);

/* Calendar arithmetic (proleptic Gregorian), days since 2000-01-01. */
extern int32_t cb_date_to_day(int year, int month, int mday);
extern void cb_day_to_date(int32_t day, int *year, int *month, int *mday);

#endif							/* CLASSBILL_USAGE_VALUE_H */
