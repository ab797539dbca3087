-- SPEC 3.4, 3.5: prepaid packs drawn down day by day, oldest first, the
-- dearer mode first; the rest is overage at postpaid rates.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

INSERT INTO classbill.accounts VALUES ('p', 'prepaid', 'CNY'), ('q', 'postpaid', 'CNY');
-- Example rates for this test: 480p 1v1 0.05, 1vn 0.03 (1vn becomes 0.06
-- from 11-20); 720p 1v1 0.08, 1vn 0.08 (a tie).
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES
  ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.05),
  ('usage', '1vn', '480p', 'CNY', '2026-01-01', 0.03),
  ('usage', '1vn', '480p', 'CNY', '2026-11-20', 0.06),
  ('usage', '1v1', '720p', 'CNY', '2026-01-01', 0.08),
  ('usage', '1vn', '720p', 'CNY', '2026-01-01', 0.08);
-- The product's packs, and two small ones that keep the sums readable.
INSERT INTO classbill.pack_items VALUES
  ('480p-120k', '480p', 120000), ('480p-240k', '480p', 240000),
  ('480p-100', '480p', 100), ('480p-50', '480p', 50), ('720p-100', '720p', 100);
INSERT INTO classbill.pack_prices VALUES
  ('480p-120k', 'CNY', '2026-01-01', 4800), ('480p-240k', 'CNY', '2026-01-01', 9000),
  ('480p-100', 'CNY', '2026-01-01', 4), ('480p-50', 'CNY', '2026-01-01', 2.1),
  ('720p-100', 'CNY', '2026-01-01', 7), ('480p-100', 'CNY', '2026-11-25', 3.5);

-- Packs of account p:
--   1: 480p-100 bought 11-03 15:00 +08 (SPEC 3.5: covers all of 11-03)
--   2: 480p-50  bought 11-03 15:00 +08 too (same instant: id order, after 1)
--   3: 480p-100 bought 11-02 16:30 UTC = 11-03 00:30 +08 (billing day
--      11-03, in the billing zone; bought first, so drawn first)
--   4: 720p-100 bought 11-25 (after all 720p use: no effect before it)
INSERT INTO classbill.packs (pack_id, account, tier, item, purchased_at) VALUES
  (1, 'p', '480p', '480p-100', '2026-11-03 15:00+08'),
  (2, 'p', '480p', '480p-50',  '2026-11-03 15:00+08'),
  (3, 'p', '480p', '480p-100', '2026-11-02 16:30+00'),
  (4, 'p', '720p', '720p-100', '2026-11-25 10:00+08');

-- Usage of p (minutes per day, seconds = minutes x 60):
--   11-02 480p 1v1 30: before any pack: overage 30 x 0.05 = 1.50
--   11-03 480p 1v1 80, 1vn 60: 1v1 (0.05 > 0.03) first: pack 3 gives 80
--         (20 left); 1vn 60: pack 3 gives 20 (empty), pack 1 gives 40
--         (60 left)
--   11-04 480p 1vn 100: pack 1 gives 60 (empty), pack 2 gives 40 (10 left)
--   11-05 480p 1v1 10, 1vn 30: 1v1 first: pack 2 gives 10 (empty); 1vn 30
--         is overage at the cheaper rate: 30 x 0.03 = 0.90
--   11-10 720p 1v1 5: no 720p pack yet: overage 5 x 0.08 = 0.40
--   11-26 720p 1vn 7, 1v1 3: pack 4 (from 11-25); rates tie at 0.08, so
--         1v1 first: 3, then 1vn 7; 90 left
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds) VALUES
  ('p', '480p', '1v1', '2026-11-02', 1800),
  ('p', '480p', '1v1', '2026-11-03', 4800), ('p', '480p', '1vn', '2026-11-03', 3600),
  ('p', '480p', '1vn', '2026-11-04', 6000),
  ('p', '480p', '1v1', '2026-11-05', 600), ('p', '480p', '1vn', '2026-11-05', 1800),
  ('p', '720p', '1v1', '2026-11-10', 300),
  ('p', '720p', '1vn', '2026-11-26', 420), ('p', '720p', '1v1', '2026-11-26', 180);

SELECT day, product, tier, mode, pack_id, item, quantity, unit_price, amount
FROM classbill.rated_lines('2026-11-01', '2026-12-01', 'p')
ORDER BY day, product, tier, mode, pack_id NULLS LAST;

-- SPEC 3.5: every covered minute is traceable to its pack, no balance
-- goes below zero.  Pack 3: 80 + 20; pack 1: 40 on 11-03, 60 on 11-04;
-- pack 2: 40 on 11-04, 10 on 11-05; pack 4: 10 on 11-26.
SELECT * FROM classbill.pack_drawdown('2026-11-01', '2026-12-01', 'p');

-- Balances after 11-03: pack 3 empty, pack 1 60 left, pack 2 untouched;
-- pack 4 not bought yet.  After 11-30: packs 1-3 empty, pack 4 90 left.
SELECT pack_id, item, minutes, used, balance FROM classbill.pack_balances('2026-11-03', 'p');
SELECT pack_id, item, minutes, used, balance FROM classbill.pack_balances('2026-11-30', 'p');

-- The month's statement: 480p packs bought 4 + 2.1 + 4 = 10.10 (pack 3's
-- price is 4, the 11-25 price 3.5 not yet in effect on its day), 720p
-- packs 7.00; 480p 1v1
-- 120 min of which 90 covered, 1.50 overage; 480p 1vn 190 min, 160
-- covered, 0.90; 720p 1v1 8 min, 3 covered, 0.40; 720p 1vn 7 covered.
SELECT product, tier, mode, quantity, covered, exact_amount, amount
FROM classbill.live_statement('2026-11-01', 'p');

