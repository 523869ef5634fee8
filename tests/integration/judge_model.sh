#!/bin/sh
# --judge model: an LLM judge on prefpipe's own engine (stories260K judging
# its own TinyStories continuations).  Both orders are judged and counted,
# the label probabilities are logged, verdicts do not depend on the rank
# count or the batch, a killed run resumes to the same pairs, pp-eval takes
# the judge, bad templates and labels are one line.
. "$(dirname "$0")/../lib.sh"
need_shared judge_model models/stories260K.bin || exit 0
need_shared judge_model models/tok512.bin || exit 0
need_shared judge_model data/tinystories_evaluation_prompts.yaml || exit 0
R=$BIN/pp-rank
GUARD="timeout 120"
"$BIN/pp-convert" --from-llama2c "$SHARED/models/stories260K.bin" --tokenizer "$SHARED/models/tok512.bin" \
    --out "$T/j.h5" >/dev/null 2>&1
"$BIN/pp-prompts" --yaml "$SHARED/data/tinystories_evaluation_prompts.yaml" --out "$T/p.h5" >/dev/null 2>&1
"$BIN/pp-generate" --model "$T/j.h5" --prompts "$T/p.h5" --out "$T/c.h5" --k 3 --max-new-tokens 24 --seed 3 \
    >/dev/null 2>&1 || fail setup "pp-generate failed"
