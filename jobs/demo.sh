#!/usr/bin/env bash
# demo.sh - `make demo`: run jobs/demo.conf with the local runner (2 MPI
# ranks; stages whose outputs are complete and valid are skipped), then
# print the results: the aligned policy against the base model, greedy and
# sampled, on test and ood prompts.  Expects the base model from
# `make base-model` (jobs/base-model.conf).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$ROOT/out/demo
BASE=$ROOT/cache/base-model/base.h5
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
[ -f "$BASE" ] || { echo "demo: $BASE is missing: run make base-model first" >&2; exit 1; }
start=$(date +%s)
bash "$ROOT/jobs/run-local.sh" "$ROOT/jobs/demo.conf" "$@" || exit $?
secs=$(( $(date +%s) - start ))
for f in "$W"/*.h5; do
    "$ROOT/bin/pp-inspect" --validate "$f" >/dev/null || { echo "demo: $f does not validate" >&2; exit 1; }
done
echo
echo "=================================================================="
echo "prefpipe demo: aligned policy (DPO + BCR) against the base model"
echo "=================================================================="
echo "-- greedy decoding (temperature 0), oracle judge, both orders:"
"$ROOT/bin/pp-inspect" "$W/eval_greedy.h5" | sed -n '2,/^attributes:/p' | sed '$d'
echo "-- sampling at temperature 1 (the policy as the sampler that made the candidates):"
"$ROOT/bin/pp-inspect" "$W/eval_sampled.h5" | sed -n '2,/^attributes:/p' | sed '$d'
h5dump -a /train/heldout_rewards_accuracy "$W/policy.h5" 2>/dev/null | sed -n 's/.*(0): \(.*\)/\1/p' |
    awk '{ printf "-- implicit-reward accuracy of the policy on held-out test pairs: %.1f%%\n", 100 * $1 }'
echo "(win rate: mean of 1 win / 0.5 tie / 0 loss over prompts, ± standard error;"
echo " policy acc / baseline acc: exact-match accuracy of the aligned policy / the base model)"
echo
echo "pipeline stages took ${secs}s (base model cached in $ROOT/cache/base-model/)"
echo "files:    $W/{prompts_*,candidates,pairs,policy,eval_*}.h5   (h5dump or bin/pp-inspect)"
echo "pictures: $W/greedy-training.png $W/greedy-eval.png $W/sampled-eval.png"
echo "logs:     $W/logs/"
