#!/usr/bin/env bash
# classbill on a Citus cluster (SPEC 1.9, 7, 9): a coordinator and two
# workers on loopback, events and rooms distributed by room and
# co-located.  Per-room usage, account rollups, billable_days, and
# several closes with late rows, each compared with the same rows on one
# plain node; a worker in another billing time zone is an error in
# billing.  Runs when the citus extension is installed (Citus is not
# packaged by Debian; nothing of it is part of classbill), and says it
# was skipped otherwise.
source "$(dirname "$0")/../lib.sh"

if [ ! -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
	echo "skipped: the citus extension is not installed for PostgreSQL $PG_MAJOR"
	exit 0
fi

cb_nodes citus 51000 coord w1 w2

on() { local n=$1; shift; cb_psql -h 127.0.0.1 -p "$(port_of "$n")" -U postgres -d billing "$@"; }
single() { cb_psql -h 127.0.0.1 -p "$(port_of coord)" -U postgres -d single "$@"; }
coord() { on coord "$@"; }

start=$(date +%s)
for n in "${NODES[@]}"; do
	cb_init_node "$n" "shared_buffers = '128MB'" "shared_preload_libraries = 'citus'" "max_connections = 100"
	# the writer logs in to the workers with a password, and never to the
	# coordinator; everyone else (this test's superuser, Citus's own
	# connections) as initdb set up
	hba="$DIR/$n/pg_hba.conf"
	if [ "$n" = coord ]; then
		{ echo "local all classbill_writer reject"; echo "host all classbill_writer all reject"; cat "$hba"; } >"$hba.new"
	else
		{ echo "host all classbill_writer 127.0.0.1/32 scram-sha-256"; cat "$hba"; } >"$hba.new"
	fi
	cb_as_server_user cp "$hba.new" "$hba"
	cb_start_node "$n"
	cb_psql -h 127.0.0.1 -p "$(port_of "$n")" -U postgres -d postgres -q -c "CREATE DATABASE billing"
	on "$n" -q -c "CREATE EXTENSION citus"
done
coord -q <<SQL >/dev/null
SELECT citus_set_coordinator_host('127.0.0.1', $(port_of coord));
SELECT citus_add_node('127.0.0.1', $(port_of w1));
SELECT citus_add_node('127.0.0.1', $(port_of w2));
SQL
echo "Citus $(coord -At -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'"): coordinator on :$(port_of coord), workers on :$(port_of w1) and :$(port_of w2)"

# classbill on every node, in the same version: the workers run its
# aggregates and checks on their shards
for n in "${NODES[@]}"; do
	on "$n" -q -c "SET citus.enable_ddl_propagation = off" -c "CREATE EXTENSION classbill"
done
# Closes read the sources as classbill_writer, and Citus connects to the
# workers as it: it may log in, with a password Citus is given for it
# (pg_dist_authinfo), where pg_hba.conf lets it, the workers only.  (Citus
# does not propagate the roles an extension creates: set it on each.)
for n in "${NODES[@]}"; do
	on "$n" -q -c "SET citus.enable_ddl_propagation = off" -c "ALTER ROLE classbill_writer LOGIN PASSWORD 'writer-secret'"
done
coord -q -c "INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo) VALUES (0, 'classbill_writer', 'password=writer-secret')"

