/*-------------------------------------------------------------------------
 *
 * fuzz_usage_text.c
 *	  libFuzzer harness: the two readers of a classbill.usage value, its
 *	  text input (cb_usage_parse) and its binary form (cb_usage_check).
 *
 * Both take bytes from users: text in casts and COPY, binary in
 * usage_recv and in stored values.  The first input byte picks the
 * reader (even: text, odd: binary); the rest is the value.
 *
 * Text: what cb_usage_parse accepts must encode into exactly
 * cb_usage_size bytes that cb_usage_check accepts, print within
 * cb_usage_text_bound, and parse and encode again into the same bytes.
 * What it refuses comes with a message.
 *
 * Binary: what cb_usage_check accepts must read back (cb_usage_header and
 * cb_usage_day) into a value that encodes into the very same bytes (there
 * is one binary form per value), and survive text and back unchanged.
 * Merged with itself (a rollup, SPEC 9) it must stay valid, and adding in
 * place must give the bytes the merge gives.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "usage_value.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The value's bytes, in a buffer of exactly cb_usage_size bytes. */
static uint8_t *
encode(const CbUsage *u, size_t *len)
{
	uint8_t    *buf;

	*len = cb_usage_size(u->tzlen, u->ndays);
	buf = malloc(*len);
	FUZZ_CHECK(buf != NULL, "out of memory");
	cb_usage_encode(u, buf);
	return buf;
}

static void
dump(const char *title, const uint8_t *buf, size_t len)
{
	size_t		i;

	fprintf(stderr, "%s (%zu bytes):", title, len);
	for (i = 0; i < len; i++)
		fprintf(stderr, "%s%02x", i % 32 ? "" : "\n  ", buf[i]);
	fputc('\n', stderr);
}

/* A valid value printed, parsed and encoded again: the same bytes. */
static void
text_round_trip(const uint8_t *buf, size_t len, FuzzArena *arena)
{
	CbAlloc		alloc = fuzz_alloc_in(arena);
	size_t		bound = cb_usage_text_bound(buf);
	char	   *text = malloc(bound);
	char		err[256];
	CbUsage		u;
	uint8_t    *again;
	size_t		againlen;

	FUZZ_CHECK(text != NULL, "out of memory");
	cb_usage_to_text(buf, text);
	FUZZ_CHECK(strlen(text) < bound, "text of %zu bytes over the bound %zu",
			   strlen(text), bound);
	if (cb_usage_parse(text, &alloc, &u, err, sizeof(err)) != 0)
	{
		dump("value", buf, len);
		FUZZ_CHECK(0, "own text refused: %s\n  text: %s", err, text);
	}
	again = encode(&u, &againlen);
	if (againlen != len || memcmp(again, buf, len) != 0)
	{
		dump("value", buf, len);
		dump("through text", again, againlen);
		FUZZ_CHECK(0, "text round trip changed the value\n  text: %s", text);
	}
	free(again);
	free(text);
}

static void
text_input(const uint8_t *data, size_t size)
{
	FuzzArena	arena = {NULL};
	CbAlloc		alloc = fuzz_alloc_in(&arena);
	char	   *text = malloc(size + 1);
	char		err[256];
	CbUsage		u;
	uint8_t    *buf;
	size_t		len;
	const char *why;

	FUZZ_CHECK(text != NULL, "out of memory");
	/* the type's input function gets a C string: stop at the first NUL */
	memcpy(text, data, size);
	text[size] = '\0';
	memset(err, 0x7f, sizeof(err));

	if (cb_usage_parse(text, &alloc, &u, err, sizeof(err)) != 0)
	{
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0',
				   "refused without a message");
	}
	else
	{
		buf = encode(&u, &len);
		why = cb_usage_check(buf, len);
		if (why != NULL)
		{
			dump("encoded", buf, len);
			FUZZ_CHECK(0, "parsed text encodes to a value the reader refuses: %s\n  text: %s",
					   why, text);
		}
		text_round_trip(buf, len, &arena);
		free(buf);
	}
	free(text);
	fuzz_arena_free_all(&arena);
}

