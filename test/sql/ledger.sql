-- SPEC 7: closing billing days into the ledger, late rows billed as
-- adjustments, statements and explanations.  (The ledger is append-only,
-- so this file ends by reinstalling the extension.)
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

CREATE TABLE l_rooms (room int, account text, mode text, width int, height int);
CREATE TABLE l_events (room int, participant text, event text, at timestamptz);
CREATE TABLE l_recordings (room int, bytes bigint, ready_at timestamptz, retention interval, deleted_at timestamptz);
CREATE TABLE l_exports (room int, processed interval, finished_at timestamptz);
SELECT classbill.register_source('rooms', 'l_rooms');
SELECT classbill.register_source('events', 'l_events');
SELECT classbill.register_source('recordings', 'l_recordings');
SELECT classbill.register_source('exports', 'l_exports');

-- Example rates for this test: 480p 1v1 0.05, 1vn 0.03; storage 0.118 per
-- GB-month; export 0.05.  Account p (prepaid) holds a 480p pack of 100
-- minutes bought 11-01; account q (postpaid) none.
INSERT INTO classbill.accounts VALUES ('p', 'prepaid', 'CNY', 'P School'), ('q', 'postpaid', 'CNY', 'Q Tutors');
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES
  ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.05), ('usage', '1vn', '480p', 'CNY', '2026-01-01', 0.03);
INSERT INTO classbill.rates (product, currency, valid_from, price) VALUES
  ('storage', 'CNY', '2026-01-01', 0.118), ('export', 'CNY', '2026-01-01', 0.05);
INSERT INTO classbill.pack_items VALUES ('480p-100', '480p', 100);
INSERT INTO classbill.pack_prices VALUES ('480p-100', 'CNY', '2026-01-01', 4);
INSERT INTO classbill.packs (pack_id, account, tier, item, purchased_at)
VALUES (1, 'p', '480p', '480p-100', '2026-11-01 08:00+08');

-- Rooms: 1 (p, 1v1 480p), 2 (p, 1vn 480p), 3 (q, 1v1 480p).
--   11-01: room 1 A 10:00-11:00 (60 min); room 3 C 10:00-10:30 (30)
--   11-02: room 2 B, D 10:00-10:30 (60 min of 1vn); room 1 A 12:00-12:10 (10)
--   11-03: room 3 C 09:00-09:20 (20)
-- A 1 GB recording of room 1, ready 11-01 12:00, kept 2 days; an export
-- of room 3 finished 11-02 (90 s: 2 minutes).
INSERT INTO l_rooms VALUES (1, 'p', '1v1', 640, 480), (2, 'p', '1vn', 640, 480), (3, 'q', '1v1', 640, 480);
INSERT INTO l_events VALUES
  (1, 'A', 'join', '2026-11-01 10:00+08'), (1, 'A', 'leave', '2026-11-01 11:00+08'),
  (3, 'C', 'join', '2026-11-01 10:00+08'), (3, 'C', 'leave', '2026-11-01 10:30+08'),
  (2, 'B', 'join', '2026-11-02 10:00+08'), (2, 'D', 'join', '2026-11-02 10:00+08'),
  (2, NULL, 'end', '2026-11-02 10:30+08'),
  (1, 'A', 'join', '2026-11-02 12:00+08'), (1, 'A', 'leave', '2026-11-02 12:10+08'),
  (3, 'C', 'join', '2026-11-03 09:00+08'), (3, 'C', 'leave', '2026-11-03 09:20+08');
INSERT INTO l_recordings VALUES (1, 1073741824, '2026-11-01 12:00+08', '2 days', NULL);
INSERT INTO l_exports VALUES (3, '90 seconds', '2026-11-02 15:00+08');

-- Closing 11-01: p 60 min 1v1 from the pack (40 left), the pack bought
-- (4.00), storage 144 marks (12:00 .. 23:55) = 0.5 GB-day = 1/60 GB-month;
-- q 30 min 1v1 overage 1.50.
CALL classbill.close_day('2026-11-01');
SELECT close_id, account, day, corrects, product, tier, mode, pack_id, quantity, unit_price,
       round(amount, 6) AS amount
FROM classbill.ledger ORDER BY line_id;

-- SPEC 7.2: closing a closed day again changes nothing and says so.
CALL classbill.close_day('2026-11-01');
SELECT count(*) AS lines FROM classbill.ledger;

-- Closing 11-03 closes the open 11-02 first, in order.  11-02: p 1v1 10
-- (dearer mode first) from the pack (30 left), 1vn 60: 30 from the pack
-- (empty), 30 overage x 0.03 = 0.90; storage a full day (1 GB-day);
-- q's export 2 minutes, 0.10.  11-03: p storage 144 marks (until 12:00);
-- q 20 min overage 1.00.  Pack balances continue from the ledger.
CALL classbill.close_day('2026-11-03');
SELECT close_id, account, day, product, tier, mode, pack_id, quantity, round(amount, 6) AS amount
FROM classbill.ledger WHERE day > '2026-11-01' ORDER BY line_id;
SELECT pack_id, minutes, used, balance FROM classbill.ledger_pack_balances;

