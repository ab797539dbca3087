/*-------------------------------------------------------------------------
 *
 * concurrency.c
 *	  Peaks of presence across rooms, per billing day (SPEC 3.6, 1.8).
 *
 * Every interval gives two endpoints, encoded in one integer each: the
 * instant times two, plus one for a start.  Sorted, the ends of an
 * instant come before its starts, so the count read after an instant is
 * exactly the number present at it under the half-open rule: a hand-over
 * at one instant never counts two, a zero-length presence never counts.
 * Between two endpoints the count is constant; a stretch that crosses
 * midnight counts for each day it touches, from that day's first instant.
 *
 *-------------------------------------------------------------------------
 */
#include "concurrency.h"

#include <string.h>

#define SORT_NAME sort_int64
#define SORT_TYPE int64_t
#define SORT_LESS(x, y) ((x) < (y))
#include "sort_template.h"

typedef struct Days
{
	CbDayPeak  *d;
	size_t		n;
	size_t		cap;
	const CbAlloc *mem;
} Days;

/* Raise day's peak to count at instant at (instants come in order). */
static CbStatus
note(Days *days, int32_t day, int32_t count, int64_t at)
{
	CbDayPeak  *last = days->n ? &days->d[days->n - 1] : NULL;

	if (last && last->day == day)
	{
		if (count > last->peak)
		{
			last->peak = count;
			last->at = at;
		}
		return CB_OK;
	}
	if (days->n == days->cap)
	{
		size_t		cap = days->cap ? days->cap * 2 : 8;
		CbDayPeak  *grown = days->mem->alloc(days->mem->arg, cap * sizeof(CbDayPeak));

		if (grown == NULL)
			return CB_ERR_NOMEM;
		if (days->n)
			memcpy(grown, days->d, days->n * sizeof(CbDayPeak));
		days->d = grown;
		days->cap = cap;
	}
	days->d[days->n].day = day;
	days->d[days->n].peak = count;
	days->d[days->n].at = at;
	days->n++;
	return CB_OK;
}

CbStatus
cb_daily_peaks(int64_t *iv, size_t n, const CbCalendar *cal,
			   const CbAlloc *mem, CbDayPeak **out, size_t *nout)
{
	int64_t    *tmp;
	size_t		i,
				next_check;
	int64_t		count = 0;
	Days		days = {NULL, 0, 0, mem};

	*out = NULL;
	*nout = 0;
	if (n == 0)
		return CB_OK;
	tmp = mem->alloc(mem->arg, 2 * n * sizeof(int64_t));
	if (tmp == NULL)
		return CB_ERR_NOMEM;

	/* (start, end) pairs become endpoints: 2t + 1 a start, 2t an end */
	for (i = 0; i < n; i++)
	{
		if (iv[2 * i] >= iv[2 * i + 1])
			return CB_ERR_RANGE;
		iv[2 * i] = iv[2 * i] * 2 + 1;
		iv[2 * i + 1] = iv[2 * i + 1] * 2;
	}
	sort_int64(iv, 2 * n, tmp);

	i = 0;
	next_check = CB_INTERRUPT_BLOCK;
	while (i < 2 * n)
	{
		int64_t		t = iv[i] >> 1;
		int64_t		next;

		if (i >= next_check)
		{
			CB_INTERRUPT_POINT();
			next_check = i + CB_INTERRUPT_BLOCK;
		}
		for (; i < 2 * n && (iv[i] >> 1) == t; i++)
			count += (iv[i] & 1) ? 1 : -1;
		if (count > INT32_MAX)
			return CB_ERR_OVERFLOW;
		if (count == 0 || i == 2 * n)
			continue;

		/* the count holds on [t, next): every day it touches gets it */
		next = iv[i] >> 1;
		while (t < next)
		{
			int32_t		day;
			int64_t		start,
						end;
			CbStatus	st;

			cal->day_of(cal->arg, t, &day, &start, &end);
			if (end <= t)
				return CB_ERR_RANGE;
			st = note(&days, day, (int32_t) count, t);
			if (st != CB_OK)
				return st;
			t = end;
		}
	}
	*out = days.d;
	*nout = days.n;
	return CB_OK;
}
