/*-------------------------------------------------------------------------
 *
 * fuzz_sweep.c
 *	  libFuzzer harness: the usage rules of SPEC 1, checked on every input
 *	  against a small reference written from the SPEC text alone.
 *
 * The input is decoded into up to 64 event rows of one room (participants
 * "p0".."p7", or up to "p63" so that a room outgrows its linear lookup;
 * every kind; steps of microseconds to years, some of them backwards, so
 * rows arrive out of order, cross UTC midnights, and push the room buffer
 * from 8-byte to 12-byte events).  The rows go into a CbRoomState through
 * the same calls the aggregate makes, come out in processing order, and
 * are swept with a UTC calendar.  The result must equal the reference's:
 * presence per day, every presence interval, peak and stage peak with
 * their instants, participants and every data-quality counter.
 *
 * Then SPEC 1.9: the same rows in another arrival order, with one row
 * duplicated, serialized and read back (parallel workers), split into two
 * states and merged (combine), and swept a second time after the in-place
 * sort, must all give the same result.
 *
 * Helper mode: with CB_FUZZ_DUMP_STATE=path in the environment, the
 * serialized state of each input is written to path; that is how the
 * seed corpus of fuzz_state was made.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "room_state.h"
#include "state_codec.h"
#include "sweep.h"

#define MAX_EVENTS		64
#define MAX_WHO			64
#define HEADER_BYTES	2
#define EVENT_BYTES		3

/* 2026-11-02, in days since 2000-01-01: around where the rows start */
#define BASE_DAY		9802

/* ----------------------------------------------------------------
 * Input rows
 *
 * The reference has its own names for the kinds, taken from the SPEC
 * words, so that it does not lean on the core's numbering: the core's
 * number comes from cb_parse_kind on the spelled-out name.
 * ----------------------------------------------------------------
 */
typedef enum RefKind
{
	R_JOIN,
	R_LEAVE,
	R_HEARTBEAT,
	R_END,
	R_STAGE_UP,
	R_STAGE_DOWN
} RefKind;

/* Three bits pick a spelling; joins and leaves come twice as often. */
static const char *const input_names[8] = {
	"join", "leave", "heartbeat", "end", "stage_up", "stage_down", "JOIN", "Leave"
};
static const RefKind input_kinds[8] = {
	R_JOIN, R_LEAVE, R_HEARTBEAT, R_END, R_STAGE_UP, R_STAGE_DOWN, R_JOIN, R_LEAVE
};
static const char *const ref_names[6] = {
	"join", "leave", "heartbeat", "end", "stage_up", "stage_down"
};

/* SPEC 1.3, at one instant: leave, stage_down, end, heartbeat, join, stage_up */
static const int ref_rank[6] = {
	[R_LEAVE] = 0, [R_STAGE_DOWN] = 1, [R_END] = 2,
	[R_HEARTBEAT] = 3, [R_JOIN] = 4, [R_STAGE_UP] = 5
};

typedef struct InEvent
{
	int64_t		at;
	int			kind;			/* the core's number */
	RefKind		ref;
	int			who;			/* participant number, -1 for "end" */
} InEvent;

static const char *dump_state_path = NULL;

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	dump_state_path = getenv("CB_FUZZ_DUMP_STATE");
	return 0;
}

/*
 * Header: byte 0 picks the starting day (within about 34 years of
 * BASE_DAY), byte 1 how many minutes before that UTC midnight the first
 * row is (bits 0-5), whether up to 64 participants take part (bit 6) and
 * whether the rows start at an end of the accepted range instead (bit 7).
 *
 * Each row, 3 bytes: b0 = participant (bits 0-2), kind (bits 3-5) and the
 * unit of the time step (bits 6-7: microseconds, seconds, 5 minutes,
 * 3 days); b1 = the step; b2 = backwards (bit 0), participant high bits
 * (bits 1-3, with header bit 6) and extra hours for the 3-day unit.
 */
