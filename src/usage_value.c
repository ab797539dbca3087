/*-------------------------------------------------------------------------
 *
 * usage_value.c
 *	  Encode, check, merge, print and parse classbill.usage values.
 *
 * Plain C; the layout is described in usage_value.h.  Nothing here trusts
 * its input bytes before cb_usage_check has passed them, and the parser
 * reports the first thing it cannot accept instead of guessing.
 *
 *-------------------------------------------------------------------------
 */
#include "usage_value.h"

#include "byteorder.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* header offsets */
#define OFF_VERSION		0
#define OFF_FLAGS		1
#define OFF_TZLEN		2
#define OFF_NDAYS		4
#define OFF_ROOMS		8
#define OFF_PARTS		16
#define OFF_PEAK		24
#define OFF_SPEAK		28
#define OFF_QUALITY		32		/* six int64 counters */
#define OFF_PEAK_AT		80
#define OFF_SPEAK_AT	88

#define NQUALITY		6

static int64_t *
quality_field(CbQuality *q, int i)
{
	switch (i)
	{
		case 0:
			return &q->events;
		case 1:
			return &q->duplicate_joins;
		case 2:
			return &q->orphan_leaves;
		case 3:
			return &q->stray_heartbeats;
		case 4:
			return &q->stray_stage;
		default:
			return &q->unterminated;
	}
}

static const char *const quality_names[NQUALITY] = {
	"events", "duplicate_joins", "orphan_leaves", "stray_heartbeats",
	"stray_stage_events", "unterminated_sessions"
};

/* ----------------------------------------------------------------
 * Calendar arithmetic
 *
 * Days are counted from 2000-01-01 like PostgreSQL's date type.  The
 * computation shifts the year to start in March so that the leap day
 * falls at its end, then counts 400-year eras of 146097 days.
 * ----------------------------------------------------------------
 */
#define DAYS_0000_03_01_TO_2000_01_01 730425

int32_t
cb_date_to_day(int year, int month, int mday)
{
	int64_t		y = (int64_t) year - (month <= 2 ? 1 : 0);
	int64_t		era = (y >= 0 ? y : y - 399) / 400;
	int64_t		yoe = y - era * 400;
	int64_t		mp = (month + 9) % 12;
	int64_t		doy = (153 * mp + 2) / 5 + mday - 1;
	int64_t		doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return (int32_t) (era * 146097 + doe - DAYS_0000_03_01_TO_2000_01_01);
}

void
cb_day_to_date(int32_t day, int *year, int *month, int *mday)
{
	int64_t		z = (int64_t) day + DAYS_0000_03_01_TO_2000_01_01;
	int64_t		era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t		doe = z - era * 146097;
	int64_t		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t		mp = (5 * doy + 2) / 153;
	int			m = (int) (mp < 10 ? mp + 3 : mp - 9);

	*mday = (int) (doy - (153 * mp + 2) / 5 + 1);
	*month = m;
	*year = (int) (yoe + era * 400 + (m <= 2 ? 1 : 0));
}

/* ----------------------------------------------------------------
 * Bytes
 * ----------------------------------------------------------------
 */
static void
put_day(uint8_t *p, const CbDayTotal *d)
{
	cb_put32(p, (uint32_t) d->day);
	cb_put32(p + 4, (uint32_t) d->participants);
	cb_put64(p + 8, (uint64_t) d->usec);
}

/* version 1 values had days of day and presence only */
static size_t
day_size(const uint8_t *buf)
{
	return buf[OFF_VERSION] == 1 ? CB_USAGE_V1_DAYSIZE : CB_USAGE_DAYSIZE;
}

size_t
cb_usage_stored_size(const uint8_t *buf)
{
	return CB_USAGE_HEADER + cb_get16(buf + OFF_TZLEN) +
		(size_t) cb_get32(buf + OFF_NDAYS) * day_size(buf);
}

