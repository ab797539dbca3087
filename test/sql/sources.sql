-- Sources (where the service's rows live) and the quantities computed
-- from them (SPEC 1.7, 3.1).
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

-- Nothing registered: an error that says what to run.
SELECT * FROM classbill.billable_days('2026-11-01', '2026-12-01');
\echo :LAST_ERROR_SQLSTATE

-- Registration checks the columns, naming every problem.
CREATE TABLE bad_events (room int, who text, event text, at timestamp);
SELECT classbill.register_source('events', 'bad_events');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE bad_rooms (room int, account int, width text);
SELECT classbill.register_source('rooms', 'bad_rooms');
SELECT classbill.register_source('invoices', 'bad_rooms');
SELECT classbill.register_source('rooms', 'no_such_table');

-- Views and tables are both fine; varchar and int8 columns too.  Rooms
-- and events are joined on room, so the two must agree on its type.
CREATE TABLE s_rooms (room bigint, account varchar, mode text, width int8, height int2);
CREATE TABLE s_events_int (room int, participant text, event text, at timestamptz);
CREATE TABLE s_events (room bigint, participant varchar(40), event text, at timestamptz, extra text);
CREATE VIEW s_events_view AS SELECT * FROM s_events;
SELECT classbill.register_source('rooms', 's_rooms');
SELECT classbill.register_source('events', 's_events_int');
SELECT classbill.register_source('events', 's_events_view');
SELECT kind, relation FROM classbill.sources ORDER BY kind;
-- Registering again replaces.
SELECT classbill.register_source('events', 's_events');
SELECT kind, relation FROM classbill.sources ORDER BY kind;

INSERT INTO classbill.accounts VALUES ('acme', 'postpaid', 'CNY');
-- Room 1 (declared 1v1, 640x480): T and S from 2026-11-01 23:30 to 11-02
--   00:30 +08: 11-01 2 x 30 min = 60, 11-02 60.
-- Room 2 (no mode, 2 participants: inferred 1v1, 1280x720): 11-02 10:00 to
--   10:20: 40 min.
-- Room 3 (no mode, 3 participants: inferred 1vn, 320x240): 11-02 10:00 to
--   10:10: 30 min.
-- Room 4 (declared 1vn, 1280x720): 11-02 09:00 to 09:00:30, 1 participant:
--   30 s, rounded with room 5's 30 s on the same day and group (SPEC 1.7):
-- Room 5 (declared 1vn, 1280x720): 11-02 11:00 to 11:00:30: 30 s.  720p 1vn
--   11-02: 60 s = 1 minute (per room it would be 2).
INSERT INTO s_rooms VALUES (1, 'acme', '1v1', 640, 480), (2, 'acme', NULL, 1280, 720),
  (3, 'acme', NULL, 320, 240), (4, 'acme', '1vn', 1280, 720), (5, 'acme', '1vn', 1280, 720);
INSERT INTO s_events (room, participant, event, at) VALUES
  (1, 'T', 'join', '2026-11-01 23:30+08'), (1, 'S', 'join', '2026-11-01 23:30+08'),
  (1, 'T', 'leave', '2026-11-02 00:30+08'), (1, 'S', 'leave', '2026-11-02 00:30+08'),
  (2, 'T', 'join', '2026-11-02 10:00+08'), (2, 'S', 'join', '2026-11-02 10:00+08'),
  (2, NULL, 'end', '2026-11-02 10:20+08'),
  (3, 'T', 'join', '2026-11-02 10:00+08'), (3, 'S', 'join', '2026-11-02 10:00+08'),
  (3, 'U', 'join', '2026-11-02 10:00+08'), (3, NULL, 'end', '2026-11-02 10:10+08'),
  (4, 'T', 'join', '2026-11-02 09:00+08'), (4, 'T', 'leave', '2026-11-02 09:00:30+08'),
  (5, 'T', 'join', '2026-11-02 11:00+08'), (5, 'T', 'leave', '2026-11-02 11:00:30+08');

SELECT room, account, tier, declared_mode, mode, classbill.minutes(usage)
FROM classbill.room_values('2026-11-01', '2026-11-03') ORDER BY room;
SELECT * FROM classbill.billable_days('2026-11-01', '2026-11-03');
-- Only 11-02: room 1's events on 11-01 still count for its sessions, but
-- only 11-02's presence is returned.
SELECT * FROM classbill.billable_days('2026-11-02', '2026-11-03');

-- Storing replaces the days asked for, nothing else.
SELECT classbill.store_usage_days('2026-11-01', '2026-11-03') AS stored;
UPDATE classbill.usage_days SET seconds = 1 WHERE day = '2026-11-01';
SELECT classbill.store_usage_days('2026-11-02', '2026-11-03') AS stored;
SELECT account, tier, mode, day, seconds, minutes FROM classbill.usage_days ORDER BY day, tier, mode;

-- Nothing is billed to no one: events of a room the rooms source does not
-- know, or usage of an account classbill does not know, are errors.
INSERT INTO s_events (room, participant, event, at) VALUES
  (9, 'X', 'join', '2026-11-05 10:00+08'), (9, 'X', 'leave', '2026-11-05 10:10+08');
SELECT * FROM classbill.billable_days('2026-11-05', '2026-11-06');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO s_rooms VALUES (9, 'nobody', '1v1', 640, 480);
SELECT classbill.store_usage_days('2026-11-05', '2026-11-06');
\echo :LAST_ERROR_SQLSTATE
-- A mode that is not a mode is an error naming it.
UPDATE s_rooms SET account = 'acme', mode = '1vmany' WHERE room = 9;
SELECT * FROM classbill.billable_days('2026-11-05', '2026-11-06');

DELETE FROM classbill.usage_days;
DELETE FROM classbill.sources;
DELETE FROM classbill.accounts;
DROP VIEW s_events_view;
DROP TABLE s_rooms, s_events, s_events_int, bad_events, bad_rooms;

-- A fresh session, where nothing of classbill ran yet (a pg_cron job),
-- still finds the billing time zone: 2026-11-01 starts at 00:00 in
-- Shanghai, 16:00 UTC the day before.
\c -
SELECT classbill.day_start('2026-11-01') AT TIME ZONE 'UTC' AS starts_utc;
