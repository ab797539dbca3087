#!/usr/bin/env bash
# Property tests of the drawdown (SPEC 3.5) over random accounts:
#   - the C drawdown (classbill.usage_lines) equals the plain-SQL one of
#     test/drawdown_reference.sql, line for line;
#   - covered + overage = billable minutes, for every account, tier, mode
#     and day;
#   - no pack gives more than it holds (no balance below zero);
#   - packs are used in purchase order: when a pack gives minutes, every
#     pack bought before it is already empty;
#   - the result does not depend on the order of the stored rows.
#
#   CB_DRAW_ACCOUNTS=400 CB_DRAW_SEED=0.17 bash test/t/drawdown_properties.sh
source "$(dirname "$0")/../lib.sh"

ACCOUNTS=${CB_DRAW_ACCOUNTS:-400}
SEED=${CB_DRAW_SEED:-0.17}
DB=cb_drawdown_props

cb_psql -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export PGDATABASE=$DB
cb_psql -c "CREATE EXTENSION classbill"
cb_psql -f "$CB_ROOT/test/drawdown_reference.sql"

cb_psql -v accounts="$ACCOUNTS" -v seed="$SEED" <<'SQL'
SET classbill.billing_timezone = 'Asia/Shanghai';
SELECT setseed(:seed) \gset
INSERT INTO classbill.accounts
SELECT 'a' || k, CASE WHEN random() < 0.5 THEN 'prepaid' ELSE 'postpaid' END::classbill.plan, 'CNY'
FROM generate_series(1, :accounts) AS k;

-- Rates that change during the month, so the dearer mode changes too;
-- some days tie.
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price)
SELECT 'usage', m::classbill.mode, t::classbill.tier, 'CNY', d, round((0.01 + random() * 0.05)::numeric, 3)
FROM unnest(ARRAY['1v1', '1vn']) AS m, unnest(ARRAY['240p', '480p', '720p']) AS t,
     unnest(ARRAY['2026-01-01', '2026-11-08', '2026-11-20']::date[]) AS d;
UPDATE classbill.rates SET price = 0.03 WHERE valid_from = '2026-11-20' AND tier = '720p';

-- Small packs, so that they run out within the month.
INSERT INTO classbill.pack_items
SELECT t || '-' || n, t::classbill.tier, n
FROM unnest(ARRAY['240p', '480p', '720p']) AS t, unnest(ARRAY[50, 120, 300, 1000]) AS n;

-- 0 to 4 packs per account and tier, bought at random times of November
-- (some at the same instant, where the id decides).
INSERT INTO classbill.packs (account, tier, item, purchased_at)
SELECT a.account, t.tier, t.tier || '-' || (ARRAY[50, 120, 300, 1000])[1 + floor(random() * 4)::int],
       CASE WHEN random() < 0.2 THEN '2026-11-10 12:00+08'::timestamptz
            ELSE '2026-10-25'::timestamptz + random() * interval '36 days' END
FROM classbill.accounts AS a,
     (VALUES ('240p'::classbill.tier), ('480p'), ('720p')) AS t(tier),
     -- (it refers to a, so it is drawn again for every account)
     LATERAL generate_series(1, floor(random() * 5)::int + (a.account = a.account)::int - 1) AS n;

-- Usage on random days, random seconds (some rows with 0 minutes).
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds)
SELECT a.account, t.tier, m.mode, d::date,
       CASE WHEN random() < 0.1 THEN 0 ELSE round((random() * 200 * 60)::numeric, 6) END
FROM classbill.accounts AS a,
     (VALUES ('240p'::classbill.tier), ('480p'), ('720p')) AS t(tier),
     (VALUES ('1v1'::classbill.mode), ('1vn')) AS m(mode),
     generate_series('2026-11-01'::date, '2026-11-30', '1 day') AS d
WHERE random() < 0.35;

SELECT count(*) AS accounts, (SELECT count(*) FROM classbill.packs) AS packs,
       (SELECT count(*) FROM classbill.usage_days) AS usage_rows
FROM classbill.accounts;

CREATE TABLE c_lines AS
  SELECT account, tier, day, mode, pack_id, quantity::bigint AS minutes, amount
  FROM classbill.usage_lines('2026-11-01', '2026-12-01');
CREATE TABLE r_lines AS
  SELECT * FROM classbill_ref.drawdown_lines('2026-12-01') WHERE day >= '2026-11-01';
SQL