void
cb_usage_encode(const CbUsage *u, uint8_t *buf)
{
	uint8_t    *p;
	uint32_t	i;
	CbQuality	q = u->quality;

	buf[OFF_VERSION] = CB_USAGE_VERSION;
	buf[OFF_FLAGS] = 0;
	cb_put16(buf + OFF_TZLEN, (uint16_t) u->tzlen);
	cb_put32(buf + OFF_NDAYS, u->ndays);
	cb_put64(buf + OFF_ROOMS, (uint64_t) u->rooms);
	cb_put64(buf + OFF_PARTS, (uint64_t) u->participants);
	cb_put32(buf + OFF_PEAK, (uint32_t) u->peak);
	cb_put32(buf + OFF_SPEAK, (uint32_t) u->stage_peak);
	cb_put64(buf + OFF_PEAK_AT, (uint64_t) u->peak_at);
	cb_put64(buf + OFF_SPEAK_AT, (uint64_t) u->stage_peak_at);
	for (i = 0; i < NQUALITY; i++)
		cb_put64(buf + OFF_QUALITY + 8 * i, (uint64_t) *quality_field(&q, (int) i));
	memcpy(buf + CB_USAGE_HEADER, u->tz, u->tzlen);
	p = buf + CB_USAGE_HEADER + u->tzlen;
	for (i = 0; i < u->ndays; i++, p += CB_USAGE_DAYSIZE)
		put_day(p, &u->days[i]);
}

uint32_t
cb_usage_ndays(const uint8_t *buf)
{
	return cb_get32(buf + OFF_NDAYS);
}

static const uint8_t *
days_start(const uint8_t *buf)
{
	return buf + CB_USAGE_HEADER + cb_get16(buf + OFF_TZLEN);
}

CbDayTotal
cb_usage_day(const uint8_t *buf, uint32_t i)
{
	const uint8_t *p = days_start(buf) + (size_t) i * day_size(buf);
	CbDayTotal	d;

	d.day = (int32_t) cb_get32(p);
	if (buf[OFF_VERSION] == 1)
	{
		/* no count per day yet: the value's participants stand for it */
		int64_t		all = (int64_t) cb_get64(buf + OFF_PARTS);

		d.participants = all > INT32_MAX ? INT32_MAX : all < 1 ? 1 : (int32_t) all;
		d.usec = (int64_t) cb_get64(p + 4);
	}
	else
	{
		d.participants = (int32_t) cb_get32(p + 4);
		d.usec = (int64_t) cb_get64(p + 8);
	}
	return d;
}

void
cb_usage_header(const uint8_t *buf, CbUsage *u)
{
	int			i;

	memset(u, 0, sizeof(*u));
	u->tzlen = cb_get16(buf + OFF_TZLEN);
	u->tz = (const char *) buf + CB_USAGE_HEADER;
	u->ndays = cb_get32(buf + OFF_NDAYS);
	u->rooms = (int64_t) cb_get64(buf + OFF_ROOMS);
	u->participants = (int64_t) cb_get64(buf + OFF_PARTS);
	u->peak = (int32_t) cb_get32(buf + OFF_PEAK);
	u->stage_peak = (int32_t) cb_get32(buf + OFF_SPEAK);
	u->peak_at = (int64_t) cb_get64(buf + OFF_PEAK_AT);
	u->stage_peak_at = (int64_t) cb_get64(buf + OFF_SPEAK_AT);
	for (i = 0; i < NQUALITY; i++)
		*quality_field(&u->quality, i) =
			(int64_t) cb_get64(buf + OFF_QUALITY + 8 * i);
	u->days = NULL;
}

/* A peak's instant: none for a peak of 0, one classbill accepts otherwise. */
static int
instant_ok(int32_t peak, int64_t at)
{
	if (peak == 0)
		return at == CB_NO_TIME;
	return at >= CB_MIN_AT && at < CB_MAX_AT;
}

static int
tz_char_ok(uint8_t c)
{
	/* what may stand in tz=... of the text form */
	return c > ' ' && c < 0x7f;
}

