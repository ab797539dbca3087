#!/usr/bin/env bash
# SPEC 7.2, randomized: whatever changes in the rows of closed days, the
# ledger after every close equals a full recomputation of the period.
#
# Six accounts over 14 billing days, with rooms, events, recordings and
# exports.  Before each close, random edits hit the closed days of the
# recheck window: sessions added, rows removed, times moved, pairs of
# edits that cancel in a sum (one leave later, another earlier), rows
# moved to another room or participant, rooms rows changed (mode,
# resolution, account), recordings and exports added, removed and
# changed, packs recorded late.  After each close the ledger's lines, net
# per account, corrected day, product, tier, mode and pack or overage,
# must equal classbill.rated_lines over the whole period computed from the
# sources as they are now: quantities and exact amounts.  The packs are
# large enough never to run out, so which day a minute came from cannot
# differ between the two (the ledger's rules for packs that run out are
# proven by hand in sql/ledger.sql).  No close may meet a problem.
source "$(dirname "$0")/../lib.sh"

DB=cb_change
SEEDS=${CB_CHANGE_SEEDS:-0.11 0.52 0.93}
DAYS=${CB_CHANGE_DAYS:-14}

run_seed() {
	local seed=$1
	cb_psql -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
	cb_psql -d $DB -v seed="$seed" -v days="$DAYS" >/dev/null 2>&1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION classbill;
SELECT setseed(:seed);
CREATE TABLE rooms (room int PRIMARY KEY, account text, mode text, width int, height int);
CREATE TABLE events (room int, participant text, event text, at timestamptz);
CREATE TABLE recordings (room int, bytes bigint, ready_at timestamptz, retention interval, deleted_at timestamptz);
CREATE TABLE exports (room int, processed interval, finished_at timestamptz);
CREATE INDEX ON events (at);
CREATE INDEX ON events (room);
-- every other seed without the rooms' unique index: closes then count
-- the rooms rows of each room instead of relying on it
SELECT CASE WHEN random() < 0.5 THEN 'ALTER TABLE rooms DROP CONSTRAINT rooms_pkey' ELSE 'SELECT' END AS ddl \gset
:ddl;
SELECT classbill.register_source('rooms', 'rooms');
SELECT classbill.register_source('events', 'events');
SELECT classbill.register_source('recordings', 'recordings');
SELECT classbill.register_source('exports', 'exports');

-- a1, a2 postpaid; a3, a4 prepaid holding a pack that never runs out;
-- a5, a6 prepaid, their packs recorded late
INSERT INTO classbill.accounts
SELECT 'a' || k, CASE WHEN k <= 2 THEN 'postpaid' ELSE 'prepaid' END::classbill.plan, 'CNY'
FROM generate_series(1, 6) AS k;
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES
  ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.045), ('usage', '1vn', '480p', 'CNY', '2026-01-01', 0.028),
  ('usage', '1v1', '720p', 'CNY', '2026-01-01', 0.08), ('usage', '1vn', '720p', 'CNY', '2026-01-01', 0.06),
  ('usage', '1v1', '480p', 'CNY', '2026-11-08', 0.05);
INSERT INTO classbill.rates (product, currency, valid_from, price) VALUES
  ('storage', 'CNY', '2026-01-01', 0.118), ('export', 'CNY', '2026-01-01', 0.05);
INSERT INTO classbill.pack_items VALUES ('480p-big', '480p', 1000000), ('720p-big', '720p', 1000000);
INSERT INTO classbill.pack_prices VALUES ('480p-big', 'CNY', '2026-01-01', 900), ('720p-big', 'CNY', '2026-01-01', 1500);
INSERT INTO classbill.packs (account, tier, item, purchased_at)
SELECT a, t, t || '-big', '2026-10-01 09:00+08'
FROM unnest(ARRAY['a3', 'a4']) AS a, unnest(ARRAY['480p', '720p']::classbill.tier[]) AS t;

