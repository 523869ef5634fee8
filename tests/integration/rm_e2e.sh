#!/bin/sh
# pp-rm --kind pointwise | pairwise: the learned judges of issue 23, trained
# end to end.  Pairs where the truth is clear (make_candidates' reference,
# wrong and empty answers of the built-in suite, ranked by the oracle with
# noise 0, for a small byte-level model): each kind learns (held-out
# accuracy well above chance), 1 and 2 ranks give the same run (and so do
# --shard-optimizer and --recompute), a killed
# run resumes to the same file, the files work as judges in pp-rank (score
# with --judge rm, iterative with --judge model) and in pp-eval (--judge
# model), bad input is one line.
. "$(dirname "$0")/../lib.sh"
RM=$BIN/pp-rm
MC=$BUILD/tests/tools/make_candidates
CMP=$BUILD/tests/tools/h5cmp
for tool in "$RM" "$MC" "$CMP"; do
    [ -x "$tool" ] || { fail rm_e2e_setup "missing $tool (run make)"; exit 0; }
done
get() { "$BIN/pp-inspect" "$1" --get "$2" 2>/dev/null | head -n 1; }
above() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a > b) }'; }

setup() {
    "$BIN/pp-prompts" --out "$T/pa.h5" --suite builtin --split train --n 200 &&
        "$BIN/pp-prompts" --out "$T/pb.h5" --suite builtin --split test --n 60 --seed 2 &&
        "$BIN/pp-sft" --out "$T/base.h5" --data "$T/pa.h5" --arch dim=32,layers=2,heads=4,hidden=64,seq-len=64 \
            --steps 20 || return 1
    fp=$(get "$T/base.h5" fingerprint)
    "$MC" "$T/pa.h5" "$T/ca.h5" 4 suite 7 - "$fp" && "$MC" "$T/pb.h5" "$T/cb.h5" 4 suite 8 - "$fp" || return 1
    for s in a b; do
        "$BIN/pp-rank" --candidates "$T/c$s.h5" --out "$T/r$s.h5" --method iterative --judge oracle --judge-noise 0 ||
            return 1
    done
    printf '{prompt}={a}|{b}' >"$T/t.txt"
}
if ! setup >"$T/setup.txt" 2>&1; then
    fail rm_e2e_setup "$(tail -n 3 "$T/setup.txt" | tr '\n' ' ')"
    exit 0
fi
ok rm_e2e_setup
DATA="--pairs $T/ra.h5 --model $T/base.h5 --heldout $T/rb.h5 --batch 16 --micro-batch 4"
PW="--kind pointwise $DATA"
PA="--kind pairwise $DATA --context 128 --judge-template $T/t.txt"

# ---- each kind learns (2 ranks), the accuracies are in the file
for kind in pointwise pairwise; do
    if [ $kind = pointwise ]; then args=$PW; else args=$PA; fi
    if pp_mpirun 2 "$RM" $args --steps 40 --lr 3e-3 --out "$T/$kind.h5" >"$T/$kind.log" 2>&1; then
        acc=$(get "$T/$kind.h5" train/heldout_accuracy_0) tr=$(get "$T/$kind.h5" train/train_accuracy)
        above "$acc" 0.8 && above "$tr" 0.8 && ok "rm_e2e_${kind}_learns (held-out accuracy $acc, training $tr)" ||
            fail "rm_e2e_${kind}_learns" "held-out accuracy '$acc', training '$tr'"
        grep -q "held-out pairwise accuracy $(printf '%.4f' "$acc") on 60 pairs" "$T/$kind.log" &&
            ok "rm_e2e_${kind}_reports_heldout" || fail "rm_e2e_${kind}_reports_heldout" "$(grep held-out "$T/$kind.log")"
        check "rm_e2e_${kind}_validates" "$BIN/pp-inspect" --validate "$T/$kind.h5"
    else fail "rm_e2e_${kind}_learns" "$(tail -n 2 "$T/$kind.log" | tr '\n' ' ')"; fi
done
agr=$(get "$T/pairwise.h5" train/heldout_agreement_0)
above "$agr" 0.6 && ok "rm_e2e_pairwise_orders_agree ($agr)" || fail rm_e2e_pairwise_orders_agree "agreement '$agr'"
[ "$(get "$T/pairwise.h5" judge_labels)" = "A,B" ] && [ "$(get "$T/pairwise.h5" reward_head)" = "" ] &&
    [ "$(get "$T/pointwise.h5" reward_head)" = 1 ] && ok rm_e2e_file_kinds ||
    fail rm_e2e_file_kinds "labels '$(get "$T/pairwise.h5" judge_labels)', reward_head '$(get "$T/pointwise.h5" reward_head)'"

