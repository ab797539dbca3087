/*-------------------------------------------------------------------------
 *
 * chain.c
 *	  The ledger's hash chain (SPEC 10.5) and the role closes write as
 *	  (SPEC 10.2).
 *
 * Every ledger line carries prev_hash, the hash of the line before it (32
 * zero bytes for the first line), and hash = SHA-256(prev_hash || the
 * line), where the line is its columns in column order, each as a 4-byte
 * big-endian length and its text form (length 0xFFFFFFFF for NULL).  A
 * BEFORE INSERT trigger fills both; classbill.verify_ledger() walks the
 * lines in line_id order and reports every line whose hash does not match
 * its contents (edited) or whose prev_hash does not match the line before
 * it (a line removed, or inserted out of turn).  Whoever edits a line
 * with triggers off (session_replication_role = replica, a superuser)
 * leaves a line that no longer matches its hash; rewriting every later
 * hash to hide it is only caught against a head kept outside
 * (classbill.ledger_head()).
 *
 * The chain's head is read once per transaction and then kept in memory
 * (closes append under the close lock, so nobody else appends meanwhile);
 * a subtransaction that aborts forgets it.
 *
 *-------------------------------------------------------------------------
 */
#include "classbill.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "common/cryptohash.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "byteorder.h"

#define HASH_LEN 32

/*
 * Whether a trigger fires on one of classbill's own tables (named, or any
 * when name is NULL): its triggers do nothing for tables of others, who
 * could otherwise attach them to forge lines of the chain or of the audit.
 */
static bool
is_classbill_table(Relation rel, const char *name)
{
	char	   *nsp = get_namespace_name(RelationGetNamespace(rel));

	if (nsp == NULL || strcmp(nsp, "classbill") != 0)
		return false;
	if (name != NULL && strcmp(RelationGetRelationName(rel), name) != 0)
		return false;
	return true;
}

static bool head_known = false;
static int64 head_line = 0;
static uint8 head_hash[HASH_LEN];

static void
forget_head_xact(XactEvent event, void *arg)
{
	head_known = false;
}

static void
forget_head_subxact(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		head_known = false;
}

void
cb_chain_init(void)
{
	RegisterXactCallback(forget_head_xact, NULL);
	RegisterSubXactCallback(forget_head_subxact, NULL);
}

/* ----------------------------------------------------------------
 * A line's bytes and hash
 * ----------------------------------------------------------------
 */
typedef struct LineColumns
{
	int			natts;
	int			prev_att;		/* 1-based */
	int			hash_att;
	int			id_att;
	FmgrInfo   *out;			/* output functions, per attribute */
} LineColumns;

static LineColumns *
line_columns(TupleDesc desc, MemoryContext cx)
{
	LineColumns *c = MemoryContextAllocZero(cx, sizeof(LineColumns));
	int			i;

	c->natts = desc->natts;
	c->out = MemoryContextAllocZero(cx, sizeof(FmgrInfo) * desc->natts);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);
		Oid			fn;
		bool		varlena;

		if (a->attisdropped)
			continue;
		if (strcmp(NameStr(a->attname), "prev_hash") == 0)
			c->prev_att = i + 1;
		else if (strcmp(NameStr(a->attname), "hash") == 0)
			c->hash_att = i + 1;
		else if (strcmp(NameStr(a->attname), "line_id") == 0)
			c->id_att = i + 1;
		getTypeOutputInfo(a->atttypid, &fn, &varlena);
		fmgr_info_cxt(fn, &c->out[i], cx);
	}
	if (c->prev_att == 0 || c->hash_att == 0 || c->id_att == 0)
		elog(ERROR, "classbill.ledger has no line_id, prev_hash or hash column");
	return c;
}

