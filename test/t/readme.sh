#!/usr/bin/env bash
# The documentation runs as written: every ```sql block of README.md and
# then of docs/*.md (in name order) is run, in order, in one psql session
# against a fresh database named billing, as a reader following them
# would; any error fails.  A ```text block right after a ```sql block is
# the output the reader is promised: it must be what psql -q prints
# (aligned, with notices), line for line.
#
# A comment line just before a block may say:
#   <!-- readme: database postgres -->   run the block in that database
#                                        (then back to billing)
#   <!-- readme: not run: REASON -->     show it only (it needs other
#                                        servers); the reason is printed
#   <!-- readme: error -->               the block shows an error on
#                                        purpose: it must end in one
#
#   bash test/t/readme.sh            (in the suite, through test/check.sh)
#   CB_README_PRINT=1 bash test/t/readme.sh   print every block's output
source "$(dirname "$0")/../lib.sh"

DB=billing
work=$(mktemp -d "${CB_TMP:-/tmp}/readme.XXXXXX")
[ -n "${CB_README_KEEP:-}" ] && echo "blocks and outputs kept in $work" || trap 'rm -rf "$work"' EXIT

files=("$CB_ROOT/README.md")
for f in "$CB_ROOT"/docs/*.md; do files+=("$f"); done

# Split the documents into a script of blocks, with a marker before each
# one, and the promised outputs beside it.
awk -v work="$work" -v root="$CB_ROOT/" '
	function flush_meta() { }
	FNR == 1 { file = FILENAME; sub(root, "", file); directive = "" }
	/^<!-- readme: / {
		directive = $0
		sub(/^<!-- readme: /, "", directive); sub(/ -->$/, "", directive)
		next
	}
	/^```sql$/ && !inblock {
		inblock = 1; n++; kind = "sql"; start = FNR
		out = sprintf("%s/%03d.sql", work, n)
		printf "%s:%d\t%s\n", file, start, directive > (work "/" sprintf("%03d.meta", n))
		directive = ""; pending = 0
		next
	}
	/^```text$/ && !inblock && pending {
		inblock = 1; kind = "text"
		out = sprintf("%s/%03d.expected", work, n)
		printf "" > out
		next
	}
	/^```/ && inblock {
		inblock = 0; close(out)
		if (kind == "sql") pending = 1; else pending = 0
		next
	}
	inblock { print > out; next }
	/^[[:space:]]*$/ { next }
	{ pending = 0; if ($0 !~ /^<!--/) directive = "" }
' "${files[@]}"

# every relative link of the documents leads to a file of the checkout
broken=0
for f in "${files[@]}"; do
	dir=$(dirname "$f")
	while IFS= read -r target; do
		target=${target%%#*}
		[ -z "$target" ] && continue
		if [ ! -e "$dir/$target" ]; then
			echo "broken link in ${f#$CB_ROOT/}: $target"
			broken=1
		fi
	done < <(grep -oE '\]\([^)]+\)' "$f" | sed -E 's/^\]\(//; s/\)$//' | grep -vE '^(https?|mailto):')
done
[ $broken -eq 0 ] || exit 1

blocks=$(ls "$work"/*.sql 2>/dev/null | wc -l)
[ "$blocks" -gt 0 ] || { echo "no sql blocks found"; exit 1; }

cb_psql -d postgres -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
# roles the documents create are the reader's own: start without them
for r in $(cat "${files[@]}" | grep -oE 'CREATE ROLE [a-z_][a-z0-9_]*' | awk '{ print $3 }' | sort -u); do
	cb_psql -d postgres -q -c "DROP ROLE IF EXISTS $r" 2>/dev/null || true
done

script="$work/all.psql"
: >"$script"
skipped=0
for sql in "$work"/*.sql; do
	n=$(basename "$sql" .sql)
	IFS=$'\t' read -r where directive <"$work/$n.meta"
	case $directive in
	"not run:"*)
		echo "not run: $where (${directive#not run: })"
		skipped=$((skipped + 1))
		continue
		;;
	esac
	printf '\\echo @@block %s %s\n' "$n" "$where" >>"$script"
	if [[ $directive == "database "* ]]; then
		printf '\\c %s\n' "${directive#database }" >>"$script"
	fi
	if [[ $directive == error ]]; then
		printf '\\set ON_ERROR_STOP off\n' >>"$script"
	fi
	cat "$sql" >>"$script"
	printf '\n' >>"$script"
	if [[ $directive == error ]]; then
		printf '\\set ON_ERROR_STOP on\n' >>"$script"
	fi
	if [[ $directive == "database "* ]]; then
		printf '\\c %s\n' "$DB" >>"$script"
	fi
done
printf '\\echo @@end\n' >>"$script"

cd "$CB_ROOT"
set +e
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d $DB -f "$script" >"$work/out.txt" 2>&1
rc=$?
set -e
if [ -n "${CB_README_PRINT:-}" ]; then
	cat "$work/out.txt"
fi

# Each block's output, from its marker to the next one.
awk -v work="$work" '
	/^@@block / { if (out) close(out); out = sprintf("%s/%s.got", work, $2); printf "" > out; next }
	/^@@end$/ { if (out) close(out); out = ""; next }
	out { print > out }
' "$work/out.txt"

if [ $rc -ne 0 ]; then
	last=$(grep '^@@block ' "$work/out.txt" | tail -1)
	echo "the documents stop at an error, in ${last#@@block * }:"
	n=$(echo "$last" | awk '{ print $2 }')
	tail -15 "$work/$n.got"
	exit 1
fi

failed=0 compared=0
for meta in "$work"/*.meta; do
	n=$(basename "$meta" .meta)
	IFS=$'\t' read -r where directive <"$meta"
	if [[ $directive == error ]] && ! grep -q '^ERROR: \|: ERROR: ' "$work/$n.got"; then
		echo "the block at $where should show an error and does not"
		failed=1
	fi
done
for exp in "$work"/*.expected; do
	[ -e "$exp" ] || continue
	n=$(basename "$exp" .expected)
	IFS=$'\t' read -r where directive <"$work/$n.meta"
	[[ $directive == "not run:"* ]] && continue
	compared=$((compared + 1))
	# psql prints a blank line after each result: compare without the
	# trailing blank lines, and without psql's "psql:...: NOTICE" prefixes
	sed -e 's/^psql:[^:]*:[0-9]*: //' "$work/$n.got" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >"$work/$n.cmp"
	sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$exp" >"$work/$n.exp"
	if ! diff -u "$work/$n.exp" "$work/$n.cmp" >"$work/$n.diff"; then
		echo "the output of the block at $where is not what the document shows (- shown, + printed):"
		cat "$work/$n.diff"
		failed=1
	fi
done
[ $failed -eq 0 ] || exit 1
echo "$blocks sql blocks of README.md and docs/ run in order: $((blocks - skipped)) run, $compared outputs as shown, $skipped shown only (they need other servers)"
cb_psql -d postgres -q -c "DROP DATABASE $DB"