static size_t
decode(const uint8_t *data, size_t size, InEvent *ev)
{
	uint8_t		h0,
				h1;
	int64_t		at;
	size_t		n,
				i;

	if (size < HEADER_BYTES)
		return 0;
	h0 = data[0];
	h1 = data[1];
	if (h1 & 0x80)
		at = (h0 & 1) ? CB_MIN_AT + (int64_t) (h1 & 0x3F) * CB_USEC_PER_MINUTE
			: CB_MAX_AT - 1 - (int64_t) (h1 & 0x3F) * CB_USEC_PER_MINUTE;
	else
		at = (BASE_DAY + (int64_t) (int8_t) h0 * 97) * CB_USEC_PER_DAY -
			(int64_t) (h1 & 0x3F) * CB_USEC_PER_MINUTE;

	n = (size - HEADER_BYTES) / EVENT_BYTES;
	if (n > MAX_EVENTS)
		n = MAX_EVENTS;
	for (i = 0; i < n; i++)
	{
		const uint8_t *b = data + HEADER_BYTES + i * EVENT_BYTES;
		int			code = (b[0] >> 3) & 7;
		const char *name = input_names[code];
		int64_t		step;

		switch (b[0] >> 6)
		{
			case 0:
				step = b[1];
				break;
			case 1:
				step = b[1] * CB_USEC_PER_SEC;
				break;
			case 2:
				step = b[1] * 5 * CB_USEC_PER_MINUTE;
				break;
			default:
				step = b[1] * 3 * CB_USEC_PER_DAY +
					(int64_t) (b[2] >> 4) * CB_USEC_PER_HOUR;
				break;
		}
		at += (b[2] & 1) ? -step : step;
		/* rows outside the range are refused before they reach the core */
		if (at < CB_MIN_AT)
			at = CB_MIN_AT;
		if (at >= CB_MAX_AT)
			at = CB_MAX_AT - 1;

		ev[i].at = at;
		ev[i].ref = input_kinds[code];
		ev[i].kind = cb_parse_kind(name, strlen(name));
		FUZZ_CHECK(ev[i].kind >= 0 && ev[i].kind < CB_NUM_KINDS &&
				   strcasecmp(cb_kind_name(ev[i].kind), name) == 0,
				   "cb_parse_kind(\"%s\") = %d", name, ev[i].kind);
		if (ev[i].ref == R_END)
			ev[i].who = -1;
		else
			ev[i].who = (b[0] & 7) + ((h1 & 0x40) ? 8 * ((b[2] >> 1) & 7) : 0);
	}
	return n;
}

/* ----------------------------------------------------------------
 * The reference: SPEC 1 read literally, in quadratic time
 * ----------------------------------------------------------------
 */
typedef struct Interval
{
	int64_t		s;
	int64_t		e;
} Interval;

typedef struct RefResult
{
	int64_t		participants;
	int32_t		peak;
	int32_t		stage_peak;
	int64_t		peak_at;
	int64_t		stage_peak_at;
	CbQuality	q;
	size_t		npres;			/* sessions, zero-length ones included */
	Interval	pres[MAX_EVENTS];
	int			pres_who[MAX_EVENTS];	/* whose session each is */
	size_t		nstage;
	Interval	stage[MAX_EVENTS];
	size_t		nrows;
	InEvent		rows[MAX_EVENTS];	/* in processing order */
} RefResult;

static int
ref_before(const InEvent *a, const InEvent *b)
{
	if (a->at != b->at)
		return a->at < b->at;
	return ref_rank[a->ref] < ref_rank[b->ref];
}

/*
 * SPEC 1.8: the most intervals that hold one instant, each half-open, and
 * the first instant where that many do.  The count only rises where an
 * interval starts, so only starts need trying.
 */
static void
ref_peak(const Interval *iv, size_t n, int32_t *peak, int64_t *at)
{
	size_t		i,
				j;

	*peak = 0;
	*at = CB_NO_TIME;
	for (i = 0; i < n; i++)
	{
		int32_t		c = 0;

		if (iv[i].s >= iv[i].e)
			continue;
		for (j = 0; j < n; j++)
			if (iv[j].s <= iv[i].s && iv[i].s < iv[j].e)
				c++;
		if (c > *peak || (c == *peak && iv[i].s < *at))
		{
			*peak = c;
			*at = iv[i].s;
		}
	}
}

