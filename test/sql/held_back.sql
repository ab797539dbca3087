-- SPEC 7.5: one account's bad data does not stop the others.  Its day
-- stays open, the problem is recorded in classbill.close_problems
-- (account, day, source, what and which row), the other accounts close,
-- and later closes try the days held back again.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

CREATE TABLE h_rooms (room int, account text, mode text, width int, height int);
CREATE TABLE h_events (room int, participant text, event text, at timestamptz);
SET client_min_messages = warning;
SELECT classbill.register_source('rooms', 'h_rooms');
SELECT classbill.register_source('events', 'h_events');
RESET client_min_messages;

-- 480p 1v1 at 0.05 a minute.  Rooms 1 (a), 2 (b), 3 (c); every day each
-- has one 10-minute lesson (0.50).
INSERT INTO classbill.accounts VALUES ('a', 'postpaid', 'CNY', 'A'), ('b', 'postpaid', 'CNY', 'B'),
  ('c', 'postpaid', 'CNY', 'C');
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price)
VALUES ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.05);
INSERT INTO h_rooms VALUES (1, 'a', '1v1', 640, 480), (2, 'b', '1v1', 640, 480), (3, 'c', '1v1', 640, 480);
INSERT INTO h_events
SELECT r, 'T' || r, e.kind, ((date '2026-11-01' + d) + time '10:00' + e.off) AT TIME ZONE 'Asia/Shanghai'
FROM generate_series(1, 3) AS r, generate_series(0, 3) AS d,
     (VALUES ('join', interval '0'), ('leave', interval '10 minutes')) AS e(kind, off);

-- A bad event row in b's room on 11-01 (an event kind nobody knows): b is
-- held back, a and c close (1.1 stopped the close of every account, and
-- its error named neither the room nor the account).
INSERT INTO h_events VALUES (2, 'T2', 'joined', '2026-11-01 10:05+08');
CALL classbill.close_day('2026-11-01');
SELECT account, day FROM classbill.closed_days ORDER BY account;
SELECT account, day, source, room, problem, detail, action FROM classbill.close_problems;
-- the next close tries b's 11-01 again: still bad, b stays at 11-01
CALL classbill.close_day('2026-11-02');
SELECT account, max(day) AS closed_to FROM classbill.closed_days GROUP BY account ORDER BY account;
-- fixed: the next close closes b's 11-01, 11-02 and 11-03, in order
UPDATE h_events SET event = 'heartbeat' WHERE event = 'joined';
CALL classbill.close_day('2026-11-03');
SELECT account, day, quantity, amount FROM classbill.ledger WHERE account = 'b' ORDER BY day;
SELECT * FROM classbill.open_problems;

-- A room listed twice, under b and c: both accounts are held back, a
-- closes; the error names the room and both accounts (1.1 billed it to
-- both).
INSERT INTO h_rooms VALUES (2, 'c', '1v1', 640, 480);
CALL classbill.close_day('2026-11-04');
SELECT account, day, source, room, problem, detail, action FROM classbill.open_problems ORDER BY account;
DELETE FROM h_rooms WHERE room = 2 AND account = 'c';

-- A missing rate holds back the one account that needs it: c's room now
-- is 720p, and there is no 720p rate.  b closes its 11-04.
UPDATE h_rooms SET width = 1280, height = 720 WHERE room = 3;
INSERT INTO h_events VALUES (3, 'T3', 'join', '2026-11-05 11:00+08'), (3, 'T3', 'leave', '2026-11-05 11:10+08');
CALL classbill.close_day('2026-11-05');
SELECT account, day, source, problem, action FROM classbill.open_problems ORDER BY account, problem;
SELECT account, max(day) AS closed_to FROM classbill.closed_days GROUP BY account ORDER BY account;
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price)
VALUES ('usage', '1v1', '720p', 'CNY', '2026-01-01', 0.08);
-- c closes 11-04 and 11-05: 11-04's 10 minutes of 480p, and the
-- resolution change is an adjustment of the days before: 11-01..11-03
-- move from 480p (-0.50 each) to 720p (+0.80 each); 11-05 bills 10 minutes
-- of 720p (0.80).
CALL classbill.close_day('2026-11-05');
SELECT day, corrects, tier, quantity, amount FROM classbill.ledger
WHERE account = 'c' AND day >= '2026-11-04' ORDER BY day, corrects, tier;

-- A room whose account is not in classbill.accounts: listed (no account
-- to hold back), never billed to anyone.  Once the account is added, its
-- days are closed from the first one listed (1.1 skipped the room, and
-- its minutes were never billed, even after the account was added).
INSERT INTO h_rooms VALUES (4, 'd', '1v1', 640, 480);
INSERT INTO h_events VALUES (4, 'T4', 'join', '2026-11-06 10:00+08'), (4, 'T4', 'leave', '2026-11-06 10:30+08');
CALL classbill.close_day('2026-11-06');
SELECT account, day, source, room, problem, action FROM classbill.open_problems;
INSERT INTO classbill.accounts VALUES ('d', 'postpaid', 'CNY', 'D');
CALL classbill.close_day('2026-11-07');
SELECT account, day, quantity, amount FROM classbill.ledger WHERE account = 'd';

-- An error the checks do not foresee (here a trigger a superuser put on
-- the ledger that fails for account a) holds back that account alone:
-- the close bills the others, splitting the accounts until the one at
-- fault is found.
CREATE FUNCTION h_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.account = 'a' THEN
    RAISE EXCEPTION 'something unforeseen about account a';
  END IF;
  RETURN NEW;
END $$;
INSERT INTO h_events VALUES (1, 'T1', 'join', '2026-11-08 10:00+08'), (1, 'T1', 'leave', '2026-11-08 10:10+08'),
  (2, 'T2', 'join', '2026-11-08 10:00+08'), (2, 'T2', 'leave', '2026-11-08 10:10+08');
CREATE TRIGGER h_fail BEFORE INSERT ON classbill.ledger FOR EACH ROW EXECUTE FUNCTION h_fail();
CALL classbill.close_day('2026-11-08');
DROP TRIGGER h_fail ON classbill.ledger;
SELECT account, day, source, problem, detail, action FROM classbill.open_problems;
SELECT account, max(day) AS closed_to FROM classbill.closed_days GROUP BY account ORDER BY account;
CALL classbill.close_day('2026-11-08');
SELECT account, day, quantity, amount FROM classbill.ledger WHERE day >= '2026-11-06' ORDER BY account, day;

-- SPEC 8.1: a join with no participant is a bad row like an unknown kind:
-- in b's room on 11-09 it holds b back, with the source, the room and the
-- row named; a and c close 11-09.
INSERT INTO h_events VALUES (1, 'T1', 'join', '2026-11-09 10:00+08'), (1, 'T1', 'leave', '2026-11-09 10:10+08'),
  (2, NULL, 'join', '2026-11-09 10:00+08');
CALL classbill.close_day('2026-11-09');
SELECT account, day, source, room, problem, detail, action FROM classbill.open_problems;
SELECT account, max(day) AS closed_to FROM classbill.closed_days GROUP BY account ORDER BY account;

DROP EXTENSION classbill CASCADE;
CREATE EXTENSION classbill;
DROP TABLE h_rooms, h_events;
DROP FUNCTION h_fail();
