/*-------------------------------------------------------------------------
 *
 * room_state.c
 *	  One room's buffered events and participants (layout in the header).
 *
 * The design follows the data: event logs are written in time order, so
 * at any moment only the rooms in session are being appended to, and
 * each room's buffer, with its own small dictionary, stays in cache.
 * Most rooms have a few dozen participants; a scan over their hashes
 * finds one faster than any shared structure.  Rooms with more get a hash
 * index.  Narrow 8-byte events plus names stored once make a room cost
 * about 8 bytes per row and 8 to 16 per participant, in one allocation.
 *
 *-------------------------------------------------------------------------
 */
#include "room_state.h"

#include <string.h>

#include "byteorder.h"
#include "state_codec.h"

#define HEADER			((uint64_t) sizeof(CbRoomState))
#define INDEX_FROM		32		/* participants before an index pays */

/*
 * The participant region, at the end of the buffer:
 *
 *	  [ names, last added lowest | records, participant 0 at the end ]
 *
 * Record k is 8 bytes: the hash of k's name and where k's name ends,
 * counted down from the top of the names (the bottom of the records).
 * Records are reserved in powers of two so that the names move rarely.
 * Scanning records is a walk over one array, which is what makes a
 * lookup in a room of a few dozen participants cheap.
 */
typedef struct Record
{
	uint32_t	hash;
	uint32_t	name_end;		/* name k is [top - end(k), top - end(k-1)) */
} Record;

_Static_assert(sizeof(Record) == CB_ROOM_RECORD_BYTES, "record size");

struct CbRoomIndex
{
	uint32_t	slotmask;
	uint32_t	cap;			/* participants it can hold */
	uint32_t	slots[];		/* pid + 1, 0 for empty */
};

static inline int
is_wide(const CbRoomState *st)
{
	return st->base == CB_WIDE;
}

static inline uint8_t *
data_of(const CbRoomState *st)
{
	return (uint8_t *) st + HEADER;
}

static inline uint64_t
event_bytes(const CbRoomState *st, uint64_t n)
{
	return n * (is_wide(st) ? sizeof(CbEvent) : sizeof(uint64_t));
}

static inline uint64_t
back_bytes(const CbRoomState *st)
{
	return (uint64_t) st->reccap * sizeof(Record) + st->namebytes;
}

static inline uint64_t
free_bytes(const CbRoomState *st)
{
	return st->size - HEADER - event_bytes(st, st->nevents) - back_bytes(st);
}

/* Record k; records run downwards from the end of the buffer. */
static inline Record *
record(const CbRoomState *st, uint32_t k)
{
	return (Record *) ((uint8_t *) st + st->size) - (k + 1);
}

/* The top of the names: the bottom of the reserved records. */
static inline uint8_t *
names_top(const CbRoomState *st)
{
	return (uint8_t *) st + st->size - (uint64_t) st->reccap * sizeof(Record);
}

/*
 * Names of 8 to 16 bytes (most ids) are read as two words that may
 * overlap, without a loop or a variable-length copy; the hash stays
 * inside the process (serialized states carry names), so only its spread
 * matters.
 */
static inline uint32_t
name_hash(const char *s, size_t len)
{
	uint64_t	h = UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t) len;
	uint64_t	w;

	if (len >= 8 && len <= 16)
	{
		uint64_t	w1;

		memcpy(&w, s, 8);
		memcpy(&w1, s + len - 8, 8);
		h = (h ^ w) * UINT64_C(0xFF51AFD7ED558CCD);
		h ^= h >> 32;
		w = w1;
	}
	else
	{
		while (len >= 8)
		{
			memcpy(&w, s, 8);
			h = (h ^ w) * UINT64_C(0xFF51AFD7ED558CCD);
			h ^= h >> 32;
			s += 8;
			len -= 8;
		}
		w = 0;
		memcpy(&w, s, len);
	}
	h = (h ^ w) * UINT64_C(0xC4CEB9FE1A85EC53);
	h ^= h >> 29;
	return (uint32_t) h;
}

