/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  What differs between the PostgreSQL major versions classbill builds
 *	  against: 15 (Debian 12), 17 (Debian 13) and 18 (Debian sid).
 *
 * Every #if on PG_VERSION_NUM belongs here, not in the .c files; they
 * include this through classbill.h, right after postgres.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLASSBILL_COMPAT_H
#define CLASSBILL_COMPAT_H

#include "postgres.h"

/*
 * PostgreSQL 16 moved the varlena header macros (VARATT_IS_EXTERNAL,
 * VARDATA_ANY, VARSIZE_ANY_EXHDR, SET_VARSIZE, ...) out of postgres.h
 * into varatt.h.
 */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/*
 * A GUC check hook's extra: PostgreSQL 16 keeps GUC values in a memory
 * context of its own and frees them with guc_free (a pfree there), so
 * they must come from guc_malloc; malloc'd ones crash ("pfree called with
 * invalid pointer") when the setting changes.  Up to 15 GUC frees them
 * with free(), and guc_malloc is its own static function: this is it.
 */
#if PG_VERSION_NUM < 160000
#include "utils/elog.h"

static inline void *
guc_malloc(int elevel, size_t size)
{
	void	   *p = malloc(size ? size : 1);

	if (p == NULL)
		ereport(elevel,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return p;
}
#endif

/*
 * The overflow-checked arithmetic (pg_add_s64_overflow, pg_mul_s64_overflow)
 * of common/int.h came through access/tupmacs.h up to PostgreSQL 17; 18's
 * tupmacs.h no longer includes it.  Included here for every version.
 */
#include "common/int.h"

/*
 * PostgreSQL 18 replaced pg_attribute_noreturn(), written after a
 * declaration, by pg_noreturn, written before it (C11 _Noreturn), and
 * removed the old macro.  classbill's headers keep the old place.
 */
#ifndef pg_attribute_noreturn
#if defined(__GNUC__) || defined(__SUNPRO_C)
#define pg_attribute_noreturn() __attribute__((noreturn))
#else
#define pg_attribute_noreturn()
#endif
#endif

#endif							/* CLASSBILL_COMPAT_H */
