/*-------------------------------------------------------------------------
 *
 * classbill.c
 *	  Module entry point: settings.
 *
 * classbill bills an online classroom service from its event rows inside
 * PostgreSQL.  The files of src/ follow SPEC.md: event.h and sweep.c (the
 * rules of SPEC 1), usage_value.c and usage_type.c (the usage type of
 * SPEC 9), usage_agg.c (the room_usage aggregate), calendar.c (billing
 * days), tier.c (SPEC 2).
 *
 *-------------------------------------------------------------------------
 */
#include "classbill.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "event_input.h"

PG_MODULE_MAGIC;

extern PGDLLEXPORT void _PG_init(void);

void
_PG_init(void)
{
	cb_define_calendar_settings();
	cb_define_input_settings();
	cb_define_close_settings();
	cb_chain_init();
	/* the plain-C core's long loops honour query cancel and timeouts */
	cb_interrupt_hook = cb_interrupt;
	MarkGUCPrefixReserved("classbill");
}
