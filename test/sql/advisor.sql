-- The plan advisor: the cost of an account's history under each plan, the
-- cheapest pack mix per tier (exact), break-even volumes, and plan limits
-- in the advice (SPEC 3.4-3.6).  Every figure below is computed by hand.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

-- Example rates: 240p 0.02, 480p 0.045, 720p 0.08 a minute (1v1).
-- Packs: 240p-120k 1,500; 480p-120k 3,000, 480p-240k 5,400;
-- 720p-120k 5,000, 720p-240k 9,000 (two small ones cost more than a
-- large one in both tiers).
INSERT INTO classbill.accounts VALUES ('h', 'prepaid', 'CNY', 'Heavy'), ('t', 'postpaid', 'CNY', 'Tiny'),
  ('k', 'postpaid', 'CNY', 'Crowded');
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES
  ('usage', '1v1', '240p', 'CNY', '2026-01-01', 0.02), ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.045),
  ('usage', '1v1', '720p', 'CNY', '2026-01-01', 0.08), ('usage', '1vn', '480p', 'CNY', '2026-01-01', 0.03);
INSERT INTO classbill.pack_items VALUES ('240p-120k', '240p', 120000),
  ('480p-120k', '480p', 120000), ('480p-240k', '480p', 240000),
  ('720p-120k', '720p', 120000), ('720p-240k', '720p', 240000);
INSERT INTO classbill.pack_prices VALUES ('240p-120k', 'CNY', '2026-01-01', 1500),
  ('480p-120k', 'CNY', '2026-01-01', 3000), ('480p-240k', 'CNY', '2026-01-01', 5400),
  ('720p-120k', 'CNY', '2026-01-01', 5000), ('720p-240k', 'CNY', '2026-01-01', 9000);

-- 20 days of November (11-01 .. 11-20):
--   h 240p  50 min a day  =   1,000 min: postpaid 20.00
--   h 480p  10,000 a day  = 200,000 min: postpaid 9,000
--   h 720p  17,500 a day  = 350,000 min: postpaid 28,000
--   t 240p  30 minutes on 11-03: 0.60
--   k 480p  10,000 a day  = 200,000 min, like h
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds)
SELECT a, t::classbill.tier, '1v1', d::date, m * 60
FROM (VALUES ('h', '240p', 50), ('h', '480p', 10000), ('h', '720p', 17500), ('k', '480p', 10000)) AS v(a, t, m),
     generate_series(date '2026-11-01', date '2026-11-20', interval '1 day') AS d;
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds) VALUES ('t', '240p', '1v1', '2026-11-03', 1800);

-- Every mix worth considering for h's 720p (350,000 min): capacities in
-- 120,000-minute units up to 3 (covers all) + 2 (the largest item).
--   0: overage 350,000 x 0.08 = 28,000
--   1: 1 small 5,000 + 230,000 x 0.08 = 18,400 -> 23,400
--   2: 1 large 9,000 (< 2 small 10,000) + 110,000 x 0.08 = 8,800 -> 17,800
--   3: 1 large + 1 small 14,000, no overage -> 14,000 (the cheapest)
--   4: 2 large 18,000;  5: 2 large + 1 small 23,000
SELECT packs, pack_count, capacity, pack_amount, covered, overage, overage_amount, total
FROM classbill.pack_mixes('h', '2026-11-01', '2026-11-21', '720p') ORDER BY capacity;

-- The advice.  240p: 1,000 minutes, a pack costs 1,500: postpaid.
-- 480p: one 240k pack (5,400, covers all) against 9,000 postpaid; one
-- 120k pack would cost 3,000 + 80,000 x 0.045 = 6,600.  720p: the mix.
-- Break-even at the mean rate: 480p-120k 3,000 / 0.045 = 66,667 min;
-- 480p-240k 5,400 / 0.045 = 120,000; the large beats the small plus
-- overage from 120,000 + 2,400 / 0.045 = 173,334 min (rounded up).
-- Total: 20 + 5,400 + 14,000 = 19,420 against 37,020 billed.
SELECT tier, minutes, postpaid, packs, pack_amount, overage, overage_amount, cheapest, saving, advice
FROM classbill.plan_advice('h', '2026-11-01', '2026-11-21');
SELECT tier, break_even FROM classbill.plan_advice('h', '2026-11-01', '2026-11-21') WHERE tier IS NOT NULL;

