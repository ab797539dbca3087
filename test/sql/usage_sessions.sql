-- SPEC 1.1-1.5: sessions from event rows, presence summed over
-- participants.  All times in Asia/Shanghai (+08), the default zone.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';

CREATE TABLE ev (c int, p text, e text, t timestamptz);

-- SPEC 1.1 seed example: A, B and C enter; A stays 10 minutes, B 20,
-- C 10: usage = 40 minutes.  A 10:00-10:10, B 10:00-10:20, C 10:10-10:20;
-- peak 2 (at 10:10 A leaves as C joins: B and C, SPEC 1.8).
INSERT INTO ev VALUES
  (1, 'A', 'join',  '2026-11-02 10:00+08'), (1, 'B', 'join',  '2026-11-02 10:00+08'),
  (1, 'A', 'leave', '2026-11-02 10:10+08'), (1, 'C', 'join',  '2026-11-02 10:10+08'),
  (1, 'B', 'leave', '2026-11-02 10:20+08'), (1, 'C', 'leave', '2026-11-02 10:20+08');
-- SPEC 1.1: a room with one person counts. 10:00-10:25 = 25 minutes.
INSERT INTO ev VALUES
  (2, 'T', 'join', '2026-11-02 10:00+08'), (2, 'T', 'leave', '2026-11-02 10:25+08');
-- SPEC 1.3: join 0, leave 10, join 10, leave 20 is 20 minutes of one
-- participant (at 10 the leave is processed before the join).
INSERT INTO ev VALUES
  (3, 'A', 'join',  '2026-11-02 10:00+08'), (3, 'A', 'leave', '2026-11-02 10:10+08'),
  (3, 'A', 'join',  '2026-11-02 10:10+08'), (3, 'A', 'leave', '2026-11-02 10:20+08');
-- SPEC 1.4: overlapping joins never count twice. A joins 10:00, joins
-- again 10:05 (duplicate), leaves 10:30: 30 minutes, 1 duplicate join.
INSERT INTO ev VALUES
  (4, 'A', 'join', '2026-11-02 10:00+08'), (4, 'A', 'join', '2026-11-02 10:05+08'),
  (4, 'A', 'leave', '2026-11-02 10:30+08');
-- SPEC 1.4: exact duplicates of every row change no minute figure: case 1
-- twice over is still 40 minutes (3 duplicate joins, 3 orphan leaves).
INSERT INTO ev SELECT 5, p, e, t FROM ev WHERE c = 1;
INSERT INTO ev SELECT 5, p, e, t FROM ev WHERE c = 1;
-- SPEC 1.5: a session with no leave closes at the first end after it.
-- A joins 10:00, B joins 10:10, end at 10:40 (NULL participant): 40 + 30
-- = 70 minutes; A's leave at 10:50 comes after the end: an orphan leave.
INSERT INTO ev VALUES
  (6, 'A', 'join', '2026-11-02 10:00+08'), (6, 'B', 'join', '2026-11-02 10:10+08'),
  (6, NULL, 'end', '2026-11-02 10:40+08'), (6, 'A', 'leave', '2026-11-02 10:50+08');
-- SPEC 1.2: a join after an end opens a new session.  A 10:00 - end
-- 10:30 (30) + A joins 10:45, leaves 11:00 (15) = 45 minutes.
INSERT INTO ev VALUES
  (7, 'A', 'join', '2026-11-02 10:00+08'), (7, 'X', 'end', '2026-11-02 10:30+08'),
  (7, 'A', 'join', '2026-11-02 10:45+08'), (7, 'A', 'leave', '2026-11-02 11:00+08');
-- SPEC 1.3: end and join at one instant: the end goes first, so the join
-- opens a new session.  A 10:00-10:20 (end), A 10:20-10:30 = 30 minutes.
INSERT INTO ev VALUES
  (8, 'A', 'join', '2026-11-02 10:00+08'), (8, NULL, 'end', '2026-11-02 10:20+08'),
  (8, 'A', 'join', '2026-11-02 10:20+08'), (8, 'A', 'leave', '2026-11-02 10:30+08');
-- SPEC 1.5: no leave and no end: the session closes at the participant's
-- last evidence.  A joins 10:00, heartbeats 10:05 and 10:12:30: 12.5
-- minutes = 750 s, billed 13 minutes; 1 unterminated session.
INSERT INTO ev VALUES
  (9, 'A', 'join', '2026-11-02 10:00+08'), (9, 'A', 'heartbeat', '2026-11-02 10:05+08'),
  (9, 'A', 'heartbeat', '2026-11-02 10:12:30+08');
-- SPEC 1.5: a duplicate join is evidence too.  A joins 10:00 and again
-- 10:20, nothing else: 20 minutes, 1 duplicate join, 1 unterminated.
INSERT INTO ev VALUES
  (10, 'A', 'join', '2026-11-02 10:00+08'), (10, 'A', 'join', '2026-11-02 10:20+08');
