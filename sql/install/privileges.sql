
-- ---------------------------------------------------------------------
-- Privileges (SPEC 10.2, 10.3, 10.6): nothing needs a superuser at run
-- time, and the role that writes the ledger owns nothing
--
--   classbill_reader          analysts: read every table, view and
--                             report; write nothing
--   classbill_operator        billing operators: a reader that also edits
--                             accounts, the rate card, the pack catalog,
--                             packs and account access, stores quantities
--                             and closes days
--   classbill_account_reader  a portal's role: reads the ledger, the
--                             statements and the billed views of the
--                             accounts classbill.account_access maps its
--                             roles to, and nothing else (row-level
--                             security)
--   classbill_writer          the role closes and store_usage_days write
--                             as (classbill_internal.as_writer switches to
--                             it): reads the sources, appends to the
--                             ledger; owns nothing, so it can change no
--                             code; nobody logs in as it
--
-- Every object is owned by the extension's owner.  The roles are created
-- when missing (they belong to the cluster and outlive DROP EXTENSION).
-- Functions are executable by these roles only, not by PUBLIC; the ledger
-- can be written only through a close.  Every function pins search_path
-- to pg_catalog, pg_temp.
-- ---------------------------------------------------------------------

-- (the roles are created first, by header.sql: policies name them)

REVOKE ALL ON ALL ROUTINES IN SCHEMA classbill FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA classbill_internal FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA classbill FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA classbill_internal FROM PUBLIC;
GRANT USAGE ON SCHEMA classbill TO classbill_reader, classbill_writer, classbill_account_reader;
GRANT USAGE ON SCHEMA classbill_internal TO classbill_reader, classbill_writer, classbill_account_reader;

-- readers: every table and view of classbill, every function but those
-- that write; the internal steps the public functions call, which are
-- not SECURITY DEFINER, so their callers need EXECUTE on them
GRANT SELECT ON ALL TABLES IN SCHEMA classbill TO classbill_reader;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA classbill TO classbill_reader;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA classbill_internal TO classbill_reader;

-- what only a close, the writer, or the extension's owner may run
REVOKE EXECUTE ON ROUTINE
  classbill.register_source(text, regclass),
  classbill.store_usage_days(date, date),
  classbill.close_day(date, text),
  classbill.close_yesterday(),
  classbill_internal.ledger_is_append_only(),
  classbill_internal.as_writer(text, date, text),
  classbill_internal.as_writer(text, date, date),
  classbill_internal.close_day(date, text),
  classbill_internal.store_usage_days(date, date),
  classbill_internal.analyze_work(text),
  classbill_internal.keep_ledger(),
  classbill_internal.chain_ledger(),
  classbill_internal.lock_sources(),
  classbill_internal.find_changes(bigint, date, date),
  classbill_internal.pick_rooms(bigint, date, text[], integer),
  classbill_internal.read_rooms(bigint, date, date),
  classbill_internal.find_usage_changes(bigint, date, date),
  classbill_internal.read_bases(bigint, date, date),
  classbill_internal.find_problems(bigint, date, text[], integer, date),
  classbill_internal.draw(bigint, date, date, date),
  classbill_internal.give_back(bigint, date, date),
  classbill_internal.adjust_usage(bigint, date, date),
  classbill_internal.cover_overage(bigint, date, date, text[]),
  classbill_internal.adjust_bases(bigint, date, date, text[]),
  classbill_internal.bill_day(bigint, date, text[]),
  classbill_internal.bill(bigint, date, text[], integer),
  classbill_internal.bill_or_hold(bigint, date, text[], integer),
  classbill_internal.record_close(bigint, date, text[], date, date),
  classbill_internal.close_one(date, text, boolean),
  classbill_internal.chain_line(),
  classbill_internal.audit_row(),
  classbill_internal.check_accounts(),
  classbill_internal.check_rates(),
  classbill_internal.check_pack_items(),
  classbill_internal.check_pack_prices(),
  classbill_internal.check_packs(),
  classbill_internal.check_usage_days(),
  classbill_internal.check_account_access()
FROM classbill_reader;
-- the hashes and the heads are the close's (readers verify through
-- verify_ledger, which reads them as its caller: keep SELECT)