-- SPEC 7.2: closed lines never change, for anyone.
UPDATE classbill.ledger SET amount = 0;
DELETE FROM classbill.ledger;
TRUNCATE classbill.ledger;
DELETE FROM classbill.closed_days;
-- Days close in order: 11-02 cannot be closed again, nor "before" 11-03.
CALL classbill.close_day('2026-11-02');
-- One account alone: only q is closed for 11-04.
CALL classbill.close_day('2026-11-04', 'q');
SELECT account, day FROM classbill.closed_days WHERE day = '2026-11-04';
-- The ledger keeps one billing time zone.
SET classbill.billing_timezone = 'UTC';
CALL classbill.close_day('2026-11-05');
SET classbill.billing_timezone = 'Asia/Shanghai';
-- A close under a snapshot older than its lock could miss another
-- close's lines: only READ COMMITTED is allowed.
BEGIN ISOLATION LEVEL REPEATABLE READ;
CALL classbill.close_day('2026-11-05');
ROLLBACK;

-- SPEC 7.2: rows that arrive after their day was closed are billed as
-- adjustment lines of the next close, each pointing at the day it
-- corrects.
--   + room 1 on 11-02: E 13:00-13:30, 30 more min of p's 1v1: the pack is
--     empty, so 30 overage x 0.05 = 1.50
--   - room 3's events of 11-03 were wrong: the 20-minute session goes, so
--     q gets 20 minutes (1.00) back
--   + an export of room 3 on 11-02, 45 s more: 135 s = 3 min, 1 more
--   + the recording is deleted on 11-02 at 00:00: 11-02 had a full GB-day
--     billed, now nothing (-1/30 GB-month); 11-03 had 144 marks, now none
INSERT INTO l_events VALUES
  (1, 'E', 'join', '2026-11-02 13:00+08'), (1, 'E', 'leave', '2026-11-02 13:30+08');
DELETE FROM l_events WHERE room = 3 AND at >= '2026-11-03';
INSERT INTO l_exports VALUES (3, '45 seconds', '2026-11-02 16:00+08');
UPDATE l_recordings SET deleted_at = '2026-11-02 00:00+08';
CALL classbill.close_day('2026-11-05');
SELECT account, day, corrects, product, tier, mode, pack_id, quantity, unit_price, round(amount, 6) AS amount
FROM classbill.ledger WHERE corrects IS NOT NULL ORDER BY account, corrects, product, line_id;
-- Nothing lost, nothing twice: what is billed for each day now equals
-- what the sources say now, day by day.
SELECT b.account, b.day, b.tier, b.mode, b.minutes AS billed, coalesce(n.minutes, 0) AS now
FROM classbill.billed_usage AS b
LEFT JOIN (SELECT account, day, tier, mode, minutes FROM classbill.billable_days('2026-11-01', '2026-11-06')) AS n
  USING (account, day, tier, mode)
ORDER BY b.day, b.account;
-- A second close of the next day finds nothing new.
CALL classbill.close_day('2026-11-06');
SELECT count(*) AS adjustments_since FROM classbill.ledger
WHERE corrects IS NOT NULL AND day = '2026-11-06';

-- Minutes that turn out not to be there come back, off the day's overage
-- first: a leave of B at 10:20 arrives for room 2 on 11-02, so p's 1vn
-- that day is 20 + 30 = 50 minutes, not 60: -10 x 0.03 = -0.30 off the
-- 30 overage minutes; the pack keeps what it gave.
INSERT INTO l_events VALUES (2, 'B', 'leave', '2026-11-02 10:20+08');
CALL classbill.close_day('2026-11-07');
SELECT account, day, corrects, product, mode, pack_id, quantity, round(amount, 6) AS amount
FROM classbill.ledger WHERE day = '2026-11-07' AND corrects IS NOT NULL;

-- A row corrected in place is late data too: E's events of 11-02 belonged
-- to room 2 (1vn), not room 1 (1v1).  Same count, same times; only the
-- room differs.  p's 1v1 that day: 70 -> 40 minutes, -30 off the 30
-- overage minutes (x 0.05 = -1.50); 1vn: 50 -> 80 (B 20, D 30, E 30),
-- +30 with the pack empty (x 0.03 = +0.90).
UPDATE l_events SET room = 2 WHERE participant = 'E';
CALL classbill.close_day('2026-11-08');
SELECT account, day, corrects, product, mode, pack_id, quantity, round(amount, 6) AS amount
FROM classbill.ledger WHERE day = '2026-11-08' AND corrects IS NOT NULL ORDER BY line_id;

-- SPEC 7.1: November's statement from the closed days: lines dated in
-- the month, adjustments included, each rounded once.
SELECT account, product, tier, mode, rounded_quantity, unit, covered, rounded_adjusted,
       round(exact_amount, 6) AS exact_amount, amount
