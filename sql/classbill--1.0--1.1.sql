-- classbill 1.0 -> 1.1 (ALTER EXTENSION classbill UPDATE TO '1.1').
--
-- 1.1 adds: in_billing_zone (values built in another billing zone are an
-- error in billing); room_values sending the room list to foreign tables
-- (shards through postgres_fdw); register_source letting classbill_owner
-- read the source; close_day recording the session user as closed_by;
-- breaches reading present_peaks (with the advisor);
-- the plan advisor and the privileges (appended below
-- from sql/install/advisor.sql and sql/install/privileges.sql).

\echo Use "ALTER EXTENSION classbill UPDATE TO '1.1'" to load this file. \quit

CREATE FUNCTION classbill.in_billing_zone(classbill.usage) RETURNS classbill.usage
AS 'MODULE_PATHNAME', 'classbill_usage_in_billing_zone'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.in_billing_zone(classbill.usage) IS
  'The value itself if it was built for classbill.billing_timezone as set now, else an error naming both zones (values from other nodes)';

CREATE OR REPLACE FUNCTION classbill.room_values(p_from date, p_to date)
RETURNS TABLE (room text, account text, tier classbill.tier, declared_mode classbill.mode,
               mode classbill.mode, usage classbill.usage)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  events regclass := classbill.source('events');
  which text := format('IN (SELECT a.room FROM %s AS a WHERE a.at >= $1 AND a.at < $2)', events);
  room_type text;
  rooms text;
BEGIN
  -- Events on foreign tables (shards through postgres_fdw): the rooms
  -- are listed first and the list goes into the query as one constant,
  -- so that every shard runs room_usage on its own rows.  PostgreSQL 15
  -- does not send the semi-join of one server to the shards.
  IF EXISTS (SELECT FROM pg_partition_tree(events) AS t
             JOIN pg_class AS c ON c.oid = t.relid WHERE c.relkind = 'f') THEN
    SELECT format_type(a.atttypid, a.atttypmod) INTO room_type
    FROM pg_attribute AS a WHERE a.attrelid = events AND a.attname = 'room';
    EXECUTE format('SELECT array_agg(DISTINCT a.room)::text FROM %s AS a WHERE a.at >= $1 AND a.at < $2', events)
      INTO rooms USING classbill.day_start(p_from), classbill.day_start(p_to);
    which := format('= ANY (%L::%s[])', coalesce(rooms, '{}'), room_type);
  END IF;
  RETURN QUERY EXECUTE format($q$
    SELECT u.room::text,
           CASE WHEN r.room IS NULL THEN classbill.missing_room(u.room::text) ELSE r.account::text END,
           classbill.tier(r.width::integer, r.height::integer),
           r.mode::text::classbill.mode,
           classbill.room_mode(r.mode::text::classbill.mode, u.usage),
           u.usage
    FROM (SELECT e.room, classbill.in_billing_zone(classbill.room_usage(e.participant::text, e.event::text, e.at)) AS usage
          FROM %1$s AS e
          WHERE e.room %3$s
          GROUP BY e.room) AS u
    LEFT JOIN %2$s AS r ON r.room = u.room
    $q$, events, classbill.source('rooms'), which)
  USING classbill.day_start(p_from), classbill.day_start(p_to);
END $$;

