/*-------------------------------------------------------------------------
 *
 * participants.c
 *	  Participant dictionaries (see participants.h).
 *
 * A dictionary is the names laid end to end, the end offset and hash of
 * each, and an open-addressing table from hash to number, kept at most
 * half full.  The per-context sharing rides on fn_extra: a short list of
 * (memory context, dictionary) pairs, each removed by a reset callback on
 * its context, so a reset never leaves a dangling dictionary behind.
 *
 *-------------------------------------------------------------------------
 */
#include "participants.h"

#include "common/hashfn.h"
#include "utils/memutils.h"

typedef struct Part
{
	uint64		end;			/* name of id i is names[end(i-1), end(i)) */
	uint32		hash;
	uint32		stamp;			/* renumbering: generation last seen */
} Part;

struct CbDict
{
	MemoryContext ctx;
	uint32		n;
	uint32		cap;
	Part	   *parts;
	char	   *names;
	Size		namebytes;
	Size		namecap;
	uint32	   *slots;			/* id + 1, 0 for empty; NULL for a list */
	uint32		slotmask;
	uint32		generation;		/* of the last renumbering */
	uint32	   *local;			/* renumbering: id -> dense number */
	uint32		localcap;
};

/* ----------------------------------------------------------------
 * Sharing per memory context
 * ----------------------------------------------------------------
 */
typedef struct Shared
{
	MemoryContext ctx;
	CbDict	   *dict;
	MemoryContextCallback reset;
	struct Shared **head;		/* the list this entry is on */
	struct Shared *next;
} Shared;

static void
forget_shared(void *arg)
{
	Shared	   *s = (Shared *) arg;
	Shared	  **p;

	for (p = s->head; *p != NULL; p = &(*p)->next)
		if (*p == s)
		{
			*p = s->next;
			break;
		}
}

static CbDict *
dict_create(MemoryContext ctx, bool hashed)
{
	CbDict	   *d = MemoryContextAllocZero(ctx, sizeof(CbDict));

	d->ctx = ctx;
	if (hashed)
	{
		d->slots = MemoryContextAllocZero(ctx, 64 * sizeof(uint32));
		d->slotmask = 63;
	}
	return d;
}

CbDict *
cb_dict_for_context(FmgrInfo *flinfo, MemoryContext aggctx)
{
	Shared	  **head = (Shared **) &flinfo->fn_extra;
	Shared	   *s;

	for (s = *head; s != NULL; s = s->next)
		if (s->ctx == aggctx)
			return s->dict;

	/* the list entry lives (and dies) with the context it describes */
	s = MemoryContextAllocZero(aggctx, sizeof(Shared));
	s->ctx = aggctx;
	s->dict = dict_create(aggctx, true);
	s->head = head;
	s->next = *head;
	s->reset.func = forget_shared;
	s->reset.arg = s;
	MemoryContextRegisterResetCallback(aggctx, &s->reset);
	*head = s;
	return s->dict;
}

CbDict *
cb_dict_create_list(MemoryContext ctx, uint32 expected)
{
	CbDict	   *d = dict_create(ctx, false);

	if (expected > 0)
	{
		d->parts = MemoryContextAllocHuge(ctx, (Size) expected * sizeof(Part));
		d->cap = expected;
	}
	return d;
}

/* ----------------------------------------------------------------
 * Names
 * ----------------------------------------------------------------
 */
static Size
grown(Size need)
{
	Size		size = 64;

	if (need > 8192)
		return need + need / 2;
	while (size < need)
		size *= 2;
	return size;
}

uint32
cb_dict_size(const CbDict *d)
{
	return d->n;
}

const char *
cb_dict_name(const CbDict *d, uint32 id, uint32 *len)
{
	uint64		start = id ? d->parts[id - 1].end : 0;

	*len = (uint32) (d->parts[id].end - start);
	return d->names + start;
}

