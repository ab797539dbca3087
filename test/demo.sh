#!/usr/bin/env bash
# test/demo.sh: classbill's main job on a built-in sample month.
#
#   bash test/demo.sh
#
# Installs what is missing, builds and installs classbill, starts a
# throwaway PostgreSQL 15, loads a month of two small schools' classes
# (test/sample_month.sql) and EXAMPLE rates (test/example_rates.sql: made
# up, not the vendor's), and prints what billing needs from it: a report
# per room, billable minutes per day by tier and mode, the month's
# statement with pack drawdown, recording storage and MP4 export, late
# recordings, pack balances and forecast, and plan-limit breaches.  CB_KEEP=1 keeps the cluster's directory; the server stops
# either way.
source "$(dirname "$0")/lib.sh"

cb_install_packages
cb_build
cb_start_cluster

cb_say "loading the sample month and example rates"
cb_psql -c "CREATE EXTENSION classbill"
cb_psql -f "$CB_ROOT/test/sample_month.sql" >/dev/null
cb_psql -f "$CB_ROOT/test/example_rates.sql" >/dev/null

"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -P footer=off <<'SQL'
SET classbill.billing_timezone = 'Asia/Shanghai';
SET timezone = 'Asia/Shanghai';
SET datestyle = 'ISO, YMD';
\pset null '-'

-- Tell classbill once where the rows live, and who the customers are.
SELECT classbill.register_source('rooms', 'school.rooms');
SELECT classbill.register_source('events', 'school.events');
SELECT classbill.register_source('recordings', 'school.recordings');
SELECT classbill.register_source('exports', 'school.exports');
INSERT INTO classbill.accounts (account, plan, currency, name) VALUES
  ('maple-academy', 'prepaid', 'CNY', 'Maple Academy'),
  ('birch-tutors', 'postpaid', 'CNY', 'Birch Tutors');
-- Maple's packs: one bought in October, one mid-month (it covers all of
-- its purchase day, SPEC 3.5), one on the 1st.
INSERT INTO classbill.packs (account, tier, item, purchased_at) VALUES
  ('maple-academy', '480p', '480p-120k', '2026-10-20 09:00+08'),
  ('maple-academy', '240p', '240p-120k', '2026-11-10 14:00+08'),
  ('maple-academy', '720p', '720p-120k', '2026-11-01 08:00+08');

CREATE TEMP TABLE rooms AS SELECT * FROM classbill.room_values('2026-11-01', '2026-12-01');

\echo
\echo '== The month in numbers'
SELECT count(*) AS rooms,
       (SELECT count(*) FROM school.events) AS event_rows,
       sum(classbill.events(usage)) AS rows_counted,
       sum(classbill.minutes(usage)) AS room_minutes,
       round(sum(classbill.seconds(usage)) / 3600, 1) AS hours_present
FROM rooms;

\echo
\echo '== Rooms (the first 20 of the month; a room''s own minutes are informative, SPEC 1.7)'
SELECT r.room, to_char(s.starts_at, 'MM-DD HH24:MI') AS starts, s.title, r.account, r.tier, r.mode,
       CASE WHEN r.declared_mode IS NULL THEN 'inferred' ELSE 'declared' END AS mode_from,
       classbill.participants(r.usage) AS people, classbill.peak(r.usage) AS peak,
       classbill.stage_peak(r.usage) AS on_stage, classbill.seconds(r.usage) AS seconds,
       classbill.minutes(r.usage) AS minutes
FROM rooms AS r JOIN school.rooms AS s ON s.room::text = r.room
ORDER BY s.starts_at, r.room LIMIT 20;

\echo
\echo '== Data quality over the month (SPEC 1.2, 1.5: counted, never dropped)'
SELECT sum(classbill.duplicate_joins(usage)) AS duplicate_joins,
       sum(classbill.orphan_leaves(usage)) AS orphan_leaves,
       sum(classbill.stray_heartbeats(usage)) AS stray_heartbeats,
       sum(classbill.stray_stage_events(usage)) AS stray_stage_events,
       sum(classbill.unterminated_sessions(usage)) AS unterminated_sessions
FROM rooms;

-- SPEC 1.7: a bill rounds each (account, tier, mode, day) group.
SELECT classbill.store_usage_days('2026-11-01', '2026-12-01') AS stored_quantities \gset

\echo
\echo '== Billable minutes per day by tier and mode, Maple Academy (Asia/Shanghai days)'
SELECT day,
       sum(minutes) FILTER (WHERE tier = '240p' AND mode = '1v1') AS "240p 1v1",
       sum(minutes) FILTER (WHERE tier = '240p' AND mode = '1vn') AS "240p 1vn",
       sum(minutes) FILTER (WHERE tier = '480p' AND mode = '1v1') AS "480p 1v1",
       sum(minutes) FILTER (WHERE tier = '480p' AND mode = '1vn') AS "480p 1vn",
       sum(minutes) FILTER (WHERE tier = '720p' AND mode = '1v1') AS "720p 1v1",
       sum(minutes) FILTER (WHERE tier = '720p' AND mode = '1vn') AS "720p 1vn",
       sum(minutes) AS total
FROM classbill.usage_days WHERE account = 'maple-academy'
GROUP BY day ORDER BY day;

