#!/usr/bin/env bash
# test/check.sh: the whole test suite, what .ci/run calls.
#
#   bash test/check.sh
#   CB_ONLY=regress bash test/check.sh   # pg_regress and isolation only
#   CB_ONLY=t bash test/check.sh         # the test/t scripts only
#   CB_ONLY="regress cancel" bash ...    # and/or some test/t scripts by name
#   PG_MAJOR=17 bash test/check.sh       # another PostgreSQL (see lib.sh)
#
# Installs what is missing, builds and installs classbill, starts a
# throwaway PostgreSQL (15 unless PG_MAJOR says otherwise), then runs
#   - the pg_regress files of test/sql/ against test/expected/ (one per rule group),
#   - the isolation specs of test/specs/ against test/expected/,
#   - every script in test/t/ (each exits 0 when it passes),
# and ends with the line "N passed, N failed".
source "$(dirname "$0")/lib.sh"

# CB_ONLY: what to run, words of "regress" (pg_regress and isolation),
# "t" (every test/t script) and names of test/t scripts; empty: all.
CB_ONLY=${CB_ONLY:-regress t}
cb_wanted() {
	[[ " $CB_ONLY " == *" $1 "* ]]
}
for w in $CB_ONLY; do
	if [ "$w" != regress ] && [ "$w" != t ] && [ ! -f "$CB_ROOT/test/t/$w.sh" ]; then
		echo "CB_ONLY: regress, t or names of test/t scripts, not '$w'" >&2
		exit 2
	fi
done

cb_install_packages
cb_build
cron_conf=()
if [ -f "$("$PG_CONFIG" --pkglibdir)/pg_cron.so" ]; then
	cron_conf=("shared_preload_libraries = 'pg_cron'" "cron.database_name = 'postgres'"
		"cron.use_background_workers = on")
fi
cb_start_cluster ${cron_conf[@]+"${cron_conf[@]}"}
echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }')"

passed=0
failed=0
failures=()

cd "$CB_ROOT"
rm -rf results regression.diffs regression.out output_iso
: >"$CB_TMP/regress.log"
if cb_wanted regress; then
	set +e
	cb_say "pg_regress"
	make -s PG_CONFIG="$PG_CONFIG" installcheck ISOLATION= 2>&1 | tee "$CB_TMP/regress.log"
	cb_say "pg_isolation_regress"
	make -s PG_CONFIG="$PG_CONFIG" installcheck REGRESS= 2>&1 | tee -a "$CB_TMP/regress.log"
	set -e
	# One line a test: "test NAME ... ok" up to PostgreSQL 15, TAP's
	# "ok N - NAME" / "not ok N - NAME" from 16 on.
	while read -r name result; do
		if [ "$result" = ok ]; then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
			failures+=("regress/$name")
		fi
	done < <(sed -n -e 's/^test \([a-z_0-9]*\) *\.\.\. \(ok\|FAILED\|failed\).*/\1 \2/p' \
		-e 's/^ok [0-9]* *[-+] \([a-z_0-9]*\) .*/\1 ok/p' \
		-e 's/^not ok [0-9]* *[-+] \([a-z_0-9]*\) .*/\1 FAILED/p' "$CB_TMP/regress.log")
	for diffs in regression.diffs output_iso/regression.diffs; do
		[ -f "$diffs" ] && head -100 "$diffs"
	done
fi

for t in "$CB_ROOT"/test/t/*.sh; do
	name=$(basename "$t" .sh)
	cb_wanted t || cb_wanted "$name" || continue
	cb_say "test/t/$name"
	start=$(date +%s)
	if bash "$t" >"$CB_TMP/$name.log" 2>&1; then
		passed=$((passed + 1))
		tail -3 "$CB_TMP/$name.log"
		echo "ok $name ($(($(date +%s) - start)) s)"
	else
		failed=$((failed + 1))
		failures+=("t/$name")
		tail -40 "$CB_TMP/$name.log"
		echo "FAILED $name"
	fi
done

if [ $failed -gt 0 ]; then
	echo
	echo "failed: ${failures[*]}"
fi
echo
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
