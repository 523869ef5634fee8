#!/bin/sh
# Memory at scale (issue 24): --shard-optimizer gives the losses and the
# model of an unsharded run (-np 2 and -np 3), a sharded checkpoint written
# at -np 3 resumes at -np 2 as it resumes at -np 3, --recompute trains the
# same model, the estimate is printed and --max-memory refuses in one line
# before any work.
. "$(dirname "$0")/../lib.sh"
S=$BIN/pp-sft
CMP=$BUILD/tests/tools/h5cmp
"$BIN/pp-prompts" --out "$T/p.h5" --suite builtin --split train --n 300 --seed 3 >/dev/null 2>&1
ARGS="--data $T/p.h5 --arch dim=32,layers=2,heads=4,kv-heads=2,hidden=64,seq-len=40 --steps 5 --batch 12 --micro-batch 2 --lr 3e-3 --warmup 2 --seed 5"

for np in 2 3; do
    pp_mpirun $np $S --out "$T/u$np.h5" $ARGS >/dev/null 2>&1
    pp_mpirun $np $S --out "$T/s$np.h5" $ARGS --shard-optimizer >"$T/s$np.log" 2>&1
    check "shard_np${np}_losses_match_unsharded" "$CMP" "$T/u$np.h5" "$T/s$np.h5" /metrics/loss 1e-5
    check "shard_np${np}_grad_norms_match_unsharded" "$CMP" "$T/u$np.h5" "$T/s$np.h5" /metrics/grad_norm 1e-5
    # the blocks' norms are added in rank order either way: the same bits
    if h5diff -q "$T/u$np.h5" "$T/s$np.h5" /tensors /tensors >/dev/null 2>&1; then ok "shard_np${np}_model_equals_unsharded"
    else fail "shard_np${np}_model_equals_unsharded" "$(h5diff "$T/u$np.h5" "$T/s$np.h5" /tensors /tensors | head -n 2)"; fi
done
grep -q 'memory estimate per rank .*AdamW moments (1/ranks)' "$T/s3.log" && ok shard_prints_estimate ||
    fail shard_prints_estimate "$(grep memory "$T/s3.log")"
grep -Eq 'peak memory per rank [0-9.]+ MiB .*estimated [0-9.]+ MiB' "$T/s3.log" && ok summary_prints_peak_and_estimate ||
    fail summary_prints_peak_and_estimate "$(tail -n 1 "$T/s3.log")"

# --recompute: the same model bit for bit (the gradients are; test_model_grad)
pp_mpirun 2 $S --out "$T/r2.h5" $ARGS --recompute >/dev/null 2>&1
h5diff -q "$T/u2.h5" "$T/r2.h5" /tensors /tensors >/dev/null 2>&1 && ok recompute_same_model ||
    fail recompute_same_model "tensors differ"

# a sharded checkpoint written at -np 3 (stopped by SIGTERM after the first
# checkpoint), resumed at -np 2 and at -np 3 from the same files
RARGS="$ARGS --shard-optimizer --checkpoint-every 2 --steps 8"
env PP_EXIT_STATUS_FILE="$T/code" PP_TEST_STEP_DELAY_MS=300 mpirun --oversubscribe --bind-to none -np 3 \
    $S --out "$T/k.h5" $RARGS >/dev/null 2>&1 &
pid=$!
i=0
while ! ls "$T/k.h5.ckpt"/step-*.h5 >/dev/null 2>&1 && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
# the stop signal to the ranks themselves (mpirun's children), as Slurm sends it
pkill -TERM -P $pid
wait $pid
if [ "$(cat "$T/code" 2>/dev/null)" = 75 ] && [ ! -e "$T/k.h5" ]; then ok shard_stopped_at_np3_saves
else fail shard_stopped_at_np3_saves "exit $(cat "$T/code" 2>/dev/null), final file $(ls "$T/k.h5" 2>&1)"; fi
cp -r "$T/k.h5.ckpt" "$T/saved.ckpt"
pp_mpirun 2 $S --out "$T/k.h5" $RARGS >"$T/res2.log" 2>&1
mv "$T/k.h5" "$T/res2.h5"
rm -rf "$T/k.h5.ckpt"
cp -r "$T/saved.ckpt" "$T/k.h5.ckpt"
pp_mpirun 3 $S --out "$T/k.h5" $RARGS >"$T/res3.log" 2>&1
mv "$T/k.h5" "$T/res3.h5"
if grep -q resuming "$T/res2.log" && grep -q resuming "$T/res3.log"; then ok shard_both_resumed
else fail shard_both_resumed "$(tail -n 1 "$T/res2.log") / $(tail -n 1 "$T/res3.log")"; fi
check shard_resume_np3_at_np2_matches_np3 "$CMP" "$T/res3.h5" "$T/res2.h5" /metrics/loss 1e-5
check shard_resume_np3_at_np2_grad_norms_match "$CMP" "$T/res3.h5" "$T/res2.h5" /metrics/grad_norm 1e-5
# and the np 3 resume continues exactly as an uninterrupted np 3 run
pp_mpirun 3 $S --out "$T/whole3.h5" $RARGS >/dev/null 2>&1
h5diff -q "$T/whole3.h5" "$T/res3.h5" /tensors /tensors >/dev/null 2>&1 && ok shard_resume_np3_exact ||
    fail shard_resume_np3_exact "tensors differ from the uninterrupted run"

# --max-memory: one line, exit 1, nothing written
check_fails max_memory_too_small 1 'needs an estimated .* per rank .*more than the --max-memory of 1.0 MiB' \
    $S --out "$T/tiny.h5" $ARGS --max-memory 1M
[ ! -e "$T/tiny.h5" ] && [ ! -d "$T/tiny.h5.ckpt" ] && ok max_memory_refuses_before_any_work ||
    fail max_memory_refuses_before_any_work "$(ls -d "$T"/tiny.h5*)"
check_fails max_memory_bad_size 1 "--max-memory: '12Q' is not a memory size" $S --out "$T/tiny.h5" $ARGS --max-memory 12Q

# the packed inference weights held once per node (MPI-3 shared window), and
# a model file loaded once per node (model_load_shared):
# the same logits on every rank, the copy counted once
tool=$BUILD/tests/tools/test_shared_weights
if [ -x "$tool" ]; then
    pp_mpirun 3 --timeout 120 "$tool" "$T/u3.h5" >"$T/shw.txt" 2>&1
    grep -E '^(ok|FAIL) ' "$T/shw.txt"
    grep -q '^test_shared_weights: 3 ranks, 0 failed' "$T/shw.txt" && ok shared_weights_np3 ||
        fail shared_weights_np3 "$(tail -n 3 "$T/shw.txt")"
else
    fail shared_weights_np3 "missing $tool (run make tests)"
fi