const char *
cb_usage_check(const uint8_t *buf, size_t len)
{
	CbUsage		u;
	uint32_t	i;
	int			k;
	int32_t		prev = CB_MIN_DAY - 1;

	if (len < CB_USAGE_HEADER)
		return "value is shorter than its header";
	if (buf[OFF_VERSION] != CB_USAGE_VERSION && buf[OFF_VERSION] != 1)
		return "unknown format version";
	if (buf[OFF_FLAGS] != 0)
		return "reserved flags are set";
	cb_usage_header(buf, &u);
	if (u.tzlen < 1 || u.tzlen > CB_TZ_MAXLEN)
		return "time zone name length out of range";
	if (u.ndays > CB_MAX_DAYS)
		return "too many days";
	if (len != CB_USAGE_HEADER + u.tzlen + (size_t) u.ndays * day_size(buf))
		return "length does not match the number of days";
	for (i = 0; i < u.tzlen; i++)
		if (!tz_char_ok((uint8_t) u.tz[i]))
			return "time zone name has a character outside printable ASCII";
	if (u.rooms < 0 || u.participants < 0 || u.peak < 0 || u.stage_peak < 0)
		return "negative count";
	if (!instant_ok(u.peak, u.peak_at) || !instant_ok(u.stage_peak, u.stage_peak_at))
		return "time of a peak out of range, or given for a peak of 0";
	for (k = 0; k < NQUALITY; k++)
		if (*quality_field(&u.quality, k) < 0)
			return "negative count";
	for (i = 0; i < u.ndays; i++)
	{
		CbDayTotal	d = cb_usage_day(buf, i);

		if (d.day <= prev || d.day > CB_MAX_DAY)
			return "days out of order or out of range";
		if (d.usec <= 0)
			return "a day with no presence";
		if (buf[OFF_VERSION] != 1 && d.participants < 1)
			return "a day with no participant";
		prev = d.day;
	}
	return NULL;
}

/* ----------------------------------------------------------------
 * Merge
 * ----------------------------------------------------------------
 */
static int
same_tz(const uint8_t *a, const uint8_t *b)
{
	uint16_t	la = cb_get16(a + OFF_TZLEN);

	return la == cb_get16(b + OFF_TZLEN) &&
		memcmp(a + CB_USAGE_HEADER, b + CB_USAGE_HEADER, la) == 0;
}

size_t
cb_usage_merge_size(const uint8_t *a, const uint8_t *b)
{
	uint32_t	na = cb_usage_ndays(a),
				nb = cb_usage_ndays(b);
	uint32_t	i = 0,
				j = 0,
				n = 0;

	if (!same_tz(a, b))
		return 0;
	while (i < na || j < nb)
	{
		if (j == nb || (i < na && cb_usage_day(a, i).day < cb_usage_day(b, j).day))
			i++;
		else if (i == na || cb_usage_day(b, j).day < cb_usage_day(a, i).day)
			j++;
		else
		{
			i++;
			j++;
		}
		n++;
	}
	return cb_usage_size(cb_get16(a + OFF_TZLEN), n);
}

/* Sum the header of b into ua (which holds a's header). */
static CbStatus
merge_header(CbUsage *ua, const uint8_t *b)
{
	CbUsage		ub;
	int			k;

	cb_usage_header(b, &ub);
	if (__builtin_add_overflow(ua->rooms, ub.rooms, &ua->rooms) ||
		__builtin_add_overflow(ua->participants, ub.participants, &ua->participants))
		return CB_ERR_OVERFLOW;
	for (k = 0; k < NQUALITY; k++)
		if (__builtin_add_overflow(*quality_field(&ua->quality, k),
								   *quality_field(&ub.quality, k),
								   quality_field(&ua->quality, k)))
			return CB_ERR_OVERFLOW;
	if (ub.peak > ua->peak || (ub.peak == ua->peak && ub.peak_at < ua->peak_at))
	{
		ua->peak = ub.peak;
		ua->peak_at = ub.peak_at;
	}
	if (ub.stage_peak > ua->stage_peak ||
		(ub.stage_peak == ua->stage_peak && ub.stage_peak_at < ua->stage_peak_at))
	{
		ua->stage_peak = ub.stage_peak;
		ua->stage_peak_at = ub.stage_peak_at;
	}
	return CB_OK;
}

CbStatus
cb_usage_merge(const uint8_t *a, const uint8_t *b, uint8_t *out)
{
	CbUsage		u;
	uint32_t	na = cb_usage_ndays(a),
				nb = cb_usage_ndays(b);
	uint32_t	i = 0,
				j = 0,
				n = 0;
	uint8_t    *p;

	cb_usage_header(a, &u);
	if (merge_header(&u, b) != CB_OK)
		return CB_ERR_OVERFLOW;

	/* header and zone first, with no days; then the merged days */
	u.ndays = 0;
	cb_usage_encode(&u, out);
	p = out + CB_USAGE_HEADER + u.tzlen;
	while (i < na || j < nb)
	{
		CbDayTotal	d;

		if (j == nb || (i < na && cb_usage_day(a, i).day < cb_usage_day(b, j).day))
			d = cb_usage_day(a, i++);
		else if (i == na || cb_usage_day(b, j).day < cb_usage_day(a, i).day)
			d = cb_usage_day(b, j++);
		else
		{
			CbDayTotal	db = cb_usage_day(b, j++);

			d = cb_usage_day(a, i++);
			if (__builtin_add_overflow(d.usec, db.usec, &d.usec) ||
				__builtin_add_overflow(d.participants, db.participants, &d.participants))
				return CB_ERR_OVERFLOW;
		}
		put_day(p, &d);
		p += CB_USAGE_DAYSIZE;
		n++;
	}
	cb_put32(out + OFF_NDAYS, n);
	return CB_OK;
}

