#!/usr/bin/env bash
# Randomized differential test (SPEC 1.1-1.9, 2): the C aggregate against
# the slow PL/pgSQL reference of test/reference.sql, written separately
# from the C code.
#
# Generates a few thousand rooms of shuffled rows: overlapping and
# duplicate joins, orphan leaves, stray heartbeats and stage events, end
# events with and without a participant, sessions with no leave, exact
# duplicate rows, ties at one instant, mixed letter case, microsecond
# times, sessions across midnight, all placed around DST changes.  Then,
# for several billing time zones, compares room by room and day by day:
# presence per day in microseconds, participants, peaks and when they
# were first reached, and every data-quality counter.  Any difference
# fails the test and is printed.
#
#   CB_DIFF_ROOMS=3000 CB_DIFF_SEED=0.42 bash test/t/differential.sh
source "$(dirname "$0")/../lib.sh"

ROOMS=${CB_DIFF_ROOMS:-3000}
SEED=${CB_DIFF_SEED:-0.42}
DB=cb_differential

cb_psql -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export PGDATABASE=$DB
cb_psql -c "CREATE EXTENSION classbill"
cb_psql -f "$CB_ROOT/test/reference.sql"

cb_psql -v rooms="$ROOMS" -v seed="$SEED" <<'SQL'
CREATE TABLE ev (room int, participant text, event text, at timestamptz);

-- Instants near which rooms take place: DST changes and plain midnights.
CREATE TABLE anchor (at timestamptz);
INSERT INTO anchor VALUES
  ('2026-03-08 07:00+00'),   -- America/New_York springs forward (23 h day)
  ('2026-11-01 06:00+00'),   -- America/New_York falls back (25 h day)
  ('2026-03-29 01:00+00'),   -- Europe/Berlin springs forward
  ('2026-10-25 01:00+00'),   -- Europe/Berlin falls back
  ('2026-09-06 04:00+00'),   -- America/Santiago: local midnight does not exist
  ('2026-04-05 03:00+00'),   -- America/Santiago falls back at midnight
  ('2026-10-03 15:00+00'),   -- Australia/Lord_Howe: half-hour change
  ('2026-11-02 16:00+00'),   -- Asia/Shanghai midnight
  ('2026-12-31 23:00+00');   -- a year boundary

SELECT setseed(:seed);
SELECT set_config('cb.rooms', :'rooms', false);

DO $$
DECLARE
  n_rooms int := current_setting('cb.rooms')::int;
  r int; p int; s int; k int;
  base timestamptz; t timestamptz; leave_at timestamptz; hb timestamptz;
  np int; nsess int; coarse boolean; who text;
  kinds text[] := ARRAY['join','JOIN','Join'];
