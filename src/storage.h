/*-------------------------------------------------------------------------
 *
 * storage.h
 *	  Recording storage measured as the object store does (SPEC 4.2).
 *	  Plain C.
 *
 * Each billing day is sampled at every 5-minute mark from its first
 * instant: 288 marks, 276 or 300 on a 23- or 25-hour day.  A file counts
 * at a mark when ready <= mark < end, where end = min(ready + retention,
 * deleted).  The day's GB is the mean of the samples: the day's
 * byte-marks (bytes times marks counted, summed over files) divided by
 * the day's marks and by 2^30.
 *
 * A window of billing days is given by its day boundaries; a file adds
 * its bytes to every day it covers whole (through a difference array, so
 * a file kept for a year costs what a file kept for a day does) and its
 * byte-marks to the at most two days it covers in part.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_STORAGE_H
#define CLASSBILL_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#define CB_MARK_USEC	INT64_C(300000000)	/* 5 minutes */
#define CB_NO_END		INT64_MAX	/* stored until further notice */

/* 8-byte alignment: palloc gives no more, and PostgreSQL does the same */
typedef __int128 cb_int128 __attribute__((aligned(8)));

typedef struct CbStorage
{
	int32_t		first_day;		/* billing day of starts[0] */
	uint32_t	ndays;
	const int64_t *starts;		/* ndays + 1 day boundaries, ascending */
	cb_int128  *whole;			/* ndays + 1: difference array of bytes */
	cb_int128  *partial;		/* ndays: byte-marks of partial days */
	int64_t		files;			/* files added */
} CbStorage;

/* Marks of the day [start, end), and those of them in [a, b). */
extern int64_t cb_day_marks(int64_t start, int64_t end);
extern int64_t cb_marks_covered(int64_t start, int64_t end, int64_t a, int64_t b);

/* Add a file of `bytes` stored over [a, b); b may be CB_NO_END. */
extern void cb_storage_add(CbStorage *s, int64_t bytes, int64_t a, int64_t b);

/* Add every day of src into dst (same window). */
extern void cb_storage_merge(CbStorage *dst, const CbStorage *src);

/*
 * The byte-marks of day i of the window; whole must have been turned into
 * running sums by cb_storage_finish first.
 */
extern void cb_storage_finish(CbStorage *s);
extern cb_int128 cb_storage_byte_marks(const CbStorage *s, uint32_t i);

#endif							/* CLASSBILL_STORAGE_H */
