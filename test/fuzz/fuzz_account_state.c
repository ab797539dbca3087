/*-------------------------------------------------------------------------
 *
 * fuzz_account_state.c
 *	  libFuzzer harness: arbitrary bytes as a serialized account_peak
 *	  state (account_codec.h), the form parallel workers send to the
 *	  leader: one room state (state_codec.h) per room, by name.
 *
 * cb_account_open must refuse, with a reason, anything that is not such a
 * form, and never read outside the buffer.  What it accepts obeys the
 * plain invariants of the form: walking it with cb_account_room gives
 * exactly its count of rooms, each name and state inside the buffer, each
 * state one that cb_state_open accepts, the last room ending where the
 * buffer does.
 *
 * Then what classbill_account_peak_deserial does: each room rebuilt
 * (cb_room_deserialize) and merged into the room of its name, so a name
 * that comes twice in a forged form is one room holding both rooms' rows
 * in order.  Serialized again, the form is accepted, has the rooms in the
 * order their names first came, and each holds the rows of every room of
 * its name, in order (compared by participant name); read and serialized
 * once more, it is the very same bytes.
 *
 * Finally what the final function does: every room swept (UTC days), its
 * presences gathered and counted together (cb_daily_peaks): days ascending,
 * each peak at least 1, at an instant of its day, and no more than the
 * rooms' own peaks added up.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account_codec.h"
#include "byteorder.h"
#include "concurrency.h"
#include "fuzz_common.h"
#include "room_state.h"
#include "state_codec.h"
#include "sweep.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An account as the aggregate keeps it: rooms by name, in order of arrival. */
typedef struct Room
{
	const char *name;			/* into the input */
	uint32_t	namelen;
	CbRoomState *st;
} Room;

typedef struct Account
{
	Room	   *rooms;
	uint32_t	nrooms;
} Account;

static Room *
room_of(Account *a, const char *name, uint32_t len)
{
	uint32_t	k;

	for (k = 0; k < a->nrooms; k++)
		if (a->rooms[k].namelen == len &&
			(len == 0 || memcmp(a->rooms[k].name, name, len) == 0))
			return &a->rooms[k];
	a->rooms[a->nrooms].name = name;
	a->rooms[a->nrooms].namelen = len;
	a->rooms[a->nrooms].st = cb_room_create(&fuzz_mem, 24);
	return &a->rooms[a->nrooms++];
}

/* What classbill_account_peak_deserial builds from an accepted form. */
static void
account_read(const CbAccountView *v, Account *a)
{
	const uint8_t *p = v->rooms;
	uint32_t	k;

	a->rooms = malloc(((size_t) v->nrooms + 1) * sizeof(Room));
	FUZZ_CHECK(a->rooms != NULL, "out of memory");
	a->nrooms = 0;
	for (k = 0; k < v->nrooms; k++)
	{
		CbAccountRoom room;
		CbRoomState *st;
		CbRoomStatus status;
		Room	   *r;

		cb_account_room(v, p, &room);
		p = room.next;
		status = cb_room_deserialize(&room.state, &fuzz_mem, &st);
		FUZZ_CHECK(status == CB_ROOM_OK, "cb_room_deserialize: %d", (int) status);
		r = room_of(a, room.name, room.namelen);
		status = cb_room_merge(&r->st, &fuzz_mem, st);
		FUZZ_CHECK(status == CB_ROOM_OK, "cb_room_merge: %d", (int) status);
		cb_room_free(st, &fuzz_mem);
	}
}

static void
account_free(Account *a)
{
	uint32_t	k;

	for (k = 0; k < a->nrooms; k++)
		cb_room_free(a->rooms[k].st, &fuzz_mem);
	free(a->rooms);
}

/* What classbill_account_peak_serial writes. */
static uint8_t *
account_serialize(const Account *a, size_t *len)
{
	uint64_t	size = CB_ACCOUNT_HEADER;
	uint8_t    *buf,
			   *p;
	uint32_t	k;

	for (k = 0; k < a->nrooms; k++)
	{
		uint64_t	s = cb_account_room_size(a->rooms[k].namelen, a->rooms[k].st);

		FUZZ_CHECK(s >= 8 + CB_STATE_HEADER, "room %u: %" PRIu64 " bytes", k, s);
		size += s;
	}
	buf = malloc(size);
	FUZZ_CHECK(buf != NULL, "out of memory");
	p = cb_account_write_header(buf, a->nrooms);
	for (k = 0; k < a->nrooms; k++)
		p = cb_account_write_room(p, a->rooms[k].name, a->rooms[k].namelen,
								  a->rooms[k].st);
	FUZZ_CHECK((uint64_t) (p - buf) == size, "wrote %zu bytes of %" PRIu64,
			   (size_t) (p - buf), size);
	*len = (size_t) size;
	return buf;
}

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

