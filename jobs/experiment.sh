#!/usr/bin/env bash
# experiment.sh - issue 12: do the paper's two findings hold on the
# built-in suite?  (1) pair quality of iterative pairwise ranking against
# knockout, round robin and a scoring reward model, in and out of
# distribution; (2) BCR against DPO, DPOP and RPO, with a sweep of the
# budget, over several seeds; (3) end to end: reward-model pairs + DPO
# against iterative pairwise pairs + BCR.
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
start=$(date +%s)

pp_say "experiment phase A: $job"
bash "$ROOT/jobs/run-local.sh" "$job" || exit $?
pp_job_load "$job"
W=$PP_WORKDIR
BASE=$(pp_get generate model) || BASE=$W/base.h5
bindir=$(pp_get common bin) || bindir=""
INSPECT=${bindir:-$ROOT/bin}/pp-inspect
get() { "$INSPECT" "$1" --get "$2"; }

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
runs=() # NAME_sSEED of every training run
{
    echo "# written by jobs/experiment.sh from $job: phase B of the experiment"
    echo "[common]"
    echo "workdir = $W"
    [ -n "$bindir" ] && echo "bin = $bindir"
    echo "stages = rank train eval report"
    echo "ranks = 2"
    echo "report.ranks = 1"
    echo
    echo "# the reward model as a scoring judge (best and worst score)"
    echo "[rank]"
    echo "method = score"
    echo "judge = rm"
    echo "rm = $W/rm.h5"
    for s in train test ood; do
        echo "[rank.score_$s]"
        echo "candidates = $W/candidates_$s.h5"
    done
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
    done
    echo
    echo "# every policy against the base model, greedy, oracle judge, both orders"
    echo "[eval]"
    echo "baseline = $BASE"
    echo "prompts = $W/prompts_test.h5,$W/prompts_ood.h5"
    echo "judge = oracle"
    echo "temperature = 0"
    echo "max-new-tokens = 12"
    for r in "${runs[@]}"; do
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
    echo "- commands: \`EXP_SEEDS=\"$SEEDS\" EXP_BUDGETS=\"$BUDGETS\" EXP_TOKEN_BUDGET=$TOKEN_BUDGET EXP_INSIDE_BUDGET=$INSIDE_BUDGET EXP_EPOCHS=$EPOCHS EXP_LOSSES=\"$LOSSES\" jobs/experiment.sh ${job#$ROOT/}\`; phase B's job file is \`${B#$ROOT/}\`, every program's options are in \`${W#$ROOT/}/config/\`, its log in \`${W#$ROOT/}/logs/\`"
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
