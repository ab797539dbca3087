-- classbill 1.1 -> 1.2, first part (sql/upgrade/1.1--1.2-before.sql).
--
-- The upgrade script is this part, then the 1.2 install script with the
-- objects 1.1 already has left out (their types and tables are kept with
-- their rows; functions, views and triggers are created or replaced),
-- then sql/upgrade/1.1--1.2-after.sql.  See the Makefile.
--
-- Here: what 1.2 removes or renames goes, what moves to
-- classbill_internal moves, and the tables 1.1 has take their 1.2 shape
-- where the install script's functions and views need it.

\echo Use "ALTER EXTENSION classbill UPDATE" to load this file. \quit

-- Functions of 1.1 whose parameters or results 1.2 changes are dropped and
-- created again.  A view or function of yours that uses one would block
-- that; say which, before anything changes.
DO $$
DECLARE
  ext oid := (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'classbill');
  blockers text;
BEGIN
  WITH dropped(fn) AS (VALUES
    ('classbill.account_peaks(text, date, date)'),
    ('classbill.adjust_day(bigint, date, date, boolean, boolean, boolean)'),
    ('classbill.billable_days(date, date)'),
    ('classbill.breaches(date, date)'),
    ('classbill.close_regular(bigint, date)'),
    ('classbill.day_rooms(date)'),
    ('classbill.day_start(date)'),
    ('classbill.explain(bigint)'),
    ('classbill.export_basis(date, date, text)'),
    ('classbill.export_lines(date, date, text)'),
    ('classbill.keep_account_currency()'),
    ('classbill.late_recordings(date, date)'),
    ('classbill.pack_balances(date, text)'),
    ('classbill.pack_drawdown(date, date, text)'),
    ('classbill.pack_forecast(date, integer, text)'),
    ('classbill.pack_lines(date, date, text)'),
    ('classbill.pack_mixes(text, date, date, classbill.tier, numeric)'),
    ('classbill.pack_offer(classbill.tier, text, date)'),
    ('classbill.plan_advice(text, date, date, numeric)'),
    ('classbill.plan_costs(text, date, date, classbill.pack_choice[])'),
    ('classbill.present_peaks(date, date, text)'),
    ('classbill.rated_lines(date, date, text)'),
    ('classbill.room_values(date, date)'),
    ('classbill.source_columns(text)'),
    ('classbill.source_fingerprints(text, date, date)'),
    ('classbill.statement(date, text)'),
    ('classbill.statement_lines(date, text)'),
    ('classbill.statement_text(date, text)'),
    ('classbill.storage_basis(date, date, text)'),
    ('classbill.storage_gb(classbill.storage_day)'),
    ('classbill.storage_lines(date, date, text)'),
    ('classbill.usage_lines(date, date, text)'),
    ('classbill.usage_profile(text, date, date, numeric)')
  ),
  deps AS (
    SELECT d.classid, d.objid, f.fn
    FROM dropped AS f
    JOIN pg_catalog.pg_depend AS d ON d.refclassid = 'pg_catalog.pg_proc'::regclass
                                   AND d.refobjid = pg_catalog.to_regprocedure(f.fn)
    WHERE d.deptype IN ('n', 'a')),
  owners AS (
    SELECT deps.fn,
           CASE deps.classid
             WHEN 'pg_catalog.pg_rewrite'::regclass THEN (SELECT 'pg_catalog.pg_class'::regclass FROM pg_catalog.pg_rewrite WHERE oid = deps.objid)
             WHEN 'pg_catalog.pg_trigger'::regclass THEN 'pg_catalog.pg_class'::regclass
             ELSE deps.classid END AS classid,
           CASE deps.classid
             WHEN 'pg_catalog.pg_rewrite'::regclass THEN (SELECT ev_class FROM pg_catalog.pg_rewrite WHERE oid = deps.objid)
             WHEN 'pg_catalog.pg_trigger'::regclass THEN (SELECT tgrelid FROM pg_catalog.pg_trigger WHERE oid = deps.objid)
             ELSE deps.objid END AS objid
    FROM deps)
  SELECT string_agg(format('%s uses %s', pg_catalog.pg_describe_object(o.classid, o.objid, 0), o.fn), '; ')
  INTO blockers
  FROM owners AS o
  WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS e
                    WHERE e.classid = o.classid AND e.objid = o.objid AND e.refobjid = ext AND e.deptype = 'e');
  IF blockers IS NOT NULL THEN
    RAISE EXCEPTION 'classbill 1.2 renames the parameters of functions your objects use: %', blockers
      USING ERRCODE = '2BP01',
            HINT = 'Drop those objects, run ALTER EXTENSION classbill UPDATE, and create them again with the 1.2 names (README: "Names in 1.2").';
  END IF;
END $$;