-- A pack bought mid-day covers the whole day (SPEC 3.5): usage on 11-03
-- before 15:00 is covered by packs 1 and 2 bought at 15:00 (seen above).
-- A rate change changes which mode is covered first: from 11-20 1vn 480p
-- (0.06) is dearer than 1v1 (0.05).  A postpaid account holding a pack
-- draws it down too (SPEC 3.4): q buys a 480p-100 on 11-20; on 11-21 it
-- uses 1v1 70 and 1vn 60: 1vn first, 60 covered; 1v1 40 covered, 30
-- overage x 0.05 = 1.50.
INSERT INTO classbill.packs (pack_id, account, tier, item, purchased_at) VALUES
  (5, 'q', '480p', '480p-100', '2026-11-20 09:00+08');
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds) VALUES
  ('q', '480p', '1v1', '2026-11-21', 4200), ('q', '480p', '1vn', '2026-11-21', 3600);
SELECT day, tier, mode, pack_id, quantity, unit_price, amount
FROM classbill.usage_lines('2026-11-01', '2026-12-01', 'q')
ORDER BY day, mode, pack_id NULLS LAST;

-- A tier with no pack is all overage: q's 720p use.
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds) VALUES
  ('q', '720p', '1vn', '2026-11-21', 120);
SELECT day, tier, mode, pack_id, quantity, amount
FROM classbill.usage_lines('2026-11-21', '2026-11-22', 'q') WHERE tier = '720p';

-- Lines of a window continue the balances of earlier days: asking only
-- for 11-05 gives the same two lines as the month above.
SELECT day, mode, pack_id, quantity, amount FROM classbill.usage_lines('2026-11-05', '2026-11-06', 'p')
ORDER BY mode, pack_id NULLS LAST;

-- Forecast (as of 11-05, 7-day window 10-30..11-05): p's 480p packs hold 0
-- left: they ran out; 720p had no pack then.  As of 11-26 (window
-- 11-20..11-26): 720p pack 4 holds 90, 10 minutes used in 7 days = 1.43 a
-- day, 63 days left, out on 2027-01-28.
SELECT * FROM classbill.pack_forecast('2026-11-05', 7, 'p');
SELECT * FROM classbill.pack_forecast('2026-11-26', 7, 'p');

-- The drawdown function itself: the same rows in any order give the same
-- allocation (SPEC 3.5 is deterministic).  Use rows and packs of 11-03,
-- listed in two orders; balances before the day: pack 3 100, 1 100, 2 50.
SELECT d.* FROM classbill.drawdown(
  ARRAY[('2026-11-03', '1v1', 80, 0.05), ('2026-11-03', '1vn', 60, 0.03)]::classbill.drawdown_use[],
  ARRAY[(1, '2026-11-03 15:00+08', 100), (2, '2026-11-03 15:00+08', 50),
        (3, '2026-11-02 16:30+00', 100)]::classbill.drawdown_pack[]) AS d;
SELECT d.* FROM classbill.drawdown(
  ARRAY[('2026-11-03', '1vn', 60, 0.03), ('2026-11-03', '1v1', 80, 0.05)]::classbill.drawdown_use[],
  ARRAY[(3, '2026-11-02 16:30+00', 100), (2, '2026-11-03 15:00+08', 50),
        (1, '2026-11-03 15:00+08', 100)]::classbill.drawdown_pack[]) AS d;

-- SPEC 3.5 ties: at equal rates 1v1 is covered first.  30 minutes of
-- each mode at 0.08 on 11-03 and one pack of 50: 1v1 takes 30 from the
-- pack, 1vn the 20 left, and 1vn's other 10 are overage, 10 x 0.08 =
-- 0.80 (1vn listed first, so input order cannot decide it).
SELECT d.* FROM classbill.drawdown(
  ARRAY[('2026-11-03', '1vn', 30, 0.08), ('2026-11-03', '1v1', 30, 0.08)]::classbill.drawdown_use[],
  ARRAY[(9, '2026-11-01 00:00+08', 50)]::classbill.drawdown_pack[]) AS d;

-- Bad input to drawdown: two rows for one day and mode, a negative
-- balance, a missing rate, a NULL element.
SELECT * FROM classbill.drawdown(
  ARRAY[('2026-11-03', '1v1', 1, 0.05), ('2026-11-03', '1v1', 2, 0.05)]::classbill.drawdown_use[], NULL);
SELECT * FROM classbill.drawdown(
  ARRAY[('2026-11-03', '1v1', 1, 0.05)]::classbill.drawdown_use[],
  ARRAY[(7, '2026-11-03 15:00+08', -1)]::classbill.drawdown_pack[]);
SELECT * FROM classbill.drawdown(ARRAY[('2026-11-03', '1v1', 1, NULL)]::classbill.drawdown_use[], NULL);
SELECT * FROM classbill.drawdown(ARRAY[NULL]::classbill.drawdown_use[], NULL);
-- A pack item and its tier must agree.
INSERT INTO classbill.packs (pack_id, account, tier, item, purchased_at) VALUES (8, 'p', '720p', '480p-100', '2026-11-30 10:00+08');
-- A pack with no catalog price on its day is an error naming it.
INSERT INTO classbill.pack_items VALUES ('720p-new', '720p', 100);
INSERT INTO classbill.packs (pack_id, account, tier, item, purchased_at) VALUES (9, 'p', '720p', '720p-new', '2026-11-27 10:00+08');
SELECT count(*) FROM classbill.pack_lines('2026-11-01', '2026-12-01', 'p');

DELETE FROM classbill.packs;
DELETE FROM classbill.pack_prices;
DELETE FROM classbill.pack_items;
DELETE FROM classbill.usage_days;
DELETE FROM classbill.rates;
DELETE FROM classbill.accounts;
