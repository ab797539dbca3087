#!/usr/bin/env bash
# test/bench_ab.sh: two builds of classbill timed against each other in one
# run, on the benchmark's rows in three orders (run by hand).
#
#   CB_AB_OTHER=/srv/other/classbill.so bash test/bench_ab.sh
#
# CB_AB_OTHER is a classbill.so built elsewhere (another commit, the same
# SQL interface).  The script builds and installs this checkout's, starts
# a throwaway cluster (lib.sh), makes the rows of test/bench_events.sql in
# time order, room by room and shuffled (as test/bench.sh does), and then,
# round after round, installs one build's library and then the other's:
# every psql is a new backend that loads the file afresh, so the rounds
# alternate builds A (CB_AB_OTHER) and B (this checkout) in one run, and
# the machine's other load falls on both alike.  Each round times (a)
# count(*) and (b) room_usage on each order, wall time and the backend's
# CPU time; the medians and (b)/(a) of each build are printed, and each
# build must give the same minutes.
#
# One room of CB_AB_BIG shuffled events (ev_big_shuf, as in
# test/profile_usage.sh) is timed the same way.
#
#   CB_AB_ROOMS=100000   rooms    CB_AB_ROUNDS=5   rounds per build
#   CB_AB_BIG=2000000    events of the one big room
source "$(dirname "$0")/lib.sh"

OTHER=${CB_AB_OTHER:?CB_AB_OTHER must name the classbill.so of the other build}
ROOMS=${CB_AB_ROOMS:-100000}
ROUNDS=${CB_AB_ROUNDS:-5}
BIG=${CB_AB_BIG:-2000000}
cb_install_packages
cb_build
SO="$("$PG_CONFIG" --pkglibdir)/classbill.so"
cb_start_cluster "shared_buffers = '4GB'" "work_mem = '1GB'" "max_parallel_workers_per_gather = 0" \
	"jit = off" "classbill.billing_timezone = 'Asia/Shanghai'"
cp "$SO" "$CB_TMP/B.so"
cp "$OTHER" "$CB_TMP/A.so"
cb_psql -c "CREATE DATABASE cb_ab"
export PGDATABASE=cb_ab
cb_psql -c "CREATE EXTENSION classbill" -c "CREATE EXTENSION pg_prewarm"
cb_say "generating $ROOMS rooms in three orders"
cb_psql -v tbl=ev -v rooms="$ROOMS" -v seed=0.31 -f "$CB_ROOT/test/bench_events.sql"
cb_psql -v seed=0.31 -v big="$BIG" -f "$CB_ROOT/test/bench_orders.sql"
cb_psql -c "SELECT pg_prewarm('ev') + pg_prewarm('ev_room') + pg_prewarm('ev_shuf') + pg_prewarm('ev_big_shuf') AS blocks" >/dev/null
TICK_MS=$(awk -v t="$(getconf CLK_TCK)" 'BEGIN { print 1000 / t }')
: >"$CB_TMP/cpu.txt"
chmod 666 "$CB_TMP/cpu.txt"
: >"$CB_TMP/ab.tsv"
for ((i = 1; i <= ROUNDS; i++)); do
	for v in A B; do
		cp "$CB_TMP/$v.so" "$SO"
		{
			echo "SELECT pg_backend_pid() \\g $CB_TMP/bpid"
			echo '\timing on'
			for t in ev ev_room ev_shuf ev_big_shuf; do
				for q in a b; do
					tag="$v-$q-$t"
					case $q in
					a) sql="SELECT count(*), sum(c) FROM (SELECT room, count(*) AS c FROM $t GROUP BY room) s" ;;
					b) sql="SELECT count(*), sum(classbill.minutes(u)) FROM (SELECT room, classbill.room_usage(participant, event, at) AS u FROM $t GROUP BY room) s" ;;
					esac
					echo "\\echo @$tag $i"
					echo "\\! awk -v tag='$tag $i start' '{ print tag, \$14 + \$15 }' /proc/\$(cat $CB_TMP/bpid)/stat >>$CB_TMP/cpu.txt"
					echo "$sql;"
					echo "\\! awk -v tag='$tag $i end' '{ print tag, \$14 + \$15 }' /proc/\$(cat $CB_TMP/bpid)/stat >>$CB_TMP/cpu.txt"
				done
			done
		} >"$CB_TMP/round.sql"
		cb_psql -At -f "$CB_TMP/round.sql" |
			awk '/^@/ { tag = substr($1, 2) " " $2; next } /^Time:/ { print tag, $2, res; next } { res = $0 }' \
			>>"$CB_TMP/ab.tsv"
	done
done
cp "$CB_TMP/B.so" "$SO"
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.1f", v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
wall() { awk -v t="$1" '$1 == t { print $3 }' "$CB_TMP/ab.tsv" | median; }
cpu() { awk -v t="$1" -v ms="$TICK_MS" '$1 == t && $3 == "start" { s[$2] = $4 } $1 == t && $3 == "end" { print ($4 - s[$2]) * ms }' "$CB_TMP/cpu.txt" | median; }
cb_say "medians of $ROUNDS rounds, builds alternating: A = $OTHER, B = this checkout"
printf '%-5s %-8s %12s %12s %8s | %10s %10s %8s\n' build rows "(a) wall" "(b) wall" "(b)/(a)" "(a) CPU" "(b) CPU" "(b)/(a)"
for v in A B; do
	for t in ev ev_room ev_shuf ev_big_shuf; do
		aw=$(wall "$v-a-$t"); bw=$(wall "$v-b-$t"); ac=$(cpu "$v-a-$t"); bc=$(cpu "$v-b-$t")
		printf '%-5s %-8s %9s ms %9s ms %8s | %10s %10s %8s\n' "$v" "$t" "$aw" "$bw" \
			"$(awk -v x="$bw" -v y="$aw" 'BEGIN { printf "%.2f", x / y }')" "$ac" "$bc" \
			"$(awk -v x="$bc" -v y="$ac" 'BEGIN { printf "%.2f", x / y }')"
	done
done
for t in "ev ev_room ev_shuf" ev_big_shuf; do
	n=$(awk -v ts="$t" 'BEGIN { split(ts, w, " "); for (i in w) want[w[i]] = 1 }
	                    { split($1, p, "-") } p[2] == "b" && (p[3] in want) { print $4 }' "$CB_TMP/ab.tsv" | sort -u | wc -l)
	if [ "$n" != 1 ]; then
		echo "MISMATCH: the builds' minutes differ on $t"
		exit 1
	fi
done
echo "minutes the same for both builds, on every order and on the big room"
