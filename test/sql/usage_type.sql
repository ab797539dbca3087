-- SPEC 9: classbill.usage as a stored value: text form, its checks, the
-- portable binary form.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';

-- The seed example (SPEC 1.1) as a value, and its text form read back.
CREATE TABLE stored (id int, u classbill.usage);
INSERT INTO stored
SELECT 1, classbill.room_usage(p, e, t)
FROM (VALUES ('A', 'join', '2026-11-02 10:00+08'::timestamptz),
             ('B', 'join', '2026-11-02 10:00+08'), ('A', 'leave', '2026-11-02 10:10+08'),
             ('C', 'join', '2026-11-02 10:10+08'), ('B', 'leave', '2026-11-02 10:20+08'),
             ('C', 'leave', '2026-11-02 10:20+08')) AS v(p, e, t);
SELECT u FROM stored;
SELECT u::text::classbill.usage::text = u::text AS round_trip FROM stored;

-- Text input: keys in any order, blanks of any kind between them, zone
-- names in any letter case (stored canonically), seconds with up to six
-- decimals (printed without trailing zeros), instants in UTC.  Days
-- 30.5 s and 1 us: minutes ceil(30.5/60) + ceil(0.000001/60) = 2, seconds
-- 30.500001; peak at 10:00 +08, stage peak at 10:05:00.5 +08.
SET timezone = 'Asia/Shanghai';
SELECT v, classbill.minutes(v), classbill.seconds(v), classbill.billing_timezone(v),
       classbill.peak_at(v), classbill.stage_peak_at(v)
FROM (SELECT 'days=2026-11-02:30.500000,2026-11-03:0.000001   tz=asia/shanghai
              rooms=2 participants=3 peak=2 peak_at=2026-11-02T02:00:00Z stage_peak=1
              stage_peak_at=2026-11-02T02:05:00.5Z events=9 duplicate_joins=1
              orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0
              unterminated_sessions=1'::classbill.usage AS v) AS s;

SET timezone = 'UTC';

-- A value with no days (a room where nobody stayed): no peak, no instant.
SELECT v, classbill.peak_at(v) IS NULL AS no_peak_at
FROM (SELECT 'tz=UTC rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=1 duplicate_joins=0 orphan_leaves=1 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days='::classbill.usage AS v) AS s;

-- The binary form (send) is the documented portable layout: version 1,
-- flags 0, zone length 3, 1 day, rooms 1, participants 1, peak 1, stage
-- peak 0, events 2, five zero counters, the peak's instant (2026-11-02
-- 00:00 UTC = 9802 days x 86,400,000,000 us after 2000-01-01), no stage
-- peak instant (INT64_MIN), "UTC", day 9802 with 60,000,000 us.
SELECT encode(classbill.usage_send('tz=UTC rooms=1 participants=1 peak=1 peak_at=2026-11-02T00:00:00Z stage_peak=0 stage_peak_at= events=2 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=2026-11-02:60'), 'hex');
SELECT '2026-11-02'::date - '2000-01-01'::date AS day_number, to_hex(9802) AS hex,
       to_hex(9802 * 86400000000) AS peak_at_hex, to_hex(60000000) AS usec_hex;

-- Malformed text is an error that says what and where, never a crash.
SELECT ''::classbill.usage;
SELECT 'garbage'::classbill.usage;
SELECT 'tz=UTC'::classbill.usage;
SELECT 'tz=UTC rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days= color=blue'::classbill.usage;
SELECT 'tz=UTC tz=UTC rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days='::classbill.usage;
SELECT 'tz=Mars/Olympus rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days='::classbill.usage;
SELECT 'tz=UTC rooms=-1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days='::classbill.usage;
SELECT 'tz=UTC rooms=99999999999999999999 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days='::classbill.usage;
SELECT 'tz=UTC rooms=1 participants=0 peak=2147483648 stage_peak=0 events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days='::classbill.usage;
SELECT 'tz=UTC rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=2026-02-30:60'::classbill.usage;
SELECT 'tz=UTC rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=2026-11-03:60,2026-11-02:60'::classbill.usage;
SELECT 'tz=UTC rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=2026-11-02:0'::classbill.usage;
SELECT 'tz=UTC rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=2026-11-02:1.0000001'::classbill.usage;
SELECT 'tz=UTC rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=2026-11-02:60,'::classbill.usage;
SELECT 'tz=UTC rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=1850-01-01:60'::classbill.usage;
SELECT 'tz=UTC rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=2026-11-02:9999999999999999'::classbill.usage;
SELECT ('tz=' || repeat('x', 300) || ' rooms=1')::classbill.usage;
-- a peak needs its instant, a zero peak has none, instants are UTC
SELECT 'tz=UTC rooms=1 participants=1 peak=1 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days='::classbill.usage;
SELECT 'tz=UTC rooms=1 participants=1 peak=0 peak_at=2026-11-02T00:00:00Z stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days='::classbill.usage;
SELECT 'tz=UTC rooms=1 participants=1 peak=1 peak_at=2026-11-02 00:00:00 stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days='::classbill.usage;
SELECT 'tz=UTC rooms=1 participants=1 peak=1 peak_at=2026-11-02T24:00:00Z stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days='::classbill.usage;

DROP TABLE stored;

-- A value built under one billing zone, billed under another: the check
-- classbill's billing functions apply to values (they may come from other
-- nodes) passes it through in its own zone and names both otherwise.
SET classbill.billing_timezone = 'UTC';
SELECT classbill.billing_timezone(classbill.in_billing_zone(
  'tz=UTC rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=2026-11-02:60'));
SET classbill.billing_timezone = 'Asia/Shanghai';
SELECT classbill.in_billing_zone(
  'tz=UTC rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=2026-11-02:60');
-- Zones of one name length are told apart by name: built in Asia/Tokyo,
-- billed in Asia/Seoul (both +09 today, but other calendars in history).
SET classbill.billing_timezone = 'Asia/Seoul';
SELECT classbill.in_billing_zone(
  'tz=Asia/Tokyo rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=2026-11-02:60');
SELECT classbill.in_zone(
  'tz=Asia/Tokyo rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=2026-11-02:60',
  'Asia/Seoul');
SELECT classbill.billing_timezone(classbill.in_zone(
  'tz=Asia/Tokyo rooms=1 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=2026-11-02:60',
  'Asia/Tokyo'));
RESET classbill.billing_timezone;
