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

#include "event.h"
#include "units.h"

#define CB_MARK_USEC	(5 * CB_USEC_PER_MINUTE)
#define CB_NO_END		INT64_MAX	/* stored until further notice */
#define CB_STORAGE_MAX_DAYS	36600	/* a window of a century at most */

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

/* ----------------------------------------------------------------
 * The serialized form of storage_days' transition state, which parallel
 * workers send to the leader.  Version 1:
 *
 *	  offset  size  field
 *	       0     3  magic "CBG"
 *	       3     1  version (CB_STORAGE_STATE_VERSION)
 *	       4     4  first day of the window (int32, days since 2000-01-01)
 *	       8     4  day after its last (int32)
 *	      12     8  files added (int64)
 *	      20 16*(n+1)  whole: the difference array of bytes (int128)
 *	       .  16*n  partial: byte-marks of partial days (int128)
 *
 * for a window of n days, all integers big-endian.  The day boundaries are
 * not sent: the reader finds them in its own billing time zone.
 * ----------------------------------------------------------------
 */
#define CB_STORAGE_STATE_VERSION	1
#define CB_STORAGE_STATE_HEADER		20
#define CB_STORAGE_SUMSIZE			16

typedef struct CbStorageView
{
	int32_t		first_day;
	uint32_t	ndays;
	int64_t		files;
	const uint8_t *whole;		/* ndays + 1 sums */
	const uint8_t *partial;		/* ndays sums */
} CbStorageView;

/* Size of the serialized state of a window of ndays days. */
extern size_t cb_storage_state_size(uint32_t ndays);

/* Write s (cb_storage_state_size(s->ndays) bytes); whole as added, not finished. */
extern void cb_storage_serialize(const CbStorage *s, uint8_t *out);

/*
 * Validate; NULL when the buffer is a state, else why it is not.  Beside
 * its length, a state must hold what cb_storage_add and cb_storage_merge
 * can build: a window of billing days, no negative count or sum, and a
 * difference array that starts and ends at 0 and whose running sums stay
 * in [0, 2^127) and come back to 0 (every run of whole days ends inside
 * the window), so that cb_storage_finish cannot overflow.
 */
extern const char *cb_storage_open(const uint8_t *buf, size_t len,
								   CbStorageView *v);

/*
 * The sums and the file count of an accepted state into s, whose window
 * (first_day, ndays) the caller made the view's, with its own starts.
 */
extern void cb_storage_read(const CbStorageView *v, CbStorage *s);

#endif							/* CLASSBILL_STORAGE_H */
