#!/bin/sh
# pp-sft: data-parallel determinism (1 vs 2 ranks), exact resume after
# SIGKILL and after a stop signal, checkpoints, bad input.
. "$(dirname "$0")/../lib.sh"
P=$BIN/pp-prompts
S=$BIN/pp-sft
CMP=$BUILD/tests/tools/h5cmp
"$P" --out "$T/train.h5" --suite builtin --split train --n 400 --seed 3 2>/dev/null
ARGS="--data $T/train.h5 --arch dim=32,layers=2,heads=4,kv-heads=2,hidden=64,seq-len=40 --steps 20 --batch 8 --micro-batch 2 --lr 3e-3 --warmup 3 --wrong-fraction 0.2 --seed 5"

check sft_one_rank pp_mpirun 1 $S --out "$T/np1.h5" $ARGS
check sft_two_ranks pp_mpirun 2 $S --out "$T/np2.h5" $ARGS
check sft_validates "$BIN/pp-inspect" --validate "$T/np2.h5"
# same global batch: same losses within 1e-5 relative, residuals not one-sided
check sft_losses_match_across_ranks "$CMP" "$T/np1.h5" "$T/np2.h5" /metrics/loss 1e-5 zero-mean
l0=$(h5dump -A 0 -d /metrics/loss "$T/np1.h5" | sed -n 's/.*(0): \([0-9.]*\),.*/\1/p')
l19=$(h5dump -A 0 -d /metrics/loss "$T/np1.h5" | tr ',' '\n' | grep -E '^ *[0-9.]+$' | tail -n 1)
awk "BEGIN{exit !($l19 < $l0)}" && ok sft_loss_decreases || fail sft_loss_decreases "loss $l0 -> $l19"
[ ! -d "$T/np1.h5.ckpt" ] && ok sft_removes_checkpoints_when_done || fail sft_removes_checkpoints_when_done "ckpt dir left"

# AdamW settings are options with their true defaults (beta2 0.95 for
# pp-sft), shown in --help, recorded in the provenance, and they take effect
fpof() { h5dump -a /fingerprint "$1" | sed -n 's/.*(0): "\(.*\)"/\1/p'; }
$S --help >"$T/help.txt"
if grep -q -- '--adam-beta1 B1 .*\[default: 0.9\]' "$T/help.txt" && grep -q -- '--adam-beta2 B2 .*\[default: 0.95\]' "$T/help.txt" &&
    grep -q -- '--adam-eps E .*\[default: 1e-08\]' "$T/help.txt"; then ok sft_help_shows_adam_defaults
else fail sft_help_shows_adam_defaults "$(grep adam "$T/help.txt")"; fi
h5dump -w 0 -a /arguments "$T/np1.h5" | grep -q -- '--adam-beta1=0.9000.* --adam-beta2=0.9499.* --adam-eps=1[.0-9]*e-08' &&
    ok sft_provenance_records_adam || fail sft_provenance_records_adam "$(h5dump -w 0 -a /arguments "$T/np1.h5" | grep -o -- '--adam[^ ]*')"
pp_mpirun 1 $S --out "$T/b95.h5" $ARGS --adam-beta2 0.95 >/dev/null 2>&1
[ "$(fpof "$T/b95.h5")" = "$(fpof "$T/np1.h5")" ] && ok sft_default_beta2_is_0.95 || fail sft_default_beta2_is_0.95 "fingerprints differ"
for o in "adam-beta1 0.5" "adam-beta2 0.999" "adam-eps 1e-3"; do
    rm -f "$T/bo.h5"
    pp_mpirun 1 $S --out "$T/bo.h5" $ARGS --$o >/dev/null 2>&1
    f=$(fpof "$T/bo.h5")
    [ -n "$f" ] && [ "$f" != "$(fpof "$T/np1.h5")" ] && ok "sft_${o%% *}_takes_effect" || fail "sft_${o%% *}_takes_effect" "fingerprint '$f'"
done
check_fails sft_adam_beta2_range 1 'adam-beta2' $S --out "$T/x.h5" $ARGS --adam-beta2 1

