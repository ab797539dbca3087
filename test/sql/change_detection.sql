-- SPEC 7.2 (and 3.1): a close finds every change to the rows of closed
-- days that alters what they would bill: rows added, removed or edited in
-- place, edits that cancel in a sum, rooms rows changed, packs recorded
-- late; it bills them as adjustment lines pointing at the day they
-- correct, and lists what is older than the recheck window.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

-- classbill.recheck_days is a real setting: it can be set once the
-- library is loaded (1.1: "reserved prefix"), for a role and for a
-- database (1.1 removed such a value with a warning).
SELECT classbill.tier(640, 480);
SHOW classbill.recheck_days;
SET classbill.recheck_days = 3;
SELECT classbill.recheck_days();
SET classbill.recheck_days = -1;
RESET classbill.recheck_days;
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET classbill.recheck_days = 5', current_database()); END $$;
DO $$ BEGIN EXECUTE format('ALTER ROLE %I SET classbill.watch_days = 10', current_user); END $$;
\c
SHOW classbill.recheck_days;
SHOW classbill.watch_days;
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET classbill.recheck_days', current_database()); END $$;
DO $$ BEGIN EXECUTE format('ALTER ROLE %I RESET classbill.watch_days', current_user); END $$;
\c
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never
SHOW classbill.recheck_days;
SHOW classbill.watch_days;

CREATE TABLE c_rooms (room int, account text, mode text, width int, height int);
CREATE TABLE c_events (room int, participant text, event text, at timestamptz);
SET client_min_messages = warning;
SELECT classbill.register_source('rooms', 'c_rooms');
SELECT classbill.register_source('events', 'c_events');
RESET client_min_messages;

-- Rates (examples for this file): 480p 1v1 0.05, 1vn 0.03; 720p 1v1
-- 0.08, 1vn 0.06.  p and q postpaid, r prepaid with no pack yet.
INSERT INTO classbill.accounts VALUES ('p', 'postpaid', 'CNY', 'P'), ('q', 'postpaid', 'CNY', 'Q'),
  ('r', 'prepaid', 'CNY', 'R');
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES
  ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.05), ('usage', '1vn', '480p', 'CNY', '2026-01-01', 0.03),
  ('usage', '1v1', '720p', 'CNY', '2026-01-01', 0.08), ('usage', '1vn', '720p', 'CNY', '2026-01-01', 0.06);
INSERT INTO classbill.pack_items VALUES ('720p-100', '720p', 100);
INSERT INTO classbill.pack_prices VALUES ('720p-100', 'CNY', '2026-01-01', 5);

-- Rooms 1 (p, 1v1), 2 (q, 1v1), 3 (p, no mode: inferred), 4 (r, 1v1),
-- 5 (q, 1v1), all 640x480.
--   11-01: room 1 A 10:00-10:30 (30 min), room 2 B 10:00-10:30 (30),
--          room 3 X, Y 14:00-14:20 (2 present: 1v1, 40), room 4 C 09:00-09:10 (10)
--   11-02: room 3 X, Y, Z 14:00-14:10 (3 present: 1vn, 30)
INSERT INTO c_rooms VALUES (1, 'p', '1v1', 640, 480), (2, 'q', '1v1', 640, 480), (3, 'p', NULL, 640, 480),
  (4, 'r', '1v1', 640, 480), (5, 'q', '1v1', 640, 480);
INSERT INTO c_events VALUES
  (1, 'A', 'join', '2026-11-01 10:00+08'), (1, 'A', 'leave', '2026-11-01 10:30+08'),
  (2, 'B', 'join', '2026-11-01 10:00+08'), (2, 'B', 'leave', '2026-11-01 10:30+08'),
  (3, 'X', 'join', '2026-11-01 14:00+08'), (3, 'Y', 'join', '2026-11-01 14:00+08'),
  (3, NULL, 'end', '2026-11-01 14:20+08'),
  (4, 'C', 'join', '2026-11-01 09:00+08'), (4, 'C', 'leave', '2026-11-01 09:10+08'),
  (3, 'X', 'join', '2026-11-02 14:00+08'), (3, 'Y', 'join', '2026-11-02 14:00+08'),
  (3, 'Z', 'join', '2026-11-02 14:00+08'), (3, NULL, 'end', '2026-11-02 14:10+08');