/* ----------------------------------------------------------------
 * Space
 * ----------------------------------------------------------------
 */

/*
 * Small buffers are powers of two, the size the allocator hands out
 * anyway, so all of it is capacity; above 8 kB chunks are exact and the
 * buffer grows by half, rounded up to 8 bytes: the participant records
 * are counted back from the end of the buffer, and names of any length
 * make `need` odd, which left every record misaligned.
 */
static uint64_t
buffer_size_for(uint64_t need)
{
	uint64_t	size = 64;

	if (need > 8192)
		return (need + need / 2 + 7) & ~(uint64_t) 7;
	while (size < need)
		size *= 2;
	return size;
}

/* Make at least `need` free bytes; moves the participant region along. */
static CbRoomStatus
make_room(CbRoomState **stp, const CbMem *mem, uint64_t need)
{
	CbRoomState *st = *stp;
	uint64_t	used = st->size - free_bytes(st);
	uint64_t	oldsize = st->size;
	uint64_t	size;

	if (free_bytes(st) >= need)
		return CB_ROOM_OK;
	if (need > (UINT64_MAX >> 2) - used)
		return CB_ROOM_TOO_LARGE;
	size = buffer_size_for(used + need);
	st = mem->realloc(mem->arg, st, (size_t) size);
	memmove((uint8_t *) st + size - back_bytes(st),
			(uint8_t *) st + oldsize - back_bytes(st), (size_t) back_bytes(st));
	st->size = size;
	*stp = st;
	return CB_ROOM_OK;
}

/* An empty state of at least `bytes`, header included. */
static CbRoomState *
create_sized(const CbMem *mem, uint64_t bytes)
{
	uint64_t	size = buffer_size_for(bytes);
	CbRoomState *st = mem->alloc(mem->arg, (size_t) size);

	st->size = size;
	st->namebytes = 0;
	st->base = 0;
	st->nevents = 0;
	st->nparticipants = 0;
	st->reccap = 0;
	st->index = NULL;
	st->seen = 0;
	return st;
}

CbRoomState *
cb_room_create(const CbMem *mem, uint32_t events)
{
	return create_sized(mem, HEADER + (uint64_t) events * sizeof(uint64_t));
}

CbRoomStatus
cb_room_reserve(CbRoomState **st, const CbMem *mem, uint64_t more)
{
	if ((uint64_t) (*st)->nevents + more >= UINT32_MAX)
		return CB_ROOM_TOO_LARGE;
	return make_room(st, mem, event_bytes(*st, more));
}

void
cb_room_free(CbRoomState *st, const CbMem *mem)
{
	if (st->index)
		mem->free(mem->arg, st->index);
	mem->free(mem->arg, st);
}

/* ----------------------------------------------------------------
 * Participants
 * ----------------------------------------------------------------
 */
const char *
cb_room_name(const CbRoomState *st, uint32_t pid, size_t *len)
{
	uint32_t	end = record(st, pid)->name_end;
	uint32_t	start = pid ? record(st, pid - 1)->name_end : 0;

	*len = end - start;
	return (const char *) names_top(st) - end;
}

static inline int
name_is(const CbRoomState *st, uint32_t k, const char *name, size_t len)
{
	size_t		l;
	const char *s = cb_room_name(st, k, &l);
	size_t		i;

	if (l != len)
		return 0;
	/*
	 * Names are short: a word or two beats a call.  From 8 to 16 bytes, the
	 * first and the last 8 (which may overlap) cover the name; neither read
	 * leaves either name.
	 */
	if (len >= 8 && len <= 16)
	{
		uint64_t	a0,
					a1,
					b0,
					b1;

		memcpy(&a0, s, 8);
		memcpy(&b0, name, 8);
		memcpy(&a1, s + len - 8, 8);
		memcpy(&b1, name + len - 8, 8);
		return ((a0 ^ b0) | (a1 ^ b1)) == 0;
	}
	if (len > 16)
		return memcmp(s, name, len) == 0;
	for (i = 0; i < len; i++)
		if (s[i] != name[i])
			return 0;
	return 1;
}

