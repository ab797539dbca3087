#!/usr/bin/env bash
# SPEC 7.1: a month closed day by day, each day its own close and
# transaction, equals the same month rated in one query (rated_lines over
# the month): every account, day, product, tier, mode and pack, the same
# quantity and the same exact amount.  The data is the demo's month
# (test/sample_month.sql): two schools, packs, storage and exports.
source "$(dirname "$0")/../lib.sh"

DB=cb_month
cb_psql -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export PGDATABASE=$DB
cb_psql -c "CREATE EXTENSION classbill"
cb_psql -f "$CB_ROOT/test/sample_month.sql" >/dev/null
cb_psql -f "$CB_ROOT/test/example_rates.sql" >/dev/null
cb_psql >/dev/null <<'SQL'
SELECT classbill.register_source('rooms', 'school.rooms');
SELECT classbill.register_source('events', 'school.events');
SELECT classbill.register_source('recordings', 'school.recordings');
SELECT classbill.register_source('exports', 'school.exports');
INSERT INTO classbill.accounts (account, plan, currency, name) VALUES
  ('maple-academy', 'prepaid', 'CNY', 'Maple Academy'),
  ('birch-tutors', 'postpaid', 'CNY', 'Birch Tutors');
INSERT INTO classbill.packs (account, tier, item, purchased_at) VALUES
  ('maple-academy', '480p', '480p-120k', '2026-10-20 09:00+08'),
  ('maple-academy', '240p', '240p-120k', '2026-11-10 14:00+08'),
  ('maple-academy', '720p', '720p-120k', '2026-11-01 08:00+08');
SQL

start=$(date +%s)
for d in $(seq -w 1 30); do
	echo "CALL classbill.close_day('2026-11-$d');"
done | PGOPTIONS='-c client_min_messages=warning' cb_psql
echo "closed 30 days, one close each, in $(($(date +%s) - start)) s"

cb_psql -At <<'SQL' > "$CB_TMP/month.out"
SELECT classbill.store_usage_days('2026-11-01', '2026-12-01') IS NULL;
CREATE TEMP TABLE closed AS
SELECT account, day, product, tier, mode, pack_id, sum(quantity) AS quantity, sum(amount) AS amount
FROM classbill.ledger GROUP BY 1, 2, 3, 4, 5, 6;
CREATE TEMP TABLE one_query AS
SELECT account, day, product, tier, mode, pack_id, sum(quantity) AS quantity, sum(amount) AS amount
FROM classbill.rated_lines('2026-11-01', '2026-12-01') GROUP BY 1, 2, 3, 4, 5, 6;
SELECT 'lines ' || count(*) || ', products ' || string_agg(DISTINCT product, ' ')
       || ', pack-covered ' || count(*) FILTER (WHERE product = 'usage' AND pack_id IS NOT NULL)
       || ', total ' || sum(amount)
FROM closed;
SELECT 'differs: ' || concat_ws(' ', coalesce(c.account, o.account), coalesce(c.day, o.day),
                                 coalesce(c.product, o.product), coalesce(c.tier, o.tier),
                                 coalesce(c.mode, o.mode), coalesce(c.pack_id, o.pack_id),
                                 'closed', c.quantity, c.amount, 'one query', o.quantity, o.amount)
FROM closed AS c
FULL JOIN one_query AS o
  ON (o.account, o.day, o.product) = (c.account, c.day, c.product)
 AND o.tier IS NOT DISTINCT FROM c.tier AND o.mode IS NOT DISTINCT FROM c.mode
 AND o.pack_id IS NOT DISTINCT FROM c.pack_id
WHERE c.quantity IS DISTINCT FROM o.quantity OR c.amount IS DISTINCT FROM o.amount;
SQL
cat "$CB_TMP/month.out"
grep -q '^lines [1-9].*products export pack storage usage, pack-covered [1-9]' "$CB_TMP/month.out" \
	|| { echo "the month is missing a product"; exit 1; }
if grep -q '^differs' "$CB_TMP/month.out"; then
	echo "closed day by day differs from the month in one query"
	exit 1
fi
echo "the month closed day by day equals the month in one query"
cb_psql -d postgres -c "DROP DATABASE $DB"