static void
reference(const InEvent *in, size_t n, RefResult *ref)
{
	int			present[MAX_WHO] = {0};
	int			joined[MAX_WHO] = {0};
	int			on_stage[MAX_WHO] = {0};
	int64_t		open_at[MAX_WHO] = {0};
	int64_t		stage_at[MAX_WHO] = {0};
	int64_t		evidence_at[MAX_WHO] = {0};
	size_t		evidence_row[MAX_WHO] = {0};
	int			closes_after[MAX_WHO];	/* row after which, or -1 */
	InEvent    *rows = ref->rows;
	size_t		i,
				j;
	int			p;

	memset(ref, 0, sizeof(*ref));
	ref->q.events = (int64_t) n;
	ref->nrows = n;

	/* SPEC 1.3: time order, then the same-instant order (a stable sort) */
	for (i = 0; i < n; i++)
	{
		InEvent		x = in[i];

		for (j = i; j > 0 && ref_before(&x, &rows[j - 1]); j--)
			rows[j] = rows[j - 1];
		rows[j] = x;
	}

	/*
	 * Sessions (SPEC 1.2, 1.4, 1.5): present or absent; a leave or an end
	 * closes; what is still open when the rows run out closes at the
	 * participant's last join or heartbeat.
	 */
	for (i = 0; i < n; i++)
	{
		const InEvent *r = &rows[i];

		p = r->who;
		switch (r->ref)
		{
			case R_LEAVE:
				if (present[p])
				{
					ref->pres_who[ref->npres] = p, ref->pres[ref->npres++] = (Interval) {open_at[p], r->at};
					present[p] = 0;
				}
				else
					ref->q.orphan_leaves++;
				break;
			case R_END:
				for (p = 0; p < MAX_WHO; p++)
					if (present[p])
					{
						ref->pres_who[ref->npres] = p, ref->pres[ref->npres++] = (Interval) {open_at[p], r->at};
						present[p] = 0;
					}
				break;
			case R_HEARTBEAT:
				if (!present[p])
					ref->q.stray_heartbeats++;
				break;
			case R_JOIN:
				if (present[p])
					ref->q.duplicate_joins++;
				else
				{
					present[p] = 1;
					joined[p] = 1;
					open_at[p] = r->at;
				}
				break;
			case R_STAGE_UP:
			case R_STAGE_DOWN:
				break;
		}
		if (r->ref == R_JOIN || r->ref == R_HEARTBEAT)
		{
			evidence_at[r->who] = r->at;
			evidence_row[r->who] = i;
		}
	}
	for (p = 0; p < MAX_WHO; p++)
	{
		closes_after[p] = -1;
		if (present[p])
		{
			ref->pres_who[ref->npres] = p, ref->pres[ref->npres++] = (Interval) {open_at[p], evidence_at[p]};
			ref->q.unterminated++;
			closes_after[p] = (int) evidence_row[p];
		}
		if (joined[p])
			ref->participants++;
	}

	/*
	 * The stage (SPEC 1.2), replayed with the sessions now known: up only
	 * while present and not up already, down by stage_down, leave, end, or
	 * the close of a session at its last evidence.  A stage row that
	 * changes nothing is stray.
	 */
	memset(present, 0, sizeof(present));
	for (i = 0; i < n; i++)
	{
		const InEvent *r = &rows[i];

		p = r->who;
		switch (r->ref)
		{
			case R_LEAVE:
			case R_STAGE_DOWN:
				if (on_stage[p])
				{
					ref->stage[ref->nstage++] = (Interval) {stage_at[p], r->at};
					on_stage[p] = 0;
				}
				else if (r->ref == R_STAGE_DOWN)
					ref->q.stray_stage++;
				if (r->ref == R_LEAVE)
					present[p] = 0;
				break;
			case R_END:
				for (p = 0; p < MAX_WHO; p++)
				{
					if (on_stage[p])
						ref->stage[ref->nstage++] = (Interval) {stage_at[p], r->at};
					on_stage[p] = 0;
					present[p] = 0;
				}
				break;
			case R_HEARTBEAT:
				break;
			case R_JOIN:
				present[p] = 1;
				break;
			case R_STAGE_UP:
				if (present[p] && !on_stage[p])
				{
					on_stage[p] = 1;
					stage_at[p] = r->at;
				}
				else
					ref->q.stray_stage++;
				break;
		}
		if (r->who >= 0 && closes_after[r->who] == (int) i)
		{
			if (on_stage[r->who])
				ref->stage[ref->nstage++] = (Interval) {stage_at[r->who], r->at};
			on_stage[r->who] = 0;
			present[r->who] = 0;
		}
	}
	for (p = 0; p < MAX_WHO; p++)
		FUZZ_CHECK(!on_stage[p] && !present[p], "reference left p%d present", p);

	ref_peak(ref->pres, ref->npres, &ref->peak, &ref->peak_at);
	ref_peak(ref->stage, ref->nstage, &ref->stage_peak, &ref->stage_peak_at);
}