CREATE OR REPLACE FUNCTION classbill.register_source(kind text, relation regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  need record;
  have regtype;
  problems text[] := '{}';
  nsp regnamespace;
  other record;
  other_room regtype;
BEGIN
  IF register_source.kind IS NULL
     OR register_source.kind NOT IN ('rooms', 'events', 'recordings', 'exports') THEN
    RAISE EXCEPTION 'unknown source kind "%"', register_source.kind
      USING ERRCODE = '22023', HINT = 'Source kinds are rooms, events, recordings and exports.';
  END IF;
  FOR need IN SELECT * FROM classbill.source_columns(register_source.kind) LOOP
    SELECT a.atttypid::regtype INTO have
    FROM pg_attribute AS a
    WHERE a.attrelid = relation AND a.attname = need."column" AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
      problems := problems || format('column "%s" is missing', need."column");
    ELSIF need.types IS NOT NULL AND NOT have = ANY (need.types) THEN
      problems := problems || format('column "%s" is %s, not one of %s', need."column", have,
                                     array_to_string(need.types, ', '));
    END IF;
  END LOOP;
  IF cardinality(problems) > 0 THEN
    RAISE EXCEPTION '% cannot be the % source: %', relation, register_source.kind,
                    array_to_string(problems, '; ')
      USING ERRCODE = '42804',
            HINT = format('The %s source needs the columns %s.', register_source.kind,
                          (SELECT string_agg(c."column", ', ')
                           FROM classbill.source_columns(register_source.kind) AS c));
  END IF;

  -- the sources are joined on room: one type for all of them
  SELECT a.atttypid::regtype INTO have FROM pg_attribute AS a
  WHERE a.attrelid = relation AND a.attname = 'room';
  FOR other IN SELECT s.kind, s.relation FROM classbill.sources AS s
               WHERE s.kind <> register_source.kind LOOP
    SELECT a.atttypid::regtype INTO other_room FROM pg_attribute AS a
    WHERE a.attrelid = other.relation AND a.attname = 'room';
    IF have IS DISTINCT FROM other_room THEN
      RAISE EXCEPTION 'column "room" of % is %, but room of % (the % source) is %',
                      relation, have, other.relation, other.kind, other_room
        USING ERRCODE = '42804', HINT = 'The sources are joined on room: give them one type.';
    END IF;
  END LOOP;

  -- closes read the sources with the rights of classbill_owner (they run
  -- as that role, SECURITY DEFINER): let it read this one
  SELECT c.relnamespace::regnamespace INTO nsp FROM pg_class AS c WHERE c.oid = register_source.relation;
  IF NOT has_schema_privilege('classbill_owner', nsp, 'USAGE') THEN
    EXECUTE format('GRANT USAGE ON SCHEMA %s TO classbill_owner', nsp);
    RAISE NOTICE 'granted USAGE on schema % to classbill_owner, which closes run as', nsp;
  END IF;
  IF NOT has_table_privilege('classbill_owner', register_source.relation, 'SELECT') THEN
    EXECUTE format('GRANT SELECT ON %s TO classbill_owner', register_source.relation);
    RAISE NOTICE 'granted SELECT on % to classbill_owner, which closes run as', register_source.relation;
  END IF;
  IF NOT has_schema_privilege('classbill_owner', nsp, 'USAGE')
     OR NOT has_table_privilege('classbill_owner', register_source.relation, 'SELECT') THEN
    RAISE EXCEPTION 'classbill_owner cannot read %, and you cannot let it', register_source.relation
      USING ERRCODE = '42501',
            HINT = format('Have the owners run: GRANT USAGE ON SCHEMA %s TO classbill_owner; GRANT SELECT ON %s TO classbill_owner;',
                          nsp, register_source.relation);
  END IF;

  INSERT INTO classbill.sources AS s (kind, relation)
  VALUES (register_source.kind, register_source.relation)
  ON CONFLICT ON CONSTRAINT sources_pkey
  DO UPDATE SET relation = EXCLUDED.relation, registered_at = now();
END $$;

CREATE OR REPLACE PROCEDURE classbill.close_day(p_day date, p_account text DEFAULT NULL)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tz text := classbill.billing_timezone();
  ledger_tz text;
  reach integer := classbill.recheck_days();
  v_close bigint;
  n_accounts integer;
  n_adjusted integer := 0;
  late record;
  d date;
  later record;
BEGIN
  -- A close must see what a close that ran while it waited wrote: each
  -- statement its own snapshot, taken after the lock below.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'classbill.close_day needs READ COMMITTED, not %',
                    upper(current_setting('transaction_isolation'))
      USING ERRCODE = '25001',
            HINT = 'Call it outside an explicit transaction, or in one begun with ISOLATION LEVEL READ COMMITTED.';
  END IF;

  -- SPEC 7.2: one close at a time; a second one waits here, then finds
  -- the day closed and says so
  PERFORM pg_advisory_xact_lock(hashtext('classbill.close_day'));

  SELECT c.billing_timezone INTO ledger_tz FROM classbill.closes AS c ORDER BY c.close_id DESC LIMIT 1;
  IF ledger_tz IS NOT NULL AND ledger_tz <> tz THEN
    RAISE EXCEPTION 'the ledger is kept in billing time zone %, but classbill.billing_timezone is %',
                    ledger_tz, tz
      USING ERRCODE = '22023',
            HINT = format('SET classbill.billing_timezone = %L before closing days.', ledger_tz);
  END IF;
  IF p_account IS NOT NULL AND NOT EXISTS (SELECT FROM classbill.accounts AS a WHERE a.account = p_account) THEN
    RAISE EXCEPTION 'account "%" is not in classbill.accounts', p_account USING ERRCODE = '22023';
  END IF;

  -- days close in order: a day after this one closed first is an error
  SELECT cd.account, max(cd.day) AS day INTO later FROM classbill.closed_days AS cd
  WHERE (p_account IS NULL OR cd.account = p_account) AND cd.day > p_day
    AND NOT EXISTS (SELECT FROM classbill.closed_days AS x WHERE x.account = cd.account AND x.day = p_day)
  GROUP BY cd.account LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'account "%" is closed up to %, after %', later.account, later.day, p_day
      USING ERRCODE = '55000',
            HINT = 'Billing days close in date order; a late change to an earlier day is billed as an adjustment.';
  END IF;

  -- days left open since an account's last close are closed first, in order
  FOR d IN
    SELECT g::date FROM generate_series(
      (SELECT min(x.last) + 1
       FROM (SELECT max(cd.day) AS last FROM classbill.closed_days AS cd
             WHERE p_account IS NULL OR cd.account = p_account
             GROUP BY cd.account) AS x),
      p_day - 1, '1 day') AS g
  LOOP
    CALL classbill.close_day(d, p_account);
  END LOOP;

  -- the accounts this day is still open for
  CREATE TEMP TABLE cb_accounts ON COMMIT DROP AS
  SELECT a.account FROM classbill.accounts AS a
  WHERE (p_account IS NULL OR a.account = p_account)
    AND NOT EXISTS (SELECT FROM classbill.closed_days AS cd WHERE cd.account = a.account AND cd.day = p_day);
  SELECT count(*) INTO n_accounts FROM cb_accounts;
  IF n_accounts = 0 THEN
    RAISE NOTICE 'billing day % is already closed%, nothing changed', p_day,
                 CASE WHEN p_account IS NULL THEN '' ELSE format(' for account "%s"', p_account) END;
    DROP TABLE cb_accounts;
    RETURN;
  END IF;

  -- closed_by: who called, not the role the close runs as
  INSERT INTO classbill.closes (day, billing_timezone, closed_by) VALUES (p_day, tz, session_user)
  RETURNING closes.close_id INTO v_close;

  -- 1. what the sources hold now, over the days a close may look at;
  --    read before anything is computed, so a row that arrives during
  --    the close is at worst seen twice, never missed
  CREATE TEMP TABLE cb_fingerprints ON COMMIT DROP AS
  SELECT s.source, f.day, f.rows, f.checksum
  FROM unnest(ARRAY['events', 'recordings', 'exports']) AS s(source),
       LATERAL classbill.source_fingerprints(s.source, p_day - reach - 1, p_day + 2) AS f;

  -- 2. late rows: days whose rows differ from what the accounts' last
  --    close read, and the closed days they can change
  FOR late IN
    WITH last_close AS (
      SELECT DISTINCT (SELECT max(cd.close_id) FROM classbill.closed_days AS cd
                       WHERE cd.account = c.account) AS close_id
      FROM cb_accounts AS c),
    seen AS (
      SELECT DISTINCT ON (lc.close_id, f.source, f.day) lc.close_id, f.source, f.day, f.rows, f.checksum
      FROM last_close AS lc
      JOIN classbill.ledger_fingerprints AS f ON f.close_id <= lc.close_id
      WHERE f.day >= p_day - reach - 1 AND f.day <= p_day + 1
      ORDER BY lc.close_id, f.source, f.day, f.close_id DESC),
    now_seen AS (
      SELECT lc.close_id, nw.source, nw.day, nw.rows, nw.checksum
      FROM last_close AS lc CROSS JOIN cb_fingerprints AS nw
      WHERE lc.close_id IS NOT NULL),
    changed AS (
      SELECT coalesce(nw.source, s.source) AS source, coalesce(nw.day, s.day) AS day
      FROM now_seen AS nw
      FULL JOIN seen AS s ON s.close_id = nw.close_id AND s.source = nw.source AND s.day = nw.day
      WHERE nw.rows IS DISTINCT FROM s.rows OR nw.checksum IS DISTINCT FROM s.checksum)
    SELECT dd.day,
           bool_or(ch.source = 'events') AS usage,
           bool_or(ch.source = 'recordings') AS storage,
           bool_or(ch.source = 'exports') AS exports
    FROM changed AS ch
    CROSS JOIN LATERAL (
      SELECT x::date AS day FROM generate_series(
        CASE ch.source WHEN 'events' THEN ch.day - 1 ELSE ch.day END,
        CASE ch.source WHEN 'events' THEN ch.day + 1 WHEN 'recordings' THEN p_day - 1 ELSE ch.day END,
        '1 day') AS x) AS dd
    WHERE dd.day < p_day AND dd.day >= p_day - reach
    GROUP BY dd.day
    ORDER BY dd.day
  LOOP
    n_adjusted := n_adjusted + classbill.adjust_day(v_close, p_day, late.day,
                                                    late.usage, late.storage, late.exports);
  END LOOP;

  -- 3. the day itself
  PERFORM classbill.close_regular(v_close, p_day);

  INSERT INTO classbill.ledger_fingerprints (close_id, source, day, rows, checksum)
  SELECT v_close, f.source, f.day, f.rows, f.checksum FROM cb_fingerprints AS f;
  INSERT INTO classbill.closed_days (account, day, close_id)
  SELECT c.account, p_day, v_close FROM cb_accounts AS c;

  RAISE NOTICE 'closed billing day % for % account(s): % line(s), % adjusted',
               p_day, n_accounts,
               (SELECT count(*) FROM classbill.ledger AS l WHERE l.close_id = v_close), n_adjusted;
  DROP TABLE cb_accounts, cb_fingerprints;
END $$;
COMMENT ON TABLE classbill.closes IS
  'One row per close: the billing day closed, the zone it was closed in, when and by whom (the session user)';

CREATE OR REPLACE FUNCTION classbill.breaches(p_from date, p_to date)
RETURNS TABLE (kind text, account text, plan classbill.plan, room text, day date,
               at timestamptz, "limit" integer, peak integer, over integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tz text := classbill.billing_timezone();
BEGIN
  -- rooms over their plan's stage limit
  RETURN QUERY
  SELECT 'stage'::text, v.account, a.plan, v.room,
         (classbill.stage_peak_at(v.usage) AT TIME ZONE tz)::date,
         classbill.stage_peak_at(v.usage), l.max_on_stage,
         classbill.stage_peak(v.usage), classbill.stage_peak(v.usage) - l.max_on_stage
  FROM classbill.room_values(p_from, p_to) AS v
  JOIN classbill.accounts AS a ON a.account = v.account
  CROSS JOIN LATERAL classbill.plan_limits(a.plan) AS l
  WHERE classbill.stage_peak(v.usage) > l.max_on_stage
    AND (classbill.stage_peak_at(v.usage) AT TIME ZONE tz)::date >= p_from
    AND (classbill.stage_peak_at(v.usage) AT TIME ZONE tz)::date < p_to;

  -- accounts over their plan's cap on participants present at once
  RETURN QUERY
  SELECT 'present'::text, pp.account, a.plan, NULL::text, pp.day, pp.at,
         l.max_present, pp.peak, pp.peak - l.max_present
  FROM classbill.present_peaks(p_from, p_to) AS pp
  JOIN classbill.accounts AS a ON a.account = pp.account
  CROSS JOIN LATERAL classbill.plan_limits(a.plan) AS l
  WHERE l.max_present IS NOT NULL AND pp.peak > l.max_present;
END $$;

-- ---------------------------------------------------------------------
-- The plan advisor: what should this account buy?
--
-- Everything here prices a period of an account's usage (its stored
-- daily quantities) with the drawdown real bills use (classbill.drawdown,
-- SPEC 3.5): postpaid is the drawdown with no pack, a pack mix is the
-- drawdown with packs bought on the period's first day.
-- ---------------------------------------------------------------------

CREATE TYPE classbill.pack_choice AS (item text, count integer);
COMMENT ON TYPE classbill.pack_choice IS
  'So many packs of a catalog item (the item names its tier), for pricing a period with them';

-- Checks shared by the advisor's functions.
CREATE FUNCTION classbill.advisor_account(p_account text, p_from date, p_to date, p_growth numeric)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text;
BEGIN
  SELECT a.currency INTO cur FROM classbill.accounts AS a WHERE a.account = p_account;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'account "%" is not in classbill.accounts', p_account USING ERRCODE = '22023';
  END IF;
  IF p_from IS NULL OR p_to IS NULL OR NOT isfinite(p_from) OR NOT isfinite(p_to) OR p_from >= p_to THEN
    RAISE EXCEPTION 'the period [%, %) is not a range of billing days', p_from, p_to
      USING ERRCODE = '22023';
  END IF;
  IF p_growth IS NULL OR p_growth < 0 THEN
    RAISE EXCEPTION 'growth factor % is not a number of times the past usage (0 or more)',
                    coalesce(p_growth::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  RETURN cur;
END $$;
COMMENT ON FUNCTION classbill.advisor_account(text, date, date, numeric) IS
  'Internal to the advisor: the account''s currency, after checking the account, the period and the growth factor';

-- An account's usage of [from, to) per tier as drawdown input: each day's
-- minutes of each mode times the growth factor, rounded up to a minute,
-- with the postpaid rate in effect that day.
CREATE FUNCTION classbill.usage_profile(p_account text, p_from date, p_to date,
                                        p_growth numeric DEFAULT 1)
RETURNS TABLE (tier classbill.tier, minutes bigint, uses classbill.drawdown_use[])
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text := classbill.advisor_account(p_account, p_from, p_to, p_growth);
BEGIN
  RETURN QUERY
  SELECT u.tier, sum(s.minutes)::bigint,
         array_agg(ROW(u.day, u.mode, s.minutes,
                       CASE WHEN r.price IS NOT NULL THEN r.price
                            ELSE classbill.missing_rate(p_account, 'usage', u.mode, u.tier, cur, u.day) END
                      )::classbill.drawdown_use ORDER BY u.day, u.mode)
  FROM classbill.usage_days AS u
  CROSS JOIN LATERAL (SELECT ceil(u.minutes * p_growth)::bigint AS minutes) AS s
  LEFT JOIN classbill.rate_periods AS r
    ON r.product = 'usage' AND r.mode = u.mode AND r.tier = u.tier AND r.currency = cur
   AND u.day >= r.valid_from AND u.day < r.valid_to
  WHERE u.account = p_account AND u.day >= p_from AND u.day < p_to AND s.minutes > 0
  GROUP BY u.tier
  ORDER BY u.tier;
END $$;
COMMENT ON FUNCTION classbill.usage_profile(text, date, date, numeric) IS
  'An account''s usage of the billing days [from, to) per tier, as drawdown input: each day''s minutes per mode times the growth factor, rounded up, with the rate in effect that day (from classbill.usage_days)';

-- The packs of a tier on sale on a day, at their catalog price.
CREATE FUNCTION classbill.pack_offer(p_tier classbill.tier, p_currency text, p_day date)
RETURNS TABLE (item text, minutes bigint, price numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT i.item, i.minutes, p.price
  FROM classbill.pack_items AS i
  CROSS JOIN LATERAL (
    SELECT pp.price FROM classbill.pack_prices AS pp
    WHERE pp.item = i.item AND pp.currency = p_currency AND pp.valid_from <= p_day
    ORDER BY pp.valid_from DESC LIMIT 1) AS p
  WHERE i.tier = p_tier
  ORDER BY i.minutes DESC, i.item
$$;
COMMENT ON FUNCTION classbill.pack_offer(classbill.tier, text, date) IS
  'The catalog items of a tier with a price in the currency on the day, largest first';

-- Drawdown of one tier's profile with packs bought at the start.
CREATE FUNCTION classbill.profile_drawdown(p_uses classbill.drawdown_use[],
                                           p_packs classbill.drawdown_pack[],
                                           OUT covered bigint, OUT overage bigint,
                                           OUT overage_amount numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(sum(d.minutes) FILTER (WHERE d.pack_id IS NOT NULL), 0)::bigint,
         coalesce(sum(d.minutes) FILTER (WHERE d.pack_id IS NULL), 0)::bigint,
         coalesce(sum(d.amount), 0)
  FROM classbill.drawdown(p_uses, p_packs) AS d
$$;
COMMENT ON FUNCTION classbill.profile_drawdown(classbill.drawdown_use[], classbill.drawdown_pack[]) IS
  'Minutes the packs cover, overage minutes and the overage amount of a usage profile (classbill.drawdown)';

-- Cost of history under each plan ---------------------------------------

CREATE FUNCTION classbill.plan_costs(p_account text, p_from date, p_to date,
                                     p_packs classbill.pack_choice[] DEFAULT NULL)
RETURNS TABLE (scenario text, tier classbill.tier, minutes bigint, covered bigint, overage bigint,
               usage_amount numeric, pack_amount numeric, total numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text := classbill.advisor_account(p_account, p_from, p_to, 1);
  n_days integer := p_to - p_from;
  bad record;
BEGIN
  -- as billed: the ledger when every day of the period is closed for the
  -- account, else the lines rated now
  IF (SELECT count(*) FROM classbill.closed_days AS cd
      WHERE cd.account = p_account AND cd.day >= p_from AND cd.day < p_to) = n_days THEN
    RETURN QUERY
    SELECT 'as billed (ledger)'::text, l.tier,
           sum(l.quantity) FILTER (WHERE l.product = 'usage')::bigint,
           coalesce(sum(l.quantity) FILTER (WHERE l.product = 'usage' AND l.pack_id IS NOT NULL), 0)::bigint,
           coalesce(sum(l.quantity) FILTER (WHERE l.product = 'usage' AND l.pack_id IS NULL), 0)::bigint,
           coalesce(sum(l.amount) FILTER (WHERE l.product = 'usage'), 0),
           coalesce(sum(l.amount) FILTER (WHERE l.product = 'pack'), 0),
           sum(l.amount)
    FROM classbill.ledger AS l
    WHERE l.account = p_account AND l.day >= p_from AND l.day < p_to AND l.product IN ('usage', 'pack')
    GROUP BY l.tier ORDER BY l.tier;
  ELSE
    RETURN QUERY
    SELECT 'as billed (rated now)'::text, l.tier,
           sum(l.quantity) FILTER (WHERE l.product = 'usage')::bigint,
           coalesce(sum(l.quantity) FILTER (WHERE l.product = 'usage' AND l.pack_id IS NOT NULL), 0)::bigint,
           coalesce(sum(l.quantity) FILTER (WHERE l.product = 'usage' AND l.pack_id IS NULL), 0)::bigint,
           coalesce(sum(l.amount) FILTER (WHERE l.product = 'usage'), 0),
           coalesce(sum(l.amount) FILTER (WHERE l.product = 'pack'), 0),
           sum(l.amount)
    FROM (SELECT * FROM classbill.usage_lines(p_from, p_to, p_account)
          UNION ALL SELECT * FROM classbill.pack_lines(p_from, p_to, p_account)) AS l
    GROUP BY l.tier ORDER BY l.tier;
  END IF;

  -- all postpaid: the drawdown with no pack
  RETURN QUERY
  SELECT 'postpaid'::text, p.tier, p.minutes, d.covered, d.overage, d.overage_amount, 0::numeric,
         d.overage_amount
  FROM classbill.usage_profile(p_account, p_from, p_to) AS p,
       classbill.profile_drawdown(p.uses, NULL) AS d;

  IF p_packs IS NULL THEN
    RETURN;
  END IF;

  -- prepaid with the packs given, bought on the first day at their
  -- catalog prices
  SELECT c.item, c.count INTO bad FROM unnest(p_packs) AS c
  WHERE c.count IS NULL OR c.count < 0
     OR NOT EXISTS (SELECT FROM classbill.pack_items AS i WHERE i.item = c.item) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'pack choice (%, %) names no catalog item, or a count below 0',
                    coalesce(bad.item, 'NULL'), coalesce(bad.count::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  SELECT c.item INTO bad FROM unnest(p_packs) AS c JOIN classbill.pack_items AS i USING (item)
  WHERE c.count > 0 AND NOT EXISTS (SELECT FROM classbill.pack_offer(i.tier, cur, p_from) AS o
                                    WHERE o.item = c.item) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'no price for pack item "%" in % on %', bad.item, cur, p_from
      USING ERRCODE = 'P0002',
            HINT = 'Add the price to classbill.pack_prices, valid from that day or earlier.';
  END IF;

  RETURN QUERY
  WITH chosen AS (
    SELECT i.tier, c.item, c.count, i.minutes, o.price
    FROM unnest(p_packs) AS c
    JOIN classbill.pack_items AS i USING (item)
    JOIN LATERAL classbill.pack_offer(i.tier, cur, p_from) AS o ON o.item = c.item
    WHERE c.count > 0),
  one_by_one AS (
    SELECT ch.tier, ch.minutes, ch.price, -row_number() OVER (ORDER BY ch.tier, ch.item) AS pack_id
    FROM chosen AS ch, generate_series(1, ch.count)),
  packs AS (
    SELECT b.tier,
           array_agg(ROW(b.pack_id, classbill.day_start(p_from), b.minutes)::classbill.drawdown_pack
                     ORDER BY b.pack_id DESC) AS packs,
           sum(b.price) AS amount
    FROM one_by_one AS b
    GROUP BY b.tier)
  SELECT 'prepaid with the packs given'::text, coalesce(p.tier, k.tier), coalesce(p.minutes, 0),
         coalesce(d.covered, 0), coalesce(d.overage, 0), coalesce(d.overage_amount, 0),
         coalesce(k.amount, 0), coalesce(d.overage_amount, 0) + coalesce(k.amount, 0)
  FROM classbill.usage_profile(p_account, p_from, p_to) AS p
  FULL JOIN packs AS k ON k.tier = p.tier
  LEFT JOIN LATERAL classbill.profile_drawdown(p.uses, k.packs) AS d ON true
  ORDER BY 2;
END $$;
COMMENT ON FUNCTION classbill.plan_costs(text, date, date, classbill.pack_choice[]) IS
  'What an account''s usage of [from, to) cost per tier as billed (the ledger if every day is closed, else rated now), what it would have cost all postpaid, and with the packs given bought on the first day; the same drawdown as real bills';

-- The cheapest pack mix --------------------------------------------------

-- Every pack mix worth considering for one tier of a profile: for each
-- capacity that is a multiple of the greatest common divisor of the
-- items' sizes, from none up to the first that covers everything plus
-- the largest item, the cheapest way to buy exactly that capacity
-- (unbounded knapsack, exact), and the cost of the profile with it.
-- More capacity than that never costs less: some pack could be left out.
CREATE FUNCTION classbill.pack_mixes(p_account text, p_from date, p_to date, p_tier classbill.tier,
                                     p_growth numeric DEFAULT 1)
RETURNS TABLE (packs text, pack_count integer, capacity bigint, pack_amount numeric,
               minutes bigint, covered bigint, overage bigint, overage_amount numeric, total numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text := classbill.advisor_account(p_account, p_from, p_to, p_growth);
  prof record;
  items text[];
  sizes bigint[];
  prices numeric[];
  unit bigint;
  units integer[];
  n_items integer;
  last_k integer;
  best numeric[];
  best_n integer[];
  best_mix text[];
  k integer;
  i integer;
  c numeric;
  mix integer[];
  d record;
  label text;
  j integer;
BEGIN
  SELECT p.* INTO prof FROM classbill.usage_profile(p_account, p_from, p_to, p_growth) AS p
  WHERE p.tier = p_tier;
  IF NOT FOUND THEN
    prof := ROW(p_tier, 0::bigint, NULL::classbill.drawdown_use[]);
  END IF;
  SELECT array_agg(o.item ORDER BY o.minutes DESC, o.item), array_agg(o.minutes ORDER BY o.minutes DESC, o.item),
         array_agg(o.price ORDER BY o.minutes DESC, o.item)
  INTO items, sizes, prices
  FROM classbill.pack_offer(p_tier, cur, p_from) AS o;
  n_items := coalesce(cardinality(items), 0);

  -- no packs at all
  SELECT x.* INTO d FROM classbill.profile_drawdown(prof.uses, NULL) AS x;
  packs := 'none'; pack_count := 0; capacity := 0; pack_amount := 0;
  minutes := prof.minutes; covered := d.covered; overage := d.overage;
  overage_amount := d.overage_amount; total := d.overage_amount;
  RETURN NEXT;
  IF n_items = 0 OR prof.minutes = 0 THEN
    RETURN;
  END IF;

  unit := sizes[1];
  FOR i IN 2 .. n_items LOOP
    unit := gcd(unit, sizes[i]);
  END LOOP;
  units := ARRAY(SELECT (s / unit)::integer FROM unnest(sizes) AS s);
  last_k := ((prof.minutes + unit - 1) / unit)::integer + units[1];

  -- best[k + 1]: the cheapest set of packs of exactly k units
  best := array_fill(NULL::numeric, ARRAY[last_k + 1]);
  best_n := array_fill(NULL::integer, ARRAY[last_k + 1]);
  best_mix := array_fill(NULL::text, ARRAY[last_k + 1]);
  best[1] := 0; best_n[1] := 0; best_mix[1] := array_to_string(array_fill(0, ARRAY[n_items]), ',');
  FOR k IN 1 .. last_k LOOP
    FOR i IN 1 .. n_items LOOP
      CONTINUE WHEN units[i] > k OR best[k - units[i] + 1] IS NULL;
      c := best[k - units[i] + 1] + prices[i];
      IF best[k + 1] IS NULL OR c < best[k + 1]
         OR (c = best[k + 1] AND best_n[k - units[i] + 1] + 1 < best_n[k + 1]) THEN
        best[k + 1] := c;
        best_n[k + 1] := best_n[k - units[i] + 1] + 1;
        mix := string_to_array(best_mix[k - units[i] + 1], ',')::integer[];
        mix[i] := mix[i] + 1;
        best_mix[k + 1] := array_to_string(mix, ',');
      END IF;
    END LOOP;
  END LOOP;

  FOR k IN 1 .. last_k LOOP
    CONTINUE WHEN best[k + 1] IS NULL;
    mix := string_to_array(best_mix[k + 1], ',')::integer[];
    label := NULL;
    FOR j IN 1 .. n_items LOOP
      IF mix[j] > 0 THEN
        label := concat_ws(' + ', label, format('%s x %s', mix[j], items[j]));
      END IF;
    END LOOP;
    SELECT x.* INTO d
    FROM classbill.profile_drawdown(prof.uses,
           ARRAY[ROW(0, classbill.day_start(p_from), k * unit)::classbill.drawdown_pack]) AS x;
    packs := label; pack_count := best_n[k + 1]; capacity := k * unit; pack_amount := best[k + 1];
    minutes := prof.minutes; covered := d.covered; overage := d.overage;
    overage_amount := d.overage_amount; total := best[k + 1] + d.overage_amount;
    RETURN NEXT;
  END LOOP;
END $$;
COMMENT ON FUNCTION classbill.pack_mixes(text, date, date, classbill.tier, numeric) IS
  'Every pack mix worth considering for one tier of an account''s usage of [from, to) times a growth factor: per capacity, the cheapest packs giving exactly it (exact integer search) and the cost of the period with them bought on its first day';

-- Per account and billing day of [from, to), the most participants
-- present at once across its rooms (SPEC 3.6); breaches and the advisor
-- read it.
CREATE FUNCTION classbill.present_peaks(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS TABLE (account text, day date, peak integer, at timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY EXECUTE format($q$
    SELECT p.account, d.day, d.peak, d.at
    FROM (SELECT r.account::text AS account,
                 classbill.account_daily_peaks(e.room::text, e.participant::text, e.event::text, e.at) AS days
          FROM %1$s AS e JOIN %2$s AS r ON r.room = e.room
          WHERE ($5::text IS NULL OR r.account::text = $5)
            AND e.room IN (SELECT x.room FROM %1$s AS x WHERE x.at >= $1 AND x.at < $2)
          GROUP BY r.account) AS p,
         unnest(p.days) AS d
    WHERE d.day >= $3 AND d.day < $4
    $q$, classbill.source('events'), classbill.source('rooms'))
  USING classbill.day_start(p_from), classbill.day_start(p_to), p_from, p_to, p_account;
END $$;
COMMENT ON FUNCTION classbill.present_peaks(date, date, text) IS
  'Per account (or the one given) and billing day of [from, to), the most participants present at once across its rooms and the first instant of it (SPEC 3.6)';

-- The account's peaks over a period, against the prepaid limits (SPEC 3.6).
CREATE FUNCTION classbill.account_peaks(p_account text, p_from date, p_to date,
  OUT stage_peak integer, OUT stage_room text, OUT stage_at timestamptz,
  OUT present_peak integer, OUT present_at timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM classbill.sources AS s WHERE s.kind = 'events')
     OR NOT EXISTS (SELECT FROM classbill.sources AS s WHERE s.kind = 'rooms') THEN
    RETURN;
  END IF;
  SELECT classbill.stage_peak(v.usage), v.room, classbill.stage_peak_at(v.usage)
  INTO stage_peak, stage_room, stage_at
  FROM classbill.room_values(p_from, p_to) AS v
  WHERE v.account = p_account
  ORDER BY classbill.stage_peak(v.usage) DESC, classbill.stage_peak_at(v.usage), v.room
  LIMIT 1;
  SELECT pp.peak, pp.at INTO present_peak, present_at
  FROM classbill.present_peaks(p_from, p_to, p_account) AS pp
  ORDER BY pp.peak DESC, pp.at LIMIT 1;
END $$;
COMMENT ON FUNCTION classbill.account_peaks(text, date, date) IS
  'The most on stage in one of the account''s rooms and the most present at once across its rooms in [from, to), with where and when (NULLs without events and rooms sources)';

-- The advice ---------------------------------------------------------------

CREATE FUNCTION classbill.plan_advice(p_account text, p_from date, p_to date,
                                      p_growth numeric DEFAULT 1)
RETURNS TABLE (tier classbill.tier, minutes bigint, postpaid numeric, packs text,
               pack_amount numeric, overage bigint, overage_amount numeric, cheapest numeric,
               saving numeric, advice text, break_even text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text := classbill.advisor_account(p_account, p_from, p_to, p_growth);
  acct record;
  lim record;
  pk record;
  t classbill.tier;
  mix record;
  m record;
  none record;
  have_best boolean;
  n_tiers integer := 0;
  sum_minutes bigint := 0;
  mean numeric;
  o record;
  prev_item text;
  prev_minutes bigint;
  prev_price numeric;
  notes text;
  sum_post numeric := 0;
  sum_best numeric := 0;
  sum_packs numeric := 0;
  billed numeric;
  blocked text;
  any_pack boolean := false;
BEGIN
  SELECT a.* INTO acct FROM classbill.accounts AS a WHERE a.account = p_account;
  SELECT l.* INTO lim FROM classbill.plan_limits('prepaid') AS l;
  SELECT x.* INTO pk FROM classbill.account_peaks(p_account, p_from, p_to) AS x;
  IF pk.stage_peak > lim.max_on_stage THEN
    blocked := format('%s on stage in room %s at %s (prepaid allows %s)', pk.stage_peak, pk.stage_room,
                      to_char(pk.stage_at AT TIME ZONE classbill.billing_timezone(), 'YYYY-MM-DD HH24:MI'),
                      lim.max_on_stage);
  END IF;
  IF pk.present_peak > lim.max_present THEN
    blocked := concat_ws('; ', blocked,
                         format('%s present at once at %s (prepaid allows %s)', pk.present_peak,
                                to_char(pk.present_at AT TIME ZONE classbill.billing_timezone(), 'YYYY-MM-DD HH24:MI'),
                                lim.max_present));
  END IF;

  FOR t IN SELECT p.tier FROM classbill.usage_profile(p_account, p_from, p_to, p_growth) AS p LOOP
    -- one search per tier: its first row is the mix of no packs; the
    -- cheapest is the lowest total, then the smaller outlay
    have_best := false;
    FOR mix IN SELECT * FROM classbill.pack_mixes(p_account, p_from, p_to, t, p_growth) LOOP
      IF mix.pack_count = 0 THEN
        none := mix;
      END IF;
      IF NOT have_best THEN
        m := mix;
        have_best := true;
      ELSIF (mix.total, mix.pack_amount, mix.capacity) < (m.total, m.pack_amount, m.capacity) THEN
        m := mix;
      END IF;
    END LOOP;
    n_tiers := n_tiers + 1;
    sum_minutes := sum_minutes + none.minutes;

    -- break-even volumes at this period's mean rate of the tier
    notes := NULL;
    mean := CASE WHEN none.minutes > 0 THEN none.total / none.minutes END;
    prev_item := NULL;
    IF mean > 0 THEN
      FOR o IN SELECT * FROM classbill.pack_offer(t, cur, p_from) ORDER BY minutes LOOP
        notes := concat_ws('; ', notes,
                           format('%s pays for itself from %s min', o.item, to_char(ceil(o.price / mean), 'FM999,999,999,999')));
        IF prev_item IS NOT NULL AND o.price > prev_price THEN
          notes := concat_ws('; ', notes,
                             format('%s beats %s plus overage from %s min', o.item, prev_item,
                                    to_char(ceil(prev_minutes + (o.price - prev_price) / mean), 'FM999,999,999,999')));
        END IF;
        prev_item := o.item; prev_minutes := o.minutes; prev_price := o.price;
      END LOOP;
      notes := notes || format(' (at %s a minute, the mean rate of these minutes)', round(mean, 6));
    END IF;

    tier := t; minutes := none.minutes; postpaid := trim_scale(none.total);
    IF blocked IS NULL AND m.pack_count > 0 AND m.total < none.total THEN
      packs := m.packs; pack_amount := trim_scale(m.pack_amount); overage := m.overage;
      overage_amount := trim_scale(m.overage_amount); cheapest := trim_scale(m.total);
      saving := trim_scale(none.total - m.total);
      advice := format('buy %s: %s instead of %s postpaid', m.packs, classbill.round_money(m.total, cur),
                       classbill.round_money(none.total, cur));
      any_pack := true;
    ELSE
      packs := NULL; pack_amount := 0; overage := none.overage;
      overage_amount := trim_scale(none.overage_amount); cheapest := trim_scale(none.total); saving := 0;
      advice := CASE
        WHEN blocked IS NOT NULL AND m.pack_count > 0 AND m.total < none.total
          THEN format('postpaid: %s would cost %s instead of %s, but prepaid does not fit this account',
                      m.packs, classbill.round_money(m.total, cur), classbill.round_money(none.total, cur))
        ELSE 'postpaid: no pack costs less than the minutes' END;
    END IF;
    break_even := notes;
    sum_post := sum_post + postpaid;
    sum_best := sum_best + cheapest;
    sum_packs := sum_packs + pack_amount;
    RETURN NEXT;
  END LOOP;

  -- the account: its plan, as billed, and the verdict
  SELECT sum(c.total) INTO billed FROM classbill.plan_costs(p_account, p_from, p_to) AS c
  WHERE c.scenario LIKE 'as billed%';
  tier := NULL; minutes := CASE WHEN n_tiers > 0 THEN sum_minutes END;
  postpaid := sum_post; packs := NULL; pack_amount := sum_packs; overage := NULL; overage_amount := NULL;
  cheapest := trim_scale(sum_best);
  postpaid := trim_scale(sum_post); pack_amount := trim_scale(sum_packs);
  saving := CASE WHEN p_growth = 1 THEN trim_scale(coalesce(billed, 0) - sum_best) END;
  advice := CASE
    WHEN blocked IS NOT NULL THEN format('postpaid: prepaid would not fit: %s', blocked)
    WHEN any_pack THEN format('prepaid with the packs above: %s instead of %s all postpaid',
                              classbill.round_money(sum_best, cur), classbill.round_money(sum_post, cur))
    ELSE 'postpaid: no pack would have saved anything' END
    || format(' (now %s%s)', acct.plan,
              CASE WHEN p_growth = 1 THEN format(', billed %s for these minutes and packs',
                                                 classbill.round_money(coalesce(billed, 0), cur))
                   ELSE format(', usage scaled by %s', p_growth) END);
  break_even := NULL;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION classbill.plan_advice(text, date, date, numeric) IS
  'Which plan and packs would have been cheapest for an account''s usage of [from, to), or for that usage times a growth factor: per tier the cheapest pack mix (exact), its cost against postpaid and the break-even volumes; then the account''s verdict, postpaid if its peaks break the prepaid limits (SPEC 3.6), and the saving against what it was billed';

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

-- Closes now run as classbill_owner: let it read the sources registered
-- under 1.0, and their schemas.
DO $$
DECLARE
  src record;
BEGIN
  FOR src IN SELECT s.relation, c.relnamespace::regnamespace AS nsp
             FROM classbill.sources AS s JOIN pg_catalog.pg_class AS c ON c.oid = s.relation LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA %s TO classbill_owner', src.nsp);
    EXECUTE format('GRANT SELECT ON %s TO classbill_owner', src.relation);
  END LOOP;
END $$;
