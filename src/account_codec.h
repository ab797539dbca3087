/*-------------------------------------------------------------------------
 *
 * account_codec.h
 *	  The serialized form of account_peak's transition state: one room
 *	  state (state_codec.h) per room of the account, by name.
 *
 * Plain C.  Version 1:
 *
 *	  offset  size  field
 *	       0     3  magic "CBA"
 *	       3     1  version (CB_ACCOUNT_VERSION)
 *	       4     4  rooms
 *	       8        per room: length of its name (4), the name, length of
 *	                its state (4), the state in the form of state_codec.h
 *
 * all integers big-endian.  A name may come twice in a forged form; the
 * reader of the aggregate merges such rooms, as the transition would have.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_ACCOUNT_CODEC_H
#define CLASSBILL_ACCOUNT_CODEC_H

#include "room_state.h"
#include "state_codec.h"

#define CB_ACCOUNT_VERSION	1
#define CB_ACCOUNT_HEADER	8

/* A validated form: where its rooms are. */
typedef struct CbAccountView
{
	uint32_t	nrooms;
	const uint8_t *rooms;		/* the first room */
	const uint8_t *end;
} CbAccountView;

/* One room of a validated form. */
typedef struct CbAccountRoom
{
	const char *name;			/* not terminated */
	uint32_t	namelen;
	CbStateView state;			/* its state, opened */
	const uint8_t *next;		/* where the next room starts */
} CbAccountRoom;

/*
 * Bytes a room takes in the form, its two lengths included; 0 when its
 * name or its state is too long for the form's 32-bit lengths.
 */
extern uint64_t cb_account_room_size(size_t namelen, const CbRoomState *st);

/*
 * Write the header, then each room (cb_account_room_size bytes, which the
 * caller checked is not 0); each returns where the next part goes.
 */
extern uint8_t *cb_account_write_header(uint8_t *buf, uint32_t nrooms);
extern uint8_t *cb_account_write_room(uint8_t *p, const char *name,
									  uint32_t namelen, const CbRoomState *st);

/*
 * Validate, every room's state included; NULL when the buffer is a state,
 * else why it is not.
 */
extern const char *cb_account_open(const uint8_t *buf, size_t len,
								   CbAccountView *v);

/*
 * The room at p of a form cb_account_open accepted into v: v->rooms for
 * the first, then each room's next, nrooms times.  It opens the room's
 * state again: a pass over its events, small beside rebuilding the room.
 */
extern void cb_account_room(const CbAccountView *v, const uint8_t *p,
							CbAccountRoom *room);

#endif							/* CLASSBILL_ACCOUNT_CODEC_H */
