#!/usr/bin/env bash
# experiment.sh - issue 12: do the paper's two findings hold on the
# built-in suite?  (1) pair quality of iterative pairwise ranking against
# knockout, round robin and a scoring reward model, in and out of
# distribution; (2) BCR against DPO, DPOP and RPO, with a sweep of the
# budget, over several seeds; (3) end to end: reward-model pairs + DPO
# against iterative pairwise pairs + BCR; (4) issue 23: the same claim with
# two *learned* judges, a pointwise reward model and a pairwise preference
# model trained end to end by pp-rm from the base model with the same longer
# context, on the same ground-truth pairs for the same steps: their accuracy,
# the pairs they pick on test and ood, and DPO/BCR trained on their pairs.
#
#   jobs/experiment.sh [JOBFILE]      (default jobs/experiment.conf)
#
# Phase A is JOBFILE (prompts, candidates, the judge's rankings, the reward
# model) run by jobs/run-local.sh.  Phase B is a job file written here into
# the work directory (WORKDIR/experiment-b.conf: reward-model rankings,
# every training run and its evaluation, the plots); it can be submitted to
# Slurm as well (slurm/submit.sh).  Both skip what is already complete, so
# a stopped experiment carries on where it stopped.  The tables go to
# WORKDIR/results.md with the plots beside it.
#
# The sweep (environment variables):
#   EXP_SEEDS="1 2 3"            training seeds (data order) of every setting
#   EXP_BUDGETS="0 0.5 1 2 4"    BCR budgets delta in nats (penalty outside the sigmoid)
#   EXP_TOKEN_BUDGET=0.1         BCR per-token form: budget per response token ("" = none)
#   EXP_INSIDE_BUDGET=0.2        BCR with the penalty inside the sigmoid (the demo's form; "" = none)
#   EXP_EPOCHS=3                 passes over the pairs
#   EXP_LOSSES="dpo dpop rpo"    the baselines beside bcr
#   EXP_JUDGE_STEPS=250          training steps of both learned judges (one per seed of EXP_SEEDS)
#   EXP_JUDGE_BATCH=32           labelled pairs per step (both judges; the pairwise one sees each in both orders)
#   EXP_JUDGE_MICRO_BATCH=16     pairs per forward pass
#   EXP_JUDGE_LR=1e-3            peak learning rate of both (cosine, EXP_JUDGE_WARMUP=20 warmup steps)
#   EXP_JUDGE_CONTEXT=96         context of both (pp-rm --context: the base model's 48 raised)
#   EXP_PM_METHODS="iterative knockout roundrobin"  rankings of test and ood with the pairwise judge
#   EXP_JUDGE_LOSSES="dpo bcr"   trained on the learned judges' pairs (bcr: the end-to-end BCR form below)
# The first seed's judges also rank the train split (the pointwise one by
# score, the pairwise one by iterative ranking) for DPO and BCR.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/slurm/common.sh"
job=${1:-$ROOT/jobs/experiment.conf}
SEEDS=${EXP_SEEDS:-1 2 3}
BUDGETS=${EXP_BUDGETS:-0 0.5 1 2 4}
TOKEN_BUDGET=${EXP_TOKEN_BUDGET-0.1}
INSIDE_BUDGET=${EXP_INSIDE_BUDGET-0.2}
EPOCHS=${EXP_EPOCHS:-3}
LOSSES=${EXP_LOSSES:-dpo dpop rpo}
JUDGE_STEPS=${EXP_JUDGE_STEPS:-250}
JUDGE_BATCH=${EXP_JUDGE_BATCH:-32}
JUDGE_MICRO=${EXP_JUDGE_MICRO_BATCH:-16}
JUDGE_LR=${EXP_JUDGE_LR:-1e-3}
JUDGE_WARMUP=${EXP_JUDGE_WARMUP:-20}
JUDGE_CONTEXT=${EXP_JUDGE_CONTEXT:-96}
PM_METHODS=${EXP_PM_METHODS:-iterative knockout roundrobin}
JUDGE_LOSSES=${EXP_JUDGE_LOSSES:-dpo bcr}
E2E_SEED=${SEEDS%% *}
start=$(date +%s)

