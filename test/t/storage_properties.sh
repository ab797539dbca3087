#!/usr/bin/env bash
# Property tests of storage measurement (SPEC 4.2) over random files, in
# three billing time zones (one with a 25-hour day, one with a 23.5-hour
# day in the window):
#   - the C arithmetic equals plain SQL that samples every 5-minute mark
#     with generate_series, day by day (the slow, obvious way);
#   - a file present all day gives exactly its size in GB that day;
#   - splitting the period at any day boundary changes no day and no total;
#   - parallel workers, whose states are serialized to the leader and
#     combined there, give the days of one process.
#
#   CB_STORE_FILES=600 CB_STORE_SEED=0.23 bash test/t/storage_properties.sh
source "$(dirname "$0")/../lib.sh"

FILES=${CB_STORE_FILES:-600}
SEED=${CB_STORE_SEED:-0.23}
DB=cb_storage_props

cb_psql -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export PGDATABASE=$DB
cb_psql -c "CREATE EXTENSION classbill"

cb_psql -v files="$FILES" -v seed="$SEED" <<'SQL'
SELECT setseed(:seed) \gset
-- Files ready from mid-September to November, with and without retention
-- (minutes to months) and deletion; sizes from 0 to 5 GB; times at
-- random microseconds, some exactly on marks.
CREATE TABLE f AS
SELECT k AS id,
       CASE WHEN random() < 0.05 THEN 0 ELSE floor(random() * 5 * 1073741824)::bigint END AS bytes,
       ready,
       CASE floor(random() * 4)::int
         WHEN 0 THEN NULL
         WHEN 1 THEN random() * interval '6 hours'
         WHEN 2 THEN floor(random() * 40) * interval '1 day'
         ELSE interval '1 month' END AS retention,
       CASE WHEN random() < 0.3 THEN ready + random() * interval '20 days' END AS deleted
FROM generate_series(1, :files) AS k,
     LATERAL (SELECT CASE WHEN random() < 0.2
                          THEN date_trunc('hour', '2026-09-15'::timestamptz + random() * interval '75 days')
                               + floor(random() * 12) * interval '5 minutes'
                          ELSE '2026-09-15'::timestamptz + random() * interval '75 days' END
              + (k * 0) * interval '1 second' AS ready) AS r;
SELECT count(*) AS files, count(*) FILTER (WHERE bytes = 0) AS empty,
       count(*) FILTER (WHERE retention IS NULL) AS kept, count(*) FILTER (WHERE deleted IS NOT NULL) AS deleted
FROM f;

-- The obvious way: every mark of every day, every file present at it.
CREATE FUNCTION sampled(p_from date, p_to date)
RETURNS TABLE (day date, marks bigint, byte_marks numeric) LANGUAGE sql AS $$
  WITH days AS (
    SELECT d::date AS day, classbill.day_start(d::date) AS s, classbill.day_start(d::date + 1) AS e
    FROM generate_series(p_from, p_to - 1, '1 day') AS d
  ), marks AS (
    SELECT days.day, m FROM days, generate_series(days.s, days.e - interval '1 microsecond',
                                                  interval '5 minutes') AS m
  )
  SELECT mk.day, (SELECT count(*) FROM marks AS x WHERE x.day = mk.day),
         sum(f.bytes)
  FROM marks AS mk
  JOIN f ON f.ready <= mk.m
        AND mk.m < least(f.ready + (extract(epoch FROM f.retention) * interval '1 second'),
                         coalesce(f.deleted, 'infinity'))
  WHERE f.bytes > 0
  GROUP BY mk.day
  HAVING sum(f.bytes) > 0
$$;
CREATE FUNCTION computed(p_from date, p_to date)
RETURNS TABLE (day date, marks bigint, byte_marks numeric) LANGUAGE sql AS $$
  SELECT d.day, d.marks, d.byte_marks
  FROM (SELECT classbill.storage_days(p_from, p_to, bytes, ready, retention, deleted) AS days FROM f) AS x,
       unnest(x.days) AS d