# ---- 1 rank and 2 ranks: the same run (losses to 1e-5, as pp-sft and
# pp-train check; the accuracies exactly)
for kind in pointwise pairwise; do
    if [ $kind = pointwise ]; then args=$PW; else args=$PA; fi
    pp_mpirun 1 "$RM" $args --steps 12 --lr 1e-3 --out "$T/${kind}_np1.h5" >/dev/null 2>&1
    pp_mpirun 2 "$RM" $args --steps 12 --lr 1e-3 --out "$T/${kind}_np2.h5" >/dev/null 2>&1
    check "rm_e2e_${kind}_np1_vs_np2_losses" "$CMP" "$T/${kind}_np1.h5" "$T/${kind}_np2.h5" /metrics/loss 1e-5 zero-mean
    a1=$(get "$T/${kind}_np1.h5" train/heldout_accuracy_0) a2=$(get "$T/${kind}_np2.h5" train/heldout_accuracy_0)
    [ -n "$a1" ] && [ "$a1" = "$a2" ] && ok "rm_e2e_${kind}_np1_vs_np2_accuracy" ||
        fail "rm_e2e_${kind}_np1_vs_np2_accuracy" "'$a1' vs '$a2'"
done

# ---- --shard-optimizer and --recompute: the same file as the plain 2-rank run
for kind in pointwise pairwise; do
    if [ $kind = pointwise ]; then args=$PW; else args=$PA; fi
    pp_mpirun 2 "$RM" $args --steps 12 --lr 1e-3 --shard-optimizer --recompute --out "$T/${kind}_zr.h5" >/dev/null 2>&1
    f1=$(get "$T/${kind}_np2.h5" fingerprint) f2=$(get "$T/${kind}_zr.h5" fingerprint)
    [ -n "$f1" ] && [ "$f1" = "$f2" ] && ok "rm_e2e_${kind}_shard_recompute_same" ||
        fail "rm_e2e_${kind}_shard_recompute_same" "fingerprint '$f2' vs '$f1'"
done

# ---- killed after a checkpoint, the same command writes the same file
# kill_after_checkpoint OUT CMD...: CMD (slowed) is killed once OUT.ckpt
# holds a checkpoint
kill_after_checkpoint() {
    kout=$1
    shift
    PP_TEST_STEP_DELAY_MS=150 setsid "$@" >/dev/null 2>&1 &
    kpid=$!
    i=0
    while ! ls "$kout.ckpt"/step-*.h5 >/dev/null 2>&1 && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
    kill -9 $kpid 2>/dev/null
    wait $kpid 2>/dev/null
}
for kind in pointwise pairwise; do
    if [ $kind = pointwise ]; then args=$PW; else args=$PA; fi
    out=$T/${kind}_k.h5
    run="$RM $args --steps 12 --lr 1e-3 --checkpoint-every 4 --out $out"
    kill_after_checkpoint "$out" $run
    if [ -e "$out" ]; then skip "rm_e2e_${kind}_kill_resume" "the run ended before the kill"; continue; fi
    $run >"$T/resume.log" 2>&1
    f1=$(get "$T/${kind}_np1.h5" fingerprint) f2=$(get "$out" fingerprint)
    if grep -q resuming "$T/resume.log" && [ -n "$f2" ] && [ "$f1" = "$f2" ]; then ok "rm_e2e_${kind}_kill_resume_identical"
    else fail "rm_e2e_${kind}_kill_resume_identical" "fingerprint '$f2' vs '$f1': $(tail -n 2 "$T/resume.log" | tr '\n' ' ')"; fi
    check "rm_e2e_${kind}_kill_resume_losses" "$CMP" "$T/${kind}_np1.h5" "$out" /metrics/loss
done

# the judge template's text is part of the run: a checkpoint made with
# another text under the same file name is refused by name
printf '{prompt}={a}|{b}' >"$T/tk.txt"
run="$RM --kind pairwise $DATA --context 128 --judge-template $T/tk.txt --steps 12 --checkpoint-every 2 --out $T/tk.h5"
kill_after_checkpoint "$T/tk.h5" $run
printf '{prompt}#{a}|{b}' >"$T/tk.txt"
check_fails rm_e2e_template_text_in_run_key 1 'judge_template_hash was' $run

