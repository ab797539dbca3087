-- SPEC 4.1, 4.2, 5.1: recording storage sampled every 5 minutes, MP4
-- export by processed time.  1 GB = 2^30 = 1073741824 bytes.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

CREATE TABLE f (c int, bytes bigint, ready timestamptz, keep interval, deleted timestamptz);
-- 1: 1 GB ready 11-02 10:02 +08, kept: on 11-02 it counts from the 10:05
--    mark (k = 121) to the last (k = 287): 167 marks, 167/288 GB; from
--    11-03 every mark: 288, 1 GB.
-- 2: 1 GB ready 11-02 10:00, kept exactly 1 day: 11-02 the marks 10:00 ..
--    23:55 (168), 11-03 00:00 .. 09:55 (120; the 10:00 mark is past the
--    end): 168 + 120 = 288 marks, one GB-day in all.
-- 3: 1 GB ready 11-02 00:00, retention 12 hours: marks 00:00 .. 11:55: 144.
-- 4: 1 GB ready 11-02 00:00, retention 30 days, deleted 06:00: 72 marks.
-- 5: 2 GB ready 11-01 00:00, no retention, never deleted: 288 every day.
-- 6: 0 bytes ready 11-02 00:00: nothing.
-- 7: 1 GB ready 11-02 23:55:00.000001, kept 1 minute: no mark in
--    [23:55:00.000001, 23:56:00.000001): nothing.
INSERT INTO f VALUES
  (1, 1073741824, '2026-11-02 10:02+08', NULL, NULL),
  (2, 1073741824, '2026-11-02 10:00+08', '1 day', NULL),
  (3, 1073741824, '2026-11-02 00:00+08', '12 hours', NULL),
  (4, 1073741824, '2026-11-02 00:00+08', '30 days', '2026-11-02 06:00+08'),
  (5, 2147483648, '2026-11-01 00:00+08', NULL, NULL),
  (6, 0, '2026-11-02 00:00+08', NULL, NULL),
  (7, 1073741824, '2026-11-02 23:55:00.000001+08', '1 minute', NULL);

SELECT c, d.day, d.marks, d.byte_marks / 1073741824 AS gb_marks,
       classbill.storage_gb(d) AS gb
FROM (SELECT c, classbill.storage_days('2026-11-01', '2026-11-04', bytes, ready, keep, deleted) AS days
      FROM f GROUP BY c) AS x, unnest(x.days) AS d
ORDER BY c, d.day;

-- All files together: 11-02 = 167 + 168 + 144 + 72 + 2 x 288 = 1127 GB-marks
-- = 3.913194... GB; 11-03 = 288 + 120 + 576 = 984 = 3.416666... GB.
SELECT d.day, d.marks, d.byte_marks / 1073741824 AS gb_marks, classbill.storage_gb(d) AS gb
FROM (SELECT classbill.storage_days('2026-11-01', '2026-11-04', bytes, ready, keep, deleted) AS days
      FROM f) AS x, unnest(x.days) AS d;

-- SPEC 4.2 on DST days (America/New_York): 2026-11-01 has 25 hours, 300
-- marks; 2026-03-08 has 23 hours, 276 marks.  A file present all day is
-- its size in GB either way.
SET classbill.billing_timezone = 'America/New_York';
SELECT d.day, d.marks, classbill.storage_gb(d) AS gb
FROM (SELECT classbill.storage_days('2026-11-01', '2026-11-02', 1073741824, '2026-10-01', NULL, NULL)
        AS days) AS x, unnest(x.days) AS d
UNION ALL
SELECT d.day, d.marks, classbill.storage_gb(d)
FROM (SELECT classbill.storage_days('2026-03-08', '2026-03-09', 1073741824, '2026-03-01', NULL, NULL)
        AS days) AS x, unnest(x.days) AS d;
-- On the fall-back day a file from 01:30 EDT to 01:30 EST (one real
-- hour, 12 marks) is 12/300 GB.
SELECT d.day, d.marks, d.byte_marks / 1073741824 AS gb_marks
FROM (SELECT classbill.storage_days('2026-11-01', '2026-11-02', 1073741824,
                                    '2026-11-01 01:30-04', '1 hour', NULL) AS days) AS x,
     unnest(x.days) AS d;
SET classbill.billing_timezone = 'Asia/Shanghai';

-- A retention is elapsed time, whatever the session's time zone: '1 day'
-- is 24 hours even across a DST change, 1 month is 30 days.
SET timezone = 'America/New_York';
SELECT d.day, d.marks
FROM (SELECT classbill.storage_days('2026-10-31', '2026-11-03', 1, '2026-11-01 00:00+08', '1 day', NULL)
        AS days) AS x, unnest(x.days) AS d;
SET timezone = 'UTC';

