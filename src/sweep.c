/*-------------------------------------------------------------------------
 *
 * sweep.c
 *	  Turn one room's events into presence per billing day (SPEC 1).
 *
 * The rows are sorted into processing order (SPEC 1.3) and replayed once.
 * Each participant is absent or present; a participant can hold only one
 * session at a time, so the union of SPEC 1.4 falls out of the replay: a
 * join while present opens nothing.  The only look-ahead the rules need is
 * SPEC 1.5's "closes at last evidence": a first pass records, per
 * participant, the index of their last join/heartbeat and last leave, and
 * the index of the room's last end.  During the replay, a present
 * participant whose current row is their last evidence, with no leave of
 * theirs and no end after it, can never be closed by a later row, so the
 * session is closed right there, at that row's instant.
 *
 * Peaks (SPEC 1.8) are read after all rows of an instant have been
 * applied, which makes every presence half-open: a hand-over at one
 * instant never counts two people and a zero-length session never counts.
 *
 *-------------------------------------------------------------------------
 */
#include "sweep.h"

#include <string.h>

/* ----------------------------------------------------------------
 * Event names
 * ----------------------------------------------------------------
 */
static const char *const kind_names[CB_NUM_KINDS] = {
	"leave", "stage_down", "end", "heartbeat", "join", "stage_up"
};

const char *
cb_kind_name(int kind)
{
	if (kind < 0 || kind >= CB_NUM_KINDS)
		return "?";
	return kind_names[kind];
}

/* ----------------------------------------------------------------
 * Sorting
 *
 * Processing order is time, then kind (SPEC 1.3).  Rows of one instant and
 * one kind may come in any order: each touches only its own participant's
 * state (or, for "end", everyone's alike), and peaks are read only after
 * the whole instant.  So a log written in time order needs no sorting.
 *
 * A bottom-up merge sort: O(n log n) whatever the input, and it skips
 * merges of runs already in order, so rows that arrive nearly in time
 * order cost little more than one pass.
 * ----------------------------------------------------------------
 */
static inline int
event_less(const CbEvent *a, const CbEvent *b)
{
	int64_t		ta = cb_event_at(a);
	int64_t		tb = cb_event_at(b);

	if (ta != tb)
		return ta < tb;
	return cb_event_kind(a) < cb_event_kind(b);
}

void		(*cb_interrupt_hook) (void) = NULL;

int
cb_events_sorted(const CbEvent *ev, size_t n)
{
	size_t		i;

	for (i = 1; i < n; i++)
		if (event_less(&ev[i], &ev[i - 1]))
			return 0;
	return 1;
}

#define SORT_NAME sort_events
#define SORT_TYPE CbEvent
#define SORT_LESS(x, y) event_less(&(x), &(y))
#include "sort_template.h"

void
cb_sort_events(CbEvent *ev, size_t n, CbEvent *tmp)
{
	sort_events(ev, n, tmp);
}

/* ----------------------------------------------------------------
 * Presence per billing day
 *
 * One counter per day over a window of consecutive days that widens to
 * take each new day, at least doubling, on the side it grows; adding is
 * O(1) wherever the day falls.  (A sorted list of days made each new day
 * a memmove of the days after it: two sessions a few centuries long,
 * closed in the wrong order, moved tens of gigabytes.)  The window spans
 * the room's presence, not its rows, so a stray row decades away costs
 * nothing, and it never leaves CB_MIN_DAY .. CB_MAX_DAY: at most 1.2 MB.
 * ----------------------------------------------------------------
 */
typedef struct DayTotals
{
	int64_t    *usec;			/* usec[d - first]: presence on day d, or 0 */
	int32_t    *people;			/* people[d - first]: participants present */
	int32_t		first;
	uint32_t	ndays;			/* days in the window */
	uint64_t	steps;			/* days added to, for the interrupt */
	int32_t		last_day;		/* the day the calendar gave last, */
	int64_t		last_start;		/* its bounds; last_end <= last_start */
	int64_t		last_end;		/* when there is none yet */
	void		(*interrupt) (void);
	const CbAlloc *mem;
} DayTotals;

