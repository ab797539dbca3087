/*-------------------------------------------------------------------------
 *
 * tier.c
 *	  classbill.tier(width, height): the resolution tier enum (SPEC 2).
 *
 *-------------------------------------------------------------------------
 */
#include "classbill.h"

#include "catalog/pg_enum.h"
#include "fmgr.h"
#include "utils/syscache.h"

#include "tier.h"

static const char *const tier_labels[] = {"240p", "480p", "720p"};

/* OIDs of the enum labels, looked up once per call site */
typedef struct TierLabels
{
	Oid			label[3];
} TierLabels;

static TierLabels *
labels_for(FunctionCallInfo fcinfo)
{
	TierLabels *cache = (TierLabels *) fcinfo->flinfo->fn_extra;

	if (cache == NULL)
	{
		Oid			enumtype = get_fn_expr_rettype(fcinfo->flinfo);
		int			i;

		if (!OidIsValid(enumtype))
			elog(ERROR, "could not determine the tier enum type");
		cache = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(TierLabels));
		for (i = 0; i < 3; i++)
		{
			cache->label[i] = GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
											  ObjectIdGetDatum(enumtype),
											  CStringGetDatum(tier_labels[i]));
			if (!OidIsValid(cache->label[i]))
				elog(ERROR, "tier label \"%s\" is missing", tier_labels[i]);
		}
		fcinfo->flinfo->fn_extra = cache;
	}
	return cache;
}

CB_FUNCTION(classbill_tier);
Datum
classbill_tier(PG_FUNCTION_ARGS)
{
	int32		width = PG_GETARG_INT32(0);
	int32		height = PG_GETARG_INT32(1);

	if (width <= 0 || height <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("resolution %dx%d is not valid", width, height),
				 errdetail("Width and height must both be positive.")));
	PG_RETURN_OID(labels_for(fcinfo)->label[cb_tier_of(width, height)]);
}
