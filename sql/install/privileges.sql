
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
GRANT USAGE ON SCHEMA classbill TO classbill_reader, classbill_owner;
GRANT SELECT ON ALL TABLES IN SCHEMA classbill TO classbill_reader, classbill_owner;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA classbill TO classbill_reader, classbill_owner;

-- what only a close (or the extension's owner) may run
REVOKE EXECUTE ON ROUTINE
  classbill.register_source(text, regclass),
  classbill.store_usage_days(date, date),
  classbill.close_day(date, text),
  classbill.close_yesterday(),
  classbill.close_regular(bigint, date),
  classbill.adjust_day(bigint, date, date, boolean, boolean, boolean),
  classbill.draw(bigint, date, date, date),
  classbill.give_back(bigint, date, date),
  classbill.ledger_is_append_only(),
  classbill.keep_account_currency()
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
  classbill.close_yesterday()
TO classbill_operator;

-- the role jobs run as: the ledger tables and the stored quantities
GRANT INSERT ON
  classbill.closes, classbill.closed_days, classbill.ledger, classbill.ledger_usage,
  classbill.ledger_storage, classbill.ledger_exports, classbill.ledger_rooms,
  classbill.ledger_fingerprints
TO classbill_owner;
GRANT INSERT, DELETE ON classbill.usage_days TO classbill_owner;
ALTER FUNCTION classbill.store_usage_days(date, date) OWNER TO classbill_owner;
ALTER FUNCTION classbill.store_usage_days(date, date) SECURITY DEFINER;
ALTER PROCEDURE classbill.close_day(date, text) OWNER TO classbill_owner;
ALTER PROCEDURE classbill.close_day(date, text) SECURITY DEFINER;
ALTER PROCEDURE classbill.close_yesterday() OWNER TO classbill_owner;
ALTER PROCEDURE classbill.close_yesterday() SECURITY DEFINER;
