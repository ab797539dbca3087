#!/usr/bin/env bash
# The short version of test/sanitize.sh: pg_regress and the isolation
# specs against classbill built with UndefinedBehaviorSanitizer, in a
# server of its own; no report, no crash.
source "$(dirname "$0")/../lib.sh"
CB_SANITIZE_QUICK=1 bash "$CB_ROOT/test/sanitize.sh"
