/*-------------------------------------------------------------------------
 *
 * fuzz_state.c
 *	  libFuzzer harness: arbitrary bytes as a serialized room_usage state
 *	  (state_codec.h), the form parallel workers send to the leader.
 *
 * A state arrives from another process, or from a crafted bytea passed to
 * the deserialize function, so the reader must refuse anything the
 * transition function could not have built and never read outside the
 * buffer.  What cb_state_open accepts is deserialized, put in processing
 * order and swept (UTC days): no crash, no undefined behaviour, and a
 * result that obeys the plain invariants of SPEC 1 (peaks bounded by the
 * participants, days ascending and non-empty, every row counted), and
 * that gives PostgreSQL a chance to cancel within every CB_INTERRUPT_BLOCK
 * days of presence it splits.
 *
 * Accepted input must also survive a round trip: the deserialized state,
 * serialized again, is accepted and holds the same rows (compared by
 * participant name, since a forged form may name a participant twice and
 * deserializing folds those into one), and serializing that once more
 * gives the very same bytes.
 *
 * And the leader's combine (cb_room_merge_serialized): the sorted state's
 * own form merged into a copy of it holds every row twice, in processing
 * order where the room has narrow keys (a merge of sorted runs), and a
 * row given twice changes the counters, never the minutes (SPEC 1.4).
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byteorder.h"
#include "fuzz_common.h"
#include "room_state.h"
#include "state_codec.h"
#include "sweep.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where each participant's name starts in a view: nparticipants + 1 offsets */
static size_t *
name_offsets(const CbStateView *v)
{
	size_t	   *off = malloc(((size_t) v->nparticipants + 1) * sizeof(size_t));
	uint32_t	k;

	FUZZ_CHECK(off != NULL, "out of memory");
	off[0] = 0;
	for (k = 0; k < v->nparticipants; k++)
		off[k + 1] = off[k] + cb_get32(v->lengths + 4 * (size_t) k);
	FUZZ_CHECK(off[v->nparticipants] == v->namebytes, "lengths do not add up");
	return off;
}

/* Do view a's row i and the state's row i say the same thing? */
static int
same_row_in_state(const CbStateView *a, const size_t *aoff, uint32_t i,
				  const CbRoomState *st)
{
	CbEvent		x,
				y;
	size_t		len;
	const char *name;
	uint32_t	pa;

	cb_state_event(a, i, &x);
	cb_room_event(st, i, &y);
	if (cb_event_at(&x) != cb_event_at(&y) || cb_event_kind(&x) != cb_event_kind(&y))
		return 0;
	if (!cb_kind_has_participant(cb_event_kind(&x)))
		return cb_event_pid(&y) == 0;
	if (cb_event_pid(&y) >= st->nparticipants)
		return 0;
	pa = cb_event_pid(&x);
	name = cb_room_name(st, cb_event_pid(&y), &len);
	return len == aoff[pa + 1] - aoff[pa] &&
		memcmp(name, a->names + aoff[pa], len) == 0;
}

/* The same, between two views. */
static int
same_row_in_views(const CbStateView *a, const size_t *aoff,
				  const CbStateView *b, const size_t *boff, uint32_t i)
{
	CbEvent		x,
				y;
	uint32_t	pa,
				pb;

	cb_state_event(a, i, &x);
	cb_state_event(b, i, &y);
	if (cb_event_at(&x) != cb_event_at(&y) || cb_event_kind(&x) != cb_event_kind(&y))
		return 0;
	if (!cb_kind_has_participant(cb_event_kind(&x)))
		return cb_event_pid(&x) == 0 && cb_event_pid(&y) == 0;
	pa = cb_event_pid(&x);
	pb = cb_event_pid(&y);
	return aoff[pa + 1] - aoff[pa] == boff[pb + 1] - boff[pb] &&
		memcmp(a->names + aoff[pa], b->names + boff[pb],
			   aoff[pa + 1] - aoff[pa]) == 0;
}

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

/*
 * Interrupts: a room of a few rows can hold sessions centuries long, and
 * splitting them into days is the sweep's longest loop.  PostgreSQL must
 * get its chance to cancel within every CB_INTERRUPT_BLOCK days, so the
 * sweep here counts the calls and the days of every presence it reports.
 */
static uint64_t interrupts;
static uint64_t presence_days;