-- four rooms an account a day, sessions of 2 to 4 people
CREATE FUNCTION add_room(p_day date, p_account text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  r int := coalesce((SELECT max(room) FROM rooms), 0) + 1;
  start timestamptz := (p_day + time '07:00' + random() * interval '16 hours') AT TIME ZONE 'Asia/Shanghai';
  k int;
BEGIN
  INSERT INTO rooms VALUES (r, p_account, (ARRAY['1v1', '1vn', NULL])[1 + floor(random() * 3)::int],
                            (ARRAY[640, 1280])[1 + floor(random() * 2)::int],
                            (ARRAY[480, 720])[1 + floor(random() * 2)::int]);
  FOR k IN 1 .. 2 + floor(random() * 3)::int LOOP
    INSERT INTO events VALUES (r, 'p' || k, 'join', start + random() * interval '5 minutes'),
                              (r, 'p' || k, 'leave', start + interval '20 minutes' + random() * interval '40 minutes');
  END LOOP;
  INSERT INTO recordings VALUES (r, (100 + floor(random() * 900))::bigint * 1048576,
                                 start + interval '2 hours', (ARRAY[interval '1 day', '2 days', '4 days'])[1 + floor(random() * 3)::int],
                                 NULL);
  IF random() < 0.4 THEN
    INSERT INTO exports VALUES (r, interval '1 minute' * (1 + floor(random() * 50)), start + interval '3 hours');
  END IF;
  RETURN r;
END $$;
SELECT add_room(d::date, 'a' || a) FROM generate_series('2026-11-01'::date, '2026-11-01'::date + :days, '1 day') AS d,
       generate_series(1, 6) AS a, generate_series(1, 4);

-- random edits of the closed days [p_day - 6, p_day - 1] (the recheck
-- window of the next close is 7 days: no edit reaches further back)
CREATE FUNCTION edit(p_day date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  lo timestamptz := (p_day - 6)::timestamp AT TIME ZONE 'Asia/Shanghai';
  hi timestamptz := p_day::timestamp AT TIME ZONE 'Asia/Shanghai';
  -- rooms whose rows all lie in the window (their storage too: ready
  -- in the window)
  win int[] := ARRAY(SELECT e.room FROM events AS e GROUP BY e.room
                     HAVING min(e.at) >= lo + interval '1 hour' AND max(e.at) < hi - interval '3 hours');
  r int;
  r2 int;
  k int;
  done text := '';
BEGIN
  IF cardinality(win) < 4 THEN
    RETURN 'none';
  END IF;
  FOR k IN 1 .. 3 + floor(random() * 4)::int LOOP
    r := win[1 + floor(random() * cardinality(win))::int];
    r2 := win[1 + floor(random() * cardinality(win))::int];
    CASE floor(random() * 12)::int
      WHEN 0 THEN   -- a late session
        INSERT INTO events SELECT r, 'late' || k, x.kind, m.at + x.off
        FROM (SELECT min(at) AS at FROM events WHERE room = r) AS m,
             (VALUES ('join', interval '1 minute'), ('leave', interval '17 minutes')) AS x(kind, off);
        done := done || ' add';
      WHEN 1 THEN   -- a row removed
        DELETE FROM events WHERE ctid = (SELECT ctid FROM events WHERE room = r ORDER BY random() LIMIT 1);
        done := done || ' del';
      WHEN 2 THEN   -- a time moved
        UPDATE events SET at = at + (random() - 0.5) * interval '20 minutes'
        WHERE ctid = (SELECT ctid FROM events WHERE room = r ORDER BY random() LIMIT 1);
        done := done || ' move';
      WHEN 3 THEN   -- two edits that cancel in a sum
        UPDATE events SET at = at + interval '5 minutes'
        WHERE ctid = (SELECT ctid FROM events WHERE room = r AND event = 'leave' LIMIT 1);
        UPDATE events SET at = at - interval '5 minutes'
        WHERE ctid = (SELECT ctid FROM events WHERE room = r2 AND event = 'leave' LIMIT 1);
        done := done || ' cancel';
      WHEN 4 THEN   -- a row to another room
        UPDATE events SET room = r2
        WHERE ctid = (SELECT ctid FROM events WHERE room = r ORDER BY random() LIMIT 1);
        done := done || ' reroom';
      WHEN 5 THEN   -- a row to another participant
        UPDATE events SET participant = 'q' || floor(random() * 3)
        WHERE ctid = (SELECT ctid FROM events WHERE room = r AND participant IS NOT NULL ORDER BY random() LIMIT 1);
        done := done || ' who';
      WHEN 6 THEN   -- the room's mode
        UPDATE rooms SET mode = (ARRAY['1v1', '1vn', NULL])[1 + floor(random() * 3)::int] WHERE room = r;
        done := done || ' mode';
      WHEN 7 THEN   -- the room's resolution
        UPDATE rooms SET width = 1920 - width, height = 1200 - height WHERE room = r;
        done := done || ' tier';
      WHEN 8 THEN   -- the room to another account
        UPDATE rooms SET account = 'a' || (1 + floor(random() * 6)) WHERE room = r;
        done := done || ' account';
      WHEN 9 THEN   -- a recording
        UPDATE recordings SET deleted_at = CASE WHEN deleted_at IS NULL THEN ready_at + random() * interval '20 hours' END,
                              bytes = bytes + 1048576
        WHERE room = r;
        done := done || ' recording';
      WHEN 10 THEN  -- an export
        IF EXISTS (SELECT FROM exports WHERE room = r) THEN
          DELETE FROM exports WHERE room = r;
        ELSE
          INSERT INTO exports SELECT r, interval '90 seconds', max(at) + interval '1 hour' FROM events WHERE room = r;
        END IF;
        done := done || ' export';
      ELSE          -- a pack recorded late, bought on a closed day
        IF NOT EXISTS (SELECT FROM classbill.packs WHERE account IN ('a5', 'a6') AND purchased_at >= lo) THEN
          INSERT INTO classbill.packs (account, tier, item, purchased_at)
          VALUES ((ARRAY['a5', 'a6'])[1 + floor(random() * 2)::int], '480p', '480p-big', lo + random() * (hi - lo));
          done := done || ' pack';
        END IF;
    END CASE;
  END LOOP;
  RETURN done;
END $$;

-- the ledger net, against all of the period computed now
CREATE FUNCTION compare(p_to date) RETURNS TABLE (what text) LANGUAGE plpgsql AS $$
BEGIN
  PERFORM classbill.store_usage_days('2026-11-01', p_to);
  RETURN QUERY
  WITH led AS (
    SELECT account, coalesce(corrects, day) AS day, product, tier, mode, pack_id IS NOT NULL AND product = 'usage' AS covered,
           sum(quantity) AS quantity, sum(amount) AS amount
    FROM classbill.ledger GROUP BY 1, 2, 3, 4, 5, 6),
  ref AS (
    SELECT account, day, product, tier, mode, pack_id IS NOT NULL AND product = 'usage' AS covered,
           sum(quantity) AS quantity, sum(amount) AS amount
    FROM classbill.rated_lines('2026-11-01', p_to) GROUP BY 1, 2, 3, 4, 5, 6)
  SELECT concat_ws(' ', 'differs:', coalesce(l.account, f.account), coalesce(l.day, f.day),
                   coalesce(l.product, f.product), coalesce(l.tier, f.tier), coalesce(l.mode, f.mode),
                   CASE WHEN coalesce(l.covered, f.covered) THEN 'covered' ELSE 'overage' END,
                   'ledger', l.quantity, l.amount, 'recomputed', f.quantity, f.amount)
  FROM led AS l FULL JOIN ref AS f
    ON (l.account, l.day, l.product, l.covered) = (f.account, f.day, f.product, f.covered)
   AND l.tier IS NOT DISTINCT FROM f.tier AND l.mode IS NOT DISTINCT FROM f.mode
  WHERE coalesce(l.quantity, 0) <> coalesce(f.quantity, 0) OR coalesce(l.amount, 0) <> coalesce(f.amount, 0);
  RETURN QUERY SELECT 'problem: ' || p.problem FROM classbill.close_problems AS p;
END $$;
SQL
	local d edits out adjusted=0 lines
	for i in $(seq 0 $((DAYS - 1))); do
		d=$(date -d "2026-11-01 + $i days" +%F)
		if [ "$i" -gt 0 ]; then
			edits=$(cb_psql -d $DB -At -c "SELECT edit('$d')")
			echo "  $d edits:$edits"
		fi
		cb_psql -d $DB -c "SET client_min_messages = warning" -c "CALL classbill.close_day('$d')"
		out=$(cb_psql -d $DB -At -c "SELECT * FROM compare('$d'::date + 1)")
		if [ -n "$out" ]; then
			echo "seed $seed, after closing $d:"
			echo "$out" | head -20
			return 1
		fi
	done
	read -r adjusted lines unique < <(cb_psql -d $DB -At -F ' ' -c "SELECT count(*) FILTER (WHERE corrects IS NOT NULL), count(*),
		CASE WHEN classbill_internal.rooms_unique() THEN 'unique' ELSE 'counted' END FROM classbill.ledger")
	echo "seed $seed ($unique rooms rows): $DAYS closes, $lines lines, $adjusted adjustment lines, ledger equal to a full recomputation after every close"
	[ "$adjusted" -gt 0 ] || { echo "no adjustment was made: the edits did not reach the ledger"; return 1; }
}

for s in $SEEDS; do
	run_seed "$s" || exit 1
done
cb_psql -d postgres -c "DROP DATABASE $DB" >/dev/null
