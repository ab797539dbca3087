-- SPEC 3.2, 3.3, 6.1: postpaid rating from the rate card, money.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

INSERT INTO classbill.accounts VALUES
  ('school', 'postpaid', 'CNY', 'A school on postpaid'),
  ('yen', 'postpaid', 'JPY', 'An account billed in yen');

-- Example rates, for this test only (the vendor publishes none):
-- 1v1 480p 0.045 until 11-15, then 0.05; 1vn 480p 0.028; in JPY 1v1 480p 7.
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES
  ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.045),
  ('usage', '1v1', '480p', 'CNY', '2026-11-15', 0.05),
  ('usage', '1vn', '480p', 'CNY', '2026-01-01', 0.028),
  ('usage', '1v1', '480p', 'JPY', '2026-01-01', 7);

-- SPEC 3.3: never two rows in effect at once for one key: a second row
-- starting the same day is refused.
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price)
VALUES ('usage', '1v1', '480p', 'CNY', '2026-11-15', 0.06);
-- ... also for keys without mode and tier (storage, export).
INSERT INTO classbill.rates (product, currency, valid_from, price) VALUES ('storage', 'CNY', '2026-01-01', 0.118);
INSERT INTO classbill.rates (product, currency, valid_from, price) VALUES ('storage', 'CNY', '2026-01-01', 0.2);
-- A usage row needs mode and tier; a storage row has neither; at most six
-- decimals (SPEC 6.1); no negative price.
INSERT INTO classbill.rates (product, currency, valid_from, price) VALUES ('usage', 'CNY', '2026-01-01', 0.1);
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES ('storage', '1v1', '480p', 'CNY', '2026-01-01', 0.1);
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES ('usage', '1vn', '720p', 'CNY', '2026-01-01', 0.0000001);
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES ('usage', '1vn', '720p', 'CNY', '2026-01-01', -1);

-- The rate card as periods (SPEC 3.3): each row until the next of its key.
SELECT product, mode, tier, currency, price, valid_from, valid_to
FROM classbill.rate_periods ORDER BY product, mode, tier, currency, valid_from;

-- SPEC 3.2: charge = minutes x the rate in effect that day; a rate change
-- mid-month applies from its day.  Quantities:
--   11-14 1v1 480p 1000.5 s = 17 min x 0.045 = 0.765
--   11-15 1v1 480p 600 s    = 10 min x 0.05  = 0.50
--   11-15 1vn 480p 90 s     = 2 min x 0.028  = 0.056
--   11-16 1vn 480p 0.5 s    = 1 min x 0.028  = 0.028
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds) VALUES
  ('school', '480p', '1v1', '2026-11-14', 1000.5),
  ('school', '480p', '1v1', '2026-11-15', 600),
  ('school', '480p', '1vn', '2026-11-15', 90),
  ('school', '480p', '1vn', '2026-11-16', 0.5);
SELECT day, product, tier, mode, pack_id, quantity, unit, unit_price, amount, currency
FROM classbill.rated_lines('2026-11-01', '2026-12-01', 'school')
ORDER BY day, mode;

-- SPEC 6.1: daily charges stay exact; a month's line per product, tier and
-- mode is rounded once, half away from zero.  1v1: 0.765 + 0.50 = 1.265,
-- rounds to 1.27; 1vn: 0.056 + 0.028 = 0.084, rounds to 0.08; total 1.35.
SELECT product, tier, mode, quantity, exact_amount, amount, currency
FROM classbill.live_statement('2026-11-01', 'school');
SELECT sum(amount) AS total FROM classbill.live_statement('2026-11-01', 'school');

-- Rounding to the minor unit, half away from zero: CNY 2 places, JPY 0,
-- KWD 3; 0.005 -> 0.01, -0.005 -> -0.01, 2.5 yen -> 3, -2.5 -> -3.
SELECT classbill.round_money(0.005, 'CNY') AS cny_up, classbill.round_money(-0.005, 'CNY') AS cny_down,
       classbill.round_money(0.00499999, 'CNY') AS cny_below,
       classbill.round_money(2.5, 'JPY') AS jpy_up, classbill.round_money(-2.5, 'JPY') AS jpy_down,
       classbill.round_money(1.0005, 'KWD') AS kwd;
SELECT classbill.round_money(1, 'XXX');
INSERT INTO classbill.currencies VALUES ('XXX', 1);
SELECT classbill.round_money(0.25, 'XXX') AS xxx;

-- In yen: 1v1 480p 1000.5 s = 17 min x 7 = 119 JPY; lines are in the
-- account's currency only.
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds) VALUES
  ('yen', '480p', '1v1', '2026-11-14', 1000.5);
SELECT account, product, quantity, amount, currency FROM classbill.live_statement('2026-11-01', 'yen');

-- SPEC 3.2: a missing rate is an error naming account, mode, tier and day,
-- never a silent zero.  The yen account has no 1vn rate.
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds) VALUES
  ('yen', '480p', '1vn', '2026-11-20', 60);
SELECT * FROM classbill.rated_lines('2026-11-01', '2026-12-01', 'yen');
\echo :LAST_ERROR_SQLSTATE
-- ... also before the first rate of the key: 1v1 in 2025 has none.
DELETE FROM classbill.usage_days WHERE account = 'yen';
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds) VALUES
  ('school', '480p', '1v1', '2025-12-31', 60);
SELECT * FROM classbill.rated_lines('2025-12-01', '2026-01-01', 'school');
DELETE FROM classbill.usage_days WHERE day = '2025-12-31';
-- Days with no minutes need no rate: 0 s on a day with no rate is fine.
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds) VALUES
  ('yen', '480p', '1vn', '2026-11-21', 0);
SELECT count(*) AS lines FROM classbill.rated_lines('2026-11-01', '2026-12-01', 'yen');

-- SPEC 6.1: one account bills in one currency: an account with usage
-- cannot change currency.
UPDATE classbill.accounts SET currency = 'USD' WHERE account = 'school';
\echo :LAST_ERROR_SQLSTATE
-- An account with nothing yet can.
INSERT INTO classbill.accounts VALUES ('new', 'postpaid', 'CNY');
UPDATE classbill.accounts SET currency = 'USD' WHERE account = 'new';
SELECT account, currency FROM classbill.accounts WHERE account = 'new';

-- Quantities are exact to the microsecond: a seventh decimal is refused.
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds) VALUES
  ('school', '480p', '1v1', '2026-11-30', 60.0000001);

-- SPEC 3.1: a room with no declared mode is 1v1 with at most 2 distinct
-- participants, else 1vn; a declared mode wins.
SELECT classbill.room_mode(NULL, 'tz=UTC rooms=1 participants=2 peak=2 peak_at=2026-11-02T00:00:00Z stage_peak=0 stage_peak_at= events=4 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=2026-11-02:120') AS two_people,
       classbill.room_mode(NULL, 'tz=UTC rooms=1 participants=3 peak=3 peak_at=2026-11-02T00:00:00Z stage_peak=0 stage_peak_at= events=6 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=2026-11-02:180') AS three_people,
       classbill.room_mode('1vn', 'tz=UTC rooms=1 participants=2 peak=2 peak_at=2026-11-02T00:00:00Z stage_peak=0 stage_peak_at= events=4 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days=2026-11-02:120') AS declared;

DELETE FROM classbill.usage_days;
DELETE FROM classbill.rates;
DELETE FROM classbill.currencies;
DELETE FROM classbill.accounts;
