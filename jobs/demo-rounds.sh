#!/usr/bin/env bash
# demo-rounds.sh - `make demo-rounds`: run jobs/demo-rounds.conf (3 rounds
# of generate -> rank -> train -> eval) with the local runner (stages whose
# outputs are complete and valid are skipped, so a stopped demo carries on),
# check every file validates, and print the rounds' table and whether
# rounds 2 and 3 improved on round 1 (W/rounds.md, written by
# pp-report --rounds).  Expects the base model from `make base-model`.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$ROOT/out/demo-rounds
BASE=$ROOT/cache/base-model/base.h5
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
[ -f "$BASE" ] || { echo "demo-rounds: $BASE is missing: run make base-model first" >&2; exit 1; }
start=$(date +%s)
bash "$ROOT/jobs/run-local.sh" "$ROOT/jobs/demo-rounds.conf" "$@" || exit $?
secs=$(( $(date +%s) - start ))
for f in "$W"/*.h5 "$W"/round-*/*.h5; do
    "$ROOT/bin/pp-inspect" --validate "$f" >/dev/null || { echo "demo-rounds: $f does not validate" >&2; exit 1; }
done
echo
echo "=================================================================="
echo "prefpipe demo-rounds: 3 rounds of iterative DPO + BCR"
echo "=================================================================="
cat "$W/rounds.md"
echo
echo "pipeline stages took ${secs}s (base model cached in $ROOT/cache/base-model/)"
echo "files:    $W/round-0{1,2,3}/*.h5, $W/rounds.h5 (h5dump or bin/pp-inspect)"
echo "picture:  $W/rounds.png"
echo "logs:     $W/logs/"
