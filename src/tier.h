/*-------------------------------------------------------------------------
 *
 * tier.h
 *	  Resolution tiers by picture area (SPEC 2.1).  Plain C.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_TIER_H
#define CLASSBILL_TIER_H

#include <stdint.h>

typedef enum CbTier
{
	CB_TIER_240P = 0,			/* area <= 320 x 240 */
	CB_TIER_480P = 1,			/* area <= 640 x 480 */
	CB_TIER_720P = 2			/* anything larger */
} CbTier;

#define CB_TIER_240P_MAX_AREA	INT64_C(76800)
#define CB_TIER_480P_MAX_AREA	INT64_C(307200)

/* The tier of width x height; both must be positive. */
static inline CbTier
cb_tier_of(int32_t width, int32_t height)
{
	int64_t		area = (int64_t) width * height;

	if (area <= CB_TIER_240P_MAX_AREA)
		return CB_TIER_240P;
	if (area <= CB_TIER_480P_MAX_AREA)
		return CB_TIER_480P;
	return CB_TIER_720P;
}

#endif							/* CLASSBILL_TIER_H */