static void
count_interrupt(void)
{
	interrupts++;
}

/* UTC days that [s, e) touches: each one step of the per-day loop */
static void
count_days(void *arg, int64_t s, int64_t e)
{
	(void) arg;
	presence_days += (uint64_t) (fuzz_floor_div(e - 1, CB_USEC_PER_DAY) -
								 fuzz_floor_div(s, CB_USEC_PER_DAY) + 1);
}

/* Rows in processing order and swept, as the final function does. */
static void
sweep(CbRoomState *st, FuzzArena *arena, CbSweepResult *r)
{
	CbPresenceSink sink = {count_days, NULL};
	CbAlloc		alloc = fuzz_alloc_in(arena);
	size_t		n = st->nevents;
	CbEvent    *ev = fuzz_arena_alloc(arena, (n ? n : 1) * sizeof(CbEvent));
	CbEvent    *tmp = NULL;
	CbStatus	status;
	uint32_t	i;
	int64_t		odd;

	FUZZ_CHECK(ev != NULL, "out of memory");
	if (!cb_room_sorted(st))
	{
		tmp = fuzz_arena_alloc(arena, (n ? n : 1) * sizeof(CbEvent));
		FUZZ_CHECK(tmp != NULL, "out of memory");
	}
	cb_room_events_in_order(st, ev, tmp);
	FUZZ_CHECK(cb_events_sorted(ev, n), "rows out of processing order");

	interrupts = 0;
	presence_days = 0;
	status = cb_sweep(ev, n, st->nparticipants, &fuzz_utc, &alloc,
					  count_interrupt, &sink, r);
	FUZZ_CHECK(status == CB_OK, "cb_sweep: %d", (int) status);
	FUZZ_CHECK(interrupts >= presence_days / CB_INTERRUPT_BLOCK,
			   "%" PRIu64 " interrupt calls in %" PRIu64 " days of presence",
			   interrupts, presence_days);

	FUZZ_CHECK(r->quality.events == (int64_t) n, "events %" PRId64 " of %zu",
			   r->quality.events, n);
	odd = r->quality.duplicate_joins + r->quality.orphan_leaves +
		r->quality.stray_heartbeats + r->quality.stray_stage;
	FUZZ_CHECK(odd >= 0 && odd <= (int64_t) n, "more oddities than rows");
	FUZZ_CHECK(r->participants >= 0 && r->participants <= (int64_t) st->nparticipants,
			   "participants %" PRId64, r->participants);
	FUZZ_CHECK(r->peak >= 0 && r->peak <= r->participants, "peak %d", r->peak);
	FUZZ_CHECK(r->stage_peak >= 0 && r->stage_peak <= r->peak,
			   "stage peak %d above peak %d", r->stage_peak, r->peak);
	FUZZ_CHECK((r->peak == 0) == (r->peak_at == CB_NO_TIME), "peak instant");
	FUZZ_CHECK((r->stage_peak == 0) == (r->stage_peak_at == CB_NO_TIME),
			   "stage peak instant");
	/* only a participant's last session can lack a leave and an end */
	FUZZ_CHECK(r->quality.unterminated >= 0 && r->quality.unterminated <= r->participants,
			   "unterminated %" PRId64, r->quality.unterminated);
	for (i = 0; i < r->ndays; i++)
	{
		FUZZ_CHECK(r->days[i].usec > 0 && r->days[i].usec <= CB_USEC_PER_DAY * (int64_t) r->peak,
				   "day %d holds %" PRId64 " us with a peak of %d",
				   r->days[i].day, r->days[i].usec, r->peak);
		FUZZ_CHECK(r->days[i].day >= CB_MIN_DAY && r->days[i].day <= CB_MAX_DAY,
				   "day %d out of range", r->days[i].day);
		FUZZ_CHECK(i == 0 || r->days[i - 1].day < r->days[i].day, "days out of order");
	}
}

