#!/usr/bin/env bash
# test/bench_storage.sh: benchmark of recording storage pricing (run by
# hand, not part of test/check.sh; its summary goes into the README).
#
#   bash test/bench_storage.sh                        # 1,000,000 recordings
#   CB_STORE_RECORDINGS=20000 bash test/bench_storage.sh
#
# A month (November 2026, Asia/Shanghai) of recordings for 1,000 accounts,
# priced per account and day two ways, alternately in one session,
# medians of several runs:
#   (c) classbill.storage_days: marks counted by arithmetic in C
#   (s) plain SQL sampling every 5-minute mark with generate_series: the
#       bytes stored at each mark are a running sum of +bytes at ready and
#       -bytes at the end, read at the marks
# Both must give the same byte-marks and amounts; prints time, rows per
# second and the ratio (s)/(c).
source "$(dirname "$0")/lib.sh"

RECORDINGS=${CB_STORE_RECORDINGS:-1000000}
ACCOUNTS=${CB_STORE_ACCOUNTS:-1000}
RUNS=${CB_STORE_RUNS:-3}
SEED=${CB_STORE_SEED:-0.61}

cb_install_packages
cb_build
cb_start_cluster "shared_buffers = '1GB'" "work_mem = '1GB'" \
	"max_parallel_workers_per_gather = 0" "jit = off"
cb_psql -c "CREATE EXTENSION classbill"

cb_say "generating $RECORDINGS recordings for $ACCOUNTS accounts (seed $SEED)"
gen_start=$(date +%s.%N)
cb_psql -v n="$RECORDINGS" -v accounts="$ACCOUNTS" -v seed="$SEED" <<'SQL'
SELECT setseed(:seed) \gset
-- ready from mid-October to the end of November; 50 MB to 2 GB; kept
-- for good, 7 days or 30 days; a fifth deleted early
CREATE TABLE rec AS
SELECT 'acct' || (k % :accounts) AS account,
       (50 * 1048576 + floor(random() * 1950 * 1048576))::bigint AS bytes,
       ready,
       (ARRAY[NULL, interval '7 days', interval '30 days'])[1 + floor(random() * 3)::int] AS retention,
       CASE WHEN random() < 0.2 THEN ready + random() * interval '10 days' END AS deleted
FROM generate_series(1, :n) AS k,
     LATERAL (SELECT '2026-10-15'::timestamptz + random() * interval '46 days' + (k * 0) * interval '1 s'
              AS ready) AS r;
VACUUM ANALYZE rec;
SQL
gen_secs=$(awk -v a="$gen_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "rec: $(cb_psql -At -c 'SELECT count(*) FROM rec') recordings in ${gen_secs}s"

# An example price of 0.118 per GB-month; a GB stored all day is 1/30.
QC="SELECT count(*), sum(byte_marks), sum(amount) FROM (
  SELECT s.account, d.day, d.byte_marks,
         round(d.byte_marks::numeric(1000, 30) / (d.marks * 1073741824::numeric * 30), 24) * 0.118 AS amount
  FROM (SELECT account, classbill.storage_days('2026-11-01', '2026-12-01', bytes, ready, retention, deleted) AS days
        FROM rec GROUP BY account) AS s,
       unnest(s.days) AS d) AS x"
QS="SELECT count(*), sum(byte_marks), sum(amount) FROM (
  SELECT account, day, byte_marks,
         round(byte_marks::numeric(1000, 30) / (marks * 1073741824::numeric * 30), 24) * 0.118 AS amount
  FROM (
    SELECT account, day, count(*) AS marks, sum(stored) AS byte_marks
    FROM (
      SELECT account, day, is_mark,
             sum(delta) OVER (PARTITION BY account ORDER BY t, is_mark ROWS UNBOUNDED PRECEDING) AS stored
      FROM (
        -- the marks: every 5 minutes of every billing day, for every account
        SELECT a.account, m.day, m.t, 0::bigint AS delta, true AS is_mark
        FROM (SELECT DISTINCT account FROM rec) AS a,
             (SELECT d::date AS day, t
              FROM generate_series('2026-11-01'::date, '2026-11-30', '1 day') AS d,
                   generate_series(classbill.day_start(d::date),
                                   classbill.day_start(d::date + 1) - interval '1 microsecond',
                                   interval '5 minutes') AS t) AS m
        UNION ALL
        -- each file: +bytes when ready, -bytes when its storage ends
        SELECT account, NULL, ready, bytes, false FROM rec
        UNION ALL
        SELECT account, NULL, least(ready + extract(epoch FROM retention) * interval '1 second',
                                    coalesce(deleted, 'infinity')), -bytes, false
        FROM rec
        WHERE least(ready + extract(epoch FROM retention) * interval '1 second', coalesce(deleted, 'infinity'))
              < 'infinity') AS e) AS s
    WHERE is_mark
    GROUP BY account, day) AS g
  WHERE byte_marks > 0) AS x"

cb_say "timing, $RUNS rounds"
{
	echo "SET classbill.billing_timezone = 'Asia/Shanghai';"
	echo "\\timing on"
	for r in $(seq 1 "$RUNS"); do
		echo "\\echo c"
		echo "$QC;"
		echo "\\echo s"
		echo "$QS;"
	done
} >"$CB_TMP/timed.sql"
cb_psql -At -f "$CB_TMP/timed.sql" >"$CB_TMP/timed.out"
cat "$CB_TMP/timed.out"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
times_of() { awk -v q="$1" '/^[cs]$/ { cur = $1 } /^Time:/ && cur == q { print $2 }' "$CB_TMP/timed.out"; }
result_of() { awk -v q="$1" '/^[cs]$/ { cur = $1; next } /^Time:/ { next } cur == q { print; exit }' "$CB_TMP/timed.out"; }

TC=$(times_of c | median)
TS=$(times_of s | median)
RC=$(result_of c)
RS=$(result_of s)
if [ "$RC" != "$RS" ]; then
	echo "MISMATCH: C gives $RC, SQL gives $RS"
	exit 1
fi

cb_say "summary"
cat <<EOF
classbill storage benchmark (test/bench_storage.sh)
classbill   : commit $(git -C "$CB_ROOT" rev-parse --short HEAD)
machine     : $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
postgresql  : $("$PG_BIN/postgres" --version | awk '{ print $3 }'), one process per query, work_mem 1GB, jit off
data        : $RECORDINGS recordings, $ACCOUNTS accounts, November 2026 (Asia/Shanghai)
result      : account-days|byte-marks|amount = $RC, C and SQL identical
(c) C       : $TC ms = $(awk -v n="$RECORDINGS" -v t="$TC" 'BEGIN { printf "%.0f", n / t * 1000 }') recordings/s
(s) SQL     : $TS ms = $(awk -v n="$RECORDINGS" -v t="$TS" 'BEGIN { printf "%.0f", n / t * 1000 }') recordings/s
ratio       : (s)/(c) = $(awk -v a="$TS" -v b="$TC" 'BEGIN { printf "%.1f", a / b }')
EOF
