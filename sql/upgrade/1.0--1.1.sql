-- classbill 1.0 -> 1.1 (ALTER EXTENSION classbill UPDATE TO '1.1').
--
-- 1.1 adds: in_billing_zone (values built in another billing zone are an
-- error in billing); room_values sending the room list to foreign tables
-- (shards through postgres_fdw); register_source letting classbill_owner
-- read the source; the plan advisor and the privileges (appended below
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