static CbStatus
days_widen(DayTotals *dt, int32_t day)
{
	int64_t		lo = day,
				hi = day,
				size,
				first;
	int64_t    *grown;
	int32_t    *grown_people;

	if (day < CB_MIN_DAY || day > CB_MAX_DAY)
		return CB_ERR_RANGE;	/* calendar broke its contract */
	if (dt->ndays > 0)
	{
		if (dt->first < lo)
			lo = dt->first;
		if ((int64_t) dt->first + dt->ndays - 1 > hi)
			hi = (int64_t) dt->first + dt->ndays - 1;
	}
	size = hi - lo + 1;
	if (size < 2 * (int64_t) dt->ndays)
		size = 2 * (int64_t) dt->ndays;
	if (size < 8)
		size = 8;
	first = (dt->ndays > 0 && day < dt->first) ? hi - size + 1 : lo;
	/* slack only where presence can be, so the window stays bounded */
	if (first < CB_MIN_DAY)
	{
		size -= CB_MIN_DAY - first;
		first = CB_MIN_DAY;
	}
	if (first + size - 1 > CB_MAX_DAY)
		size = CB_MAX_DAY - first + 1;

	grown = dt->mem->alloc(dt->mem->arg, (size_t) size * sizeof(int64_t));
	grown_people = dt->mem->alloc(dt->mem->arg, (size_t) size * sizeof(int32_t));
	if (grown == NULL || grown_people == NULL)
		return CB_ERR_NOMEM;
	memset(grown, 0, (size_t) size * sizeof(int64_t));
	memset(grown_people, 0, (size_t) size * sizeof(int32_t));
	if (dt->ndays > 0)
	{
		memcpy(grown + (dt->first - first), dt->usec,
			   (size_t) dt->ndays * sizeof(int64_t));
		memcpy(grown_people + (dt->first - first), dt->people,
			   (size_t) dt->ndays * sizeof(int32_t));
	}
	dt->usec = grown;
	dt->people = grown_people;
	dt->first = (int32_t) first;
	dt->ndays = (uint32_t) size;
	return CB_OK;
}

/*
 * Add usec of one participant's presence to a day; *last_day is the last
 * day that participant was counted on, so each participant counts once
 * per day (their sessions close in time order).
 */
static inline CbStatus
day_add(DayTotals *dt, int32_t day, int64_t usec, int32_t *last_day)
{
	int64_t    *slot;

	if (dt->ndays == 0 || day < dt->first ||
		(int64_t) day - dt->first >= (int64_t) dt->ndays)
	{
		CbStatus	st = days_widen(dt, day);

		if (st != CB_OK)
			return st;
	}
	slot = &dt->usec[day - dt->first];
	if (__builtin_add_overflow(*slot, usec, slot))
		return CB_ERR_OVERFLOW;
	if (*last_day != day)
	{
		dt->people[day - dt->first]++;
		*last_day = day;
	}
	return CB_OK;
}

/* The days with presence, ascending, for the result. */
static CbStatus
days_finish(const DayTotals *dt, const CbAlloc *mem, CbSweepResult *out)
{
	uint32_t	i,
				n = 0;

	for (i = 0; i < dt->ndays; i++)
		if (dt->usec[i] != 0)
			n++;
	out->ndays = n;
	out->days = NULL;
	if (n == 0)
		return CB_OK;
	out->days = mem->alloc(mem->arg, (size_t) n * sizeof(CbDayTotal));
	if (out->days == NULL)
		return CB_ERR_NOMEM;
	for (i = 0, n = 0; i < dt->ndays; i++)
		if (dt->usec[i] != 0)
		{
			out->days[n].day = dt->first + (int32_t) i;
			out->days[n].participants = dt->people[i];
			out->days[n].usec = dt->usec[i];
			n++;
		}
	return CB_OK;
}