/* Add a name as the next id, without looking it up. */
static uint32
add_name(CbDict *d, const char *name, uint32 len, uint32 hash)
{
	uint32		id;

	if (d->n + 1 >= CB_MAX_PARTICIPANTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("more than %u distinct participants in one aggregation",
						CB_MAX_PARTICIPANTS - 1),
				 errhint("Aggregate fewer rooms per query.")));
	if (d->n == d->cap)
	{
		Size		bytes = grown((Size) (d->n + 1) * sizeof(Part));

		d->parts = d->parts ? repalloc_huge(d->parts, bytes)
			: MemoryContextAllocHuge(d->ctx, bytes);
		d->cap = (uint32) Min(bytes / sizeof(Part), (Size) PG_UINT32_MAX);
	}
	if (d->namebytes + len > d->namecap)
	{
		Size		bytes = grown(d->namebytes + len);

		d->names = d->names ? repalloc_huge(d->names, bytes)
			: MemoryContextAllocHuge(d->ctx, bytes);
		d->namecap = bytes;
	}
	memcpy(d->names + d->namebytes, name, len);
	d->namebytes += len;
	id = d->n++;
	d->parts[id].end = d->namebytes;
	d->parts[id].hash = hash;
	d->parts[id].stamp = 0;
	return id;
}

void
cb_dict_append(CbDict *d, const char *name, uint32 len)
{
	(void) add_name(d, name, len, 0);
}

static void
rehash(CbDict *d, uint32 nslots)
{
	uint32		id;

	pfree(d->slots);
	d->slots = MemoryContextAllocExtended(d->ctx, (Size) nslots * sizeof(uint32),
										  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	d->slotmask = nslots - 1;
	for (id = 0; id < d->n; id++)
	{
		uint32		i = d->parts[id].hash & d->slotmask;

		while (d->slots[i] != 0)
			i = (i + 1) & d->slotmask;
		d->slots[i] = id + 1;
	}
}

/* Names are short: a plain loop beats a call to memcmp. */
static inline bool
same_bytes(const char *a, const char *b, uint32 len)
{
	uint32		i;

	for (i = 0; i < len; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

uint32
cb_dict_intern(CbDict *d, const char *name, uint32 len)
{
	uint32		h = hash_bytes((const unsigned char *) name, (int) len);
	uint32		i,
				id;

	Assert(d->slots != NULL);
	for (i = h & d->slotmask; d->slots[i] != 0; i = (i + 1) & d->slotmask)
	{
		uint32		l;
		const char *s;

		id = d->slots[i] - 1;
		if (d->parts[id].hash != h)
			continue;
		s = cb_dict_name(d, id, &l);
		if (l == len && same_bytes(s, name, len))
			return id;
	}

	id = add_name(d, name, len, h);
	d->slots[i] = id + 1;
	if (d->n * 2 > d->slotmask + 1)
		rehash(d, (d->slotmask + 1) * 2);
	return id;
}

/* ----------------------------------------------------------------
 * Renumbering
 *
 * A room's events carry dictionary ids, which in a shared dictionary run
 * into the millions; the sweep wants 0..k-1.  Each renumbering is a new
 * generation: an id whose stamp is older than the generation is met for
 * the first time.  O(1) per event, no hashing.
 * ----------------------------------------------------------------
 */
uint32
cb_dict_renumber(CbDict *d, const CbEvent *in, size_t n, CbEvent *out, uint32 *ids)
{
	uint32		k = 0;
	size_t		i;

	if (d->localcap < d->n)
	{
		Size		bytes = grown((Size) d->n * sizeof(uint32));

		d->local = d->local ? repalloc_huge(d->local, bytes)
			: MemoryContextAllocHuge(d->ctx, bytes);
		d->localcap = (uint32) (bytes / sizeof(uint32));
	}
	if (++d->generation == 0)
	{
		/* after 2^32 renumberings, start the stamps over */
		uint32		id;

		for (id = 0; id < d->n; id++)
			d->parts[id].stamp = 0;
		d->generation = 1;
	}

	for (i = 0; i < n; i++)
	{
		int			kind = cb_event_kind(&in[i]);
		uint32		id = cb_event_pid(&in[i]);
		uint32		lid = 0;

		if (cb_kind_has_participant(kind))
		{
			if (d->parts[id].stamp != d->generation)
			{
				d->parts[id].stamp = d->generation;
				d->local[id] = k;
				if (ids)
					ids[k] = id;
				k++;
			}
			lid = d->local[id];
		}
		out[i] = in[i];
		out[i].key = ((uint32) kind << CB_KIND_SHIFT) | lid;
	}
	return k;
}
