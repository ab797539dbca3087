/*-------------------------------------------------------------------------
 *
 * classbill.h
 *	  Declarations shared by classbill's PostgreSQL glue.
 *
 * The computations live in plain C (event.h, sweep.h, usage_value.h,
 * state_codec.h); this header is for the files that speak fmgr.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_H
#define CLASSBILL_H

#include "postgres.h"

#include "compat.h"
#include "pgtime.h"

#include "usage_value.h"

/*
 * PG_FUNCTION_INFO_V1 with the function itself exported too: the library
 * is built with hidden visibility, and PostgreSQL 15 marks only the info
 * function for export (16 and later declare both; the same declaration
 * twice is harmless).
 */
#define CB_FUNCTION(f) \
	extern PGDLLEXPORT Datum f(PG_FUNCTION_ARGS); \
	PG_FUNCTION_INFO_V1(f)

/* calendar.c: the billing time zone (SPEC 0, 1.6) */
extern void cb_define_calendar_settings(void);
extern pg_tz *cb_billing_tz(void);
extern const char *cb_billing_tz_name(void);
extern CbCalendar cb_calendar(pg_tz *tz);
/* First instant of a billing day: day::timestamp AT TIME ZONE tz */
extern int64 cb_day_start(pg_tz *tz, int32 day);
extern pg_tz *cb_lookup_tz(const char *name);

/* event_input.c */
extern void cb_define_input_settings(void);

/* ledger.c: settings of closes (SPEC 7.2) */
extern void cb_define_close_settings(void);

/* chain.c: the ledger's hash chain (SPEC 10.5) */
extern void cb_chain_init(void);

/* memory for the plain-C code: CurrentMemoryContext, never NULL */
extern const CbAlloc cb_palloc_allocator;

/* usage_type.c: build a classbill.usage datum from its logical form */
extern struct varlena *cb_usage_make(const CbUsage *u);

/* Report a failed plain-C status as a PostgreSQL error. */
extern void cb_report_status(CbStatus status, const char *what) pg_attribute_noreturn();

#endif							/* CLASSBILL_H */