/* SPEC 1.6 in UTC: the part of every session that falls on `day` */
static int64_t
ref_day_usec(const RefResult *ref, int32_t day)
{
	int64_t		ds = (int64_t) day * CB_USEC_PER_DAY;
	int64_t		de = ds + CB_USEC_PER_DAY;
	int64_t		sum = 0;
	size_t		i;

	for (i = 0; i < ref->npres; i++)
	{
		int64_t		s = ref->pres[i].s > ds ? ref->pres[i].s : ds;
		int64_t		e = ref->pres[i].e < de ? ref->pres[i].e : de;

		if (s < e)
			sum += e - s;
	}
	return sum;
}

/* SPEC 3.1: how many participants were present on `day` (a presence of
 * no length is no presence) */
static int32_t
ref_day_people(const RefResult *ref, int32_t day)
{
	int64_t		ds = (int64_t) day * CB_USEC_PER_DAY;
	int64_t		de = ds + CB_USEC_PER_DAY;
	int			seen[MAX_WHO] = {0};
	int32_t		n = 0;
	size_t		i;

	for (i = 0; i < ref->npres; i++)
	{
		int64_t		s = ref->pres[i].s > ds ? ref->pres[i].s : ds;
		int64_t		e = ref->pres[i].e < de ? ref->pres[i].e : de;

		if (s < e && !seen[ref->pres_who[i]])
		{
			seen[ref->pres_who[i]] = 1;
			n++;
		}
	}
	return n;
}

/* ----------------------------------------------------------------
 * The core: build a room state, sweep it
 * ----------------------------------------------------------------
 */
typedef struct Outcome
{
	CbSweepResult r;			/* days live in the arena */
	size_t		npres;			/* presences handed to the sink, sorted */
	Interval   *pres;
} Outcome;

typedef struct SinkBuf
{
	Interval   *iv;
	size_t		n;
	size_t		cap;
} SinkBuf;

static void
sink_presence(void *arg, int64_t s, int64_t e)
{
	SinkBuf    *b = arg;

	FUZZ_CHECK(b->n < b->cap, "more presences than rows");
	FUZZ_CHECK(s < e, "sink got an empty presence [%" PRId64 ", %" PRId64 ")", s, e);
	b->iv[b->n].s = s;
	b->iv[b->n].e = e;
	b->n++;
}

static int
cmp_interval(const void *a, const void *b)
{
	const Interval *x = a,
			   *y = b;

	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	if (x->e != y->e)
		return x->e < y->e ? -1 : 1;
	return 0;
}

/* (at, kind, who) order, for comparing multisets of rows */
static int
cmp_row(const void *a, const void *b)
{
	const InEvent *x = a,
			   *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->who != y->who)
		return x->who < y->who ? -1 : 1;
	return 0;
}

/* The reference's kind for a core kind number, by name. */
static RefKind
ref_of_kind(int kind)
{
	int			k;

	for (k = 0; k < 6; k++)
		if (strcmp(cb_kind_name(kind), ref_names[k]) == 0)
			return (RefKind) k;
	FUZZ_CHECK(0, "core kind %d has no SPEC name", kind);
	return R_JOIN;
}

static void
who_name(int who, char *buf, size_t *len)
{
	*len = (size_t) snprintf(buf, 8, "p%d", who);
}

/* The participant a state's number stands for, from its name "p<n>". */
static int
who_of(const CbRoomState *st, uint32_t pid)
{
	size_t		len,
				i;
	const char *name;
	int			who = 0;

	FUZZ_CHECK(pid < st->nparticipants, "pid %u of %u", pid, st->nparticipants);
	name = cb_room_name(st, pid, &len);
	FUZZ_CHECK(len >= 2 && len <= 3 && name[0] == 'p', "participant %u has name \"%.*s\"",
			   pid, (int) len, name);
	for (i = 1; i < len; i++)
	{
		FUZZ_CHECK(name[i] >= '0' && name[i] <= '9', "bad name \"%.*s\"", (int) len, name);
		who = who * 10 + (name[i] - '0');
	}
	return who;
}

/*
 * A state holding rows in[order[0]], in[order[1]], ... (order NULL: as
 * they come), built by the calls the transition function makes.
 */
