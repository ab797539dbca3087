/*-------------------------------------------------------------------------
 *
 * drawdown.h
 *	  Prepaid pack drawdown for one account and tier (SPEC 3.5).
 *
 * Plain C.  The caller supplies the tier's billable minutes per day and
 * mode, already in drawdown order (day, then the mode with the higher
 * postpaid rate first; SPEC 3.5), and the account's packs of that tier in
 * purchase order (purchase time, then pack id) with their balances.  The
 * result says, for every usage row, which packs covered how many minutes
 * and how many are overage.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_DRAWDOWN_H
#define CLASSBILL_DRAWDOWN_H

#include <stddef.h>
#include <stdint.h>

typedef struct CbUse
{
	int32_t		day;			/* billing day, days since 2000-01-01 */
	int64_t		minutes;		/* billable minutes, >= 0 */
} CbUse;

typedef struct CbPack
{
	int32_t		from_day;		/* covers usage from this day on */
	int64_t		balance;		/* minutes left, >= 0 */
} CbPack;

/* One allocation: minutes of use row `use` drawn from pack `pack`. */
typedef struct CbDraw
{
	uint32_t	use;
	uint32_t	pack;			/* CB_OVERAGE: not covered */
	int64_t		minutes;		/* > 0 */
} CbDraw;

#define CB_OVERAGE UINT32_MAX

typedef enum CbDrawStatus
{
	CB_DRAW_OK = 0,
	CB_DRAW_USE_ORDER,			/* use rows not in day order */
	CB_DRAW_PACK_ORDER,			/* packs not in from_day order */
	CB_DRAW_NEGATIVE			/* negative minutes or balance */
} CbDrawStatus;

/*
 * At most how many CbDraw rows cb_drawdown writes: every use row ends at
 * most one pack and may add an overage row; every pack is finished once.
 */
static inline size_t
cb_drawdown_bound(size_t nuse, size_t npacks)
{
	return 2 * nuse + npacks;
}

/*
 * Draw uses from packs.  Balances in packs are updated in place (what is
 * left after the last day).  out must hold cb_drawdown_bound rows; *nout
 * receives how many were written, in use order and, within a use row, in
 * pack order with its overage last.
 */
extern CbDrawStatus cb_drawdown(const CbUse *use, size_t nuse,
								CbPack *packs, size_t npacks,
								CbDraw *out, size_t *nout);

#endif							/* CLASSBILL_DRAWDOWN_H */