-- SPEC 1.5: only a join: zero-length session, 0 s, 0 minutes, but the
-- participant joined (participants = 1).
INSERT INTO ev VALUES (11, 'A', 'join', '2026-11-02 10:00+08');
-- SPEC 1.2: event kinds are case-insensitive: case 3 in capitals, 20 min.
INSERT INTO ev VALUES
  (12, 'A', 'JOIN',  '2026-11-02 10:00+08'), (12, 'A', 'Leave', '2026-11-02 10:10+08'),
  (12, 'A', 'jOIN',  '2026-11-02 10:10+08'), (12, 'A', 'LEAVE', '2026-11-02 10:20+08');
-- SPEC 1.1: participants are compared exactly: 'a' and 'A' are two
-- people.  Each 10:00-10:10: 20 minutes, 2 participants.
INSERT INTO ev VALUES
  (13, 'A', 'join', '2026-11-02 10:00+08'), (13, 'a', 'join', '2026-11-02 10:00+08'),
  (13, 'A', 'leave', '2026-11-02 10:10+08'), (13, 'a', 'leave', '2026-11-02 10:10+08');
-- SPEC 1.5: an end closes only what is open; a participant who left
-- earlier is not reopened.  A 10:00-10:05 leave, B 10:00-10:30 end:
-- 5 + 30 = 35 minutes.
INSERT INTO ev VALUES
  (14, 'A', 'join', '2026-11-02 10:00+08'), (14, 'B', 'join', '2026-11-02 10:00+08'),
  (14, 'A', 'leave', '2026-11-02 10:05+08'), (14, NULL, 'end', '2026-11-02 10:30+08');

SELECT c, classbill.minutes(u) AS minutes, classbill.seconds(u) AS seconds,
       classbill.participants(u) AS participants, classbill.peak(u) AS peak,
       classbill.duplicate_joins(u) AS dup, classbill.orphan_leaves(u) AS orphan,
       classbill.unterminated_sessions(u) AS unterm, classbill.events(u) AS events
FROM (SELECT c, classbill.room_usage(p, e, t) AS u FROM ev GROUP BY c) AS s
ORDER BY c;

-- SPEC 1.9: the result never depends on input row order.  Every case fed
-- in time order, in reverse and in four pseudo-random orders gives one
-- value (count of distinct text forms per case = 1).
SELECT c, count(DISTINCT u::text) AS distinct_values
FROM (SELECT c, classbill.room_usage(p, e, t ORDER BY t, e, p) AS u FROM ev GROUP BY c
      UNION ALL
      SELECT c, classbill.room_usage(p, e, t ORDER BY t DESC, e DESC, p DESC) FROM ev GROUP BY c
      UNION ALL
      SELECT c, classbill.room_usage(p, e, t ORDER BY md5(p || e || t || k)) FROM ev,
             generate_series(1, 4) AS k GROUP BY c, k) AS x
GROUP BY c
HAVING count(DISTINCT u::text) <> 1;

-- A room whose rows span more than 2^45 microseconds (about 407 days) is
-- kept as 12-byte events instead of 8-byte keys and sorted by their own
-- comparison: SPEC 1.3 holds there too.  Case 3 (join 0, leave 10, join
-- 10, leave 20: 20 minutes) with B's 10 minutes two years earlier: 30
-- minutes, no duplicate join, no orphan leave, whether the rows come in
-- (time, kind name) order, which puts the join of 10:10 before its leave,
-- or in reverse.
CREATE TABLE wide_ev AS SELECT * FROM ev WHERE false;
INSERT INTO wide_ev VALUES
  (1, 'B', 'join',  '2024-11-02 10:00+08'), (1, 'B', 'leave', '2024-11-02 10:10+08'),
  (1, 'A', 'join',  '2026-11-02 10:00+08'), (1, 'A', 'join',  '2026-11-02 10:10+08'),
  (1, 'A', 'leave', '2026-11-02 10:10+08'), (1, 'A', 'leave', '2026-11-02 10:20+08');
SELECT o, classbill.minutes(u), classbill.duplicate_joins(u) AS dup, classbill.orphan_leaves(u) AS orphan
FROM (SELECT 'forward' AS o, classbill.room_usage(p, e, t ORDER BY t, e) AS u FROM wide_ev
      UNION ALL
      SELECT 'reverse', classbill.room_usage(p, e, t ORDER BY t DESC, e DESC) FROM wide_ev) AS x;
DROP TABLE wide_ev;

-- An empty group gives NULL, like other aggregates over no rows.
SELECT classbill.room_usage(p, e, t) IS NULL AS no_rows FROM ev WHERE false;

DROP TABLE ev;
