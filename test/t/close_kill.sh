#!/usr/bin/env bash
# SPEC 7.2: a close is all or nothing.  A close is held up half-way (all
# its lines written, waiting to write the fingerprints of what it read),
# then its backend is terminated; later the same with kill -9, which makes the
# server restart.  Each time no line, close or closed day of it remains,
# and the close run again completes with the hand-computed lines.
source "$(dirname "$0")/../lib.sh"

DB=cb_kill
cb_psql -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export PGDATABASE=$DB

cb_psql >/dev/null <<'SQL'
CREATE EXTENSION classbill;
CREATE TABLE k_rooms (room int, account text, mode text, width int, height int);
CREATE TABLE k_events (room int, participant text, event text, at timestamptz);
CREATE TABLE k_recordings (room int, bytes bigint, ready_at timestamptz, retention interval, deleted_at timestamptz);
SELECT classbill.register_source('rooms', 'k_rooms');
SELECT classbill.register_source('events', 'k_events');
SELECT classbill.register_source('recordings', 'k_recordings');
INSERT INTO classbill.accounts VALUES ('p', 'prepaid', 'CNY', 'P'), ('q', 'postpaid', 'CNY', 'Q');
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES
  ('usage', '1v1', '720p', 'CNY', '2026-01-01', 0.07);
INSERT INTO classbill.rates (product, currency, valid_from, price) VALUES ('storage', 'CNY', '2026-01-01', 0.12);
INSERT INTO classbill.pack_items VALUES ('720p-50', '720p', 50);
INSERT INTO classbill.pack_prices VALUES ('720p-50', 'CNY', '2026-01-01', 3);
INSERT INTO classbill.packs (pack_id, account, tier, item, purchased_at)
VALUES (7, 'p', '720p', '720p-50', '2026-11-01 09:00+08');
-- 11-01: p 80 minutes of 720p 1v1 (50 from the pack, 30 overage at 0.07
-- = 2.10) and the pack (3.00); q 15 minutes (1.05); p keeps 2 GB from
-- 12:00 on (144 of 288 marks: 1 GB-day = 1/30 GB-month x 0.12 = 0.004).
INSERT INTO k_rooms VALUES (1, 'p', '1v1', 1280, 720), (2, 'q', '1v1', 1280, 720);
INSERT INTO k_events VALUES
  (1, 'a', 'join', '2026-11-01 10:00+08'), (1, 'a', 'leave', '2026-11-01 11:20+08'),
  (2, 'b', 'join', '2026-11-01 10:00+08'), (2, 'b', 'leave', '2026-11-01 10:15+08');
INSERT INTO k_recordings VALUES (1, 2147483648, '2026-11-01 12:00+08', '30 days', NULL);
SQL

expected='p|usage|7|50|0.00
p|usage||30|2.10
q|usage||15|1.05
p|pack|7|1|3.00
p|storage||0.033333|0.00'
ledger() {
	cb_psql -At -c "SELECT account, product, pack_id, trim_scale(round(quantity, 6)), round(amount, 2)
	                FROM classbill.ledger ORDER BY line_id"
}
nothing_left() {
	local n
	n=$(cb_psql -At -c "SELECT (SELECT count(*) FROM classbill.ledger) + (SELECT count(*) FROM classbill.closes)
	                         + (SELECT count(*) FROM classbill.closed_days) + (SELECT count(*) FROM classbill.ledger_usage)
	                         + (SELECT count(*) FROM classbill.ledger_rooms) + (SELECT count(*) FROM classbill.close_problems)")
	[ "$n" = 0 ] || { echo "after the kill, $n ledger rows remain"; exit 1; }
}

# hold_and_kill <signal>: a session takes a SHARE lock on the closed
# days (reads go on, inserts wait); a close runs into it after writing
# all its lines; its backend gets the signal (TERM via
# pg_terminate_backend, or KILL).
hold_and_kill() {
	local how=$1 pid i
	cb_psql -c "BEGIN" -c "LOCK TABLE classbill.closed_days IN SHARE MODE" -c "SELECT pg_sleep(60)" \
		>/dev/null 2>&1 &
	local holder=$!
	sleep 1
	PGAPPNAME=cb_close cb_psql -c "CALL classbill.close_day('2026-11-01')" >"$CB_TMP/close.log" 2>&1 &
	local closer=$!
	for i in $(seq 100); do
		pid=$(cb_psql -At -c "SELECT pid FROM pg_stat_activity
		                      WHERE application_name = 'cb_close' AND wait_event_type = 'Lock'")
		[ -n "$pid" ] && break
		sleep 0.1
	done
	[ -n "$pid" ] || { echo "the close never waited for the lock"; exit 1; }
	# it is half-way: it has written to the ledger (not yet committed)
	if [ "$(cb_psql -At -c "SELECT count(*) FROM pg_locks WHERE pid = $pid
	                        AND relation = 'classbill.ledger'::regclass AND mode = 'RowExclusiveLock'")" != 1 ]; then
		echo "the close waits before writing its lines"; exit 1
	fi
	if [ "$how" = TERM ]; then
		cb_psql -c "SELECT pg_terminate_backend($pid)" >/dev/null
	else
		kill -KILL "$pid"
	fi
	wait $closer && { echo "the close was not interrupted"; exit 1; }
	grep -E 'FATAL|closed the connection' "$CB_TMP/close.log" || true
	kill $holder 2>/dev/null || true
	wait $holder || true
	# after kill -9 the server restarts: wait for it
	for i in $(seq 100); do
		cb_psql -c "SELECT 1" >/dev/null 2>&1 && break
		sleep 0.2
	done
	nothing_left
	echo "killed ($how) half-way: nothing of the close remains"
}

hold_and_kill TERM
hold_and_kill KILL

cb_psql -c "CALL classbill.close_day('2026-11-01')"
got=$(ledger)
if [ "$got" != "$expected" ]; then
	printf 'ledger after the re-run:\n%s\nexpected:\n%s\n' "$got" "$expected"
	exit 1
fi
echo "re-run completed: $(echo "$got" | wc -l) lines as computed by hand"
cb_psql -d postgres -c "DROP DATABASE $DB"
