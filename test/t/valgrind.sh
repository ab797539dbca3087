#!/usr/bin/env bash
# The short version of test/valgrind.sh: the usage engine's pg_regress
# files and the hostile-input one with the server under valgrind; no
# report with a classbill frame.
source "$(dirname "$0")/../lib.sh"
bash "$CB_ROOT/test/valgrind.sh" usage_sessions usage_days usage_peak usage_quality usage_type \
	usage_rollup drawdown storage bad_input hostile
