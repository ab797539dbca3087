-- test/bench_events.sql: the usage benchmarks' event rows (test/bench.sh,
-- test/profile_usage.sh), deterministic for a given seed.
--
--   psql -v tbl=ev -v rooms=100000 -v seed=0.31 -f test/bench_events.sql
--
-- Rooms start anywhere in November 2026 (billing time zone) and last
-- 30 min to 3 h, so some cross a billing-day boundary. Participants per
-- room: 2 + floor(random()^2 * 24), i.e. 2..25, mostly small. Each
-- participant has 1..3 sessions (1 + floor(random()^1.1 * 3), mean about
-- 1.94): the room's time is cut in as many slots, and a session joins in
-- the first 30% of its slot and leaves in the last 30%, so one
-- participant's sessions never overlap. Times carry microseconds.
-- Participant ids are 'u' plus seven digits, distinct within a room.
-- Rows go in in time order, like an append-only event log.
CREATE TABLE :"tbl" (room bigint, participant text, event text, at timestamptz);
SELECT setseed(:seed) \gset
INSERT INTO :"tbl" (room, participant, event, at)
WITH rooms AS MATERIALIZED (
	SELECT g::bigint AS room,
	       timestamptz '2026-11-01 00:00:00 Asia/Shanghai'
	         + random() * interval '29 days 20 hours' AS t0,
	       interval '30 minutes' + random() * interval '150 minutes' AS dur,
	       2 + floor(random() ^ 2 * 24)::int AS np,
	       1000000 + floor(random() * 8999000)::int AS ubase
	FROM generate_series(1, :rooms) g
), parts AS MATERIALIZED (
	SELECT r.room, r.t0, r.dur, r.ubase + p AS uid,
	       1 + floor(random() ^ 1.1 * 3)::int AS ns
	FROM rooms r, generate_series(1, r.np) p
), sess AS MATERIALIZED (
	SELECT q.room, q.uid,
	       q.t0 + q.dur * ((k - 1 + 0.3 * random()) / q.ns) AS j,
	       q.t0 + q.dur * ((k - 0.3 * random()) / q.ns) AS l
	FROM parts q, generate_series(1, q.ns) k
)
SELECT s.room, 'u' || s.uid, e.event, e.at
FROM sess s, LATERAL (VALUES ('join', s.j), ('leave', s.l)) e(event, at)
ORDER BY e.at;
VACUUM ANALYZE :"tbl";