int
cb_usage_add_inplace(uint8_t *a, const uint8_t *b, CbStatus *status)
{
	CbUsage		u;
	uint32_t	na = cb_usage_ndays(a),
				nb = cb_usage_ndays(b);
	uint32_t	i = 0,
				j;
	uint8_t    *da = (uint8_t *) days_start(a);
	int			k;

	*status = CB_OK;
	/* a value of version 1 has no room for the day's participants */
	if (!same_tz(a, b) || a[OFF_VERSION] != CB_USAGE_VERSION)
		return 0;

	/* every day of b must be a day of a, and every sum must fit */
	for (j = 0; j < nb; j++)
	{
		CbDayTotal	db = cb_usage_day(b, j);
		int64_t		sum;
		int32_t		people;

		while (i < na && cb_usage_day(a, i).day < db.day)
			i++;
		if (i == na || cb_usage_day(a, i).day != db.day)
			return 0;
		if (__builtin_add_overflow(cb_usage_day(a, i).usec, db.usec, &sum) ||
			__builtin_add_overflow(cb_usage_day(a, i).participants, db.participants, &people))
		{
			*status = CB_ERR_OVERFLOW;
			return 0;
		}
	}

	cb_usage_header(a, &u);
	if (merge_header(&u, b) != CB_OK)
	{
		*status = CB_ERR_OVERFLOW;
		return 0;
	}
	cb_put64(a + OFF_ROOMS, (uint64_t) u.rooms);
	cb_put64(a + OFF_PARTS, (uint64_t) u.participants);
	cb_put32(a + OFF_PEAK, (uint32_t) u.peak);
	cb_put32(a + OFF_SPEAK, (uint32_t) u.stage_peak);
	cb_put64(a + OFF_PEAK_AT, (uint64_t) u.peak_at);
	cb_put64(a + OFF_SPEAK_AT, (uint64_t) u.stage_peak_at);
	for (k = 0; k < NQUALITY; k++)
		cb_put64(a + OFF_QUALITY + 8 * k, (uint64_t) *quality_field(&u.quality, k));

	for (i = 0, j = 0; j < nb; j++)
	{
		CbDayTotal	db = cb_usage_day(b, j);
		CbDayTotal	d;

		while (cb_usage_day(a, i).day < db.day)
			i++;
		d = cb_usage_day(a, i);
		d.usec += db.usec;
		d.participants += db.participants;
		put_day(da + (size_t) i * CB_USAGE_DAYSIZE, &d);
	}
	return 1;
}

/* ----------------------------------------------------------------
 * Text
 * ----------------------------------------------------------------
 */
#define TEXT_FIXED_BOUND	500 /* keys, separators, numbers, two instants */
#define TEXT_DAY_BOUND		52	/* ",YYYY-MM-DD:", a 20-digit second, ":" and 10 digits */

size_t
cb_usage_text_bound(const uint8_t *buf)
{
	return TEXT_FIXED_BOUND + cb_get16(buf + OFF_TZLEN) +
		(size_t) cb_usage_ndays(buf) * TEXT_DAY_BOUND;
}

/* Seconds and up to six decimals, no trailing zeros. */
static char *
print_seconds(char *p, int64_t usec)
{
	int64_t		frac = usec % CB_USEC_PER_SEC;

	p += sprintf(p, "%" PRId64, usec / CB_USEC_PER_SEC);
	if (frac != 0)
	{
		int			digits = 6;

		while (frac % 10 == 0)
		{
			frac /= 10;
			digits--;
		}
		p += sprintf(p, ".%0*" PRId64, digits, frac);
	}
	return p;
}

