#!/usr/bin/env bash
# Plan advisor property (issue: the cheapest pack mix is exact): for 60
# random accounts with random catalog prices, mode mixes and a rate change
# mid-period, the mix plan_advice recommends for each tier is never more
# expensive than any mix of up to 5 small and 5 large packs, priced
# through plan_costs (packs one by one, a separate path from the advisor's
# search), and costs exactly the cheapest of them where those mixes reach
# far enough to hold the advised mix.
source "$(dirname "$0")/../lib.sh"

DB=cb_advisor
cb_psql -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export PGDATABASE=$DB
SEED=${CB_ADVISOR_SEED:-0.42}

cb_psql -v seed="$SEED" >/dev/null <<'SQL'
CREATE EXTENSION classbill;
SET classbill.billing_timezone = 'Asia/Shanghai';
SELECT setseed(:seed);
INSERT INTO classbill.accounts SELECT 'a' || k, 'postpaid', 'CNY' FROM generate_series(1, 60) AS k;
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price)
SELECT 'usage', m::classbill.mode, t::classbill.tier, 'CNY', v::date, round((0.03 + random() * 0.09)::numeric, 4)
FROM unnest(ARRAY['1v1', '1vn']) AS m, unnest(ARRAY['240p', '480p', '720p']) AS t,
     unnest(ARRAY['2026-01-01', '2026-11-11']) AS v;
INSERT INTO classbill.pack_items
SELECT t || s, t::classbill.tier, n FROM unnest(ARRAY['240p', '480p', '720p']) AS t,
       (VALUES ('-120k', 120000), ('-240k', 240000)) AS x(s, n);
-- small packs priced around the minutes' value; the large one 80% of
-- two small ones in 240p, 95% in 480p, 110% in 720p
CREATE TEMP TABLE small AS
SELECT t, round((120000 * 0.05 * (0.3 + random() * 0.6))::numeric, 2) AS price
FROM unnest(ARRAY['240p', '480p', '720p']) AS t;
INSERT INTO classbill.pack_prices
SELECT t || '-120k', 'CNY', date '2026-01-01', price FROM small
UNION ALL
SELECT t || '-240k', 'CNY', date '2026-01-01',
       round(2 * price * CASE t WHEN '240p' THEN 0.8 WHEN '480p' THEN 0.95 ELSE 1.1 END, 2)
FROM small;
-- 30 days, each account using one to three tiers, 0 to 30,000 minutes a
-- day in each mode
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds)
SELECT a.account, t::classbill.tier, m::classbill.mode, d::date,
       round((random() * 30000 * 60 * (0.02 + (abs(hashtext(a.account)) % 100) / 100.0))::numeric, 3)
FROM classbill.accounts AS a, unnest(ARRAY['240p', '480p', '720p']) AS t,
     unnest(ARRAY['1v1', '1vn']) AS m, generate_series(date '2026-11-01', date '2026-11-30', interval '1 day') AS d
WHERE hashtext(a.account || t) % 3 <> 0;
SQL

cb_psql -At <<'SQL' >"$CB_TMP/advisor.out"
SET classbill.billing_timezone = 'Asia/Shanghai';
CREATE TEMP TABLE advised AS
SELECT a.account, v.tier, v.minutes, v.cheapest, v.packs
FROM classbill.accounts AS a, classbill.plan_advice(a.account, '2026-11-01', '2026-12-01') AS v
WHERE v.tier IS NOT NULL;
CREATE TEMP TABLE brute AS
SELECT a.account, c.tier, s, l, c.total
FROM classbill.accounts AS a, generate_series(0, 5) AS s, generate_series(0, 5) AS l,
     classbill.plan_costs(a.account, '2026-11-01', '2026-12-01',
       ARRAY[('240p-120k', s), ('240p-240k', l), ('480p-120k', s), ('480p-240k', l),
             ('720p-120k', s), ('720p-240k', l)]::classbill.pack_choice[]) AS c
WHERE c.scenario = 'prepaid with the packs given';
SELECT 'tiers ' || count(*) || ', buying packs ' || count(*) FILTER (WHERE packs IS NOT NULL)
       || ', mixed sizes ' || count(*) FILTER (WHERE packs LIKE '%+%')
       || ', mixes priced ' || (SELECT count(*) FROM brute)
FROM advised;
-- never dearer than any mix
SELECT 'dearer: ' || v.account || ' ' || v.tier || ' advised ' || v.cheapest || ' (' || coalesce(v.packs, 'none')
       || '), ' || b.s || ' small + ' || b.l || ' large cost ' || b.total
FROM advised AS v JOIN brute AS b USING (account, tier)
WHERE b.total < v.cheapest;
-- the cheapest of them, when the advised mix is one of them
SELECT 'not the cheapest: ' || v.account || ' ' || v.tier || ' advised ' || v.cheapest || ', best mix ' || min(b.total)
FROM advised AS v JOIN brute AS b USING (account, tier)
WHERE coalesce(substring(v.packs FROM '(\d+) x \S+-120k')::int, 0) <= 5
  AND coalesce(substring(v.packs FROM '(\d+) x \S+-240k')::int, 0) <= 5
GROUP BY v.account, v.tier, v.cheapest
HAVING min(b.total) <> v.cheapest;
SELECT 'advised within the bound ' || count(*) FROM advised AS v
WHERE coalesce(substring(v.packs FROM '(\d+) x \S+-120k')::int, 0) <= 5
  AND coalesce(substring(v.packs FROM '(\d+) x \S+-240k')::int, 0) <= 5;
SQL
cat "$CB_TMP/advisor.out"
grep -q '^tiers [1-9].*buying packs [1-9].*mixed sizes [1-9]' "$CB_TMP/advisor.out" ||
	{ echo "the random cases do not exercise pack mixes"; exit 1; }
if grep -q '^dearer\|^not the cheapest' "$CB_TMP/advisor.out"; then
	echo "the advice is not the cheapest mix"
	exit 1
fi
echo "the advised mix is the cheapest on every tier"
[ -n "${CB_KEEP_DB:-}" ] || cb_psql -d postgres -c "DROP DATABASE $DB"