/* SHA-256(prev || every column but the two hashes) */
static void
line_hash(LineColumns *c, TupleDesc desc, HeapTuple tup, const uint8 *prev, uint8 *out)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	int			i;

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, prev, HASH_LEN) < 0)
		elog(ERROR, "could not compute a SHA-256 hash");
	for (i = 0; i < c->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);
		bool		isnull;
		Datum		v;
		uint8		len[4];

		if (a->attisdropped || i + 1 == c->prev_att || i + 1 == c->hash_att)
			continue;
		v = heap_getattr(tup, i + 1, desc, &isnull);
		if (isnull)
		{
			cb_put32(len, UINT32_MAX);
			if (pg_cryptohash_update(ctx, len, 4) < 0)
				elog(ERROR, "could not compute a SHA-256 hash");
		}
		else
		{
			char	   *s = OutputFunctionCall(&c->out[i], v);
			size_t		n = strlen(s);

			cb_put32(len, (uint32) n);
			if (pg_cryptohash_update(ctx, len, 4) < 0 ||
				pg_cryptohash_update(ctx, (const uint8 *) s, n) < 0)
				elog(ERROR, "could not compute a SHA-256 hash");
			pfree(s);
		}
	}
	if (pg_cryptohash_final(ctx, out, HASH_LEN) < 0)
		elog(ERROR, "could not compute a SHA-256 hash");
	pg_cryptohash_free(ctx);
}

static bytea *
hash_datum(const uint8 *h)
{
	bytea	   *b = palloc(VARHDRSZ + HASH_LEN);

	SET_VARSIZE(b, VARHDRSZ + HASH_LEN);
	memcpy(VARDATA(b), h, HASH_LEN);
	return b;
}

/* The head of the chain: the last line's id and hash, or none. */
static void
read_head(Oid ledger)
{
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_with_args("SELECT line_id, hash FROM classbill.ledger ORDER BY line_id DESC LIMIT 1",
								0, NULL, NULL, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the head of the ledger's chain");
	memset(head_hash, 0, HASH_LEN);
	head_line = 0;
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		Datum		h = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

		head_line = DatumGetInt64(id);
		/* a line without a hash (inserted with triggers off) chains as zeros */
		if (!isnull && VARSIZE_ANY_EXHDR(DatumGetByteaPP(h)) == HASH_LEN)
			memcpy(head_hash, VARDATA_ANY(DatumGetByteaPP(h)), HASH_LEN);
	}
	SPI_finish();
	head_known = true;
}

/*
 * classbill_internal.chain_line(): BEFORE INSERT FOR EACH ROW on
 * classbill.ledger; sets prev_hash and hash.
 */
CB_FUNCTION(classbill_chain_line);
Datum
classbill_chain_line(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	LineColumns *c;
	HeapTuple	tup;
	uint8		h[HASH_LEN];
	int			atts[2];
	Datum		vals[2];
	bool		nulls[2] = {false, false};
	bool		isnull;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		elog(ERROR, "chain_line must be a BEFORE INSERT FOR EACH ROW trigger");
	if (!is_classbill_table(td->tg_relation, "ledger"))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("chain_line chains classbill.ledger only, not %s",
						RelationGetRelationName(td->tg_relation))));
	desc = RelationGetDescr(td->tg_relation);
	tup = td->tg_trigtuple;
	c = (LineColumns *) fcinfo->flinfo->fn_extra;
	if (c == NULL || c->natts != desc->natts)
	{
		c = line_columns(desc, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = c;
	}
	if (!head_known)
		read_head(RelationGetRelid(td->tg_relation));

	line_hash(c, desc, tup, head_hash, h);
	atts[0] = c->prev_att;
	atts[1] = c->hash_att;
	vals[0] = PointerGetDatum(hash_datum(head_hash));
	vals[1] = PointerGetDatum(hash_datum(h));
	tup = heap_modify_tuple_by_cols(tup, desc, 2, atts, vals, nulls);

	head_line = DatumGetInt64(heap_getattr(tup, c->id_att, desc, &isnull));
	memcpy(head_hash, h, HASH_LEN);
	return PointerGetDatum(tup);
}

