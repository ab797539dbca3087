#!/usr/bin/env bash
# Upgrades: classbill 1.0 (the oldest released version) is installed and
# used (sources, rates, packs, stored usage values, thirteen closed days),
# then ALTER EXTENSION classbill UPDATE takes it to the current version.
# Stored usage values, ledger rows, pack balances and statements read the
# same after as before; the upgraded extension goes on closing days and
# gives advice; and its objects (definitions, comments, privileges) are
# exactly those of a fresh install of the current version.
source "$(dirname "$0")/../lib.sh"

OLD=cb_upgrade_old
NEW=cb_upgrade_new
cb_psql -d postgres -c "DROP DATABASE IF EXISTS $OLD" -c "DROP DATABASE IF EXISTS $NEW" \
	-c "CREATE DATABASE $OLD" -c "CREATE DATABASE $NEW"
CURRENT=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$CB_ROOT/classbill.control")

cb_psql -d $OLD -c "CREATE EXTENSION classbill VERSION '1.0'"
cb_psql -d $OLD -f "$CB_ROOT/test/sample_month.sql" >/dev/null
cb_psql -d $OLD -f "$CB_ROOT/test/example_rates.sql" >/dev/null
cb_psql -d $OLD >/dev/null <<'SQL'
SELECT classbill.register_source('rooms', 'school.rooms');
SELECT classbill.register_source('events', 'school.events');
SELECT classbill.register_source('recordings', 'school.recordings');
SELECT classbill.register_source('exports', 'school.exports');
INSERT INTO classbill.accounts (account, plan, currency, name) VALUES
  ('maple-academy', 'prepaid', 'CNY', 'Maple Academy'), ('birch-tutors', 'postpaid', 'CNY', 'Birch Tutors');
INSERT INTO classbill.packs (account, tier, item, purchased_at) VALUES
  ('maple-academy', '480p', '480p-120k', '2026-10-20 09:00+08'),
  ('maple-academy', '240p', '240p-120k', '2026-11-10 14:00+08');
CREATE TABLE stored AS
  SELECT room, usage FROM classbill.room_values('2026-11-01', '2026-12-01');
SELECT classbill.store_usage_days('2026-11-01', '2026-12-01');
SET client_min_messages = warning;
CALL classbill.close_day('2026-11-01');
CALL classbill.close_day('2026-11-13');
SQL

snapshot() {
	cb_psql -d $OLD -At <<'SQL'
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
SELECT 'version ' || extversion FROM pg_extension WHERE extname = 'classbill';
SELECT 'stored ' || md5(string_agg(room || ' ' || usage::text, E'\n' ORDER BY room)) || ' ' || count(*) FROM stored;
SELECT 'stored minutes ' || sum(classbill.minutes(usage)) || ' peak ' || max(classbill.peak(usage)) FROM stored;
SELECT 'ledger ' || md5(string_agg(l::text, E'\n' ORDER BY l.line_id)) || ' ' || count(*) FROM classbill.ledger AS l;
SELECT 'closed ' || count(*) || ' up to ' || max(day) FROM classbill.closed_days;
SELECT 'balances ' || string_agg(pack_id || ':' || balance, ' ' ORDER BY pack_id) FROM classbill.ledger_pack_balances;
SELECT 'statement ' || md5(string_agg(s::text, E'\n' ORDER BY s.account, s.product, s.tier, s.mode))
FROM classbill.statement('2026-11-01') AS s;
SELECT 'usage_days ' || md5(string_agg(u::text, E'\n' ORDER BY u.account, u.tier, u.mode, u.day)) FROM classbill.usage_days AS u;
SQL
}
before=$(snapshot)
cb_psql -d $OLD -c "ALTER EXTENSION classbill UPDATE"
after=$(snapshot)
echo "$before" | sed 's/^/before: /'
echo "$after" | sed 's/^/after:  /'
[ "$(echo "$before" | head -1)" = "version 1.0" ] || { echo "the old database did not start at 1.0"; exit 1; }
[ "$(echo "$after" | head -1)" = "version $CURRENT" ] || { echo "the update did not reach $CURRENT"; exit 1; }
if [ "$(echo "$before" | tail -n +2)" != "$(echo "$after" | tail -n +2)" ]; then
	echo "stored values, ledger rows, balances or statements changed in the update"
	exit 1
fi

# the upgraded extension keeps working
cb_psql -d $OLD -At <<'SQL' | tee "$CB_TMP/upgrade_after.out"
SET client_min_messages = warning;
CALL classbill.close_day('2026-11-14');
SELECT 'closed after the update: ' || max(day) FROM classbill.closed_days;
SELECT 'advice rows ' || count(*) FROM classbill.plan_advice('birch-tutors', '2026-11-01', '2026-12-01');
SQL
grep -q '^closed after the update: 2026-11-14$' "$CB_TMP/upgrade_after.out" || { echo "closing after the update failed"; exit 1; }

# the same objects as a fresh install
cb_psql -d $NEW -c "CREATE EXTENSION classbill"
cb_psql -d $OLD -At -f "$CB_ROOT/test/extension_objects.sql" >"$CB_TMP/objects_upgraded.txt"
cb_psql -d $NEW -At -f "$CB_ROOT/test/extension_objects.sql" >"$CB_TMP/objects_fresh.txt"
if ! diff "$CB_TMP/objects_upgraded.txt" "$CB_TMP/objects_fresh.txt"; then
	echo "the upgraded extension's objects differ from a fresh install's (< upgraded, > fresh)"
	exit 1
fi
echo "1.0 -> $CURRENT: data reads the same, $(wc -l <"$CB_TMP/objects_fresh.txt") objects identical to a fresh install"
cb_psql -d postgres -c "DROP DATABASE $OLD" -c "DROP DATABASE $NEW"
