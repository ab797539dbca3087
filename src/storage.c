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
 * The state's serialized form (format in the header) is written and
 * checked here too, beside the sums it carries.
 *
 *-------------------------------------------------------------------------
 */
#include "storage.h"

#include <string.h>

#include "byteorder.h"

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

/* ----------------------------------------------------------------
 * Serialized form
 * ----------------------------------------------------------------
 */
static const uint8_t magic[3] = {'C', 'B', 'G'};

size_t
cb_storage_state_size(uint32_t ndays)
{
	return CB_STORAGE_STATE_HEADER +
		(2 * (size_t) ndays + 1) * CB_STORAGE_SUMSIZE;
}

void
cb_storage_serialize(const CbStorage *s, uint8_t *out)
{
	uint8_t    *p = out;
	uint32_t	i;

	memcpy(p, magic, 3);
	p[3] = CB_STORAGE_STATE_VERSION;
	cb_put32(p + 4, (uint32_t) s->first_day);
	cb_put32(p + 8, (uint32_t) (s->first_day + (int32_t) s->ndays));
	cb_put64(p + 12, (uint64_t) s->files);
	p += CB_STORAGE_STATE_HEADER;
	for (i = 0; i <= s->ndays; i++, p += CB_STORAGE_SUMSIZE)
		cb_put128(p, (unsigned __int128) s->whole[i]);
	for (i = 0; i < s->ndays; i++, p += CB_STORAGE_SUMSIZE)
		cb_put128(p, (unsigned __int128) s->partial[i]);
}

static inline cb_int128
get_sum(const uint8_t *sums, uint32_t i)
{
	return (cb_int128) cb_get128(sums + (size_t) i * CB_STORAGE_SUMSIZE);
}

const char *
cb_storage_open(const uint8_t *buf, size_t len, CbStorageView *v)
{
	int32_t		from,
				to;
	cb_int128	running = 0;
	uint32_t	i;

	if (len < CB_STORAGE_STATE_HEADER || memcmp(buf, magic, 3) != 0 ||
		buf[3] != CB_STORAGE_STATE_VERSION)
		return "not version 1";
	from = (int32_t) cb_get32(buf + 4);
	to = (int32_t) cb_get32(buf + 8);
	/* both in range first: to - from of two forged days can overflow */
	if (from < CB_MIN_DAY || to > CB_MAX_DAY + 1 || to <= from ||
		to - from > CB_STORAGE_MAX_DAYS)
		return "window is not a range of billing days";
	v->first_day = from;
	v->ndays = (uint32_t) (to - from);
	if (len != cb_storage_state_size(v->ndays))
		return "length does not match its window";
	v->files = (int64_t) cb_get64(buf + 12);
	v->whole = buf + CB_STORAGE_STATE_HEADER;
	v->partial = v->whole + ((size_t) v->ndays + 1) * CB_STORAGE_SUMSIZE;
	if (v->files < 0)
		return "negative file count";

	/* runs of whole days start after the first day and end before the last */
	if (get_sum(v->whole, 0) != 0 || get_sum(v->whole, v->ndays) != 0)
		return "whole days outside the window";
	for (i = 1; i < v->ndays; i++)
	{
		if (__builtin_add_overflow(running, get_sum(v->whole, i), &running) ||
			running < 0)
			return "whole-day bytes out of range";
	}
	if (running != 0)
		return "whole days do not add up";
	for (i = 0; i < v->ndays; i++)
		if (get_sum(v->partial, i) < 0)
			return "negative byte-marks";
	return NULL;
}

void
cb_storage_read(const CbStorageView *v, CbStorage *s)
{
	uint32_t	i;

	s->files = v->files;
	for (i = 0; i <= v->ndays; i++)
		s->whole[i] = get_sum(v->whole, i);
	for (i = 0; i < v->ndays; i++)
		s->partial[i] = get_sum(v->partial, i);
}
