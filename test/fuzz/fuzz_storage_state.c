/*-------------------------------------------------------------------------
 *
 * fuzz_storage_state.c
 *	  libFuzzer harness: arbitrary bytes as a serialized storage_days
 *	  state (storage.h), the form parallel workers send to the leader.
 *
 * cb_storage_open must refuse, with a reason, anything cb_storage_add and
 * cb_storage_merge could not have built, and never read outside the
 * buffer.  What it accepts must obey the plain invariants of the form:
 * the buffer's length is the one of its window, the window is one of
 * billing days; and it must survive a round trip: read into a CbStorage
 * (UTC day boundaries), serialized again, it is the very same bytes and
 * accepted again.  Merged into an empty state of its window it stays the
 * same bytes; finished (running sums) it cannot overflow, and the running
 * sums are never negative and end at 0.
 *
 * The other way round too: states built by the transition itself, a few
 * files chosen from the input's hash over the accepted window (before,
 * across, after it, zero bytes, files kept for good), and two of them
 * merged, must be accepted: the reader may be strict, never stricter than
 * the aggregate.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byteorder.h"
#include "fuzz_common.h"
#include "storage.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An empty state of a window of UTC days, every array at its exact size. */
typedef struct Window
{
	CbStorage	s;
	int64_t    *starts;
} Window;

static void
window_create(Window *w, int32_t first_day, uint32_t ndays)
{
	uint32_t	i;

	w->starts = malloc(((size_t) ndays + 1) * sizeof(int64_t));
	w->s.whole = calloc((size_t) ndays + 1, sizeof(cb_int128));
	w->s.partial = calloc(ndays, sizeof(cb_int128));
	FUZZ_CHECK(w->starts && w->s.whole && w->s.partial, "out of memory");
	for (i = 0; i <= ndays; i++)
		w->starts[i] = ((int64_t) first_day + i) * CB_USEC_PER_DAY;
	w->s.first_day = first_day;
	w->s.ndays = ndays;
	w->s.starts = w->starts;
	w->s.files = 0;
}

static void
window_free(Window *w)
{
	free(w->starts);
	free(w->s.whole);
	free(w->s.partial);
}

static uint8_t *
serialize(const CbStorage *s, size_t *len)
{
	uint8_t    *buf;

	*len = cb_storage_state_size(s->ndays);
	buf = malloc(*len);
	FUZZ_CHECK(buf != NULL, "out of memory");
	cb_storage_serialize(s, buf);
	return buf;
}

/* The reader's verdict on a state the aggregate built. */
static void
check_accepted(const CbStorage *s, const char *what)
{
	CbStorageView v;
	size_t		len;
	uint8_t    *buf = serialize(s, &len);
	const char *why = cb_storage_open(buf, len, &v);

	FUZZ_CHECK(why == NULL, "%s refused: %s", what, why);
	FUZZ_CHECK(v.first_day == s->first_day && v.ndays == s->ndays &&
			   v.files == s->files, "%s read back with another window", what);
	free(buf);
}

/*
 * A few files as storage_days' transition adds them: ready in
 * [CB_MIN_AT, CB_MAX_AT), an end at or after it, or CB_NO_END.
 */
