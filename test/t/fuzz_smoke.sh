#!/usr/bin/env bash
# The libFuzzer harnesses of test/fuzz (the plain-C core: the SPEC 1 sweep
# against its reference, the readers of the serialized room_usage,
# account_peak and storage_days states, the usage value's text and binary
# readers) build, pass every kept regression and seed, and fuzz a few
# seconds each without a crash.  Longer runs: bash test/fuzz.sh 600.
source "$(dirname "$0")/../lib.sh"

bash "$CB_ROOT/test/fuzz.sh" "${CB_FUZZ_SMOKE_SECONDS:-10}"