BEGIN
  FOR r IN 1 .. n_rooms LOOP
    SELECT a.at INTO base FROM anchor a ORDER BY random() LIMIT 1;
    base := base - random() * interval '5 hours';
    coarse := random() < 0.5;           -- minute times make ties common
    IF coarse THEN base := date_trunc('minute', base); END IF;
    np := 1 + floor(random() * 7)::int;
    FOR p IN 1 .. np LOOP
      who := 'u' || r || '-' || p;
      t := base + CASE WHEN coarse THEN floor(random() * 60) * interval '1 minute'
                       ELSE random() * interval '1 hour' END;
      nsess := 1 + floor(random() * 3)::int;
      FOR s IN 1 .. nsess LOOP
        INSERT INTO ev VALUES (r, who, kinds[1 + floor(random() * 3)::int], t);
        IF random() < 0.15 THEN            -- overlapping join
          INSERT INTO ev VALUES (r, who, 'join', t + random() * interval '10 minutes');
        END IF;
        IF random() < 0.3 THEN             -- stage activity
          INSERT INTO ev VALUES (r, who, 'stage_up', t + CASE WHEN random() < 0.3 THEN interval '0' ELSE random() * interval '20 minutes' END);
          IF random() < 0.6 THEN
            INSERT INTO ev VALUES (r, who, 'stage_down', t + random() * interval '40 minutes');
          END IF;
        END IF;
        leave_at := t + CASE WHEN coarse THEN floor(random() * 300) * interval '1 minute'
                             ELSE random() * interval '5 hours' END;
        FOR k IN 1 .. floor(random() * 3)::int LOOP   -- heartbeats, some stray
          hb := t + random() * (leave_at - t) * 1.3;
          INSERT INTO ev VALUES (r, who, 'heartbeat', hb);
        END LOOP;
        IF random() < 0.8 THEN
          INSERT INTO ev VALUES (r, who, CASE WHEN random() < 0.5 THEN 'leave' ELSE 'LEAVE' END, leave_at);
        END IF;
        IF random() < 0.05 THEN            -- orphan leave
          INSERT INTO ev VALUES (r, who, 'leave', leave_at + interval '1 minute');
        END IF;
        -- next session: often exactly at the leave instant (SPEC 1.3 tie)
        t := leave_at + CASE WHEN random() < 0.3 THEN interval '0'
                             ELSE random() * interval '2 hours' END;
      END LOOP;
    END LOOP;
    IF random() < 0.3 THEN
      INSERT INTO ev VALUES (r, CASE WHEN random() < 0.5 THEN NULL ELSE 'u' || r || '-1' END,
                             'end', base + random() * interval '4 hours');
    END IF;
    -- every 150th room is large (40 to 100 participants, past the point
    -- where a room's participants get a hash index); every 200th spans
    -- two years (past the reach of 8-byte events)
    IF r % 150 = 0 THEN
      FOR p IN 1 .. 40 + floor(random() * 60)::int LOOP
        t := base + random() * interval '2 hours';
        INSERT INTO ev VALUES (r, 'big' || r || '-' || p, 'join', t),
                              (r, 'big' || r || '-' || p, 'leave', t + random() * interval '3 hours');
      END LOOP;
    END IF;
    IF r % 200 = 0 THEN
      INSERT INTO ev VALUES (r, 'u' || r || '-1', 'join', base - interval '400 days'),
                            (r, 'u' || r || '-1', 'heartbeat', base - interval '399 days 23 hours'),
                            (r, 'late', 'join', base + interval '300 days'),
                            (r, 'late', 'leave', base + interval '300 days 1 hour');
    END IF;
    IF random() < 0.05 THEN                -- a participant that only sends strays
      INSERT INTO ev VALUES (r, 'ghost', 'heartbeat', base), (r, 'ghost', 'stage_down', base),
                            (r, 'ghost', 'leave', base);
    END IF;
  END LOOP;
END $$;

-- exact duplicate rows, then a shuffled copy: rows arrive in any order
INSERT INTO ev SELECT * FROM ev WHERE random() < 0.05;
CREATE TABLE events AS SELECT * FROM ev ORDER BY random();
DROP TABLE ev;
ANALYZE events;
SELECT count(*) AS rows, count(DISTINCT room) AS rooms FROM events;
SQL

status=0
for tz in UTC Asia/Shanghai America/New_York Europe/Berlin America/Santiago Australia/Lord_Howe; do
	out=$(cb_psql -At -v tz="$tz" <<'SQL'
SET classbill.billing_timezone = :'tz';
CREATE TEMP TABLE c AS
  SELECT room, classbill.room_usage(participant, event, at) AS u
  FROM events GROUP BY room;
CREATE TEMP TABLE c_days AS
  SELECT room, d.day, (d.seconds * 1000000)::bigint AS usec, d.minutes, d.participants
  FROM c, classbill.daily_detail(c.u) AS d;
CREATE TEMP TABLE r_days AS
  SELECT g.room, d.day, d.usec, d.participants
  FROM (SELECT room, array_agg(participant) AS p, array_agg(event) AS e,
               array_agg(at) AS t
        FROM events GROUP BY room) AS g,
       classbill_ref.room_days(g.p, g.e, g.t, :'tz') AS d;
-- every value carries the zone it was built in
SELECT 'zone', count(*) FROM c WHERE classbill.billing_timezone(u) <> :'tz';
-- day by day, both directions: presence and who was present (SPEC 3.1)
SELECT 'days', count(*) FROM (
  (SELECT room, day, usec, participants FROM c_days EXCEPT ALL SELECT room, day, usec, participants FROM r_days)
  UNION ALL
  (SELECT room, day, usec, participants FROM r_days EXCEPT ALL SELECT room, day, usec, participants FROM c_days)) AS x;
-- SPEC 1.7 on each day
SELECT 'minutes', count(*) FROM c_days
WHERE minutes <> (usec + 59999999) / 60000000;
SELECT 'room minutes', count(*) FROM c
WHERE classbill.minutes(u) <> (SELECT coalesce(sum((usec + 59999999) / 60000000), 0)
                               FROM r_days WHERE r_days.room = c.room);
-- show a few differences, if any
SELECT 'diff', x.* FROM (
  (SELECT 'c' AS side, room, day, usec, participants FROM c_days
   EXCEPT ALL SELECT 'c', room, day, usec, participants FROM r_days)
  UNION ALL
  (SELECT 'r', room, day, usec, participants FROM r_days
   EXCEPT ALL SELECT 'r', room, day, usec, participants FROM c_days)) AS x
ORDER BY room, day, side LIMIT 10;
SQL
)
	echo "$tz: $(echo "$out" | grep -v '^diff' | tr '\n' ' ')"
	if echo "$out" | grep -q '^diff' || echo "$out" | grep -Eq '\|[1-9][0-9]*$'; then
		echo "$out" | grep '^diff' || true
		status=1
	fi
done

# Everything that does not depend on the zone, room by room.
out=$(cb_psql -At <<'SQL'
CREATE TEMP TABLE c AS
  SELECT room, classbill.room_usage(participant, event, at) AS u
  FROM events GROUP BY room;
CREATE TEMP TABLE r AS
  SELECT g.room, s.*
  FROM (SELECT room, array_agg(participant) AS p, array_agg(event) AS e,
               array_agg(at) AS t
        FROM events GROUP BY room) AS g,
       classbill_ref.room_summary(g.p, g.e, g.t) AS s;
CREATE TEMP VIEW cs AS
  SELECT room, classbill.participants(u) AS participants, classbill.peak(u) AS peak,
         classbill.stage_peak(u) AS stage_peak, classbill.events(u) AS events,
         classbill.duplicate_joins(u) AS duplicate_joins,
         classbill.orphan_leaves(u) AS orphan_leaves,
         classbill.stray_heartbeats(u) AS stray_heartbeats,
         classbill.stray_stage_events(u) AS stray_stage,
         classbill.unterminated_sessions(u) AS unterminated,
         classbill.peak_at(u) AS peak_at, classbill.stage_peak_at(u) AS stage_peak_at
  FROM c;
SELECT 'summary', count(*) FROM ((TABLE cs EXCEPT ALL TABLE r) UNION ALL (TABLE r EXCEPT ALL TABLE cs)) AS x;
SELECT 'rows accounted', sum(classbill.events(u)) = (SELECT count(*) FROM events) FROM c;
SELECT 'stats', sum(duplicate_joins), sum(orphan_leaves), sum(stray_heartbeats),
       sum(stray_stage), sum(unterminated), max(peak), max(stage_peak) FROM r;
SELECT 'diff', x.* FROM ((SELECT 'c' AS side, * FROM cs EXCEPT ALL SELECT 'c', * FROM r)
  UNION ALL (SELECT 'r', * FROM r EXCEPT ALL SELECT 'r', * FROM cs)) AS x
ORDER BY room, side LIMIT 10;
SQL
)
echo "$out"
if echo "$out" | grep -q '^diff' || ! echo "$out" | grep -q '^summary|0$' ||
	! echo "$out" | grep -q '^rows accounted|t$'; then
	status=1
fi

# SPEC 1.9 on the same rows: parallel workers (states serialized and
# combined) and partitions by time (partial states combined) give the
# serial answer, room by room.
out=$(cb_psql -At <<'SQL'
SET classbill.billing_timezone = 'America/New_York';
SET max_parallel_workers_per_gather = 0;
CREATE TABLE serial AS
  SELECT room, classbill.room_usage(participant, event, at)::text AS u FROM events GROUP BY room;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
CREATE TABLE parallel AS
  SELECT room, classbill.room_usage(participant, event, at)::text AS u FROM events GROUP BY room;
SELECT 'parallel differs', count(*) FROM serial FULL JOIN parallel USING (room)
WHERE serial.u IS DISTINCT FROM parallel.u;
SET max_parallel_workers_per_gather = 0;
SET enable_partitionwise_aggregate = on;
CREATE TABLE pevents (LIKE events) PARTITION BY RANGE (at);
CREATE TABLE pevents_1 PARTITION OF pevents FOR VALUES FROM (MINVALUE) TO ('2026-06-01');
CREATE TABLE pevents_2 PARTITION OF pevents FOR VALUES FROM ('2026-06-01') TO ('2026-10-15');
CREATE TABLE pevents_3 PARTITION OF pevents FOR VALUES FROM ('2026-10-15') TO ('2026-11-02');
CREATE TABLE pevents_4 PARTITION OF pevents FOR VALUES FROM ('2026-11-02') TO (MAXVALUE);
INSERT INTO pevents SELECT * FROM events;
ANALYZE pevents;
SELECT 'partitioned differs', count(*) FROM serial FULL JOIN
  (SELECT room, classbill.room_usage(participant, event, at)::text AS u FROM pevents GROUP BY room) AS x
  USING (room) WHERE serial.u IS DISTINCT FROM x.u;
SQL
)
echo "$out"
echo "$out" | grep -q '^parallel differs|0$' || status=1
echo "$out" | grep -q '^partitioned differs|0$' || status=1

cb_psql -d postgres -c "DROP DATABASE $DB"
[ $status -eq 0 ] && echo "differential: C and reference agree on $ROOMS rooms"
exit $status
