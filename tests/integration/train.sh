#!/bin/sh
# pp-train: ln 2 at step 1, 1 rank vs 2 ranks at the same global batch,
# kill-and-resume bit-exact, the reference log-prob cache, Δw exactly 0 at
# the reference for every loss, bad input.
. "$(dirname "$0")/../lib.sh"
CMP=$BUILD/tests/tools/h5cmp
fp() { h5dump -a /fingerprint "$1" 2>/dev/null | sed -n 's/.*(0): "\(.*\)"/\1/p'; }
first() { h5dump -A 0 -d "$2" "$1" | sed -n 's/.*(0): \([-0-9.e]*\).*/\1/p'; }

# a small base model, candidates and oracle pairs
"$BIN/pp-prompts" --out "$T/p.h5" --suite builtin --split train --n 300 --seed 4 >/dev/null 2>&1
pp_mpirun 2 "$BIN/pp-sft" --out "$T/base.h5" --data "$T/p.h5" --arch dim=32,layers=2,heads=4,kv-heads=2,hidden=64,seq-len=40 \
    --steps 60 --batch 16 --lr 3e-3 --wrong-fraction 0.3 >/dev/null 2>&1
pp_mpirun 2 "$BIN/pp-generate" --model "$T/base.h5" --prompts "$T/p.h5" --out "$T/c.h5" --k 4 --max-new-tokens 8 >/dev/null 2>&1
pp_mpirun 1 "$BIN/pp-rank" --candidates "$T/c.h5" --out "$T/r.h5" --method iterative --judge oracle >/dev/null 2>&1
[ -f "$T/r.h5" ] || { fail train_setup "no pairs file"; exit 0; }

ARGS="--pairs $T/r.h5 --loss bcr --bcr-budget 0.5 --beta 0.1 --steps 20 --batch 8 --micro-batch 2 --lr 1e-3 --warmup 2"
check train_one_rank pp_mpirun 1 "$BIN/pp-train" --policy "$T/base.h5" --out "$T/np1.h5" $ARGS
check train_two_ranks pp_mpirun 2 "$BIN/pp-train" --policy "$T/base.h5" --out "$T/np2.h5" $ARGS
check train_validates "$BIN/pp-inspect" --validate "$T/np2.h5"
check train_ref_cache_validates "$BIN/pp-inspect" --validate "$T/np2.h5.ref.h5"
l0=$(first "$T/np1.h5" /metrics/loss)
awk "BEGIN{d=$l0-log(2); exit !(d < 1e-6 && d > -1e-6)}" && ok "train_step1_loss_is_ln2 ($l0)" || fail train_step1_loss_is_ln2 "loss $l0"
check train_losses_match_across_ranks "$CMP" "$T/np1.h5" "$T/np2.h5" /metrics/loss 1e-5 zero-mean
for m in rewards/chosen rewards/rejected rewards/accuracies logps/chosen logps/rejected bcr/over_budget_fraction grad_norm learning_rate; do
    h5dump -A 0 -d "/metrics/$m" "$T/np1.h5" >/dev/null 2>&1 || { fail train_metric_names "missing /metrics/$m"; break; }
done && ok train_metric_names

# AdamW settings: pp-train's defaults (beta2 0.999) in --help and the
# provenance; a different beta2 gives different weights
"$BIN/pp-train" --help | grep -q -- '--adam-beta2 B2 .*\[default: 0.999\]' && ok train_help_shows_adam_beta2 ||
    fail train_help_shows_adam_beta2 "$("$BIN/pp-train" --help | grep adam)"
h5dump -w 0 -a /arguments "$T/np1.h5" | grep -Eq -- '--adam-beta1=0.9000.* --adam-beta2=0\.99(9|89)[0-9]* --adam-eps=1[.0-9]*e-08' &&
    ok train_provenance_records_adam || fail train_provenance_records_adam "$(h5dump -w 0 -a /arguments "$T/np1.h5" | grep -o -- '--adam[^ ]*')"
