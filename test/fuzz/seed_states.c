/*-------------------------------------------------------------------------
 *
 * seed_states.c
 *	  Writes the seed corpora of fuzz_account_state and fuzz_storage_state:
 *	  states built by the core's own transition steps (room buffers,
 *	  cb_storage_add and merge) and serialized by its writers, plus one
 *	  form only a forger makes (a room name twice).  Not part of any build;
 *	  to make the seeds again:
 *
 *	  cc -Isrc test/fuzz/seed_states.c src/account_codec.c src/room_state.c \
 *	     src/state_codec.c src/sweep.c src/storage.c -o /tmp/seed_states
 *	  /tmp/seed_states test/fuzz/corpus
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account_codec.h"
#include "fuzz_common.h"
#include "room_state.h"
#include "storage.h"

/* 2026-11-01, in days since 2000-01-01 */
#define NOV_1		9801
#define AT(day, h, m)	((int64_t) (day) * CB_USEC_PER_DAY + \
						 (int64_t) (h) * CB_USEC_PER_HOUR + (int64_t) (m) * CB_USEC_PER_MINUTE)

static const char *dir;

static void
write_file(const char *harness, const char *name, const uint8_t *buf, size_t len)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, harness, name);
	f = fopen(path, "wb");
	FUZZ_CHECK(f != NULL, "cannot write %s", path);
	FUZZ_CHECK(fwrite(buf, 1, len, f) == len, "cannot write %s", path);
	fclose(f);
	printf("%s: %zu bytes\n", path, len);
}

/* ----------------------------------------------------------------
 * account_peak states
 * ----------------------------------------------------------------
 */
typedef struct Room
{
	const char *name;
	CbRoomState *st;
} Room;

static void
row(Room *r, const char *who, int kind, int64_t at)
{
	uint32_t	pid = 0;

	if (who != NULL)
		FUZZ_CHECK(cb_room_participant(&r->st, &fuzz_mem, who, strlen(who), &pid) == CB_ROOM_OK,
				   "participant");
	FUZZ_CHECK(cb_room_add_event(&r->st, &fuzz_mem, at, kind, pid) == CB_ROOM_OK, "event");
}

static Room
room(const char *name)
{
	Room		r = {name, cb_room_create(&fuzz_mem, 24)};

	return r;
}

static void
write_account(const char *file, Room *rooms, uint32_t n)
{
	uint64_t	size = CB_ACCOUNT_HEADER;
	uint8_t    *buf,
			   *p;
	uint32_t	k;

	for (k = 0; k < n; k++)
		size += cb_account_room_size(strlen(rooms[k].name), rooms[k].st);
	buf = malloc(size);
	FUZZ_CHECK(buf != NULL, "out of memory");
	p = cb_account_write_header(buf, n);
	for (k = 0; k < n; k++)
		p = cb_account_write_room(p, rooms[k].name, (uint32_t) strlen(rooms[k].name),
								  rooms[k].st);
	write_file("fuzz_account_state", file, buf, size);
	free(buf);
	for (k = 0; k < n; k++)
		cb_room_free(rooms[k].st, &fuzz_mem);
}