static void
index_put(CbRoomIndex *ix, uint32_t pid, uint32_t hash)
{
	uint32_t	i = hash & ix->slotmask;

	while (ix->slots[i] != 0)
		i = (i + 1) & ix->slotmask;
	ix->slots[i] = pid + 1;
}

/* (Re)build the index with room for at least `want` participants. */
static void
index_build(CbRoomState *st, const CbMem *mem, uint32_t want)
{
	uint32_t	nslots = 128;
	CbRoomIndex *ix;
	uint32_t	k;

	while (nslots / 2 < want)
		nslots *= 2;
	ix = mem->alloc(mem->arg, sizeof(CbRoomIndex) + (size_t) nslots * sizeof(uint32_t));
	ix->slotmask = nslots - 1;
	ix->cap = nslots / 2;
	memset(ix->slots, 0, (size_t) nslots * sizeof(uint32_t));
	for (k = 0; k < st->nparticipants; k++)
		index_put(ix, k, record(st, k)->hash);
	if (st->index)
		mem->free(mem->arg, st->index);
	st->index = ix;
}

CbRoomStatus
cb_room_participant(CbRoomState **stp, const CbMem *mem, const char *name,
					size_t len, uint32_t *pid)
{
	CbRoomState *st = *stp;
	uint32_t	hash = name_hash(name, len);
	uint32_t	k;
	uint32_t	prev_end;
	uint64_t	grow = 0;
	CbRoomStatus status;

	if (st->index)
	{
		CbRoomIndex *ix = st->index;
		uint32_t	i;

		for (i = hash & ix->slotmask; ix->slots[i] != 0; i = (i + 1) & ix->slotmask)
		{
			k = ix->slots[i] - 1;
			if (record(st, k)->hash == hash && name_is(st, k, name, len))
			{
				*pid = k;
				return CB_ROOM_OK;
			}
		}
	}
	else if (st->seen & (UINT64_C(1) << (hash & 63)))
	{
		const Record *r = record(st, 0);

		/*
		 * Records run downwards: participant k is r[-k].  (A name whose bit
		 * is not in `seen` is new, which spares the scan on most joins.)
		 */
		for (k = 0; k < st->nparticipants; k++)
			if (r[-(int64_t) k].hash == hash && name_is(st, k, name, len))
			{
				*pid = k;
				return CB_ROOM_OK;
			}
	}

	/* a new participant */
	if (st->nparticipants + 1 >= CB_MAX_PARTICIPANTS)
		return CB_ROOM_TOO_MANY_PARTICIPANTS;
	if (len > UINT32_MAX - st->namebytes)
		return CB_ROOM_NAME_TOO_LONG;
	if (st->nparticipants == st->reccap)
		grow = (uint64_t) (st->reccap ? st->reccap : 4) * sizeof(Record);
	status = make_room(&st, mem, grow + len);
	*stp = st;
	if (status != CB_ROOM_OK)
		return status;
	if (grow > 0)
	{
		/* reserve more records below the ones in use; the names move down */
		uint8_t    *bottom = names_top(st) - st->namebytes;

		memmove(bottom - grow, bottom, (size_t) st->namebytes);
		st->reccap += (uint32_t) (grow / sizeof(Record));
	}

	k = st->nparticipants++;
	prev_end = k ? record(st, k - 1)->name_end : 0;
	memcpy(names_top(st) - prev_end - len, name, len);
	record(st, k)->hash = hash;
	record(st, k)->name_end = prev_end + (uint32_t) len;
	st->namebytes += len;
	st->seen |= UINT64_C(1) << (hash & 63);

	if (st->index)
	{
		if (st->nparticipants > st->index->cap)
			index_build(st, mem, st->nparticipants);
		else
			index_put(st->index, k, hash);
	}
	else if (st->nparticipants > INDEX_FROM)
		index_build(st, mem, st->nparticipants);
	*pid = k;
	return CB_ROOM_OK;
}

/* ----------------------------------------------------------------
 * Events
 * ----------------------------------------------------------------
 */