out=$(cb_psql -At <<'SQL'
SET classbill.billing_timezone = 'Asia/Shanghai';
-- 1. C equals the plain-SQL formulation, line for line
SELECT 'differing lines', count(*) FROM (
  (TABLE c_lines EXCEPT ALL TABLE r_lines) UNION ALL (TABLE r_lines EXCEPT ALL TABLE c_lines)) AS x;
-- 2. covered + overage = billable, per account, tier, mode and day
SELECT 'unbalanced days', count(*)
FROM classbill.usage_days AS u
LEFT JOIN (SELECT account, tier, mode, day, sum(minutes) AS m FROM c_lines
           GROUP BY 1, 2, 3, 4) AS l USING (account, tier, mode, day)
WHERE coalesce(l.m, 0) <> u.minutes;
-- 3. no pack gives more than it holds
SELECT 'overdrawn packs', count(*)
FROM (SELECT pack_id, sum(minutes) AS used FROM c_lines WHERE pack_id IS NOT NULL GROUP BY 1) AS x
JOIN classbill.packs AS k USING (pack_id) JOIN classbill.pack_items AS i USING (item)
WHERE x.used > i.minutes;
-- 4. a pack gives minutes only once every pack bought before it is empty:
--    on any day a pack gives minutes, earlier packs of the tier have given
--    their all by the end of that day
SELECT 'out of order', count(*)
FROM (SELECT DISTINCT account, tier, day, pack_id FROM c_lines WHERE pack_id IS NOT NULL) AS g
JOIN classbill.packs AS kg USING (pack_id)
JOIN classbill.packs AS ke ON ke.account = g.account AND ke.tier = g.tier
 AND (ke.purchased_at, ke.pack_id) < (kg.purchased_at, kg.pack_id)
JOIN classbill.pack_items AS ie ON ie.item = ke.item
WHERE (SELECT coalesce(sum(l.minutes), 0) FROM c_lines AS l
       WHERE l.pack_id = ke.pack_id AND l.day <= g.day) < ie.minutes
  AND EXISTS (SELECT FROM c_lines AS l2 WHERE l2.pack_id = kg.pack_id AND l2.day = g.day
              AND l2.minutes > 0)
  -- an earlier pack not yet bought on that day cannot be ahead of it
  AND (ke.purchased_at AT TIME ZONE 'Asia/Shanghai')::date <= g.day;
-- 5. the order of the stored rows changes nothing
CREATE TEMP TABLE before AS SELECT * FROM c_lines;
CREATE TEMP TABLE shuffled AS SELECT * FROM classbill.usage_days ORDER BY random();
DELETE FROM classbill.usage_days;
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds)
  SELECT account, tier, mode, day, seconds FROM shuffled;
CREATE TEMP TABLE packs_shuffled AS SELECT * FROM classbill.packs ORDER BY random();
DELETE FROM classbill.packs;
INSERT INTO classbill.packs SELECT * FROM packs_shuffled;
SELECT 'order dependent', count(*) FROM (
  (SELECT account, tier, day, mode, pack_id, quantity::bigint, amount
   FROM classbill.usage_lines('2026-11-01', '2026-12-01')
   EXCEPT ALL TABLE before)
  UNION ALL
  (TABLE before EXCEPT ALL
   SELECT account, tier, day, mode, pack_id, quantity::bigint, amount
   FROM classbill.usage_lines('2026-11-01', '2026-12-01'))) AS x;
-- what was exercised
SELECT 'exercised', count(*) FILTER (WHERE pack_id IS NOT NULL) AS covered_lines,
       count(*) FILTER (WHERE pack_id IS NULL) AS overage_lines,
       count(DISTINCT pack_id) AS packs_used FROM c_lines;
SELECT 'emptied packs', count(*) FROM (
  SELECT pack_id FROM c_lines JOIN classbill.packs USING (pack_id) JOIN classbill.pack_items AS i USING (item)
  WHERE pack_id IS NOT NULL GROUP BY pack_id, i.minutes HAVING sum(c_lines.minutes) = i.minutes) AS x;
SQL
)
echo "$out"
status=0
for check in 'differing lines' 'unbalanced days' 'overdrawn packs' 'out of order' 'order dependent'; do
	echo "$out" | grep -q "^$check|0$" || { echo "FAILED: $check"; status=1; }
done
# the test must have drawn real packs dry, not only overage
echo "$out" | grep -Eq '^emptied packs\|[1-9]' || { echo "FAILED: no pack was emptied"; status=1; }

cb_psql -d postgres -c "DROP DATABASE $DB"
[ $status -eq 0 ] && echo "drawdown properties hold on $ACCOUNTS random accounts"
exit $status
