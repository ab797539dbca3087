#!/usr/bin/env bash
# test/profile_usage.sh: where room_usage's instructions go, by callgrind,
# on the benchmark's rows stored in three orders (run by hand; the figures
# go into docs/performance.md, "The usage engine").
#
#   bash test/profile_usage.sh                       # as root: 20,000 rooms
#   CB_PROFILE_ROOMS=5000 bash test/profile_usage.sh # quicker
#   CB_CHROOT_DIR=/var/tmp/classbill-chroot-engine bash test/chroot.sh bookworm bash test/profile_usage.sh
#
# Makes the rows of test/bench_events.sql in a throwaway cluster (lib.sh)
# as ev (time order), ev_room (room by room, each participant's rows
# together) and ev_shuf (shuffled), plus one room of CB_PROFILE_BIG events
# shuffled (ev_big_shuf), stops the server, and runs each query in a
# single-user backend (postgres --single) under valgrind --tool=callgrind:
#   (a) SELECT count(*), sum(c) FROM (SELECT room, count(*) c FROM T GROUP BY room) s
#   (b) the same with classbill.room_usage(participant, event, at)
# Instruction counts do not depend on the machine's other load, so they
# compare across runs, which timings on a shared machine do not.  Each
# backend reads its table from the operating system's cache into shared
# buffers: the same instructions for (a) and (b) over one table, so
# (b) - (a) is room_usage's own cost.  Prints, per query, the total and
# the inclusive cost of the functions that matter; CB_PROFILE_KEEP=DIR
# keeps the callgrind files there (callgrind_annotate reads them).
source "$(dirname "$0")/lib.sh"

ROOMS=${CB_PROFILE_ROOMS:-20000}
BIG=${CB_PROFILE_BIG:-1000000}
SEED=0.31

cb_install_packages valgrind
cb_build
cb_start_cluster "shared_buffers = '1GB'" "work_mem = '1GB'" "max_parallel_workers_per_gather = 0" \
	"jit = off" "classbill.billing_timezone = 'Asia/Shanghai'"
cb_psql -c "CREATE DATABASE cb_prof"
export PGDATABASE=cb_prof
cb_psql -c "CREATE EXTENSION classbill"
cb_say "generating $ROOMS rooms in three orders, and one shuffled room of $BIG events"
cb_psql -v tbl=ev -v rooms="$ROOMS" -v seed="$SEED" -f "$CB_ROOT/test/bench_events.sql"
cb_psql -v seed="$SEED" -v big="$BIG" -f "$CB_ROOT/test/bench_orders.sql" -c CHECKPOINT
EVENTS=$(cb_psql -At -c "SELECT count(*) FROM ev")
echo "ev: $EVENTS events, $ROOMS rooms"
cb_as_server_user "$PG_BIN/pg_ctl" -D "$CB_PGDATA" -w -s stop

OUT=${CB_PROFILE_KEEP:-$CB_TMP/callgrind}
mkdir -p "$OUT"
chmod 777 "$OUT"
qa() { echo "SELECT count(*), sum(c) FROM (SELECT room, count(*) AS c FROM $1 GROUP BY room) s"; }
qb() { echo "SELECT count(*), sum(classbill.minutes(u)) FROM (SELECT room, classbill.room_usage(participant, event, at) AS u FROM $1 GROUP BY room) s"; }

# profile NAME QUERY: one single-user backend under callgrind
profile() {
	echo "$2" | cb_as_server_user valgrind --tool=callgrind --callgrind-out-file="$OUT/$1.out" \
		"$PG_BIN/postgres" --single -D "$CB_PGDATA" cb_prof >"$OUT/$1.log" 2>&1
	grep -q 'sum = ' "$OUT/$1.log" || { cat "$OUT/$1.log"; echo "profile: $1 failed" >&2; exit 1; }
}
# name and inclusive instructions of every function (awk reads it all:
# no SIGPIPE under pipefail)
inclusive() {
	callgrind_annotate --auto=no --inclusive=yes --threshold=100 "$OUT/$1.out" 2>/dev/null |
		awk '$1 ~ /^[0-9,]+$/ && $2 ~ /^\(/ { v = $1; gsub(",", "", v); f = $0; sub(/^.*\) +/, "", f); sub(/ \[.*/, "", f);
		      if ($0 ~ /PROGRAM TOTALS/) f = "TOTAL"; else sub(/^.*:/, "", f);
		      if (!(f in seen)) { seen[f] = 1; print f, v } }'
}

printf '\n%-12s %9s %11s %11s %11s | %9s %12s %10s | %9s %10s %8s %10s\n' \
	table rows "(a)/row" "(b)/row" "(b)-(a)" "trans" "participant" "add_event" final "sort+copy" sweep "make" >"$OUT/summary.txt"
for t in ev ev_room ev_shuf ev_big_shuf; do
	cb_say "callgrind: $t"
	profile "a-$t" "$(qa "$t")"
	profile "b-$t" "$(qb "$t")"
	n=$(grep -m1 -o 'sum = "[0-9]*"' "$OUT/a-$t.log" | tr -dc 0-9)
	inclusive "a-$t" >"$OUT/a-$t.incl"
	inclusive "b-$t" >"$OUT/b-$t.incl"
	awk -v n="$n" -v t="$t" '
		FNR == NR { if ($1 == "TOTAL") a = $2; next }
		{ c[$1] = $2 }
		END {
			b = c["TOTAL"]
			printf "%-12s %9d %11.0f %11.0f %11.0f | %9.0f %12.0f %10.0f | %9.0f %10.0f %8.0f %10.0f\n", t, n, a / n, b / n, (b - a) / n,
			       c["classbill_room_usage_trans"] / n, c["cb_room_participant"] / n, c["cb_room_add_event_slow"] / n,
			       c["classbill_room_usage_final"] / n, c["cb_room_events"] / n, c["cb_sweep"] / n, c["cb_usage_make"] / n
		}' "$OUT/a-$t.incl" "$OUT/b-$t.incl" | tee -a "$OUT/summary.txt"
	echo "  (b), the top functions by their own instructions, per row:"
	callgrind_annotate --auto=no --threshold=90 "$OUT/b-$t.out" 2>/dev/null |
		awk -v n="$n" '$1 ~ /^[0-9,]+$/ && $2 ~ /^\(/ && !/PROGRAM TOTALS/ { v = $1; gsub(",", "", v); f = $0; sub(/^.*\) +/, "", f); sub(/ \[.*/, "", f);
		                if (++k <= 14) printf "    %8.1f  %s\n", v / n, f }'
done
cb_say "instructions per row (callgrind; (a) count(*) floor, (b) room_usage; inclusive costs of (b)'s parts)"
cat "$OUT/summary.txt"