/*
 * Add presence [s, e) split at billing-day boundaries (SPEC 1.6).  A few
 * rows can make many long sessions, each a loop over its days: the
 * interrupt is called here too, not only between rows.
 */
static CbStatus
add_presence(DayTotals *dt, const CbCalendar *cal, int64_t s, int64_t e,
			 int32_t *last_day)
{
	while (s < e)
	{
		int32_t		day;
		int64_t		start,
					end;
		CbStatus	st;

		if (dt->interrupt && (++dt->steps & (CB_INTERRUPT_BLOCK - 1)) == 0)
			dt->interrupt();
		/* sessions of one room fall on few days: ask the calendar once a day */
		if (s >= dt->last_start && s < dt->last_end)
		{
			day = dt->last_day;
			start = dt->last_start;
			end = dt->last_end;
		}
		else
		{
			cal->day_of(cal->arg, s, &day, &start, &end);
			if (end <= s)
				return CB_ERR_RANGE;	/* calendar broke its contract */
			if (start <= s)
			{
				dt->last_day = day;
				dt->last_start = start;
				dt->last_end = end;
			}
		}
		st = day_add(dt, day, (e < end ? e : end) - s, last_day);
		if (st != CB_OK)
			return st;
		s = end;
	}
	return CB_OK;
}

/* ----------------------------------------------------------------
 * The replay
 * ----------------------------------------------------------------
 */
#define P_PRESENT	0x01
#define P_STAGE		0x02
#define P_JOINED	0x04

typedef struct Participant
{
	int64_t		open_at;		/* start of the open session */
	size_t		last_evidence1; /* 1 + index of last join/heartbeat, 0 none */
	size_t		last_leave1;	/* 1 + index of last leave, 0 none */
	int32_t		last_day;		/* last day counted present on */
	uint32_t	slot;			/* position in the present list */
	uint8_t		flags;
} Participant;

typedef struct Replay
{
	Participant *p;
	uint32_t   *present;		/* participants present now */
	uint32_t	npresent;
	int64_t		on_stage;
	DayTotals	days;
	const CbCalendar *cal;
	const CbPresenceSink *sink;
} Replay;

static CbStatus
close_session(Replay *r, uint32_t pid, int64_t at)
{
	Participant *p = &r->p[pid];
	uint32_t	moved;

	p->flags &= ~P_PRESENT;
	if (p->flags & P_STAGE)
	{
		p->flags &= ~P_STAGE;
		r->on_stage--;
	}
	/* remove from the present list by moving its last entry into the gap */
	moved = r->present[--r->npresent];
	r->present[p->slot] = moved;
	r->p[moved].slot = p->slot;
	if (r->sink && at > p->open_at)
		r->sink->presence(r->sink->arg, p->open_at, at);
	return add_presence(&r->days, r->cal, p->open_at, at, &p->last_day);
}

