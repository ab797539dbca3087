/*-------------------------------------------------------------------------
 *
 * state_codec.h
 *	  The serialized form of room_usage's transition state, which parallel
 *	  workers and partial aggregation ship between processes.
 *
 * Plain C.  Version 1:
 *
 *	  offset  size  field
 *	       0     3  magic "CBS"
 *	       3     1  version (CB_STATE_VERSION)
 *	       4     4  participants
 *	       8     4  bytes of participant names
 *	      12     4  events
 *	      16   4*p  length of each participant name, in participant order
 *	       .     n  the names, concatenated
 *	       .  12*e  events: instant (int64), key (uint32)
 *
 * all integers big-endian.  The reader accepts only a buffer whose length
 * is exactly what the counts imply and whose every event is one the
 * transition function could have stored.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_STATE_CODEC_H
#define CLASSBILL_STATE_CODEC_H

#include "event.h"

#define CB_STATE_VERSION	1
#define CB_STATE_HEADER		16
#define CB_STATE_EVENTSIZE	12

typedef struct CbStateView
{
	uint32_t	nparticipants;
	uint32_t	namebytes;
	uint32_t	nevents;
	const uint8_t *lengths;		/* nparticipants big-endian uint32 */
	const uint8_t *names;
	const uint8_t *events;
} CbStateView;

/* Size of a serialized state, or 0 if it would not fit in size_t. */
extern size_t cb_state_size(uint32_t nparticipants, uint64_t namebytes,
							uint32_t nevents);

/* Header and lengths; then names and events are written by the caller. */
extern uint8_t *cb_state_write_header(uint8_t *buf, uint32_t nparticipants,
									  uint32_t namebytes, uint32_t nevents);
extern uint8_t *cb_state_write_event(uint8_t *p, const CbEvent *e);

/* Validate; NULL when the buffer is a state, else why it is not. */
extern const char *cb_state_open(const uint8_t *buf, size_t len, CbStateView *v);
extern void cb_state_event(const CbStateView *v, uint32_t i, CbEvent *e);

#endif							/* CLASSBILL_STATE_CODEC_H */
