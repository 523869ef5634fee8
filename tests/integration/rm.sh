#!/bin/sh
# pp-rm: the Bradley–Terry reward model on frozen features.  Real pairs
# (pp-prompts -> pp-sft -> pp-generate -> pp-rank with the oracle): 1, 2 and
# 4 ranks give the same weights (1e-8 relative) and accuracies, for both
# feature recipes; the output validates; the scoring API (rm_score) agrees
# with the fit's accuracy.  Bad input (tests/tools/make_pairs_fixture): a
# singular system, non-finite features, pairs of another model, scoring
# with another model - one clear line, exit 1, no output file.
. "$(dirname "$0")/../lib.sh"
RM=$BIN/pp-rm
CMP=$BUILD/tests/tools/h5cmp
FIX=$BUILD/tests/tools/make_pairs_fixture
SCORE=$BUILD/tests/tools/rm_score
for tool in "$RM" "$CMP" "$FIX" "$SCORE" "$BIN/pp-rank" "$BIN/pp-generate"; do
    if [ ! -x "$tool" ]; then
        fail rm_setup "missing $tool (run make)"
        exit 0
    fi
done

# a small model and its oracle-ranked pairs, train and test splits
setup() {
    "$BIN/pp-prompts" --out "$T/ptrain.h5" --suite builtin --split train --n 300 &&
        "$BIN/pp-prompts" --out "$T/ptest.h5" --suite builtin --split test --n 100 --seed 2 &&
        "$BIN/pp-sft" --out "$T/m.h5" --data "$T/ptrain.h5" --arch dim=32,layers=2,heads=4,hidden=64,seq-len=48 \
            --steps 30 || return 1
    for s in train test; do
        "$BIN/pp-generate" --model "$T/m.h5" --prompts "$T/p$s.h5" --out "$T/c$s.h5" --k 4 \
            --max-new-tokens 10 --seed 3 &&
            "$BIN/pp-rank" --candidates "$T/c$s.h5" --out "$T/r$s.h5" --method iterative --judge oracle || return 1
    done
}
if ! setup >"$T/setup.txt" 2>&1; then
    fail rm_setup "could not make the model and pairs: $(tail -n 3 "$T/setup.txt" | tr '\n' ' ')"
    exit 0
fi
ok rm_setup

# ---- the fit does not depend on the rank count
for feat in last mean; do
    for np in 1 2 4; do
        rmf=$T/rm_${feat}_$np.h5
        pp_mpirun "$np" --timeout 60 "$RM" --pairs "$T/rtrain.h5" --model "$T/m.h5" --out "$rmf" \
            --features $feat --heldout "$T/rtest.h5" >"$T/log_${feat}_$np.txt" 2>&1
        code=$?
        if [ $code -ne 0 ] || [ ! -f "$rmf" ]; then
            fail "rm_fit_${feat}_np$np" "exit $code: $(tail -n 3 "$T/log_${feat}_$np.txt" | tr '\n' ' ')"
            continue
        fi
        ok "rm_fit_${feat}_np$np"
        if [ $np -gt 1 ]; then
            check "rm_${feat}_weights_np1_vs_np$np" "$CMP" "$T/rm_${feat}_1.h5" "$rmf" /weights 1e-8
            check "rm_${feat}_heldout_accuracy_np1_vs_np$np" "$CMP" "$T/rm_${feat}_1.h5" "$rmf" /heldout/accuracy 1e-12
            a1=$(grep 'training pairwise accuracy' "$T/log_${feat}_1.txt")
            an=$(grep 'training pairwise accuracy' "$T/log_${feat}_$np.txt")
            [ -n "$a1" ] && [ "$a1" = "$an" ] && ok "rm_${feat}_train_accuracy_np1_vs_np$np" ||
                fail "rm_${feat}_train_accuracy_np1_vs_np$np" "'$a1' vs '$an'"
        fi
    done
done
check rm_validates "$BIN/pp-inspect" --validate "$T/rm_last_4.h5"
grep -q "stop 'decrement'\|stop 'step'" "$T/log_last_1.txt" && ok rm_newton_converges ||
    fail rm_newton_converges "$(grep Newton "$T/log_last_1.txt")"
if ! cmp -s "$T/rm_last_1.h5" "$T/rm_mean_1.h5" && ! "$CMP" "$T/rm_last_1.h5" "$T/rm_mean_1.h5" /weights >/dev/null; then
    ok rm_recipes_differ
else fail rm_recipes_differ "last and mean gave the same weights"; fi

# several held-out files: repeated option and comma list are the same thing
"$RM" --pairs "$T/rtrain.h5" --model "$T/m.h5" --out "$T/h_rep.h5" --heldout "$T/rtest.h5" --heldout "$T/rtrain.h5" >/dev/null 2>&1
"$RM" --pairs "$T/rtrain.h5" --model "$T/m.h5" --out "$T/h_list.h5" --heldout "$T/rtest.h5,$T/rtrain.h5" >/dev/null 2>&1
check rm_heldout_list_equals_repeat "$CMP" "$T/h_rep.h5" "$T/h_list.h5" /heldout/accuracy
n=$(h5dump -a /n_heldout "$T/h_list.h5" 2>/dev/null | sed -n 's/.*(0): \([0-9]*\).*/\1/p')
[ "$n" = 2 ] && ok rm_two_heldout_files || fail rm_two_heldout_files "n_heldout = '$n'"
# the training file as held-out: its accuracy is the training accuracy
train=$(h5dump -a /train_accuracy "$T/h_list.h5" | sed -n 's/.*(0): \([0-9.e-]*\).*/\1/p')
last=$(h5dump -A 0 -d /heldout/accuracy "$T/h_list.h5" | sed -n 's/.*(0): [0-9.e-]*, \([0-9.e-]*\).*/\1/p')
awk "BEGIN{d=$train-$last; exit !(d < 1e-12 && d > -1e-12)}" && ok rm_heldout_training_equals_train_accuracy ||
    fail rm_heldout_training_equals_train_accuracy "train $train vs held-out $last"

