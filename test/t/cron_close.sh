#!/usr/bin/env bash
# SPEC 7.1: a real pg_cron closes yesterday.  The suite's server loads
# pg_cron (shared_preload_libraries); this schedules the job the README
# shows, in a database of its own, waits for pg_cron to run it, checks
# the closed lines and takes the job away again.
#
# Account c, postpaid, 480p 1v1 at 0.05 a minute; yesterday (in the
# billing time zone, Asia/Shanghai) one session 10:00-10:45: 45 minutes,
# 2.25.  pg_cron 1.4 runs jobs at whole minutes: this waits up to 2.
source "$(dirname "$0")/../lib.sh"

if [ "$(cb_psql -At -c "SHOW shared_preload_libraries")" != pg_cron ]; then
	echo "the server does not load pg_cron (test/check.sh starts one that does)"
	exit 1
fi

DB=cb_cron
cb_psql -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
cb_psql -d $DB >/dev/null <<'SQL'
CREATE EXTENSION classbill;
CREATE TABLE c_rooms (room int, account text, mode text, width int, height int);
CREATE TABLE c_events (room int, participant text, event text, at timestamptz);
SELECT classbill.register_source('rooms', 'c_rooms');
SELECT classbill.register_source('events', 'c_events');
INSERT INTO classbill.accounts VALUES ('c', 'postpaid', 'CNY', 'C');
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price)
VALUES ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.05);
INSERT INTO c_rooms VALUES (1, 'c', '1v1', 640, 480);
INSERT INTO c_events
SELECT 1, 'x', e, (y + t) AT TIME ZONE 'Asia/Shanghai'
FROM (SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date - 1 AS y) AS d,
     (VALUES ('join', time '10:00'), ('leave', time '10:45')) AS v(e, t);
SQL
yesterday=$(cb_psql -d $DB -At -c "SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date - 1")

cb_psql -d postgres -c "CREATE EXTENSION IF NOT EXISTS pg_cron" >/dev/null
cb_psql -d postgres -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = 'cb-close-test'" >/dev/null
job=$(cb_psql -d postgres -At -c "SELECT cron.schedule_in_database('cb-close-test', '* * * * *',
                                      'CALL classbill.close_yesterday()', '$DB')")
echo "scheduled job $job at $(date -u +%T) UTC, closing $yesterday"

status=
for i in $(seq 130); do
	status=$(cb_psql -d postgres -At -c "SELECT status FROM cron.job_run_details
	                                     WHERE jobid = $job AND status IN ('succeeded', 'failed')
	                                     ORDER BY runid LIMIT 1")
	[ -n "$status" ] && break
	sleep 1
done
cb_psql -d postgres -At -c "SELECT cron.unschedule($job)" >/dev/null
cb_psql -d postgres -At -c "SELECT 'run ' || status || ' at ' || to_char(start_time AT TIME ZONE 'UTC', 'HH24:MI:SS') || ' UTC: ' || return_message
                           FROM cron.job_run_details WHERE jobid = $job ORDER BY runid"
[ "$status" = succeeded ] || { echo "pg_cron did not run the close (status: ${status:-none})"; exit 1; }

got=$(cb_psql -d $DB -At -c "SELECT day, account, tier, mode, quantity, amount FROM classbill.ledger ORDER BY line_id")
want="$yesterday|c|480p|1v1|45|2.25"
if [ "$got" != "$want" ]; then
	printf 'ledger after the pg_cron run:\n%s\nexpected:\n%s\n' "$got" "$want"
	exit 1
fi
echo "pg_cron closed $yesterday: $got"
cb_psql -d postgres -c "DROP DATABASE $DB"
