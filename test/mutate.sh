#!/usr/bin/env bash
# test/mutate.sh: does the suite catch small deliberate mistakes?
#
#   bash test/mutate.sh                 # every mutation of test/mutations.txt
#   bash test/mutate.sh ID...           # some, by id
#   CB_MUTATE_LIST=FILE bash test/mutate.sh
#
# Each mutation of test/mutations.txt replaces one exact string in one
# file of the C or SQL with a wrong one (a flipped comparison, a missing
# check, another rounding).  For each, in a copy of the work tree, this
# script applies it, checks that the copy still builds, and runs the
# suite's pg_regress and isolation tests plus the test/t scripts the
# mutation names (test/check.sh with CB_ONLY).  A mutation is caught
# when that run fails, and survives when it passes: a survivor is a rule
# whose tests cannot fail where they should.  The unmutated copy runs
# first and must pass, or nothing would mean anything.
#
# Ends with "score: C of N caught" and, per survivor, its id; exits 0 only
# when every mutation is caught.  A mutation whose text is not found
# exactly once, or whose copy does not build, is an error in the list,
# never counted as caught.
#
# As root, like test/check.sh: each run installs the mutated build into
# the machine's PostgreSQL (PG_MAJOR, default 15); the unmutated build is
# installed again at the end.  Run it on a development machine or in a
# chroot (bash test/chroot.sh bookworm bash test/mutate.sh), not beside a
# server that serves billing.  About 30 s a mutation on 2 cores.
set -euo pipefail

CB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIST=${CB_MUTATE_LIST:-$CB_ROOT/test/mutations.txt}
PG_MAJOR=${PG_MAJOR:-15}
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
export PG_MAJOR

WORK=$(mktemp -d /tmp/classbill-mutate.XXXXXX)
LOGS=$WORK/logs
TREE=$WORK/tree
mkdir -p "$LOGS" "$TREE"
cleanup() {
	# the unmutated build back into the server's directories
	if [ -d "$TREE/src" ]; then
		make -C "$TREE" -s PG_CONFIG="$PG_CONFIG" >/dev/null 2>&1 &&
			make -C "$TREE" -s PG_CONFIG="$PG_CONFIG" install >/dev/null 2>&1 ||
			echo "mutate.sh: could not reinstall the unmutated build; run make install" >&2
	fi
	[ -n "${CB_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# The work tree as it is (tracked and untracked files, not ignored ones).
(cd "$CB_ROOT" && git ls-files -z --cached --others --exclude-standard |
	tar --null -T - -cf -) | tar -xf - -C "$TREE"

# --- the list ---------------------------------------------------------------
# Records of "key: value" lines, separated by blank lines; # starts a comment.
#   id:       a short name
#   rule:     the SPEC rule(s) the mutation breaks
#   file:     the file, relative to the checkout
#   find:     the exact text to replace (one line, found exactly once)
#   replace:  what to put instead
#   tests:    test/t scripts to run besides pg_regress and isolation (optional)
#   why:      what the mutation means, in words
ids=() rules=() files=() finds=() replaces=() tests=() whys=()
add_record() {
	[ -n "$id" ] || return 0
	if [ -z "$file" ] || [ -z "$find" ] || [ -z "$rule" ]; then
		echo "mutate.sh: $LIST: mutation '$id' needs rule, file and find" >&2
		exit 2
	fi
	ids+=("$id") rules+=("$rule") files+=("$file") finds+=("$find")
	replaces+=("$replace") tests+=("$t") whys+=("$why")
}
id= rule= file= find= replace= t= why=
have_replace=0
while IFS= read -r line || [ -n "$line" ]; do
	case $line in
	'#'*) continue ;;
	'')
		add_record
		id= rule= file= find= replace= t= why=
		continue
		;;
	esac
	key=${line%%:*}
	value=${line#*: }
	[ "$value" != "$line" ] || value=
	case $key in
	id) id=$value ;;
	rule) rule=$value ;;
	file) file=$value ;;
	find) find=$value ;;
	replace) replace=$value ;;
	tests) t=$value ;;
	why) why=$value ;;
	*)
		echo "mutate.sh: $LIST: unknown key '$key' in: $line" >&2
		exit 2
		;;
	esac
done <"$LIST"
add_record

want=("$@")
selected=()
for i in "${!ids[@]}"; do
	if [ ${#want[@]} -eq 0 ] || [[ " ${want[*]} " == *" ${ids[$i]} "* ]]; then
		selected+=("$i")
	fi
done
[ ${#selected[@]} -gt 0 ] || { echo "mutate.sh: no mutation with id: ${want[*]}" >&2; exit 2; }

# Replace FIND by REPL in FILE, exactly once; prints how many were found.
mutate_file() { # file find repl
	MF_FIND=$2 MF_REPL=$3 perl -0777 -i -ne '
		my $n = () = /\Q$ENV{MF_FIND}\E/g;
		s/\Q$ENV{MF_FIND}\E/$ENV{MF_REPL}/ if $n == 1;
		print;
		END { print STDERR "$n\n" }' "$1" 2>&1 >/dev/null | tail -1
}

# The suite on the copy: pg_regress, isolation and the named test/t scripts.
run_suite() { # log extra-tests
	(cd "$TREE" && CB_ONLY="regress $2" bash test/check.sh) >"$1" 2>&1
}

echo "== the unmutated copy"
start=$(date +%s)
# the test/t scripts of the mutations to run, each once
extra=$(for i in "${selected[@]}"; do printf '%s\n' ${tests[$i]}; done | sort -u | tr '\n' ' ')
if ! run_suite "$LOGS/baseline.log" "$extra"; then
	tail -30 "$LOGS/baseline.log"
	echo "mutate.sh: the unmutated suite fails; fix that first" >&2
	exit 1
fi
echo "passes ($(($(date +%s) - start)) s): $(tail -1 "$LOGS/baseline.log")"

caught=0 survived=() broken=()
for i in "${selected[@]}"; do
	m=${ids[$i]} f=$TREE/${files[$i]}
	if [ ! -f "$f" ]; then
		broken+=("$m (no file ${files[$i]})")
		continue
	fi
	cp -p "$f" "$WORK/original"
	n=$(mutate_file "$f" "${finds[$i]}" "${replaces[$i]}")
	if [ "$n" != 1 ]; then
		broken+=("$m (text found $n times in ${files[$i]})")
		cp "$WORK/original" "$f"
		continue
	fi
	start=$(date +%s)
	if ! make -C "$TREE" -s PG_CONFIG="$PG_CONFIG" >"$LOGS/$m.build" 2>&1; then
		broken+=("$m (does not build)")
		result="DOES NOT BUILD"
	elif run_suite "$LOGS/$m.log" "${tests[$i]}"; then
		survived+=("$m")
		result="SURVIVED"
	else
		caught=$((caught + 1))
		result="caught by $(grep -E '^failed: ' "$LOGS/$m.log" | sed 's/^failed: //' | head -c 200)"
	fi
	printf '%-28s SPEC %-9s %s (%d s)\n' "$m" "${rules[$i]}" "$result" $(($(date +%s) - start))
	# back to the original, newer than anything built from the mutant
	cp "$WORK/original" "$f"
	touch "$f"
done

echo
for s in ${survived[@]+"${survived[@]}"}; do echo "survived: $s"; done
for b in ${broken[@]+"${broken[@]}"}; do echo "error in the list: $b"; done
echo "score: $caught of ${#selected[@]} caught"
[ "$caught" -eq "${#selected[@]}" ]
