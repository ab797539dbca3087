
-- ---------------------------------------------------------------------
-- Sources: where the service's own rows live, registered once, so that
-- quantities, reports and scheduled jobs need nothing but the days
-- ---------------------------------------------------------------------

CREATE TABLE classbill.sources (
  kind          text PRIMARY KEY CHECK (kind IN ('rooms', 'events', 'recordings', 'exports')),
  relation      regclass NOT NULL,
  registered_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE classbill.sources IS
  'The table or view holding each kind of source row; set with classbill.register_source, which checks the columns';
SELECT pg_catalog.pg_extension_config_dump('classbill.sources', '');

-- The columns each kind must supply, and the types they may have.
CREATE FUNCTION classbill.source_columns(kind text,
  OUT "column" text, OUT types regtype[], OUT nullable boolean)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT c.col, c.types::regtype[], c.nullable
  FROM (VALUES
    ('rooms',  'room',        NULL::text[],                                          false),
    ('rooms',  'account',     '{text,varchar,bpchar}',                               false),
    ('rooms',  'mode',        '{text,varchar,bpchar,classbill.mode}',                true),
    ('rooms',  'width',       '{int2,int4,int8}',                                    false),
    ('rooms',  'height',      '{int2,int4,int8}',                                    false),
    ('events', 'room',        NULL::text[],                                          false),
    ('events', 'participant', '{text,varchar,bpchar}',                               true),
    ('events', 'event',       '{text,varchar,bpchar}',                               false),
    ('events', 'at',          '{timestamptz}',                                       false),
    ('recordings', 'room',    NULL::text[],                                          false),
    ('recordings', 'bytes',   '{int2,int4,int8}',                                    false),
    ('recordings', 'ready_at', '{timestamptz}',                                      false),
    ('recordings', 'retention', '{interval}',                                        true),
    ('recordings', 'deleted_at', '{timestamptz}',                                    true),
    ('exports', 'room',       NULL::text[],                                          false),
    ('exports', 'processed',  '{interval}',                                          false),
    ('exports', 'finished_at', '{timestamptz}',                                      false)
  ) AS c(kind, col, types, nullable)
  WHERE c.kind = $1
$$;
COMMENT ON FUNCTION classbill.source_columns(text) IS
  'The columns a source of a kind must have, with the types allowed (NULL: any type, the same in every source)';

CREATE FUNCTION classbill.register_source(kind text, relation regclass)
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
COMMENT ON FUNCTION classbill.register_source(text, regclass) IS
  'Tell classbill where rooms (room, account, mode, width, height), events (room, participant, event, at), recordings (room, bytes, ready_at, retention, deleted_at) or exports (room, processed, finished_at) live; a missing column or a wrong type is an error naming it';

CREATE FUNCTION classbill.source(kind text) RETURNS regclass
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  rel regclass;
BEGIN
  SELECT s.relation INTO rel FROM classbill.sources AS s WHERE s.kind = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no % source is registered', $1
      USING ERRCODE = '55000',
            HINT = format('Register one: SELECT classbill.register_source(%L, ''your_table'');', $1);
  END IF;
  RETURN rel;
END $$;
COMMENT ON FUNCTION classbill.source(text) IS
  'The relation registered for a kind of source rows; an error telling what to run if there is none';

-- The first instant of billing day d, in the billing time zone.
CREATE FUNCTION classbill.day_start(d date) RETURNS timestamptz
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT d::timestamp AT TIME ZONE classbill.billing_timezone() $$;
COMMENT ON FUNCTION classbill.day_start(date) IS
  'Local midnight starting a billing day in classbill.billing_timezone (SPEC 0)';

CREATE FUNCTION classbill.missing_room(room text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'room % has events but no row in the rooms source %', room, classbill.source('rooms')
    USING ERRCODE = '23503',
          HINT = 'Every room with events needs its account, mode and resolution; nothing is billed to no one.';
END $$;
COMMENT ON FUNCTION classbill.missing_room(text) IS
  'Raises the error for events of a room the rooms source does not know';

-- Every room with an event in the billing days [p_from, p_to), with its
-- usage from all its events (a room's sessions may start earlier or end
-- later than the window).
CREATE FUNCTION classbill.room_values(p_from date, p_to date)
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
COMMENT ON FUNCTION classbill.room_values(date, date) IS
  'Usage of every room with an event in the billing days [from, to), from all of its events, with its account, tier and mode (declared, or inferred by SPEC 3.1)';

CREATE FUNCTION classbill.billable_days(p_from date, p_to date)
RETURNS TABLE (account text, tier classbill.tier, mode classbill.mode, day date,
               seconds numeric, minutes bigint)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT g.account, g.tier, g.mode, d.day, d.seconds, d.minutes
  FROM (SELECT v.account, v.tier, v.mode, classbill.rollup(v.usage) AS usage
        FROM classbill.room_values(p_from, p_to) AS v
        GROUP BY v.account, v.tier, v.mode) AS g,
       classbill.daily(g.usage) AS d
  WHERE d.day >= p_from AND d.day < p_to
  ORDER BY 1, 2, 3, 4
$$;
COMMENT ON FUNCTION classbill.billable_days(date, date) IS
  'Billable minutes per account, tier, mode and billing day of [from, to): each group''s presence rolled up and rounded up per day (SPEC 1.7, 3.1)';

CREATE FUNCTION classbill.store_usage_days(p_from date, p_to date)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  unknown text;
  n bigint;
BEGIN
  CREATE TEMP TABLE classbill_billable ON COMMIT DROP AS
  SELECT * FROM classbill.billable_days(p_from, p_to);
  SELECT b.account INTO unknown FROM classbill_billable AS b
  WHERE NOT EXISTS (SELECT FROM classbill.accounts AS a WHERE a.account = b.account) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'account "%" has usage but is not in classbill.accounts', unknown
      USING ERRCODE = '23503', HINT = 'Add the account with its plan and currency.';
  END IF;
  DELETE FROM classbill.usage_days AS u WHERE u.day >= p_from AND u.day < p_to;
  INSERT INTO classbill.usage_days (account, tier, mode, day, seconds)
  SELECT b.account, b.tier, b.mode, b.day, b.seconds FROM classbill_billable AS b;
  GET DIAGNOSTICS n = ROW_COUNT;
  DROP TABLE classbill_billable;
  RETURN n;
END $$;
COMMENT ON FUNCTION classbill.store_usage_days(date, date) IS
  'Replace the stored quantities of the billing days [from, to) with those computed from the sources; returns the rows stored';

CREATE FUNCTION classbill.breaches(p_from date, p_to date)
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
COMMENT ON FUNCTION classbill.breaches(date, date) IS
  'Every plan-limit breach of the billing days [from, to) (SPEC 3.6): rooms with more on stage than their plan allows, and per day the prepaid accounts with more present at once than their cap; each with when and how far. Breaches never change the bill';
