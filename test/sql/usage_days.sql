-- SPEC 1.6, 1.7: exact time, billing days in the billing time zone,
-- midnight and DST splits, per-day rounding.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';

CREATE TABLE ev (c int, p text, e text, t timestamptz);

-- SPEC 1.6: a session across midnight (Asia/Shanghai) is split there.
-- 23:50 to 00:20 the next day: 600 s on 11-02, 1200 s on 11-03; 10 + 20 =
-- 30 minutes.
INSERT INTO ev VALUES
  (1, 'A', 'join', '2026-11-02 23:50+08'), (1, 'A', 'leave', '2026-11-03 00:20+08');
-- SPEC 1.7: each day is rounded up on its own.  23:59:30 to 00:00:30:
-- 30 s on each day, ceil(30/60) + ceil(30/60) = 2 minutes (not 1).
INSERT INTO ev VALUES
  (2, 'A', 'join', '2026-11-02 23:59:30+08'), (2, 'A', 'leave', '2026-11-03 00:00:30+08');
-- SPEC 1.7: nothing is rounded per participant or per session.  Three
-- participants of 20 s each and two more sessions of A of 10 s each:
-- 80 s in the day, ceil(80/60) = 2 minutes (per-session rounding would
-- give 5).
INSERT INTO ev VALUES
  (3, 'A', 'join', '2026-11-02 10:00:00+08'), (3, 'A', 'leave', '2026-11-02 10:00:20+08'),
  (3, 'B', 'join', '2026-11-02 10:00:00+08'), (3, 'B', 'leave', '2026-11-02 10:00:20+08'),
  (3, 'C', 'join', '2026-11-02 10:00:00+08'), (3, 'C', 'leave', '2026-11-02 10:00:20+08'),
  (3, 'A', 'join', '2026-11-02 11:00:00+08'), (3, 'A', 'leave', '2026-11-02 11:00:10+08'),
  (3, 'A', 'join', '2026-11-02 12:00:00+08'), (3, 'A', 'leave', '2026-11-02 12:00:10+08');
-- SPEC 1.6: microsecond exactness.  One microsecond of presence is
-- 0.000001 s and bills 1 minute; exactly 60 s bills 1 minute; 60 s and
-- one microsecond bills 2.
INSERT INTO ev VALUES
  (4, 'A', 'join', '2026-11-02 10:00:00+08'), (4, 'A', 'leave', '2026-11-02 10:00:00.000001+08'),
  (5, 'A', 'join', '2026-11-02 10:00:00+08'), (5, 'A', 'leave', '2026-11-02 10:01:00+08'),
  (6, 'A', 'join', '2026-11-02 10:00:00+08'), (6, 'A', 'leave', '2026-11-02 10:01:00.000001+08');
-- SPEC 1.6: a session over three days: 2026-11-02 22:00 to 11-04 01:00.
-- 11-02: 2 h = 7200 s; 11-03: 86400 s; 11-04: 3600 s; 120 + 1440 + 60
-- = 1620 minutes.
INSERT INTO ev VALUES
  (7, 'A', 'join', '2026-11-02 22:00+08'), (7, 'A', 'leave', '2026-11-04 01:00+08');
-- SPEC 1.6: odd microseconds across midnight.  23:59:59.999999 to
-- 00:00:00.000001: 1 us on each day, 2 minutes.
INSERT INTO ev VALUES
  (8, 'A', 'join', '2026-11-02 23:59:59.999999+08'),
  (8, 'A', 'leave', '2026-11-03 00:00:00.000001+08');

SELECT c, d.day, d.seconds, d.minutes
FROM (SELECT c, classbill.room_usage(p, e, t) AS u FROM ev GROUP BY c) AS s,
     classbill.daily(s.u) AS d
ORDER BY c, d.day;

SELECT c, classbill.minutes(u) AS minutes, classbill.seconds(u) AS seconds
FROM (SELECT c, classbill.room_usage(p, e, t) AS u FROM ev GROUP BY c) AS s
ORDER BY c;