# the scoring API (what pp-rank --judge rm calls) ranks the pairs as the fit did
got=$("$SCORE" "$T/rm_last_1.h5" "$T/m.h5" "$T/rtrain.h5" 2>&1)
want=$(h5dump -a /train_accuracy "$T/rm_last_1.h5" | sed -n 's/.*(0): \([0-9.e-]*\).*/\1/p')
acc=$(printf '%s' "$got" | sed -n 's/^accuracy \([0-9.]*\) on .*/\1/p')
[ -n "$acc" ] && awk "BEGIN{d=$acc-$want; exit !(d < 1e-5 && d > -1e-5)}" && ok rm_score_api_matches_fit ||
    fail rm_score_api_matches_fit "rm_score '$got' vs train_accuracy $want"

# the features are batch-invariant (score.h): 1, 8 or 64 pairs per call
# give the same bits for every score
h1=$("$SCORE" "$T/rm_last_1.h5" "$T/m.h5" "$T/rtrain.h5" 1 2>&1 | sed -n 's/^scores_hash //p')
h8=$(printf '%s\n' "$got" | sed -n 's/^scores_hash //p')
h64=$("$SCORE" "$T/rm_mean_1.h5" "$T/m.h5" "$T/rtrain.h5" 64 2>&1 | sed -n 's/^scores_hash //p')
h64m=$("$SCORE" "$T/rm_mean_1.h5" "$T/m.h5" "$T/rtrain.h5" 3 2>&1 | sed -n 's/^scores_hash //p')
[ -n "$h1" ] && [ "$h1" = "$h8" ] && ok rm_last_scores_same_bits_1_vs_8_per_call || fail rm_last_scores_same_bits_1_vs_8_per_call "'$h1' vs '$h8'"
[ -n "$h64" ] && [ "$h64" = "$h64m" ] && ok rm_mean_scores_same_bits_64_vs_3_per_call ||
    fail rm_mean_scores_same_bits_64_vs_3_per_call "'$h64' vs '$h64m'"

# ---- bad input: one line, exit 1, no output
"$FIX" pairs "$T/m.h5" "$T/same.h5" same 40 2>/dev/null
check_fails rm_singular_system 1 'same\.h5: .*(not positive definite|singular)' \
    "$RM" --pairs "$T/same.h5" --model "$T/m.h5" --out "$T/bad.h5" --l2 0
"$FIX" scale-model "$T/m.h5" "$T/mbig.h5" 3e38 2>/dev/null
"$FIX" pairs "$T/mbig.h5" "$T/big.h5" answers 40 2>/dev/null
check_fails rm_non_finite_features 1 'big\.h5: .*not finite' \
    "$RM" --pairs "$T/big.h5" --model "$T/mbig.h5" --out "$T/bad.h5"
check_fails rm_pairs_from_another_model 1 'rtrain\.h5: pairs file from another model' \
    "$RM" --pairs "$T/rtrain.h5" --model "$T/mbig.h5" --out "$T/bad.h5"
check_fails rm_heldout_from_another_model 1 'big\.h5: pairs file from another model' \
    "$RM" --pairs "$T/rtrain.h5" --model "$T/m.h5" --out "$T/bad.h5" --heldout "$T/big.h5"
check_fails rm_score_with_another_model 1 'another model do not match' \
    "$SCORE" "$T/rm_last_1.h5" "$T/mbig.h5" "$T/rtrain.h5"
check_fails rm_bad_feature_recipe 1 'features' \
    "$RM" --pairs "$T/rtrain.h5" --model "$T/m.h5" --out "$T/bad.h5" --features max
check_fails rm_negative_l2 1 'l2' \
    "$RM" --pairs "$T/rtrain.h5" --model "$T/m.h5" --out "$T/bad.h5" --l2 -1
check_fails rm_missing_pairs 1 'nope\.h5' \
    "$RM" --pairs "$T/nope.h5" --model "$T/m.h5" --out "$T/bad.h5"
check_fails rm_not_a_pairs_file 1 'm\.h5' \
    "$RM" --pairs "$T/m.h5" --model "$T/m.h5" --out "$T/bad.h5"
# under MPI every rank fails alike, rank 0 prints the one line, no hang
pp_mpirun 2 --timeout 60 "$RM" --pairs "$T/same.h5" --model "$T/m.h5" --out "$T/bad.h5" --l2 0 >/dev/null 2>"$T/err2.txt"
code=$?
n=$(grep -c 'pp-rm: error: .*same\.h5' "$T/err2.txt")
[ $code -ne 0 ] && [ "$n" = 1 ] && ok rm_singular_two_ranks || fail rm_singular_two_ranks "exit $code, $n error lines"
ls "$T"/bad.h5* >/dev/null 2>&1 && fail rm_no_output_on_error "$(ls "$T"/bad.h5*)" || ok rm_no_output_on_error