static void
add_files(CbStorage *s, uint64_t *seed)
{
	int64_t		wstart = s->starts[0];
	int64_t		wend = s->starts[s->ndays];
	int			nfiles = (int) (fuzz_next(seed) % 6);
	int			k;

	for (k = 0; k < nfiles; k++)
	{
		uint64_t	r = fuzz_next(seed);
		int64_t		bytes,
					a,
					b;

		switch (r % 4)
		{
			case 0:
				bytes = 0;
				break;
			case 1:
				bytes = INT64_MAX;
				break;
			default:
				bytes = (int64_t) (fuzz_next(seed) >> 20);
				break;
		}
		/* from a day before the window to a day after it, to the microsecond */
		a = wstart - CB_USEC_PER_DAY +
			(int64_t) (fuzz_next(seed) % (uint64_t) (wend - wstart + 2 * CB_USEC_PER_DAY));
		if (r & 0x10)
			a = (r & 0x20) ? CB_MIN_AT : CB_MAX_AT - 1;
		if (a < CB_MIN_AT)
			a = CB_MIN_AT;
		if (a >= CB_MAX_AT)
			a = CB_MAX_AT - 1;
		if (r & 0x40)
			b = CB_NO_END;
		else
		{
			b = a + (int64_t) (fuzz_next(seed) % (uint64_t) (wend - wstart + CB_USEC_PER_DAY));
			if (b > CB_MAX_AT)
				b = CB_MAX_AT;
		}
		cb_storage_add(s, bytes, a, b);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	CbStorageView v,
				v2;
	const char *why;
	Window		w,
				zero,
				built,
				other;
	uint8_t    *ser,
			   *ser2;
	size_t		len,
				len2;
	uint64_t	seed;
	uint32_t	i;
	cb_int128	running;

	/* the reader takes any bytes; most are refused, with a reason */
	why = cb_storage_open(data, size, &v);
	if (why != NULL)
	{
		FUZZ_CHECK(why[0] != '\0', "refused without a reason");
		return 0;
	}

	/* the window: billing days, and the length it implies */
	FUZZ_CHECK(v.ndays >= 1 && v.ndays <= CB_STORAGE_MAX_DAYS, "%u days", v.ndays);
	FUZZ_CHECK(v.first_day >= CB_MIN_DAY &&
			   (int64_t) v.first_day + v.ndays <= CB_MAX_DAY + 1,
			   "window from day %d, %u days", v.first_day, v.ndays);
	FUZZ_CHECK((int32_t) cb_get32(data + 8) == v.first_day + (int32_t) v.ndays,
			   "window length does not match its end");
	FUZZ_CHECK(size == cb_storage_state_size(v.ndays), "%zu bytes for %u days",
			   size, v.ndays);
	FUZZ_CHECK(v.files >= 0, "%" PRId64 " files", v.files);

	/* read and written again: the very same bytes, accepted again */
	window_create(&w, v.first_day, v.ndays);
	cb_storage_read(&v, &w.s);
	ser = serialize(&w.s, &len);
	FUZZ_CHECK(len == size && memcmp(ser, data, size) == 0,
			   "a round trip changed the bytes");
	why = cb_storage_open(ser, len, &v2);
	FUZZ_CHECK(why == NULL, "own serialized form refused: %s", why);
	FUZZ_CHECK(v2.first_day == v.first_day && v2.ndays == v.ndays &&
			   v2.files == v.files, "the header changed in a round trip");

	/* merged into an empty state of its window: the same again */
	window_create(&zero, v.first_day, v.ndays);
	cb_storage_merge(&zero.s, &w.s);
	ser2 = serialize(&zero.s, &len2);
	FUZZ_CHECK(len2 == size && memcmp(ser2, data, size) == 0,
			   "merging into an empty state changed the bytes");
	free(ser2);

	/* finished: running sums, which the reader bounded */
	cb_storage_finish(&w.s);
	running = 0;
	for (i = 0; i < v.ndays; i++)
	{
		FUZZ_CHECK(w.s.whole[i] >= 0, "negative bytes on day %u", i);
		FUZZ_CHECK(w.s.partial[i] >= 0, "negative byte-marks on day %u", i);
		running = w.s.whole[i];
	}
	FUZZ_CHECK(running == 0 && w.s.whole[v.ndays] == 0,
			   "whole-day runs do not end inside the window");

	/* states the transition builds over this window are accepted */
	seed = fuzz_hash(data, size);
	window_create(&built, v.first_day, v.ndays);
	add_files(&built.s, &seed);
	check_accepted(&built.s, "a built state");
	window_create(&other, v.first_day, v.ndays);
	add_files(&other.s, &seed);
	cb_storage_merge(&built.s, &other.s);
	check_accepted(&built.s, "a merged state");

	free(ser);
	window_free(&w);
	window_free(&zero);
	window_free(&built);
	window_free(&other);
	return 0;
}
