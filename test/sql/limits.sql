-- SPEC 3.6: plan limits.  The account-wide peak across rooms, and the
-- report of every breach, which never changes the bill.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

-- Account-wide peak, built from each room's own sessions (SPEC 1):
--   room A: a1, a2, a3 join 10:00; an end at 10:45 closes room A only
--   room B: b1, b2 join 10:30, leave 11:30
--   room C: c1 joins at 10:45, the instant room A ends, leaves 12:00
-- Present at once: 10:00 3; 10:30 5 (peak, first at 10:30); 10:45 A ends
-- (-3) and c1 joins C (+1): 3 (the hand-over counts once); 11:30 1.
CREATE TABLE ev (room text, p text, e text, t timestamptz);
INSERT INTO ev VALUES
  ('A', 'a1', 'join', '2026-11-02 10:00+08'), ('A', 'a2', 'join', '2026-11-02 10:00+08'),
  ('A', 'a3', 'join', '2026-11-02 10:00+08'), ('A', NULL, 'end', '2026-11-02 10:45+08'),
  ('B', 'b1', 'join', '2026-11-02 10:30+08'), ('B', 'b2', 'join', '2026-11-02 10:30+08'),
  ('B', 'b1', 'leave', '2026-11-02 11:30+08'), ('B', 'b2', 'leave', '2026-11-02 11:30+08'),
  ('C', 'c1', 'join', '2026-11-02 10:45+08'), ('C', 'c1', 'leave', '2026-11-02 12:00+08');
SET timezone = 'Asia/Shanghai';
SELECT (classbill.account_peak(room, p, e, t)).* FROM ev;

-- The same participant name in two rooms is two presences (sessions are
-- per room): a2 also in B from 10:30 makes the peak 6.
INSERT INTO ev VALUES ('B', 'a2', 'join', '2026-11-02 10:30+08'), ('B', 'a2', 'leave', '2026-11-02 10:40+08');
SELECT (classbill.account_peak(room, p, e, t)).* FROM ev;

-- Per billing day: a session from 23:00 to 01:00 counts on both days, on
-- the second from its first instant, 00:00.  11-02: 6 at 10:30 (above);
-- 11-03: d1 from 23:00 on 11-02 (still 1 at 00:00), d2 joins 00:30: 2.
INSERT INTO ev VALUES ('D', 'd1', 'join', '2026-11-02 23:00+08'), ('D', 'd1', 'leave', '2026-11-03 01:00+08'),
                      ('D', 'd2', 'join', '2026-11-03 00:30+08'), ('D', 'd2', 'leave', '2026-11-03 00:40+08');
SELECT d.* FROM (SELECT classbill.account_peak_by_day(room, p, e, t) AS days FROM ev) AS x,
     unnest(x.days) AS d;

-- Nobody present: peak 0 at no instant.
SELECT (classbill.account_peak(room, p, e, t)).* FROM ev WHERE e = 'leave';

-- Bad input is refused as in room_usage (SPEC 8), and a room is required.
SELECT classbill.account_peak(NULL, 'x', 'join', '2026-11-02 10:00+08');
SELECT classbill.account_peak('A', 'x', 'jump', '2026-11-02 10:00+08');

-- Parallel workers give the same peaks (states serialized room by room).
CREATE TABLE big AS
SELECT 'r' || (k % 40) AS room, 'p' || k AS p, x.e,
       '2026-11-02 08:00+08'::timestamptz + (k % 97) * interval '1 minute' + x.off * interval '1 minute' AS t
FROM generate_series(1, 4000) AS k,
     LATERAL (VALUES ('join', 0), ('leave', 30 + k % 50)) AS x(e, off);
ANALYZE big;
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial AS
  SELECT (k % 3) AS acct, classbill.account_peak_by_day(room, p, e, t)::text AS days
  FROM big, LATERAL (SELECT substr(room, 2)::int AS k) AS r GROUP BY 1;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
  SELECT (k % 3), classbill.account_peak_by_day(room, p, e, t)
  FROM big, LATERAL (SELECT substr(room, 2)::int AS k) AS r GROUP BY 1;