# ---- the files as judges: the pointwise model scores (--judge rm), the
# pairwise model judges (--judge model, its recorded template by default)
R=$BIN/pp-rank
# the rm judge's scoring API (rm_load of a model file with a head, the
# batch-invariant scorer) ranks the held-out pairs as the training run did
got=$("$BUILD/tests/tools/rm_score" "$T/pointwise.h5" "$T/pointwise.h5" "$T/rb.h5" 2>&1 | sed -n 's/^accuracy \([0-9.]*\) .*/\1/p')
want=$(printf '%.6f' "$(get "$T/pointwise.h5" train/heldout_accuracy_0)")
[ -n "$got" ] && [ "$got" = "$want" ] && ok "rm_e2e_pointwise_scores_as_trained ($got)" ||
    fail rm_e2e_pointwise_scores_as_trained "rm_score '$got', training run '$want'"
if "$R" --candidates "$T/cb.h5" --out "$T/js.h5" --method score --judge rm --rm "$T/pointwise.h5" >"$T/js.log" 2>&1; then
    a=$(get "$T/js.h5" truth_pair_accuracy)
    above "$a" 0.8 && ok "rm_e2e_pointwise_judge_rm ($a)" || fail rm_e2e_pointwise_judge_rm "pairs ordered right '$a'"
else fail rm_e2e_pointwise_judge_rm "$(tail -n 1 "$T/js.log")"; fi
if "$R" --candidates "$T/cb.h5" --out "$T/jm.h5" --method iterative --judge model --judge-model "$T/pairwise.h5" \
    >"$T/jm.log" 2>&1; then
    a=$(get "$T/jm.h5" truth_pair_accuracy)
    above "$a" 0.8 && ok "rm_e2e_pairwise_judge_model ($a)" || fail rm_e2e_pairwise_judge_model "pairs ordered right '$a'"
else fail rm_e2e_pairwise_judge_model "$(tail -n 1 "$T/jm.log")"; fi

# pp-eval takes the pairwise model as its judge (its recorded template: the
# built-in one would not fit the 128-token context); a model against itself
# gives the same answers, and a judge that sees the same prompt in both
# orders splits each pair: a win rate of exactly 0.5
if "$BIN/pp-eval" --policy "$T/base.h5" --baseline "$T/base.h5" --prompts "$T/pb.h5" --out "$T/je.h5" \
    --max-new-tokens 8 --judge model --judge-model "$T/pairwise.h5" >"$T/je.log" 2>&1; then
    w=$(get "$T/je.h5" test/win_rate) # pb.h5 holds the suite's test split
    [ "$w" = 0.5 ] && ok "rm_e2e_pairwise_judges_pp_eval (win rate $w)" || fail rm_e2e_pairwise_judges_pp_eval "win rate '$w'"
else fail rm_e2e_pairwise_judges_pp_eval "$(tail -n 1 "$T/je.log")"; fi

# ---- bad input: one line, exit 1, no output
X="--out $T/x.h5"
check_fails rm_e2e_steps_zero 1 'steps' "$RM" $PW --steps 0 $X
check_fails rm_e2e_labels_not_one_token 1 "label 'Answer A' is not one token" "$RM" $PA --judge-labels "Answer A,B" $X
check_fails rm_e2e_pairs_of_another_model 1 'pairs file from another model' \
    "$RM" --kind pointwise --pairs "$T/ra.h5" --model "$T/pairwise.h5" $X
check_fails rm_e2e_context_shorter 1 'is shorter than the context' "$RM" $PA --context 16 $X
check_fails rm_e2e_template_too_long 1 "no pair's judge prompt fits" "$RM" --kind pairwise $DATA $X
check_fails rm_e2e_linear_option_refused 1 '--features does not apply' "$RM" $PW --features mean $X
check_fails rm_e2e_e2e_option_refused 1 '--steps does not apply to --kind linear' \
    "$RM" --pairs "$T/ra.h5" --model "$T/base.h5" --steps 3 $X
check_fails rm_e2e_judge_rm_pairwise_file 1 'without a reward head' \
    "$R" --candidates "$T/cb.h5" --out "$T/x.h5" --method score --judge rm --rm "$T/pairwise.h5"
check_fails rm_e2e_no_llama2c_export 1 'reward head' "$BIN/pp-convert" --model "$T/pointwise.h5" --to-llama2c "$T/x.bin"
check_fails rm_e2e_no_hf_export 1 'reward head' "$BIN/pp-convert" --model "$T/pointwise.h5" --to-hf "$T/xhf"
[ ! -e "$T/x.h5" ] && [ ! -e "$T/x.bin" ] && [ ! -e "$T/xhf" ] && ok rm_e2e_bad_no_output || fail rm_e2e_bad_no_output "x.h5, x.bin or xhf written"