/*
 * classbill.verify_ledger(): one row per line that breaks the chain, in
 * line order: (line_id, problem).  None when the ledger is intact.
 */
CB_FUNCTION(classbill_verify_ledger);
Datum
classbill_verify_ledger(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext per_query;
	Portal		portal;
	LineColumns *c = NULL;
	uint8		prev[HASH_LEN];
	int64		prev_line = 0;
	bool		first = true;

	InitMaterializedSRF(fcinfo, 0);
	per_query = rsinfo->econtext->ecxt_per_query_memory;
	memset(prev, 0, HASH_LEN);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = SPI_cursor_open_with_args(NULL, "SELECT * FROM classbill.ledger ORDER BY line_id",
									   0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull,
						pnull,
						hnull;
			int64		line;
			Datum		pv,
						hv;
			uint8		want[HASH_LEN];
			const char *problem = NULL;
			char	   *text = NULL;

			CHECK_FOR_INTERRUPTS();
			if (c == NULL)
				c = line_columns(desc, per_query);
			line = DatumGetInt64(heap_getattr(tup, c->id_att, desc, &isnull));
			pv = heap_getattr(tup, c->prev_att, desc, &pnull);
			hv = heap_getattr(tup, c->hash_att, desc, &hnull);

			if (pnull || hnull ||
				VARSIZE_ANY_EXHDR(DatumGetByteaPP(pv)) != HASH_LEN ||
				VARSIZE_ANY_EXHDR(DatumGetByteaPP(hv)) != HASH_LEN)
				problem = "inserted out of turn: it carries no hash of the chain";
			else
			{
				const uint8 *p = (const uint8 *) VARDATA_ANY(DatumGetByteaPP(pv));
				const uint8 *h = (const uint8 *) VARDATA_ANY(DatumGetByteaPP(hv));

				line_hash(c, desc, tup, p, want);
				if (memcmp(want, h, HASH_LEN) != 0)
					problem = "edited: its contents do not match its hash";
				else if (memcmp(p, prev, HASH_LEN) != 0)
					text = first
						? pstrdup("out of turn: lines before it were removed, or it was inserted before the first line")
						: psprintf("out of turn: it does not follow line " INT64_FORMAT " (a line between them was removed, or it was inserted there)",
								   prev_line);
			}
			if (problem != NULL || text != NULL)
			{
				Datum		values[2];
				bool		nulls[2] = {false, false};
				MemoryContext old = MemoryContextSwitchTo(per_query);

				values[0] = Int64GetDatum(line);
				values[1] = PointerGetDatum(cstring_to_text(text ? text : problem));
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
				MemoryContextSwitchTo(old);
			}
			/* the chain goes on from what the line says it is */
			if (!hnull && VARSIZE_ANY_EXHDR(DatumGetByteaPP(hv)) == HASH_LEN)
				memcpy(prev, VARDATA_ANY(DatumGetByteaPP(hv)), HASH_LEN);
			else
				memset(prev, 0xff, HASH_LEN);
			prev_line = line;
			first = false;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	return (Datum) 0;
}

/*
 * classbill_internal.chain_ledger(): chain lines written before the chain
 * existed (an upgrade from 1.1), in line order, from the first line on.
 * Refused once any line carries a hash: a chain is never rewritten.
 * Returns the lines chained.  The caller disables the ledger's
 * append_only trigger around it.
 */
CB_FUNCTION(classbill_chain_ledger);
Datum
classbill_chain_ledger(PG_FUNCTION_ARGS)
{
	Portal		portal;
	LineColumns *c = NULL;
	uint8		prev[HASH_LEN];
	int64		n = 0;
	SPIPlanPtr	update;
	Oid			types[3] = {BYTEAOID, BYTEAOID, INT8OID};
	int			ret;

	memset(prev, 0, HASH_LEN);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute("SELECT 1 FROM classbill.ledger WHERE hash IS NOT NULL OR prev_hash IS NOT NULL LIMIT 1",
					  true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read classbill.ledger");
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the ledger is chained already"),
				 errdetail("chain_ledger chains a ledger none of whose lines has a hash (one written before 1.2).")));
	update = SPI_prepare("UPDATE classbill.ledger SET prev_hash = $1, hash = $2 WHERE line_id = $3", 3, types);
	if (update == NULL)
		elog(ERROR, "could not prepare the update of the ledger's hashes");
	portal = SPI_cursor_open_with_args(NULL, "SELECT * FROM classbill.ledger ORDER BY line_id",
									   0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		SPITupleTable *tab;
		uint64		i,
					rows;

		SPI_cursor_fetch(portal, true, 10000);
		tab = SPI_tuptable;
		rows = SPI_processed;
		if (rows == 0)
			break;
		for (i = 0; i < rows; i++)
		{
			HeapTuple	tup = tab->vals[i];
			bool		isnull;
			uint8		h[HASH_LEN];
			Datum		args[3];

			CHECK_FOR_INTERRUPTS();
			if (c == NULL)
				c = line_columns(tab->tupdesc, TopTransactionContext);
			line_hash(c, tab->tupdesc, tup, prev, h);
			args[0] = PointerGetDatum(hash_datum(prev));
			args[1] = PointerGetDatum(hash_datum(h));
			args[2] = heap_getattr(tup, c->id_att, tab->tupdesc, &isnull);
			if (SPI_execute_plan(update, args, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not write the hash of a ledger line");
			memcpy(prev, h, HASH_LEN);
			n++;
		}
		SPI_freetuptable(tab);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	head_known = false;
	PG_RETURN_INT64(n);
}

/* ----------------------------------------------------------------
 * The role closes write as (SPEC 10.2)
 *
 * classbill's code is owned by the extension's owner.  The ledger is
 * written by a role that owns nothing, classbill_writer: a role can alter
 * only what it owns, so the role that writes the ledger cannot change the
 * code that writes it.  PostgreSQL runs a function as its owner or as its
 * caller; to run a close as a third role, classbill_internal.as_writer
 * switches the current user to classbill_writer (as a SECURITY DEFINER
 * function switches to its owner: SET ROLE is then refused inside), runs
 * one of the fixed steps it knows, and switches back.  Callers cannot pass
 * it SQL: it runs close_day or store_usage_days, nothing else.
 * ----------------------------------------------------------------
 */
CB_FUNCTION(classbill_as_writer);
Datum
classbill_as_writer(PG_FUNCTION_ARGS)
{
	text	   *what = PG_GETARG_TEXT_PP(0);
	char	   *step = text_to_cstring(what);
	Oid			writer = get_role_oid("classbill_writer", true);
	Oid			save_user;
	int			save_sec;
	const char *sql;
	Oid			types[2] = {DATEOID, TEXTOID};
	Datum		args[2];
	char		nulls[3] = "  ";
	int			ret;
	int64		result = 0;
	MemoryContext cx = CurrentMemoryContext;

	if (!OidIsValid(writer))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"classbill_writer\" does not exist"),
				 errhint("Reinstall classbill: CREATE EXTENSION creates the role closes write as.")));
	if (strcmp(step, "close_day") == 0)
		sql = "CALL classbill_internal.close_day($1, $2)";
	else if (strcmp(step, "store_usage_days") == 0)
		sql = "SELECT classbill_internal.store_usage_days($1, $2::date)";
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a step classbill runs as classbill_writer", step)));
	if (strcmp(step, "store_usage_days") == 0)
		types[1] = DATEOID;
	args[0] = PG_GETARG_DATUM(1);
	args[1] = PG_GETARG_DATUM(2);
	if (PG_ARGISNULL(1))
		nulls[0] = 'n';
	if (PG_ARGISNULL(2))
		nulls[1] = 'n';

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(writer, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	/*
	 * An error on the way is undone by the (sub)transaction's abort, which
	 * also restores the user.  Its message, detail and hint are what the
	 * step says; the context (the SQL of the steps it ran through) becomes
	 * one line, so a failed close reads as one error.
	 */
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute_with_args(sql, 2, types, args, nulls, false, 0);
		if (ret < 0)
			elog(ERROR, "running %s as classbill_writer failed: %s", step, SPI_result_code_string(ret));
		if (ret == SPI_OK_SELECT && SPI_processed == 1)
		{
			bool		isnull;
			Datum		v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

			result = isnull ? 0 : DatumGetInt64(v);
		}
		SPI_finish();
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(cx);
		e = CopyErrorData();
		FlushErrorState();
		e->context = psprintf("classbill.%s, run as classbill_writer", step);
		ReThrowError(e);
	}
	PG_END_TRY();
	SetUserIdAndSecContext(save_user, save_sec);
	PG_RETURN_INT64(result);
}

