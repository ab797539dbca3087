-- SPEC 9 rollup: day totals add up, participants add up, peak is the
-- largest peak; values of different zones do not merge.  SPEC 1.7: the
-- rounding applies to the merged group's days.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';

CREATE TABLE ev (account text, room int, p text, e text, t timestamptz);
-- Account a1:
--   room 1: A 10:00-10:00:30 and B 10:00-10:00:30 on 11-02 (60 s, peak 2)
--   room 2: C 11:00-11:00:30 on 11-02 (30 s, peak 1) and
--           C 23:59:30 11-02 to 00:00:30 11-03 (30 s + 30 s)
--   room 3: D 09:00-09:00:15 on 11-03 (15 s), one orphan leave
-- Account a2:
--   room 4: E 10:00-10:30 on 11-02, 3 duplicate joins (1800 s)
INSERT INTO ev VALUES
  ('a1', 1, 'A', 'join', '2026-11-02 10:00:00+08'), ('a1', 1, 'A', 'leave', '2026-11-02 10:00:30+08'),
  ('a1', 1, 'B', 'join', '2026-11-02 10:00:00+08'), ('a1', 1, 'B', 'leave', '2026-11-02 10:00:30+08'),
  ('a1', 2, 'C', 'join', '2026-11-02 11:00:00+08'), ('a1', 2, 'C', 'leave', '2026-11-02 11:00:30+08'),
  ('a1', 2, 'C', 'join', '2026-11-02 23:59:30+08'), ('a1', 2, 'C', 'leave', '2026-11-03 00:00:30+08'),
  ('a1', 3, 'D', 'join', '2026-11-03 09:00:00+08'), ('a1', 3, 'D', 'leave', '2026-11-03 09:00:15+08'),
  ('a1', 3, 'D', 'leave', '2026-11-03 09:30:00+08'),
  ('a2', 4, 'E', 'join', '2026-11-02 10:00+08'), ('a2', 4, 'E', 'join', '2026-11-02 10:01+08'),
  ('a2', 4, 'E', 'join', '2026-11-02 10:02+08'), ('a2', 4, 'E', 'join', '2026-11-02 10:03+08'),
  ('a2', 4, 'E', 'leave', '2026-11-02 10:30+08');

CREATE TABLE room_day AS
  SELECT account, room, classbill.room_usage(p, e, t) AS u
  FROM ev GROUP BY account, room;

-- Room minutes (informative, SPEC 1.7): room 1: 60 s = 1; room 2: 11-02
-- 60 s = 1, 11-03 30 s = 1, total 2; room 3: 15 s = 1; room 4: 30.
SELECT room, classbill.minutes(u), classbill.seconds(u), classbill.peak(u)
FROM room_day ORDER BY room;

-- a1 rolled up: 11-02 = 60 + 60 = 120 s (2 minutes), 11-03 = 30 + 15 = 45 s
-- (1 minute): 3 minutes, where the rooms' own minutes add up to 4.
-- Participants 2 + 1 + 1 = 4, peak max(2, 1, 1) = 2, rooms 3, events 11,
-- orphan leaves 1.  a2: 30 minutes, 3 duplicate joins.
SELECT account, r, classbill.minutes(r) AS minutes,
       (SELECT sum(classbill.minutes(u)) FROM room_day x WHERE x.account = y.account) AS room_minutes
FROM (SELECT account, classbill.rollup(u) AS r FROM room_day GROUP BY account) AS y
ORDER BY account;

SELECT account, d.*
FROM (SELECT account, classbill.rollup(u) AS r FROM room_day GROUP BY account) AS y,
     classbill.daily(y.r) AS d
ORDER BY account, d.day;

-- Rollups of rollups equal one rollup (the order of merging is free):
-- a1 and a2 merged in one step and in two give one text form.
SELECT (SELECT classbill.rollup(u) FROM room_day)::text =
       (SELECT classbill.rollup(r) FROM (SELECT classbill.rollup(u) AS r FROM room_day GROUP BY account) AS x)::text
       AS associative,
       (SELECT classbill.rollup(u ORDER BY room) FROM room_day)::text =
       (SELECT classbill.rollup(u ORDER BY room DESC) FROM room_day)::text AS order_free;

-- A running rollup (as a window aggregate): each row sees the rooms up to
-- it.  Minutes: room 1 = 1; + room 2 = 11-02 120 s (2) + 11-03 30 s (1) =
-- 3; + room 3 = 11-02 120 s (2) + 11-03 45 s (1) = 3; + room 4 = 11-02
-- 1920 s (32) + 11-03 45 s (1) = 33.
SELECT room, classbill.minutes(classbill.rollup(u) OVER (ORDER BY room)) AS running_minutes
FROM room_day ORDER BY room;

-- NULL values are skipped like in any aggregate; only NULLs give NULL.
SELECT classbill.minutes(classbill.rollup(u)) FROM
  (SELECT u FROM room_day WHERE room = 4 UNION ALL SELECT NULL) AS x;
SELECT classbill.rollup(NULL::classbill.usage) IS NULL AS all_null;

-- SPEC 9: merging values built for different billing time zones is an
-- error that names both zones.
SET classbill.billing_timezone = 'UTC';
INSERT INTO room_day
  SELECT 'a1', 5, classbill.room_usage(p, e, t) FROM ev WHERE room = 1;
SELECT classbill.rollup(u) FROM room_day WHERE account = 'a1';

DROP TABLE room_day;
DROP TABLE ev;
