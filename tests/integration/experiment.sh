#!/bin/sh
# make experiment-quick: the experiment of issue 12 in small (a tiny base
# model, few prompts, one seed) through jobs/experiment.sh: both phases run,
# every file validates, results.md holds the tables with a number in
# every cell, the plots are PNG files, and a second run redoes nothing.
# Issue 23's learned judges (pp-rm --kind pointwise and pairwise, a few
# steps) are trained from the long-context copy of the base model, rank
# test, ood and train, and their pairs train BCR.
. "$(dirname "$0")/../lib.sh"
command -v bash >/dev/null 2>&1 || { skip experiment "bash is not installed"; exit 0; }
command -v gnuplot >/dev/null 2>&1 || { skip experiment "gnuplot is not installed (make deps)"; exit 0; }
W=$T/exp
sed -e "s|^workdir = .*|workdir = $W\nbin = $BIN|" "$ROOT/jobs/experiment-quick.conf" >"$T/quick.conf"
run_quick() {
    EXP_SEEDS=1 EXP_BUDGETS=0.5 EXP_LOSSES=dpo EXP_EPOCHS=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
        EXP_JUDGE_STEPS=30 EXP_JUDGE_BATCH=16 EXP_JUDGE_MICRO_BATCH=8 EXP_PM_METHODS=iterative EXP_JUDGE_LOSSES=bcr \
        bash "$ROOT/jobs/experiment.sh" "$T/quick.conf" >"$T/run$1.log" 2>&1
}
check experiment_quick_runs run_quick 1 || { tail -n 5 "$T/run1.log" >&2; exit 0; }
bad=0
for f in "$W"/*.h5; do "$BIN/pp-inspect" --validate "$f" >/dev/null 2>&1 || { bad=1; echo "invalid: $f" >&2; }; done
[ $bad = 0 ] && ok experiment_files_validate || fail experiment_files_validate "some files do not validate"
R=$W/results.md
rows() { awk -v h="$1" 'index($0, h) == 1 { on = 1; next } on && /^\|---/ { next } on && /^\|/ { n++ } on && !/^\|/ { on = 0 } END { print n + 0 }' "$R"; }
# table_rows NAME HEADER ROWS WHAT: the table under HEADER has ROWS rows
table_rows() {
    n=$(rows "$2")
    [ "$n" = "$3" ] && ok "$1 ($3 rows)" || fail "$1" "expected $3 rows ($4), got $n"
}
table_rows experiment_pair_quality_table '| method | split |' 8 "4 methods x test, ood"
table_rows experiment_regularization_table '| loss |' 4 "dpo, bcr, bcr inside, bcr per token"
table_rows experiment_end_to_end_table '| pipeline |' 4 "RM or iterative pairs x DPO or BCR"
table_rows experiment_judge_accuracy_table '| judge | test pairs' 3 "linear, pointwise, pairwise"
table_rows experiment_judge_pair_quality_table '| judge | method |' 6 "linear, pointwise, pairwise iterative x test, ood"
table_rows experiment_judge_pairs_training_table '| pairs | loss |' 2 "the pointwise or the pairwise judge's pairs + BCR"
# every cell of every table row after the label columns is a number (or
# mean ± sd or se): cells HEADER LABEL-COLUMNS
cells() {
    awk -F'|' -v h="$1" -v first="$(($2 + 2))" 'index($0, h) == 1 { on = 1; next } on && /^\|---/ { next }
        on && /^\|/ { for (i = first; i < NF; i++) print $i; next } { on = 0 }' "$R"
}
cells=$( (cells '| method | split |' 2; cells '| loss |' 1; cells '| pipeline |' 1; cells '| judge | test pairs' 1
    cells '| judge | method |' 3; cells '| pairs | loss |' 2) | sed 's/%$//')
nonnum=$(printf '%s\n' "$cells" | grep -v -E '^ *-?[0-9]+(\.[0-9]+)?%?( ± [0-9.]+)? *$' | head -n 3)
n=$(printf '%s\n' "$cells" | grep -c .)
[ -z "$nonnum" ] && [ "$n" -ge 90 ] && ok "experiment_cells_are_numbers ($n cells)" || fail experiment_cells_are_numbers "$n cells; not a number: $nonnum"
# the learned judges rank with the files pp-rm wrote: the pointwise one as a
# reward model (score), the pairwise one as a model judge (both orders)
attr() { "$BIN/pp-inspect" "$1" --get "$2" 2>/dev/null; }
[ "$(attr "$W/pairs_pointwise_test_s1.h5" judge),$(attr "$W/pairs_pointwise_test_s1.h5" method)" = rm,score ] &&
    grep -q "rm = $W/rm_pointwise_s1.h5" "$W/config/rank.pointwise_test_s1.conf" && ok experiment_pointwise_judge_ranks ||
    fail experiment_pointwise_judge_ranks "pairs_pointwise_test_s1.h5: judge $(attr "$W/pairs_pointwise_test_s1.h5" judge)"
[ "$(attr "$W/pairs_pm_iterative_ood_s1.h5" judge),$(attr "$W/pairs_pm_iterative_ood_s1.h5" both_orders)" = model,1 ] &&
    grep -q "judge-model = $W/rm_pairwise_s1.h5" "$W/config/rank.pm_iterative_ood_s1.conf" && ok experiment_pairwise_judge_ranks ||
    fail experiment_pairwise_judge_ranks "pairs_pm_iterative_ood_s1.h5: judge $(attr "$W/pairs_pm_iterative_ood_s1.h5" judge)"
# both judges have the same longer context (the base model's is 48), long
# enough for every judge prompt: no failed call
ctx="$(attr "$W/rm_pointwise_s1.h5" seq_len) $(attr "$W/rm_pairwise_s1.h5" seq_len) $(attr "$W/pairs_pm_iterative_test_s1.h5" failures)"
[ "$ctx" = "96 96 0" ] && ok experiment_judge_context || fail experiment_judge_context "seq_len pointwise, pairwise, failures: $ctx"
# their labelled pairs: ground truth, so every pair is ordered right
[ "$(attr "$W/pairs_truth_train.h5" truth_pair_accuracy)" = 1 ] && [ "$(attr "$W/pairs_truth_train.h5" judge_noise)" = 0 ] &&
    ok experiment_truth_pairs || fail experiment_truth_pairs "truth_pair_accuracy $(attr "$W/pairs_truth_train.h5" truth_pair_accuracy)"
# the iterative pairs and the RM pairs are real: counts match the files
n=$("$BIN/pp-inspect" "$W/pairs_train.h5" --get n_pairs)
grep -q "best vs worst: $n pairs" "$R" && ok "experiment_reports_pair_count ($n)" || fail experiment_reports_pair_count "$n not in results.md"
pngs=0
for p in "$W"/experiment-delta-compare.png "$W"/experiment-delta-regularized-compare.png "$W"/experiment-accuracy-compare.png "$W"/experiment-rm-dpo-eval.png "$W"/experiment-bcr-inside0p2-eval.png; do
    [ "$(head -c 4 "$p" 2>/dev/null | od -An -c | tr -d ' ')" = "211PNG" ] && pngs=$((pngs + 1))
done
[ $pngs = 5 ] && ok experiment_plots || fail experiment_plots "$pngs of 5 PNG files"
check experiment_rerun run_quick 2
# only the plots are drawn again (pp-report has no HDF5 output to check)
redone=$(grep -E '^prefpipe: [a-z]+(\.[A-Za-z0-9_-]+)?: done in' "$T/run2.log" | grep -v -c '^prefpipe: report' | tr -d ' ')
skipped=$(grep -c "skipped" "$T/run2.log" | tr -d ' ')
[ "$skipped" -ge 20 ] && [ "$redone" = 0 ] && ok "experiment_rerun_skips ($skipped runs skipped)" ||
    fail experiment_rerun_skips "$skipped skipped, $redone runs done again"
