/*-------------------------------------------------------------------------
 *
 * digest.c
 *	  Digests of source rows, by which a close finds what changed in the
 *	  days it already closed (SPEC 7.2).
 *
 * A digest is a multiset hash: the number of rows and, in each of two
 * lanes, the sum modulo 2^64 of a 64-bit hash of every row.  Sums make it
 * independent of row order and additive: the digest of a day is the sum
 * of the digests of its rooms, and a close can keep a day's digest up to
 * date by adding what changed in the rooms it billed.  A row's hash covers
 * every column billing reads (hashed by its type's extended hash
 * function, with the column's position), so adding, removing or editing
 * any row changes the count or both lanes, unless the changed rows' hash
 * differences sum to zero in both lanes at once.  The two lanes hash with
 * different seeds; for changes not crafted to collide, that happens with
 * a probability of about 2^-128.  Edits that cancel in a sum of values
 * (one leave moved five minutes later, another five earlier) do not
 * cancel here: what is summed is their hashes, not their times.
 *
 *	  bytes  field (big-endian)
 *	      8  rows
 *	      8  lane 1
 *	      8  lane 2
 *
 *-------------------------------------------------------------------------
 */
#include "classbill.h"

#include "byteorder.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#define DIGEST_LEN	24
#define SEED_1		UINT64CONST(0x6a09e667f3bcc908)
#define SEED_2		UINT64CONST(0xbb67ae8584caa73b)

typedef struct Digest
{
	int64		rows;
	uint64		lane1;
	uint64		lane2;
} Digest;

static bytea *
digest_bytes(const Digest *d)
{
	bytea	   *b = palloc(VARHDRSZ + DIGEST_LEN);
	uint8	   *p = (uint8 *) VARDATA(b);

	SET_VARSIZE(b, VARHDRSZ + DIGEST_LEN);
	cb_put64(p, (uint64) d->rows);
	cb_put64(p + 8, d->lane1);
	cb_put64(p + 16, d->lane2);
	return b;
}

static Digest
digest_of(bytea *b)
{
	const uint8 *p = (const uint8 *) VARDATA_ANY(b);
	Digest		d;

	if (VARSIZE_ANY_EXHDR(b) != DIGEST_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("a row digest is %d bytes, not %zu", DIGEST_LEN,
						(size_t) VARSIZE_ANY_EXHDR(b))));
	d.rows = (int64) cb_get64(p);
	d.lane1 = cb_get64(p + 8);
	d.lane2 = cb_get64(p + 16);
	return d;
}

/* ----------------------------------------------------------------
 * Hashing one row
 *
 * The hash functions of the arguments' types are looked up once per
 * call site and kept in fn_extra.
 * ----------------------------------------------------------------
 */
typedef struct RowHasher
{
	int			nargs;
	int			first;			/* first argument that is a column */
	FmgrInfo   *hash;			/* per argument */
	Oid		   *collation;
} RowHasher;

static RowHasher *
row_hasher(FunctionCallInfo fcinfo, int first)
{
	RowHasher  *h = (RowHasher *) fcinfo->flinfo->fn_extra;
	int			i;

	if (h != NULL && h->nargs == PG_NARGS() && h->first == first)
		return h;
	h = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(RowHasher));
	h->nargs = PG_NARGS();
	h->first = first;
	h->hash = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo) * Max(h->nargs, 1));
	h->collation = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(Oid) * Max(h->nargs, 1));
	for (i = first; i < h->nargs; i++)
	{
		Oid			type = get_fn_expr_argtype(fcinfo->flinfo, i);
		TypeCacheEntry *tc;

		if (!OidIsValid(type))
			elog(ERROR, "cannot determine the type of argument %d of a row digest", i);
		tc = lookup_type_cache(type, TYPECACHE_HASH_EXTENDED_PROC_FINFO);
		if (!OidIsValid(tc->hash_extended_proc_finfo.fn_oid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("type %s has no hash function, so its values cannot be fingerprinted",
							format_type_be(type)),
					 errhint("Give source columns a type with a hash operator class (text, integer, bigint, uuid, ...).")));
		fmgr_info_copy(&h->hash[i], &tc->hash_extended_proc_finfo, fcinfo->flinfo->fn_mcxt);
		/* text hashes its bytes whatever the database's collation is */
		h->collation[i] = type_is_collatable(type) ? C_COLLATION_OID : InvalidOid;
	}
	fcinfo->flinfo->fn_extra = h;
	return h;
}

