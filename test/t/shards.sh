#!/usr/bin/env bash
# Scale-out through postgres_fdw (SPEC 1.9 across nodes).  Three servers
# on loopback: a coordinator and two shards.  The coordinator's events
# table is hash-partitioned by room into two foreign tables, one on each
# shard; the servers are declared with `extensions 'classbill'`, so
# room_usage grouped by room runs on the shards (EXPLAIN VERBOSE shows it
# in the remote SQL).  The results per room, per day and rolled up per
# account equal the same rows in one local table, and so do classbill's
# billable minutes.  A shard in another billing time zone is an error,
# not a silent difference.
source "$(dirname "$0")/../lib.sh"

cb_nodes shards 55000 coord shard1 shard2

on() { local n=$1; shift; cb_psql -h 127.0.0.1 -p "$(port_of "$n")" -U postgres -d postgres "$@"; }

for n in "${NODES[@]}"; do
	cb_init_node "$n" "shared_buffers = '64MB'"
	cb_start_node "$n"
done
echo "coordinator on 127.0.0.1:$(port_of coord), shards on :$(port_of shard1) and :$(port_of shard2)"

for s in 1 2; do
	on shard$s -q <<SQL
CREATE EXTENSION classbill;
CREATE TABLE events_$((s - 1)) (room int, participant text, event text, at timestamptz);
CREATE INDEX ON events_$((s - 1)) (room);
SQL
done