FROM classbill.statement('2026-11-01');
\pset format unaligned
\pset tuples_only on
SELECT classbill.statement_text('2026-11-01', 'p');
\pset format aligned
\pset tuples_only off

-- SPEC 7.3: any line explained down to its rooms, packs and rates.
SELECT what, detail FROM classbill.explain(
  (SELECT min(line_id) FROM classbill.ledger WHERE day = '2026-11-02' AND pack_id = 1 AND mode = '1vn'));
-- An adjustment says what was billed before and after: p's 1v1 on 11-02
-- went from 10 minutes to 40 (E's 30 minutes in room 1, arrived late),
-- then back to 10 when E's rows moved to room 2.
SELECT what, detail FROM classbill.explain(
  (SELECT min(line_id) FROM classbill.ledger WHERE corrects = '2026-11-02' AND product = 'usage' AND mode = '1v1'));
SELECT what, detail FROM classbill.explain(
  (SELECT max(line_id) FROM classbill.ledger WHERE corrects = '2026-11-02' AND product = 'usage' AND mode = '1v1'));
SELECT what, detail FROM classbill.explain(
  (SELECT min(line_id) FROM classbill.ledger WHERE product = 'storage' AND corrects = '2026-11-02'));
SELECT what, detail FROM classbill.explain(
  (SELECT min(line_id) FROM classbill.ledger WHERE product = 'pack'));
SELECT * FROM classbill.explain(-1);

-- SPEC 7.2: minutes a closed day gives back go to its overage first, then
-- back to its packs newest first, so that balances end as if the day had
-- been drawn with the right minutes from the start.  Account g holds
-- packs 11 (bought 11-09 08:00) and 12 (09:00, newer) of 100 minutes;
-- room 7 (g, 1v1 480p): G 10:00-12:30 on 11-10 is 150 minutes: pack 11
-- gives 100 (empty), pack 12 gives 50.  A leave at 11:00 arrives late:
-- 60 minutes, 90 fewer, no overage to take them from: pack 12 gets its
-- 50 back, pack 11 40 (not pack 11 all 90).  After: pack 11 has used
-- 60 (40 left), pack 12 none (100 left), as a draw of 60 would give.
--
-- SPEC 6.1: a statement's total is the sum of its rounded lines.
-- Account h (USD): 1 GiB kept all of 11-11 at 0.15 per GB-month is
-- 0.15 / 30 = 0.005, rounded 0.01; 1 minute 1v1 480p at 0.005 is 0.005,
-- rounded 0.01; the total is 0.02 (the exact sum 0.010 would show 0.01).
INSERT INTO classbill.accounts VALUES ('g', 'prepaid', 'CNY', 'G Academy'), ('h', 'postpaid', 'USD', 'H Online');
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES
  ('usage', '1v1', '480p', 'USD', '2026-01-01', 0.005), ('usage', '1vn', '480p', 'USD', '2026-01-01', 0.004);
INSERT INTO classbill.rates (product, currency, valid_from, price) VALUES
  ('storage', 'USD', '2026-01-01', 0.15), ('export', 'USD', '2026-01-01', 0.01);
INSERT INTO classbill.packs (pack_id, account, tier, item, purchased_at) VALUES
  (11, 'g', '480p', '480p-100', '2026-11-09 08:00+08'), (12, 'g', '480p', '480p-100', '2026-11-09 09:00+08');
INSERT INTO l_rooms VALUES (7, 'g', '1v1', 640, 480), (8, 'h', '1v1', 640, 480);
INSERT INTO l_events VALUES
  (7, 'G', 'join', '2026-11-10 10:00+08'), (7, 'G', 'leave', '2026-11-10 12:30+08'),
  (8, 'H', 'join', '2026-11-11 10:00+08'), (8, 'H', 'leave', '2026-11-11 10:01+08');
INSERT INTO l_recordings VALUES (8, 1073741824, '2026-11-11 00:00+08', '1 day', NULL);
CALL classbill.close_day('2026-11-10');
SELECT day, corrects, mode, pack_id, quantity, amount FROM classbill.ledger
WHERE account = 'g' AND product = 'usage' ORDER BY line_id;
INSERT INTO l_events VALUES (7, 'G', 'leave', '2026-11-10 11:00+08');
CALL classbill.close_day('2026-11-11');
SELECT day, corrects, mode, pack_id, quantity, amount FROM classbill.ledger
WHERE account = 'g' AND product = 'usage' AND corrects IS NOT NULL ORDER BY line_id;
SELECT pack_id, minutes, used, balance FROM classbill.ledger_pack_balances
WHERE pack_id IN (11, 12) ORDER BY pack_id;
SELECT product, exact_amount, amount FROM classbill.statement('2026-11-01', 'h');
\pset format unaligned
\pset tuples_only on
SELECT classbill.statement_text('2026-11-01', 'h');
\pset format aligned
\pset tuples_only off

-- The ledger is append-only, so the next tests get a fresh extension.
DROP EXTENSION classbill CASCADE;
CREATE EXTENSION classbill;
DROP TABLE l_rooms, l_events, l_recordings, l_exports;