static inline void
narrow_to_event(const CbRoomState *st, uint64_t key, CbEvent *e)
{
	cb_event_set(e, st->base + (int64_t) (key >> CB_NARROW_AT_SHIFT),
				 (int) ((key >> CB_NARROW_KIND_SHIFT) & CB_NARROW_KIND_MASK),
				 (uint32_t) (key & CB_NARROW_PID_MASK));
}

/* Rewrite every event in 12 bytes, for good. */
static CbRoomStatus
widen(CbRoomState **stp, const CbMem *mem)
{
	CbRoomState *st;
	CbRoomStatus status;
	uint32_t	i;

	status = make_room(stp, mem, (uint64_t) (*stp)->nevents *
					   (sizeof(CbEvent) - sizeof(uint64_t)));
	if (status != CB_ROOM_OK)
		return status;
	st = *stp;
	/* from the last: event i's new place never covers an unread one */
	for (i = st->nevents; i-- > 0;)
	{
		uint64_t	key;
		CbEvent		e;

		memcpy(&key, data_of(st) + (size_t) i * sizeof(uint64_t), sizeof(key));
		narrow_to_event(st, key, &e);
		memcpy(data_of(st) + (size_t) i * sizeof(CbEvent), &e, sizeof(e));
	}
	st->base = CB_WIDE;
	return CB_ROOM_OK;
}

CbRoomStatus
cb_room_add_event_slow(CbRoomState **stp, const CbMem *mem, int64_t at,
					   int kind, uint32_t pid)
{
	CbRoomState *st = *stp;
	CbRoomStatus status;

	if (st->nevents == 0 && !is_wide(st))
		st->base = at - CB_NARROW_SPAN / 2;
	if (!is_wide(st) &&
		(at < st->base || at - st->base >= CB_NARROW_SPAN || pid >= CB_NARROW_MAX_PIDS))
	{
		status = widen(stp, mem);
		if (status != CB_ROOM_OK)
			return status;
		st = *stp;
	}
	if (st->nevents == UINT32_MAX - 1)
		return CB_ROOM_TOO_LARGE;
	status = make_room(stp, mem, event_bytes(st, 1));
	if (status != CB_ROOM_OK)
		return status;
	st = *stp;
	if (is_wide(st))
	{
		CbEvent		e;

		cb_event_set(&e, at, kind, pid);
		memcpy(data_of(st) + (size_t) st->nevents * sizeof(CbEvent), &e, sizeof(e));
	}
	else
	{
		uint64_t	key = narrow_key(st, at, kind, pid);

		memcpy(data_of(st) + (size_t) st->nevents * sizeof(uint64_t), &key, sizeof(key));
	}
	st->nevents++;
	return CB_ROOM_OK;
}

void
cb_room_event(const CbRoomState *st, uint32_t i, CbEvent *e)
{
	if (is_wide(st))
		memcpy(e, data_of(st) + (size_t) i * sizeof(CbEvent), sizeof(*e));
	else
	{
		uint64_t	key;

		memcpy(&key, data_of(st) + (size_t) i * sizeof(uint64_t), sizeof(key));
		narrow_to_event(st, key, e);
	}
}

/* ----------------------------------------------------------------
 * Order
 *
 * Narrow keys sort as integers; the participant's low bits do not take
 * part, as rows of one instant and kind need no order (sweep.c).
 * ----------------------------------------------------------------
 */
#define NARROW_ORDER(k)	((k) >> CB_NARROW_KIND_SHIFT)

#define SORT_NAME sort_keys
#define SORT_TYPE uint64_t
#define SORT_LESS(x, y) (NARROW_ORDER(x) < NARROW_ORDER(y))
#include "sort_template.h"

/*
 * Large rooms: a least-significant-digit radix sort of the 48 bits of
 * NARROW_ORDER, in four digits of 12 bits.  One pass counts every digit,
 * then each digit whose keys do not all share one value is a stable
 * scatter between a and tmp: five passes over the keys whatever their
 * order, where the merge sort takes one per doubling of its runs (18 for
 * 5 million keys, each branching on every key).  Below RADIX_FROM the
 * merge sort wins: the counts alone are 16,384 entries.
 */
