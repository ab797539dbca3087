#!/usr/bin/env bash
# test/sanitize.sh: the test suite against classbill built with
# UndefinedBehaviorSanitizer.
#
#   bash test/sanitize.sh          # pg_regress, isolation and the t/ scripts
#   CB_SANITIZE_QUICK=1 bash ...   # pg_regress and isolation only (what
#                                  # test/check.sh runs)
#
# Builds the library with gcc's -fsanitize=undefined (every check, none
# recoverable), installs it, starts a throwaway server, runs the tests,
# and fails if any test fails, a backend dies, or a sanitizer reports.
# The normal build is installed again at the end, whatever happens.
#
# AddressSanitizer cannot be used in the server here: its runtime must be
# preloaded into Debian's postgres, and every process so started (even
# "postgres -V") then deadlocks at exit in libp11-kit's destructor
# (freelocale under __libc_setlocale_lock).  Memory errors are looked for
# instead by test/fuzz.sh (the plain-C core under AddressSanitizer) and
# test/valgrind.sh (the regression suite with the server under valgrind).
source "$(dirname "$0")/lib.sh"

cb_install_packages
# Both builds happen in copies of the sources, so the checkout's own
# objects stay as they are.
BUILD=$(mktemp -d /tmp/classbill-sanitize.XXXXXX)
copy_tree() {
	mkdir -p "$1"
	cp -r "$CB_ROOT/Makefile" "$CB_ROOT/classbill.control" "$CB_ROOT/src" "$CB_ROOT/sql" "$1/"
	rm -f "$1"/src/*.o "$1"/*.so
}
restore() {
	copy_tree "$BUILD/normal"
	make -s -C "$BUILD/normal" PG_CONFIG="$PG_CONFIG" install >/dev/null
	cb_stop_cluster
	rm -rf "$BUILD"
}
cb_say "building classbill with -fsanitize=undefined"
copy_tree "$BUILD/sanitized"
trap restore EXIT
make -s -C "$BUILD/sanitized" PG_CONFIG="$PG_CONFIG" SANITIZE=undefined >/dev/null
make -s -C "$BUILD/sanitized" PG_CONFIG="$PG_CONFIG" SANITIZE=undefined install >/dev/null
cd "$CB_ROOT"
ldd "$("$PG_CONFIG" --pkglibdir)/classbill.so" | grep -q libubsan ||
	{ echo "the installed classbill.so is not the sanitized build"; exit 1; }

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=/tmp/classbill-ubsan
rm -f /tmp/classbill-ubsan.*
cb_start_cluster "shared_preload_libraries = 'pg_cron'" "cron.database_name = 'postgres'" \
	"cron.use_background_workers = on"
trap restore EXIT
pm=$(head -1 "$CB_PGDATA/postmaster.pid")
tr '\0' '\n' <"/proc/$pm/environ" | grep -q "^UBSAN_OPTIONS=" ||
	{ echo "the server did not get UBSAN_OPTIONS"; exit 1; }

failed=0
cb_say "pg_regress and isolation under the sanitizers"
rm -rf results regression.diffs regression.out output_iso
make -s PG_CONFIG="$PG_CONFIG" installcheck 2>&1 | tee "$CB_TMP/sanitize-regress.log" | grep -E '^test|^(not )?ok |tests|failed' || true
grep -q 'FAILED\|failed (ignored)\|tests failed' "$CB_TMP/sanitize-regress.log" && failed=1

if [ -z "${CB_SANITIZE_QUICK:-}" ]; then
	for t in differential drawdown_properties storage_properties advisor_properties hostile month_close close_kill; do
		cb_say "test/t/$t under the sanitizers"
		if CB_HOSTILE_STREAM=0 bash "$CB_ROOT/test/t/$t.sh" >"$CB_TMP/sanitize-$t.log" 2>&1; then
			tail -2 "$CB_TMP/sanitize-$t.log"
		else
			tail -20 "$CB_TMP/sanitize-$t.log"
			echo "FAILED $t"
			failed=1
		fi
	done
fi

cb_say "sanitizer reports and crashes"
reports=$(cat /tmp/classbill-ubsan.* 2>/dev/null | grep -c 'runtime error:' || true)
crashes=$(grep -c 'terminated by signal\|was terminated by exception' "$CB_TMP/server.log" || true)
# close_kill.sh kills a backend on purpose
expected_kills=$(grep -c 'was terminated by signal 9' "$CB_TMP/server.log" || true)
cat /tmp/classbill-ubsan.* 2>/dev/null | head -60 || true
echo "sanitizer reports: $reports; backends that died: $crashes (of which killed on purpose: $expected_kills)"
if [ "$reports" != 0 ] || [ "$crashes" != "$expected_kills" ]; then
	failed=1
fi
if [ $failed != 0 ]; then
	echo "sanitize: FAILED"
	exit 1
fi
echo "sanitize: clean"
