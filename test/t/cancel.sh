#!/usr/bin/env bash
# Query cancel and statement_timeout are honoured inside classbill's long
# C loops (sorting and sweeping a room), not only between rows.  One room
# of 20,000,000 events in reverse time order: the aggregate reads them
# (PostgreSQL checks for interrupts there), then sorts and sweeps them in
# its final function (only classbill's own checks can stop that).  The
# query is timed, then run with statement_timeout set to end it at 60%,
# 70% and 80% of its time, while the final function sorts, copies the
# events out (page faults: half a second of it) and sweeps them; each must
# stop within 0.3 s of the timeout.  Measured without the checks in the
# sort: 1.4 s late at 60%; without the one in the copy: 0.7 s at 75%.
source "$(dirname "$0")/../lib.sh"

DB=cb_cancel
cb_psql -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export PGDATABASE=$DB
N=${CB_CANCEL_EVENTS:-20000000}
cb_psql -v n="$N" >/dev/null <<'SQL'
CREATE EXTENSION classbill;
CREATE UNLOGGED TABLE big AS
SELECT 'p' || (k % 1000) AS participant,
       CASE WHEN (k / 1000) % 2 = 0 THEN 'join' ELSE 'leave' END AS event,
       timestamptz '2026-11-01' + (:n - k) * interval '1 second' AS at
FROM generate_series(0, :n - 1) AS k;
VACUUM ANALYZE big;
SQL
Q="SELECT classbill.minutes(classbill.room_usage(participant, event, at)) FROM big"
now() { date +%s.%N; }

# The query's own time, the faster of two runs, and each cancelled run's,
# as psql's \timing measures them: the statement alone, not psql's start
# and connection (which a loaded machine makes slow and uneven).
timed() { # extra setting: the statement's milliseconds, and its output
	cb_psql -At -c "SET max_parallel_workers_per_gather = 0" -c "$1" -c '\timing on' -c "$Q" 2>&1 || true
}
ms_of() { sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1; }
full=
for r in 1 2; do
	t=$(timed "SELECT 1" | ms_of)
	full=$(awk -v f="${full:-999999999}" -v t="$t" 'BEGIN { print (t < f) ? t : f }')
done
echo "$N events in one room: the query takes $full ms"

worst=0
for frac in ${CB_CANCEL_FRACS:-0.6 0.7 0.8}; do
	ms=$(awk -v f="$full" -v x="$frac" 'BEGIN { printf "%d", f * x }')
	out=$(timed "SET statement_timeout = $ms")
	t=$(echo "$out" | ms_of)
	late=$(awk -v t="$t" -v ms="$ms" 'BEGIN { printf "%.3f", (t - ms) / 1000 }')
	echo "statement_timeout ${ms} ms: ended after $t ms, $late s after the timeout: $(echo "$out" | grep ERROR)"
	echo "$out" | grep -q 'canceling statement due to statement timeout' ||
		{ echo "the query was not cancelled"; exit 1; }
	worst=$(awk -v w="$worst" -v l="$late" 'BEGIN { print (l > w) ? l : w }')
done
if awk -v w="$worst" 'BEGIN { exit !(w > 0.3) }'; then
	echo "a cancel waited $worst s for the C loops"
	exit 1
fi
echo "cancelled within $worst s of the timeout, every time"
cb_psql -d postgres -c "DROP DATABASE $DB"
