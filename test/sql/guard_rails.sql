-- Guard rails: every value users fill in, and every source row a bill
-- reads, is checked where it enters, with an error naming the value, the
-- row, the account and the source (SPEC 3.3, 6.1, 7.4, 8.2, 8.3, 8.4).
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

INSERT INTO classbill.accounts VALUES ('g', 'postpaid', 'CNY', 'G School');

-- SPEC 3.3: a price is a finite number.  NaN passed "price >= 0" in 1.1
-- (NaN sorts above every number) and turned statements into NaN.
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price)
VALUES ('usage', '1v1', '480p', 'CNY', '2026-01-01', 'NaN');
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price)
VALUES ('usage', '1v1', '480p', 'CNY', '2026-01-01', 'Infinity');
INSERT INTO classbill.rates (product, currency, valid_from, price)
VALUES ('storage', 'CNY', '2026-01-01', '-Infinity');
INSERT INTO classbill.rates (product, currency, valid_from, price)
VALUES ('export', 'CNY', 'infinity', 0.05);
INSERT INTO classbill.rates (product, currency, valid_from, price)
VALUES ('export', 'XYZ', '2026-01-01', 0.05);
INSERT INTO classbill.pack_items VALUES ('480p-100', '480p', 100), ('480p-200', '480p', 200);
INSERT INTO classbill.pack_prices VALUES ('480p-100', 'CNY', '2026-01-01', 'NaN');
INSERT INTO classbill.pack_items VALUES ('480p-0', '480p', 0);
-- the same rows with good values go in
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES
  ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.05), ('usage', '1vn', '480p', 'CNY', '2026-01-01', 0.03);
INSERT INTO classbill.rates (product, currency, valid_from, price) VALUES
  ('storage', 'CNY', '2026-01-01', 0.15), ('export', 'CNY', '2026-01-01', 0.05);
INSERT INTO classbill.pack_prices VALUES ('480p-100', 'CNY', '2026-01-01', 4), ('480p-200', 'CNY', '2026-01-01', 7);

-- Accounts: a name the rooms source can match, a currency classbill knows.
INSERT INTO classbill.accounts VALUES (' h ', 'postpaid', 'CNY', NULL);
INSERT INTO classbill.accounts VALUES ('h', 'postpaid', 'XYZ', NULL);
-- usage_days rows filled by hand are checked too
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds)
VALUES ('g', '480p', '1v1', '2026-11-30', 'NaN');
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds)
VALUES ('nobody', '480p', '1v1', '2026-11-30', 60);

-- The sources of this file.  Room 1: g, 1v1, 480p.
CREATE TABLE g_rooms (room int, account text, mode text, width int, height int);
CREATE TABLE g_events (room int, participant text, event text, at timestamptz);
CREATE TABLE g_recordings (room int, bytes bigint, ready_at timestamptz, retention interval, deleted_at timestamptz);
CREATE TABLE g_exports (room int, processed interval, finished_at timestamptz);
SET client_min_messages = warning;
SELECT classbill.register_source('rooms', 'g_rooms');
SELECT classbill.register_source('events', 'g_events');
SELECT classbill.register_source('recordings', 'g_recordings');
SELECT classbill.register_source('exports', 'g_exports');
RESET client_min_messages;
INSERT INTO g_rooms VALUES (1, 'g', '1v1', 640, 480);
INSERT INTO g_events VALUES
  (1, 'A', 'join', '2026-11-01 10:00+08'), (1, 'A', 'leave', '2026-11-01 10:30+08');

-- SPEC 8.2: a room listed twice is an error naming the room and both
-- accounts, never billed twice (1.1 billed it to both).
INSERT INTO g_rooms VALUES (1, 'h', '1v1', 640, 480);
SELECT * FROM classbill.billable_days('2026-11-01', '2026-11-02');
DELETE FROM g_rooms WHERE account = 'h';
-- a resolution that is no picture size, a mode classbill does not know
UPDATE g_rooms SET width = 0;
SELECT * FROM classbill.billable_days('2026-11-01', '2026-11-02');
UPDATE g_rooms SET width = 640, mode = '1:1';
SELECT * FROM classbill.billable_days('2026-11-01', '2026-11-02');
UPDATE g_rooms SET mode = '1v1';
-- a room whose account is not in classbill.accounts: its minutes are
-- reported, but storing them for billing is refused
UPDATE g_rooms SET account = 'nobody';
SELECT account, minutes FROM classbill.billable_days('2026-11-01', '2026-11-02');
SELECT classbill.store_usage_days('2026-11-01', '2026-11-02');
UPDATE g_rooms SET account = 'g';

-- SPEC 8.2: recordings and exports of a room the rooms source does not
-- know, with a NULL ready time, size or finish time, or a negative size or
-- duration: errors naming the row (1.1 skipped them, and an export of -5
-- minutes cancelled a real one).
INSERT INTO g_recordings VALUES (2, 1073741824, '2026-11-01 12:00+08', '1 day', NULL);
SELECT * FROM classbill.storage_lines('2026-11-01', '2026-11-02');
TRUNCATE g_recordings;
INSERT INTO g_recordings VALUES (1, 1073741824, NULL, '1 day', NULL);
SELECT * FROM classbill.storage_lines('2026-11-01', '2026-11-02');
TRUNCATE g_recordings;
INSERT INTO g_recordings VALUES (1, -1, '2026-11-01 12:00+08', '1 day', NULL);
SELECT * FROM classbill.storage_lines('2026-11-01', '2026-11-02');
TRUNCATE g_recordings;
INSERT INTO g_exports VALUES (1, '-5 minutes', '2026-11-01 12:00+08'), (1, '10 minutes', '2026-11-01 12:00+08');
SELECT * FROM classbill.export_lines('2026-11-01', '2026-11-02');
TRUNCATE g_exports;
INSERT INTO g_exports VALUES (1, '10 minutes', NULL);
SELECT * FROM classbill.export_lines('2026-11-01', '2026-11-02');
TRUNCATE g_exports;

