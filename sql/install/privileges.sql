
-- ---------------------------------------------------------------------
-- Privileges: nothing needs a superuser at run time
--
--   classbill_reader    analysts: read every table, view and report;
--                       write nothing
--   classbill_operator  billing operators: a reader that also edits
--                       accounts, the rate card, the pack catalog and
--                       packs, stores quantities and closes days
--   classbill_owner     the role closes and store_usage_days run as
--                       (SECURITY DEFINER): reads the sources, writes
--                       the ledger; nobody logs in as it
--
-- The roles are created when missing (they belong to the cluster and
-- outlive DROP EXTENSION).  Functions are executable by these roles only,
-- not by PUBLIC; the ledger can be written only through a close.  Every
-- function pins search_path to pg_catalog, pg_temp.
-- ---------------------------------------------------------------------

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'classbill_reader') THEN
    CREATE ROLE classbill_reader NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'classbill_operator') THEN
    CREATE ROLE classbill_operator NOLOGIN IN ROLE classbill_reader;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'classbill_owner') THEN
    CREATE ROLE classbill_owner NOLOGIN;
  END IF;
END $$;

REVOKE ALL ON ALL ROUTINES IN SCHEMA classbill FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA classbill_internal FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA classbill_internal FROM PUBLIC;
GRANT USAGE ON SCHEMA classbill TO classbill_reader, classbill_owner;
GRANT SELECT ON ALL TABLES IN SCHEMA classbill TO classbill_reader, classbill_owner;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA classbill TO classbill_reader, classbill_owner;

-- the internal schema: steps of closes and checks of the public
-- functions; readers reach them only through the public functions, which
-- are not SECURITY DEFINER, so readers need EXECUTE on the read-only ones
GRANT USAGE ON SCHEMA classbill_internal TO classbill_reader, classbill_owner;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA classbill_internal TO classbill_reader, classbill_owner;

-- what only a close (or the extension's owner) may run
REVOKE EXECUTE ON ROUTINE
  classbill.register_source(text, regclass),
  classbill.store_usage_days(date, date),
  classbill.close_day(date, text),
  classbill.close_yesterday(),
  classbill.ledger_is_append_only(),
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
  classbill_internal.check_accounts(),
  classbill_internal.check_rates(),
  classbill_internal.check_pack_items(),
  classbill_internal.check_pack_prices(),
  classbill_internal.check_packs(),
  classbill_internal.check_usage_days()
FROM classbill_reader;

-- operators: the billing team's tables and jobs
GRANT INSERT, UPDATE, DELETE ON
  classbill.accounts, classbill.rates, classbill.pack_items, classbill.pack_prices,
  classbill.packs, classbill.usage_days
TO classbill_operator;
GRANT USAGE ON SEQUENCE classbill.packs_pack_id_seq TO classbill_operator;
GRANT EXECUTE ON ROUTINE
  classbill.store_usage_days(date, date),
  classbill.close_day(date, text),
  classbill.close_yesterday(),
  classbill_internal.check_accounts(),
  classbill_internal.check_rates(),
  classbill_internal.check_pack_items(),
  classbill_internal.check_pack_prices(),
  classbill_internal.check_packs(),
  classbill_internal.check_usage_days()
TO classbill_operator;

-- the role jobs run as: the ledger tables, the stored quantities and the
-- close's own work
GRANT INSERT ON
  classbill.closes, classbill.closed_days, classbill.ledger, classbill.ledger_usage,
  classbill.ledger_storage, classbill.ledger_exports, classbill.ledger_rooms,
  classbill.close_problems, classbill.ledger_packs
TO classbill_owner;
GRANT INSERT, DELETE ON classbill.usage_days TO classbill_owner;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA classbill_internal TO classbill_owner;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA classbill_internal TO classbill_owner;
ALTER FUNCTION classbill.store_usage_days(date, date) OWNER TO classbill_owner;
ALTER FUNCTION classbill.store_usage_days(date, date) SECURITY DEFINER;
ALTER PROCEDURE classbill.close_day(date, text) OWNER TO classbill_owner;
ALTER PROCEDURE classbill.close_day(date, text) SECURITY DEFINER;
ALTER PROCEDURE classbill.close_yesterday() OWNER TO classbill_owner;
ALTER PROCEDURE classbill.close_yesterday() SECURITY DEFINER;