#define RADIX_FROM		16384
#define RADIX_BITS		12
#define RADIX_DIGITS	4
#define RADIX_SIZE		(1 << RADIX_BITS)

static inline uint32_t
radix_digit(uint64_t key, int d)
{
	return (uint32_t) (NARROW_ORDER(key) >> (d * RADIX_BITS)) & (RADIX_SIZE - 1);
}

static void
radix_sort_keys(uint64_t *a, size_t n, uint64_t *tmp)
{
	uint32_t	count[RADIX_DIGITS][RADIX_SIZE];	/* 64 kB */
	uint64_t   *src = a,
			   *dst = tmp;
	size_t		i;
	int			d;

	memset(count, 0, sizeof(count));
	for (i = 0; i < n; i++)
	{
		if ((i & (CB_INTERRUPT_BLOCK - 1)) == 0)
			CB_INTERRUPT_POINT();
		for (d = 0; d < RADIX_DIGITS; d++)
			count[d][radix_digit(a[i], d)]++;
	}
	for (d = 0; d < RADIX_DIGITS; d++)
	{
		uint32_t	sum = 0;
		uint64_t   *swap;
		int			b;

		/* a digit all keys share orders nothing */
		if (count[d][radix_digit(a[0], d)] == n)
			continue;
		for (b = 0; b < RADIX_SIZE; b++)
		{
			uint32_t	c = count[d][b];

			count[d][b] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
		{
			if ((i & (CB_INTERRUPT_BLOCK - 1)) == 0)
				CB_INTERRUPT_POINT();
			dst[count[d][radix_digit(src[i], d)]++] = src[i];
		}
		swap = src;
		src = dst;
		dst = swap;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(uint64_t));
}

_Static_assert(RADIX_BITS * RADIX_DIGITS >= 64 - CB_NARROW_KIND_SHIFT,
			   "the radix digits cover the narrow order");

int
cb_room_sorted(const CbRoomState *st)
{
	uint32_t	i;

	if (is_wide(st))
		return cb_events_sorted((const CbEvent *) data_of(st), st->nevents);
	for (i = 1; i < st->nevents; i++)
	{
		uint64_t	a,
					b;

		memcpy(&a, data_of(st) + (size_t) (i - 1) * 8, 8);
		memcpy(&b, data_of(st) + (size_t) i * 8, 8);
		if (NARROW_ORDER(b) < NARROW_ORDER(a))
			return 0;
	}
	return 1;
}

/* tmp holds nevents CbEvents */
static void
sort_in_place(CbRoomState *st, CbEvent *tmp)
{
	if (is_wide(st))
		cb_sort_events((CbEvent *) data_of(st), st->nevents, tmp);
	else if (st->nevents >= RADIX_FROM)
		radix_sort_keys((uint64_t *) data_of(st), st->nevents, (uint64_t *) tmp);
	else
		sort_keys((uint64_t *) data_of(st), st->nevents, (uint64_t *) tmp);
}

void
cb_room_sort(CbRoomState *st, const CbMem *mem)
{
	CbEvent    *tmp;

	if (st->nevents < 2 || cb_room_sorted(st))
		return;
	tmp = mem->alloc(mem->arg, (size_t) st->nevents * sizeof(CbEvent));
	sort_in_place(st, tmp);
	mem->free(mem->arg, tmp);
}

void
cb_room_events_in_order(CbRoomState *st, CbEvent *out, CbEvent *tmp)
{
	uint32_t	i;

	if (tmp != NULL)
		sort_in_place(st, tmp);
	/* first writes to a fresh array: page faults, worth a check per block */
	for (i = 0; i < st->nevents;)
	{
		uint32_t	stop = st->nevents - i > CB_INTERRUPT_BLOCK ?
			i + (uint32_t) CB_INTERRUPT_BLOCK : st->nevents;

		for (; i < stop; i++)
			cb_room_event(st, i, &out[i]);
		if (i < st->nevents)
			CB_INTERRUPT_POINT();
	}
}

/* ----------------------------------------------------------------
 * Merging and the serialized form
 * ----------------------------------------------------------------
 */
/*
 * A copy of src in fresh memory, as merging src into an empty state would
 * build it (the same participants in the same order, the same events),
 * for the price of two memcpy: the first partial state of each group
 * that a parallel leader combines is one.
 */
CbRoomState *
cb_room_copy(const CbRoomState *src, const CbMem *mem)
{
	uint64_t	front = HEADER + event_bytes(src, src->nevents);
	uint64_t	back = back_bytes(src);
	uint64_t	size = buffer_size_for(front + back);
	CbRoomState *st = mem->alloc(mem->arg, (size_t) size);

	memcpy(st, src, (size_t) front);
	memcpy((uint8_t *) st + size - back, (const uint8_t *) src + src->size - back,
		   (size_t) back);
	st->size = size;
	st->index = NULL;
	if (src->index)
		index_build(st, mem, st->nparticipants);
	return st;
}

/* Append event e of another state, its participant renumbered by map. */
static inline CbRoomStatus
add_mapped(CbRoomState **dst, const CbMem *mem, const CbEvent *e, const uint32_t *map)
{
	int			kind = cb_event_kind(e);

	return cb_room_add_event(dst, mem, cb_event_at(e), kind,
							 cb_kind_has_participant(kind) ? map[cb_event_pid(e)] : 0);
}

CbRoomStatus
cb_room_merge(CbRoomState **dst, const CbMem *mem, const CbRoomState *src)
{
	uint32_t   *map = NULL;
	CbRoomStatus status = CB_ROOM_OK;
	uint32_t	k,
				i;

	if (src->nparticipants > 0)
		map = mem->alloc(mem->arg, (size_t) src->nparticipants * sizeof(uint32_t));
	for (k = 0; k < src->nparticipants && status == CB_ROOM_OK; k++)
	{
		size_t		len;
		const char *name = cb_room_name(src, k, &len);

		status = cb_room_participant(dst, mem, name, len, &map[k]);
	}
	if (status == CB_ROOM_OK)
		status = cb_room_reserve(dst, mem, src->nevents);
	for (i = 0; i < src->nevents && status == CB_ROOM_OK; i++)
	{
		CbEvent		e;

		cb_room_event(src, i, &e);
		status = add_mapped(dst, mem, &e, map);
	}
	if (map)
		mem->free(mem->arg, map);
	return status;
}

size_t
cb_room_serial_size(const CbRoomState *st)
{
	/* namebytes is the sum of the names' lengths (cb_room_participant) */
	return cb_state_size(st->nparticipants, st->namebytes, st->nevents);
}

void
cb_room_serialize(const CbRoomState *st, uint8_t *out)
{
	uint8_t    *p;
	uint32_t	k,
				i;

	p = cb_state_write_header(out, st->nparticipants, st->namebytes, st->nevents);
	for (k = 0; k < st->nparticipants; k++)
	{
		size_t		len;

		(void) cb_room_name(st, k, &len);
		cb_put32(p, (uint32_t) len);
		p += 4;
	}
	for (k = 0; k < st->nparticipants; k++)
	{
		size_t		len;
		const char *name = cb_room_name(st, k, &len);

		memcpy(p, name, len);
		p += len;
	}
	for (i = 0; i < st->nevents; i++)
	{
		CbEvent		e;

		cb_room_event(st, i, &e);
		p = cb_state_write_event(p, &e);
	}
}

/*
 * Built by the same steps as the transition, so a forged form that names
 * one participant twice still gives one participant.
 */
CbRoomStatus
cb_room_deserialize(const CbStateView *v, const CbMem *mem, CbRoomState **out)
{
	uint32_t	reccap = 0;
	CbRoomState *st;

	/*
	 * Sized for all of it at once: the records the participants would
	 * have reserved one doubling at a time (4, 8, 16, ...), the names and
	 * the events as narrow keys; nothing moves while it is filled (unless
	 * the events need 12 bytes).  Records reserved but unused are allowed:
	 * a forged form may name a participant twice.
	 */
	while (reccap < v->nparticipants)
		reccap = reccap ? reccap * 2 : 4;
	st = create_sized(mem, HEADER + (uint64_t) reccap * sizeof(Record) +
					  v->namebytes + (uint64_t) v->nevents * sizeof(uint64_t));
	st->reccap = reccap;
	*out = st;
	return cb_room_merge_serialized(out, mem, v);
}

/*
 * The events of v, in dst's participant numbers (map), merged with dst's
 * own when both runs are in processing order and all of v's fit dst's
 * narrow keys: then the result is in order too.  Returns 0, having
 * changed nothing, when they do not; the caller appends instead.  dst
 * has room for v's events (cb_room_reserve).
 */
static int
merge_sorted_runs(CbRoomState *st, const CbMem *mem, const CbStateView *v,
				  const uint32_t *map)
{
	uint64_t   *a = (uint64_t *) data_of(st);
	uint64_t   *b;
	uint64_t	prev = 0;
	int64_t		i,
				j,
				w;

	if (is_wide(st) || st->nevents == 0 || v->nevents == 0 || !cb_room_sorted(st))
		return 0;
	b = mem->alloc(mem->arg, (size_t) v->nevents * sizeof(uint64_t));
	for (j = 0; j < v->nevents; j++)
	{
		CbEvent		e;
		int64_t		at;
		int			kind;
		uint32_t	pid;

		cb_state_event(v, (uint32_t) j, &e);
		at = cb_event_at(&e);
		kind = cb_event_kind(&e);
		pid = cb_kind_has_participant(kind) ? map[cb_event_pid(&e)] : 0;
		if (at < st->base || at - st->base >= CB_NARROW_SPAN || pid >= CB_NARROW_MAX_PIDS)
			break;
		b[j] = narrow_key(st, at, kind, pid);
		if (NARROW_ORDER(b[j]) < prev)
			break;
		prev = NARROW_ORDER(b[j]);
	}
	if (j < v->nevents)
	{
		mem->free(mem->arg, b);
		return 0;
	}

	/*
	 * From the end: the slot written, i + j + 1, lies past every unread
	 * event of a while any of b is left, and once b is done a's are in
	 * place.
	 */
	i = (int64_t) st->nevents - 1;
	j = (int64_t) v->nevents - 1;
	w = i + j + 1;
	while (j >= 0)
	{
		if (i >= 0 && NARROW_ORDER(a[i]) > NARROW_ORDER(b[j]))
			a[w--] = a[i--];
		else
			a[w--] = b[j--];
	}
	st->nevents += v->nevents;
	mem->free(mem->arg, b);
	return 1;
}

CbRoomStatus
cb_room_merge_serialized(CbRoomState **dst, const CbMem *mem, const CbStateView *v)
{
	uint32_t   *map = NULL;
	const uint8_t *name = v->names;
	CbRoomStatus status = CB_ROOM_OK;
	uint32_t	i;

	if (v->nparticipants > 0)
		map = mem->alloc(mem->arg, (size_t) v->nparticipants * sizeof(uint32_t));
	/* the events' room first: participants new to dst rarely need more */
	status = cb_room_reserve(dst, mem, v->nevents);
	for (i = 0; i < v->nparticipants && status == CB_ROOM_OK; i++)
	{
		uint32_t	len = cb_get32(v->lengths + 4 * (size_t) i);

		status = cb_room_participant(dst, mem, (const char *) name, len, &map[i]);
		name += len;
	}
	if (status == CB_ROOM_OK)
		status = cb_room_reserve(dst, mem, v->nevents);
	if (status == CB_ROOM_OK && !merge_sorted_runs(*dst, mem, v, map))
	{
		for (i = 0; i < v->nevents && status == CB_ROOM_OK; i++)
		{
			CbEvent		e;

			cb_state_event(v, i, &e);
			status = add_mapped(dst, mem, &e, map);
		}
	}
	if (map)
		mem->free(mem->arg, map);
	return status;
}