# SIGKILL mid-run, then the same command: same final weights as uninterrupted
fp_ref=$(h5dump -a /fingerprint "$T/np2.h5" | sed -n 's/.*(0): "\(.*\)"/\1/p')
for delay in 0.1 0.6; do
    rm -rf "$T/k.h5" "$T/k.h5.ckpt"
    PP_TEST_STEP_DELAY_MS=100 pp_mpirun 2 $S --out "$T/k.h5" $ARGS --checkpoint-every 3 >/dev/null 2>&1 &
    pid=$!
    # kill some time after the first checkpoint exists, so resuming is exercised
    i=0
    while ! ls "$T/k.h5.ckpt"/step-*.h5 >/dev/null 2>&1 && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
    sleep $delay
    # kill the ranks (command lines that start with the program), then let mpirun exit
    pkill -9 -f "^$S --out $T/k.h5" 2>/dev/null
    wait $pid 2>/dev/null
    [ ! -e "$T/k.h5" ] || fail "sft_kill_at_${delay}s_no_final" "final file exists after the kill"
    n=$(ls "$T/k.h5.ckpt" 2>/dev/null | grep -c 'step-.*\.h5$')
    pp_mpirun 2 $S --out "$T/k.h5" $ARGS --checkpoint-every 3 >"$T/resume.log" 2>&1
    fp=$(h5dump -a /fingerprint "$T/k.h5" | sed -n 's/.*(0): "\(.*\)"/\1/p')
    if [ -n "$fp" ] && [ "$fp" = "$fp_ref" ] && grep -q resuming "$T/resume.log"; then ok "sft_kill_${delay}s_after_checkpoint_resumes_exactly ($n checkpoints)"
    else fail "sft_kill_${delay}s_after_checkpoint_resumes_exactly" "fingerprint $fp vs $fp_ref, $n checkpoints; $(tail -n 2 "$T/resume.log")"; fi
    check "sft_kill_${delay}s_losses_identical" "$CMP" "$T/np2.h5" "$T/k.h5" /metrics/loss
done

# SIGTERM (Slurm's preemption): saves, exits 75, resumes to the same weights
rm -rf "$T/t.h5" "$T/t.h5.ckpt"
PP_TEST_STEP_DELAY_MS=100 $S --out "$T/t.h5" $ARGS >/dev/null 2>&1 &
pid=$!
# the stop handler is installed before the parts directory is locked:
# signal only once the run holds its lock (a loaded machine starts slowly)
i=0
while ! [ -s "$T/t.h5.ckpt/lock" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.3
kill -TERM $pid
wait $pid
code=$?
[ "$code" = 75 ] && ok sft_sigterm_exits_75 || fail sft_sigterm_exits_75 "exit $code"
$S --out "$T/t.h5" $ARGS >/dev/null 2>&1
fp=$(h5dump -a /fingerprint "$T/t.h5" | sed -n 's/.*(0): "\(.*\)"/\1/p')
fp1=$(pp_mpirun 1 $S --out "$T/t1.h5" $ARGS >/dev/null 2>&1; h5dump -a /fingerprint "$T/t1.h5" | sed -n 's/.*(0): "\(.*\)"/\1/p')
[ "$fp" = "$fp1" ] && ok sft_sigterm_resume_exact || fail sft_sigterm_resume_exact "$fp vs $fp1"

# OUT.ckpt/ is a parts directory of the resume kit: while a run holds it a
# second run on the same output is refused, naming the first one's pid; a
# stopped run's run.key refuses other arguments, naming the first difference
rm -rf "$T/l.h5" "$T/l.h5.ckpt"
PP_TEST_STEP_DELAY_MS=150 $S --out "$T/l.h5" $ARGS >"$T/l.log" 2>&1 &
pid=$!
i=0
while ! [ -s "$T/l.h5.ckpt/lock" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
check_fails sft_second_run_refused 1 "another run is writing $T/l.h5 \\(pid $pid" $S --out "$T/l.h5" $ARGS
kill -TERM $pid
wait $pid
code=$?
grep -qx 'steps=20' "$T/l.h5.ckpt/run.key" && ok sft_run_key_recorded || fail sft_run_key_recorded "exit $code: $(cat "$T/l.h5.ckpt/run.key")"
check_fails sft_other_run_refused 1 'l.h5.ckpt holds partial results of a different run \(steps was 20, now 21' \
    $S --out "$T/l.h5" $(echo "$ARGS" | sed 's/--steps 20/--steps 21/')
[ ! -e "$T/l.h5" ] && ls "$T/l.h5.ckpt"/step-*.h5 >/dev/null 2>&1 && ok sft_refused_run_keeps_checkpoints ||
    fail sft_refused_run_keeps_checkpoints "$(ls "$T/l.h5.ckpt")"

# a checkpoint of another run is refused
mkdir -p "$T/o.h5.ckpt" && cp "$T/np1.h5" "$T/o.h5.ckpt/step-000000005.h5"
check_fails sft_foreign_checkpoint 1 'checkpoint of a different run' $S --out "$T/o.h5" $ARGS
check_fails sft_needs_init_or_arch 1 'give either --init or --arch' $S --out "$T/x.h5" --data "$T/train.h5"
check_fails sft_bad_arch 1 "--arch: unknown key 'bogus'" $S --out "$T/x.h5" --data "$T/train.h5" --arch bogus=1
check_fails sft_wrong_kind_data 1 "is a 'model' file, expected a 'prompts' file" $S --out "$T/x.h5" --data "$T/np1.h5" --arch dim=32
[ ! -e "$T/x.h5" ] && ok sft_bad_input_no_output || fail sft_bad_input_no_output "x.h5 exists"
