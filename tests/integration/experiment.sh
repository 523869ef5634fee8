#!/bin/sh
# make experiment-quick: the experiment of issue 12 in small (a tiny base
# model, few prompts, one seed) through jobs/experiment.sh: both phases run,
# every file validates, results.md holds the three tables with a number in
# every cell, the plots are PNG files, and a second run redoes nothing.
. "$(dirname "$0")/../lib.sh"
command -v bash >/dev/null 2>&1 || { skip experiment "bash is not installed"; exit 0; }
command -v gnuplot >/dev/null 2>&1 || { skip experiment "gnuplot is not installed (make deps)"; exit 0; }
W=$T/exp
sed -e "s|^workdir = .*|workdir = $W\nbin = $BIN|" "$ROOT/jobs/experiment-quick.conf" >"$T/quick.conf"
run_quick() {
    EXP_SEEDS=1 EXP_BUDGETS=0.5 EXP_LOSSES=dpo EXP_EPOCHS=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
        bash "$ROOT/jobs/experiment.sh" "$T/quick.conf" >"$T/run$1.log" 2>&1
}
check experiment_quick_runs run_quick 1 || { tail -n 5 "$T/run1.log" >&2; exit 0; }
bad=0
for f in "$W"/*.h5; do "$BIN/pp-inspect" --validate "$f" >/dev/null 2>&1 || { bad=1; echo "invalid: $f" >&2; }; done
[ $bad = 0 ] && ok experiment_files_validate || fail experiment_files_validate "some files do not validate"
R=$W/results.md
rows() { awk -v h="$1" 'index($0, h) == 1 { on = 1; next } on && /^\|---/ { next } on && /^\|/ { n++ } on && !/^\|/ { on = 0 } END { print n + 0 }' "$R"; }
[ "$(rows '| method | split |')" = 8 ] && ok "experiment_pair_quality_table (8 rows)" ||
    fail experiment_pair_quality_table "expected 8 rows (4 methods x test, ood), got $(rows '| method | split |')"
[ "$(rows '| loss |')" = 4 ] && ok "experiment_regularization_table (4 rows)" ||
    fail experiment_regularization_table "expected dpo, bcr, bcr inside, bcr per token rows, got $(rows '| loss |')"
[ "$(rows '| pipeline |')" = 4 ] && ok "experiment_end_to_end_table (4 rows)" ||
    fail experiment_end_to_end_table "expected 4 rows (RM or iterative pairs x DPO or BCR), got $(rows '| pipeline |')"
# every cell of every table row after the first column is a number (or mean ± sd)
# (the pair-quality rows name the split in their second column)
cells=$(awk -F'|' '/^\| [a-z]/ && !/^\| (method|loss|pipeline) / {
    first = /^\| (iterative|knockout|roundrobin|score) / ? 4 : 3; for (i = first; i < NF; i++) print $i }' "$R")
nonnum=$(printf '%s\n' "$cells" | grep -v -E '^ *-?[0-9]+(\.[0-9]+)?%?( ± [0-9.]+)? *$' | head -n 3)
[ -z "$nonnum" ] && [ -n "$cells" ] && ok experiment_cells_are_numbers || fail experiment_cells_are_numbers "not a number: $nonnum"
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
