-- test/example_rates.sql: EXAMPLE rates and pack prices for the demo.
--
-- !!! These numbers are made up.  The vendor publishes no list prices for
-- !!! this product; none of these are the vendor's.  classbill ships no
-- !!! rates: CREATE EXTENSION loads nothing of this file, only the demo
-- !!! (test/demo.sh) does.
--
-- Currency CNY.  Usage per minute by mode and tier (SPEC 3.2), effective
-- 2026-01-01, with a 1vn 480p change on 2026-11-16 to show effective
-- dating (SPEC 3.3).  Packs of 120,000 and 240,000 minutes per tier
-- (SPEC 3.4), the larger one cheaper per minute.  Storage per GB-month
-- and export per minute.

INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price, note) VALUES
  ('usage', '1v1', '240p', 'CNY', '2026-01-01', 0.021, 'EXAMPLE, not the vendor''s'),
  ('usage', '1vn', '240p', 'CNY', '2026-01-01', 0.014, 'EXAMPLE, not the vendor''s'),
  ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.045, 'EXAMPLE, not the vendor''s'),
  ('usage', '1vn', '480p', 'CNY', '2026-01-01', 0.028, 'EXAMPLE, not the vendor''s'),
  ('usage', '1vn', '480p', 'CNY', '2026-11-16', 0.030, 'EXAMPLE, not the vendor''s'),
  ('usage', '1v1', '720p', 'CNY', '2026-01-01', 0.080, 'EXAMPLE, not the vendor''s'),
  ('usage', '1vn', '720p', 'CNY', '2026-01-01', 0.060, 'EXAMPLE, not the vendor''s');

-- Recording storage per GB-month (SPEC 4.2) and MP4 export per minute of
-- processed time (SPEC 5.1): also EXAMPLES.
INSERT INTO classbill.rates (product, currency, valid_from, price, note) VALUES
  ('storage', 'CNY', '2026-01-01', 0.118, 'EXAMPLE, not the vendor''s'),
  ('export', 'CNY', '2026-01-01', 0.050, 'EXAMPLE, not the vendor''s');

INSERT INTO classbill.pack_items (item, tier, minutes) VALUES
  ('240p-120k', '240p', 120000), ('240p-240k', '240p', 240000),
  ('480p-120k', '480p', 120000), ('480p-240k', '480p', 240000),
  ('720p-120k', '720p', 120000), ('720p-240k', '720p', 240000);

INSERT INTO classbill.pack_prices (item, currency, valid_from, price) VALUES
  ('240p-120k', 'CNY', '2026-01-01', 1500), ('240p-240k', 'CNY', '2026-01-01', 2880),
  ('480p-120k', 'CNY', '2026-01-01', 3000), ('480p-240k', 'CNY', '2026-01-01', 5760),
  ('720p-120k', 'CNY', '2026-01-01', 5400), ('720p-240k', 'CNY', '2026-01-01', 10300);