-- Removed, or created again with their 1.2 parameters.
DROP ROUTINE classbill.account_peaks(text, date, date) CASCADE;
DROP ROUTINE classbill.adjust_day(bigint, date, date, boolean, boolean, boolean) CASCADE;
DROP ROUTINE classbill.billable_days(date, date) CASCADE;
DROP ROUTINE classbill.breaches(date, date) CASCADE;
DROP ROUTINE classbill.close_regular(bigint, date) CASCADE;
DROP ROUTINE classbill.day_rooms(date) CASCADE;
DROP ROUTINE classbill.day_start(date) CASCADE;
DROP ROUTINE classbill.explain(bigint) CASCADE;
DROP ROUTINE classbill.export_basis(date, date, text) CASCADE;
DROP ROUTINE classbill.export_lines(date, date, text) CASCADE;
DROP ROUTINE classbill.keep_account_currency() CASCADE;
DROP ROUTINE classbill.late_recordings(date, date) CASCADE;
DROP ROUTINE classbill.pack_balances(date, text) CASCADE;
DROP ROUTINE classbill.pack_drawdown(date, date, text) CASCADE;
DROP ROUTINE classbill.pack_forecast(date, integer, text) CASCADE;
DROP ROUTINE classbill.pack_lines(date, date, text) CASCADE;
DROP ROUTINE classbill.pack_mixes(text, date, date, classbill.tier, numeric) CASCADE;
DROP ROUTINE classbill.pack_offer(classbill.tier, text, date) CASCADE;
DROP ROUTINE classbill.plan_advice(text, date, date, numeric) CASCADE;
DROP ROUTINE classbill.plan_costs(text, date, date, classbill.pack_choice[]) CASCADE;
DROP ROUTINE classbill.present_peaks(date, date, text) CASCADE;
DROP ROUTINE classbill.rated_lines(date, date, text) CASCADE;
DROP ROUTINE classbill.room_values(date, date) CASCADE;
DROP ROUTINE classbill.source_columns(text) CASCADE;
DROP ROUTINE classbill.source_fingerprints(text, date, date) CASCADE;
DROP ROUTINE classbill.statement(date, text) CASCADE;
DROP ROUTINE classbill.statement_lines(date, text) CASCADE;
DROP ROUTINE classbill.statement_text(date, text) CASCADE;
DROP ROUTINE classbill.storage_basis(date, date, text) CASCADE;
DROP ROUTINE classbill.storage_gb(classbill.storage_day) CASCADE;
DROP ROUTINE classbill.storage_lines(date, date, text) CASCADE;
DROP ROUTINE classbill.usage_lines(date, date, text) CASCADE;
DROP ROUTINE classbill.usage_profile(text, date, date, numeric) CASCADE;
DROP TABLE classbill.ledger_fingerprints;

-- Internal steps move to classbill_internal (same functions; the install
-- script then replaces their definitions).
CREATE SCHEMA classbill_internal;
ALTER ROUTINE classbill.account_peak_combine(internal, internal) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.account_peak_deserial(bytea, internal) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.account_peak_final(internal) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.account_peak_serial(internal) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.account_peak_trans(internal, text, text, text, timestamp with time zone) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.advisor_account(text, date, date, numeric) SET SCHEMA classbill_internal;
DROP ROUTINE classbill.close_day(date, text);
ALTER ROUTINE classbill.draw(bigint, date, date, date) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.give_back(bigint, date, date) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.ledger_is_append_only() SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.missing_rate(text, classbill.product, classbill.mode, classbill.tier, text, date) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.missing_room(text) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.price_on(classbill.product, text, text, date) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.profile_drawdown(classbill.drawdown_use[], classbill.drawdown_pack[]) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.rollup_trans(classbill.usage, classbill.usage) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.room_usage_combine(internal, internal) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.room_usage_deserial(bytea, internal) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.room_usage_final(internal) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.room_usage_serial(internal) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.room_usage_trans(internal, text, text, timestamp with time zone) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.storage_combine(internal, internal) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.storage_deserial(bytea, internal) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.storage_final(internal) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.storage_serial(internal) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.storage_trans(internal, date, date, bigint, timestamp with time zone, interval, timestamp with time zone) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.store_usage_days(date, date) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill.account_daily_peaks_final(internal) SET SCHEMA classbill_internal;
ALTER ROUTINE classbill_internal.account_daily_peaks_final(internal) RENAME TO account_peak_by_day_final;
-- what moved keeps none of the grants it had in classbill: privileges.sql
-- grants what 1.2 grants
REVOKE ALL ON ALL ROUTINES IN SCHEMA classbill_internal FROM PUBLIC, classbill_reader, classbill_operator;

-- 1.1 ran closes as classbill_owner (SECURITY DEFINER); 1.2 writes as
-- classbill_writer, which owns nothing.  classbill_owner keeps nothing
-- of classbill's (the role itself stays: roles belong to the cluster).
DO $$
DECLARE
  r record;
