#!/usr/bin/env bash
# test/fuzz.sh: build the libFuzzer harnesses of test/fuzz and run them.
#
#   bash test/fuzz.sh [seconds]      (default 60 per harness, or $CB_FUZZ_SECONDS)
#
# The harnesses fuzz the plain-C core alone, no PostgreSQL needed:
#   fuzz_sweep          event rows -> room state -> sweep, against a
#                       reference written from SPEC 1, and the SPEC 1.9
#                       properties
#   fuzz_state          bytes -> the serialized room_usage state reader
#   fuzz_usage_text     bytes -> the usage type's text and binary readers
#   fuzz_account_state  bytes -> the serialized account_peak state reader
#   fuzz_storage_state  bytes -> the serialized storage_days state reader
#
# (The seeds of the last two are written by test/fuzz/seed_states.c.)
#
# Each is built with the release's clang (14 on Debian 12, 19 on 13),
# AddressSanitizer and UndefinedBehaviorSanitizer
# into test/fuzz/build/.  First every input of test/fuzz/regressions/<name>/
# (crashes found before, kept so they stay fixed) and test/fuzz/corpus/<name>/
# (the seeds) runs once; then the harness fuzzes for the given seconds, one
# at a time, on a work corpus in test/fuzz/build/work/<name>/ that starts
# from the seeds and keeps growing across runs (rm -rf test/fuzz/build to
# start over).  A crash, a sanitizer report, a mismatch or a timeout stops
# the script with the input's path; a new one belongs in regressions/.
source "$(dirname "$0")/lib.sh"

seconds=${1:-${CB_FUZZ_SECONDS:-60}}
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
	echo "usage: bash test/fuzz.sh [seconds per harness]" >&2
	exit 2
fi

# the sanitizer and libFuzzer runtimes of the release's own clang
cb_install_packages clang
cb_install_packages "libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"

FUZZ=$CB_ROOT/test/fuzz
BUILD=$FUZZ/build
CC=${CB_FUZZ_CC:-clang}
CFLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
	-Wall -Wextra -Werror -I"$CB_ROOT/src")

# harness, the core files it needs, the longest input worth trying
HARNESSES=(fuzz_sweep fuzz_state fuzz_usage_text fuzz_account_state fuzz_storage_state)
declare -A SOURCES=(
	[fuzz_sweep]="sweep.c room_state.c state_codec.c"
	[fuzz_state]="sweep.c room_state.c state_codec.c"
	[fuzz_usage_text]="usage_value.c"
	[fuzz_account_state]="account_codec.c concurrency.c sweep.c room_state.c state_codec.c"
	[fuzz_storage_state]="storage.c"
)
declare -A MAX_LEN=(
	[fuzz_sweep]=200 # 2 header bytes and 64 rows of 3
	[fuzz_state]=16384 # over a thousand rows: room buffers past 8 kB grow differently
	[fuzz_usage_text]=2048 # a value of a few dozen days, as text or bytes
	[fuzz_account_state]=16384 # hundreds of small rooms, or a few of a thousand rows
	[fuzz_storage_state]=4096 # windows up to 126 days (the length must match its window)
)
COMMON=(-timeout=10 -rss_limit_mb=2048)

mkdir -p "$BUILD"

# The inputs of a directory, without its README.
inputs_of() {
	[ -d "$1" ] || return 0
	find "$1" -maxdepth 1 -type f ! -name 'README*' | sort
}

# Say which input failed, from the log of a failed run, and stop.
report_crash() {
	local name=$1 log=$2 path
	echo
	tail -60 "$log"
	path=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
	[ -n "$path" ] || path=$(sed -n 's/^Running: \(.*\)$/\1/p' "$log" | tail -1)
	echo
	echo "fuzz: $name failed on input: ${path:-unknown (see $log)}"
	echo "fuzz: reproduce with $BUILD/$name ${path:-<input>}"
	exit 1
}

total=0
summary=()
for name in "${HARNESSES[@]}"; do
	cb_say "$name: build"
	srcs=()
	for f in ${SOURCES[$name]}; do srcs+=("$CB_ROOT/src/$f"); done
	"$CC" "${CFLAGS[@]}" "$FUZZ/$name.c" "${srcs[@]}" -o "$BUILD/$name"

	extra=()
	[ -f "$FUZZ/${name#fuzz_}.dict" ] && extra+=(-dict="$FUZZ/${name#fuzz_}.dict")
	mkdir -p "$BUILD/artifacts/$name"

	cb_say "$name: regressions and seeds"
	mapfile -t known < <(inputs_of "$FUZZ/regressions/$name"; inputs_of "$FUZZ/corpus/$name")
	log=$BUILD/$name.replay.log
	if [ ${#known[@]} -gt 0 ]; then
		set +e
		"$BUILD/$name" "${COMMON[@]}" -artifact_prefix="$BUILD/artifacts/$name/" \
			"${known[@]}" >"$log" 2>&1
		status=$?
		set -e
		[ $status -eq 0 ] || report_crash "$name" "$log"
	fi
	echo "${#known[@]} inputs pass"

	cb_say "$name: fuzzing for $seconds s"
	work=$BUILD/work/$name
	mkdir -p "$work"
	[ -d "$FUZZ/corpus/$name" ] && cp -n "$FUZZ/corpus/$name"/* "$work"/ 2>/dev/null || true
	log=$BUILD/$name.log
	set +e
	"$BUILD/$name" "${COMMON[@]}" "${extra[@]}" -max_len="${MAX_LEN[$name]}" \
		-max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="$BUILD/artifacts/$name/" "$work" >"$log" 2>&1
	status=$?
	set -e
	[ $status -eq 0 ] || report_crash "$name" "$log"

	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	last=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(find "$work" -maxdepth 1 -type f | wc -l)
	total=$((total + ${execs:-0}))
	summary+=("$(printf '%-18s %10s executions  cov %5s  ft %6s  corpus %5s inputs' \
		"$name" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corp")")
	echo "${summary[-1]}"
done

echo
for line in "${summary[@]}"; do echo "$line"; done
echo "fuzz: ${#HARNESSES[@]} harnesses, $total executions, no crash"
