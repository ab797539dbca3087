#!/usr/bin/env bash
# test/demo.sh: classbill's main job on a built-in sample month.
#
#   bash test/demo.sh
#
# Installs what is missing, builds and installs classbill, starts a
# throwaway PostgreSQL 15, loads a month of a small school's classes
# (test/sample_month.sql) and prints what billing needs from it: a report
# per room, and the billable minutes per day by tier and mode.
# CB_KEEP=1 keeps the cluster's directory; the server stops either way.
source "$(dirname "$0")/lib.sh"

cb_install_packages
cb_build
cb_start_cluster

cb_say "loading the sample month"
cb_psql -c "CREATE EXTENSION classbill"
cb_psql -f "$CB_ROOT/test/sample_month.sql" >/dev/null

"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -P footer=off <<'SQL'
SET classbill.billing_timezone = 'Asia/Shanghai';
SET timezone = 'Asia/Shanghai';
SET datestyle = 'ISO, YMD';
\pset null '-'

-- One usage value per room, from the school's own event rows.
CREATE TEMP TABLE room_usage AS
SELECT r.room, r.account, r.title, r.starts_at,
       classbill.tier(r.width, r.height) AS tier,
       r.mode AS declared_mode,
       u.usage
FROM school.rooms AS r
JOIN (SELECT room, classbill.room_usage(participant, event, at) AS usage
      FROM school.events GROUP BY room) AS u USING (room);

-- SPEC 3.1: rooms that declare no mode are 1v1 with at most 2 participants.
ALTER TABLE room_usage ADD COLUMN mode text;
UPDATE room_usage
SET mode = coalesce(declared_mode,
                    CASE WHEN classbill.participants(usage) <= 2 THEN '1v1' ELSE '1vn' END);

\echo
\echo '== The month in numbers'
SELECT count(*) AS rooms,
       (SELECT count(*) FROM school.events) AS event_rows,
       sum(classbill.events(usage)) AS rows_counted,
       sum(classbill.minutes(usage)) AS room_minutes,
       round(sum(classbill.seconds(usage)) / 3600, 1) AS hours_present
FROM room_usage;

\echo
\echo '== Rooms (the first 20 of the month; a room''s own minutes are informative, SPEC 1.7)'
SELECT room, to_char(starts_at, 'MM-DD HH24:MI') AS starts, title, tier, mode,
       CASE WHEN declared_mode IS NULL THEN 'inferred' ELSE 'declared' END AS mode_from,
       classbill.participants(usage) AS people, classbill.peak(usage) AS peak,
       classbill.stage_peak(usage) AS on_stage, classbill.seconds(usage) AS seconds,
       classbill.minutes(usage) AS minutes
FROM room_usage ORDER BY starts_at, room LIMIT 20;

\echo
\echo '== Data quality over the month (SPEC 1.2, 1.5: counted, never dropped)'
SELECT sum(classbill.duplicate_joins(usage)) AS duplicate_joins,
       sum(classbill.orphan_leaves(usage)) AS orphan_leaves,
       sum(classbill.stray_heartbeats(usage)) AS stray_heartbeats,
       sum(classbill.stray_stage_events(usage)) AS stray_stage_events,
       sum(classbill.unterminated_sessions(usage)) AS unterminated_sessions
FROM room_usage;

-- SPEC 1.7: a bill rounds each (account, tier, mode, day) group.
CREATE TEMP TABLE billable AS
SELECT account, tier, mode, d.day, d.seconds, d.minutes
FROM (SELECT account, tier, mode, classbill.rollup(usage) AS usage
      FROM room_usage GROUP BY account, tier, mode) AS g,
     classbill.daily(g.usage) AS d;

\echo
\echo '== Billable minutes per day by tier and mode (maple-academy, Asia/Shanghai days)'
SELECT day,
       sum(minutes) FILTER (WHERE tier = '240p' AND mode = '1v1') AS "240p 1v1",
       sum(minutes) FILTER (WHERE tier = '240p' AND mode = '1vn') AS "240p 1vn",
       sum(minutes) FILTER (WHERE tier = '480p' AND mode = '1v1') AS "480p 1v1",
       sum(minutes) FILTER (WHERE tier = '480p' AND mode = '1vn') AS "480p 1vn",
       sum(minutes) FILTER (WHERE tier = '720p' AND mode = '1v1') AS "720p 1v1",
       sum(minutes) FILTER (WHERE tier = '720p' AND mode = '1vn') AS "720p 1vn",
       sum(minutes) AS total
FROM billable GROUP BY day ORDER BY day;

\echo
\echo '== The month by tier and mode (sum of the daily rounded minutes)'
SELECT tier, mode, count(*) AS days, sum(seconds) AS seconds, sum(minutes) AS billable_minutes
FROM billable GROUP BY tier, mode ORDER BY tier, mode;
SQL