-- operators: the billing team's tables and jobs
GRANT INSERT, UPDATE, DELETE ON
  classbill.accounts, classbill.rates, classbill.pack_items, classbill.pack_prices,
  classbill.packs, classbill.usage_days, classbill.account_access
TO classbill_operator;
GRANT USAGE ON SEQUENCE classbill.packs_pack_id_seq TO classbill_operator;
GRANT EXECUTE ON ROUTINE
  classbill.store_usage_days(date, date),
  classbill.close_day(date, text),
  classbill.close_yesterday(),
  classbill_internal.as_writer(text, date, text),
  classbill_internal.as_writer(text, date, date),
  classbill_internal.check_accounts(),
  classbill_internal.check_rates(),
  classbill_internal.check_pack_items(),
  classbill_internal.check_pack_prices(),
  classbill_internal.check_packs(),
  classbill_internal.check_usage_days(),
  classbill_internal.check_account_access()
TO classbill_operator;

-- the writer: reads what a close reads, appends to the ledger, replaces
-- stored quantities, and uses the close's own work tables and lock
GRANT SELECT ON ALL TABLES IN SCHEMA classbill TO classbill_writer;
GRANT INSERT ON
  classbill.closes, classbill.closed_days, classbill.ledger, classbill.ledger_usage,
  classbill.ledger_storage, classbill.ledger_exports, classbill.ledger_rooms,
  classbill.close_problems, classbill.ledger_packs, classbill.ledger_heads
TO classbill_writer;
GRANT INSERT, DELETE ON classbill.usage_days TO classbill_writer;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA classbill_internal TO classbill_writer;
-- SPEC 10.3: closes serialize on EXCLUSIVE of close_lock, which needs
-- UPDATE; nobody else is granted anything on it, so nobody else can
-- take a lock that blocks closes
REVOKE ALL ON classbill_internal.close_lock FROM classbill_writer;
GRANT UPDATE ON classbill_internal.close_lock TO classbill_writer;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA classbill TO classbill_writer;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA classbill_internal TO classbill_writer;
REVOKE EXECUTE ON ROUTINE
  classbill.register_source(text, regclass),
  classbill.store_usage_days(date, date),
  classbill.close_day(date, text),
  classbill.close_yesterday(),
  classbill_internal.as_writer(text, date, text),
  classbill_internal.as_writer(text, date, date),
  classbill_internal.chain_line(),
  classbill_internal.chain_ledger(),
  classbill_internal.audit_row()
FROM classbill_writer;

-- readers of accounts: the ledger and what is built from it, through
-- the row-level security of trust.sql
GRANT SELECT ON
  classbill.accounts, classbill.currencies, classbill.rates, classbill.rate_periods, classbill.pack_items,
  classbill.pack_prices, classbill.packs, classbill.closes, classbill.closed_days, classbill.ledger,
  classbill.ledger_usage, classbill.ledger_storage, classbill.ledger_exports, classbill.ledger_rooms,
  classbill.ledger_packs, classbill.close_problems,
  classbill.billed_usage, classbill.billed_storage, classbill.billed_exports, classbill.billed_rooms,
  classbill.ledger_pack_balances, classbill.open_problems, classbill.account_access
TO classbill_account_reader;
GRANT EXECUTE ON ROUTINE
  classbill.statement(date, text),
  classbill.statement_text(date, text),
  classbill.explain(bigint),
  classbill_internal.explain_usage(classbill.ledger),
  classbill_internal.explain_storage(classbill.ledger),
  classbill_internal.explain_export(classbill.ledger),
  classbill_internal.explain_pack(classbill.ledger),
  classbill_internal.explain_rate(classbill.ledger),
  classbill.minor_unit(text),
  classbill.round_money(numeric, text),
  classbill_internal.month_of(date),
  classbill_internal.shown_quantity(numeric, text),
  classbill_internal.money_text(numeric, text),
  classbill_internal.visible_accounts(),
  classbill_internal.check_account(text, boolean),
  classbill_internal.check_period(date, date),
  classbill_internal.minutes_of(numeric),
  classbill_internal.bytes_per_gb(),
  classbill_internal.days_per_month()
TO classbill_account_reader;
