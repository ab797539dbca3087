#!/usr/bin/env bash
# test/bench_rating.sh: benchmark of rating with pack drawdown (run by
# hand, not part of test/check.sh; its summary goes into the README).
#
#   bash test/bench_rating.sh                       # 10,000 accounts
#   CB_RATE_ACCOUNTS=500 bash test/bench_rating.sh  # quick run
#
# A month of stored daily quantities for many accounts (3 tiers x 2
# modes, a few packs each), rated with drawdown two ways, alternately in
# one session, medians of several runs:
#   (c) classbill.usage_lines: the C drawdown (src/drawdown.c)
#   (s) the same drawdown in plain SQL (test/drawdown_reference.sql:
#       window functions, a running minimum, a range join)
# Both must give the same lines; prints time, rows per second and the
# ratio (s)/(c).
source "$(dirname "$0")/lib.sh"

ACCOUNTS=${CB_RATE_ACCOUNTS:-10000}
RUNS=${CB_RATE_RUNS:-3}
SEED=${CB_RATE_SEED:-0.29}

cb_install_packages
cb_build
cb_start_cluster "shared_buffers = '1GB'" "work_mem = '512MB'" \
	"max_parallel_workers_per_gather = 0" "jit = off"
cb_psql -c "CREATE EXTENSION classbill"
cb_psql -f "$CB_ROOT/test/drawdown_reference.sql"

cb_say "generating a month for $ACCOUNTS accounts (seed $SEED)"
gen_start=$(date +%s.%N)
cb_psql -v accounts="$ACCOUNTS" -v seed="$SEED" <<'SQL'
SET classbill.billing_timezone = 'Asia/Shanghai';
SELECT setseed(:seed) \gset
INSERT INTO classbill.accounts
SELECT 'acct' || k, CASE WHEN k % 2 = 0 THEN 'prepaid' ELSE 'postpaid' END::classbill.plan, 'CNY'
FROM generate_series(1, :accounts) AS k;
-- example rates, one change mid-month that swaps the dearer 480p mode
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price) VALUES
  ('usage', '1v1', '240p', 'CNY', '2026-01-01', 0.021), ('usage', '1vn', '240p', 'CNY', '2026-01-01', 0.014),
  ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.045), ('usage', '1vn', '480p', 'CNY', '2026-01-01', 0.028),
  ('usage', '1vn', '480p', 'CNY', '2026-11-16', 0.05),
  ('usage', '1v1', '720p', 'CNY', '2026-01-01', 0.08), ('usage', '1vn', '720p', 'CNY', '2026-01-01', 0.06);
INSERT INTO classbill.pack_items VALUES
  ('240p-120k', '240p', 120000), ('240p-240k', '240p', 240000),
  ('480p-120k', '480p', 120000), ('480p-240k', '480p', 240000),
  ('720p-120k', '720p', 120000), ('720p-240k', '720p', 240000);
-- a few packs each: 0 to 3 per tier, bought from October to mid-November
INSERT INTO classbill.packs (account, tier, item, purchased_at)
SELECT a.account, t.tier, t.tier || CASE WHEN random() < 0.5 THEN '-120k' ELSE '-240k' END,
       '2026-10-01'::timestamptz + random() * interval '45 days'
FROM classbill.accounts AS a,
     (VALUES ('240p'::classbill.tier), ('480p'), ('720p')) AS t(tier),
     LATERAL generate_series(1, floor(random() * 4)::int + (a.account = a.account)::int - 1);
-- every account, tier, mode and day of November: up to 8,000 minutes a
-- day, so packs run out during the month
INSERT INTO classbill.usage_days (account, tier, mode, day, seconds)
SELECT a.account, t.tier, m.mode, d::date, round((random() * 8000 * 60)::numeric, 3)
FROM classbill.accounts AS a,
     (VALUES ('240p'::classbill.tier), ('480p'), ('720p')) AS t(tier),
     (VALUES ('1v1'::classbill.mode), ('1vn')) AS m(mode),
     generate_series('2026-11-01'::date, '2026-11-30', '1 day') AS d;
VACUUM ANALYZE;
SQL
gen_secs=$(awk -v a="$gen_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
read -r USAGE_ROWS PACKS < <(cb_psql -At -F ' ' -c \
	"SELECT (SELECT count(*) FROM classbill.usage_days), (SELECT count(*) FROM classbill.packs)")
echo "usage_days: $USAGE_ROWS rows, packs: $PACKS, generated in ${gen_secs}s"

QC="SELECT count(*), sum(quantity), sum(amount), count(*) FILTER (WHERE pack_id IS NULL)
    FROM classbill.usage_lines('2026-11-01', '2026-12-01')"
QS="SELECT count(*), sum(minutes), sum(amount), count(*) FILTER (WHERE pack_id IS NULL)
    FROM classbill_ref.drawdown_lines('2026-12-01') WHERE day >= '2026-11-01'"

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
LINES=${RC%%|*}
if [ "$RC" != "$RS" ]; then
	echo "MISMATCH: C gives $RC, SQL gives $RS"
	exit 1
fi

cb_say "summary"
cat <<EOF
classbill rating benchmark (test/bench_rating.sh)
classbill   : commit $(git -C "$CB_ROOT" rev-parse --short HEAD)
machine     : $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
postgresql  : $("$PG_BIN/postgres" --version | awk '{ print $3 }'), one process per query, work_mem 512MB, jit off
data        : $ACCOUNTS accounts, 3 tiers x 2 modes x 30 days = $USAGE_ROWS daily quantities, $PACKS packs
result      : $LINES rated lines (count|minutes|amount|overage lines = $RC), C and SQL identical
(c) C       : $TC ms  = $(awk -v n="$USAGE_ROWS" -v t="$TC" 'BEGIN { printf "%.0f", n / t * 1000 }') quantities/s, $(awk -v n="$LINES" -v t="$TC" 'BEGIN { printf "%.0f", n / t * 1000 }') lines/s
(s) SQL     : $TS ms  = $(awk -v n="$USAGE_ROWS" -v t="$TS" 'BEGIN { printf "%.0f", n / t * 1000 }') quantities/s
ratio       : (s)/(c) = $(awk -v a="$TS" -v b="$TC" 'BEGIN { printf "%.2f", a / b }')   (C is kept where SQL is slower than 1.5x)
EOF
