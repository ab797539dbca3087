/*-------------------------------------------------------------------------
 *
 * ledger.c
 *	  Settings of closing days (SPEC 7.2): how far back a close bills late
 *	  changes, and how far back it looks for changes it can only list.
 *
 * Both are ordinary settings, defined here when the library loads, so
 * they can be set per session, role or database (ALTER ROLE ... SET,
 * ALTER DATABASE ... SET) and a value set before the library loaded is
 * taken over, not dropped.
 *
 *-------------------------------------------------------------------------
 */
#include "classbill.h"

#include "fmgr.h"
#include "utils/guc.h"

static int	recheck_days = 7;
static int	watch_days = 31;

void
cb_define_close_settings(void)
{
	DefineCustomIntVariable("classbill.recheck_days",
							"How many closed days before the day being closed a close checks for changes and bills them as adjustments.",
							"Changes to older days are listed in classbill.close_problems, never billed.",
							&recheck_days,
							7,
							0,
							3660,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("classbill.watch_days",
							"How many days before the recheck window a close still looks at, to list changes there in classbill.close_problems.",
							"Each day of the window costs a scan of that day's source rows at every close.",
							&watch_days,
							31,
							0,
							3660,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
}

/*
 * classbill.recheck_days() and classbill.watch_days(): the settings now.
 * Calling them loads the library, so a fresh session (a pg_cron job)
 * sees a value set for its role or database.
 */
CB_FUNCTION(classbill_recheck_days);
Datum
classbill_recheck_days(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(recheck_days);
}

CB_FUNCTION(classbill_watch_days);
Datum
classbill_watch_days(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(watch_days);
}