static inline uint64
mix64(uint64 x)
{
	/* the finalizer of MurmurHash3 */
	x ^= x >> 33;
	x *= UINT64CONST(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64CONST(0xc4ceb93fe53d1a85);
	x ^= x >> 33;
	return x;
}

/* Add the row made of arguments [first, nargs) to d. */
static void
add_row(FunctionCallInfo fcinfo, RowHasher *h, Digest *d)
{
	uint64		l1 = SEED_1,
				l2 = SEED_2;
	int			i;

	for (i = h->first; i < h->nargs; i++)
	{
		uint64		v1,
					v2;

		if (PG_ARGISNULL(i))
		{
			v1 = mix64(SEED_1 ^ (uint64) i);
			v2 = mix64(SEED_2 ^ (uint64) i);
		}
		else
		{
			v1 = DatumGetUInt64(FunctionCall2Coll(&h->hash[i], h->collation[i],
												  PG_GETARG_DATUM(i),
												  UInt64GetDatum(SEED_1 + (uint64) i)));
			v2 = DatumGetUInt64(FunctionCall2Coll(&h->hash[i], h->collation[i],
												  PG_GETARG_DATUM(i),
												  UInt64GetDatum(SEED_2 + (uint64) i)));
		}
		l1 = hash_combine64(l1, v1);
		l2 = hash_combine64(l2, v2);
	}
	d->rows++;
	d->lane1 += mix64(l1);
	d->lane2 += mix64(l2);
}

/* row_digest(VARIADIC "any"): the digest of one row */
CB_FUNCTION(classbill_row_digest);
Datum
classbill_row_digest(PG_FUNCTION_ARGS)
{
	Digest		d = {0, 0, 0};

	add_row(fcinfo, row_hasher(fcinfo, 0), &d);
	PG_RETURN_BYTEA_P(digest_bytes(&d));
}

CB_FUNCTION(classbill_digest_plus);
Datum
classbill_digest_plus(PG_FUNCTION_ARGS)
{
	Digest		a = digest_of(PG_GETARG_BYTEA_PP(0));
	Digest		b = digest_of(PG_GETARG_BYTEA_PP(1));

	a.rows += b.rows;
	a.lane1 += b.lane1;
	a.lane2 += b.lane2;
	PG_RETURN_BYTEA_P(digest_bytes(&a));
}

CB_FUNCTION(classbill_digest_minus);
Datum
classbill_digest_minus(PG_FUNCTION_ARGS)
{
	Digest		a = digest_of(PG_GETARG_BYTEA_PP(0));
	Digest		b = digest_of(PG_GETARG_BYTEA_PP(1));

	a.rows -= b.rows;
	a.lane1 -= b.lane1;
	a.lane2 -= b.lane2;
	PG_RETURN_BYTEA_P(digest_bytes(&a));
}

/* ----------------------------------------------------------------
 * day_digests(VARIADIC "any"): per billing day, the digest of the rows
 * whose last argument (a timestamptz) falls on that day.  Every argument,
 * the timestamp too, is part of the row's hash.
 * ----------------------------------------------------------------
 */
typedef struct DayDigest
{
	int32		day;
	bool		noday;			/* NULL or infinite time */
	Digest		d;
} DayDigest;

typedef struct DayDigests
{
	int			n;
	int			cap;
	int			last;			/* the slot found last: rows come by day */
	DayDigest  *days;
} DayDigests;

static DayDigests *
days_create(MemoryContext cx)
{
	DayDigests *s = MemoryContextAllocZero(cx, sizeof(DayDigests));

	s->cap = 8;
	s->days = MemoryContextAllocZero(cx, sizeof(DayDigest) * s->cap);
	return s;
}

/* The slot of a day (noday: the rows without one), kept in day order. */
static DayDigest *
days_slot(DayDigests *s, int32 day, bool noday)
{
	int			lo = 0,
				hi,
				i;

	if (s->last < s->n && s->days[s->last].day == day && s->days[s->last].noday == noday)
		return &s->days[s->last];
	hi = s->n;
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;
		DayDigest  *m = &s->days[mid];

		/* the row-less bucket sorts first */
		if ((m->noday && !noday) || (m->noday == noday && m->day < day))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->n && s->days[lo].day == day && s->days[lo].noday == noday)
		return &s->days[(s->last = lo)];
	if (s->n == s->cap)
	{
		s->cap *= 2;
		s->days = repalloc(s->days, sizeof(DayDigest) * s->cap);
	}
	for (i = s->n; i > lo; i--)
		s->days[i] = s->days[i - 1];
	memset(&s->days[lo], 0, sizeof(DayDigest));
	s->days[lo].day = day;
	s->days[lo].noday = noday;
	s->n++;
	return &s->days[(s->last = lo)];
}

