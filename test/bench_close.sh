#!/usr/bin/env bash
# test/bench_close.sh: benchmark of the daily close (run by hand, not part
# of test/check.sh; its summary goes into the README).
#
#   bash test/bench_close.sh                          # 10,000 accounts, 200,000 rooms a day
#   CB_CLOSE_ROOMS=20000 bash test/bench_close.sh     # quick run
#
# Two billing days of a busy service: every day 200,000 rooms (two in
# three 1-to-1, the rest classes of 3 to 7) of 10,000 accounts, half of
# them prepaid with packs, every room recorded, one in ten exported.
# Times, in one run:
#   (1) the first close (11-01), which starts the ledger;
#   (2) the next day's close (11-02): the daily job, with the day before
#       in the ledger to check for late rows (target: under 10 s);
#   (3) the close of 11-03 after late rows for 11-01 and 11-02 arrived:
#       adjustments and an empty day;
#   (4) closing 11-02 again: nothing to do;
#   (5) what the ledger's hash chain (SPEC 10.5) costs: the 11-02 lines
#       inserted again with and without the chain's trigger, three times
#       each, alternating, rolled back (medians).
# The ratio (3)/(2) is the cost of a close with 2,000 late changes against
# a regular one (target: at most 1.5).
source "$(dirname "$0")/lib.sh"

ACCOUNTS=${CB_CLOSE_ACCOUNTS:-10000}
ROOMS=${CB_CLOSE_ROOMS:-200000}
SEED=${CB_CLOSE_SEED:-0.17}

cb_install_packages
cb_build
cb_start_cluster "shared_buffers = '2GB'" "work_mem = '256MB'" "maintenance_work_mem = '1GB'" \
	"max_wal_size = '8GB'" "jit = off" "synchronous_commit = off"
cb_psql -c "CREATE EXTENSION classbill"

cb_say "generating two days of $ROOMS rooms for $ACCOUNTS accounts (seed $SEED)"
gen_start=$(date +%s.%N)
cb_psql -v accounts="$ACCOUNTS" -v rooms="$ROOMS" -v seed="$SEED" <<'SQL'
SELECT setseed(:seed) \gset
CREATE TABLE rooms (room bigint PRIMARY KEY, account text, mode text, width int, height int);
CREATE TABLE events (room bigint, participant text, event text, at timestamptz);
CREATE TABLE recordings (room bigint, bytes bigint, ready_at timestamptz, retention interval, deleted_at timestamptz);
CREATE TABLE exports (room bigint, processed interval, finished_at timestamptz);

INSERT INTO classbill.accounts
SELECT 'acct' || k, CASE WHEN k % 2 = 0 THEN 'prepaid' ELSE 'postpaid' END::classbill.plan, 'CNY'
FROM generate_series(1, :accounts) AS k;
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES
  ('usage', '1v1', '240p', 'CNY', '2026-01-01', 0.021), ('usage', '1vn', '240p', 'CNY', '2026-01-01', 0.014),
  ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.045), ('usage', '1vn', '480p', 'CNY', '2026-01-01', 0.028),
  ('usage', '1v1', '720p', 'CNY', '2026-01-01', 0.08), ('usage', '1vn', '720p', 'CNY', '2026-01-01', 0.06);
INSERT INTO classbill.rates (product, currency, valid_from, price) VALUES
  ('storage', 'CNY', '2026-01-01', 0.118), ('export', 'CNY', '2026-01-01', 0.05);
INSERT INTO classbill.pack_items VALUES
  ('240p-120k', '240p', 120000), ('480p-120k', '480p', 120000), ('720p-120k', '720p', 120000);
INSERT INTO classbill.pack_prices
SELECT item, 'CNY', '2026-01-01', 1000 FROM classbill.pack_items;
-- prepaid accounts: one or two packs of a tier, small enough that some
-- run out (balances partly drawn down by days before the ledger starts
-- are not modelled: every pack starts full)
INSERT INTO classbill.packs (account, tier, item, purchased_at)
SELECT a.account, t.tier, t.tier || '-120k', '2026-10-01'::timestamptz + random() * interval '31 days'
FROM classbill.accounts AS a, (VALUES ('240p'::classbill.tier), ('480p'), ('720p')) AS t(tier)
WHERE a.plan = 'prepaid' AND random() < 0.6;

-- rooms of both days: two in three 1-to-1, resolutions mixed
INSERT INTO rooms
SELECT r, 'acct' || (1 + (r::bigint * 7919) % :accounts), CASE WHEN r % 3 = 0 THEN '1vn' ELSE '1v1' END,
       (ARRAY[320, 640, 1280])[1 + (r / 3) % 3], (ARRAY[240, 480, 720])[1 + (r / 3) % 3]
FROM generate_series(1, 2 * :rooms) AS r;
-- a lesson per room, 08:00 to 22:00 local, 25 to 90 minutes; a teacher
-- and one student (1v1) or 2 to 6 students; join, a heartbeat, leave
INSERT INTO events
SELECT l.room, p.who, x.event, x.at
FROM (SELECT r AS room,
             (date '2026-11-01' + (r > :rooms)::int + time '08:00') AT TIME ZONE 'Asia/Shanghai'
               + random() * interval '14 hours' AS starts,
             interval '25 minutes' + random() * interval '65 minutes' AS lasts,
             CASE WHEN r % 3 = 0 THEN 3 + floor(random() * 5)::int ELSE 2 END AS people
      FROM generate_series(1, 2 * :rooms) AS r) AS l,
     LATERAL (SELECT 'p' || k AS who, random() * interval '3 minutes' AS late, random() * interval '3 minutes' AS early
              FROM generate_series(1, l.people) AS k) AS p,
     LATERAL (VALUES ('join', l.starts + p.late),
                     ('heartbeat', l.starts + l.lasts / 2),
                     ('leave', l.starts + l.lasts - p.early)) AS x(event, at);