/* YYYY-MM-DDTHH:MM:SS[.ffffff]Z, or nothing for CB_NO_TIME */
static char *
print_instant(char *p, int64_t at)
{
	int64_t		day,
				rem;
	int			y,
				m,
				d;

	if (at == CB_NO_TIME)
		return p;
	day = at / CB_USEC_PER_DAY;
	rem = at % CB_USEC_PER_DAY;
	if (rem < 0)
	{
		rem += CB_USEC_PER_DAY;
		day--;
	}
	cb_day_to_date((int32_t) day, &y, &m, &d);
	p += sprintf(p, "%04d-%02d-%02dT%02d:%02d:", y, m, d,
				 (int) (rem / CB_USEC_PER_HOUR),
				 (int) (rem % CB_USEC_PER_HOUR / CB_USEC_PER_MINUTE));
	if (rem % CB_USEC_PER_MINUTE < 10 * CB_USEC_PER_SEC)
		*p++ = '0';
	p = print_seconds(p, rem % CB_USEC_PER_MINUTE);
	*p++ = 'Z';
	*p = '\0';
	return p;
}

void
cb_usage_to_text(const uint8_t *buf, char *out)
{
	CbUsage		u;
	uint32_t	i;
	int			k;
	char	   *p = out;

	cb_usage_header(buf, &u);
	p += sprintf(p, "tz=%.*s rooms=%" PRId64 " participants=%" PRId64
				 " peak=%" PRId32 " peak_at=",
				 (int) u.tzlen, u.tz, u.rooms, u.participants, u.peak);
	p = print_instant(p, u.peak_at);
	p += sprintf(p, " stage_peak=%" PRId32 " stage_peak_at=", u.stage_peak);
	p = print_instant(p, u.stage_peak_at);
	for (k = 0; k < NQUALITY; k++)
		p += sprintf(p, " %s=%" PRId64, quality_names[k],
					 *quality_field(&u.quality, k));
	p += sprintf(p, " days=");
	for (i = 0; i < u.ndays; i++)
	{
		CbDayTotal	d = cb_usage_day(buf, i);
		int			y,
					m,
					dd;

		cb_day_to_date(d.day, &y, &m, &dd);
		p += sprintf(p, "%s%04d-%02d-%02d:", i ? "," : "", y, m, dd);
		p = print_seconds(p, d.usec);
		p += sprintf(p, ":%" PRId32, d.participants);
	}
	*p = '\0';
}

typedef struct Parser
{
	const char *s;
	char	   *err;
	size_t		errlen;
} Parser;

static int
fail(Parser *ps, const char *what, const char *at, size_t len)
{
	if (len > 40)
		len = 40;
	snprintf(ps->err, ps->errlen, "%s at \"%.*s\"", what, (int) len, at);
	return 1;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Unsigned decimal in [p, end) into *v; no sign, no blanks. */
static int
parse_count(const char *p, const char *end, int64_t max, int64_t *v)
{
	int64_t		x = 0;

	if (p == end)
		return 0;
	for (; p < end; p++)
	{
		if (!is_digit(*p))
			return 0;
		if (x > (max - (*p - '0')) / 10)
			return 0;
		x = x * 10 + (*p - '0');
	}
	*v = x;
	return 1;
}

static int
parse_fixed_digits(const char *p, int n, int *v)
{
	int			x = 0,
				i;

	for (i = 0; i < n; i++)
	{
		if (!is_digit(p[i]))
			return 0;
		x = x * 10 + (p[i] - '0');
	}
	*v = x;
	return 1;
}

static int
days_in_month(int y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 29;
	return dim[m - 1];
}

/* "digits[.1-6 digits]" in [p, end) as microseconds, at most max */
static int
parse_usec(const char *p, const char *end, int64_t max_whole, int64_t *usec)
{
	const char *dot;
	int64_t		whole,
				frac = 0;
	int			fdigits;

	for (dot = p; dot < end && *dot != '.'; dot++)
		;
	if (!parse_count(p, dot, max_whole, &whole))
		return 0;
	if (dot < end)
	{
		fdigits = (int) (end - dot - 1);
		if (fdigits < 1 || fdigits > 6 || !parse_count(dot + 1, end, 999999, &frac))
			return 0;
		for (; fdigits < 6; fdigits++)
			frac *= 10;
	}
	return !__builtin_mul_overflow(whole, CB_USEC_PER_SEC, usec) &&
		!__builtin_add_overflow(*usec, frac, usec);
}

/* "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" in [p, end), or nothing */
static int
parse_instant(Parser *ps, const char *p, const char *end, int64_t *at)
{
	int			y,
				m,
				d,
				hh,
				mm;
	int64_t		sec;

	if (p == end)
	{
		*at = CB_NO_TIME;
		return 0;
	}
	if (end - p < 20 || p[4] != '-' || p[7] != '-' || p[10] != 'T' ||
		p[13] != ':' || p[16] != ':' || end[-1] != 'Z' ||
		!parse_fixed_digits(p, 4, &y) || !parse_fixed_digits(p + 5, 2, &m) ||
		!parse_fixed_digits(p + 8, 2, &d) || !parse_fixed_digits(p + 11, 2, &hh) ||
		!parse_fixed_digits(p + 14, 2, &mm) || p[17] < '0' || p[17] > '9' ||
		!parse_usec(p + 17, end - 1, 59, &sec))
		return fail(ps, "expected an instant as YYYY-MM-DDTHH:MM:SS[.ffffff]Z", p, (size_t) (end - p));
	if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m) || hh > 23 || mm > 59)
		return fail(ps, "no such instant", p, (size_t) (end - p));
	*at = (int64_t) cb_date_to_day(y, m, d) * CB_USEC_PER_DAY +
		hh * CB_USEC_PER_HOUR + mm * CB_USEC_PER_MINUTE + sec;
	if (*at < CB_MIN_AT || *at >= CB_MAX_AT)
		return fail(ps, "instant outside 1900-01-01 .. 2299-12-31", p, (size_t) (end - p));
	return 0;
}