-- SPEC 1.6, 9: the same rows in another billing time zone.  Case 1 in
-- UTC: 15:50 to 16:20 UTC on 11-02 is one day of 1800 s, 30 minutes;
-- case 2 in UTC: 15:59:30 to 16:00:30 is one day of 60 s, 1 minute.
SET classbill.billing_timezone = 'UTC';
SELECT c, d.day, d.seconds, d.minutes
FROM (SELECT c, classbill.room_usage(p, e, t) AS u FROM ev WHERE c IN (1, 2) GROUP BY c) AS s,
     classbill.daily(s.u) AS d
ORDER BY c, d.day;

-- SPEC 9: the zone is kept inside the value.  Built in Europe/Berlin, the
-- value keeps Berlin's days after the setting changes.  Case 1 in Berlin
-- (+01): 16:50 to 17:20 on 11-02, one day of 1800 s.
SET classbill.billing_timezone = 'Europe/Berlin';
CREATE TABLE kept AS
  SELECT classbill.room_usage(p, e, t) AS u FROM ev WHERE c = 1;
SET classbill.billing_timezone = 'Asia/Shanghai';
SELECT classbill.billing_timezone(u), d.* FROM kept, classbill.daily(kept.u) AS d;
DROP TABLE kept;

-- SPEC 1.6: zone names resolve as the TimeZone setting does and are
-- stored under their canonical spelling.
SET classbill.billing_timezone = 'europe/berlin';
SHOW classbill.billing_timezone;
SELECT classbill.billing_timezone(classbill.room_usage(p, e, t)) FROM ev WHERE c = 1;

TRUNCATE ev;

-- SPEC 1.6: DST.  America/New_York springs forward on 2026-03-08 (02:00
-- EST -> 03:00 EDT): that day is 23 hours.  Present from local midnight
-- 03-08 (05:00 UTC) to local midnight 03-09 (04:00 UTC): 82,800 s on
-- 03-08 alone, 1380 minutes.
INSERT INTO ev VALUES
  (1, 'A', 'join', '2026-03-08 00:00-05'), (1, 'A', 'leave', '2026-03-09 00:00-04');
-- It falls back on 2026-11-01: that day is 25 hours.  From 11-01 00:00
-- EDT (04:00 UTC) to 11-02 00:00 EST (05:00 UTC): 90,000 s, 1500 minutes.
INSERT INTO ev VALUES
  (2, 'A', 'join', '2026-11-01 00:00-04'), (2, 'A', 'leave', '2026-11-02 00:00-05');
-- Across the fall-back midnight: 11-01 23:30 EST to 11-02 00:30 EST:
-- 1800 s on each day, 30 + 30 minutes.
INSERT INTO ev VALUES
  (3, 'A', 'join', '2026-11-01 23:30-05'), (3, 'A', 'leave', '2026-11-02 00:30-05');
-- Within the repeated hour: 01:30 EDT (05:30 UTC) to 01:30 EST (06:30
-- UTC) is one real hour: 3600 s on 11-01.
INSERT INTO ev VALUES
  (4, 'A', 'join', '2026-11-01 05:30+00'), (4, 'A', 'leave', '2026-11-01 06:30+00');

SET classbill.billing_timezone = 'America/New_York';
SELECT c, d.day, d.seconds, d.minutes
FROM (SELECT c, classbill.room_usage(p, e, t) AS u FROM ev GROUP BY c) AS s,
     classbill.daily(s.u) AS d
ORDER BY c, d.day;

-- SPEC 1.6: America/Santiago springs forward at midnight on 2026-09-06
-- (00:00 -04 -> 01:00 -03): that day starts at 04:00 UTC and is 23 hours.
-- Present 2026-09-05 23:00 -04 (09-06 03:00 UTC) to 09-06 02:00 -03 (05:00
-- UTC): 3600 s on 09-05 and 3600 s on 09-06.
TRUNCATE ev;
INSERT INTO ev VALUES
  (1, 'A', 'join', '2026-09-06 03:00+00'), (1, 'A', 'leave', '2026-09-06 05:00+00');
SET classbill.billing_timezone = 'America/Santiago';
SELECT c, d.day, d.seconds, d.minutes
FROM (SELECT c, classbill.room_usage(p, e, t) AS u FROM ev GROUP BY c) AS s,
     classbill.daily(s.u) AS d
ORDER BY c, d.day;

DROP TABLE ev;
