#!/usr/bin/env bash
# Upgrades: classbill 1.0 (the oldest released version), then 1.1, is installed and
# used (sources, rates, packs, stored usage values, thirteen closed days),
# then ALTER EXTENSION classbill UPDATE takes it to the current version.
# Stored usage values, ledger rows, pack balances and statements read the
# same after as before; the upgraded extension goes on closing days and
# gives advice; and its objects (definitions, comments, privileges) are
# exactly those of a fresh install of the current version.
source "$(dirname "$0")/../lib.sh"

OLD=cb_upgrade_old
NEW=cb_upgrade_new
CURRENT=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$CB_ROOT/classbill.control")

upgrade_from() {
	local FROM=$1
	cb_psql -d postgres -c "DROP DATABASE IF EXISTS $OLD" -c "DROP DATABASE IF EXISTS $NEW" \
	-c "CREATE DATABASE $OLD" -c "CREATE DATABASE $NEW"

cb_psql -d $OLD -c "CREATE EXTENSION classbill VERSION '$FROM'"
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
SELECT 'ledger ' || md5(string_agg((l.line_id, l.close_id, l.account, l.day, l.corrects, l.product, l.tier, l.mode,
                                    l.pack_id, l.item, l.quantity, l.unit, l.unit_price, l.amount, l.currency)::text,
                                   E'\n' ORDER BY l.line_id)) || ' ' || count(*) FROM classbill.ledger AS l;
SELECT 'closed ' || count(*) || ' up to ' || max(day) FROM classbill.closed_days;
SELECT 'balances ' || string_agg(pack_id || ':' || balance, ' ' ORDER BY pack_id) FROM classbill.ledger_pack_balances;
SELECT 'statement ' || md5(string_agg((s.account, s.product, s.tier, s.mode, s.quantity, s.amount, s.currency)::text,
                                      E'\n' ORDER BY s.account, s.product, s.tier, s.mode))
FROM classbill.statement('2026-11-01') AS s;
SELECT 'usage_days ' || md5(string_agg((u.account, u.tier, u.mode, u.day, u.seconds, u.minutes)::text,
                                       E'\n' ORDER BY u.account, u.tier, u.mode, u.day)) FROM classbill.usage_days AS u;
SQL
}
before=$(snapshot)
cb_psql -d $OLD -c "ALTER EXTENSION classbill UPDATE"
after=$(snapshot)
echo "$before" | sed 's/^/before: /'
echo "$after" | sed 's/^/after:  /'
[ "$(echo "$before" | head -1)" = "version $FROM" ] || { echo "the old database did not start at $FROM"; return 1; }
[ "$(echo "$after" | head -1)" = "version $CURRENT" ] || { echo "the update did not reach $CURRENT"; return 1; }
if [ "$(echo "$before" | tail -n +2)" != "$(echo "$after" | tail -n +2)" ]; then
	echo "stored values, ledger rows, balances or statements changed in the update"
	return 1
fi

# the upgraded extension keeps working
cb_psql -d $OLD -At <<'SQL' | tee "$CB_TMP/upgrade_after.out"
SET client_min_messages = warning;
CALL classbill.close_day('2026-11-14');
SELECT 'closed after the update: ' || max(day) FROM classbill.closed_days;
SELECT 'adjustments after the update: ' || count(*) FROM classbill.ledger WHERE corrects IS NOT NULL
  AND close_id = (SELECT max(close_id) FROM classbill.closes);
SELECT 'chain problems: ' || count(*) FROM classbill.verify_ledger();
SELECT 'kept from DROP EXTENSION: ' || (to_regclass('classbill_internal.ledger_kept') IS NOT NULL);
SELECT 'advice rows ' || count(*) FROM classbill.plan_advice('birch-tutors', '2026-11-01', '2026-12-01');
SQL
grep -q '^closed after the update: 2026-11-14$' "$CB_TMP/upgrade_after.out" || { echo "closing after the update failed"; return 1; }
grep -q '^adjustments after the update: 0$' "$CB_TMP/upgrade_after.out" || { echo "the first close after the update adjusted days 1.1 had closed"; return 1; }
grep -q '^chain problems: 0$' "$CB_TMP/upgrade_after.out" || { echo "the ledger's chain does not verify after the update"; return 1; }
grep -q '^kept from DROP EXTENSION: true$' "$CB_TMP/upgrade_after.out" || { echo "the ledger is not kept from DROP EXTENSION after the update"; return 1; }

# the same objects as a fresh install
cb_psql -d $NEW -c "CREATE EXTENSION classbill"
cb_psql -d $OLD -At -f "$CB_ROOT/test/extension_objects.sql" >"$CB_TMP/objects_upgraded.txt"
cb_psql -d $NEW -At -f "$CB_ROOT/test/extension_objects.sql" >"$CB_TMP/objects_fresh.txt"
if ! diff "$CB_TMP/objects_upgraded.txt" "$CB_TMP/objects_fresh.txt"; then
	echo "the upgraded extension's objects differ from a fresh install's (< upgraded, > fresh)"
	return 1
fi
echo "$FROM -> $CURRENT: data reads the same, $(wc -l <"$CB_TMP/objects_fresh.txt") objects identical to a fresh install"
cb_psql -d postgres -c "DROP DATABASE $OLD" -c "DROP DATABASE $NEW"
}

upgrade_from 1.0
upgrade_from 1.1

# A view of the user's over a function whose parameters 1.2 renames keeps
# the update from dropping it: the update stops, names the view, and
# leaves 1.1 as it was.
cb_psql -d postgres -c "DROP DATABASE IF EXISTS $OLD" >/dev/null
cb_psql -d postgres -c "CREATE DATABASE $OLD" >/dev/null
cb_psql -d $OLD -c "CREATE EXTENSION classbill VERSION '1.1'" \
	-c "CREATE VIEW my_days AS SELECT * FROM classbill.billable_days('2026-11-01', '2026-12-01')" >/dev/null
if out=$(cb_psql -d $OLD -c "ALTER EXTENSION classbill UPDATE" 2>&1); then
	echo "the update went ahead over a view that uses a renamed function"
	exit 1
fi
echo "$out" | grep -q 'view public.my_days uses classbill.billable_days' || { echo "the refusal does not name the view: $out"; exit 1; }
[ "$(cb_psql -d $OLD -At -c "SELECT extversion FROM pg_extension WHERE extname = 'classbill'")" = 1.1 ] ||
	{ echo "the refused update changed the version"; exit 1; }
echo "an update over a view of the user's that uses a renamed function: refused, naming it, 1.1 left as it was"
cb_psql -d postgres -c "DROP DATABASE $OLD" >/dev/null