static void
account_seeds(void)
{
	Room		r[100];
	char		names[100][16];
	int			k;

	write_account("empty.state", r, 0);

	/* one lesson: a teacher and two students, one of them staged */
	r[0] = room("math-101");
	row(&r[0], "teacher", CB_JOIN, AT(NOV_1, 2, 0));
	row(&r[0], "ana", CB_JOIN, AT(NOV_1, 2, 1));
	row(&r[0], "ana", CB_STAGE_UP, AT(NOV_1, 2, 10));
	row(&r[0], "bo", CB_JOIN, AT(NOV_1, 2, 5));
	row(&r[0], "ana", CB_STAGE_DOWN, AT(NOV_1, 2, 20));
	row(&r[0], "bo", CB_HEARTBEAT, AT(NOV_1, 2, 30));
	row(&r[0], "ana", CB_LEAVE, AT(NOV_1, 2, 50));
	row(&r[0], NULL, CB_END, AT(NOV_1, 3, 0));
	write_account("one_lesson.state", r, 1);

	/*
	 * SPEC 3.6: a teacher moves from room to room at one instant (never
	 * counted twice), across midnight, rows out of order; a room of "end"
	 * only; a room without rows; a room with an empty name.
	 */
	r[0] = room("A");
	r[1] = room("B");
	r[2] = room("C");
	r[3] = room("ended");
	r[4] = room("quiet");
	r[5] = room("");
	row(&r[1], "t", CB_JOIN, AT(NOV_1, 23, 30));
	row(&r[0], "t", CB_JOIN, AT(NOV_1, 23, 0));
	row(&r[0], "t", CB_LEAVE, AT(NOV_1, 23, 30));
	row(&r[0], "s1", CB_JOIN, AT(NOV_1, 23, 10));
	row(&r[1], "s2", CB_JOIN, AT(NOV_1 + 1, 0, 10));
	row(&r[1], "t", CB_LEAVE, AT(NOV_1 + 1, 0, 30));
	row(&r[2], "t", CB_JOIN, AT(NOV_1 + 1, 0, 30));
	row(&r[2], "s1", CB_JOIN, AT(NOV_1 + 1, 0, 30));
	row(&r[0], NULL, CB_END, AT(NOV_1 + 1, 1, 0));
	row(&r[2], NULL, CB_END, AT(NOV_1 + 1, 2, 0));
	row(&r[3], NULL, CB_END, AT(NOV_1, 12, 0));
	row(&r[5], "x", CB_JOIN, AT(NOV_1, 9, 0));
	row(&r[5], "x", CB_LEAVE, AT(NOV_1, 9, 45));
	write_account("handover_rooms.state", r, 6);

	/* many rooms of one session each: the aggregate's table of rooms grows */
	for (k = 0; k < 100; k++)
	{
		snprintf(names[k], sizeof(names[k]), "room-%03d", k);
		r[k] = room(names[k]);
		row(&r[k], "p", CB_JOIN, AT(NOV_1, k % 24, k % 60));
		row(&r[k], "p", CB_LEAVE, AT(NOV_1, k % 24, k % 60) + (k + 1) * CB_USEC_PER_MINUTE);
	}
	write_account("many_rooms.state", r, 100);

	/*
	 * Rows at both ends of the instants accepted, centuries apart (the
	 * room buffer goes to 12-byte events; the sweep's days span them, so
	 * this seed is slow, and kept apart from the others)
	 */
	r[0] = room("edges");
	row(&r[0], "first", CB_JOIN, CB_MIN_AT);
	row(&r[0], "first", CB_LEAVE, CB_MIN_AT + CB_USEC_PER_HOUR);
	row(&r[0], "last", CB_JOIN, CB_MAX_AT - CB_USEC_PER_HOUR);
	row(&r[0], "last", CB_HEARTBEAT, CB_MAX_AT - 1);
	write_account("range_edges.state", r, 1);

	/*
	 * 300 participants (past the linear lookup) in one room, a third of
	 * them leaving, the others closed at their last evidence, the room
	 * ended; a second room of one row.
	 */
	r[0] = room("solo");
	row(&r[0], "t", CB_HEARTBEAT, AT(NOV_1, 8, 30));
	r[1] = room("crowd");
	for (k = 0; k < 300; k++)
	{
		char		who[16];

		snprintf(who, sizeof(who), "p%d", k);
		row(&r[1], who, CB_JOIN, AT(NOV_1, 8, 0) + k * CB_USEC_PER_SEC);
		if (k % 3 == 0)
			row(&r[1], who, CB_LEAVE, AT(NOV_1, 9, 0) + k * CB_USEC_PER_SEC);
	}
	row(&r[1], NULL, CB_END, AT(NOV_1, 10, 0));
	write_account("crowd.state", r, 2);
}

/*
 * A forged form: room "A" twice, which the reader merges into one room
 * holding both rows, as the transition would have kept them.
 */
static void
account_name_twice(void)
{
	Room		r[2];

	r[0] = room("A");
	r[1] = room("A");
	row(&r[0], "t", CB_JOIN, AT(NOV_1, 10, 0));
	row(&r[1], "t", CB_LEAVE, AT(NOV_1, 11, 0));
	row(&r[1], "u", CB_JOIN, AT(NOV_1, 10, 30));
	write_account("name_twice.state", r, 2);
}

/* ----------------------------------------------------------------
 * storage_days states (UTC days, as the harness reads them)
 * ----------------------------------------------------------------
 */