CbStatus
cb_sweep(const CbEvent *ev, size_t n, uint32_t nparticipants,
		 const CbCalendar *cal, const CbAlloc *mem,
		 void (*interrupt) (void), const CbPresenceSink *sink,
		 CbSweepResult *out)
{
	Replay		r;
	size_t		last_end1 = 0;
	size_t		i,
				next_check;
	int64_t		joined = 0;
	CbQuality  *q = &out->quality;
	CbStatus	st = CB_OK;

	memset(out, 0, sizeof(*out));
	out->peak_at = out->stage_peak_at = CB_NO_TIME;
	memset(&r, 0, sizeof(r));
	q->events = (int64_t) n;
	r.cal = cal;
	r.sink = sink;
	r.days.interrupt = interrupt;
	r.days.mem = mem;

	if (nparticipants > 0)
	{
		r.p = mem->alloc(mem->arg, (size_t) nparticipants * sizeof(Participant));
		r.present = mem->alloc(mem->arg, (size_t) nparticipants * sizeof(uint32_t));
		if (r.p == NULL || r.present == NULL)
			return CB_ERR_NOMEM;
		memset(r.p, 0, (size_t) nparticipants * sizeof(Participant));
		for (i = 0; i < nparticipants; i++)
			r.p[i].last_day = INT32_MIN;
	}

	/* first pass: where each participant's evidence and leaves end */
	for (i = 0; i < n; i++)
	{
		int			kind = cb_event_kind(&ev[i]);
		uint32_t	pid = cb_event_pid(&ev[i]);

		if (interrupt && (i & (CB_INTERRUPT_BLOCK - 1)) == 0)
			interrupt();

		if (kind == CB_END)
			last_end1 = i + 1;
		else if (pid >= nparticipants)
			return CB_ERR_RANGE;
		else if (kind == CB_JOIN || kind == CB_HEARTBEAT)
			r.p[pid].last_evidence1 = i + 1;
		else if (kind == CB_LEAVE)
			r.p[pid].last_leave1 = i + 1;
	}

	/* second pass: replay instant by instant */
	i = 0;
	next_check = 0;
	while (i < n)
	{
		int64_t		at = cb_event_at(&ev[i]);

		if (interrupt && i >= next_check)
		{
			interrupt();
			next_check = i + CB_INTERRUPT_BLOCK;
		}

		for (; i < n && cb_event_at(&ev[i]) == at; i++)
		{
			int			kind = cb_event_kind(&ev[i]);
			uint32_t	pid = cb_event_pid(&ev[i]);

			/*
			 * "end" names nobody: a room of only "end" rows has no
			 * participant array, and even &r.p[0] would be undefined then.
			 */
			Participant *p = cb_kind_has_participant(kind) ? &r.p[pid] : NULL;

			switch (kind)
			{
				case CB_LEAVE:
					if (p->flags & P_PRESENT)
						st = close_session(&r, pid, at);
					else
						q->orphan_leaves++;
					break;
				case CB_STAGE_DOWN:
					if (p->flags & P_STAGE)
					{
						p->flags &= ~P_STAGE;
						r.on_stage--;
					}
					else
						q->stray_stage++;
					break;
				case CB_END:
					while (r.npresent > 0 && st == CB_OK)
						st = close_session(&r, r.present[r.npresent - 1], at);
					break;
				case CB_HEARTBEAT:
				case CB_JOIN:
					if (!(p->flags & P_PRESENT))
					{
						if (kind == CB_HEARTBEAT)
						{
							q->stray_heartbeats++;
							break;
						}
						p->flags |= P_PRESENT | P_JOINED;
						p->open_at = at;
						p->slot = r.npresent;
						r.present[r.npresent++] = pid;
					}
					else if (kind == CB_JOIN)
						q->duplicate_joins++;

					/*
					 * SPEC 1.5: the last evidence, with no leave and no end
					 * to come, closes the session here.
					 */
					if (p->last_evidence1 == i + 1 &&
						p->last_leave1 <= i && last_end1 <= i)
					{
						q->unterminated++;
						st = close_session(&r, pid, at);
					}
					break;
				case CB_STAGE_UP:
					if ((p->flags & (P_PRESENT | P_STAGE)) == P_PRESENT)
					{
						p->flags |= P_STAGE;
						r.on_stage++;
					}
					else
						q->stray_stage++;
					break;
				default:
					return CB_ERR_RANGE;
			}
			if (st != CB_OK)
				return st;
		}

		/* every row of this instant is in: read the peaks (SPEC 1.8) */
		if ((int64_t) r.npresent > out->peak)
		{
			out->peak = (int32_t) r.npresent;
			out->peak_at = at;
		}
		if (r.on_stage > out->stage_peak)
		{
			out->stage_peak = (int32_t) r.on_stage;
			out->stage_peak_at = at;
		}
	}

	/* the look-ahead guarantees nobody is left present */
	if (r.npresent != 0)
		return CB_ERR_RANGE;

	for (i = 0; i < nparticipants; i++)
		if (r.p[i].flags & P_JOINED)
			joined++;
	out->participants = joined;
	return days_finish(&r.days, mem, out);
}