-- Growth changes the answer: twice the usage.  480p 400,000 min:
-- 1 large 5,400 + 160,000 x 0.045 = 12,600; 2 large 10,800; 1 large + 1
-- small 8,400 + 40,000 x 0.045 = 10,200 (the cheapest).  720p 700,000:
-- 3 large 27,000 covers all; 2 large + 1 small 23,000 + 100,000 x 0.08 =
-- 31,000.  240p 2,000 min: 40 postpaid.
SELECT tier, minutes, postpaid, packs, cheapest, saving, advice
FROM classbill.plan_advice('h', '2026-11-01', '2026-11-21', 2);

-- A tier with tiny use stays postpaid.
SELECT tier, minutes, postpaid, packs, cheapest, advice
FROM classbill.plan_advice('t', '2026-11-01', '2026-11-21');

-- A limits breach blocks prepaid even when it is cheaper: k's room 1 had
-- 9 on stage on 11-05 at 10:00 (prepaid allows 8).
CREATE TABLE a_rooms (room int, account text, mode text, width int, height int);
CREATE TABLE a_events (room int, participant text, event text, at timestamptz);
SELECT classbill.register_source('rooms', 'a_rooms');
SELECT classbill.register_source('events', 'a_events');
INSERT INTO a_rooms VALUES (1, 'k', '1vn', 640, 480);
INSERT INTO a_events
SELECT 1, 's' || n, e, t::timestamptz
FROM generate_series(1, 9) AS n,
     (VALUES ('join', '2026-11-05 10:00+08'), ('stage_up', '2026-11-05 10:00+08'),
             ('leave', '2026-11-05 10:30+08')) AS v(e, t);
SELECT * FROM classbill.peak_summary('k', '2026-11-01', '2026-11-21');
SELECT tier, postpaid, packs, cheapest, saving, advice
FROM classbill.plan_advice('k', '2026-11-01', '2026-11-21');

-- The cost of h's history: as billed (rated now: h bought no packs, so
-- all overage), all postpaid, and with the packs the advice names.
SELECT scenario, tier, minutes, covered, overage, usage_amount, pack_amount, total
FROM classbill.plan_costs('h', '2026-11-01', '2026-11-21',
       ARRAY[('480p-240k', 1), ('720p-240k', 1), ('720p-120k', 1)]::classbill.pack_choice[]);
-- Three small 720p packs instead: 15,000, no overage.
SELECT scenario, tier, covered, overage, pack_amount, total
FROM classbill.plan_costs('h', '2026-11-01', '2026-11-21', ARRAY[('720p-120k', 3)]::classbill.pack_choice[])
WHERE scenario LIKE 'prepaid%';

-- Bad arguments name the value.
SELECT * FROM classbill.plan_advice('nobody', '2026-11-01', '2026-11-21');
SELECT * FROM classbill.plan_advice('h', '2026-11-21', '2026-11-01');
SELECT * FROM classbill.plan_advice('h', '2026-11-01', '2026-11-21', -1);
SELECT * FROM classbill.plan_costs('h', '2026-11-01', '2026-11-21', ARRAY[('960p-120k', 1)]::classbill.pack_choice[]);
SELECT * FROM classbill.plan_costs('h', '2026-11-01', '2026-11-21', ARRAY[('480p-120k', -2)]::classbill.pack_choice[]);

DELETE FROM classbill.sources;
DELETE FROM classbill.usage_days;
DELETE FROM classbill.pack_prices;
DELETE FROM classbill.pack_items;
DELETE FROM classbill.rates;
DELETE FROM classbill.accounts;
DROP TABLE a_rooms, a_events;
