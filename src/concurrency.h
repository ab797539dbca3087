/*-------------------------------------------------------------------------
 *
 * concurrency.h
 *	  How many are present at once across many rooms (SPEC 3.6), per
 *	  billing day.  Plain C.
 *
 * Presences are half-open intervals [start, end), as SPEC 1.8 measures a
 * room's peak, here gathered from all the rooms of an account.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_CONCURRENCY_H
#define CLASSBILL_CONCURRENCY_H

#include "sweep.h"

typedef struct CbDayPeak
{
	int32_t		day;			/* billing day */
	int32_t		peak;			/* most present at one instant of the day */
	int64_t		at;				/* the first such instant */
} CbDayPeak;

/*
 * Per billing day with presence, the most intervals covering one instant
 * and the first instant they do.  iv holds n intervals, 2 * n int64 values
 * (start, end, start, end...), each start < end; it is reused as scratch.
 * *out is allocated with mem; *nout days, ascending.
 */
extern CbStatus cb_daily_peaks(int64_t *iv, size_t n, const CbCalendar *cal,
							   const CbAlloc *mem, CbDayPeak **out, size_t *nout);

#endif							/* CLASSBILL_CONCURRENCY_H */
