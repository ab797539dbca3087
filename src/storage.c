/*-------------------------------------------------------------------------
 *
 * storage.c
 *	  Byte-marks of recordings per billing day (SPEC 4.2), by arithmetic.
 *
 * The marks of a day [s, e) are s, s + P, s + 2P, ... below e (P = 5
 * minutes).  Those in [a, b) are the k with s + kP >= a and s + kP < b:
 * from ceil((a - s) / P) up to ceil((b - s) / P), clipped to the day.  No
 * loop over marks anywhere.
 *
 *-------------------------------------------------------------------------
 */
#include "storage.h"

/* ceil(n / d) for d > 0 and any n */
static inline int64_t
ceil_div(int64_t n, int64_t d)
{
	int64_t		q = n / d;

	return (n % d > 0) ? q + 1 : q;
}

static inline int64_t
clamp(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : (v > hi ? hi : v);
}

int64_t
cb_day_marks(int64_t start, int64_t end)
{
	return ceil_div(end - start, CB_MARK_USEC);
}

int64_t
cb_marks_covered(int64_t start, int64_t end, int64_t a, int64_t b)
{
	int64_t		n = cb_day_marks(start, end);
	int64_t		k0,
				k1;

	if (a >= b || b <= start || a >= end)
		return 0;
	k0 = a <= start ? 0 : clamp(ceil_div(a - start, CB_MARK_USEC), 0, n);
	k1 = b >= end ? n : clamp(ceil_div(b - start, CB_MARK_USEC), 0, n);
	return k1 > k0 ? k1 - k0 : 0;
}

/* The window day that holds instant t (starts[0] <= t < starts[ndays]). */
static uint32_t
day_index(const CbStorage *s, int64_t t)
{
	uint32_t	lo = 0,
				hi = s->ndays;

	/* the last i with starts[i] <= t */
	while (hi - lo > 1)
	{
		uint32_t	mid = lo + (hi - lo) / 2;

		if (s->starts[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

void
cb_storage_add(CbStorage *s, int64_t bytes, int64_t a, int64_t b)
{
	int64_t		wstart = s->starts[0];
	int64_t		wend = s->starts[s->ndays];
	uint32_t	da,
				db;

	s->files++;
	if (a < wstart)
		a = wstart;
	if (b > wend)
		b = wend;
	if (a >= b || bytes == 0)
		return;

	da = day_index(s, a);
	db = day_index(s, b - 1);
	if (da == db)
	{
		s->partial[da] += (cb_int128) bytes *
			cb_marks_covered(s->starts[da], s->starts[da + 1], a, b);
		return;
	}

	/* the first day from a, the last up to b, the days between whole */
	s->partial[da] += (cb_int128) bytes *
		cb_marks_covered(s->starts[da], s->starts[da + 1], a, s->starts[da + 1]);
	s->partial[db] += (cb_int128) bytes *
		cb_marks_covered(s->starts[db], s->starts[db + 1], s->starts[db], b);
	if (db > da + 1)
	{
		s->whole[da + 1] += bytes;
		s->whole[db] -= bytes;
	}
}

void
cb_storage_merge(CbStorage *dst, const CbStorage *src)
{
	uint32_t	i;

	for (i = 0; i < dst->ndays; i++)
	{
		dst->whole[i] += src->whole[i];
		dst->partial[i] += src->partial[i];
	}
	dst->whole[dst->ndays] += src->whole[dst->ndays];
	dst->files += src->files;
}

void
cb_storage_finish(CbStorage *s)
{
	uint32_t	i;

	for (i = 1; i <= s->ndays; i++)
		s->whole[i] += s->whole[i - 1];
}

cb_int128
cb_storage_byte_marks(const CbStorage *s, uint32_t i)
{
	return s->whole[i] * cb_day_marks(s->starts[i], s->starts[i + 1]) + s->partial[i];
}