/*
 * "YYYY-MM-DD:seconds[.ffffff][:participants]" in [p, end); without the
 * participants (the 1.0 form) d->participants is 0, for the caller to fill.
 */
static int
parse_day(Parser *ps, const char *p, const char *end, CbDayTotal *d)
{
	int			y,
				m,
				dd;
	const char *sec,
			   *colon;

	if (end - p < 12 || p[4] != '-' || p[7] != '-' || p[10] != ':' ||
		!parse_fixed_digits(p, 4, &y) || !parse_fixed_digits(p + 5, 2, &m) ||
		!parse_fixed_digits(p + 8, 2, &dd))
		return fail(ps, "expected a day as YYYY-MM-DD:seconds", p, (size_t) (end - p));
	if (m < 1 || m > 12 || dd < 1 || dd > days_in_month(y, m))
		return fail(ps, "no such date", p, 10);
	d->day = cb_date_to_day(y, m, dd);
	if (d->day < CB_MIN_DAY || d->day > CB_MAX_DAY)
		return fail(ps, "date outside 1899-12-31 .. 2300-01-01", p, 10);

	sec = p + 11;
	for (colon = sec; colon < end && *colon != ':'; colon++)
		;
	if (!parse_usec(sec, colon, INT64_MAX / CB_USEC_PER_SEC, &d->usec))
		return fail(ps, "expected seconds with at most six decimals", sec, (size_t) (colon - sec));
	d->participants = 0;
	if (colon < end)
	{
		int64_t		v;

		if (!parse_count(colon + 1, end, INT32_MAX, &v) || v < 1)
			return fail(ps, "expected the day's participants, 1 or more", colon + 1,
						(size_t) (end - colon - 1));
		d->participants = (int32_t) v;
	}
	if (d->usec <= 0)
		return fail(ps, "a day must hold presence", p, (size_t) (end - p));
	return 0;
}

static int
parse_days(Parser *ps, const char *p, const char *end, const CbAlloc *mem,
		   CbUsage *u)
{
	uint32_t	n = 0,
				i;
	const char *q;
	CbDayTotal *days;

	if (p == end)
		return 0;
	for (q = p; q < end; q++)
		if (*q == ',')
			n++;
	n++;
	if (n > CB_MAX_DAYS)
		return fail(ps, "too many days", p, 10);
	days = mem->alloc(mem->arg, (size_t) n * sizeof(CbDayTotal));
	if (days == NULL)
		return fail(ps, "out of memory", p, 0);
	for (i = 0; i < n; i++)
	{
		for (q = p; q < end && *q != ','; q++)
			;
		if (parse_day(ps, p, q, &days[i]))
			return 1;
		if (i > 0 && days[i].day <= days[i - 1].day)
			return fail(ps, "days must be in ascending order, each once", p, (size_t) (q - p));
		p = q + 1;
	}
	u->days = days;
	u->ndays = n;
	return 0;
}

