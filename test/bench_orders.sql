-- The benchmark rows of ev (test/bench_events.sql) in the two other
-- orders: ev_room, room by room with each participant's rows together
-- (bytewise, COLLATE "C"), so within a room the rows are far from time
-- order; ev_shuf, a random permutation (setseed: the same every run).
-- With -v big=N also ev_big_shuf, one room of N shuffled events (1,000
-- participants, 17-minute sessions).  psql -v seed=S [-v big=N] -f.
CREATE TABLE ev_room AS SELECT * FROM ev ORDER BY room, participant COLLATE "C", at;
SELECT setseed(:seed) \gset
CREATE TABLE ev_shuf AS SELECT * FROM ev ORDER BY random();
VACUUM ANALYZE ev_room;
VACUUM ANALYZE ev_shuf;
\if :{?big}
CREATE TABLE ev_big_shuf AS
SELECT 1::bigint AS room, 'u' || (2000000 + g % 1000) AS participant,
       CASE WHEN g / 1000 % 2 = 0 THEN 'join' ELSE 'leave' END AS event,
       timestamptz '2026-11-01 00:00:00+08' + (g / 1000) * interval '17 minutes'
         + (g % 1000) * interval '1 millisecond' AS at
FROM generate_series(0, :big - 1) g ORDER BY random();
VACUUM ANALYZE ev_big_shuf;
\endif