/* ----------------------------------------------------------------
 * The audit trail (SPEC 10.4)
 *
 * classbill_internal.audit_row(): AFTER INSERT OR UPDATE OR DELETE FOR
 * EACH ROW (and AFTER TRUNCATE FOR EACH STATEMENT) on the tables billing
 * data lives in.  It appends who changed what to classbill.audit.  The
 * users who change billing data have no right to write the audit: the
 * row is appended as the extension's owner, with the user and role taken
 * before the switch, so nobody can append a row in someone else's name.
 * ----------------------------------------------------------------
 */
/* The owner of the classbill extension in this database. */
static Oid
get_extension_owner_oid(void)
{
	int			ret;
	Oid			owner = InvalidOid;

	ret = SPI_execute("SELECT extowner FROM pg_catalog.pg_extension WHERE extname = 'classbill'", true, 1);
	if (ret == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;

		owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	if (!OidIsValid(owner))
		elog(ERROR, "the classbill extension has no owner here");
	return owner;
}

CB_FUNCTION(classbill_audit_row);
Datum
classbill_audit_row(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	old_row = NULL,
				new_row = NULL;
	Oid			save_user;
	int			save_sec;
	Oid			types[6] = {NAMEOID, NAMEOID, TEXTOID, TEXTOID, JSONOID, JSONOID};
	Datum		args[6];
	char		nulls[7] = "      ";
	const char *op;
	int			ret;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event))
		elog(ERROR, "audit_row must be an AFTER trigger");
	if (!is_classbill_table(td->tg_relation, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("audit_row audits classbill's own tables only, not %s",
						RelationGetRelationName(td->tg_relation))));
	desc = RelationGetDescr(td->tg_relation);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		op = "INSERT";
		new_row = td->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		op = "UPDATE";
		old_row = td->tg_trigtuple;
		new_row = td->tg_newtuple;
	}
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		op = "DELETE";
		old_row = td->tg_trigtuple;
	}
	else
		op = "TRUNCATE";

	/* who, before anything changes the current user */
	args[0] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetSessionUserId(), false)));
	args[1] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	args[2] = CStringGetTextDatum(RelationGetRelationName(td->tg_relation));
	args[3] = CStringGetTextDatum(op);
	args[4] = args[5] = (Datum) 0;
	if (old_row != NULL && TRIGGER_FIRED_FOR_ROW(td->tg_event))
		args[4] = DirectFunctionCall1(row_to_json, heap_copy_tuple_as_datum(old_row, desc));
	else
		nulls[4] = 'n';
	if (new_row != NULL && TRIGGER_FIRED_FOR_ROW(td->tg_event))
		args[5] = DirectFunctionCall1(row_to_json, heap_copy_tuple_as_datum(new_row, desc));
	else
		nulls[5] = 'n';

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(get_extension_owner_oid(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	ret = SPI_execute_with_args("INSERT INTO classbill.audit (session_user_name, role_name, table_name, operation, old_row, new_row) "
								"VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)",
								6, types, args, nulls, false, 0);
	SetUserIdAndSecContext(save_user, save_sec);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not append to classbill.audit");
	SPI_finish();
	return PointerGetDatum(NULL);
}