int
cb_usage_parse(const char *text, const CbAlloc *mem, CbUsage *u,
			   char *errbuf, size_t errlen)
{
	/* keys in output order; seen[] guards "each exactly once" */
	static const char *const keys[] = {
		"tz", "rooms", "participants", "peak", "stage_peak",
		"events", "duplicate_joins", "orphan_leaves", "stray_heartbeats",
		"stray_stage_events", "unterminated_sessions", "days",
		"peak_at", "stage_peak_at"
	};
	enum
	{
		NKEYS = sizeof(keys) / sizeof(keys[0])
	};
	int			seen[NKEYS] = {0};
	Parser		ps;
	const char *p = text;
	int			k;

	ps.s = text;
	ps.err = errbuf;
	ps.errlen = errlen;
	memset(u, 0, sizeof(*u));

	for (;;)
	{
		const char *tok,
				   *eq,
				   *end;
		size_t		klen;

		while (is_space(*p))
			p++;
		if (*p == '\0')
			break;
		tok = p;
		while (*p && !is_space(*p))
			p++;
		end = p;
		for (eq = tok; eq < end && *eq != '='; eq++)
			;
		if (eq == end)
			return fail(&ps, "expected key=value", tok, (size_t) (end - tok));
		klen = (size_t) (eq - tok);
		for (k = 0; k < NKEYS; k++)
			if (strlen(keys[k]) == klen && memcmp(keys[k], tok, klen) == 0)
				break;
		if (k == NKEYS)
			return fail(&ps, "unknown key", tok, klen);
		if (seen[k])
			return fail(&ps, "key given twice", tok, klen);
		seen[k] = 1;
		eq++;

		if (k == 0)
		{
			char	   *tz;

			if (end - eq < 1 || end - eq > CB_TZ_MAXLEN)
				return fail(&ps, "time zone name length out of range", eq, (size_t) (end - eq));
			for (tok = eq; tok < end; tok++)
				if (!tz_char_ok((uint8_t) *tok))
					return fail(&ps, "time zone name has a character outside printable ASCII", eq, (size_t) (end - eq));
			tz = mem->alloc(mem->arg, (size_t) (end - eq) + 1);
			if (tz == NULL)
				return fail(&ps, "out of memory", eq, 0);
			memcpy(tz, eq, (size_t) (end - eq));
			tz[end - eq] = '\0';
			u->tz = tz;
			u->tzlen = (size_t) (end - eq);
		}
		else if (k == 11)
		{
			if (parse_days(&ps, eq, end, mem, u))
				return 1;
		}
		else if (k == 12 || k == 13)
		{
			if (parse_instant(&ps, eq, end, k == 12 ? &u->peak_at : &u->stage_peak_at))
				return 1;
		}
		else if (k == 3 || k == 4)
		{
			int64_t		v;

			if (!parse_count(eq, end, INT32_MAX, &v))
				return fail(&ps, "expected a count up to 2147483647", tok, (size_t) (end - tok));
			*(k == 3 ? &u->peak : &u->stage_peak) = (int32_t) v;
		}
		else
		{
			int64_t		v;

			if (!parse_count(eq, end, INT64_MAX, &v))
				return fail(&ps, "expected a non-negative 64-bit count", tok, (size_t) (end - tok));
			if (k == 1)
				u->rooms = v;
			else if (k == 2)
				u->participants = v;
			else
				*quality_field(&u->quality, k - 5) = v;
		}
	}

	for (k = 0; k < NKEYS; k++)
		if (!seen[k])
		{
			snprintf(errbuf, errlen, "key \"%s\" is missing", keys[k]);
			return 1;
		}
	if (!instant_ok(u->peak, u->peak_at) || !instant_ok(u->stage_peak, u->stage_peak_at))
	{
		snprintf(errbuf, errlen, "a peak above 0 needs its instant, and a peak of 0 has none");
		return 1;
	}
	for (k = 0; k < (int) u->ndays; k++)
	{
		CbDayTotal *d = (CbDayTotal *) &u->days[k];

		/* a day in the 1.0 form takes the value's participants */
		if (d->participants == 0)
			d->participants = u->participants > INT32_MAX ? INT32_MAX :
				(int32_t) (u->participants > 0 ? u->participants : 1);
	}
	return 0;
}