pp_mpirun 1 "$BIN/pp-train" --policy "$T/base.h5" --out "$T/b2.h5" --ref-cache "$T/np1.h5.ref.h5" $ARGS --adam-beta2 0.9 >/dev/null 2>&1
f=$(fp "$T/b2.h5")
[ -n "$f" ] && [ "$f" != "$(fp "$T/np1.h5")" ] && ok train_adam_beta2_takes_effect || fail train_adam_beta2_takes_effect "fingerprint '$f'"

# the reference cache is reused when the reference and pairs are unchanged
pp_mpirun 1 "$BIN/pp-train" --policy "$T/base.h5" --out "$T/again.h5" --ref-cache "$T/np1.h5.ref.h5" $ARGS >"$T/again.log" 2>&1
grep -q "reused from" "$T/again.log" && ok train_reuses_reference_logps || fail train_reuses_reference_logps "$(tail -n 3 "$T/again.log")"
[ "$(fp "$T/again.h5")" = "$(fp "$T/np1.h5")" ] && ok train_reused_cache_same_result || fail train_reused_cache_same_result "fingerprints differ"

# The reference log-probs come from the scorer (score.h), whose arithmetic
# is the training forward's: byte-identical for 1 and 2 ranks, for any
# --micro-batch, and after a SIGKILL in the middle of the reference phase
# (PP_TEST_CHUNK_DELAY_MS holds each chunk of pairs; the kill lands after
# the phase began, before its cache exists).
same_ref() { "$CMP" "$1" "$2" /chosen_logp >/dev/null && "$CMP" "$1" "$2" /rejected_logp >/dev/null; }
same_ref "$T/np1.h5.ref.h5" "$T/np2.h5.ref.h5" && ok train_ref_logps_np1_np2_identical ||
    fail train_ref_logps_np1_np2_identical "$("$CMP" "$T/np1.h5.ref.h5" "$T/np2.h5.ref.h5" /chosen_logp 2>&1)"
# the scorer with its packed weights in a node-shared window (the test
# switch: this small model is normally held per rank) at -np 2
PP_TEST_SHARE_WEIGHTS=1 pp_mpirun 2 "$BIN/pp-train" --policy "$T/base.h5" --out "$T/sh.h5" --ref-cache "$T/sh.ref.h5" \
    $ARGS --steps 1 >/dev/null 2>&1
same_ref "$T/np1.h5.ref.h5" "$T/sh.ref.h5" && ok train_ref_logps_shared_weights_identical ||
    fail train_ref_logps_shared_weights_identical "$("$CMP" "$T/np1.h5.ref.h5" "$T/sh.ref.h5" /chosen_logp 2>&1)"
for mb in 1 7; do
    pp_mpirun 1 "$BIN/pp-train" --policy "$T/base.h5" --out "$T/mb$mb.h5" --ref-cache "$T/mb$mb.ref.h5" $ARGS \
        --steps 1 --micro-batch $mb >/dev/null 2>&1
    same_ref "$T/np1.h5.ref.h5" "$T/mb$mb.ref.h5" && ok "train_ref_logps_micro_batch_${mb}_identical" ||
        fail "train_ref_logps_micro_batch_${mb}_identical" "$("$CMP" "$T/np1.h5.ref.h5" "$T/mb$mb.ref.h5" /chosen_logp 2>&1)"
done
rm -f "$T/kr.log"
PP_TEST_CHUNK_DELAY_MS=500 setsid mpirun --oversubscribe --bind-to none -np 2 "$BIN/pp-train" --policy "$T/base.h5" \
    --out "$T/kr.h5" --ref-cache "$T/kr.ref.h5" $ARGS --steps 1 >"$T/kr.log" 2>&1 &
kpid=$!
i=0
until grep -q "reference log-probs: scoring" "$T/kr.log" 2>/dev/null || [ $i -gt 1500 ]; do sleep 0.02; i=$((i + 1)); done
sleep 0.2
kill -9 $(ps -o pid= --sid $kpid) 2>/dev/null
wait $kpid 2>/dev/null
kw=0
while [ -n "$(ps -o pid= --sid $kpid)" ] && [ $kw -lt 100 ]; do kill -9 $(ps -o pid= --sid $kpid) 2>/dev/null; sleep 0.05; kw=$((kw + 1)); done
if grep -q "reference log-probs: scoring" "$T/kr.log" && [ ! -e "$T/kr.ref.h5" ]; then
    pp_mpirun 2 "$BIN/pp-train" --policy "$T/base.h5" --out "$T/kr.h5" --ref-cache "$T/kr.ref.h5" $ARGS --steps 1 >/dev/null 2>&1
    same_ref "$T/np1.h5.ref.h5" "$T/kr.ref.h5" && ok train_ref_phase_killed_resumed_identical ||
        fail train_ref_phase_killed_resumed_identical "$("$CMP" "$T/np1.h5.ref.h5" "$T/kr.ref.h5" /chosen_logp 2>&1)"