static CbRoomState *
build_state(const InEvent *in, size_t n, const size_t *order, uint32_t initial)
{
	CbRoomState *st = cb_room_create(&fuzz_mem, initial);
	uint32_t	pid_of[MAX_WHO];
	size_t		i;

	for (i = 0; i < MAX_WHO; i++)
		pid_of[i] = UINT32_MAX;
	for (i = 0; i < n; i++)
	{
		const InEvent *e = &in[order ? order[i] : i];
		uint32_t	pid = 0;
		CbRoomStatus status;

		if (e->who >= 0)
		{
			char		name[8];
			size_t		len;

			who_name(e->who, name, &len);
			status = cb_room_participant(&st, &fuzz_mem, name, len, &pid);
			FUZZ_CHECK(status == CB_ROOM_OK, "cb_room_participant: %d", (int) status);
			/* one name, one number, for as long as the state lives */
			FUZZ_CHECK(pid_of[e->who] == UINT32_MAX || pid_of[e->who] == pid,
					   "p%d was %u, now %u", e->who, pid_of[e->who], pid);
			pid_of[e->who] = pid;
			FUZZ_CHECK(who_of(st, pid) == e->who, "p%d named back wrong", e->who);
		}
		status = cb_room_add_event(&st, &fuzz_mem, e->at, e->kind, pid);
		FUZZ_CHECK(status == CB_ROOM_OK, "cb_room_add_event: %d", (int) status);
	}
	FUZZ_CHECK(st->nevents == n, "state holds %u rows of %zu", st->nevents, n);
	return st;
}

/*
 * Rows in processing order, as usage_agg.c gets them, checked to be in
 * order and to be exactly the rows `expect`, then swept.
 */
static void
sweep_state(CbRoomState *st, const InEvent *expect, size_t nexpect,
			FuzzArena *arena, Outcome *out)
{
	CbAlloc		alloc = fuzz_alloc_in(arena);
	size_t		n = st->nevents;
	CbEvent    *ev = fuzz_arena_alloc(arena, (n ? n : 1) * sizeof(CbEvent));
	CbEvent    *tmp = NULL;
	InEvent    *got = fuzz_arena_alloc(arena, (n ? n : 1) * sizeof(InEvent));
	InEvent    *want = fuzz_arena_alloc(arena, (n ? n : 1) * sizeof(InEvent));
	SinkBuf		buf;
	CbPresenceSink sink;
	CbStatus	status;
	size_t		i;

	FUZZ_CHECK(ev && got && want, "out of memory");
	FUZZ_CHECK(n == nexpect, "state has %zu rows, expected %zu", n, nexpect);
	if (!cb_room_sorted(st))
	{
		tmp = fuzz_arena_alloc(arena, (n ? n : 1) * sizeof(CbEvent));
		FUZZ_CHECK(tmp, "out of memory");
	}
	cb_room_events_in_order(st, ev, tmp);
	FUZZ_CHECK(cb_events_sorted(ev, n), "events out of processing order");
	FUZZ_CHECK(cb_room_sorted(st), "state not sorted after cb_room_events_in_order");

	/* the same rows, no more, no fewer */
	for (i = 0; i < n; i++)
	{
		got[i].at = cb_event_at(&ev[i]);
		got[i].kind = cb_event_kind(&ev[i]);
		got[i].ref = R_JOIN;	/* unused by cmp_row */
		if (cb_kind_has_participant(got[i].kind))
			got[i].who = who_of(st, cb_event_pid(&ev[i]));
		else
		{
			FUZZ_CHECK(cb_event_pid(&ev[i]) == 0, "end with pid %u", cb_event_pid(&ev[i]));
			got[i].who = -1;
		}
		want[i] = expect[i];
		want[i].ref = R_JOIN;
		/* SPEC 1.3 order, judged by the reference's ranks, not the core's */
		if (i > 0)
			FUZZ_CHECK(got[i - 1].at < got[i].at ||
					   (got[i - 1].at == got[i].at &&
						ref_rank[ref_of_kind(got[i - 1].kind)] <=
						ref_rank[ref_of_kind(got[i].kind)]),
					   "rows %zu and %zu out of SPEC 1.3 order", i - 1, i);
	}
	qsort(got, n, sizeof(InEvent), cmp_row);
	qsort(want, n, sizeof(InEvent), cmp_row);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(cmp_row(&got[i], &want[i]) == 0,
				   "row %zu: state has (%" PRId64 ", %d, p%d), input (%" PRId64 ", %d, p%d)",
				   i, got[i].at, got[i].kind, got[i].who,
				   want[i].at, want[i].kind, want[i].who);

	buf.iv = fuzz_arena_alloc(arena, (n + 1) * sizeof(Interval));
	FUZZ_CHECK(buf.iv, "out of memory");
	buf.n = 0;
	buf.cap = n + 1;
	sink.presence = sink_presence;
	sink.arg = &buf;
	status = cb_sweep(ev, n, st->nparticipants, &fuzz_utc, &alloc,
					  fuzz_no_interrupt, &sink, &out->r);
	FUZZ_CHECK(status == CB_OK, "cb_sweep: %d", (int) status);
	qsort(buf.iv, buf.n, sizeof(Interval), cmp_interval);
	out->pres = buf.iv;
	out->npres = buf.n;

	for (i = 0; i < out->r.ndays; i++)
	{
		FUZZ_CHECK(out->r.days[i].usec > 0, "day %zu with no presence", i);
		FUZZ_CHECK(i == 0 || out->r.days[i - 1].day < out->r.days[i].day,
				   "days out of order");
	}
}