static int
same_result(const CbSweepResult *a, const CbSweepResult *b)
{
	uint32_t	i;

	if (a->participants != b->participants || a->peak != b->peak ||
		a->peak_at != b->peak_at || a->stage_peak != b->stage_peak ||
		a->stage_peak_at != b->stage_peak_at || a->ndays != b->ndays ||
		memcmp(&a->quality, &b->quality, sizeof(CbQuality)) != 0)
		return 0;
	for (i = 0; i < a->ndays; i++)
		if (a->days[i].day != b->days[i].day || a->days[i].usec != b->days[i].usec)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	CbStateView v,
				v2;
	const char *why;
	CbRoomState *st,
			   *back;
	CbRoomStatus status;
	size_t	   *off,
			   *off2;
	uint8_t    *ser,
			   *ser2;
	size_t		len,
				len2;
	uint32_t	i;
	FuzzArena	arena = {NULL};
	CbSweepResult r1,
				r2;

	/* the reader takes any bytes; most are refused, with a reason */
	why = cb_state_open(data, size, &v);
	if (why != NULL)
	{
		FUZZ_CHECK(why[0] != '\0', "refused without a reason");
		return 0;
	}

	status = cb_room_deserialize(&v, &fuzz_mem, &st);
	FUZZ_CHECK(status == CB_ROOM_OK, "cb_room_deserialize: %d", (int) status);
	FUZZ_CHECK(st->nevents == v.nevents, "%u rows of %u", st->nevents, v.nevents);
	FUZZ_CHECK(st->nparticipants <= v.nparticipants, "participants appeared");
	off = name_offsets(&v);
	for (i = 0; i < v.nevents; i++)
		FUZZ_CHECK(same_row_in_state(&v, off, i, st), "row %u changed on reading", i);

	/* serialized again (before any sort): accepted, the same rows */
	ser = serialize(st, &len);
	why = cb_state_open(ser, len, &v2);
	FUZZ_CHECK(why == NULL, "own serialized form refused: %s", why);
	FUZZ_CHECK(v2.nevents == v.nevents && v2.nparticipants == st->nparticipants,
			   "counts changed: %u rows, %u participants", v2.nevents, v2.nparticipants);
	off2 = name_offsets(&v2);
	for (i = 0; i < v.nevents; i++)
		FUZZ_CHECK(same_row_in_views(&v, off, &v2, off2, i),
				   "row %u changed in a round trip", i);

	/* and that form is a fixed point */
	status = cb_room_deserialize(&v2, &fuzz_mem, &back);
	FUZZ_CHECK(status == CB_ROOM_OK, "cb_room_deserialize: %d", (int) status);
	ser2 = serialize(back, &len2);
	FUZZ_CHECK(len2 == len && memcmp(ser, ser2, len) == 0,
			   "serializing twice gave different bytes");

	/* swept: no crash, sane, and the same from both states */
	sweep(st, &arena, &r1);
	sweep(back, &arena, &r2);
	FUZZ_CHECK(same_result(&r1, &r2), "a round trip changed the result");

	/* st is in processing order now: its form merged into a copy of it */
	{
		CbStateView v3;
		uint8_t    *ser3;
		size_t		len3;
		CbRoomState *twice = cb_room_copy(st, &fuzz_mem);
		CbSweepResult r3;

		ser3 = serialize(st, &len3);
		why = cb_state_open(ser3, len3, &v3);
		FUZZ_CHECK(why == NULL, "own serialized form refused: %s", why);
		status = cb_room_merge_serialized(&twice, &fuzz_mem, &v3);
		FUZZ_CHECK(status == CB_ROOM_OK, "cb_room_merge_serialized: %d", (int) status);
		FUZZ_CHECK(twice->nevents == 2 * st->nevents && twice->nparticipants == st->nparticipants,
				   "merged: %u rows, %u participants", twice->nevents, twice->nparticipants);
		FUZZ_CHECK(st->base == CB_WIDE || cb_room_sorted(twice),
				   "two sorted runs merged out of order");
		sweep(twice, &arena, &r3);
		FUZZ_CHECK(r3.participants == r1.participants && r3.ndays == r1.ndays,
				   "rows given twice changed the participants or the days");
		for (i = 0; i < r1.ndays; i++)
			FUZZ_CHECK(r3.days[i].day == r1.days[i].day && r3.days[i].usec == r1.days[i].usec,
					   "rows given twice changed the minutes of day %d", r1.days[i].day);
		free(ser3);
		cb_room_free(twice, &fuzz_mem);
	}

	free(off);
	free(off2);
	free(ser);
	free(ser2);
	cb_room_free(st, &fuzz_mem);
	cb_room_free(back, &fuzz_mem);
	fuzz_arena_free_all(&arena);
	return 0;
}