-- Bad input is an error naming the value (SPEC 8).
SELECT classbill.storage_days('2026-11-01', '2026-11-04', -5, '2026-11-02 10:00+08', NULL, NULL);
SELECT classbill.storage_days('2026-11-01', '2026-11-04', 5, '2026-11-02 10:00+08', NULL, '2026-11-02 09:00+08');
SELECT classbill.storage_days('2026-11-01', '2026-11-04', 5, '2026-11-02 10:00+08', '-1 day', NULL);
SELECT classbill.storage_days('2026-11-01', '2026-11-04', NULL, '2026-11-02 10:00+08', NULL, NULL);
SELECT classbill.storage_days('2026-11-04', '2026-11-01', 5, '2026-11-02 10:00+08', NULL, NULL);
SELECT classbill.storage_days(d, '2026-11-04', 5, '2026-11-02 10:00+08', NULL, NULL)
FROM (VALUES ('2026-11-01'::date), ('2026-11-02')) AS v(d);
-- Deleted the instant it was ready: stored for nothing, no error.
SELECT classbill.storage_days('2026-11-01', '2026-11-04', 5, '2026-11-02 10:00+08', NULL, '2026-11-02 10:00+08');

-- Lines from the sources, with an example price of 0.118 per GB-month:
-- a GB stored all day is 1/30 GB-month = 0.0039333... CNY, kept exact.
CREATE TABLE st_rooms (room int, account text, mode text, width int, height int);
CREATE TABLE st_events (room int, participant text, event text, at timestamptz);
CREATE TABLE st_recordings (room int, bytes bigint, ready_at timestamptz, retention interval, deleted_at timestamptz);
CREATE TABLE st_exports (room int, processed interval, finished_at timestamptz);
SELECT classbill.register_source('rooms', 'st_rooms');
SELECT classbill.register_source('events', 'st_events');
SELECT classbill.register_source('recordings', 'st_recordings');
SELECT classbill.register_source('exports', 'st_exports');
INSERT INTO classbill.accounts VALUES ('acme', 'postpaid', 'CNY');
INSERT INTO classbill.rates (product, currency, valid_from, price) VALUES
  ('storage', 'CNY', '2026-01-01', 0.118), ('export', 'CNY', '2026-01-01', 0.05);
INSERT INTO st_rooms VALUES (1, 'acme', '1v1', 640, 480), (2, 'acme', '1vn', 640, 480);
-- Class 1 ends 11-30 11:00 +08 (its last event); its recording, 3 GB, is
-- ready 11-30 12:00 and deleted 12-01 12:00: it spans the month boundary:
-- 144 marks in November (12:00 .. 23:55), 144 in December.
-- Class 2 ends 11-02 11:00; its recording, 1 GB, is ready 11-03 11:00:01,
-- a second over 24 hours: late (SPEC 4.1); kept 1 hour: 12 marks.
INSERT INTO st_events VALUES
  (1, 'T', 'join', '2026-11-30 10:00+08'), (1, 'T', 'leave', '2026-11-30 11:00+08'),
  (2, 'T', 'join', '2026-11-02 10:00+08'), (2, 'T', 'leave', '2026-11-02 11:00+08');
INSERT INTO st_recordings VALUES
  (1, 3 * 1073741824::bigint, '2026-11-30 12:00+08', NULL, '2026-12-01 12:00+08'),
  (2, 1073741824, '2026-11-03 11:00:01+08', '1 hour', NULL);
-- Exports (SPEC 5.1): on 11-05, 90 s and 30 s: 120 s = 2 minutes (rounded
-- once per day, not 2 + 1); one finishing 11-05 23:59:59 +08 counts on
-- 11-05 too (+ 45 s: 165 s = 3 minutes); one at 11-06 00:00 on 11-06 (1 s:
-- 1 minute).
INSERT INTO st_exports VALUES
  (1, '90 seconds', '2026-11-05 10:00+08'), (2, '30 seconds', '2026-11-05 11:00+08'),
  (1, '45 seconds', '2026-11-05 23:59:59+08'), (2, '1 second', '2026-11-06 00:00+08');

SELECT day, product, quantity, unit, unit_price, amount
FROM classbill.rated_lines('2026-11-01', '2026-12-01', 'acme')
ORDER BY day, product;
-- November's statement: storage (144 x 3 + 12) / 288 / 30 = 0.0513888...
-- GB-month x 0.118 = 0.0060638888... -> 0.01; export 3 + 1 minutes x 0.05
-- = 0.20.
SELECT product, quantity, unit, exact_amount, amount FROM classbill.live_statement('2026-11-01', 'acme');
-- December gets the rest of the recording spanning the boundary.
SELECT day, product, round(quantity, 12) AS quantity, round(amount, 12) AS amount
FROM classbill.storage_lines('2026-12-01', '2027-01-01', 'acme');

SET timezone = 'Asia/Shanghai';
SELECT * FROM classbill.late_recordings('2026-11-01', '2026-12-01');
SET timezone = 'UTC';

-- A missing storage or export rate is an error naming the day.
DELETE FROM classbill.rates WHERE product = 'export';
SELECT count(*) FROM classbill.rated_lines('2026-11-01', '2026-12-01', 'acme');

DELETE FROM classbill.sources;
DELETE FROM classbill.rates;
DELETE FROM classbill.accounts;
DROP TABLE f, st_rooms, st_events, st_recordings, st_exports;