/* Merged with itself, and added to itself in place: the same bytes. */
static void
self_merge(const uint8_t *buf, size_t len)
{
	size_t		msize = cb_usage_merge_size(buf, buf);
	uint8_t    *merged,
			   *copy;
	CbStatus	status,
				inplace;
	int			added;
	const char *why;

	FUZZ_CHECK(msize == len, "merging a value with itself changes its size");
	merged = malloc(msize);
	copy = malloc(len);
	FUZZ_CHECK(merged != NULL && copy != NULL, "out of memory");
	memcpy(copy, buf, len);
	status = cb_usage_merge(buf, buf, merged);
	added = cb_usage_add_inplace(copy, buf, &inplace);
	if (status == CB_OK)
	{
		why = cb_usage_check(merged, msize);
		FUZZ_CHECK(why == NULL, "a merge gave an invalid value: %s", why);
		FUZZ_CHECK(added && inplace == CB_OK, "adding in place refused a fitting value");
		FUZZ_CHECK(memcmp(copy, merged, len) == 0, "adding in place differs from merging");
	}
	else
	{
		FUZZ_CHECK(status == CB_ERR_OVERFLOW, "cb_usage_merge: %d", (int) status);
		FUZZ_CHECK(!added && inplace == CB_ERR_OVERFLOW,
				   "merge overflowed, adding in place did not say so");
		FUZZ_CHECK(memcmp(copy, buf, len) == 0, "a refused add changed the value");
	}
	free(merged);
	free(copy);
}

static void
binary_input(const uint8_t *data, size_t size)
{
	FuzzArena	arena = {NULL};
	uint8_t    *buf = malloc(size ? size : 1);
	uint8_t    *again;
	size_t		againlen;
	CbUsage		u;
	CbDayTotal *days;
	const char *why;
	uint32_t	i;

	FUZZ_CHECK(buf != NULL, "out of memory");
	memcpy(buf, data, size);
	why = cb_usage_check(buf, size);
	if (why != NULL)
	{
		FUZZ_CHECK(why[0] != '\0', "refused without a reason");
		free(buf);
		return;
	}

	cb_usage_header(buf, &u);
	FUZZ_CHECK(u.ndays == cb_usage_ndays(buf), "two day counts");
	days = malloc((u.ndays ? u.ndays : 1) * sizeof(CbDayTotal));
	FUZZ_CHECK(days != NULL, "out of memory");
	for (i = 0; i < u.ndays; i++)
		days[i] = cb_usage_day(buf, i);
	u.days = days;
	again = encode(&u, &againlen);
	if (buf[0] == CB_USAGE_VERSION)
	{
		if (againlen != size || memcmp(again, buf, size) != 0)
		{
			dump("value", buf, size);
			dump("read and encoded", again, againlen);
			FUZZ_CHECK(0, "a valid value does not encode back to its bytes");
		}
	}
	else
	{
		/* a value of version 1 is written as version 2: the same days */
		FUZZ_CHECK(cb_usage_check(again, againlen) == NULL, "version 1 written again is not valid");
		FUZZ_CHECK(cb_usage_ndays(again) == u.ndays, "version 1 written again lost days");
		for (i = 0; i < u.ndays; i++)
			FUZZ_CHECK(cb_usage_day(again, i).day == days[i].day &&
					   cb_usage_day(again, i).usec == days[i].usec &&
					   cb_usage_day(again, i).participants == days[i].participants,
					   "version 1 written again changed day %u", i);
	}
	/* the rest holds of version 2, which a version 1 value now is */
	text_round_trip(again, againlen, &arena);
	self_merge(again, againlen);

	free(again);
	free(days);
	free(buf);
	fuzz_arena_free_all(&arena);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		binary_input(data + 1, size - 1);
	else
		text_input(data + 1, size - 1);
	return 0;
}
