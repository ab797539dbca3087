#!/usr/bin/env bash
# test/valgrind.sh: the regression suite with the server under valgrind.
#
#   bash test/valgrind.sh                    # every pg_regress file
#   bash test/valgrind.sh usage_sessions ... # some of them
#
# Starts a throwaway server whose every process runs under valgrind's
# memcheck (pg_ctl -p with a wrapper), runs the pg_regress files, and
# fails if a test fails or valgrind reports an error with classbill.so in
# its stack (reading uninitialised memory, or memory outside the blocks
# malloc gave: classbill's large buffers are blocks of their own).  Errors
# with no classbill frame are PostgreSQL's own (Debian's server is not
# built for valgrind) and only counted.
source "$(dirname "$0")/lib.sh"

cb_install_packages valgrind
cb_build
TESTS=("$@")
if [ ${#TESTS[@]} -eq 0 ]; then
	# the REGRESS list of the Makefile
	read -ra TESTS < <(awk '/^REGRESS = / { on = 1; sub(/^REGRESS = /, "") }
	                        on { cont = sub(/\\$/, ""); printf "%s ", $0; if (!cont) exit }' "$CB_ROOT/Makefile"
	                   echo) || true
fi

VG_DIR=$(mktemp -d /tmp/classbill-valgrind.XXXXXX)
chmod 755 "$VG_DIR"
cat >"$VG_DIR/postgres" <<EOT
#!/bin/sh
exec valgrind --quiet --tool=memcheck --trace-children=no --leak-check=no \\
  --num-callers=30 --read-var-info=no --error-limit=no \\
  --log-file=$VG_DIR/vg.%p.log $PG_BIN/postgres "\$@"
EOT
chmod 755 "$VG_DIR/postgres"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$VG_DIR"

CB_PG_CTL_OPTS="-p $VG_DIR/postgres -t 600" cb_start_cluster
cb_say "pg_regress under valgrind: ${TESTS[*]}"
cd "$CB_ROOT"
rm -rf results regression.diffs regression.out
failed=0
start=$(date +%s)
make -s PG_CONFIG="$PG_CONFIG" installcheck ISOLATION= REGRESS="${TESTS[*]}" 2>&1 | tee "$CB_TMP/vg-regress.log" |
	grep -E '^test|^(not )?ok |tests' || true
grep -q 'FAILED\|tests failed' "$CB_TMP/vg-regress.log" && failed=1
echo "($(($(date +%s) - start)) s)"
cb_say "valgrind reports"
# a frame of classbill: its library, or one of its source files (the
# library has debugging information, so frames name the file)
ours_re="classbill\\.so|\\(($(cd "$CB_ROOT/src" && ls ./*.c | sed 's|^\./||; s|\.|\\.|' | paste -sd '|')):[0-9]+\\)"
ours=0
theirs=0
for f in "$VG_DIR"/vg.*.log; do
	[ -s "$f" ] || continue
	# reports are separated by a line holding only the "==pid==" prefix
	read -r n_ours n_all < <(awk -v re="$ours_re" '
		/^==[0-9]+== [A-Z]/ && !inblock { inblock = 1; all++; mine = 0 }
		inblock && $0 ~ re { mine = 1 }
		/^==[0-9]+== *$/ { if (inblock && mine) ours++; inblock = 0 }
		END { if (inblock && mine) ours++; print ours + 0, all + 0 }' "$f")
	ours=$((ours + n_ours))
	theirs=$((theirs + n_all - n_ours))
	[ "$n_ours" -gt 0 ] && cat "$f"
done
echo "valgrind errors in classbill: $ours; elsewhere in the server: $theirs; logs in $VG_DIR"
[ "$ours" = 0 ] || failed=1
if [ $failed != 0 ]; then
	echo "valgrind: FAILED"
	exit 1
fi
echo "valgrind: clean"