pp_say "experiment phase A: $job"
bash "$ROOT/jobs/run-local.sh" "$job" || exit $?
pp_job_load "$job"
W=$PP_WORKDIR
BASE=$(pp_get generate model) || BASE=$W/base.h5
bindir=$(pp_get common bin) || bindir=""
INSPECT=${bindir:-$ROOT/bin}/pp-inspect
# (a lone pp-inspect starts faster without Open MPI's runtime daemon: the
# tables take a hundred calls)
get() { OMPI_MCA_ess_singleton_isolated=1 "$INSPECT" "$1" --get "$2"; }
# The pairwise judge's prompt: as short as the task allows (the model judge
# appends the verdict cue "\nVerdict: [["); with the prompt and both answers
# it needs more than the base model's 48 tokens, so both learned judges start
# from the base model with its context raised to JUDGE_CONTEXT.
PM_TEMPLATE=$W/pm-template.txt
printf '{prompt}{a}|{b}' >"$PM_TEMPLATE.tmp" && mv -f "$PM_TEMPLATE.tmp" "$PM_TEMPLATE" || pp_die "cannot write $PM_TEMPLATE"

# ---- phase B: the job file -------------------------------------------------
# settings: NAME|LABEL|pp-train options (a NAME is a job-file section name:
# no dots)
settings=()
for l in $LOSSES; do settings+=("$l|$l|loss = $l"); done
for d in $BUDGETS; do settings+=("bcr${d//./p}|bcr δ=$d|loss = bcr
bcr-budget = $d"); done
[ -n "$INSIDE_BUDGET" ] && settings+=("bcr-inside${INSIDE_BUDGET//./p}|bcr δ=$INSIDE_BUDGET inside the sigmoid|loss = bcr
bcr-form = inside
bcr-budget = $INSIDE_BUDGET")
[ -n "$TOKEN_BUDGET" ] && settings+=("bcr-token${TOKEN_BUDGET//./p}|bcr δ=$TOKEN_BUDGET per token|loss = bcr
bcr-form = outside-per-token
bcr-budget = $TOKEN_BUDGET")
# End to end: the BCR setting of the paper's pipeline is the demo's form
# (inside the sigmoid) when it is in the sweep, else the budget 0.5 (or the
# first one).  Both kinds of pairs are trained with DPO and with that BCR.
if [ -n "$INSIDE_BUDGET" ]; then
    e2e_bcr="bcr-inside${INSIDE_BUDGET//./p}" e2e_bcr_label="BCR (δ $INSIDE_BUDGET inside)"
    e2e_bcr_opts="loss = bcr
bcr-form = inside
bcr-budget = $INSIDE_BUDGET"
else
    e2e_delta=0.5
    pp_in_list 0.5 "$BUDGETS" || e2e_delta=${BUDGETS%% *}
    e2e_bcr="bcr${e2e_delta//./p}" e2e_bcr_label="BCR (δ $e2e_delta)"
    e2e_bcr_opts="loss = bcr
bcr-budget = $e2e_delta"
fi
e2e_rm="rm-dpo" e2e_rm_bcr="rm-bcr" # reward-model pairs + DPO / + that BCR

B=$W/experiment-b.conf
runs=()       # NAME_sSEED of every training run of sections 2 and 3
judge_runs=() # and of section 4 (trained on the learned judges' pairs)
# The learned judges of a seed: pp-rm sections writing rm_pointwise_sSEED.h5
# (a reward model for pp-rank --judge rm) and rm_pairwise_sSEED.h5 (a model
# file for --judge model)
judge_sections() {
    local kind
    for kind in pointwise pairwise; do
        echo "[rm.${kind}_s$1]"
        echo "kind = $kind"
        echo "seed = $1"
        echo "steps = $JUDGE_STEPS"
        echo "batch = $JUDGE_BATCH"
        echo "micro-batch = $JUDGE_MICRO"
        echo "lr = $JUDGE_LR"
        echo "warmup = $JUDGE_WARMUP"
        echo "context = $JUDGE_CONTEXT"
        [ $kind = pairwise ] && echo "judge-template = $PM_TEMPLATE"
    done
}
pointwise_rm() { echo "$W/rm_pointwise_s$1.h5"; }
pairwise_pm() { echo "$W/rm_pairwise_s$1.h5"; }
# a pp-rank run: rank_section NAME SPLIT METHOD JUDGE [KEY VALUE]...
rank_section() {
    echo "[rank.$1]"
    echo "candidates = $W/candidates_$2.h5"
    echo "method = $3"
    echo "judge = $4"
    shift 4
    while [ $# -gt 1 ]; do
        echo "$1 = $2"
        shift 2
    done
}
{
    echo "# written by jobs/experiment.sh from $job: phase B of the experiment"
    echo "[common]"
    echo "workdir = $W"
    [ -n "$bindir" ] && echo "bin = $bindir"
    echo "stages = rm rank train eval report"
    echo "ranks = 2"
    echo "report.ranks = 1"
    echo
    echo "# the learned judges (issue 23), from the same base model with the same"
    echo "# longer context, on the same ground-truth pairs, for the same steps; and,"
    echo "# as the cheap baseline, the linear head on frozen features fitted to them"
    echo "[rm]"
    echo "pairs = $W/pairs_truth_train.h5"
    echo "model = $BASE"
    echo "heldout = $W/pairs_truth_test.h5,$W/pairs_truth_ood.h5"
    echo "[rm.linear_truth]"
    echo "features = mean"
    echo "l2 = 1.0"
    for seed in $SEEDS; do
        judge_sections "$seed"
    done
    echo
    echo "# the judges' rankings: score = best and worst score (K calls a prompt)"
    echo "[rank]"
    echo "judge-batch = 64"
    echo "queue-depth = 8"
    for s in train test ood; do rank_section "score_$s" "$s" score rm rm "$W/rm.h5"; done
    for s in test ood; do rank_section "lintruth_$s" "$s" score rm rm "$W/rm_linear_truth.h5"; done
    for seed in $SEEDS; do
        splits="test ood"
        [ "$seed" = "$E2E_SEED" ] && splits="train test ood"
        for s in $splits; do rank_section "pointwise_${s}_s$seed" "$s" score rm rm "$(pointwise_rm "$seed")"; done
        for m in $PM_METHODS; do
            for s in test ood; do
                rank_section "pm_${m}_${s}_s$seed" "$s" "$m" model judge-model "$(pairwise_pm "$seed")" judge-template "$PM_TEMPLATE"
            done
        done
    done
    rank_section "pm_iterative_train_s$E2E_SEED" train iterative model judge-model "$(pairwise_pm "$E2E_SEED")" judge-template "$PM_TEMPLATE"
    echo
    echo "[train]"
    echo "policy = $BASE"
    echo "heldout = $W/pairs_iterative_test.h5"
    echo "beta = 0.03"
    echo "lr = 1e-3"
    echo "warmup = 10"
    echo "epochs = $EPOCHS"
    echo "batch = 32"
    echo "micro-batch = 8"
    echo "checkpoint-every = 100"
    echo "log-every = 50"
    for seed in $SEEDS; do
        for s in "${settings[@]}"; do
            name=${s%%|*}
            echo "[train.${name}_s$seed]"
            echo "${s#*|*|}"
            echo "pairs = $W/pairs_train.h5"
            echo "ref-cache = $W/ref_pairs_train.h5"
            echo "seed = $seed"
            runs+=("${name}_s$seed")
        done
        for r in "$e2e_rm|loss = dpo" "$e2e_rm_bcr|$e2e_bcr_opts"; do
            echo "[train.${r%%|*}_s$seed]"
            echo "${r#*|}"
            echo "pairs = $W/pairs_score_train.h5"
            echo "ref-cache = $W/ref_pairs_score_train.h5"
            echo "seed = $seed"
            runs+=("${r%%|*}_s$seed")
        done
        # the learned judges' pairs (issue 23): NAME|PAIRS|options
        for r in "pw-dpo|pointwise_train_s$E2E_SEED|loss = dpo" "pw-bcr|pointwise_train_s$E2E_SEED|$e2e_bcr_opts" \
            "pm-dpo|pm_iterative_train_s$E2E_SEED|loss = dpo" "pm-bcr|pm_iterative_train_s$E2E_SEED|$e2e_bcr_opts"; do
            name=${r%%|*}
            pp_in_list "${name#*-}" "$JUDGE_LOSSES" || continue
            pairs=${r#*|}
            pairs=${pairs%%|*}
            echo "[train.${r%%|*}_s$seed]"
            echo "${r#*|*|}"
            echo "pairs = $W/pairs_$pairs.h5"
            echo "ref-cache = $W/ref_pairs_$pairs.h5"
            echo "seed = $seed"
            judge_runs+=("${r%%|*}_s$seed")
        done
    done
    echo
    echo "# every policy against the base model, greedy, oracle judge, both orders"
    echo "[eval]"
    echo "baseline = $BASE"
    echo "prompts = $W/prompts_test.h5,$W/prompts_ood.h5"
    echo "judge = oracle"
    echo "temperature = 0"
    echo "max-new-tokens = 12"
    for r in "${runs[@]}" "${judge_runs[@]}"; do
        echo "[eval.$r]"
        echo "policy = $W/policy_$r.h5"
    done
    echo
    echo "[report]"
    echo "out-dir = $W"
    echo "model ="
    echo "eval ="
    # the regularized runs on a plot of their own too: plain DPO's fall
    # sets the scale of the first
    compare="" regularized=""
    for r in "${runs[@]}"; do
        [ "${r%_s*}" = "$e2e_rm" ] || [ "${r%_s*}" = "$e2e_rm_bcr" ] && continue
        compare="${compare:+$compare,}${r%_s*}=$W/policy_$r.h5"
        [ "${r%_s*}" = dpo ] || regularized="${regularized:+$regularized,}${r%_s*}=$W/policy_$r.h5"
    done
    echo "[report.delta]"
    echo "compare = $compare"
    echo "prefix = experiment-delta-"
    echo "[report.delta_regularized]"
    echo "compare = $regularized"
    echo "prefix = experiment-delta-regularized-"
    echo "[report.accuracy]"
    echo "compare = $compare"
    echo "metric = rewards/accuracies"
    echo "prefix = experiment-accuracy-"
    first=${runs[0]#*_s}
    echo "[report.e2e_rm]"
    echo "model = $W/policy_${e2e_rm}_s$first.h5"
    echo "eval = $W/eval_${e2e_rm}_s$first.h5"
    echo "prefix = experiment-${e2e_rm}-"
    echo "[report.e2e_bcr]"
    echo "model = $W/policy_${e2e_bcr}_s$first.h5"
    echo "eval = $W/eval_${e2e_bcr}_s$first.h5"
    echo "prefix = experiment-${e2e_bcr}-"
} >"$B.tmp" && mv -f "$B.tmp" "$B" || pp_die "cannot write $B"
pp_say "experiment phase B: $B (${#runs[@]} training runs)"
bash "$ROOT/jobs/run-local.sh" "$B" || exit $?
secs=$(($(date +%s) - start))
# every invocation adds its wall time: a stopped and restarted experiment
# reports the sum (runs already complete are skipped, costing seconds)
echo "$(date -u +%FT%TZ) $secs" >>"$W/experiment-seconds.log"
read -r total invocations < <(awk '{ s += $2; n++ } END { print s, n }' "$W/experiment-seconds.log")

# ---- tables -----------------------------------------------------------------
# mean ± sample standard deviation of the numbers on stdin, times SCALE
stat() {
    awk -v scale="$1" -v fmt="${2:-%.1f}" '{ x[NR] = $1 * scale; s += x[NR] }
        END { if (NR == 0) { print "n/a"; exit } m = s / NR; v = 0
              for (i = 1; i <= NR; i++) v += (x[i] - m) ^ 2
              if (NR > 1) printf(fmt " ± " fmt "\n", m, sqrt(v / (NR - 1))); else printf(fmt "\n", m) }'
}
# the numbers of one setting, one line per seed, one column per name:
# seed_rows NAME eval|policy NAME,NAME,...  (one pp-inspect call per file)
seed_rows() {
    local seed f
    for seed in $SEEDS; do
        case $2 in
        eval) f=$W/eval_$1_s$seed.h5 ;;
        policy) f=$W/policy_$1_s$seed.h5 ;;
        esac
        get "$f" "$3" | paste -sd' ' || return 1
    done
}
col() { awk -v k="$1" '{ print $k }'; }
# mean ± standard error (sd / sqrt(n)) of the numbers on stdin, times SCALE
stat_se() {
    awk -v scale="$1" -v fmt="${2:-%.1f}" 'NF { x[++n] = $1 * scale; s += x[n] }
        END { if (n == 0) { print "n/a"; exit } m = s / n; v = 0
              for (i = 1; i <= n; i++) v += (x[i] - m) ^ 2
              if (n > 1) printf(fmt " ± " fmt "\n", m, sqrt(v / (n - 1) / n)); else printf(fmt "\n", m) }'
}
# wall time of a run (STAGE.NAME) in seconds, every attempt (run-local.sh logs
# "prefpipe: RUN: exit N after S s"); nothing when it never ran here
wall_seconds() {
    cat "$W"/logs/pp-*-local.out 2>/dev/null | awk -v run="prefpipe: $1: exit " 'index($0, run) == 1 { s += $(NF - 1); n++ } END { if (n) print s }'
}
# the seeds' runs of a name pattern: seed_names PATTERN (SEED in it is replaced)
seed_names() {
    local seed
    for seed in $SEEDS; do echo "${1//SEED/$seed}"; done
}
# one row of the learned judges' pair-quality table: pq_row JUDGE METHOD SPLIT RANK-RUN...
# (the runs: one per seed; mean ± standard error over them)
pq_row() {
    local judge=$1 m=$2 s=$3 r rows="" b w a p g c n
    shift 3
    for r in "$@"; do
        read -r b w a p g c n < <(get "$W/pairs_$r.h5" truth_best_rate,truth_worst_rate,truth_agreement,truth_pair_accuracy,truth_mean_gap,judge_calls,n_prompts | tr '\n' ' ')
        rows+="$b $w $a $p $g $(awk -v c="$c" -v n="$n" 'BEGIN { print c / n }') $(wall_seconds "rank.$r")"$'\n'
    done
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$judge" "$m" "$s" \
        "$(col 1 <<<"$rows" | stat_se 100)" "$(col 2 <<<"$rows" | stat_se 100)" "$(col 3 <<<"$rows" | stat_se 100)" \
        "$(col 4 <<<"$rows" | stat_se 100)" "$(col 5 <<<"$rows" | stat_se 1 %.3f)" "$(col 6 <<<"$rows" | stat_se 1)" \
        "$(col 7 <<<"$rows" | stat_se 1 %.0f)"
}
# held-out accuracy of a judge file on the test and ood pairs, one line each
# (pp-rm --kind linear writes a reward_model file, the other kinds a model file)
judge_heldout() { get "$1" train/heldout_accuracy_0,train/heldout_accuracy_1 2>/dev/null || get "$1" /heldout/accuracy; }
# one number per seed from a setting's Δw series (the mean change of the
# chosen log-likelihood per step): delta_stat NAME AWK-PROGRAM over $1..$NF
delta_stat() {
    local seed
    for seed in $SEEDS; do
        get "$W/policy_$1_s$seed.h5" /metrics/delta/chosen_mean | awk "$2"
    done
}
tail_mean() { delta_stat "$1" '{ k = int(NF / 10); if (k < 1) k = 1; s = 0; for (i = NF - k + 1; i <= NF; i++) s += $i; print s / k }'; }
min_delta() { delta_stat "$1" '{ m = $1; for (i = 2; i <= NF; i++) if ($i < m) m = $i; print m }'; }

R=$W/results.md
n_seeds=$(echo $SEEDS | wc -w)
base_acc() { get "$W/eval_${runs[0]}.h5" "$1/baseline_accuracy" | stat 100; }
{
    echo "## Setup"
    echo
    echo "- commands: \`EXP_SEEDS=\"$SEEDS\" EXP_BUDGETS=\"$BUDGETS\" EXP_TOKEN_BUDGET=$TOKEN_BUDGET EXP_INSIDE_BUDGET=$INSIDE_BUDGET EXP_EPOCHS=$EPOCHS EXP_LOSSES=\"$LOSSES\" EXP_JUDGE_STEPS=$JUDGE_STEPS EXP_JUDGE_BATCH=$JUDGE_BATCH EXP_JUDGE_MICRO_BATCH=$JUDGE_MICRO EXP_JUDGE_LR=$JUDGE_LR EXP_JUDGE_WARMUP=$JUDGE_WARMUP EXP_JUDGE_CONTEXT=$JUDGE_CONTEXT EXP_PM_METHODS=\"$PM_METHODS\" EXP_JUDGE_LOSSES=\"$JUDGE_LOSSES\" jobs/experiment.sh ${job#$ROOT/}\`; phase B's job file is \`${B#$ROOT/}\`, every program's options are in \`${W#$ROOT/}/config/\`, its log in \`${W#$ROOT/}/logs/\`"
    echo "- base model: \`${BASE#$ROOT/}\`"
    for s in train test ood; do
        echo "- $s: $(get "$W/prompts_$s.h5" n_prompts) prompts, $(get "$W/candidates_$s.h5" k) candidates each (temperature $(get "$W/candidates_$s.h5" temperature))"
    done
    echo "- judge: the task oracle with verdict noise $(get "$W/pairs_train.h5" judge_noise), position bias $(get "$W/pairs_train.h5" judge_position_bias) on pairs closer than $(get "$W/pairs_train.h5" judge_close_threshold)"
    echo "- training pairs: iterative ranking of the train candidates, best vs worst: $(get "$W/pairs_train.h5" n_pairs) pairs"
    read -r rm_test rm_ood < <(get "$W/rm.h5" /heldout/accuracy)
    echo "- reward model: Bradley-Terry on the base model's mean response features, fitted to those pairs; pairwise accuracy on the judge's pairs: train $(get "$W/rm.h5" train_accuracy | stat 100), test $(echo "$rm_test" | stat 100), ood $(echo "$rm_ood" | stat 100) (%)"
    echo "- training: β 0.03, lr 1e-3 (cosine, 10 warmup steps), batch 32, $EPOCHS epochs; seeds (data order): $SEEDS"
    echo "- evaluation: greedy decoding against the base model, oracle judge in both orders; win rate = mean of 1 win / ½ tie / 0 loss"
    echo "- run time: ${total} s in total over $invocations invocation(s) of jobs/experiment.sh (this one: ${secs} s; phases A and B, $(nproc) cores, 2 MPI ranks; each invocation skips the runs already complete); the times are in \`${W#$ROOT/}/experiment-seconds.log\`"
    echo
    echo "## 1. Pair quality: which ranking finds the true best and worst?"
    echo
    echo "Agreement with the task scorer over all prompts (best: the chosen candidate has the top true score; worst: the rejected one has the lowest; gap: mean true score of chosen minus rejected)."
    echo
    echo "| method | split | best right | worst right | both right | pair ordered right | true gap | judge calls / prompt |"
    echo "|---|---|---|---|---|---|---|---|"
    for m in iterative knockout roundrobin score; do
        for s in test ood; do
            f=$W/pairs_${m}_$s.h5
            [ -f "$f" ] || continue
            read -r b w a p g c n < <(get "$f" truth_best_rate,truth_worst_rate,truth_agreement,truth_pair_accuracy,truth_mean_gap,judge_calls,n_prompts | tr '\n' ' ')
            awk -v m="$m" -v s="$s" -v b="$b" -v w="$w" -v a="$a" -v p="$p" -v g="$g" -v c="$c" -v n="$n" 'BEGIN {
                printf("| %s | %s | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.3f | %.1f |\n", m, s, 100 * b, 100 * w, 100 * a, 100 * p, g, c / n) }'
        done
    done
    echo
    echo "\"score\" asks the reward model for one score per candidate (K calls), the pairwise methods ask the judge about pairs."
    echo
    echo "## 2. Regularization: DPO, DPOP, RPO and BCR on the same pairs"
    echo
    echo "Exact-match accuracy of the greedy policy and its win rate against the base model, mean ± standard deviation over $n_seeds seed(s). Base model accuracy: test $(base_acc test)%, ood $(base_acc ood)%."
    echo "Δw is the change of the chosen log-likelihood (policy minus reference, nats, mean over the batch): its mean over the last 10% of the steps and its lowest value; held-out reward accuracy is the implicit reward's on the test pairs."
    echo
    echo "| loss | test accuracy % | test win rate % | ood accuracy % | ood win rate % | final Δw | lowest Δw | held-out reward acc. % |"
    echo "|---|---|---|---|---|---|---|---|"
    for s in "${settings[@]}"; do
        name=${s%%|*}
        label=${s#*|}
        label=${label%%|*}
        ev=$(seed_rows "$name" eval test/policy_accuracy,test/win_rate,ood/policy_accuracy,ood/win_rate)
        printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" \
            "$(col 1 <<<"$ev" | stat 100)" "$(col 2 <<<"$ev" | stat 100)" \
            "$(col 3 <<<"$ev" | stat 100)" "$(col 4 <<<"$ev" | stat 100)" \
            "$(tail_mean "$name" | stat 1 %.2f)" "$(min_delta "$name" | stat 1 %.2f)" \
            "$(seed_rows "$name" policy train/heldout_rewards_accuracy | stat 100)"
    done
    echo
    echo "![Δw trajectories](experiment-delta-compare.png)"
    echo
    echo "![Δw trajectories of the regularized losses](experiment-delta-regularized-compare.png)"
    echo
    echo "![training reward accuracy](experiment-accuracy-compare.png)"
    echo
    echo "## 3. End to end"
    echo
    echo "| pipeline | test accuracy % | test win rate % | ood accuracy % | ood win rate % |"
    echo "|---|---|---|---|---|"
    for pair in "$e2e_rm|reward-model scores (best vs worst) + DPO" "$e2e_rm_bcr|reward-model scores + $e2e_bcr_label" \
        "dpo|iterative pairwise ranking + DPO" "$e2e_bcr|iterative pairwise ranking + $e2e_bcr_label"; do
        pp_in_list "${pair%%|*}" "$e2e_rm $e2e_rm_bcr $e2e_bcr" || pp_in_list dpo "$LOSSES" || continue
        name=${pair%%|*}
        ev=$(seed_rows "$name" eval test/policy_accuracy,test/win_rate,ood/policy_accuracy,ood/win_rate)
        printf '| %s | %s | %s | %s | %s |\n' "${pair#*|}" \
            "$(col 1 <<<"$ev" | stat 100)" "$(col 2 <<<"$ev" | stat 100)" \
            "$(col 3 <<<"$ev" | stat 100)" "$(col 4 <<<"$ev" | stat 100)"
    done
    echo
    echo "Reward-model pairs: $(get "$W/pairs_score_train.h5" n_pairs) (true best right $(get "$W/pairs_score_train.h5" truth_best_rate | stat 100)%, true gap $(get "$W/pairs_score_train.h5" truth_mean_gap | stat 1 %.3f)); iterative pairs: $(get "$W/pairs_train.h5" n_pairs) (true best right $(get "$W/pairs_train.h5" truth_best_rate | stat 100)%, true gap $(get "$W/pairs_train.h5" truth_mean_gap | stat 1 %.3f))."
    echo
    echo "![reward-model pairs + DPO](experiment-${e2e_rm}-eval.png) ![iterative pairs + BCR](experiment-${e2e_bcr}-eval.png)"
    echo
    echo "## 4. Learned judges: a pointwise reward model against a pairwise preference model"
    echo
    echo "Both are trained end to end by pp-rm from the base model with its context raised from $(get "$BASE" seq_len) to $JUDGE_CONTEXT tokens (\`--context\`), on the same $(get "$W/pairs_truth_train.h5" n_pairs) ground-truth pairs of the train split (the oracle's true best against its true worst, no noise; $(get "$W/pairs_truth_train.h5" prompts_without_pair) prompts whose candidates all score the same give none), $JUDGE_STEPS steps of $JUDGE_BATCH pairs, lr $JUDGE_LR, one judge of each kind per seed ($SEEDS). The pointwise one scores a prompt and one answer (\`--judge rm\`, \`--method score\`: K calls a prompt); the pairwise one reads \`prompt answer-A|answer-B\` and gives P(A better) from its next token, asked in both orders (\`--judge model\`). The linear head is the cheap baseline: Bradley-Terry on the same model's frozen mean features, fitted to the same pairs. Mean ± standard error over the seeds."
    echo
    echo "### 4a. Held-out accuracy on ground-truth pairs (true best against true worst)"
    echo
    echo "| judge | test pairs ordered right % | ood pairs ordered right % | training wall time s |"
    echo "|---|---|---|---|"
    read -r lt lo < <(judge_heldout "$W/rm_linear_truth.h5" | paste -sd' ')
    printf '| %s | %s | %s | %s |\n' "linear head on frozen features" "$(echo "$lt" | stat_se 100)" "$(echo "$lo" | stat_se 100)" "$(wall_seconds rm.linear_truth | stat_se 1 %.0f)"
    for kind in pointwise pairwise; do
        acc=$(for seed in $SEEDS; do judge_heldout "$W/rm_${kind}_s$seed.h5" | paste -sd' '; done)
        printf '| %s | %s | %s | %s |\n' "$kind (end to end)" "$(col 1 <<<"$acc" | stat_se 100)" "$(col 2 <<<"$acc" | stat_se 100)" \
            "$(for seed in $SEEDS; do wall_seconds "rm.${kind}_s$seed"; done | stat_se 1 %.0f)"
    done
    echo
    echo "### 4b. Pair quality: which judge finds the true best and worst?"
    echo
    echo "The columns of section 1, in %, with the judge calls a prompt and the wall time of the ranking (2 ranks, the machine shared)."
    echo
    echo "| judge | method | split | best right | worst right | both right | pair ordered right | true gap | judge calls / prompt | wall time s |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for s in test ood; do
        pq_row "linear head" score "$s" "lintruth_$s"
        # shellcheck disable=SC2046
        pq_row pointwise score "$s" $(seed_names "pointwise_${s}_sSEED")
        for m in $PM_METHODS; do
            pq_row pairwise "$m" "$s" $(seed_names "pm_${m}_${s}_sSEED")
        done
    done
    echo
    echo "The pairwise judge's calls count both orders of every match. A match whose two orders disagree (the judge prefers whichever answer comes first, or whichever comes second) is a tie; a prompt gives a pair only when the verdicts put its best above its worst, directly or through a chain of wins, which ties break; the pair columns count the pairs given:"
    echo
    for m in $PM_METHODS; do
        for s in test ood; do
            fl=$(for r in $(seed_names "pm_${m}_${s}_sSEED"); do get "$W/pairs_$r.h5" flip_rate,prompts_without_pair,n_prompts | paste -sd' '; done)
            echo "- pairwise, $m, $s: order flips $(col 1 <<<"$fl" | stat_se 100)% of the matches; prompts without a pair $(awk '{ print $2 / $3 }' <<<"$fl" | stat_se 100)%"
        done
    done
    echo
    echo "### 4c. DPO and BCR on the learned judges' pairs"
    echo
    echo "The train split ranked by the seed-$E2E_SEED judges (the pointwise one by score, the pairwise one by iterative ranking); each pair set trained with $(echo "$JUDGE_LOSSES" | sed "s/dpo/DPO/; s/bcr/$e2e_bcr_label/; s/ / and /") over the training seeds ($SEEDS) with the settings of section 2, and evaluated against the base model as above. Mean ± standard error over the training seeds."
    echo
    echo "| pairs | loss | test accuracy % | test win rate % | ood accuracy % | ood win rate % |"
    echo "|---|---|---|---|---|---|"
    for pair in "pw-dpo|pointwise RM scores|DPO" "pw-bcr|pointwise RM scores|$e2e_bcr_label" \
        "pm-dpo|pairwise PM, iterative|DPO" "pm-bcr|pairwise PM, iterative|$e2e_bcr_label"; do
        name=${pair%%|*}
        pp_in_list "${name#*-}" "$JUDGE_LOSSES" || continue
        label=${pair#*|}
        ev=$(seed_rows "$name" eval test/policy_accuracy,test/win_rate,ood/policy_accuracy,ood/win_rate)
        printf '| %s | %s | %s | %s | %s | %s |\n' "${label%%|*}" "${label#*|}" \
            "$(col 1 <<<"$ev" | stat_se 100)" "$(col 2 <<<"$ev" | stat_se 100)" \
            "$(col 3 <<<"$ev" | stat_se 100)" "$(col 4 <<<"$ev" | stat_se 100)"
    done
    echo
    for r in "pointwise_train_s$E2E_SEED|pointwise RM scores" "pm_iterative_train_s$E2E_SEED|pairwise PM, iterative"; do
        f=$W/pairs_${r%%|*}.h5
        read -r n b p g c np < <(get "$f" n_pairs,truth_best_rate,truth_pair_accuracy,truth_mean_gap,judge_calls,n_prompts | tr '\n' ' ')
        awk -v l="${r#*|}" -v n="$n" -v b="$b" -v p="$p" -v g="$g" -v c="$c" -v np="$np" -v t="$(wall_seconds "rank.${r%%|*}")" 'BEGIN {
            printf("- %s: %d pairs, true best right %.1f%%, pairs ordered right %.1f%%, true gap %.3f; %.1f judge calls a prompt, %s s\n", l, n, 100 * b, 100 * p, g, c / np, t == "" ? "n/a" : t) }'
    done
} >"$R.tmp" && mv -f "$R.tmp" "$R" || pp_die "cannot write $R"
grep -q "n/a" "$R" && pp_die "$R: some numbers are missing (n/a): see the logs in $W/logs"
pp_say "experiment done in ${secs} s: tables in $R, plots in $W/experiment-*.png"

# EXP_DOCS=DIR: also put the tables into DIR/results.md, between its
# "generated" markers (the text around them is written by hand), and the
# plots into DIR/images/.
if [ -n "${EXP_DOCS:-}" ]; then
    doc=$EXP_DOCS/results.md
    begin='<!-- generated by make experiment: begin -->' end='<!-- generated by make experiment: end -->'
    grep -qF "$begin" "$doc" 2>/dev/null && grep -qF "$end" "$doc" || pp_die "$doc: the generated-section markers are missing"
    mkdir -p "$EXP_DOCS/images" && cp "$W"/experiment-*.png "$EXP_DOCS/images/" || pp_die "cannot copy the plots to $EXP_DOCS/images"
    awk -v begin="$begin" -v end="$end" -v gen="$R" '
        $0 == begin { print; while ((getline line < gen) > 0) { gsub(/\]\(experiment-/, "](images/experiment-", line); print line }; skip = 1; next }
        $0 == end { skip = 0 }
        !skip' "$doc" >"$doc.tmp" && mv -f "$doc.tmp" "$doc" || pp_die "cannot write $doc"
    pp_say "updated $doc and $EXP_DOCS/images/experiment-*.png"
fi