CB_FUNCTION(classbill_day_digests_trans);
Datum
classbill_day_digests_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcx;
	DayDigests *s;
	RowHasher  *h;
	int			at = PG_NARGS() - 1;
	int32		day = 0;
	bool		noday = true;

	if (!AggCheckCallContext(fcinfo, &aggcx))
		elog(ERROR, "day_digests_trans called outside an aggregate");
	s = PG_ARGISNULL(0) ? days_create(aggcx) : (DayDigests *) PG_GETARG_POINTER(0);
	if (at < 1 || get_fn_expr_argtype(fcinfo->flinfo, at) != TIMESTAMPTZOID)
		elog(ERROR, "the last argument of day_digests must be a timestamptz");
	h = row_hasher(fcinfo, 1);
	if (!PG_ARGISNULL(at) && !TIMESTAMP_NOT_FINITE(PG_GETARG_TIMESTAMPTZ(at)))
	{
		CbCalendar	cal = cb_calendar(cb_billing_tz());
		int64_t		start,
					end;

		cal.day_of(cal.arg, PG_GETARG_TIMESTAMPTZ(at), &day, &start, &end);
		noday = false;
	}
	/* the state's array lives in aggcx; hashing may leave garbage per row */
	add_row(fcinfo, h, &days_slot(s, day, noday)->d);
	PG_RETURN_POINTER(s);
}

CB_FUNCTION(classbill_day_digests_combine);
Datum
classbill_day_digests_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcx;
	DayDigests *a,
			   *b;
	MemoryContext old;
	int			i;

	if (!AggCheckCallContext(fcinfo, &aggcx))
		elog(ERROR, "day_digests_combine called outside an aggregate");
	if (PG_ARGISNULL(1))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	b = (DayDigests *) PG_GETARG_POINTER(1);
	old = MemoryContextSwitchTo(aggcx);
	a = PG_ARGISNULL(0) ? days_create(aggcx) : (DayDigests *) PG_GETARG_POINTER(0);
	for (i = 0; i < b->n; i++)
	{
		DayDigest  *slot = days_slot(a, b->days[i].day, b->days[i].noday);

		slot->d.rows += b->days[i].d.rows;
		slot->d.lane1 += b->days[i].d.lane1;
		slot->d.lane2 += b->days[i].d.lane2;
	}
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(a);
}

#define DAYS_MAGIC "CBD"

CB_FUNCTION(classbill_day_digests_serial);
Datum
classbill_day_digests_serial(PG_FUNCTION_ARGS)
{
	DayDigests *s = (DayDigests *) PG_GETARG_POINTER(0);
	Size		size = 8 + (Size) s->n * (5 + DIGEST_LEN);
	bytea	   *out = palloc(VARHDRSZ + size);
	uint8	   *p = (uint8 *) VARDATA(out);
	int			i;

	SET_VARSIZE(out, VARHDRSZ + size);
	memcpy(p, DAYS_MAGIC, 3);
	p[3] = 1;
	cb_put32(p + 4, (uint32) s->n);
	p += 8;
	for (i = 0; i < s->n; i++, p += 5 + DIGEST_LEN)
	{
		cb_put32(p, (uint32) s->days[i].day);
		p[4] = s->days[i].noday ? 1 : 0;
		cb_put64(p + 5, (uint64) s->days[i].d.rows);
		cb_put64(p + 13, s->days[i].d.lane1);
		cb_put64(p + 21, s->days[i].d.lane2);
	}
	PG_RETURN_BYTEA_P(out);
}

CB_FUNCTION(classbill_day_digests_deserial);
Datum
classbill_day_digests_deserial(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	const uint8 *p = (const uint8 *) VARDATA_ANY(raw);
	Size		len = VARSIZE_ANY_EXHDR(raw);
	DayDigests *s = days_create(CurrentMemoryContext);
	uint32		n,
				i;

	if (len < 8 || memcmp(p, DAYS_MAGIC, 3) != 0 || p[3] != 1 ||
		len != 8 + (Size) (n = cb_get32(p + 4)) * (5 + DIGEST_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid day_digests aggregate state")));
	p += 8;
	for (i = 0; i < n; i++, p += 5 + DIGEST_LEN)
	{
		DayDigest  *slot = days_slot(s, (int32) cb_get32(p), p[4] != 0);

		slot->d.rows += (int64) cb_get64(p + 5);
		slot->d.lane1 += cb_get64(p + 13);
		slot->d.lane2 += cb_get64(p + 21);
	}
	PG_RETURN_POINTER(s);
}

/* (day, digest) per day with rows; day NULL for rows without a time */
CB_FUNCTION(classbill_day_digests_final);
Datum
classbill_day_digests_final(PG_FUNCTION_ARGS)
{
	DayDigests *s;
	Oid			elemtype = get_element_type(get_fn_expr_rettype(fcinfo->flinfo));
	TupleDesc	desc;
	Datum	   *elems;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			i;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (DayDigests *) PG_GETARG_POINTER(0);
	if (!OidIsValid(elemtype))
		elog(ERROR, "day_digests must return an array");
	desc = BlessTupleDesc(lookup_rowtype_tupdesc_copy(elemtype, -1));
	elems = palloc(sizeof(Datum) * Max(s->n, 1));
	for (i = 0; i < s->n; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {s->days[i].noday, false};

		values[0] = DateADTGetDatum(s->days[i].day);
		values[1] = PointerGetDatum(digest_bytes(&s->days[i].d));
		elems[i] = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	}
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, s->n, elemtype, typlen, typbyval, typalign));
}
