#!/bin/sh
# pp-report: text from input files never becomes gnuplot code (issue 17.1),
# a failed or stopped gnuplot leaves nothing under the PNG's name (17.8),
# and the training plot names the loss actually used, with the budget line
# for BCR only (16.5).  Inputs come from tests/tools/make_report_inputs; a
# fake gnuplot keeps the script it was given.
. "$(dirname "$0")/../lib.sh"
MK=$BUILD/tests/tools/make_report_inputs
mkdir -p "$T/d"

# --- a fake gnuplot: saves its script, writes the PNG its 'set output' names
cat >"$T/fakeplot" <<'EOS'
#!/bin/sh
cp "$1" "${FAKE_SAVE:-/dev/null}"
out=$(sed -n "s/^set output '\(.*\)'\$/\1/p" "$1")
printf 'PNG' >"$out"
EOS
cat >"$T/badplot" <<'EOS'
#!/bin/sh
out=$(sed -n "s/^set output '\(.*\)'\$/\1/p" "$1")
: >"$out"
printf '\n         line 3: undefined variable: x\n\nmore noise\n' >&2
exit 1
EOS
printf '#!/bin/sh\nexec sleep 30\n' >"$T/slowplot"
chmod +x "$T/fakeplot" "$T/badplot" "$T/slowplot"

# --- 17.1: the two reproductions from the issue, with the real gnuplot when present
GP=gnuplot
command -v gnuplot >/dev/null 2>&1 || GP=$T/fakeplot
# (the marker path is short: the old code read only 31 bytes of the attribute)
PWNED=/tmp/ppw$$
rm -f "$PWNED"
"$MK" model "$T/evil.h5" "x'
!touch $PWNED
#" "--loss=dpo" || fail report_fixture "make_report_inputs failed"
"$BIN/pp-report" --model "$T/evil.h5" --out-dir "$T/d" --gnuplot "$GP" >"$T/log1" 2>&1
if [ -e "$PWNED" ]; then
    rm -f "$PWNED"
    fail report_attribute_is_not_code "the training attribute ran a command"
elif [ -s "$T/d/training.png" ]; then ok report_attribute_is_not_code
else fail report_attribute_is_not_code "no plot: $(cat "$T/log1")"; fi

(cd "$T" && "$MK" eval "e'.system('touch pwned2').'.h5" test,ood &&
    "$BIN/pp-report" --eval "e'.system('touch pwned2').'.h5" --out-dir d --gnuplot "$GP") >"$T/log2" 2>&1
if [ -e "$T/pwned2" ]; then fail report_eval_path_is_not_code "the eval path ran a command"
elif [ -s "$T/d/eval.png" ]; then ok report_eval_path_is_not_code
else fail report_eval_path_is_not_code "no plot: $(cat "$T/log2")"; fi

# split names and --compare labels / --metric are inputs too
"$MK" eval "$T/splits.h5" "a'!b,c\`id\`" >/dev/null 2>&1
FAKE_SAVE=$T/eval.gp "$BIN/pp-report" --eval "$T/splits.h5" --out-dir "$T/d" --gnuplot "$T/fakeplot" >/dev/null 2>&1
grep -q "'a__b'" "$T/eval.gp" && ! grep -q '`' "$T/eval.gp" && ok report_split_names_escaped ||
    fail report_split_names_escaped "$(grep xtics "$T/eval.gp")"
FAKE_SAVE=$T/cmp.gp "$BIN/pp-report" --compare "x'\`id\`=$T/evil.h5" --metric loss --out-dir "$T/d" \
    --gnuplot "$T/fakeplot" >/dev/null 2>&1
grep -q "t 'x__id_ (1 run)'" "$T/cmp.gp" && ok report_compare_label_escaped || fail report_compare_label_escaped "$(grep plot "$T/cmp.gp" 2>&1)"

# --- 17.8: a failing gnuplot: one line, exit 2, no PNG, no leftovers
rm -rf "$T/e" && mkdir "$T/e"
check_fails report_gnuplot_fails_one_line 2 'gnuplot failed on .*training.png \(exit 1\): line 3: undefined variable: x; nothing written' \
    "$BIN/pp-report" --model "$T/evil.h5" --out-dir "$T/e" --gnuplot "$T/badplot"
[ -z "$(ls -A "$T/e")" ] && ok report_gnuplot_fails_leaves_nothing || fail report_gnuplot_fails_leaves_nothing "left: $(ls -A "$T/e")"

# a stop signal reaches gnuplot: exit 75 at once, nothing written
rm -rf "$T/s" && mkdir "$T/s"
t0=$(date +%s)
"$BIN/pp-report" --model "$T/evil.h5" --out-dir "$T/s" --gnuplot "$T/slowplot" 2>"$T/stop.err" &
pid=$!
sleep 1
kill -TERM $pid
wait $pid
code=$?
dt=$(($(date +%s) - t0))
if [ "$code" = 75 ] && [ "$dt" -lt 10 ] && [ -z "$(ls -A "$T/s")" ] && [ "$(grep -c . "$T/stop.err")" = 1 ]; then
    ok "report_stop_signal_forwarded (exit 75 after ${dt} s)"
else fail report_stop_signal_forwarded "exit $code after $dt s; left: $(ls -A "$T/s"); $(cat "$T/stop.err")"; fi

# --- 16.5: the label is the loss used (provenance --loss); the budget line is BCR's
"$MK" model "$T/bcr.h5" dpo "--loss=bcr --bcr-budget=0.5 --beta=0.1"
"$MK" model "$T/dpo.h5" dpo "--loss=dpo --bcr-budget=0 --beta=0.1"
"$MK" sft "$T/sft.h5" sft "--steps=10"
for m in bcr dpo sft; do
    FAKE_SAVE=$T/$m.gp "$BIN/pp-report" --model "$T/$m.h5" --out-dir "$T/d" --prefix "$m-" --gnuplot "$T/fakeplot" >/dev/null 2>&1
done
grep -q "title '.*bcr.h5 (bcr)'" "$T/bcr.gp" && grep -q "BCR budget -δ = -0.5'" "$T/bcr.gp" && ok report_bcr_labelled_bcr ||
    fail report_bcr_labelled_bcr "$(grep -E 'multiplot layout|budget' "$T/bcr.gp" 2>&1)"
grep -q "title '.*dpo.h5 (dpo)'" "$T/dpo.gp" && ! grep -q budget "$T/dpo.gp" && ok report_dpo_has_no_budget_line ||
    fail report_dpo_has_no_budget_line "$(grep -E 'multiplot layout|budget' "$T/dpo.gp" 2>&1)"
grep -q "title '.*sft.h5 (sft)'" "$T/sft.gp" && ok report_sft_labelled_sft || fail report_sft_labelled_sft "$(grep multiplot "$T/sft.gp" 2>&1)"
