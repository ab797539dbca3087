-- test/drawdown_reference.sql: SPEC 3.5's drawdown in plain SQL, written
-- apart from the C code, for the property tests (test/t/drawdown_properties.sh)
-- and as the SQL side of the rating benchmark (test/bench_rating.sh).
--
-- Per account and tier, order the usage rows as the drawdown takes them
-- (day, then the dearer mode, 1v1 on a tie), and the packs by purchase
-- (time, then id).  With U(t) the minutes of rows 1..t and A(t) the
-- minutes of all packs available on row t's day, the minutes covered by
-- the end of row t are
--
--     K(t) = min(K(t-1) + u(t), A(t))          (greedy, K(0) = 0)
--          = U(t) + min(0, min over s <= t of (A(s) - U(s)))
--
-- a running minimum, so one window computes it.  Packs are used strictly
-- in purchase order, so the covered minutes (K(t-1), K(t)] fall on the
-- packs whose cumulative sizes overlap that stretch.

CREATE SCHEMA IF NOT EXISTS classbill_ref;

CREATE OR REPLACE FUNCTION classbill_ref.drawdown_lines(p_to date)
RETURNS TABLE (account text, tier classbill.tier, day date, mode classbill.mode,
               pack_id bigint, minutes bigint, amount numeric)
LANGUAGE sql STABLE AS $$
WITH packs AS (
  SELECT k.account, k.tier, k.pack_id,
         (k.purchased_at AT TIME ZONE current_setting('classbill.billing_timezone'))::date AS from_day,
         sum(i.minutes) OVER w - i.minutes AS cap_before,
         sum(i.minutes) OVER w AS cap_after
  FROM classbill.packs AS k JOIN classbill.pack_items AS i ON i.item = k.item
  WINDOW w AS (PARTITION BY k.account, k.tier ORDER BY k.purchased_at, k.pack_id)
),
uses AS (
  SELECT u.account, u.tier, u.day, u.mode, u.minutes, r.price AS rate,
         row_number() OVER (PARTITION BY u.account, u.tier
                            ORDER BY u.day, r.price DESC, u.mode) AS ord
  FROM classbill.usage_days AS u
  JOIN classbill.accounts AS a ON a.account = u.account
  JOIN classbill.rate_periods AS r
    ON r.product = 'usage' AND r.mode = u.mode AND r.tier = u.tier AND r.currency = a.currency
   AND u.day >= r.valid_from AND u.day < r.valid_to
  WHERE u.day < p_to AND u.minutes > 0
),
-- A(t): all the minutes of the packs bought by each day that has use
available AS (
  SELECT d.account, d.tier, d.day, max(p.cap_after) AS available
  FROM (SELECT DISTINCT s.account, s.tier, s.day FROM uses AS s) AS d
  JOIN packs AS p ON p.account = d.account AND p.tier = d.tier AND p.from_day <= d.day
  GROUP BY d.account, d.tier, d.day
),
totals AS (
  SELECT s.*,
         sum(s.minutes) OVER w AS used_through,
         coalesce(a.available, 0) AS available
  FROM uses AS s
  LEFT JOIN available AS a ON a.account = s.account AND a.tier = s.tier AND a.day = s.day
  WINDOW w AS (PARTITION BY s.account, s.tier ORDER BY s.ord)
),
covered AS (
  SELECT t.*,
         t.used_through + least(0, min(t.available - t.used_through) OVER w) AS k_after
  FROM totals AS t
  WINDOW w AS (PARTITION BY t.account, t.tier ORDER BY t.ord)
),
spans AS (
  SELECT c.*, coalesce(lag(c.k_after) OVER (PARTITION BY c.account, c.tier ORDER BY c.ord), 0) AS k_before
  FROM covered AS c
)
SELECT s.account, s.tier, s.day, s.mode, p.pack_id,
       (least(s.k_after, p.cap_after) - greatest(s.k_before, p.cap_before))::bigint, 0::numeric
FROM spans AS s
JOIN packs AS p ON p.account = s.account AND p.tier = s.tier
 AND p.cap_before < s.k_after AND p.cap_after > s.k_before
UNION ALL
SELECT s.account, s.tier, s.day, s.mode, NULL,
       (s.minutes - (s.k_after - s.k_before))::bigint,
       (s.minutes - (s.k_after - s.k_before)) * s.rate
FROM spans AS s
WHERE s.minutes > s.k_after - s.k_before
$$;