\echo
\echo '== The month by account, tier and mode (sums of the daily rounded minutes)'
SELECT account, tier, mode, count(*) AS days, sum(seconds) AS seconds, sum(minutes) AS billable_minutes
FROM classbill.usage_days GROUP BY account, tier, mode ORDER BY account, tier, mode;

\echo
\echo '== November statements (EXAMPLE rates; each line rounded once, SPEC 6.1)'
SELECT account, product, tier, mode, rounded_quantity AS quantity, unit, covered AS covered_by_packs,
       amount, currency, exact_amount
FROM classbill.live_statement('2026-11-01');
SELECT account, sum(amount) AS total, min(currency) AS currency
FROM classbill.live_statement('2026-11-01') GROUP BY account ORDER BY account;

\echo
\echo '== Storage and export lines of one day, 2026-11-20 (exact; statements round the month once)'
SELECT account, product, round(quantity, 6) AS quantity, unit, unit_price, round(amount, 6) AS amount
FROM classbill.rated_lines('2026-11-20', '2026-11-21')
WHERE product IN ('storage', 'export') ORDER BY account, product;

\echo
\echo '== Recordings ready more than 24 hours after their class (allowed, reported: SPEC 4.1)'
SELECT room, account, class_end, ready_at, late_by
FROM classbill.late_recordings('2026-11-01', '2026-12-01');

\echo
\echo '== Maple''s packs at the end of November, and when they run out at the last 14 days'' pace'
SELECT pack_id, tier, item, purchased_at, minutes, used, balance
FROM classbill.pack_balances('2026-11-30', 'maple-academy');
SELECT tier, balance, daily_burn, days_left, runs_out
FROM classbill.pack_forecast('2026-11-30', 14, 'maple-academy');

\echo
\echo '== Plan-limit breaches (reported, never billed differently, SPEC 3.6)'
SELECT kind, account, plan, room, at, allowed, peak, over
FROM classbill.breaches('2026-11-01', '2026-12-01') ORDER BY at;

\echo
\echo '== Closing November day by day into the ledger (what a daily pg_cron job does, SPEC 7)'
SET client_min_messages = warning;
-- one close per day, each its own transaction, as the job would run them
SELECT format('CALL classbill.close_day(%L)', d::date)
FROM generate_series(date '2026-11-01', date '2026-11-30', interval '1 day') AS d \gexec
RESET client_min_messages;
SELECT count(*) AS closes, min(c.day) AS first, max(c.day) AS last,
       (SELECT count(*) FROM classbill.ledger) AS lines,
       (SELECT round(sum(amount), 2) FROM classbill.ledger) AS total,
       (SELECT sum(amount) FROM classbill.ledger) AS exact_total
FROM classbill.closes AS c;
CALL classbill.close_day('2026-11-30');     -- again: nothing changes, and it says so

\echo
\echo '== Rows that arrive late: a student''s session on 11-29 and an export of 11-28 show up on 12-01'
INSERT INTO school.events
SELECT r.room, 'late-student', e, r.starts_at + o
FROM school.rooms AS r, (VALUES ('join', interval '5 minutes'), ('leave', interval '50 minutes')) AS v(e, o)
WHERE r.room = (SELECT min(room) FROM school.rooms
                WHERE starts_at >= '2026-11-29 08:00+08' AND starts_at < '2026-11-29 20:00+08'
                  AND account = 'maple-academy' AND width = 640);
INSERT INTO school.exports
SELECT min(room), interval '10 minutes', '2026-11-28 12:00+08' FROM school.rooms WHERE account = 'birch-tutors';
CALL classbill.close_day('2026-12-01');
SELECT line_id, account, day, corrects, product, tier, mode, pack_id, quantity,
       classbill.round_money(amount, currency) AS amount, amount AS exact_amount
FROM classbill.ledger WHERE corrects IS NOT NULL ORDER BY line_id;

\echo
\echo '== Maple Academy''s November statement, from its closed days'
\pset format unaligned
\pset tuples_only on
SELECT classbill.statement_text('2026-11-01', 'maple-academy');
\pset format aligned
\pset tuples_only off

\echo
\echo '== The adjustment of 11-29 explained down to its rooms, pack and rate (SPEC 7.3)'
SELECT what, detail FROM classbill.explain((SELECT min(line_id) FROM classbill.ledger
                                            WHERE corrects = '2026-11-29' AND product = 'usage'));

\echo
\echo '== What should each school buy?  The plan advisor over November (example prices)'
SELECT a.account, v.tier, v.minutes, v.postpaid, v.cheapest, v.saving, v.advice
FROM classbill.accounts AS a, classbill.plan_advice(a.account, '2026-11-01', '2026-12-01') AS v
ORDER BY a.account, v.tier NULLS LAST;
\echo '   ... and if Birch Tutors grew twelvefold:'
SELECT v.tier, v.minutes, v.postpaid, v.packs, v.cheapest, v.advice
FROM classbill.plan_advice('birch-tutors', '2026-11-01', '2026-12-01', 12) AS v;
SELECT v.tier, v.break_even FROM classbill.plan_advice('birch-tutors', '2026-11-01', '2026-12-01') AS v
WHERE v.tier IS NOT NULL;
SQL
