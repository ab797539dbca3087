/*-------------------------------------------------------------------------
 *
 * drawdown.c
 *	  Prepaid pack drawdown for one account and tier (SPEC 3.5).
 *
 * Packs are consumed strictly oldest first, and a pack bought later only
 * becomes available later, so the packs that can still give minutes are
 * always a window of the purchase-ordered list: from the oldest with a
 * balance to the newest already bought.  One pass over the use rows moves
 * both ends of that window forward; the whole drawdown is linear in rows
 * plus packs.
 *
 *-------------------------------------------------------------------------
 */
#include "drawdown.h"

CbDrawStatus
cb_drawdown(const CbUse *use, size_t nuse, CbPack *packs, size_t npacks,
			CbDraw *out, size_t *nout)
{
	size_t		oldest = 0;		/* first pack that may have a balance */
	size_t		bought = 0;		/* packs [0, bought) are available */
	size_t		n = 0;
	size_t		i;

	*nout = 0;
	for (i = 0; i < npacks; i++)
	{
		if (packs[i].balance < 0)
			return CB_DRAW_NEGATIVE;
		if (i > 0 && packs[i].from_day < packs[i - 1].from_day)
			return CB_DRAW_PACK_ORDER;
	}

	for (i = 0; i < nuse; i++)
	{
		int64_t		need = use[i].minutes;

		if (need < 0)
			return CB_DRAW_NEGATIVE;
		if (i > 0 && use[i].day < use[i - 1].day)
			return CB_DRAW_USE_ORDER;

		/* SPEC 3.5: a pack covers usage from 00:00 of its purchase day */
		while (bought < npacks && packs[bought].from_day <= use[i].day)
			bought++;

		/* oldest pack with a balance first */
		while (need > 0 && oldest < bought)
		{
			int64_t		take;

			if (packs[oldest].balance == 0)
			{
				oldest++;
				continue;
			}
			take = need < packs[oldest].balance ? need : packs[oldest].balance;
			packs[oldest].balance -= take;
			need -= take;
			out[n].use = (uint32_t) i;
			out[n].pack = (uint32_t) oldest;
			out[n].minutes = take;
			n++;
		}

		/* SPEC 3.5: what no pack covers is overage */
		if (need > 0)
		{
			out[n].use = (uint32_t) i;
			out[n].pack = CB_OVERAGE;
			out[n].minutes = need;
			n++;
		}
	}
	*nout = n;
	return CB_DRAW_OK;
}