CREATE TEMP TABLE spans AS SELECT room, min(at) AS first, max(at) AS last FROM events GROUP BY room;
INSERT INTO recordings
SELECT room, (200 + random() * 800)::bigint * 1048576, last + interval '10 minutes', interval '7 days', NULL
FROM spans;
INSERT INTO exports
SELECT room, last - first, last + interval '40 minutes' FROM spans WHERE room % 10 = 0;
CREATE INDEX ON events (at);
CREATE INDEX ON events (room);
CREATE INDEX ON recordings (ready_at);
CREATE INDEX ON exports (finished_at);
SELECT classbill.register_source('rooms', 'rooms');
SELECT classbill.register_source('events', 'events');
SELECT classbill.register_source('recordings', 'recordings');
SELECT classbill.register_source('exports', 'exports');
VACUUM ANALYZE;
SQL
gen_secs=$(awk -v a="$gen_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
read -r EVENTS PACKS < <(cb_psql -At -F ' ' -c \
	"SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM classbill.packs)")
echo "events: $EVENTS rows over two days, packs: $PACKS, generated in ${gen_secs}s"

# close <label> <day>: time one CALL, in its own session
secs_of() {
	local start end
	start=$(date +%s.%N)
	cb_psql -c "CALL classbill.close_day('$1')" 2>&1 | sed 's/^/    /' >&2
	end=$(date +%s.%N)
	awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}
cb_say "closing"
T1=$(secs_of 2026-11-01); echo "(1) 11-01: $T1 s"
T2=$(secs_of 2026-11-02); echo "(2) 11-02: $T2 s"
# late rows: 1,000 more lessons of 11-01, 1,000 leaves of 11-02 moved
cb_psql -v rooms="$ROOMS" <<'SQL'
INSERT INTO events
SELECT r, 'late', x.event, x.at
FROM generate_series(1, 1000) AS r,
     LATERAL (VALUES ('join', timestamptz '2026-11-01 21:00+08'), ('leave', timestamptz '2026-11-01 21:40+08')) AS x(event, at);
UPDATE events SET at = at + interval '5 minutes'
WHERE room BETWEEN :rooms + 1 AND :rooms + 1000 AND event = 'leave';
SQL
T3=$(secs_of 2026-11-03); echo "(3) 11-03 with late rows: $T3 s"
T4=$(secs_of 2026-11-02); echo "(4) 11-02 again: $T4 s"

# (5) the chain: the day's lines inserted again, with and without it
chain_ms() {
	cb_psql -At <<SQL | awk '/^Time:/ { print $2 }'
BEGIN;
$1
\\timing on
INSERT INTO classbill.ledger (close_id, account, day, corrects, product, tier, mode, pack_id, item, quantity, unit,
                              unit_price, amount, currency)
SELECT close_id, account, day, corrects, product, tier, mode, pack_id, item, quantity, unit, unit_price, amount, currency
FROM classbill.ledger WHERE day = '2026-11-02' AND corrects IS NULL;
\\timing off
ROLLBACK;
SQL
}
WITH_CHAIN=() NO_CHAIN=()
for i in 1 2 3; do
	WITH_CHAIN+=("$(chain_ms 'SELECT 1;')")
	NO_CHAIN+=("$(chain_ms 'ALTER TABLE classbill.ledger DISABLE TRIGGER chain;')")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
T5A=$(median "${WITH_CHAIN[@]}")
T5B=$(median "${NO_CHAIN[@]}")

read -r LINES1 LINES2 ADJ ROOMS1 < <(cb_psql -At -F ' ' -c "
	SELECT count(*) FILTER (WHERE day = '2026-11-01'), count(*) FILTER (WHERE day = '2026-11-02'),
	       count(*) FILTER (WHERE corrects IS NOT NULL),
	       (SELECT count(*) FROM classbill.ledger_rooms WHERE day = '2026-11-02')
	FROM classbill.ledger")

cb_say "summary"
cat <<EOF
classbill close benchmark (test/bench_close.sh)
classbill   : commit $(git -C "$CB_ROOT" rev-parse --short HEAD)
machine     : $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
postgresql  : $("$PG_BIN/postgres" --version | awk '{ print $3 }'), shared_buffers 2GB, work_mem 256MB, jit off
data        : $ACCOUNTS accounts, $ROOMS rooms a day, $EVENTS events over two days, $PACKS packs,
              a recording per room, an export per ten rooms
(1) 11-01   : $T1 s   first close, $LINES1 lines
(2) 11-02   : $T2 s   the daily close, $LINES2 lines, $ROOMS1 rooms explained   (target < 10 s)
(3) 11-03   : $T3 s   after late rows for 11-01 and 11-02: $ADJ adjustment lines
(4) 11-02   : $T4 s   again: nothing to do
late/regular: $(awk -v a="$T3" -v b="$T2" 'BEGIN { printf "%.2f", a / b }')   (3)/(2), 2,000 late changes against the daily close (target <= 1.5)
(5) chain   : $LINES2 lines of 11-02 inserted again: ${T5A} ms with the hash chain, ${T5B} ms without (medians of 3):
              $(awk -v a="$T5A" -v b="$T5B" -v n="$LINES2" 'BEGIN { printf "%.0f ms, %.1f us a line", a - b, (a - b) * 1000 / n }') for the chain
EOF