# The rows: 1,200 rooms over November, distributed by room
DATA=$(cat <<'SQL'
CREATE TABLE rooms (room int PRIMARY KEY, account text, mode text, width int, height int);
CREATE TABLE events (room int, participant text, event text, at timestamptz);
INSERT INTO rooms
SELECT r, 'acct' || (r % 11), CASE WHEN r % 4 = 0 THEN '1v1' END, 640 + 640 * (r % 2), 480 + 240 * (r % 2)
FROM generate_series(1, 1200) AS r;
INSERT INTO events
SELECT r, 'p' || k, x.e,
       timestamptz '2026-11-01 00:00+08' + (r % 30) * interval '1 day'
         + ((r * 37 + k * 11) % 1440) * interval '1 minute'
         + x.off * interval '1 second' + (r * k % 1000) * interval '1 microsecond'
FROM generate_series(1, 1200) AS r, generate_series(1, 1 + r % 6) AS k,
     LATERAL (VALUES ('join', 0), ('stage_up', 30), ('heartbeat', 600), ('join', 900),
                     ('leave', 300 + (r * k) % 5000)) AS x(e, off);
INSERT INTO events
SELECT r, NULL, 'end', timestamptz '2026-11-01 12:00+08' + (r % 30) * interval '1 day' + r * interval '1 minute'
FROM generate_series(1, 1200, 5) AS r;
SQL
)
coord -q -c "SET citus.shard_count = 8" -c "CREATE TABLE rooms (room int PRIMARY KEY, account text, mode text, width int, height int)" \
	-c "CREATE TABLE events (room int, participant text, event text, at timestamptz)" \
	-c "SELECT create_distributed_table('events', 'room')" \
	-c "SELECT create_distributed_table('rooms', 'room', colocate_with => 'events')" >/dev/null
coord -q -c "$(echo "$DATA" | grep -v '^CREATE TABLE')"
cb_psql -h 127.0.0.1 -p "$(port_of coord)" -U postgres -d postgres -q -c "CREATE DATABASE single"
single -q -c "CREATE EXTENSION classbill" -c "$DATA"
echo "$(coord -At -c "SELECT count(*) FROM events") events of $(coord -At -c "SELECT count(*) FROM rooms") rooms, in $(coord -At -c "SELECT count(*) FROM citus_shards WHERE table_name = 'events'::regclass") shards"

cb_say "per-room usage is computed on the workers, and equals one node's"
coord -At >"$DIR/explain.txt" -c "EXPLAIN (VERBOSE, COSTS OFF)
  SELECT room, classbill.room_usage(participant, event, at) FROM events GROUP BY room"
grep -q 'classbill.room_usage' "$DIR/explain.txt" && grep -q 'Custom Scan (Citus Adaptive)' "$DIR/explain.txt" ||
	{ cat "$DIR/explain.txt"; echo "room_usage is not pushed to the workers"; exit 1; }
grep -m1 'classbill.room_usage(' "$DIR/explain.txt" | sed 's/^ */  /'
per_room="SELECT md5(string_agg(room || ' ' || u::text, ',' ORDER BY room)) || ' ' || count(*) || ' rooms'
          FROM (SELECT room, classbill.room_usage(participant, event, at) AS u FROM events GROUP BY room) AS s"
per_account="SELECT md5(string_agg(account || ' ' || u::text, ',' ORDER BY account)) || ' ' || count(*) || ' accounts'
             FROM (SELECT r.account, classbill.rollup(s.u) AS u
                   FROM (SELECT room, classbill.room_usage(participant, event, at) AS u FROM events GROUP BY room) AS s
                   JOIN rooms AS r USING (room) GROUP BY r.account) AS a"
compare() { # label query
	local a b
	a=$(coord -At -c "$2")
	b=$(single -At -c "$2")
	echo "$1: Citus $a, one node $b"
	[ "$a" = "$b" ] || { echo "$1 differ"; exit 1; }
}
compare "per room" "$per_room"
compare "per account" "$per_account"

cb_say "billable_days and closes with late rows, on Citus and on one node"
setup() { # node
	"$1" -q <<'SQL' >/dev/null
SET client_min_messages = warning;
SELECT classbill.register_source('rooms', 'rooms');
SELECT classbill.register_source('events', 'events');
INSERT INTO classbill.accounts SELECT 'acct' || k, 'postpaid', 'CNY' FROM generate_series(0, 10) AS k;
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES
  ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.045), ('usage', '1vn', '480p', 'CNY', '2026-01-01', 0.028),
  ('usage', '1v1', '720p', 'CNY', '2026-01-01', 0.08), ('usage', '1vn', '720p', 'CNY', '2026-01-01', 0.06);
