/*-------------------------------------------------------------------------
 *
 * sweep.h
 *	  The event sweep: one room's event rows in, presence per billing day,
 *	  peaks and data-quality counters out (SPEC 1).
 *
 * Plain C.  Time-zone knowledge comes in through CbCalendar and memory
 * through CbAlloc, so the same code runs inside PostgreSQL and under a
 * fuzzer.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_SWEEP_H
#define CLASSBILL_SWEEP_H

#include "event.h"

/*
 * Billing days (SPEC 0, 1.6): day_of must set *day to the billing day that
 * holds instant t and [*start, *end) to that day's bounds, with
 * *start <= t < *end.  Days are numbered like PostgreSQL dates (days since
 * 2000-01-01).
 */
typedef struct CbCalendar
{
	void		(*day_of) (void *arg, int64_t t, int32_t *day,
						   int64_t *start, int64_t *end);
	void	   *arg;
} CbCalendar;

/*
 * Memory for results and scratch.  Allocations are never freed one by one:
 * the caller owns an arena (a PostgreSQL memory context, or a list the
 * fuzz harness frees).  alloc returns NULL only outside PostgreSQL.
 */
typedef struct CbAlloc
{
	void	   *(*alloc) (void *arg, size_t size);
	void	   *arg;
} CbAlloc;

typedef struct CbDayTotal
{
	int32_t		day;
	int32_t		participants;	/* present that day (SPEC 3.1), >= 1 */
	int64_t		usec;			/* presence in the day, > 0 */
} CbDayTotal;

/* Data-quality counters (SPEC 1.2, 1.5, 8.1) */
typedef struct CbQuality
{
	int64_t		events;			/* every input row */
	int64_t		duplicate_joins;	/* join while present */
	int64_t		orphan_leaves;	/* leave while absent */
	int64_t		stray_heartbeats;	/* heartbeat while absent */
	int64_t		stray_stage;	/* stage_up/down that changed nothing */
	int64_t		unterminated;	/* sessions closed at last evidence */
} CbQuality;

typedef struct CbSweepResult
{
	int64_t		participants;	/* distinct participants who joined */
	int32_t		peak;			/* SPEC 1.8 */
	int32_t		stage_peak;		/* SPEC 1.2, measured like 1.8 */
	int64_t		peak_at;		/* first instant of the peak; CB_NO_TIME */
	int64_t		stage_peak_at;
	CbQuality	quality;
	uint32_t	ndays;
	CbDayTotal *days;			/* ascending by day */
} CbSweepResult;

typedef enum CbStatus
{
	CB_OK = 0,
	CB_ERR_NOMEM,
	CB_ERR_OVERFLOW,
	CB_ERR_RANGE
} CbStatus;

/*
 * Sort into processing order (SPEC 1.3); tmp must hold n events.  Check
 * cb_events_sorted first: rows logged in time order need no sort.
 */
extern void cb_sort_events(CbEvent *ev, size_t n, CbEvent *tmp);
extern int	cb_events_sorted(const CbEvent *ev, size_t n);

/* Receives every presence of non-zero length, [start, end). */
typedef struct CbPresenceSink
{
	void		(*presence) (void *arg, int64_t start, int64_t end);
	void	   *arg;
} CbPresenceSink;

/*
 * Sweep sorted events of one room whose participant numbers are below
 * nparticipants.  With interrupt non-NULL, it is called every few thousand
 * events so PostgreSQL can honour query cancel; with sink non-NULL, each
 * presence is handed to it as well.
 */
extern CbStatus cb_sweep(const CbEvent *ev, size_t n, uint32_t nparticipants,
						 const CbCalendar *cal, const CbAlloc *mem,
						 void (*interrupt) (void), const CbPresenceSink *sink,
						 CbSweepResult *out);

#endif							/* CLASSBILL_SWEEP_H */
