#!/usr/bin/env bash
# Row order changes nothing (SPEC 1.3, 1.9), on rooms large enough for
# every sort the final function may use: the merge sort of small rooms,
# the radix sort of rooms of 16,384 events and more (room_state.c), and
# rooms already in time order, which are not sorted at all.  Each room's
# rows are fed in time order, in reverse, room by room with each
# participant's rows together, and shuffled; every room's whole value
# (days, seconds, participants, peaks, their instants, the counters) must
# be the same text in all four.  The rows have ties at one instant
# (hand-overs, a join and a leave of one participant), every event kind,
# and sessions across billing midnights.
source "$(dirname "$0")/../lib.sh"

DB=cb_row_order
cb_psql -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export PGDATABASE=$DB
cb_psql >/dev/null <<'SQL'
CREATE EXTENSION classbill;
SELECT setseed(0.42);
-- rooms 1..6 of 100 to 500,001 events; participant p's k-th slot of
-- 10 minutes holds a session; instants on whole minutes make ties
CREATE TABLE ev AS
WITH rooms(room, parts, slots) AS (
	VALUES (1, 4, 5), (2, 30, 20), (3, 100, 81), (4, 100, 83), (5, 400, 250), (6, 1000, 100)
), sess AS (
	SELECT r.room, 'p' || p AS who, k,
	       timestamptz '2026-11-01 23:00+08' + (k * 10 + floor(random() * 4)) * interval '1 minute' AS j,
	       timestamptz '2026-11-01 23:00+08' + (k * 10 + 4 + floor(random() * 6)) * interval '1 minute' AS l
	FROM rooms r, generate_series(1, r.parts) p, generate_series(1, r.slots) k
)
SELECT room, who AS participant, e.event, e.at
FROM sess, LATERAL (VALUES ('join', j), ('leave', l),
                           ('heartbeat', j + interval '1 minute'),
                           (CASE WHEN k % 7 = 0 THEN 'stage_up' ELSE 'heartbeat' END, j),
                           (CASE WHEN k % 7 = 0 THEN 'stage_down' ELSE 'heartbeat' END, l)) e(event, at)
UNION ALL
SELECT room, NULL, 'end', timestamptz '2026-11-01 23:00+08' + (slots * 10 + 3) * interval '1 minute'
FROM rooms WHERE room % 2 = 0;
CREATE TABLE ev_time AS SELECT * FROM ev ORDER BY at;
CREATE TABLE ev_reverse AS SELECT * FROM ev ORDER BY at DESC;
CREATE TABLE ev_room AS SELECT * FROM ev ORDER BY room, participant COLLATE "C", at;
CREATE TABLE ev_shuf AS SELECT * FROM ev ORDER BY random();
SQL
cb_psql -At -c "SELECT 'rooms of ' || string_agg(n::text, ', ' ORDER BY room) || ' events'
                FROM (SELECT room, count(*) n FROM ev GROUP BY room) s"
out=$(cb_psql -At <<'SQL'
SET max_parallel_workers_per_gather = 0;
SELECT t, room, md5(u::text)
FROM (SELECT 'time' t, room, classbill.room_usage(participant, event, at) u FROM ev_time GROUP BY room
      UNION ALL SELECT 'reverse', room, classbill.room_usage(participant, event, at) FROM ev_reverse GROUP BY room
      UNION ALL SELECT 'room', room, classbill.room_usage(participant, event, at) FROM ev_room GROUP BY room
      UNION ALL SELECT 'shuffled', room, classbill.room_usage(participant, event, at) FROM ev_shuf GROUP BY room) s
ORDER BY room, t;
SQL
)
echo "$out"
differ=$(echo "$out" | awk -F'|' '{ v[$2] = v[$2] " " $3 } END { for (r in v) { split(v[r], a, " "); for (i in a) if (a[i] != a[1]) { print r; break } } }')
if [ -n "$differ" ] || [ "$(echo "$out" | wc -l)" -ne 24 ]; then
	echo "rooms whose value depends on the row order: ${differ:-(a room is missing)}"
	exit 1
fi
minutes=$(cb_psql -At -c "SELECT sum(classbill.minutes(u)) FROM (SELECT classbill.room_usage(participant, event, at) u FROM ev_shuf GROUP BY room) s")
[ "$minutes" -gt 0 ] || { echo "no minutes"; exit 1; }
echo "every room's value the same in the four orders ($minutes minutes)"
cb_psql -d postgres -c "DROP DATABASE $DB"
