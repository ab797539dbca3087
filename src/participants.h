/*-------------------------------------------------------------------------
 *
 * participants.h
 *	  Participant dictionaries: participant names to small numbers.
 *
 * room_usage buffers participant numbers, not names.  All groups that an
 * aggregate keeps in one memory context share one dictionary, so a
 * student who attends many classes is stored once, and a room's state is
 * nothing but its events.  The dictionary lives in that memory context
 * (counted against work_mem like the states) and is forgotten when the
 * context is reset.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_PARTICIPANTS_H
#define CLASSBILL_PARTICIPANTS_H

#include "postgres.h"

#include "fmgr.h"

#include "event.h"

typedef struct CbDict CbDict;

/* The dictionary shared by the groups in aggctx, created on first use. */
extern CbDict *cb_dict_for_context(FmgrInfo *flinfo, MemoryContext aggctx);

/* A private dictionary that only lists names (for deserialized states). */
extern CbDict *cb_dict_create_list(MemoryContext ctx, uint32 expected);
extern void cb_dict_append(CbDict *d, const char *name, uint32 len);

extern uint32 cb_dict_intern(CbDict *d, const char *name, uint32 len);
extern const char *cb_dict_name(const CbDict *d, uint32 id, uint32 *len);
extern uint32 cb_dict_size(const CbDict *d);

/*
 * Copy events to out, renumbering their participants densely from 0 in
 * order of first appearance; returns how many there are.  With ids
 * non-NULL, ids[k] receives the dictionary number of participant k.
 */
extern uint32 cb_dict_renumber(CbDict *d, const CbEvent *in, size_t n,
							   CbEvent *out, uint32 *ids);

#endif							/* CLASSBILL_PARTICIPANTS_H */