else fail train_ref_phase_killed_resumed_identical "the kill did not land in the reference phase: $(tail -n 2 "$T/kr.log" | tr '\n' ' ')"; fi

# a cache that matches the fingerprints but is damaged (short, missing or
# non-finite log-probs) is recomputed with a warning naming it (issue 17.6)
for dmg in "shorten /chosen_logp" "delete /chosen_logp" "poke /rejected_logp 3 nan"; do
    name=train_damaged_cache_$(echo "$dmg" | tr -c 'a-z0-9\n' _)
    cp "$T/np1.h5.ref.h5" "$T/dmg.ref.h5" && "$BUILD/tests/tools/h5edit" "$T/dmg.ref.h5" $dmg
    rm -rf "$T/dmg.h5" "$T/dmg.h5.ckpt"
    pp_mpirun 1 "$BIN/pp-train" --policy "$T/base.h5" --out "$T/dmg.h5" --ref-cache "$T/dmg.ref.h5" $ARGS >"$T/dmg.log" 2>&1
    if grep -q "damaged reference log-prob cache: .*dmg\.ref\.h5.*logp" "$T/dmg.log" && grep -q "computed into" "$T/dmg.log" &&
        [ "$(fp "$T/dmg.h5")" = "$(fp "$T/np1.h5")" ]; then ok "${name}_is_recomputed"
    else fail "${name}_is_recomputed" "$(tail -n 3 "$T/dmg.log" | tr '\n' ' ')"; fi
done

# held-out pairs: the implicit-reward accuracy lands in /train
pp_mpirun 2 "$BIN/pp-train" --policy "$T/base.h5" --out "$T/h.h5" --heldout "$T/r.h5" $ARGS >"$T/h.log" 2>&1
acc=$(h5dump -a /train/heldout_rewards_accuracy "$T/h.h5" 2>/dev/null | sed -n 's/.*(0): \([-0-9.e]*\).*/\1/p')
if [ -n "$acc" ] && awk "BEGIN{exit !($acc >= 0 && $acc <= 1)}" && grep -q "held-out pairs: rewards/accuracies" "$T/h.log"; then
    ok "train_heldout_accuracy_reported ($acc)"
else fail train_heldout_accuracy_reported "acc='$acc' $(tail -n 2 "$T/h.log")"; fi