-- SPEC 3.1: a room without a mode is 1v1 on 11-01 (2 present) and 1vn on
-- 11-02 (3 present).  The close of 11-02 does not move 11-01 to 1vn (1.1
-- did: it counted the room's participants over both days).
CALL classbill.close_day('2026-11-01');
CALL classbill.close_day('2026-11-02');
SELECT account, day, tier, mode, quantity, amount FROM classbill.ledger ORDER BY day, account, mode;
SELECT room, day, mode, participants, seconds FROM classbill.billed_rooms WHERE room = '3' ORDER BY day;

-- SPEC 7.2: two edits that cancel in a sum: room 1's leave 5 minutes
-- later (p: 30 -> 35, +5 x 0.05 = +0.25), room 2's 5 minutes earlier
-- (q: 30 -> 25, -5 x 0.05 = -0.25).  Row counts and the sum of the times
-- are the same (1.1's checksum missed them).
UPDATE c_events SET at = at + interval '5 minutes' WHERE room = 1 AND event = 'leave';
UPDATE c_events SET at = at - interval '5 minutes' WHERE room = 2 AND event = 'leave';
CALL classbill.close_day('2026-11-03');
SELECT account, day, corrects, mode, quantity, amount FROM classbill.ledger WHERE day = '2026-11-03' ORDER BY account;

-- Rooms rows changed after their days closed are changes too:
--   room 3 declared 1vn: p's 40 minutes of 11-01 move from 1v1 (-40 x 0.05
--     = -2.00) to 1vn (+40 x 0.03 = +1.20); 11-02 was 1vn already
--   room 4 at 1280x720: r's 10 minutes of 11-01 move from 480p (-0.50)
--     to 720p (+10 x 0.08 = +0.80)
--   room 2 to account p: q gives back its 25 minutes of 11-01 (-1.25), p's
--     1v1 group goes from 35 to 60 minutes (+25 x 0.05 = +1.25)
-- p's 1v1 480p group of 11-01 thus goes from 75 (35 + 40) to 60 minutes:
-- one line of -15 (-0.75).
UPDATE c_rooms SET mode = '1vn' WHERE room = 3;
UPDATE c_rooms SET width = 1280, height = 720 WHERE room = 4;
UPDATE c_rooms SET account = 'p' WHERE room = 2;
CALL classbill.close_day('2026-11-04');
SELECT account, corrects, tier, mode, quantity, amount FROM classbill.ledger WHERE day = '2026-11-04'
ORDER BY account, tier, mode, quantity;

-- SPEC 7.2: a pack recorded after its purchase day was closed is billed
-- (5.00, pointing at 11-01) and drawn from its purchase day on: r's 10
-- overage minutes of 11-01 (0.80) are covered by it and credited.
INSERT INTO classbill.packs (pack_id, account, tier, item, purchased_at)
VALUES (1, 'r', '720p', '720p-100', '2026-11-01 08:00+08');
CALL classbill.close_day('2026-11-05');
SELECT account, corrects, product, tier, mode, pack_id, quantity, amount FROM classbill.ledger
WHERE day = '2026-11-05' ORDER BY line_id;
SELECT pack_id, used, balance FROM classbill.ledger_pack_balances;

-- A leave that crosses midnight and arrives late: W joins room 5 on 11-06
-- at 23:50; at the close of 11-06 the session ends at the join (SPEC
-- 1.5), nothing is billed.  The leave at 00:20 comes in with 11-07:
-- 11-06 gets 10 minutes (+0.50), 11-07 its 20 minutes (1.00).
INSERT INTO c_events VALUES (5, 'W', 'join', '2026-11-06 23:50+08');
CALL classbill.close_day('2026-11-06');
INSERT INTO c_events VALUES (5, 'W', 'leave', '2026-11-07 00:20+08');
CALL classbill.close_day('2026-11-07');
SELECT account, day, corrects, quantity, amount FROM classbill.ledger WHERE day >= '2026-11-06' ORDER BY line_id;

-- Nothing lost, nothing twice: what is billed per day equals what the
-- sources say now.
SELECT b.account, b.day, b.tier, b.mode, b.minutes AS billed, coalesce(n.minutes, 0) AS now
FROM classbill.billed_usage AS b
LEFT JOIN classbill.billable_days('2026-11-01', '2026-11-08') AS n USING (account, day, tier, mode)
WHERE b.minutes <> coalesce(n.minutes, 0);
SELECT count(*) AS billed_now_missing FROM classbill.billable_days('2026-11-01', '2026-11-08') AS n
WHERE NOT EXISTS (SELECT FROM classbill.billed_usage AS b
                  WHERE (b.account, b.day, b.tier, b.mode, b.minutes) = (n.account, n.day, n.tier, n.mode, n.minutes));

-- SPEC 7.2: a change to a day older than the recheck window is listed in
-- close_problems, never dropped in silence, and not billed: with
-- recheck_days 2, closing 11-08 rechecks 11-06 and 11-07; a session of
-- room 1 on 11-02 (V 10:00-10:10) is listed.
SET classbill.recheck_days = 2;
INSERT INTO c_events VALUES (1, 'V', 'join', '2026-11-02 10:00+08'), (1, 'V', 'leave', '2026-11-02 10:10+08');
CALL classbill.close_day('2026-11-08');
SELECT account, day, source, room, problem, action FROM classbill.close_problems ORDER BY problem_id;
SELECT count(*) AS adjustments FROM classbill.ledger WHERE day = '2026-11-08';
-- with the window widened for one close, it is billed (+10 x 0.05 = +0.50)
SET classbill.recheck_days = 8;
CALL classbill.close_day('2026-11-09');
SELECT account, corrects, quantity, amount FROM classbill.ledger WHERE day = '2026-11-09';
RESET classbill.recheck_days;

DROP EXTENSION classbill CASCADE;
CREATE EXTENSION classbill;
DROP TABLE c_rooms, c_events;