SELECT count(*) AS differing FROM serial FULL JOIN (
  SELECT (k % 3) AS acct, classbill.account_peak_by_day(room, p, e, t)::text AS days
  FROM big, LATERAL (SELECT substr(room, 2)::int AS k) AS r GROUP BY 1) AS par USING (acct)
WHERE serial.days IS DISTINCT FROM par.days;
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE big;
DROP TABLE ev;

-- The breach report reads the registered sources.
SET timezone = 'UTC';
CREATE TABLE lim_rooms (room bigint, account text, mode text, width int, height int);
CREATE TABLE lim_events (room bigint, participant text, event text, at timestamptz);
SELECT classbill.register_source('rooms', 'lim_rooms');
SELECT classbill.register_source('events', 'lim_events');
INSERT INTO classbill.accounts VALUES ('pre', 'prepaid', 'CNY'), ('post', 'postpaid', 'CNY');
-- Room 1 (prepaid): 9 students join 10:00 +08 and go on stage one a
--   minute from 10:01; the 9th goes up at 10:09: 9 on stage > 8, over by 1.
-- Room 2 (postpaid): the same 9 on stage: within 24, no breach.
-- Room 3 (postpaid): 25 on stage by 10:25: > 24, over by 1.
-- Rooms 4 and 5 (prepaid): 600 + 401 present from 14:00 to 15:00: 1,001 at
--   once > 1,000, over by 1, on 11-02 from 14:00.
-- Rooms 6 and 7 (postpaid): 1,500 present: no account-wide cap.
INSERT INTO lim_rooms VALUES
  (1, 'pre', '1vn', 640, 480), (2, 'post', '1vn', 640, 480), (3, 'post', '1vn', 640, 480),
  (4, 'pre', '1vn', 320, 240), (5, 'pre', '1vn', 320, 240),
  (6, 'post', '1vn', 320, 240), (7, 'post', '1vn', 320, 240);
INSERT INTO lim_events
SELECT r, 's' || k, 'join', '2026-11-02 10:00+08' FROM generate_series(1, 2) AS r, generate_series(1, 9) AS k
UNION ALL
SELECT r, 's' || k, 'stage_up', '2026-11-02 10:00+08'::timestamptz + k * interval '1 minute'
FROM generate_series(1, 2) AS r, generate_series(1, 9) AS k
UNION ALL
SELECT r, 's' || k, 'leave', '2026-11-02 11:00+08' FROM generate_series(1, 2) AS r, generate_series(1, 9) AS k
UNION ALL
SELECT 3, 's' || k, e, t
FROM generate_series(1, 25) AS k,
     LATERAL (VALUES ('join', '2026-11-02 10:00+08'::timestamptz),
                     ('stage_up', '2026-11-02 10:00+08'::timestamptz + k * interval '1 minute'),
                     ('leave', '2026-11-02 11:00+08')) AS x(e, t)
UNION ALL
SELECT CASE WHEN k <= 600 THEN 4 ELSE 5 END, 'm' || k, e, t
FROM generate_series(1, 1001) AS k,
     LATERAL (VALUES ('join', '2026-11-02 14:00+08'::timestamptz), ('leave', '2026-11-02 15:00+08')) AS x(e, t)
UNION ALL
SELECT CASE WHEN k <= 750 THEN 6 ELSE 7 END, 'n' || k, e, t
FROM generate_series(1, 1500) AS k,
     LATERAL (VALUES ('join', '2026-11-02 14:00+08'::timestamptz), ('leave', '2026-11-02 15:00+08')) AS x(e, t);

SET timezone = 'Asia/Shanghai';
SELECT * FROM classbill.breaches('2026-11-01', '2026-12-01') ORDER BY kind, account, room;
-- Outside the days asked for, nothing.
SELECT count(*) FROM classbill.breaches('2026-11-03', '2026-11-04');

-- Breaches never change the bill: every participant's minutes are
-- billable.  pre 240p 1vn: 1,001 x 60 min = 60,060; pre 480p 1vn: 9 x 60 =
-- 540; post 480p 1vn: (9 + 25) x 60 = 2,040; post 240p 1vn: 90,000.
SELECT account, tier, mode, day, minutes FROM classbill.billable_days('2026-11-01', '2026-12-01');

DELETE FROM classbill.sources;
DELETE FROM classbill.accounts;
DROP TABLE lim_rooms, lim_events;