# SIGKILL at several moments, then the same command: identical weights.
# The moments are set by progress, not by the clock (a fast machine ends
# the 20 steps in about 2 s): before any checkpoint, then as soon as the
# checkpoint of step 3, 9 or 15 exists (every 3 steps, 100 ms per step, so
# at least 0.5 s of work is left at the last one).
ref=$(fp "$T/np2.h5")
newest_step() { ls "$T/k.h5.ckpt" 2>/dev/null | sed -n 's/^step-0*\([0-9][0-9]*\)\.h5$/\1/p' | sort -n | tail -n 1; }
for at in early 3 9 15; do
    rm -rf "$T/k.h5" "$T/k.h5.ckpt"
    PP_TEST_STEP_DELAY_MS=100 pp_mpirun 2 "$BIN/pp-train" --policy "$T/base.h5" --out "$T/k.h5" $ARGS --checkpoint-every 3 >/dev/null 2>&1 &
    pid=$!
    if [ $at = early ]; then
        # once the run holds its lock (it may start slowly), before its first checkpoint
        i=0
        while ! [ -s "$T/k.h5.ckpt/lock" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
        sleep 0.3
    else
        i=0
        while [ "$(newest_step)" != "" ] && [ "$(newest_step)" -lt $at ] || [ "$(newest_step)" = "" ]; do
            sleep 0.02; i=$((i + 1)); [ $i -gt 1500 ] && break
        done
    fi
    pkill -9 -f "^$BIN/pp-train --policy $T/base.h5 --out $T/k.h5" 2>/dev/null
    wait $pid 2>/dev/null
    [ ! -e "$T/k.h5" ] || fail "train_kill_at_${at}" "final file exists after the kill"
    pp_mpirun 2 "$BIN/pp-train" --policy "$T/base.h5" --out "$T/k.h5" $ARGS --checkpoint-every 3 >/dev/null 2>&1
    [ "$(fp "$T/k.h5")" = "$ref" ] && ok "train_kill_at_${at}_resumes_bit_exact" || fail "train_kill_at_${at}_resumes_bit_exact" "$(fp "$T/k.h5") vs $ref"
done

# SIGTERM saves and exits 75; the rerun finishes with the same weights
rm -rf "$T/t.h5" "$T/t.h5.ckpt"
PP_TEST_STEP_DELAY_MS=100 "$BIN/pp-train" --policy "$T/base.h5" --out "$T/t.h5" $ARGS >/dev/null 2>&1 &
pid=$!
# the stop handler is installed before the parts directory is locked:
# signal only once the run holds its lock (a loaded machine starts slowly)
i=0
while ! [ -s "$T/t.h5.ckpt/lock" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.3
kill -TERM $pid
wait $pid
code=$?
[ "$code" = 75 ] && ok train_sigterm_exits_75 || fail train_sigterm_exits_75 "exit $code"
"$BIN/pp-train" --policy "$T/base.h5" --out "$T/t.h5" $ARGS >/dev/null 2>&1
[ "$(fp "$T/t.h5")" = "$(fp "$T/np1.h5")" ] && ok train_sigterm_resume_exact || fail train_sigterm_resume_exact "differs"

# At the reference (step 1, policy = reference) every pair's Δw is exactly
# 0 for every loss, because a sequence's log-prob does not depend on its
# micro-batch or the rank count (docs/architecture.md, "Batch-invariant
# forward"): stories260K on its TinyStories continuations, 1 and 2 ranks.
# over_budget_fraction = 0 at δ = 0 means no pair has Δw < 0, and a zero
# mean of those non-negative Δw means every one is 0.  The loss is then
# ln 2 to the last bit, and bcr and dpop, whose penalties are off at
# Δw = 0, have dpo's gradient norm exactly.

# a damaged newest checkpoint (NaN in /train/adam_v, or truncated) is
# skipped with a warning naming it; the run resumes from the one before and
# ends with the same weights (issue 17.6)
E=$BUILD/tests/tools/h5edit
for dmg in nan trunc; do
    rm -rf "$T/d.h5" "$T/d.h5.ckpt"
    PP_TEST_STEP_DELAY_MS=100 "$BIN/pp-train" --policy "$T/base.h5" --out "$T/d.h5" $ARGS --checkpoint-every 3 \
        --keep-last 3 >/dev/null 2>&1 &
    pid=$!
    i=0
    while [ "$(ls "$T/d.h5.ckpt" 2>/dev/null | grep -c '^step-.*\.h5$')" -lt 2 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    kill -TERM $pid
    wait $pid
    newest=$(ls "$T/d.h5.ckpt"/step-*.h5 | tail -n 1)
    if [ $dmg = nan ]; then "$E" "$newest" poke /train/adam_v 5 nan
    else truncate -s $(($(wc -c <"$newest") / 2)) "$newest"; fi
    "$BIN/pp-train" --policy "$T/base.h5" --out "$T/d.h5" $ARGS --checkpoint-every 3 --keep-last 3 >"$T/d.log" 2>&1
    code=$?
    if [ $code = 0 ] && grep -q "skipping a damaged checkpoint: .*$(basename "$newest")" "$T/d.log" &&
        grep -q 'resuming from .*step-' "$T/d.log" && [ "$(fp "$T/d.h5")" = "$(fp "$T/np1.h5")" ]; then
        ok "train_damaged_checkpoint_${dmg}_falls_back"
    else fail "train_damaged_checkpoint_${dmg}_falls_back" "exit $code: $(grep -v '^pp-train: [a-z]*: [0-9]' "$T/d.log" | tail -n 3 | tr '\n' ' ')"; fi
done

# two runs on one --out: the second stops at once, naming the first (17.10)
rm -rf "$T/two.h5" "$T/two.h5.ckpt"
PP_TEST_STEP_DELAY_MS=100 "$BIN/pp-train" --policy "$T/base.h5" --out "$T/two.h5" $ARGS >/dev/null 2>&1 &
pid=$!
i=0
while [ ! -e "$T/two.h5.ckpt/lock" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
check_fails train_second_run_on_same_out 1 "another run is writing .*two\.h5 \(pid $pid" \
    "$BIN/pp-train" --policy "$T/base.h5" --out "$T/two.h5" $ARGS
wait $pid && [ "$(fp "$T/two.h5")" = "$(fp "$T/np1.h5")" ] && [ ! -e "$T/two.h5.ckpt" ] && ok train_first_run_unharmed ||
    fail train_first_run_unharmed "$(ls "$T" | grep two)"

# bad input
"$BIN/pp-convert" --from-llama2c "$SHARED/models/stories260K.bin" --tokenizer "$SHARED/models/tok512.bin" --out "$T/s260.h5" >/dev/null 2>&1
exact() { h5dump -A 0 -m '%.17g' -d "/metrics/$2" "$1" 2>/dev/null | sed -n "s/.*($3): \([-0-9.e]*\).*/\1/p"; }
if [ -f "$T/s260.h5" ]; then
    "$BIN/pp-prompts" --yaml "$SHARED/data/tinystories_evaluation_prompts.yaml" --out "$T/sp.h5" >/dev/null 2>&1
    "$BIN/pp-generate" --model "$T/s260.h5" --prompts "$T/sp.h5" --out "$T/sc.h5" --k 2 --max-new-tokens 24 >/dev/null 2>&1
    "$BIN/pp-rank" --candidates "$T/sc.h5" --out "$T/sr.h5" --method roundrobin --judge cmd \
        --judge-cmd "$BUILD/tests/tools/judge_good" >/dev/null 2>&1
    SARGS="--policy $T/s260.h5 --pairs $T/sr.h5 --ref-cache $T/sr.ref.h5 --batch 16 --micro-batch 3 --warmup 0 --lr 1e-3 --bcr-budget 0"
    ln2=$(awk 'BEGIN{printf "%.17g", log(2)}')
    for np in 1 2; do
        gn_dpo=
        for loss in dpo bcr:outside bcr:inside bcr:outside-per-token bcr:inside-per-token dpop; do
            name=$(echo "$loss" | tr ':' '_')
            out="$T/ref-$name-$np.h5"
            pp_mpirun $np "$BIN/pp-train" $SARGS --out "$out" --steps 1 --loss "${loss%%:*}" \
                $(case $loss in bcr:*) echo "--bcr-form ${loss#*:}" ;; esac) >"$T/ref.log" 2>&1
            l=$(exact "$out" loss 0) ob=$(exact "$out" bcr/over_budget_fraction 0)
            dw=$(exact "$out" delta/chosen_mean 0) mg=$(exact "$out" rewards/margins 0) gn=$(exact "$out" grad_norm 0)
            [ -z "$gn_dpo" ] && gn_dpo=$gn
            if [ "$l" = "$ln2" ] && [ "$ob" = 0 ] && [ "$dw" = 0 ] && [ "$mg" = 0 ] && [ -n "$gn" ] && [ "$gn" = "$gn_dpo" ]; then
                ok "train_at_reference_dw_exactly_0_${name}_np$np"
            else
                fail "train_at_reference_dw_exactly_0_${name}_np$np" \
                    "loss $l (ln 2 = $ln2), over_budget $ob, delta/chosen_mean $dw, margin $mg, grad_norm $gn (dpo $gn_dpo) $(tail -n 1 "$T/ref.log")"
            fi
        done
    done
    # a few steps away from the reference: 1 rank and 2 ranks agree (the
    # bcr hinge and the dpop penalty no longer switch on rounding noise)
    for loss in bcr dpop; do
        for np in 1 2; do
            pp_mpirun $np "$BIN/pp-train" $SARGS --out "$T/three-$loss-$np.h5" --steps 3 --loss $loss --log-every 1 \
                >"$T/three-$loss-$np.log" 2>&1
        done
        check "train_${loss}_budget0_losses_match_across_ranks" "$CMP" "$T/three-$loss-1.h5" "$T/three-$loss-2.h5" /metrics/loss 1e-5
        # the progress lines and the model's `training` attribute name the loss used
        kind=$(h5dump -a /training "$T/three-$loss-2.h5" 2>/dev/null | sed -n 's/.*(0): "\(.*\)"/\1/p')
        if [ "$kind" = "$loss" ] && grep -q "^pp-train: $loss: 3/3 steps" "$T/three-$loss-2.log" &&
            ! grep -q "^pp-train: dpo:" "$T/three-$loss-2.log"; then
            ok "train_${loss}_labelled_${loss}"
        else fail "train_${loss}_labelled_${loss}" "training attribute '$kind'; $(grep -m 1 ' steps' "$T/three-$loss-2.log")"; fi
    done
else skip train_at_reference_dw_exactly_0 "needs $SHARED/models/stories260K.bin"; fi

# bad input
if [ -f "$T/s260.h5" ]; then
    check_fails train_pairs_from_other_tokenizer 1 'pairs were made with a byte tokenizer of 259 tokens' \
        "$BIN/pp-train" --policy "$T/s260.h5" --pairs "$T/r.h5" --out "$T/x.h5"
else skip train_pairs_from_other_tokenizer "needs $SHARED/models/stories260K.bin"; fi
check_fails train_wrong_kind 1 "is a 'candidates' file, expected a 'pairs' file" "$BIN/pp-train" --policy "$T/base.h5" --pairs "$T/c.h5" --out "$T/x.h5"
check_fails train_bad_loss 1 '--loss must be one of' "$BIN/pp-train" --policy "$T/base.h5" --pairs "$T/r.h5" --out "$T/x.h5" --loss nope
check_fails train_bad_batch 1 '--batch 0 is outside' "$BIN/pp-train" --policy "$T/base.h5" --pairs "$T/r.h5" --out "$T/x.h5" --batch 0
check_fails train_out_is_input 1 'output file is also the policy input' "$BIN/pp-train" --policy "$T/base.h5" --pairs "$T/r.h5" --out "$T/base.h5"
# a NaN/Inf gradient stops the run with its step number; the last good
# checkpoint stays intact and valid
check_fails train_nonfinite_gradient_stops 1 'non-finite (gradient|loss) at step [0-9]+; stopped, the last checkpoint' \
    "$BIN/pp-train" --policy "$T/base.h5" --pairs "$T/r.h5" --out "$T/nan.h5" --lr 1e30 --warmup 0 --grad-clip 0 \
    --steps 6 --batch 8 --checkpoint-every 1
ck=$(ls "$T/nan.h5.ckpt"/step-*.h5 2>/dev/null | tail -n 1)
[ -n "$ck" ] && [ ! -e "$T/nan.h5" ] && "$BIN/pp-inspect" --validate "$ck" >/dev/null 2>&1 &&
    ok train_nonfinite_keeps_last_checkpoint || fail train_nonfinite_keeps_last_checkpoint "checkpoint '$ck'"

# a damaged reference cache is recomputed, not trusted
printf 'garbage' >"$T/bad.ref.h5"
pp_mpirun 1 "$BIN/pp-train" --policy "$T/base.h5" --out "$T/y.h5" --ref-cache "$T/bad.ref.h5" $ARGS >"$T/y.log" 2>&1
grep -q "computed into" "$T/y.log" && [ "$(fp "$T/y.h5")" = "$(fp "$T/np1.h5")" ] && ok train_damaged_cache_recomputed || fail train_damaged_cache_recomputed "$(tail -n 2 "$T/y.log")"
[ ! -e "$T/x.h5" ] && ok train_bad_input_no_output || fail train_bad_input_no_output "x.h5 exists"