/* ----------------------------------------------------------------
 * Comparing and reporting
 * ----------------------------------------------------------------
 */
static void
print_rows(const char *title, const InEvent *ev, size_t n)
{
	size_t		i;

	fprintf(stderr, "%s (%zu):\n", title, n);
	for (i = 0; i < n; i++)
	{
		if (ev[i].who >= 0)
			fprintf(stderr, "  %3zu  %-10s p%-2d  %" PRId64 "\n", i,
					ref_names[ev[i].ref], ev[i].who, ev[i].at);
		else
			fprintf(stderr, "  %3zu  %-10s      %" PRId64 "\n", i,
					ref_names[ev[i].ref], ev[i].at);
	}
}

static void
print_quality(const CbQuality *q)
{
	fprintf(stderr, "  events=%" PRId64 " duplicate_joins=%" PRId64
			" orphan_leaves=%" PRId64 " stray_heartbeats=%" PRId64
			" stray_stage=%" PRId64 " unterminated=%" PRId64 "\n",
			q->events, q->duplicate_joins, q->orphan_leaves,
			q->stray_heartbeats, q->stray_stage, q->unterminated);
}

static void
print_intervals(const char *title, const Interval *iv, size_t n)
{
	size_t		i;

	fprintf(stderr, "  %s:", title);
	for (i = 0; i < n; i++)
		fprintf(stderr, " [%" PRId64 ",%" PRId64 ")", iv[i].s, iv[i].e);
	fputc('\n', stderr);
}

static void
print_reference(const RefResult *ref)
{
	fprintf(stderr, "reference: participants=%" PRId64 " peak=%d at %" PRId64
			" stage_peak=%d at %" PRId64 "\n",
			ref->participants, ref->peak, ref->peak_at,
			ref->stage_peak, ref->stage_peak_at);
	print_quality(&ref->q);
	print_intervals("sessions", ref->pres, ref->npres);
	print_intervals("on stage", ref->stage, ref->nstage);
}

static void
print_outcome(const char *title, const Outcome *o, const RefResult *ref)
{
	uint32_t	i;

	fprintf(stderr, "%s: participants=%" PRId64 " peak=%d at %" PRId64
			" stage_peak=%d at %" PRId64 "\n", title,
			o->r.participants, o->r.peak, o->r.peak_at,
			o->r.stage_peak, o->r.stage_peak_at);
	print_quality(&o->r.quality);
	print_intervals("presences", o->pres, o->npres);
	fprintf(stderr, "  days (core usec / reference usec):");
	for (i = 0; i < o->r.ndays; i++)
		fprintf(stderr, " %d:%" PRId64 "/%" PRId64 " (%d/%d present)", o->r.days[i].day,
				o->r.days[i].usec, ref_day_usec(ref, o->r.days[i].day),
				o->r.days[i].participants, ref_day_people(ref, o->r.days[i].day));
	fputc('\n', stderr);
}

static int
same_quality(const CbQuality *a, const CbQuality *b)
{
	return a->events == b->events &&
		a->duplicate_joins == b->duplicate_joins &&
		a->orphan_leaves == b->orphan_leaves &&
		a->stray_heartbeats == b->stray_heartbeats &&
		a->stray_stage == b->stray_stage &&
		a->unterminated == b->unterminated;
}