-- SPEC 6.1: no quantity is rounded before its price.  1 GiB stored all of
-- 11-02 at 0.15 per GB-month: 1 GB-day = 1/30 GB-month, 0.15 / 30 = 0.005
-- exactly; the statement line rounds it once, half away from zero: 0.01
-- (1.1 rounded the GB-months to 24 places first: 0.00499..., 0.00).
INSERT INTO g_recordings VALUES (1, 1073741824, '2026-11-02 00:00+08', '1 day', NULL);
SELECT day, quantity, unit_price, amount FROM classbill.storage_lines('2026-11-02', '2026-11-03');
SELECT product, exact_amount, amount FROM classbill.live_statement('2026-11-01', 'g') WHERE product = 'storage';

-- SPEC 8.3: stored quantities keep their billing time zone; storing the
-- same days under another zone is refused, not a replacement.
SELECT classbill.store_usage_days('2026-11-01', '2026-11-02');
SET classbill.billing_timezone = 'UTC';
SELECT classbill.store_usage_days('2026-11-01', '2026-11-02');
SET classbill.billing_timezone = 'Asia/Shanghai';
SELECT account, day, minutes, billing_timezone FROM classbill.usage_days;

-- Periods: reversed, empty, NULL and infinite ranges are errors alike.
SELECT * FROM classbill.rated_lines('2026-12-01', '2026-11-01');
SELECT * FROM classbill.billable_days('2026-11-01', '2026-11-01');
SELECT * FROM classbill.storage_lines(NULL, '2026-11-01');
SELECT * FROM classbill.room_values('-infinity', '2026-11-01');

-- SPEC 7.4: only a day that has ended closes; today, a future day, NULL
-- and infinity write nothing (1.1 closed them, and usage logged later that
-- day was never billed).
-- (today's date is replaced by TODAY, so the output is the same every day)
DO $$
DECLARE
  today date := (now() AT TIME ZONE 'Asia/Shanghai')::date;
  d date;
BEGIN
  FOREACH d IN ARRAY ARRAY[today, today + 400] LOOP
    BEGIN
      CALL classbill.close_day(d);
    EXCEPTION WHEN invalid_parameter_value THEN
      RAISE NOTICE '%', replace(replace(SQLERRM, today::text, 'TODAY'), (today + 400)::text, 'TODAY + 400');
    END;
  END LOOP;
END $$;
CALL classbill.close_day(NULL);
CALL classbill.close_day('infinity');
SELECT count(*) AS closes FROM classbill.closes;

-- An error no account answers for stops the close and says what it is,
-- without pages of internal SQL: here the events source lost a column.
\set SHOW_CONTEXT errors
ALTER TABLE g_events RENAME COLUMN at TO happened_at;
CALL classbill.close_day('2026-11-02');
ALTER TABLE g_events RENAME COLUMN happened_at TO at;
\set SHOW_CONTEXT never

-- A pack bought 11-01, then 11-01 and 11-02 closed.
INSERT INTO classbill.packs (pack_id, account, tier, item, purchased_at)
VALUES (1, 'g', '480p', '480p-100', '2026-11-01 09:00+08');
SET client_min_messages = warning;
CALL classbill.close_day('2026-11-02');
RESET client_min_messages;

-- SPEC 6.1: an account's currency is fixed once it has closed lines
-- (1.1 allowed it when no usage was stored, and its statement then added
-- CNY and USD under one total); nor can it be renamed or deleted.
UPDATE classbill.accounts SET currency = 'USD' WHERE account = 'g';
UPDATE classbill.accounts SET account = 'g2' WHERE account = 'g';
DELETE FROM classbill.accounts WHERE account = 'g';
UPDATE classbill.accounts SET name = 'G Academy', plan = 'prepaid' WHERE account = 'g';

-- SPEC 8.4: a catalog item's minutes cannot change once a pack of it
-- exists (1.1 let a raise of the item raise every pack's balance); nor its
-- tier or name.  An item without packs can change.
UPDATE classbill.pack_items SET minutes = 1000 WHERE item = '480p-100';
UPDATE classbill.pack_items SET tier = '720p' WHERE item = '480p-100';
UPDATE classbill.pack_items SET item = '480p-hundred' WHERE item = '480p-100';
DELETE FROM classbill.pack_items WHERE item = '480p-100';
UPDATE classbill.pack_items SET minutes = 250 WHERE item = '480p-200';
-- A pack the ledger holds is fixed: billed, and drawn from.
UPDATE classbill.packs SET purchased_at = '2026-10-01 09:00+08' WHERE pack_id = 1;
DELETE FROM classbill.packs WHERE pack_id = 1;
SELECT pack_id, minutes, used, balance FROM classbill.ledger_pack_balances;

-- The ledger is append-only and kept; the next files get a fresh extension.
DROP EXTENSION classbill CASCADE;
CREATE EXTENSION classbill;
DROP TABLE g_rooms, g_events, g_recordings, g_exports;
