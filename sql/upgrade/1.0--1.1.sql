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