$$;
-- Does the plan of q aggregate in parallel workers?
CREATE FUNCTION partial_plan(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    IF line LIKE '%Partial Aggregate%' THEN
      RETURN true;
    END IF;
  END LOOP;
  RETURN false;
END $$;
SQL

status=0
for tz in Asia/Shanghai America/New_York Australia/Lord_Howe; do
	out=$(cb_psql -At -v tz="$tz" <<'SQL'
SET classbill.billing_timezone = :'tz';
-- 1. arithmetic = sampling, day by day (October 1 .. December 1)
SELECT 'differing days', count(*) FROM (
  (SELECT * FROM computed('2026-10-01', '2026-12-01') EXCEPT SELECT * FROM sampled('2026-10-01', '2026-12-01'))
  UNION ALL
  (SELECT * FROM sampled('2026-10-01', '2026-12-01') EXCEPT SELECT * FROM computed('2026-10-01', '2026-12-01'))) AS x;
-- 2. files present all of a day: exactly their size in GB
SELECT 'whole days off', count(*)
FROM f, generate_series('2026-10-01'::date, '2026-11-30', '1 day') AS d,
     LATERAL (SELECT classbill.storage_days(d::date, d::date + 1, v.bytes, v.ready, v.retention, v.deleted)
              FROM (VALUES (f.bytes, f.ready, f.retention, f.deleted)) AS v(bytes, ready, retention, deleted))
       AS c(days)
WHERE f.bytes > 0 AND f.ready <= classbill.day_start(d::date)
  AND least(f.ready + extract(epoch FROM f.retention) * interval '1 second', coalesce(f.deleted, 'infinity'))
      >= classbill.day_start(d::date + 1)
  -- the mean of the day's samples is the file's size: byte-marks = bytes x marks
  AND (c.days[1]).byte_marks IS DISTINCT FROM f.bytes * (c.days[1]).marks;
SELECT 'whole days seen', count(*)
FROM f, generate_series('2026-10-01'::date, '2026-11-30', '1 day') AS d
WHERE f.bytes > 0 AND f.ready <= classbill.day_start(d::date)
  AND least(f.ready + extract(epoch FROM f.retention) * interval '1 second', coalesce(f.deleted, 'infinity'))
      >= classbill.day_start(d::date + 1);
-- 3. split at every day boundary of November: same days, same total
SELECT 'split changes', count(*)
FROM generate_series('2026-11-02'::date, '2026-11-30', '1 day') AS b
WHERE (SELECT array_agg(x ORDER BY x.day) FROM computed('2026-11-01', '2026-12-01') AS x)
      IS DISTINCT FROM
      (SELECT array_agg(y ORDER BY y.day)
       FROM (SELECT * FROM computed('2026-11-01', b::date)
             UNION ALL SELECT * FROM computed(b::date, '2026-12-01')) AS y);
SELECT 'marks per day', string_agg(DISTINCT marks::text, ',' ORDER BY marks::text)
FROM computed('2026-10-01', '2026-12-01');
-- 4. in parallel workers, no leader: every state serialized, then combined
CREATE TEMP TABLE one_process AS SELECT * FROM computed('2026-10-01', '2026-12-01');
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SELECT 'parallel plan', partial_plan($q$
  SELECT classbill.storage_days('2026-10-01', '2026-12-01', bytes, ready, retention, deleted) FROM f $q$);
SELECT 'parallel differs', count(*) FROM one_process AS s FULL JOIN
  (SELECT d.* FROM (SELECT classbill.storage_days('2026-10-01', '2026-12-01', bytes, ready, retention,
                                                  deleted) AS days FROM f) AS x, unnest(x.days) AS d) AS p
  USING (day) WHERE (s.marks, s.byte_marks) IS DISTINCT FROM (p.marks::bigint, p.byte_marks);
SQL
)
	echo "$tz: $(echo "$out" | tr '\n' ' ')"
	for check in 'differing days' 'whole days off' 'split changes' 'parallel differs'; do
		echo "$out" | grep -q "^$check|0$" || { echo "FAILED in $tz: $check"; status=1; }
	done
	echo "$out" | grep -Eq '^whole days seen\|[1-9]' || { echo "FAILED in $tz: no whole day tested"; status=1; }
	echo "$out" | grep -q '^parallel plan|t$' || { echo "FAILED in $tz: no parallel plan"; status=1; }
done

cb_psql -d postgres -c "DROP DATABASE $DB"
[ $status -eq 0 ] && echo "storage properties hold on $FILES random files in three zones"
exit $status
