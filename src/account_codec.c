/*-------------------------------------------------------------------------
 *
 * account_codec.c
 *	  Write and validate serialized account_peak states (format in the
 *	  header).
 *
 *-------------------------------------------------------------------------
 */
#include "account_codec.h"

#include <string.h>

#include "byteorder.h"

static const uint8_t magic[3] = {'C', 'B', 'A'};

uint64_t
cb_account_room_size(size_t namelen, const CbRoomState *st)
{
	size_t		s = cb_room_serial_size(st);

	if (s == 0 || s > UINT32_MAX || namelen > UINT32_MAX)
		return 0;
	return 8 + (uint64_t) namelen + s;
}

uint8_t *
cb_account_write_header(uint8_t *buf, uint32_t nrooms)
{
	memcpy(buf, magic, 3);
	buf[3] = CB_ACCOUNT_VERSION;
	cb_put32(buf + 4, nrooms);
	return buf + CB_ACCOUNT_HEADER;
}

uint8_t *
cb_account_write_room(uint8_t *p, const char *name, uint32_t namelen,
					  const CbRoomState *st)
{
	size_t		s = cb_room_serial_size(st);

	cb_put32(p, namelen);
	if (namelen > 0)
		memcpy(p + 4, name, namelen);
	p += 4 + (size_t) namelen;
	cb_put32(p, (uint32_t) s);
	cb_room_serialize(st, p + 4);
	return p + 4 + s;
}

/* The room at p, in a buffer that ends at end. */
static const char *
parse_room(const uint8_t *p, const uint8_t *end, CbAccountRoom *room)
{
	uint32_t	namelen,
				statelen;
	const char *why;

	if (end - p < 4 || (uint64_t) (end - p - 4) < (namelen = cb_get32(p)))
		return "room name runs past the end";
	room->name = (const char *) (p + 4);
	room->namelen = namelen;
	p += 4 + (size_t) namelen;
	if (end - p < 4 || (uint64_t) (end - p - 4) < (statelen = cb_get32(p)))
		return "room state runs past the end";
	why = cb_state_open(p + 4, statelen, &room->state);
	if (why != NULL)
		return why;
	room->next = p + 4 + (size_t) statelen;
	return NULL;
}

const char *
cb_account_open(const uint8_t *buf, size_t len, CbAccountView *v)
{
	const uint8_t *p;
	uint32_t	k;

	if (len < CB_ACCOUNT_HEADER || memcmp(buf, magic, 3) != 0 ||
		buf[3] != CB_ACCOUNT_VERSION)
		return "not a version 1 account_peak state";
	v->nrooms = cb_get32(buf + 4);
	v->rooms = buf + CB_ACCOUNT_HEADER;
	v->end = buf + len;

	/* a huge count in a short buffer stops at the first room missing */
	p = v->rooms;
	for (k = 0; k < v->nrooms; k++)
	{
		CbAccountRoom room;
		const char *why = parse_room(p, v->end, &room);

		if (why != NULL)
			return why;
		p = room.next;
	}
	if (p != v->end)
		return "bytes after the last room";
	return NULL;
}

void
cb_account_room(const CbAccountView *v, const uint8_t *p, CbAccountRoom *room)
{
	(void) parse_room(p, v->end, room);
}