/* Everything but the counters, which a duplicated row may change. */
static int
same_presence(const Outcome *a, const Outcome *b)
{
	uint32_t	i;

	if (a->r.participants != b->r.participants ||
		a->r.peak != b->r.peak || a->r.peak_at != b->r.peak_at ||
		a->r.stage_peak != b->r.stage_peak ||
		a->r.stage_peak_at != b->r.stage_peak_at ||
		a->r.ndays != b->r.ndays || a->npres != b->npres)
		return 0;
	for (i = 0; i < a->r.ndays; i++)
		if (a->r.days[i].day != b->r.days[i].day ||
			a->r.days[i].usec != b->r.days[i].usec ||
			a->r.days[i].participants != b->r.days[i].participants)
			return 0;
	for (i = 0; i < a->npres; i++)
		if (cmp_interval(&a->pres[i], &b->pres[i]) != 0)
			return 0;
	return 1;
}

static void
expect_same(const char *what, const Outcome *a, const Outcome *b, int counters,
			const InEvent *in, size_t n, const RefResult *ref)
{
	if (same_presence(a, b) &&
		(!counters || same_quality(&a->r.quality, &b->r.quality)))
		return;
	fprintf(stderr, "SPEC 1.9 violated: %s changed the result\n", what);
	print_rows("rows as they came", in, n);
	print_outcome("first", a, ref);
	print_outcome(what, b, ref);
	abort();
}

static void
check_reference(const Outcome *o, const RefResult *ref, const InEvent *in, size_t n)
{
	int64_t		total = 0,
				ref_total = 0;
	size_t		i,
				k;
	int			ok;
	Interval	nonempty[MAX_EVENTS];

	for (i = 0; i < o->r.ndays; i++)
	{
		total += o->r.days[i].usec;
		if (o->r.days[i].usec != ref_day_usec(ref, o->r.days[i].day) ||
			o->r.days[i].participants != ref_day_people(ref, o->r.days[i].day))
			break;
	}
	ok = (i == o->r.ndays);

	/* every day the reference has presence on is listed, if totals agree */
	for (i = 0; i < ref->npres; i++)
		if (ref->pres[i].e > ref->pres[i].s)
			ref_total += ref->pres[i].e - ref->pres[i].s;
	ok = ok && total == ref_total;

	/* the sink saw exactly the sessions of non-zero length */
	for (i = 0, k = 0; i < ref->npres; i++)
		if (ref->pres[i].e > ref->pres[i].s)
			nonempty[k++] = ref->pres[i];
	qsort(nonempty, k, sizeof(Interval), cmp_interval);
	ok = ok && k == o->npres;
	for (i = 0; ok && i < k; i++)
		ok = cmp_interval(&nonempty[i], &o->pres[i]) == 0;

	ok = ok && o->r.participants == ref->participants &&
		o->r.peak == ref->peak && o->r.peak_at == ref->peak_at &&
		o->r.stage_peak == ref->stage_peak &&
		o->r.stage_peak_at == ref->stage_peak_at &&
		same_quality(&o->r.quality, &ref->q);
	if (ok)
		return;
	fprintf(stderr, "SPEC 1 mismatch between cb_sweep and the reference\n");
	print_rows("rows as they came", in, n);
	print_rows("rows in SPEC 1.3 order", ref->rows, ref->nrows);
	print_reference(ref);
	print_outcome("cb_sweep", o, ref);
	fprintf(stderr, "  totals: core %" PRId64 ", reference %" PRId64 "\n", total, ref_total);
	abort();
}

/* ----------------------------------------------------------------
 * Serialized form
 * ----------------------------------------------------------------
 */
static uint8_t *
serialize(const CbRoomState *st, size_t *len)
{
	uint8_t    *buf;

	*len = cb_room_serial_size(st);
	FUZZ_CHECK(*len >= CB_STATE_HEADER, "serial size %zu", *len);
	buf = malloc(*len);
	FUZZ_CHECK(buf != NULL, "out of memory");
	cb_room_serialize(st, buf);
	return buf;
}

static void
dump_state(const uint8_t *buf, size_t len)
{
	FILE	   *f = fopen(dump_state_path, "wb");

	FUZZ_CHECK(f != NULL, "cannot write %s", dump_state_path);
	FUZZ_CHECK(fwrite(buf, 1, len, f) == len && fclose(f) == 0,
			   "cannot write %s", dump_state_path);
}

