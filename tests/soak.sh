#!/bin/sh
# soak.sh - the crash tests of tests/integration/crash.sh with many more
# kill points: PP_KILL_POINTS (default 50) seeded-random SIGKILLs per stage
# (pp-sft, pp-generate, pp-rank, pp-train, pp-eval, pp-rm), each followed by
# a rerun that must equal the uninterrupted run.  Prints the failures and,
# per stage, the kill points run, how many landed mid-run, how many reruns
# resumed from saved state and how many outputs were exact.  Exit 1 on any
# failure.  PP_KILL_SEED picks another set of moments; PP_CRASH_STAGES
# limits the stages.  `make soak` runs it.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PP_KILL_POINTS=${PP_KILL_POINTS:-50}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
echo "soak: $PP_KILL_POINTS kill points per stage, seed ${PP_KILL_SEED:-11}"
sh "$ROOT/tests/integration/crash.sh" >"$log" 2>&1
grep -E '^(FAIL|skip) ' "$log"
grep -E '^crash_[a-z]+: ' "$log" | sed 's/^crash_/pp-/'
pass=$(grep -c '^ok ' "$log")
failn=$(grep -c '^FAIL ' "$log")
echo "soak: $pass passed, $failn failed in $(($(date +%s) - start)) s"
[ "$failn" -eq 0 ] && [ "$pass" -gt 0 ]