typedef struct Window
{
	CbStorage	s;
	int64_t		starts[CB_STORAGE_MAX_DAYS + 1];
	cb_int128	whole[CB_STORAGE_MAX_DAYS + 1];
	cb_int128	partial[CB_STORAGE_MAX_DAYS];
} Window;

static Window *
window(int32_t first_day, uint32_t ndays)
{
	Window	   *w = calloc(1, sizeof(Window));
	uint32_t	i;

	FUZZ_CHECK(w != NULL, "out of memory");
	for (i = 0; i <= ndays; i++)
		w->starts[i] = ((int64_t) first_day + i) * CB_USEC_PER_DAY;
	w->s.first_day = first_day;
	w->s.ndays = ndays;
	w->s.starts = w->starts;
	w->s.whole = w->whole;
	w->s.partial = w->partial;
	return w;
}

static void
write_storage(const char *file, Window *w)
{
	size_t		len = cb_storage_state_size(w->s.ndays);
	uint8_t    *buf = malloc(len);
	CbStorageView v;

	FUZZ_CHECK(buf != NULL, "out of memory");
	cb_storage_serialize(&w->s, buf);
	FUZZ_CHECK(cb_storage_open(buf, len, &v) == NULL, "%s refused", file);
	write_file("fuzz_storage_state", file, buf, len);
	free(buf);
}

static void
storage_seeds(void)
{
	Window	   *w,
			   *x;

	w = window(NOV_1, 1);
	write_storage("one_day_empty.state", w);
	free(w);

	/* SPEC 4.2: a file kept for good, one for a day, one deleted the same day */
	w = window(NOV_1, 3);
	cb_storage_add(&w->s, CB_BYTES_PER_GB, AT(NOV_1, 10, 2), CB_NO_END);
	cb_storage_add(&w->s, CB_BYTES_PER_GB, AT(NOV_1, 10, 0), AT(NOV_1 + 1, 10, 0));
	cb_storage_add(&w->s, 5, AT(NOV_1 + 1, 0, 0), AT(NOV_1 + 1, 6, 0));
	cb_storage_add(&w->s, 0, AT(NOV_1, 1, 0), CB_NO_END);
	write_storage("three_days.state", w);
	free(w);

	/*
	 * A month of files: before the window, across it, after it, the
	 * largest size, a file ready a microsecond before midnight; then a
	 * second worker's state merged in.
	 */
	w = window(NOV_1, 30);
	x = window(NOV_1, 30);
	cb_storage_add(&w->s, 3 * CB_BYTES_PER_GB, AT(NOV_1 - 10, 0, 0), AT(NOV_1 + 29, 12, 0));
	cb_storage_add(&w->s, INT64_MAX, AT(NOV_1 + 4, 23, 59), CB_NO_END);
	cb_storage_add(&w->s, 7, AT(NOV_1 + 40, 0, 0), CB_NO_END);
	cb_storage_add(&w->s, 1000, AT(NOV_1 + 2, 0, 0) - 1, AT(NOV_1 + 2, 0, 1));
	cb_storage_add(&x->s, CB_BYTES_PER_GB, AT(NOV_1 + 2, 11, 0), AT(NOV_1 + 2, 12, 0));
	cb_storage_add(&x->s, 123456789, AT(NOV_1 + 10, 0, 0), AT(NOV_1 + 20, 0, 0));
	cb_storage_merge(&w->s, &x->s);
	write_storage("month_merged.state", w);
	free(w);
	free(x);

	/* the first and the last billing days */
	w = window(CB_MIN_DAY, 2);
	cb_storage_add(&w->s, 1, CB_MIN_AT, CB_NO_END);
	write_storage("first_days.state", w);
	free(w);
	w = window(CB_MAX_DAY - 1, 2);
	cb_storage_add(&w->s, 1, CB_MAX_AT - CB_USEC_PER_DAY - 1, CB_MAX_AT);
	write_storage("last_days.state", w);
	free(w);

	/* about the longest window the fuzzer's length limit allows */
	w = window(NOV_1, 120);
	cb_storage_add(&w->s, 42, AT(NOV_1 + 3, 3, 3), AT(NOV_1 + 110, 0, 0));
	write_storage("four_months.state", w);
	free(w);
}

int
main(int argc, char **argv)
{
	if (argc != 2)
	{
		fprintf(stderr, "usage: %s test/fuzz/corpus\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	account_seeds();
	account_name_twice();
	storage_seeds();
	return 0;
}