/* ----------------------------------------------------------------
 * One input
 * ----------------------------------------------------------------
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	InEvent		in[MAX_EVENTS];
	InEvent		twice[MAX_EVENTS + 1];
	size_t		order[MAX_EVENTS];
	static RefResult ref;
	FuzzArena	arena = {NULL};
	Outcome		first,
				other;
	CbRoomState *st,
			   *a,
			   *b,
			   *c,
			   *back;
	CbStateView view;
	const char *why;
	CbRoomStatus status;
	uint8_t    *ser;
	size_t		serlen,
				n,
				i,
				k;
	uint64_t	rnd = fuzz_hash(data, size) | 1;
	uint32_t	initial;

	n = decode(data, size, in);
	/* an empty buffer, or one sized for the rows, as the aggregate makes */
	initial = (fuzz_next(&rnd) & 1) ? 0 : (uint32_t) n;
	reference(in, n, &ref);

	/* the rows as they came, against the reference */
	st = build_state(in, n, NULL, initial);
	ser = serialize(st, &serlen);
	if (dump_state_path)
		dump_state(ser, serlen);
	sweep_state(st, in, n, &arena, &first);
	check_reference(&first, &ref, in, n);

	/* sorted in place by now: the same again, with no sort */
	sweep_state(st, in, n, &arena, &other);
	expect_same("a second sweep of the sorted state", &first, &other, 1, in, n, &ref);

	/* serialized (before the sort) and read back, as a parallel worker's */
	why = cb_state_open(ser, serlen, &view);
	FUZZ_CHECK(why == NULL, "cb_state_open refused a serialized state: %s", why);
	status = cb_room_deserialize(&view, &fuzz_mem, &back);
	FUZZ_CHECK(status == CB_ROOM_OK, "cb_room_deserialize: %d", (int) status);
	sweep_state(back, in, n, &arena, &other);
	expect_same("serialize and deserialize", &first, &other, 1, in, n, &ref);
	cb_room_free(back, &fuzz_mem);
	free(ser);

	/* split in two and combined, both ways round */
	k = (size_t) (fuzz_next(&rnd) % (n + 1));
	a = build_state(in, k, NULL, initial);
	b = build_state(in + k, n - k, NULL, initial);
	c = cb_room_create(&fuzz_mem, 0);
	status = cb_room_merge(&c, &fuzz_mem, b);
	FUZZ_CHECK(status == CB_ROOM_OK, "cb_room_merge: %d", (int) status);
	status = cb_room_merge(&c, &fuzz_mem, a);
	FUZZ_CHECK(status == CB_ROOM_OK, "cb_room_merge: %d", (int) status);
	status = cb_room_merge(&a, &fuzz_mem, b);
	FUZZ_CHECK(status == CB_ROOM_OK, "cb_room_merge: %d", (int) status);
	sweep_state(a, in, n, &arena, &other);
	expect_same("split and merged", &first, &other, 1, in, n, &ref);
	sweep_state(c, in, n, &arena, &other);
	expect_same("split and merged into an empty state", &first, &other, 1, in, n, &ref);
	cb_room_free(a, &fuzz_mem);
	cb_room_free(b, &fuzz_mem);
	cb_room_free(c, &fuzz_mem);

	/* another arrival order (Fisher-Yates, seeded by the input) */
	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n; i > 1; i--)
	{
		size_t		j = (size_t) (fuzz_next(&rnd) % i);
		size_t		t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	a = build_state(in, n, order, initial);
	sweep_state(a, in, n, &arena, &other);
	expect_same("another row order", &first, &other, 1, in, n, &ref);
	cb_room_free(a, &fuzz_mem);

	/* one row twice: no minute and no peak may change (SPEC 1.4) */
	if (n > 0)
	{
		size_t		dup = (size_t) (fuzz_next(&rnd) % n);
		size_t		pos = (size_t) (fuzz_next(&rnd) % (n + 1));

		for (i = 0, k = 0; i <= n; i++)
			twice[i] = (i == pos) ? in[dup] : in[k++];
		a = build_state(twice, n + 1, NULL, initial);
		sweep_state(a, twice, n + 1, &arena, &other);
		expect_same("a duplicated row", &first, &other, 0, in, n, &ref);
		FUZZ_CHECK(other.r.quality.events == (int64_t) n + 1, "events not counted");
		cb_room_free(a, &fuzz_mem);
	}

	cb_room_free(st, &fuzz_mem);
	fuzz_arena_free_all(&arena);
	return 0;
}
