/*-------------------------------------------------------------------------
 *
 * state_codec.c
 *	  Write and validate serialized room_usage states (format in the
 *	  header).
 *
 *-------------------------------------------------------------------------
 */
#include "state_codec.h"

#include "byteorder.h"

#include <string.h>

static const uint8_t magic[3] = {'C', 'B', 'S'};

size_t
cb_state_size(uint32_t nparticipants, uint64_t namebytes, uint32_t nevents)
{
	uint64_t	size = CB_STATE_HEADER + 4 * (uint64_t) nparticipants +
		namebytes + CB_STATE_EVENTSIZE * (uint64_t) nevents;

	if (size > SIZE_MAX || namebytes > UINT32_MAX)
		return 0;
	return (size_t) size;
}

uint8_t *
cb_state_write_header(uint8_t *buf, uint32_t nparticipants,
					  uint32_t namebytes, uint32_t nevents)
{
	memcpy(buf, magic, 3);
	buf[3] = CB_STATE_VERSION;
	cb_put32(buf + 4, nparticipants);
	cb_put32(buf + 8, namebytes);
	cb_put32(buf + 12, nevents);
	return buf + CB_STATE_HEADER;
}

uint8_t *
cb_state_write_event(uint8_t *p, const CbEvent *e)
{
	cb_put64(p, (uint64_t) cb_event_at(e));
	cb_put32(p + 8, e->key);
	return p + CB_STATE_EVENTSIZE;
}

void
cb_state_event(const CbStateView *v, uint32_t i, CbEvent *e)
{
	const uint8_t *p = v->events + (size_t) i * CB_STATE_EVENTSIZE;
	uint32_t	key = cb_get32(p + 8);

	cb_event_set(e, (int64_t) cb_get64(p), CB_KEY_KIND(key), CB_KEY_PID(key));
}

const char *
cb_state_open(const uint8_t *buf, size_t len, CbStateView *v)
{
	uint64_t	sum = 0;
	uint32_t	i;
	size_t		size;

	if (len < CB_STATE_HEADER)
		return "shorter than its header";
	if (memcmp(buf, magic, 3) != 0)
		return "not a classbill aggregate state";
	if (buf[3] != CB_STATE_VERSION)
		return "unknown state format version";
	v->nparticipants = cb_get32(buf + 4);
	v->namebytes = cb_get32(buf + 8);
	v->nevents = cb_get32(buf + 12);
	if (v->nparticipants >= CB_MAX_PARTICIPANTS)
		return "too many participants";
	size = cb_state_size(v->nparticipants, v->namebytes, v->nevents);
	if (size == 0 || size != len)
		return "length does not match its counts";
	v->lengths = buf + CB_STATE_HEADER;
	v->names = v->lengths + 4 * (size_t) v->nparticipants;
	v->events = v->names + v->namebytes;

	for (i = 0; i < v->nparticipants; i++)
		sum += cb_get32(v->lengths + 4 * (size_t) i);
	if (sum != v->namebytes)
		return "participant name lengths do not add up";

	for (i = 0; i < v->nevents; i++)
	{
		CbEvent		e;
		int64_t		at;
		int			kind;

		cb_state_event(v, i, &e);
		at = cb_event_at(&e);
		kind = cb_event_kind(&e);
		if (at < CB_MIN_AT || at >= CB_MAX_AT)
			return "event time out of range";
		if (kind >= CB_NUM_KINDS)
			return "unknown event kind";
		if (cb_kind_has_participant(kind) ?
			cb_event_pid(&e) >= v->nparticipants : cb_event_pid(&e) != 0)
			return "event refers to no participant";
	}
	return NULL;
}