# a short template: stories260K's context is 512 tokens of a 512-word vocabulary
printf 'Story: {prompt}\nEnding A: {a}\nEnding B: {b}\nThe better ending is' >"$T/t.txt"
JUDGE="--judge model --judge-model $T/j.h5 --judge-template $T/t.txt"
matches_dump() {
    h5dump -y -w 0 -d /matches/prompt -d /matches/call -d /matches/a -d /matches/b -d /matches/verdict \
        -d /matches/p_first -d /matches/p_second -d /chosen -d /rejected -d /ranking "$1" 2>&1 | sed 1d
}
same() { # NAME A B
    if [ -f "$2" ] && [ -f "$3" ] && [ "$(matches_dump "$2")" = "$(matches_dump "$3")" ]; then ok "$1"
    else fail "$1" "$2 and $3 differ"; fi
}
attr() { h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/.*(0): //p'; }

# 44 prompts x iterative over 3 candidates: 2 + 2 matches (best and worst
# passes), each in both orders
if $GUARD "$R" --candidates "$T/c.h5" --out "$T/r1.h5" --method iterative $JUDGE >"$T/out" 2>&1; then
    calls=$(attr "$T/r1.h5" judge_calls) orders=$(attr "$T/r1.h5" both_orders)
    [ "$calls" = 352 ] && [ "$orders" = 1 ] && ok judge_model_both_orders_counted ||
        fail judge_model_both_orders_counted "judge_calls $calls, both_orders $orders"
    n=$(h5dump -A 0 -y -w 0 -d /matches/p_first "$T/r1.h5" | sed -n '/DATA {/,/}/p' | tr ',' '\n' | grep -c 'e-\|0\.')
    [ "$n" = 352 ] && ok judge_model_probabilities_logged || fail judge_model_probabilities_logged "$n of 352 probabilities"
    "$BIN/pp-inspect" --validate "$T/r1.h5" >/dev/null 2>&1 && ok judge_model_valid || fail judge_model_valid "pp-inspect --validate"
    h5dump -A "$T/r1.h5" 2>/dev/null | grep -q 'ATTRIBUTE "input_judge_model_fingerprint"' && ok judge_model_in_provenance ||
        fail judge_model_in_provenance "no judge_model input"
else fail judge_model_runs "$(tail -n 1 "$T/out")"; fi
# other ranks, other batches: the same verdicts and probabilities, bit for bit
$GUARD mpirun --oversubscribe --bind-to none -np 2 "$R" --candidates "$T/c.h5" --out "$T/r2.h5" --method iterative $JUDGE >/dev/null 2>&1
same judge_model_np2_same "$T/r1.h5" "$T/r2.h5"
$GUARD "$R" --candidates "$T/c.h5" --out "$T/rb.h5" --method iterative $JUDGE --judge-batch 5 >/dev/null 2>&1
same judge_model_batch_same "$T/r1.h5" "$T/rb.h5"

# killed in the middle, the same command resumes to the same pairs
"$R" --candidates "$T/c.h5" --out "$T/k.h5" --method iterative $JUDGE --judge-batch 1 >/dev/null 2>&1 &
pid=$!
i=0
while [ $i -lt 300 ] && ! { [ -f "$T/k.h5.parts/journal.bin" ] && [ "$(wc -c <"$T/k.h5.parts/journal.bin")" -gt 3000 ]; }; do
    sleep 0.05
    i=$((i + 1))
done
if kill -KILL $pid 2>/dev/null; then
    wait $pid 2>/dev/null
    if $GUARD "$R" --candidates "$T/c.h5" --out "$T/k.h5" --method iterative $JUDGE --judge-batch 1 >"$T/out" 2>&1; then
        grep -q 'resuming: [1-9][0-9]* of 352' "$T/out" && ok judge_model_resume_replays ||
            fail judge_model_resume_replays "$(grep -v 'judge calls:' "$T/out" | head -c 300)"
        same judge_model_resume_same "$T/r1.h5" "$T/k.h5"
    else fail judge_model_resume "$(tail -n 1 "$T/out")"; fi
else skip judge_model_resume "the run ended before the kill"; fi

# pp-eval with the model judge: policy = baseline = the judge's model
printf 'Once upon a time there was a cat\nTom and Lily went to the park\n' >"$T/pe.txt"
"$BIN/pp-prompts" --text "$T/pe.txt" --out "$T/pe.h5" >/dev/null 2>&1
if $GUARD "$BIN/pp-eval" --policy "$T/j.h5" --baseline "$T/j.h5" --prompts "$T/pe.h5" --out "$T/e.h5" \
    --max-new-tokens 16 $JUDGE >"$T/out" 2>&1; then ok judge_model_eval
else fail judge_model_eval "$(tail -n 1 "$T/out")"; fi

# bad templates and labels: one line, exit 1, before any work
printf 'no placeholders here' >"$T/bad.txt"
check_fails judge_model_template_placeholder 1 'has no \{prompt\} placeholder' \
    "$R" --candidates "$T/c.h5" --out "$T/x.h5" --judge model --judge-model "$T/j.h5" --judge-template "$T/bad.txt"
check_fails judge_model_labels_one_token 1 "label 'Answer A' is not one token" \
    "$R" --candidates "$T/c.h5" --out "$T/x.h5" $JUDGE --judge-labels "Answer A,B"
check_fails judge_model_labels_two 1 'want two labels' "$R" --candidates "$T/c.h5" --out "$T/x.h5" $JUDGE --judge-labels A
check_fails judge_model_needs_model 1 'needs --judge-model' "$R" --candidates "$T/c.h5" --out "$T/x.h5" --judge model
check_fails judge_model_not_pointwise 1 'is pairwise' "$R" --candidates "$T/c.h5" --out "$T/x.h5" --method score $JUDGE
[ ! -e "$T/x.h5" ] && ok judge_model_bad_no_output || fail judge_model_bad_no_output "x.h5 written"

# a judge model trained here (pp-sft on labelled judge prompts of the built-in
# suite, from the cached base model) against a random judge, on the oracle's
# ground truth: its pairs must be ordered right more often
BASE=$ROOT/cache/base-model/base.h5
if [ -n "${PP_SANITIZED:-}" ]; then
    skip judge_model_trained "300 training steps are too slow under the sanitizers; make test runs it"
elif [ ! -f "$BASE" ]; then
    skip judge_model_trained "needs the cached base model (make base-model, or make demo, makes $BASE)"
else
    printf '{prompt}{a}|{b}' >"$T/jt.txt"
    "$BUILD/tests/tools/make_judge_data" "$T/jd.h5" 4000 5 "$T/jt.txt" >/dev/null 2>&1
    if pp_mpirun 2 "$BIN/pp-sft" --data "$T/jd.h5" --out "$T/judge.h5" --init "$BASE" --steps 300 --batch 32 \
        --micro-batch 16 --lr 1e-3 --warmup 20 >"$T/sft.out" 2>&1; then
        "$BIN/pp-prompts" --suite builtin --split test --n 60 --out "$T/sp.h5" >/dev/null 2>&1
        "$BUILD/tests/tools/make_candidates" "$T/sp.h5" "$T/sc.h5" 4 suite 7
        "$R" --candidates "$T/sc.h5" --out "$T/rt.h5" --method iterative --judge model --judge-model "$T/judge.h5" \
            --judge-template "$T/jt.txt" >"$T/rt.out" 2>&1
        "$R" --candidates "$T/sc.h5" --out "$T/rr.h5" --method iterative --judge oracle --judge-noise 0.5 >"$T/rr.out" 2>&1
        a=$(attr "$T/rt.h5" truth_pair_accuracy) b=$(attr "$T/rr.h5" truth_pair_accuracy)
        if [ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN { exit !(a > b + 0.2) }'; then
            ok "judge_model_trained_beats_random (pairs ordered right: trained judge $a, random judge $b)"
        else fail judge_model_trained_beats_random "trained judge $a, random judge $b"; fi
    else fail judge_model_trained "pp-sft: $(tail -n 1 "$T/sft.out")"; fi
fi