/* Do row i of view a and row j of view b say the same thing? */
static int
same_row(const CbStateView *a, const size_t *aoff, uint32_t i,
		 const CbStateView *b, const size_t *boff, uint32_t j)
{
	CbEvent		x,
				y;
	uint32_t	pa,
				pb;

	cb_state_event(a, i, &x);
	cb_state_event(b, j, &y);
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

static int
same_name(const CbAccountRoom *r, const char *name, uint32_t len)
{
	return r->namelen == len && (len == 0 || memcmp(r->name, name, len) == 0);
}

/*
 * The walk of an accepted form: its count of rooms, each inside the
 * buffer, each state accepted, the last ending with the buffer.
 */
static void
check_walk(const uint8_t *buf, size_t len, const CbAccountView *v)
{
	const uint8_t *p = v->rooms;
	uint32_t	k;

	FUZZ_CHECK(v->rooms == buf + CB_ACCOUNT_HEADER && v->end == buf + len,
			   "the view does not span the buffer");
	FUZZ_CHECK(v->nrooms == cb_get32(buf + 4), "room count");
	for (k = 0; k < v->nrooms; k++)
	{
		CbAccountRoom room;
		CbStateView again;
		const uint8_t *state;
		size_t		statelen;

		FUZZ_CHECK(p >= v->rooms && p < v->end, "room %u starts outside", k);
		cb_account_room(v, p, &room);
		FUZZ_CHECK((const uint8_t *) room.name == p + 4 &&
				   room.namelen == cb_get32(p), "room %u: name", k);
		state = (const uint8_t *) room.name + room.namelen + 4;
		statelen = cb_get32(state - 4);
		FUZZ_CHECK(state + statelen == room.next && room.next <= v->end,
				   "room %u runs past the end", k);
		FUZZ_CHECK(cb_state_open(state, statelen, &again) == NULL,
				   "room %u: its state is refused", k);
		FUZZ_CHECK(room.state.nevents == again.nevents &&
				   room.state.nparticipants == again.nparticipants &&
				   room.state.events == again.events, "room %u: another view", k);
		p = room.next;
	}
	FUZZ_CHECK(p == v->end, "bytes after the last room");
}

/* The rooms of an accepted form, walked once. */
static CbAccountRoom *
rooms_of(const CbAccountView *v)
{
	CbAccountRoom *rooms = malloc(((size_t) v->nrooms + 1) * sizeof(CbAccountRoom));
	const uint8_t *p = v->rooms;
	uint32_t	k;

	FUZZ_CHECK(rooms != NULL, "out of memory");
	for (k = 0; k < v->nrooms; k++)
	{
		cb_account_room(v, p, &rooms[k]);
		p = rooms[k].next;
	}
	return rooms;
}

/*
 * The rows of room r of the form written again are, in order, the rows of
 * the input's rooms of that name, in order.
 */
static void
check_rows(const CbAccountRoom *in, uint32_t nin, const CbAccountRoom *r)
{
	size_t	   *roff = name_offsets(&r->state);
	uint32_t	j = 0,
				k;

	for (k = 0; k < nin; k++)
	{
		size_t	   *ioff;
		uint32_t	i;

		if (!same_name(&in[k], r->name, r->namelen))
			continue;
		ioff = name_offsets(&in[k].state);
		for (i = 0; i < in[k].state.nevents; i++, j++)
		{
			FUZZ_CHECK(j < r->state.nevents, "rows lost in a round trip");
			FUZZ_CHECK(same_row(&in[k].state, ioff, i, &r->state, roff, j),
					   "row %u changed in a round trip", j);
		}
		free(ioff);
	}
	FUZZ_CHECK(j == r->state.nevents, "rows appeared in a round trip");
	free(roff);
}

/* ----------------------------------------------------------------
 * The final function: sweep each room, count the presences together
 * ----------------------------------------------------------------
 */
typedef struct Intervals
{
	int64_t    *v;
	size_t		n;
	size_t		cap;
} Intervals;

static void
collect(void *arg, int64_t start, int64_t end)
{
	Intervals  *iv = arg;

	if (iv->n == iv->cap)
	{
		iv->cap = iv->cap ? iv->cap * 2 : 64;
		iv->v = realloc(iv->v, iv->cap * 2 * sizeof(int64_t));
		FUZZ_CHECK(iv->v != NULL, "out of memory");
	}
	iv->v[2 * iv->n] = start;
	iv->v[2 * iv->n + 1] = end;
	iv->n++;
}

static void
check_peaks(const Account *a)
{
	Intervals	iv = {NULL, 0, 0};
	CbPresenceSink sink = {collect, &iv};
	FuzzArena	arena = {NULL};
	CbAlloc		alloc = fuzz_alloc_in(&arena);
	CbDayPeak  *days;
	size_t		ndays,
				i;
	int64_t		peaks = 0;
	CbStatus	status;
	uint32_t	k;

	for (k = 0; k < a->nrooms; k++)
	{
		CbRoomState *st = a->rooms[k].st;
		size_t		n = st->nevents;
		CbEvent    *ev = fuzz_arena_alloc(&arena, (n ? n : 1) * sizeof(CbEvent));
		CbEvent    *tmp = fuzz_arena_alloc(&arena, (n ? n : 1) * sizeof(CbEvent));
		CbSweepResult r;

		FUZZ_CHECK(ev != NULL && tmp != NULL, "out of memory");
		cb_room_events_in_order(st, ev, cb_room_sorted(st) ? NULL : tmp);
		status = cb_sweep(ev, n, st->nparticipants, &fuzz_utc, &alloc,
						  fuzz_no_interrupt, &sink, &r);
		FUZZ_CHECK(status == CB_OK, "cb_sweep: %d", (int) status);
		peaks += r.peak;
	}
	status = cb_daily_peaks(iv.v, iv.n, &fuzz_utc, &alloc, &days, &ndays);
	FUZZ_CHECK(status == CB_OK, "cb_daily_peaks: %d", (int) status);
	FUZZ_CHECK((ndays == 0) == (iv.n == 0), "%zu days of %zu presences", ndays, iv.n);
	for (i = 0; i < ndays; i++)
	{
		FUZZ_CHECK(i == 0 || days[i - 1].day < days[i].day, "days out of order");
		FUZZ_CHECK(days[i].peak >= 1 && days[i].peak <= peaks,
				   "day %d: peak %d, the rooms' peaks add up to %" PRId64,
				   days[i].day, days[i].peak, peaks);
		FUZZ_CHECK(fuzz_floor_div(days[i].at, CB_USEC_PER_DAY) == days[i].day,
				   "day %d: peak at %" PRId64 ", another day", days[i].day, days[i].at);
	}
	free(iv.v);
	fuzz_arena_free_all(&arena);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	CbAccountView v,
				v2,
				v3;
	const char *why;
	Account		a,
				back;
	uint8_t    *ser,
			   *ser2;
	size_t		len,
				len2;
	CbAccountRoom *in,
			   *out;
	uint32_t	k;

	/* the reader takes any bytes; most are refused, with a reason */
	why = cb_account_open(data, size, &v);
	if (why != NULL)
	{
		FUZZ_CHECK(why[0] != '\0', "refused without a reason");
		return 0;
	}
	check_walk(data, size, &v);

	/* deserialized and serialized again: accepted, each name once */
	account_read(&v, &a);
	FUZZ_CHECK(a.nrooms <= v.nrooms, "rooms appeared");
	ser = account_serialize(&a, &len);
	why = cb_account_open(ser, len, &v2);
	FUZZ_CHECK(why == NULL, "own serialized form refused: %s", why);
	check_walk(ser, len, &v2);
	FUZZ_CHECK(v2.nrooms == a.nrooms, "%u rooms written of %u", v2.nrooms, a.nrooms);
	in = rooms_of(&v);
	out = rooms_of(&v2);
	for (k = 0; k < v2.nrooms; k++)
	{
		FUZZ_CHECK(same_name(&out[k], a.rooms[k].name, a.rooms[k].namelen),
				   "room %u renamed", k);
		check_rows(in, v.nrooms, &out[k]);
	}
	free(in);
	free(out);

	/* and that form is a fixed point */
	account_read(&v2, &back);
	FUZZ_CHECK(back.nrooms == a.nrooms, "rooms merged on a second reading");
	ser2 = account_serialize(&back, &len2);
	FUZZ_CHECK(len2 == len && memcmp(ser, ser2, len) == 0,
			   "serializing twice gave different bytes");
	FUZZ_CHECK(cb_account_open(ser2, len2, &v3) == NULL, "fixed point refused");

	check_peaks(&a);

	free(ser);
	free(ser2);
	account_free(&a);
	account_free(&back);
	return 0;
}