SQL
}
setup coord
setup single
compare "billable_days" "SELECT md5(string_agg(concat_ws(' ', account, tier, mode, day, seconds, minutes), ','
                                               ORDER BY account, tier, mode, day)) || ' ' || count(*) || ' quantities'
                         FROM classbill.billable_days('2026-11-01', '2026-12-01')"
close_days() { # node first last
	local d
	for d in $(seq "$2" "$3"); do
		"$1" -q -c "SET client_min_messages = warning" -c "CALL classbill.close_day('2026-11-0$d')"
	done
}
late_rows() { # node
	"$1" -q <<'SQL'
INSERT INTO events VALUES (2, 'late', 'join', '2026-11-02 20:00+08'), (2, 'late', 'leave', '2026-11-02 20:45+08');
-- (a leave moved: out and in again, as Citus updates no column with an
-- expression that depends on the session)
CREATE TEMP TABLE moved AS
  SELECT room, participant, event, at + interval '7 minutes' AS at FROM events
  WHERE room = 3 AND event = 'leave' AND at >= '2026-11-04 00:00+08' AND at < '2026-11-05 00:00+08';
DELETE FROM events WHERE room = 3 AND event = 'leave' AND at >= '2026-11-04 00:00+08' AND at < '2026-11-05 00:00+08';
INSERT INTO events SELECT * FROM moved;
DELETE FROM events WHERE room = 4 AND participant = 'p1' AND event = 'leave'
  AND at >= '2026-11-05 00:00+08' AND at < '2026-11-06 00:00+08';
UPDATE rooms SET width = 1280, height = 720 WHERE room = 5;
SQL
}
ledger="SELECT md5(string_agg(concat_ws(' ', account, day, corrects, product, tier, mode, quantity, amount), ','
                              ORDER BY account, day, corrects, product, tier, mode, quantity))
        || ' ' || count(*) || ' lines, ' || count(*) FILTER (WHERE corrects IS NOT NULL) || ' adjustments'
        FROM classbill.ledger"
t0=$(date +%s.%N)
close_days coord 1 5
t1=$(date +%s.%N)
close_days single 1 5
t2=$(date +%s.%N)
late_rows coord
late_rows single
close_days coord 6 7
close_days single 6 7
compare "ledger" "$ledger"
case $(coord -At -c "$ledger") in *" 0 adjustments") echo "the late rows made no adjustment"; exit 1 ;; esac
[ "$(coord -At -c "SELECT count(*) FROM classbill.verify_ledger()")" = 0 ] || { echo "the chain does not verify"; exit 1; }
echo "five closes: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s on Citus, $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", b - a }') s on one node"

cb_say "a worker in another billing time zone is an error where the bill is computed"
on w2 -q -c "LOAD 'classbill'" -c "ALTER SYSTEM SET classbill.billing_timezone = 'UTC'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
refused=$(coord -c "SELECT classbill.minutes(classbill.rollup(u)) FROM (SELECT room, classbill.in_zone(classbill.room_usage(participant, event, at), 'Asia/Shanghai') AS u FROM events GROUP BY room) AS s" 2>&1 || true)
echo "$refused" | grep ERROR || { echo "$refused"; echo "a worker's value of another zone was billed"; exit 1; }
refused=$(coord -c "CALL classbill.close_day('2026-11-08')" 2>&1 || true)
echo "$refused" | grep ERROR || { echo "$refused" | tail -3; echo "a close over a worker of another zone did not fail"; exit 1; }
echo "$refused" | grep -q '"UTC"' || { echo "the refusal does not name the worker's zone"; exit 1; }
[ "$(coord -At -c "SELECT count(*) FROM classbill.closes WHERE day = '2026-11-08'")" = 0 ] ||
	{ echo "the refused close wrote something"; exit 1; }
on w2 -q -c "LOAD 'classbill'" -c "ALTER SYSTEM RESET classbill.billing_timezone" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
close_days coord 8 8
close_days single 8 8
compare "ledger after the zone is set right" "$ledger"
echo "Citus: per room, per account, billable_days and closes equal one node; a worker in another zone is an error ($(($(date +%s) - start)) s)"