BEGIN
  IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'classbill_owner') THEN
    FOR r IN
      SELECT p.oid::regprocedure AS fn FROM pg_catalog.pg_proc AS p
      WHERE p.pronamespace IN ('classbill'::regnamespace, 'classbill_internal'::regnamespace)
        AND p.proowner = 'classbill_owner'::regrole
    LOOP
      EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.fn,
                     (SELECT e.extowner::regrole::text FROM pg_catalog.pg_extension AS e WHERE e.extname = 'classbill'));
      EXECUTE format('ALTER ROUTINE %s SECURITY INVOKER', r.fn);
    END LOOP;
    REVOKE ALL ON ALL TABLES IN SCHEMA classbill FROM classbill_owner;
    REVOKE ALL ON ALL ROUTINES IN SCHEMA classbill FROM classbill_owner;
    REVOKE ALL ON ALL ROUTINES IN SCHEMA classbill_internal FROM classbill_owner;
    REVOKE ALL ON SCHEMA classbill FROM classbill_owner;
  END IF;
END $$;

-- Tables 1.1 has, in their 1.2 shape (columns appended in 1.2's order).
ALTER TABLE classbill.accounts
  ADD CONSTRAINT accounts_account_check CHECK (account <> '' AND account = btrim(account));
ALTER TABLE classbill.rates
  DROP CONSTRAINT rates_price_check,
  ADD CONSTRAINT rates_price_check CHECK (price >= 0 AND price < 'Infinity' AND scale(price) <= 6),
  ADD CONSTRAINT rates_valid_from_check CHECK (isfinite(valid_from));
ALTER TABLE classbill.pack_items
  ADD CONSTRAINT pack_items_item_check CHECK (item <> '');
ALTER TABLE classbill.pack_prices
  DROP CONSTRAINT pack_prices_item_fkey,
  ADD CONSTRAINT pack_prices_item_fkey FOREIGN KEY (item) REFERENCES classbill.pack_items,
  DROP CONSTRAINT pack_prices_price_check,
  ADD CONSTRAINT pack_prices_price_check CHECK (price >= 0 AND price < 'Infinity' AND scale(price) <= 6),
  ADD CONSTRAINT pack_prices_valid_from_check CHECK (isfinite(valid_from));
ALTER TABLE classbill.packs
  DROP CONSTRAINT packs_account_fkey,
  ADD CONSTRAINT packs_account_fkey FOREIGN KEY (account) REFERENCES classbill.accounts,
  DROP CONSTRAINT packs_item_tier_fkey,
  ADD CONSTRAINT packs_item_tier_fkey FOREIGN KEY (item, tier) REFERENCES classbill.pack_items (item, tier);
ALTER TABLE classbill.usage_days
  DROP CONSTRAINT usage_days_account_fkey,
  ADD CONSTRAINT usage_days_account_fkey FOREIGN KEY (account) REFERENCES classbill.accounts,
  DROP CONSTRAINT usage_days_seconds_check,
  ADD CONSTRAINT usage_days_seconds_check CHECK (seconds >= 0 AND seconds < 'Infinity' AND scale(seconds) <= 6),
  ADD CONSTRAINT usage_days_day_check CHECK (isfinite(day));
ALTER TABLE classbill.closes
  ALTER COLUMN closed_by SET DEFAULT session_user,
  ADD COLUMN recheck_days integer,
  ADD COLUMN watch_days integer;
ALTER TABLE classbill.ledger
  ADD COLUMN prev_hash bytea,
  ADD COLUMN hash bytea;
ALTER TABLE classbill.ledger_rooms
  DROP CONSTRAINT ledger_rooms_close_id_fkey,
  ADD COLUMN declared_mode classbill.mode,
  ADD COLUMN participants integer,
  ADD COLUMN room_digest bytea;
-- (minutes_of, as units.sql defines it, which the install script then
-- replaces with itself: the generated column needs it now)
CREATE FUNCTION classbill_internal.minutes_of(p_seconds numeric) RETURNS numeric
AS 'MODULE_PATHNAME', 'classbill_minutes_of'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- usage_days: minutes from the one definition of a minute, and the
-- billing time zone the days were stored under (the ledger's, when it has
-- one: 1.1 closed and stored in one zone)
ALTER TABLE classbill.usage_days DROP COLUMN minutes;
ALTER TABLE classbill.usage_days
  ADD COLUMN minutes bigint GENERATED ALWAYS AS (classbill_internal.minutes_of(seconds)) STORED;
DO $$
BEGIN
  EXECUTE format('ALTER TABLE classbill.usage_days ADD COLUMN billing_timezone text NOT NULL DEFAULT %L',
                 coalesce((SELECT c.billing_timezone FROM classbill.closes AS c ORDER BY c.close_id DESC LIMIT 1),
                          classbill.billing_timezone()));
END $$;
ALTER TABLE classbill.usage_days ALTER COLUMN billing_timezone SET DEFAULT classbill.billing_timezone();

DROP INDEX classbill.ledger_rooms_account_day_tier_mode_idx;
CREATE INDEX ledger_rooms_room_day_idx ON classbill.ledger_rooms (room, day);
CREATE INDEX ledger_rooms_day_idx ON classbill.ledger_rooms USING brin (day);

-- ---------------------------------------------------------------------
-- The 1.2 install script follows, without what 1.1 already has.
-- ---------------------------------------------------------------------
