-- classbill 1.0 -> 1.1 (ALTER EXTENSION classbill UPDATE TO '1.1').
--
-- 1.1 adds: in_billing_zone (values built in another billing zone are an
-- error in billing); room_values sending the room list to foreign tables
-- (shards through postgres_fdw); the plan advisor (appended below from
-- sql/install/advisor.sql).

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