on coord -q >/dev/null <<SQL
CREATE EXTENSION classbill;
CREATE EXTENSION postgres_fdw;
-- every node computes in one billing time zone: the shards get it with
-- each connection (a shard's own setting would do too, if kept equal)
CREATE SERVER shard1 FOREIGN DATA WRAPPER postgres_fdw
  OPTIONS (host '127.0.0.1', port '$(port_of shard1)', dbname 'postgres', extensions 'classbill',
           options '-c classbill.billing_timezone=Asia/Shanghai', batch_size '1000');
CREATE SERVER shard2 FOREIGN DATA WRAPPER postgres_fdw
  OPTIONS (host '127.0.0.1', port '$(port_of shard2)', dbname 'postgres', extensions 'classbill',
           options '-c classbill.billing_timezone=Asia/Shanghai', batch_size '1000');
CREATE USER MAPPING FOR postgres SERVER shard1 OPTIONS (user 'postgres');
CREATE USER MAPPING FOR postgres SERVER shard2 OPTIONS (user 'postgres');

CREATE TABLE events (room int, participant text, event text, at timestamptz) PARTITION BY HASH (room);
CREATE FOREIGN TABLE events_0 PARTITION OF events FOR VALUES WITH (MODULUS 2, REMAINDER 0)
  SERVER shard1 OPTIONS (table_name 'events_0');
CREATE FOREIGN TABLE events_1 PARTITION OF events FOR VALUES WITH (MODULUS 2, REMAINDER 1)
  SERVER shard2 OPTIONS (table_name 'events_1');

-- the same rows in one local table: the single-node answer
CREATE TABLE events_single (room int, participant text, event text, at timestamptz);
CREATE TABLE rooms (room int PRIMARY KEY, account text, mode text, width int, height int);

-- 1,500 rooms over November, with what real logs hold: sessions across
-- midnight, reconnects, heartbeats, stage use, ends, duplicates
INSERT INTO rooms
SELECT r, 'acct' || (r % 13), CASE WHEN r % 4 = 0 THEN '1v1' END, 640 + 640 * (r % 2), 480 + 240 * (r % 2)
FROM generate_series(1, 1500) AS r;
INSERT INTO events_single
SELECT r, 'p' || k, x.e,
       timestamptz '2026-11-01 00:00+08' + (r % 30) * interval '1 day'
         + ((r * 37 + k * 11) % 1440) * interval '1 minute'
         + x.off * interval '1 second' + (r * k % 1000) * interval '1 microsecond'
FROM generate_series(1, 1500) AS r, generate_series(1, 1 + r % 6) AS k,
     LATERAL (VALUES ('join', 0), ('stage_up', 30), ('heartbeat', 600), ('join', 900),
                     ('leave', 300 + (r * k) % 5000)) AS x(e, off);
INSERT INTO events_single
SELECT r, NULL, 'end', timestamptz '2026-11-01 12:00+08' + (r % 30) * interval '1 day' + r * interval '1 minute'
FROM generate_series(1, 1500, 5) AS r;
INSERT INTO events SELECT * FROM events_single;
SQL

rows=$(on coord -At -c "SELECT (SELECT count(*) FROM events_single) || ' rows: '
                               || (SELECT count(*) FROM events_0) || ' on shard1, '
                               || (SELECT count(*) FROM events_1) || ' on shard2'")
echo "$rows"

cb_say "room_usage grouped by room runs on the shards"
on coord -At >"$DIR/explain.txt" <<'SQL'
SET enable_partitionwise_aggregate = on;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT room, classbill.room_usage(participant, event, at) FROM events GROUP BY room;
SQL
cat "$DIR/explain.txt"
pushed=$(grep -c 'Remote SQL: SELECT room, classbill.room_usage(participant, event, at) FROM public.events_[01] GROUP BY 1' "$DIR/explain.txt" || true)
if [ "$pushed" != 2 ] || grep -q 'Aggregate' <(grep -v 'Relations: Aggregate on' "$DIR/explain.txt"); then
	echo "room_usage is not computed on both shards"
	exit 1
fi

cb_say "sharded equals single-node"
on coord -At >"$DIR/compare.txt" <<'SQL'
SET enable_partitionwise_aggregate = on;
CREATE TEMP TABLE sharded AS
  SELECT room, classbill.room_usage(participant, event, at) AS u FROM events GROUP BY room;
CREATE TEMP TABLE single AS
  SELECT room, classbill.room_usage(participant, event, at) AS u FROM events_single GROUP BY room;
-- per room: the values, to the byte of their text form
SELECT 'rooms ' || (SELECT count(*) FROM sharded) || ', rooms differing '
       || (SELECT count(*) FROM sharded AS a FULL JOIN single AS b USING (room)
           WHERE a.u::text IS DISTINCT FROM b.u::text);
-- per day
SELECT 'days ' || count(*) || ', days differing ' || count(*) FILTER (WHERE a IS DISTINCT FROM b)
FROM (SELECT d.day, sum(d.seconds) AS a FROM sharded, classbill.daily(u) AS d GROUP BY d.day) AS x
FULL JOIN (SELECT d.day, sum(d.seconds) AS b FROM single, classbill.daily(u) AS d GROUP BY d.day) AS y
  USING (day);
-- rolled up per account, across both shards' values
SELECT 'accounts ' || count(*) || ', accounts differing ' || count(*) FILTER (WHERE a IS DISTINCT FROM b)
FROM (SELECT r.account, classbill.rollup(s.u)::text AS a FROM sharded AS s JOIN rooms AS r USING (room)
      GROUP BY r.account) AS x
FULL JOIN (SELECT r.account, classbill.rollup(s.u)::text AS b FROM single AS s JOIN rooms AS r USING (room)
           GROUP BY r.account) AS y USING (account);
SELECT 'minutes ' || sum(classbill.minutes(u)) FROM sharded;
SQL
cat "$DIR/compare.txt"
grep -q '^rooms 1500, rooms differing 0$' "$DIR/compare.txt" &&
	grep -q '^days [1-9][0-9]*, days differing 0$' "$DIR/compare.txt" &&
	grep -q '^accounts 13, accounts differing 0$' "$DIR/compare.txt" ||
	{ echo "the sharded results differ from the single-node ones"; exit 1; }

cb_say "billable minutes through classbill's sources, sharded and single-node"
billable() {
	on coord -At <<SQL
SET enable_partitionwise_aggregate = on;
SELECT classbill.register_source('events', '$1');
SELECT classbill.register_source('rooms', 'rooms');
SELECT md5(string_agg(concat_ws(' ', account, tier, mode, day, seconds, minutes), ',' ORDER BY account, tier, mode, day))
       || ' ' || count(*) || ' quantities'
FROM classbill.billable_days('2026-11-01', '2026-12-01');
SQL
}
a=$(billable events | tail -1)
b=$(billable events_single | tail -1)
echo "sharded: $a"
echo "single:  $b"
[ "$a" = "$b" ] || { echo "billable minutes differ"; exit 1; }

cb_say "a shard in another billing time zone"
on coord -c "ALTER SERVER shard2 OPTIONS (SET options '-c classbill.billing_timezone=UTC')" >/dev/null
mixed=$(on coord -c "SET enable_partitionwise_aggregate = on" \
	-c "SELECT classbill.rollup(u) FROM (SELECT room, classbill.room_usage(participant, event, at) AS u
	                                     FROM events GROUP BY room) AS s" 2>&1 || true)
echo "$mixed" | grep ERROR
echo "$mixed" | grep -q 'cannot merge usage values built for different billing time zones' ||
	{ echo "rolling up across shards of two zones did not fail"; exit 1; }
# both shards in UTC: a roll-up across them works, but billing their
# values in Asia/Shanghai is refused (which also shows that classbill's
# own billing functions had room_usage run on the shards)
on coord -c "ALTER SERVER shard1 OPTIONS (SET options '-c classbill.billing_timezone=UTC')" >/dev/null
billed=$(billable events 2>&1 || true)
echo "$billed" | grep -A2 ERROR || echo "$billed" | tail -5
echo "$billed" | grep -q 'classbill.usage value is for billing time zone "UTC", but it is billed in "Asia/Shanghai"' ||
	{ echo "billing shard values of another zone did not fail"; exit 1; }
echo "zone mismatches are errors"

cb_say "closes over the shards give the ledger of one node"
# back in one zone
for s in 1 2; do
	on coord -c "ALTER SERVER shard$s OPTIONS (SET options '-c classbill.billing_timezone=Asia/Shanghai')" >/dev/null
done
# Closes read the sources as classbill_writer.  On each shard it logs in
# as a role that may read that shard's events and run classbill's
# functions (classbill_reader), and nothing else, with a password
# (postgres_fdw asks one of every role but a superuser).
for s in 1 2; do
	on shard$s -q -c "CREATE ROLE billing_reader LOGIN PASSWORD 'reader-secret' IN ROLE classbill_reader" \
		-c "GRANT SELECT ON events_$((s - 1)) TO billing_reader"
	hba="$DIR/shard$s/pg_hba.conf"
	{ echo "host all billing_reader 127.0.0.1/32 scram-sha-256"; cat "$hba"; } >"$hba.new"
	cb_as_server_user cp "$hba.new" "$hba"
	on shard$s -q -c "SELECT pg_reload_conf()" >/dev/null
	on coord -q -c "CREATE USER MAPPING FOR classbill_writer SERVER shard$s
	                OPTIONS (user 'billing_reader', password 'reader-secret')"
done
# the single node: the same rows in a database of their own
on coord -q -c "CREATE DATABASE single"
single() { cb_psql -h 127.0.0.1 -p "$(port_of coord)" -U postgres -d single "$@"; }
sharded() { on coord "$@"; }
single -q <<'SQL'
CREATE EXTENSION classbill;
CREATE TABLE events (room int, participant text, event text, at timestamptz);
CREATE TABLE rooms (room int PRIMARY KEY, account text, mode text, width int, height int);
SQL
on coord -c "COPY events_single TO STDOUT" | single -c "COPY events FROM STDIN"
on coord -c "COPY rooms TO STDOUT" | single -c "COPY rooms FROM STDIN"

setup_billing() { # db
	"$1" -q <<'SQL' >/dev/null
SET client_min_messages = warning;
SELECT classbill.register_source('rooms', 'rooms');
SELECT classbill.register_source('events', 'events');
INSERT INTO classbill.accounts SELECT 'acct' || k, 'postpaid', 'CNY' FROM generate_series(0, 12) AS k;
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES
  ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.045), ('usage', '1vn', '480p', 'CNY', '2026-01-01', 0.028),
  ('usage', '1v1', '720p', 'CNY', '2026-01-01', 0.08), ('usage', '1vn', '720p', 'CNY', '2026-01-01', 0.06);
SQL
}
close_days() { # db first last
	local d
	for d in $(seq "$2" "$3"); do
		"$1" -q -c "SET client_min_messages = warning" -c "CALL classbill.close_day('2026-11-0$d')"
	done
}
late_rows() { # db: a session added to room 2 on 11-02, a leave of room 3 (11-04) moved, a leave of room 4 (11-05) removed
	"$1" -q <<'SQL'
INSERT INTO events VALUES (2, 'late', 'join', '2026-11-02 20:00+08'), (2, 'late', 'leave', '2026-11-02 20:45+08');
UPDATE events SET at = at + interval '7 minutes'
WHERE room = 3 AND event = 'leave' AND at >= '2026-11-04 00:00+08' AND at < '2026-11-05 00:00+08';
DELETE FROM events WHERE room = 4 AND participant = 'p1' AND event = 'leave'
  AND at >= '2026-11-05 00:00+08' AND at < '2026-11-06 00:00+08';
SQL
}
ledger() { # db
	"$1" -At -c "SELECT md5(string_agg(concat_ws(' ', account, day, corrects, product, tier, mode, quantity, amount), ','
	                                     ORDER BY account, day, corrects, product, tier, mode, quantity))
	                    || ' ' || count(*) || ' lines, ' || count(*) FILTER (WHERE corrects IS NOT NULL) || ' adjustments'
	             FROM classbill.ledger"
}
setup_billing sharded
setup_billing single
on coord -q -c "SET enable_partitionwise_aggregate = on" >/dev/null
close_days sharded 1 5
close_days single 1 5
late_rows sharded
late_rows single
close_days sharded 6 7
close_days single 6 7
a=$(ledger sharded)
b=$(ledger single)
echo "sharded: $a"
echo "single:  $b"
[ "$a" = "$b" ] || { echo "the ledgers of the sharded and the single-node closes differ"; exit 1; }
case $a in *" 0 adjustments") echo "the late rows made no adjustment"; exit 1 ;; esac
on coord -At -c "SELECT 'chain problems: ' || count(*) FROM classbill.verify_ledger()"

cb_say "a shard in another billing time zone stops the close, which writes nothing"
on coord -c "ALTER SERVER shard2 OPTIONS (SET options '-c classbill.billing_timezone=UTC')" >/dev/null
refused=$(on coord -c "CALL classbill.close_day('2026-11-08')" 2>&1 || true)
echo "$refused" | grep ERROR || echo "$refused" | tail -5
echo "$refused" | grep -q 'billing time zone "UTC", but it is billed in "Asia/Shanghai"\|built for billing time zone "UTC", but this close bills in "Asia/Shanghai"' ||
	{ echo "a close over a shard of another zone did not fail on the zone"; exit 1; }
[ "$(on coord -At -c "SELECT count(*) FROM classbill.closes WHERE day = '2026-11-08'")" = 0 ] ||
	{ echo "the refused close wrote something"; exit 1; }
on coord -c "ALTER SERVER shard2 OPTIONS (SET options '-c classbill.billing_timezone=Asia/Shanghai')" >/dev/null
on coord -q -c "SET client_min_messages = warning" -c "CALL classbill.close_day('2026-11-08')"
echo "closes over postgres_fdw equal one node; a shard in another zone is an error"
